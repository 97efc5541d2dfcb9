"""Villages layer.

Schema (a :class:`geopandas.GeoDataFrame`, CRS EPSG:4326):

=================  ===============  ===========================================================
column             dtype            meaning
=================  ===============  ===========================================================
index              str              ``village_id``, unique
``village_id``     str              the same id as a column (kept in exports)
``village_name``   str              name as written in the source (OSM ``name``, or the file)
``geometry``       Point            the village point: the OSM place node, the file's point, or
                                    a point inside the village's area
``boundary``       Polygon / None   the village's area where one is known (a GeoSeries, EPSG:4326)
``source``         str              where it came from: ``osm``, ``file`` or ``demo``
=================  ===============  ===========================================================
"""

from __future__ import annotations

import geopandas as gpd

from layers.schema import WGS84, check_columns, coerce, empty_frame

DTYPES = {
    "village_id": "str",
    "village_name": "str",
    "geometry": "geometry",
    "boundary": "geometry",
    "source": "str",
}


def validate_villages(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check the villages contract and return a copy with schema dtypes.

    Raises ``TypeError`` on a broken contract (a bug in a loader, not bad user input).
    """
    check_columns(gdf, DTYPES, "villages")
    out = coerce(gdf.drop(columns="boundary"), {k: v for k, v in DTYPES.items() if k != "boundary"})
    out["boundary"] = gpd.GeoSeries(gdf["boundary"], crs=WGS84, index=gdf.index)
    if not out.geometry.geom_type.isin(["Point"]).all():
        raise TypeError("villages geometry must be points (areas go in 'boundary')")
    out.index.name = "village_id"
    return out


def empty_villages() -> gpd.GeoDataFrame:
    """A villages layer with no rows."""
    gdf = empty_frame({k: v for k, v in DTYPES.items() if k != "boundary"}, "village_id")
    gdf["boundary"] = gpd.GeoSeries([], crs=WGS84)
    return gdf
