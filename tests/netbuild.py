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


def box(x0: float, y0: float, x1: float, y1: float):
    """A rectangle given in metres, as a WGS84 polygon."""
    return shapely.Polygon([lonlat(x0, y0), lonlat(x1, y0), lonlat(x1, y1), lonlat(x0, y1)])


def villages(xy: dict[str, tuple[float, float]], names, boundaries=None):
    """A validated villages layer at metre positions (``boundaries``: polygons or None)."""
    from layers.villages import validate_villages

    vil = points(xy)
    vil["village_id"] = vil.index
    vil["village_name"] = list(names)
    vil["boundary"] = gpd.GeoSeries(
        list(boundaries) if boundaries is not None else [None] * len(vil),
        index=vil.index,
        crs="EPSG:4326",
    )
    vil["source"] = "file"
    return validate_villages(vil)


def households(
    xy: dict[str, tuple[float, float]], *, children, village_names=None, names=None, phones=None
):
    """A validated households layer at metre positions; missing columns are empty."""
    from layers.households import validate_households

    n = len(xy)
    hh = points(xy)
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array(village_names or [None] * n, dtype="str")
    hh["name"] = pd.array(names or [None] * n, dtype="str")
    hh["phone"] = pd.array(phones or [None] * n, dtype="str")
    hh["children"] = pd.array(list(children), dtype="Int64")
    hh["source_row"] = pd.array(range(2, n + 2), dtype="Int64")
    return validate_households(hh)
