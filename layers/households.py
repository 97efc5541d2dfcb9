"""Households layer. Sensitive: these rows are about children.

Schema (a :class:`geopandas.GeoDataFrame`, CRS EPSG:4326):

=================  ===========  ================================================================
column             dtype        meaning
=================  ===========  ================================================================
index              str          ``household_id``, unique
``household_id``   str          the file's id, or ``H<row>`` when the file has none
``village_name``   str / NA     the village the file names (may be empty); the analysis assigns
                                the village it uses in ``mapping`` and says which rule did it
``name``           str / NA     household name (sensitive: never in committee exports)
``phone``          str / NA     phone number (sensitive: never in committee exports)
``children``       Int64 / NA   number of children, where the file gives it
``source_row``     Int64        the row as numbered in a spreadsheet (header = row 1), or the
                                feature number (from 1) in a geodata file, for messages
``geometry``       Point        the household's location
=================  ===========  ================================================================
"""

from __future__ import annotations

import geopandas as gpd

from layers.schema import check_columns, coerce, empty_frame

DTYPES = {
    "household_id": "str",
    "village_name": "str",
    "name": "str",
    "phone": "str",
    "children": "Int64",
    "source_row": "Int64",
    "geometry": "geometry",
}

#: Columns that identify people; committee-mode exports drop them (and exact positions).
SENSITIVE_COLUMNS = ("household_id", "name", "phone")


def validate_households(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check the households contract and return a copy with schema dtypes."""
    check_columns(gdf, DTYPES, "households")
    out = coerce(gdf, DTYPES)
    if len(out) and not out.geometry.geom_type.isin(["Point"]).all():
        raise TypeError("households geometry must be points")
    out.index.name = "household_id"
    return out


def empty_households() -> gpd.GeoDataFrame:
    """A households layer with no rows."""
    return empty_frame(DTYPES, "household_id")
