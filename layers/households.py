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
``located``        str          how the position is known: ``gps`` (the file's own position)
                                or ``village`` (the file gave none: placed at its village's
                                point, see :func:`read_households`); maps should draw
                                ``village`` households differently, or not at all
``geometry``       Point        the household's location
=================  ===========  ================================================================

Layers made before ``located`` existed (project files, workshop edits) get ``gps``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
from layers.coords import utm_crs
from layers.errors import InputError
from layers.schema import (
    WGS84,
    Note,
    add_notes,
    check_columns,
    coerce,
    empty_frame,
    notes_of,
    read_as_of,
)
from layers.tables import (
    KML_ID,
    ColumnMapping,
    carry_reader_attrs,
    check_unique_ids,
    format_examples,
    format_rows,
    parse_nonnegative_int,
    read_table,
    role_column,
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
#: ``located`` is checked apart from :data:`DTYPES`: code that builds household rows from
#: :data:`DTYPES` (workshop edits) need not know it, and :func:`validate_households` fills it.
LOCATED_DTYPE = "str"

#: Values of ``located``.
LOCATED_GPS = "gps"
LOCATED_VILLAGE = "village"

#: Columns that identify people; committee-mode exports drop them (and exact positions).
SENSITIVE_COLUMNS = ("household_id", "name", "phone")


def validate_households(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check the households contract and return a copy with schema dtypes.

    A layer without ``located`` (made before it existed) gets ``gps``; so do rows where it
    is missing (households added in a workshop edit).
    """
    if "located" not in gdf.columns:
        gdf = gdf.assign(located=LOCATED_GPS)
    elif gdf["located"].isna().any():
        gdf = gdf.assign(located=gdf["located"].fillna(LOCATED_GPS))
    check_columns(gdf, DTYPES, "households")
    out = coerce(gdf, {**DTYPES, "located": LOCATED_DTYPE})
    if len(out) and not out.geometry.geom_type.isin(["Point"]).all():
        raise TypeError("households geometry must be points")
    out.index.name = "household_id"
    return out


def empty_households() -> gpd.GeoDataFrame:
    """A households layer with no rows."""
    return empty_frame({**DTYPES, "located": LOCATED_DTYPE}, "household_id")


# --------------------------------------------------------------------------------------------
# Reading a user's households file (CSV/XLSX with lon/lat, or point geodata).

#: Accepted headers for each households column (compared ignoring case, spaces, ``_``, and a
#: survey export's group path): the usual Chinese headers, and the question names survey
#: forms use (``hh_id``, ``head``...).
ID_NAMES = ("household_id", "id", "户编号", "编号", "户号", "hh_id", "household_code", "户码")
VILLAGE_NAMES = (
    "village_name",
    "village",
    "村名",
    "村",
    "所属村",
    "嘎查村",
    "所在村",
    "村庄",
    "hh_village",
)
NAME_NAMES = (
    "name",
    "户主姓名",
    "户主",
    "姓名",
    "head",
    "head_name",
    "hh_head",
    "household_head",
)
PHONE_NAMES = (
    "phone",
    "tel",
    "telephone",
    "mobile",
    "phone_number",
    "电话",
    "手机",
    "联系电话",
    "手机号",
    "手机号码",
    "联系方式",
)
CHILDREN_NAMES = (
    "children",
    "n_children",
    "num_children",
    "children_count",
    "儿童",
    "儿童数",
    "儿童人数",
    "孩子数",
    "孩子人数",
    "留守儿童数",
    "学龄前儿童数",
)

#: Endings a village name may carry in one file and not in another (前进村 / 前进,
#: 白音淖嘎查委员会 / 白音淖嘎查 / 白音淖), tried when the name as written matches no
#: village; longest first. 组 (a village group, 巨井泉村二组) is a place of its own: kept.
VILLAGE_SUFFIXES = ("村民委员会", "嘎查委员会", "村委会", "委员会", "嘎查", "村")

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
        "note.households.placed_at_village": {
            "zh": "{file}：{count} 户没有坐标，按所在村计算（第 {rows} 行）：放在村的位置上，"
            "距离是从村到设施的距离。",
            "en": "{file}: {count} household(s) have no coordinates and are counted at their "
            "village (rows {rows}): placed at the village's point, their distance is the "
            "village's.",
        },
        "error.households.no_coordinates_no_villages": {
            "zh": "{file} 的 {count} 户都没有坐标，也没有村庄图层可以把它们放到所在村："
            "请补上经纬度，或同时给出村庄文件（命令行 --villages，或含村庄的 OSM 数据）。",
            "en": "None of the {count} households in {file} has coordinates, and there is no "
            "villages layer to place them at their village: fill in the coordinates, or give "
            "a villages file as well (--villages on the command line, or OSM data with "
            "villages).",
        },
        "error.households.missing_no_villages": {
            "zh": "{file} 中有 {count} 户没有坐标（第 {rows} 行），也没有村庄图层可以把它们放到"
            "所在村：请补上这些行的经纬度，或同时给出村庄文件（命令行 --villages）。",
            "en": "{file}: {count} household(s) have no coordinates (rows {rows}) and there is "
            "no villages layer to place them at their village: fill in their coordinates, or "
            "give a villages file as well (--villages on the command line).",
        },
        "error.households.no_position_no_village": {
            "zh": "{file} 中有 {count} 户既没有坐标也没有写所在村（第 {rows} 行）：无法确定位置。"
            "请补上经纬度或村名（“{column}”列），或删除这些行。",
            "en": "{file}: {count} household(s) have neither coordinates nor a village (rows "
            "{rows}), so they cannot be placed. Fill in the coordinates or the village "
            "(column '{column}'), or delete those rows.",
        },
        "error.households.unknown_village": {
            "zh": "{file} 中有 {count} 户没有坐标，而且所写的村在村庄图层里找不到（行号: 村名）："
            "{examples}。村庄图层里的村有：{known}。请改正村名，或补上这些户的经纬度。",
            "en": "{file}: {count} household(s) have no coordinates and name a village the "
            "villages layer does not have (row: village) {examples}. Villages in the layer: "
            "{known}. Correct the names, or fill in these households' coordinates.",
        },
        "error.households.ambiguous_village": {
            "zh": "{file} 中有 {count} 户没有坐标，而村庄图层里有不止一个村叫这个名字（行号: 村名）："
            "{examples}。无法确定是哪个村：请补上这些户的经纬度，或在村名里写清楚。",
            "en": "{file}: {count} household(s) have no coordinates and the villages layer "
            "has more than one village of that name (row: village) {examples}. Which one is "
            "meant cannot be told: fill in these households' coordinates, or make the names "
            "distinct.",
        },
    }
)


def read_households(
    path: str | Path,
    *,
    coords: str | None = None,
    layer_label: str | None = None,
    columns: Mapping[str, str] | ColumnMapping | None = None,
    villages: gpd.GeoDataFrame | None = None,
    require_coords: bool = False,
) -> gpd.GeoDataFrame:
    """Read a households file into the households layer (see the module docstring).

    Parameters
    ----------
    path
        Any format :func:`layers.tables.read_table` reads; the positions must be points.
        KoboToolbox and ODK Central exports are recognised as they are (see
        :mod:`layers.survey`); a GPX file's waypoints are households, named by their id.
    coords
        Coordinate system of the positions: ``wgs84``, ``gcj02`` or ``bd09``; ``None`` or
        ``"auto"`` for the format's default (see :func:`~layers.tables.read_table`).
    layer_label
        The file name shown in messages (default: the name of ``path``).
    columns
        Which column is which (``{"lon": "东经", "lat": "北纬", "village": "所在村"}``), for
        headers the readers do not know; see :class:`layers.tables.ColumnMapping`.
    villages
        The villages layer (:mod:`layers.villages`, EPSG:4326), where households without
        coordinates are placed: a row with a village but no position is put at that
        village's point (for a village area, a point inside it), ``located = "village"``,
        and a note counts them. Villages are matched by name (as written, else without an
        ending in :data:`VILLAGE_SUFFIXES`), else by id.
    require_coords
        Refuse rows without coordinates (``error.tables.missing_coordinate``), as before
        households could be placed at their village.

    Columns are found by their usual headers (see :data:`ID_NAMES`, :data:`VILLAGE_NAMES`,
    :data:`NAME_NAMES`, :data:`PHONE_NAMES`, :data:`CHILDREN_NAMES`), also inside a survey
    group; missing optional columns are left empty, and rows without an id get
    ``H<source_row>``.

    Returns
    -------
    geopandas.GeoDataFrame
        A layer passing :func:`validate_households`, EPSG:4326, with the reader's notes and
        its :class:`~layers.schema.ReadAs`.

    Raises
    ------
    InputError
        Everything :func:`~layers.tables.read_table` raises, plus
        ``error.households.not_points``, ``error.tables.duplicate_id`` (naming the id and
        both rows), ``error.tables.bad_integer`` (children), and for rows without
        coordinates ``error.households.no_coordinates_no_villages`` (no row has any and
        there are no villages), ``error.households.missing_no_villages``,
        ``error.households.no_position_no_village``, ``error.households.unknown_village``,
        ``error.households.ambiguous_village``.
    """
    label = layer_label or Path(path).name
    raw = read_table(
        path,
        coords=coords,
        layer_label=label,
        columns=columns,
        allow_missing=not require_coords,
        layer_kind="households",
    )
    missing = raw.geometry.isna().to_numpy()
    types = raw.geometry.geom_type
    not_points = (types != "Point").to_numpy() & ~missing
    if not_points.any():
        counts = types[not_points].value_counts()
        found = ", ".join(f"{kind} ({n})" for kind, n in counts.items())
        raise InputError(
            "error.households.not_points",
            file=label,
            found=found,
            rows=format_rows(list(raw["source_row"][not_points])),
        )
    rows = raw["source_row"]
    out = pd.DataFrame(index=raw.index)

    read_as = read_as_of(raw)
    gpx = read_as is not None and read_as.reason == "gpx"
    # a GPX waypoint's name is the household's id (a phone's label, "A01"), not a person's
    id_col = role_column(raw, "id", (*ID_NAMES, "name") if gpx else (*ID_NAMES, KML_ID))
    generated = pd.Series([f"H{r}" for r in rows], index=raw.index, dtype="object")
    if id_col is None:
        ids = generated
    else:
        ids = text_values(raw[id_col])
        ids = ids.where(ids.notna(), generated)
    check_unique_ids(ids, rows, file=label, column=id_col or "household_id")
    out["household_id"] = ids
    taken = [id_col] if id_col else []
    village_col = role_column(raw, "village", VILLAGE_NAMES, exclude=taken)
    for target, col in (
        ("village_name", village_col),
        ("name", role_column(raw, "name", NAME_NAMES, exclude=taken)),
        ("phone", role_column(raw, "phone", PHONE_NAMES, exclude=taken)),
    ):
        out[target] = text_values(raw[col]) if col else pd.Series(pd.NA, index=raw.index)
    children_col = role_column(raw, "children", CHILDREN_NAMES, exclude=taken)
    if children_col is None:
        out["children"] = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    else:
        out["children"] = parse_nonnegative_int(
            raw[children_col], rows, file=label, column=children_col
        )
    out["source_row"] = rows.astype("Int64")
    geometry = raw.geometry.to_numpy().copy()
    located = np.full(len(raw), LOCATED_GPS, dtype=object)
    notes: list[Note] = []
    if missing.any():
        geometry[missing] = _village_points(
            out["village_name"], missing, rows, villages, label, village_col or "village"
        )
        located[missing] = LOCATED_VILLAGE
        notes.append(
            Note(
                "note.households.placed_at_village",
                {
                    "file": label,
                    "count": int(missing.sum()),
                    "rows": format_rows(list(rows[missing])),
                },
            )
        )
    out["located"] = located
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs=WGS84).values, crs=WGS84)
    gdf.index = pd.Index(ids.astype(str).to_numpy(), dtype="str", name="household_id")
    add_notes(gdf, notes_of(raw))  # e.g. which sheet of a workbook was read
    add_notes(gdf, notes)
    return carry_reader_attrs(raw, validate_households(gdf))


def village_key(name: object) -> str:
    """A village name as compared across files: NFKC, no spaces, lower case."""
    text = unicodedata.normalize("NFKC", str(name))
    return "".join(ch for ch in text if not ch.isspace()).lower()


def _without_suffix(key: str) -> str:
    for suffix in VILLAGE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def find_villages(names: pd.Series, villages: gpd.GeoDataFrame) -> pd.Series:
    """The village each name stands for: its index in ``villages``, or a reason it has none.

    Names are compared as :func:`village_key`; when a name matches no village as written,
    it is compared without an ending in :data:`VILLAGE_SUFFIXES` on both sides; then as a
    village id. Returns, on ``names``' index, the village id (str), ``None`` for an empty
    name, ``"?"`` for a name no village has and ``"*"`` for one several villages share.
    """
    exact: dict[str, list[str]] = {}
    loose: dict[str, list[str]] = {}
    for vid, vname in zip(villages.index.astype(str), villages["village_name"], strict=True):
        if vname is None or vname is pd.NA:
            continue
        key = village_key(vname)
        exact.setdefault(key, []).append(vid)
        loose.setdefault(_without_suffix(key), []).append(vid)
    by_id = {village_key(vid): vid for vid in villages.index.astype(str)}

    def one(name: object) -> str | None:
        if name is None or name is pd.NA:
            return None
        key = village_key(name)
        for table, k in ((exact, key), (loose, _without_suffix(key))):
            found = table.get(k)
            if found:
                return found[0] if len(found) == 1 else "*"
        return by_id.get(key, "?")

    return pd.Series([one(n) for n in names], index=names.index, dtype="object")


def _village_points(
    names: pd.Series,
    missing: np.ndarray,
    rows: pd.Series,
    villages: gpd.GeoDataFrame | None,
    label: str,
    column: str,
) -> np.ndarray:
    """The village points of the rows without coordinates (raises when one has none)."""
    missing_rows = list(rows[missing])
    if villages is None or len(villages) == 0:
        if missing.all():
            raise InputError(
                "error.households.no_coordinates_no_villages", file=label, count=len(rows)
            )
        raise InputError(
            "error.households.missing_no_villages",
            file=label,
            count=len(missing_rows),
            rows=format_rows(missing_rows),
        )
    wanted = names[missing]
    empty = wanted.isna().to_numpy()
    if empty.any():
        empty_rows = list(rows[missing][empty])
        raise InputError(
            "error.households.no_position_no_village",
            file=label,
            count=len(empty_rows),
            rows=format_rows(empty_rows),
            column=column,
        )
    found = find_villages(wanted, villages)
    for code, key in (
        ("?", "error.households.unknown_village"),
        ("*", "error.households.ambiguous_village"),
    ):
        bad = (found == code).to_numpy()
        if bad.any():
            pairs = list(zip(rows[missing][bad], wanted[bad], strict=True))
            known = ", ".join(map(str, villages["village_name"].dropna().head(12)))
            if len(villages) > 12:
                known += ", ..."
            raise InputError(
                key,
                file=label,
                count=len(pairs),
                examples=format_examples(pairs),
                known=known,
            )
    return villages.geometry.loc[found.to_numpy()].to_numpy()


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
