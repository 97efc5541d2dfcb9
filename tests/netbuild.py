"""Tiny hand-built road networks whose answers can be checked with a pencil.

Nodes are given in metres on UTM zone 49N (EPSG:32649, which covers central Inner Mongolia)
and stored in lon/lat as the readers would; building the network with ``crs=UTM`` gives the
metres back to within nanometres.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from layers.roads import MODE_BITS, RoadEdges

UTM = "EPSG:32649"
X0, Y0 = 500_000.0, 4_600_000.0
ALL = MODE_BITS["walk"] | MODE_BITS["motorbike"] | MODE_BITS["car"]
_TO_LONLAT = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Lon/lat of a point given in metres relative to the test origin."""
    lon, lat = _TO_LONLAT.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def roads(
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple],
) -> RoadEdges:
    """Road edges from ``{id: (x_m, y_m)}`` and ways ``(way_id, [node ids], highway[, oneway,
    modes])``; oneway defaults to 0 and modes to every mode."""
    segs = []
    for way in ways:
        way_id, refs, highway = way[0], way[1], way[2]
        oneway = way[3] if len(way) > 3 else 0
        modes = way[4] if len(way) > 4 else ALL
        for a, b in zip(refs[:-1], refs[1:], strict=True):
            segs.append((a, b, way_id, highway, oneway, modes))
    return RoadEdges.from_lists({k: lonlat(*xy) for k, xy in nodes.items()}, segs)


def points(xy: dict[str, tuple[float, float]], **columns) -> gpd.GeoDataFrame:
    """Points (EPSG:4326) at metre positions, indexed by the dict's keys."""
    geoms = [shapely.Point(*lonlat(*p)) for p in xy.values()]
    gdf = gpd.GeoDataFrame(columns, geometry=geoms, crs="EPSG:4326", index=list(xy))
    return gdf


def services(rows: dict[str, tuple[str, float, float]]) -> gpd.GeoDataFrame:
    """A services layer from ``{id: (kind, x_m, y_m)}``, named ``<id>``."""
    gdf = points(
        {k: (x, y) for k, (_, x, y) in rows.items()},
        kind=[kind for kind, _, _ in rows.values()],
    )
    gdf["service_id"] = gdf.index
    gdf["name"] = "name-" + pd.Series(gdf.index, index=gdf.index)
    gdf["capacity"] = pd.array([pd.NA] * len(gdf), dtype="Int64")
    gdf["source"] = "file"
    gdf.index.name = "service_id"
    return gdf
