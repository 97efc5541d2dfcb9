"""Services layer: kindergartens, schools and (optionally) childcare.

Schema (a :class:`geopandas.GeoDataFrame`, CRS EPSG:4326):

===============  ===========  ===================================================================
column           dtype        meaning
===============  ===========  ===================================================================
index            str          ``service_id``, unique (``osm-n123``/``osm-w45`` for OSM, the
                              file's id or ``S<row>``, ``P1``... for proposals)
``service_id``   str          the same id as a column
``kind``         str          one of :data:`SERVICE_KINDS`
``name``         str          name (OSM ``name``/``name:zh``; a generated label when unnamed)
``capacity``     Int64 / NA   places (children), where known
``source``       str          ``osm``, ``file``, ``demo`` or ``proposed``
``geometry``     Point        the service's location (a point inside it, for areas)
===============  ===============================================================================
"""

from __future__ import annotations

import geopandas as gpd

from layers.schema import check_columns, coerce, empty_frame

#: Service kinds the tool knows. ``childcare`` is read from OSM only when asked for.
SERVICE_KINDS = ("kindergarten", "school", "childcare")

DTYPES = {
    "service_id": "str",
    "kind": "str",
    "name": "str",
    "capacity": "Int64",
    "source": "str",
    "geometry": "geometry",
}


def validate_services(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check the services contract and return a copy with schema dtypes."""
    check_columns(gdf, DTYPES, "services")
    out = coerce(gdf, DTYPES)
    bad = ~out["kind"].isin(SERVICE_KINDS)
    if bad.any():
        raise TypeError(f"unknown service kinds {sorted(set(out.loc[bad, 'kind']))}")
    if len(out) and not out.geometry.geom_type.isin(["Point"]).all():
        raise TypeError("services geometry must be points")
    out.index.name = "service_id"
    return out


def empty_services() -> gpd.GeoDataFrame:
    """A services layer with no rows."""
    return empty_frame(DTYPES, "service_id")
