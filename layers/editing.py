"""Editing layers in a workshop: add, move, delete features and change their attributes.

Every function returns a new, validated layer and leaves its input untouched, so the app can
keep the previous state when an edit is refused. Positions are WGS84 lon/lat degrees.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from layers import i18n
from layers.errors import InputError
from layers.households import DTYPES as HOUSEHOLD_DTYPES
from layers.households import validate_households
from layers.services import DTYPES as SERVICE_DTYPES
from layers.services import SERVICE_KINDS, validate_services

i18n.register(
    {
        "error.edit.position": {
            "zh": "位置（经度 {lon}，纬度 {lat}）无效：经度须在 -180..180，纬度须在 -90..90。",
            "en": "The position (lon {lon}, lat {lat}) is not valid: longitude must be within "
            "-180..180 and latitude within -90..90.",
        },
        "error.edit.unknown": {
            "zh": "{layer}中没有编号为 {fid} 的要素。",
            "en": "There is no feature {fid} in the {layer} layer.",
        },
        "error.edit.duplicate": {
            "zh": "编号 {fid} 在{layer}中已经存在，请换一个编号。",
            "en": "The id {fid} already exists in the {layer} layer; choose another id.",
        },
        "error.edit.empty_id": {
            "zh": "{layer}的编号不能为空。",
            "en": "An id in the {layer} layer cannot be empty.",
        },
        "error.edit.children": {
            "zh": "农户 {fid} 的儿童数“{value}”无效：请填 0 或正整数，不知道可以留空。",
            "en": "Household {fid}: number of children '{value}' is not valid; give 0 or a whole "
            "number, or leave it empty when unknown.",
        },
        "error.edit.capacity": {
            "zh": "设施 {fid} 的学位数“{value}”无效：请填正整数，不知道可以留空。",
            "en": "Service {fid}: capacity '{value}' is not valid; give a whole number, or leave "
            "it empty when unknown.",
        },
        "error.edit.kind": {
            "zh": "设施 {fid} 的类型“{value}”无效，可选：{choices}。",
            "en": "Service {fid}: kind '{value}' is not valid; choose one of: {choices}.",
        },
        "layer.households": {"zh": "农户图层", "en": "households"},
        "layer.services": {"zh": "设施图层", "en": "services"},
    }
)


def _point(lon: float, lat: float) -> shapely.Point:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InputError("error.edit.position", lon=lon, lat=lat) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError("error.edit.position", lon=lon, lat=lat)
    return shapely.Point(lon, lat)


def _layer_name(gdf: gpd.GeoDataFrame) -> str:
    return "services" if "kind" in gdf.columns else "households"


def _whole(value, *, fid: str, key: str, minimum: int):
    if value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == "":
        return pd.NA
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InputError(key, fid=fid, value=value) from None
    if number != int(number) or number < minimum:
        raise InputError(key, fid=fid, value=value)
    return int(number)


def _next_id(index: pd.Index, prefix: str) -> str:
    taken = {str(i) for i in index}
    n = len(taken) + 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def add_household(
    households: gpd.GeoDataFrame,
    lon: float,
    lat: float,
    *,
    household_id: str | None = None,
    village_name: str | None = None,
    children: int | None = None,
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """A copy of ``households`` with one more household at (lon, lat)."""
    point = _point(lon, lat)
    hid = (household_id or "").strip() or _next_id(households.index, "W")
    if hid in households.index:
        raise InputError("error.edit.duplicate", fid=hid, layer=i18n.t("layer.households", "en"))
    row = {
        "household_id": hid,
        "village_name": village_name or None,
        "name": name or None,
        "phone": None,
        "children": _whole(children, fid=hid, key="error.edit.children", minimum=0),
        "source_row": pd.NA,
    }
    new = gpd.GeoDataFrame([row], geometry=[point], crs="EPSG:4326", index=pd.Index([hid]))
    new = new.astype({k: v for k, v in HOUSEHOLD_DTYPES.items() if k != "geometry"})
    return validate_households(pd.concat([households, new]) if len(households) else new)


def add_service(
    services: gpd.GeoDataFrame,
    lon: float,
    lat: float,
    *,
    kind: str,
    name: str | None = None,
    capacity: int | None = None,
    service_id: str | None = None,
) -> gpd.GeoDataFrame:
    """A copy of ``services`` with one more (existing, not proposed) service at (lon, lat)."""
    point = _point(lon, lat)
    sid = (service_id or "").strip() or _next_id(services.index, "E")
    if sid in services.index:
        raise InputError("error.edit.duplicate", fid=sid, layer=i18n.t("layer.services", "en"))
    if kind not in SERVICE_KINDS:
        raise InputError("error.edit.kind", fid=sid, value=kind, choices=", ".join(SERVICE_KINDS))
    row = {
        "service_id": sid,
        "kind": kind,
        "name": (name or "").strip() or sid,
        "capacity": _whole(capacity, fid=sid, key="error.edit.capacity", minimum=1),
        "source": "file",
    }
    new = gpd.GeoDataFrame([row], geometry=[point], crs="EPSG:4326", index=pd.Index([sid]))
    new = new.astype({k: v for k, v in SERVICE_DTYPES.items() if k != "geometry"})
    return validate_services(pd.concat([services, new]) if len(services) else new)


def move_feature(gdf: gpd.GeoDataFrame, fid: str, lon: float, lat: float) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` with feature ``fid`` moved to (lon, lat)."""
    point = _point(lon, lat)
    if fid not in gdf.index:
        raise InputError("error.edit.unknown", fid=fid, layer=_layer_name(gdf))
    out = gdf.copy()
    out.loc[fid, "geometry"] = point
    return out


def delete_feature(gdf: gpd.GeoDataFrame, fid: str) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` without feature ``fid``."""
    if fid not in gdf.index:
        raise InputError("error.edit.unknown", fid=fid, layer=_layer_name(gdf))
    return gdf.drop(index=fid)


def update_attributes(gdf: gpd.GeoDataFrame, edited: pd.DataFrame) -> gpd.GeoDataFrame:
    """Apply an edited attribute table (same index, some columns) to ``gdf``, validated.

    Households: ``village_name``, ``name``, ``phone`` (text) and ``children`` (whole number
    >= 0 or empty). Services: ``name`` (text), ``kind`` and ``capacity`` (whole number >= 1 or
    empty). Unknown columns are ignored; ids and positions are not changed here.
    """
    out = gdf.copy()
    services = "kind" in gdf.columns
    for fid, row in edited.iterrows():
        if fid not in out.index:
            raise InputError("error.edit.unknown", fid=fid, layer=_layer_name(gdf))
        for col, value in row.items():
            if col == "children" and not services:
                out.loc[fid, col] = _whole(value, fid=fid, key="error.edit.children", minimum=0)
            elif col == "capacity" and services:
                out.loc[fid, col] = _whole(value, fid=fid, key="error.edit.capacity", minimum=1)
            elif col == "kind" and services:
                if value not in SERVICE_KINDS:
                    raise InputError(
                        "error.edit.kind", fid=fid, value=value, choices=", ".join(SERVICE_KINDS)
                    )
                out.loc[fid, col] = value
            elif col in ("village_name", "name", "phone"):
                text = None if value is None or pd.isna(value) else str(value).strip() or None
                if col == "name" and services and text is None:
                    text = str(fid)
                out.loc[fid, col] = text
    return validate_services(out) if services else validate_households(out)
