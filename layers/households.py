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

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
from layers.coords import utm_crs
from layers.errors import InputError
from layers.schema import WGS84, add_notes, check_columns, coerce, empty_frame, notes_of
from layers.tables import (
    KML_ID,
    check_unique_ids,
    find_column,
    format_rows,
    parse_nonnegative_int,
    read_table,
    text_values,
)

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


# --------------------------------------------------------------------------------------------
# Reading a user's households file (CSV/XLSX with lon/lat, or point geodata).

#: Accepted headers for each households column (compared ignoring case, spaces, ``_``).
ID_NAMES = ("household_id", "id", "户编号", "编号", "户号")
VILLAGE_NAMES = ("village_name", "village", "村名", "村", "所属村", "嘎查村")
NAME_NAMES = ("name", "户主姓名", "户主", "姓名")
PHONE_NAMES = (
    "phone",
    "tel",
    "telephone",
    "mobile",
    "电话",
    "手机",
    "联系电话",
    "手机号",
    "手机号码",
    "联系方式",
)
CHILDREN_NAMES = ("children", "n_children", "儿童数", "儿童人数", "孩子数", "留守儿童数")

i18n.register(
    {
        "warning.households.outside_area": {
            "zh": "有 {count} 户位于研究区以外超过 {km} 公里处（第 {rows} 行，最远 {max_km} 公里）。"
            "请检查这些户的坐标（经纬度是否填反？是否为未转换的高德/百度坐标？），"
            "或把它们从文件中删除。它们仍会参与计算。",
            "en": "{count} household(s) lie more than {km} km outside the study area (rows "
            "{rows}; the farthest {max_km} km). Check their coordinates (longitude and latitude "
            "swapped? Amap/Baidu coordinates not converted?) or remove them from the file. "
            "They are still included in the analysis.",
        },
        "error.households.not_points": {
            "zh": "{file} 不能作为住户图层：住户必须是点，但文件里有 {found}"
            "（第 {rows} 个要素）。请选择住户点文件，或带经度/纬度列的表格。",
            "en": "{file} cannot be used as households: households must be points, but the "
            "file holds {found} (features {rows}). Choose a file of household points, or a "
            "table with longitude/latitude columns.",
        },
    }
)


def read_households(
    path: str | Path, *, coords: str = "wgs84", layer_label: str | None = None
) -> gpd.GeoDataFrame:
    """Read a households file into the households layer (see the module docstring).

    Parameters
    ----------
    path
        Any format :func:`layers.tables.read_table` reads; the positions must be points.
    coords
        Coordinate system of the positions: ``wgs84``, ``gcj02`` or ``bd09``.
    layer_label
        The file name shown in messages (default: the name of ``path``).

    Columns are found by their usual headers (see :data:`ID_NAMES`, :data:`VILLAGE_NAMES`,
    :data:`NAME_NAMES`, :data:`PHONE_NAMES`, :data:`CHILDREN_NAMES`); missing optional
    columns are left empty, and rows without an id get ``H<source_row>``.

    Returns
    -------
    geopandas.GeoDataFrame
        A layer passing :func:`validate_households`, EPSG:4326.

    Raises
    ------
    InputError
        Everything :func:`~layers.tables.read_table` raises, plus
        ``error.households.not_points``, ``error.tables.duplicate_id`` (naming the id and
        both rows), ``error.tables.bad_integer`` (children).
    """
    label = layer_label or Path(path).name
    raw = read_table(path, coords=coords, layer_label=label)
    types = raw.geometry.geom_type
    if not (types == "Point").all():
        counts = types[types != "Point"].value_counts()
        found = ", ".join(f"{kind} ({n})" for kind, n in counts.items())
        raise InputError(
            "error.households.not_points",
            file=label,
            found=found,
            rows=format_rows(list(raw["source_row"][types != "Point"])),
        )
    rows = raw["source_row"]
    out = pd.DataFrame(index=raw.index)

    id_col = find_column(raw.columns, (*ID_NAMES, KML_ID))
    generated = pd.Series([f"H{r}" for r in rows], index=raw.index, dtype="object")
    if id_col is None:
        ids = generated
    else:
        ids = text_values(raw[id_col])
        ids = ids.where(ids.notna(), generated)
    check_unique_ids(ids, rows, file=label, column=id_col or "household_id")
    out["household_id"] = ids
    for target, names in (
        ("village_name", VILLAGE_NAMES),
        ("name", NAME_NAMES),
        ("phone", PHONE_NAMES),
    ):
        col = find_column(raw.columns, names)
        out[target] = text_values(raw[col]) if col else pd.Series(pd.NA, index=raw.index)
    children_col = find_column(raw.columns, CHILDREN_NAMES)
    if children_col is None:
        out["children"] = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    else:
        out["children"] = parse_nonnegative_int(
            raw[children_col], rows, file=label, column=children_col
        )
    out["source_row"] = rows.astype("Int64")
    gdf = gpd.GeoDataFrame(out, geometry=raw.geometry.values, crs=WGS84)
    gdf.index = pd.Index(ids.astype(str).to_numpy(), dtype="str", name="household_id")
    add_notes(gdf, notes_of(raw))  # e.g. which sheet of a workbook was read
    return validate_households(gdf)


#: How far outside the study area a household may lie before it is reported (metres): GPS
#: points of homes at the edge of a Banner, and a boundary drawn from a coarse web map, are
#: often a few hundred metres off.
OUTSIDE_TOLERANCE_M = 1000.0


def find_households_outside(
    households: gpd.GeoDataFrame,
    area: shapely.Geometry | None,
    *,
    tolerance_m: float = OUTSIDE_TOLERANCE_M,
) -> gpd.GeoDataFrame:
    """The households lying more than ``tolerance_m`` outside ``area`` (odd but usable data).

    Parameters
    ----------
    households
        A households layer (EPSG:4326).
    area
        The study area outline in WGS84 lon/lat, or None (then nothing is outside).
    tolerance_m
        Distance in metres beyond the outline that still counts as inside.

    Returns
    -------
    geopandas.GeoDataFrame
        Those households (same index and columns, EPSG:4326) plus ``outside_m`` (float,
        metres from the outline, measured in the UTM zone of the area's centre), farthest
        first. Empty when all are inside or ``area`` is None or empty.
    """
    if area is None or area.is_empty or len(households) == 0:
        out = households.iloc[:0].copy()
        out["outside_m"] = pd.Series(dtype="float64")
        return out
    centre = area.centroid
    crs = utm_crs(centre.x, centre.y)
    outline = gpd.GeoSeries([area], crs=households.crs).to_crs(crs).iloc[0]
    points = households.geometry.to_crs(crs)
    dist = shapely.distance(outline, points.values)
    out = households.copy()
    out["outside_m"] = np.asarray(dist, dtype=float)
    out = out[out["outside_m"] > tolerance_m]
    return out.sort_values("outside_m", ascending=False, kind="stable")


def describe_households_outside(
    outside: gpd.GeoDataFrame, lang: str, *, tolerance_m: float = OUTSIDE_TOLERANCE_M
) -> str | None:
    """The warning about :func:`find_households_outside`'s result in ``lang``, or None if empty.

    Rows are the file's rows (``source_row``), smallest first, as the user finds them.
    """
    if len(outside) == 0:
        return None
    rows = sorted(int(r) for r in outside["source_row"].dropna())
    return i18n.t(
        "warning.households.outside_area",
        lang,
        count=len(outside),
        km=f"{tolerance_m / 1000:g}",
        rows=format_rows(rows) if rows else "-",
        max_km=f"{outside['outside_m'].max() / 1000:.1f}",
    )
