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
``boundary``       (Multi)Polygon   the village's area where one is known (a GeoSeries, EPSG:4326)
``source``         str              where it came from: ``osm``, ``file`` or ``demo``
=================  ===============  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from layers import i18n
from layers.errors import InputError
from layers.schema import (
    WGS84,
    add_notes,
    check_columns,
    coerce,
    empty_frame,
    notes_of,
)
from layers.tables import (
    KML_ID,
    ColumnMapping,
    carry_reader_attrs,
    check_unique_ids,
    columns_line,
    format_rows,
    read_table,
    role_column,
    text_values,
)

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


# --------------------------------------------------------------------------------------------
# Reading a user's villages file (village points, or village areas).

#: Accepted headers for the village name and id (compared ignoring case, spaces, ``_``).
NAME_NAMES = ("village_name", "name", "village", "村名", "名称", "村", "嘎查村", "所在村", "村庄")
ID_NAMES = ("village_id", "id", "code", "代码", "区划代码", "村代码")

_POLYGONAL = ("Polygon", "MultiPolygon")

i18n.register(
    {
        "error.villages.no_name_column": {
            "zh": "{file} 中找不到村名列。找到的列：{columns}。村名列的表头可以是：{accepted}。"
            "请把村名所在列的表头改成其中一个，或指明村名在哪一列（在软件里选择，或在命令行加上 "
            "{columns_line}）。",
            "en": "{file} has no village name column. Columns found: {columns}. Accepted "
            "headers: {accepted}. Rename the column that holds the names to one of these, or "
            "say which column it is (choose it in the app, or add {columns_line} on the "
            "command line).",
        },
        "error.villages.missing_name": {
            "zh": "{file} 中有 {count} 行没有村名（“{column}”列为空，第 {rows} 行）。"
            "请补上村名，或删除这些行。",
            "en": "{file}: {count} row(s) have no village name (column '{column}' is empty, "
            "rows {rows}). Fill in the names or delete those rows.",
        },
        "error.villages.invalid_polygon": {
            "zh": "{file} 第 {row} 个要素（{name}）的村界面无效且无法自动修复"
            "（修复后为 {found}）。请在 GIS 软件中检查并修正这个面（自相交、重复点等）。",
            "en": "{file}, feature {row} ({name}): the village area is not a valid polygon and "
            "cannot be repaired automatically (repair gives {found}). Fix it in your GIS "
            "(self-intersections, repeated points).",
        },
        "error.villages.bad_geometry": {
            "zh": "{file} 中有 {count} 个要素既不是点也不是面（第 {rows} 个要素：{found}）。"
            "村庄只能是点（村的位置）或面（村界）：请删除其他要素，或只导出村庄图层。",
            "en": "{file}: {count} feature(s) are neither points nor polygons (features "
            "{rows}: {found}). Villages must be points (the village) or polygons (its area): "
            "delete the other features, or export only the villages layer.",
        },
    }
)


def _text_column(raw: gpd.GeoDataFrame) -> str | None:
    """The first column whose filled cells are mostly words (not numbers): likely the names."""
    taken = set((raw.attrs.get("position") or {}).values())
    for col in raw.columns:
        if col in ("geometry", "source_row", "folder", KML_ID) or col in taken:
            continue
        values = text_values(raw[col]).dropna().head(50)
        words = sum(not any(ch.isdigit() for ch in str(v)) for v in values)
        if len(values) and words * 2 > len(values):
            return str(col)
    return None


