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

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers import i18n
from layers.errors import InputError, SettingsError
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
    format_examples,
    format_rows,
    normalize_header,
    parse_nonnegative_int,
    read_table,
    role_column,
    text_values,
)

#: Service kinds the tool knows. ``childcare`` is read from OSM only when asked for.
SERVICE_KINDS = ("kindergarten", "school", "childcare")

#: The largest capacity (places) read from OSM. The largest boarding schools in China teach
#: about 20 000 pupils; a larger ``capacity`` tag is a typo or a hostile file, and is read as
#: unknown (with a warning) rather than letting one service absorb a whole county's children.
MAX_CAPACITY = 50_000

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


# --------------------------------------------------------------------------------------------
# Reading a user's services file (kindergartens, schools, childcare).

#: Accepted headers (compared ignoring case, spaces, ``_``).
KIND_NAMES = ("kind", "type", "类型", "类别")
NAME_NAMES = ("name", "名称", "学校名称", "幼儿园名称")
CAPACITY_NAMES = ("capacity", "places", "学位", "容量", "学位数", "招生规模")
ID_NAMES = ("service_id", "id")

#: Values of the kind column (compared lower-case, without spaces) and the kind they mean.
KIND_VALUES = {
    "kindergarten": "kindergarten",
    "幼儿园": "kindergarten",
    "幼稚园": "kindergarten",
    "school": "school",
    "学校": "school",
    "小学": "school",
    "中学": "school",
    "初中": "school",
    "childcare": "childcare",
    "托儿所": "childcare",
    "托育": "childcare",
}

i18n.register(
    {
        "error.services.no_kind": {
            "zh": "{file} 中找不到设施类型列（找到的列：{columns}）。请加一列“类型”"
            "（表头可以是：{accepted}），或在读取时指定整个文件的设施类型，"
            "或指明类型在哪一列（命令行 {columns_line}）。",
            "en": "{file} has no column saying what kind of service each row is (columns "
            "found: {columns}). Add one (headers: {accepted}), or choose the kind for the "
            "whole file when loading it, or say which column it is ({columns_line} on the "
            "command line).",
        },
        "error.services.unknown_kind": {
            "zh": "{file} 的“{column}”列有 {count} 个不认识的设施类型（行号: 值）：{examples}。"
            "请把这些单元格改成以下之一：{accepted}。",
            "en": "{file}, column '{column}': {count} unknown kind(s) of service (row: value) "
            "{examples}. Change those cells to one of the accepted values: {accepted}.",
        },
        "error.services.bad_kind_setting": {
            "zh": "不认识的设施类型“{kind}”。可用的类型：{accepted}。",
            "en": "Unknown kind of service '{kind}'. Use one of: {accepted}.",
        },
        "error.services.bad_geometry": {
            "zh": "{file} 中有 {count} 个要素既不是点也不是面（第 {rows} 个要素：{found}）。"
            "设施只能是点，或建筑/院落的面：请删除其他要素，或只导出设施图层。",
            "en": "{file}: {count} feature(s) are neither points nor polygons (features "
            "{rows}: {found}). Services must be points, or the areas of their buildings: "
            "delete the other features, or export only the services layer.",
        },
    }
)


def _kind_column(raw: gpd.GeoDataFrame) -> str | None:
    """The column whose cells most often name a kind of service (幼儿园, 小学...)."""
    best, best_hits = None, 0
    for col in raw.columns:
        if col in ("geometry", "source_row", "folder"):
            continue
        values = text_values(raw[col]).dropna().head(200)
        hits = sum(normalize_header(v) in KIND_VALUES for v in values)
        if hits > best_hits:
            best, best_hits = str(col), hits
    return best


