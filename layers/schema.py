"""Shared helpers for the layer schemas (see each layer module for its own schema)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

#: Every layer is stored in lon/lat on WGS84; distances are computed in a local UTM zone.
WGS84 = "EPSG:4326"


def check_columns(gdf: gpd.GeoDataFrame, required: dict[str, str], layer: str) -> None:
    """Raise ``TypeError`` when ``gdf`` lacks a schema column (a programming error, not bad input).

    User files are checked and mapped onto the schema by their readers, with messages for
    people; this check guards the contract between modules.
    """
    missing = [col for col in required if col not in gdf.columns]
    if missing:
        raise TypeError(f"{layer} layer lacks schema columns {missing}")
    if gdf.crs is None or not gdf.crs.equals(WGS84):
        raise TypeError(f"{layer} layer must be in {WGS84}, got {gdf.crs}")
    if not gdf.index.is_unique:
        raise TypeError(f"{layer} layer index must be unique")


def coerce(gdf: gpd.GeoDataFrame, dtypes: dict[str, str]) -> gpd.GeoDataFrame:
    """Cast schema columns to their dtypes (nullable where the schema says so)."""
    out = gdf.copy()
    for col, dtype in dtypes.items():
        if col == "geometry":
            continue
        out[col] = out[col].astype(dtype)
    return out


def empty_frame(dtypes: dict[str, str], index_name: str) -> gpd.GeoDataFrame:
    """An empty layer with the schema's columns and dtypes."""
    data = {col: pd.Series(dtype=dt) for col, dt in dtypes.items() if col != "geometry"}
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    gdf.index = pd.Index([], dtype="str", name=index_name)
    return gdf