def read_villages(
    path: str | Path,
    *,
    coords: str | None = None,
    layer_label: str | None = None,
    columns: Mapping[str, str] | ColumnMapping | None = None,
) -> gpd.GeoDataFrame:
    """Read a villages file into the villages layer (see the module docstring).

    Parameters
    ----------
    path
        Any format :func:`layers.tables.read_table` reads: village points (a CSV/XLSX with
        lon/lat, or point geodata) or village areas (polygons).
    coords
        Coordinate system of the positions: ``wgs84``, ``gcj02`` or ``bd09``; ``None`` or
        ``"auto"`` for the format's default (see :func:`~layers.tables.read_table`).
    layer_label
        The file name shown in messages (default: the name of ``path``).
    columns
        Which column is which (``{"name": "村庄名称", "lon": "东经", "lat": "北纬"}``; the
        village's name is ``name`` or ``village``), see
        :class:`layers.tables.ColumnMapping`.

    Polygons become ``boundary`` (EPSG:4326) and the village point is their
    ``representative_point()`` (always inside the area). An invalid polygon is repaired with
    :func:`shapely.make_valid` when the repair is still a (multi)polygon, else it is an error.
    Names come from a column in :data:`NAME_NAMES`, ids from :data:`ID_NAMES` (else
    ``V<source_row>``); ``source`` is ``"file"``.

    Returns
    -------
    geopandas.GeoDataFrame
        A layer passing :func:`validate_villages`, EPSG:4326.

    Raises
    ------
    InputError
        Everything :func:`~layers.tables.read_table` raises, plus
        ``error.villages.no_name_column``, ``error.villages.missing_name``,
        ``error.villages.invalid_polygon``, ``error.villages.bad_geometry`` and
        ``error.tables.duplicate_id``.
    """
    label = layer_label or Path(path).name
    raw = read_table(path, coords=coords, layer_label=label, columns=columns, layer_kind="villages")
    rows = raw["source_row"]
    types = raw.geometry.geom_type
    bad = ~types.isin(("Point", *_POLYGONAL))
    if bad.any():
        counts = types[bad].value_counts()
        raise InputError(
            "error.villages.bad_geometry",
            file=label,
            count=int(bad.sum()),
            rows=format_rows(list(rows[bad])),
            found=", ".join(f"{kind} ({n})" for kind, n in counts.items()),
        )

    name_col = role_column(raw, "name", NAME_NAMES)
    if "village" in (raw.attrs.get("columns") or {}) and "name" not in raw.attrs["columns"]:
        name_col = raw.attrs["columns"]["village"]
    if name_col is None:
        raise InputError(
            "error.villages.no_name_column",
            file=label,
            columns=", ".join(c for c in raw.columns if c not in ("geometry", "source_row")),
            accepted=", ".join(NAME_NAMES),
            columns_line=columns_line({"name": _text_column(raw) or "COLUMN"}, "villages"),
        )
    names = text_values(raw[name_col])
    if names.isna().any():
        missing = list(rows[names.isna()])
        raise InputError(
            "error.villages.missing_name",
            file=label,
            column=name_col,
            count=len(missing),
            rows=format_rows(missing),
        )

    id_col = role_column(raw, "id", (*ID_NAMES, KML_ID), exclude=[name_col])
    generated = pd.Series([f"V{r}" for r in rows], index=raw.index, dtype="object")
    ids = (
        generated
        if id_col is None
        else text_values(raw[id_col]).where(lambda s: s.notna(), generated)
    )
    check_unique_ids(ids, rows, file=label, column=id_col or "village_id")

    points = []
    boundaries = []
    for geom, row, name in zip(raw.geometry, rows, names, strict=True):
        if geom.geom_type == "Point":
            points.append(geom)
            boundaries.append(None)
            continue
        if not geom.is_valid:
            repaired = shapely.make_valid(geom)
            if repaired.geom_type not in _POLYGONAL or repaired.is_empty:
                raise InputError(
                    "error.villages.invalid_polygon",
                    file=label,
                    row=row,
                    name=name,
                    found=repaired.geom_type,
                )
            geom = repaired
        points.append(geom.representative_point())
        boundaries.append(geom)

    index = pd.Index(ids.astype(str).to_numpy(), dtype="str", name="village_id")
    gdf = gpd.GeoDataFrame(
        {
            "village_id": ids.to_numpy(),
            "village_name": names.to_numpy(),
            "source": "file",
        },
        geometry=gpd.GeoSeries(points, crs=WGS84).values,
        crs=WGS84,
        index=index,
    )
    gdf["boundary"] = gpd.GeoSeries(boundaries, crs=WGS84, index=index)
    add_notes(gdf, notes_of(raw))  # e.g. which sheet of a workbook was read
    out = validate_villages(gdf)
    return carry_reader_attrs(raw, out)