def read_services(
    path: str | Path,
    *,
    coords: str | None = None,
    kind: str | None = None,
    layer_label: str | None = None,
    columns: Mapping[str, str] | ColumnMapping | None = None,
) -> gpd.GeoDataFrame:
    """Read a services file into the services layer (see the module docstring).

    Parameters
    ----------
    path
        Any format :func:`layers.tables.read_table` reads: points, or areas (a building or
        school yard; the service point is then its ``representative_point()``).
    coords
        Coordinate system of the positions: ``wgs84``, ``gcj02`` or ``bd09``; ``None`` or
        ``"auto"`` for the format's default (see :func:`~layers.tables.read_table`).
    kind
        One of :data:`SERVICE_KINDS` when the whole file is one kind (this wins over a kind
        column); else each row's kind comes from a column in :data:`KIND_NAMES`, whose values
        are mapped with :data:`KIND_VALUES` (幼儿园 -> kindergarten, 小学 -> school...).
    layer_label
        The file name shown in messages (default: the name of ``path``).
    columns
        Which column is which (``{"kind": "学校类型", "capacity": "学位"}``), see
        :class:`layers.tables.ColumnMapping`.

    Names come from :data:`NAME_NAMES` (rows without one are labelled with their id),
    capacity (places, integer) from :data:`CAPACITY_NAMES`, ids from :data:`ID_NAMES` (else
    ``S<source_row>``); ``source`` is ``"file"``.

    Returns
    -------
    geopandas.GeoDataFrame
        A layer passing :func:`validate_services`, EPSG:4326.

    Raises
    ------
    SettingsError
        ``kind`` is not one of :data:`SERVICE_KINDS`.
    InputError
        Everything :func:`~layers.tables.read_table` raises, plus ``error.services.no_kind``,
        ``error.services.unknown_kind``, ``error.services.bad_geometry``,
        ``error.tables.bad_integer`` (capacity) and ``error.tables.duplicate_id``.
    """
    if kind is not None and kind not in SERVICE_KINDS:
        raise SettingsError(
            "error.services.bad_kind_setting", kind=kind, accepted=", ".join(SERVICE_KINDS)
        )
    label = layer_label or Path(path).name
    raw = read_table(path, coords=coords, layer_label=label, columns=columns, layer_kind="services")
    rows = raw["source_row"]
    types = raw.geometry.geom_type
    bad = ~types.isin(("Point", "Polygon", "MultiPolygon"))
    if bad.any():
        counts = types[bad].value_counts()
        raise InputError(
            "error.services.bad_geometry",
            file=label,
            count=int(bad.sum()),
            rows=format_rows(list(rows[bad])),
            found=", ".join(f"{k} ({n})" for k, n in counts.items()),
        )
    columns = [c for c in raw.columns if c not in ("geometry", "source_row")]

    if kind is not None:
        kinds = pd.Series(kind, index=raw.index, dtype="object")
    else:
        kind_col = role_column(raw, "kind", KIND_NAMES)
        if kind_col is None:
            raise InputError(
                "error.services.no_kind",
                file=label,
                columns=", ".join(map(str, columns)),
                accepted=", ".join(KIND_NAMES),
                columns_line=columns_line({"kind": _kind_column(raw) or "COLUMN"}, "services"),
            )
        values = text_values(raw[kind_col])
        kinds = values.map(
            lambda v: KIND_VALUES.get(normalize_header(v)) if v is not pd.NA else None
        )
        unknown = kinds.isna()
        if unknown.any():
            pairs = [
                (r, "" if v is pd.NA else v)
                for r, v in zip(rows[unknown], values[unknown], strict=True)
            ]
            raise InputError(
                "error.services.unknown_kind",
                file=label,
                column=kind_col,
                count=len(pairs),
                examples=format_examples(pairs),
                accepted=", ".join(KIND_VALUES),
            )

    id_col = role_column(raw, "id", (*ID_NAMES, KML_ID))
    generated = pd.Series([f"S{r}" for r in rows], index=raw.index, dtype="object")
    ids = generated
    if id_col is not None:
        ids = text_values(raw[id_col]).where(lambda s: s.notna(), generated)
    check_unique_ids(ids, rows, file=label, column=id_col or "service_id")

    name_col = role_column(raw, "name", NAME_NAMES, exclude=[id_col] if id_col else [])
    names = ids.copy()
    if name_col is not None:
        names = text_values(raw[name_col]).where(lambda s: s.notna(), ids)
    cap_col = role_column(raw, "capacity", CAPACITY_NAMES)
    if cap_col is None:
        capacity = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    else:
        capacity = parse_nonnegative_int(raw[cap_col], rows, file=label, column=cap_col)

    index = pd.Index(ids.astype(str).to_numpy(), dtype="str", name="service_id")
    points = [g if g.geom_type == "Point" else g.representative_point() for g in raw.geometry]
    gdf = gpd.GeoDataFrame(
        {
            "service_id": ids.to_numpy(),
            "kind": kinds.to_numpy(),
            "name": names.to_numpy(),
            "capacity": capacity.to_numpy(),
            "source": "file",
        },
        geometry=gpd.GeoSeries(points, crs=WGS84).values,
        crs=WGS84,
        index=index,
    )
    add_notes(gdf, notes_of(raw))  # e.g. which sheet of a workbook was read
    out = validate_services(gdf)
    return carry_reader_attrs(raw, out)
