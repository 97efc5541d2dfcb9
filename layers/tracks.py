"""Community roads and road conditions from users' files: the workshop's corrections to OSM.

Two layers live here, read from GPX, KML/KMZ, GeoJSON, GeoPackage or a zipped Shapefile:

**Community roads** (:func:`read_community_roads`, :func:`make_community_roads`): tracks a
workshop recorded with a phone or drew on the map, which OSM lacks. Schema (a
:class:`geopandas.GeoDataFrame`, CRS EPSG:4326):

================  ===========  ===================================================================
column            dtype        meaning
================  ===========  ===================================================================
index             str          ``road_id`` (``R1``, ``R2``...), unique
``road_id``       str          the same id as a column
``road_class``    str          an OSM ``highway`` value, one of :data:`ROAD_CLASSES`: ``track``
                               (土路, the default), ``unclassified`` (乡村道路), ``secondary``
                               (主要道路); it sets the speed (``mapping.settings``)
``name``          str          the road's name (may be missing)
``added_by``      str          who recorded or drew it (may be missing)
``modes``         str          the travel modes that may use it, comma separated (default
                               ``walk,motorbike,car``: every mode)
``source``        str          the file as the user named it, or ``drawn``
``source_row``    Int64        the feature in that file (from 1; GPX: tracks, then routes)
``geometry``      LineString   the road, lon/lat WGS84, at least two distinct points
================  ===========  ===================================================================

A file's multi-part line (a GPX track with several segments) becomes one row per part, with
the same ``source_row``.

**Road conditions** (:func:`read_closures`): closures and slow-downs, grouped into named
conditions such as 冬季积雪 (winter snow) or 雨季 (rainy season). Schema:

================  ===========  ===================================================================
column            dtype        meaning
================  ===========  ===================================================================
index             str          ``closure_id`` (``C1``...), unique
``closure_id``    str          the same id as a column
``condition``     str          the condition's name (the file's ``condition`` attribute, else
                               the name given to the reader, else the file's name)
``speed_kmh``     float64      missing: the roads are closed; a number: they are slowed to at
                               most this speed
``name``          str          the feature's name (may be missing)
``source``        str          the file as the user named it
``source_row``    Int64        the feature in that file (from 1)
``geometry``      (Multi)Poly- an area closes (or slows) every road segment it touches; a line
                  gon or       closes the segments it runs along (within the join distance,
                  LineString   see :mod:`mapping.conditions`)
================  ===========  ===================================================================

Coordinates: GPX is WGS84 by definition (``coords`` is not applied to it, with a note). KML,
KMZ, GeoJSON, GeoPackage and zipped Shapefile lines take ``coords``: 奥维互动地图 (Ovital)
exports KML/KMZ in GCJ-02 since its version 9.3 while labelling them WGS84, so those files
need ``coords="gcj02"`` (a note says so when a file looks like an Ovital export).

Limits: a file above :data:`MAX_FILE_BYTES` is refused before it is opened; GPX points are
streamed by GDAL's expat parser and reading stops at :data:`MAX_POINTS` (the message gives the
largest that fits). Odd-but-usable features (a one-point track, a point among the lines, an
unknown road class) are left out with a warning in ``frame.attrs["notes"]``
(:class:`layers.schema.Note`); a file with nothing usable is an error that says why.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.validation import make_valid

from layers import i18n
from layers.coords import normalize_system
from layers.errors import FileFormatError, InputError, NoDataError
from layers.files import atomic_path
from layers.roads import MODE_BITS, MODES
from layers.schema import WGS84, Note, add_notes, check_columns, coerce, empty_frame, notes_of
from layers.tables import find_column, looks_like_ovital, read_table, text_values

#: Road classes of community roads: the OSM ``highway`` value each stands for, in the order
#: a user picks them. A class sets the speed through :mod:`mapping.settings`.
ROAD_CLASSES = ("track", "unclassified", "secondary")
DEFAULT_ROAD_CLASS = "track"

#: Words a file may use for each class (compared lower-case, without spaces): the Chinese
#: labels the app shows, English words, and the OSM value itself.
_CLASS_WORDS = {
    "track": ("track", "土路", "dirt", "dirtroad", "便道", "小路", "牧道"),
    "unclassified": ("unclassified", "乡村道路", "村道", "乡道", "village", "villageroad"),
    "secondary": ("secondary", "主要道路", "主路", "县道", "main", "mainroad"),
}
_CLASS_BY_WORD = {w: cls for cls, words in _CLASS_WORDS.items() for w in words}

_MODE_WORDS = {
    "walk": ("walk", "步行", "foot"),
    "motorbike": ("motorbike", "摩托车", "摩托", "motorcycle"),
    "car": ("car", "汽车", "小汽车", "车"),
}
_MODE_BY_WORD = {w: mode for mode, words in _MODE_WORDS.items() for w in words}
ALL_MODES_TEXT = ",".join(MODES)

#: Accepted headers (compared as :func:`layers.tables.find_column` does).
CLASS_NAMES = ("road_class", "class", "类型", "道路类型", "道路等级", "等级", "type", "highway")
NAME_NAMES = ("name", "名称", "道路名称", "路名")
ADDED_BY_NAMES = ("added_by", "添加人", "记录人", "采集人", "author", "creator", "src")
MODES_NAMES = ("modes", "通行方式", "方式")
CONDITION_NAMES = ("condition", "条件", "路况", "季节", "season")
SPEED_NAMES = ("speed_kmh", "speed", "限速", "车速", "速度")

#: Largest road or closure file read, bytes (checked before the file is opened). A day of
#: 1-second GPS recording is about 5 MB of GPX; 100 MiB is twenty such days.
MAX_FILE_BYTES = 100 * 1024 * 1024
#: Most points (vertices) read from one file. Joining costs about 40 us a point
#: (``benchmarks/community.py``): a million points would keep a workshop waiting minutes.
MAX_POINTS = 500_000
#: Fastest speed a slow-down may give (km/h); more is a typo (a closure file is not a
#: speed-limit map).
MAX_SLOW_SPEED_KMH = 120.0

DRAWN = "drawn"

ROAD_DTYPES = {
    "road_id": "str",
    "road_class": "str",
    "name": "str",
    "added_by": "str",
    "modes": "str",
    "source": "str",
    "source_row": "Int64",
    "geometry": "geometry",
}
CLOSURE_DTYPES = {
    "closure_id": "str",
    "condition": "str",
    "speed_kmh": "float64",
    "name": "str",
    "source": "str",
    "source_row": "Int64",
    "geometry": "geometry",
}

_LINES = ("LineString", "MultiLineString")
_AREAS = ("Polygon", "MultiPolygon")

i18n.register(
    {
        "road_class.track": {"zh": "土路", "en": "dirt track"},
        "road_class.unclassified": {"zh": "乡村道路", "en": "village road"},
        "road_class.secondary": {"zh": "主要道路", "en": "main road"},
        "error.tracks.unsupported": {
            "zh": "无法读取 {file}：不支持“{ext}”类型的文件。道路和封路可以读取：{formats}。",
            "en": "Cannot read {file}: files of type '{ext}' are not supported. Roads and "
            "closures can be read from: {formats}.",
        },
        "error.tracks.too_large": {
            "zh": "{file} 有 {size_mb} MB，超过了可读取的最大 {limit_mb} MB。"
            "请只导出研究区内的轨迹，或把文件分成几个较小的文件。",
            "en": "{file} is {size_mb} MB, more than the largest that can be read, "
            "{limit_mb} MB. Export only the tracks in the study area, or split the file.",
        },
        "error.tracks.too_many_points": {
            "zh": "{file} 的点数超过了可读取的最大 {limit} 个。请只导出研究区内的轨迹，"
            "或在 GPS 软件里降低记录频率（例如每 5 秒一个点）后再导出。",
            "en": "{file} has more points than the largest that can be read, {limit}. Export "
            "only the tracks in the study area, or record less often (e.g. a point every "
            "5 seconds) in the GPS app and export again.",
        },
        "error.tracks.not_readable": {
            "zh": "无法读取 {file}：{detail}。文件可能不完整或已损坏：请从 GPS 或地图软件重新导出。"
            "道路和封路可以读取：{formats}。",
            "en": "Cannot read {file}: {detail}. The file may be incomplete or damaged: export "
            "it again from the GPS or map app. Roads and closures can be read from: {formats}.",
        },
        "error.tracks.empty": {
            "zh": "{file} 里没有任何轨迹、路线或线。请确认导出的是轨迹（而不是空文件）。",
            "en": "{file} holds no tracks, routes or lines. Check that the export holds the "
            "track (not an empty file).",
        },
        "error.tracks.waypoints_only": {
            "zh": "{file} 只有 {count} 个航点（waypoint），没有轨迹或路线：航点是点，不是道路。"
            "请在 GPS 软件里导出“轨迹”；如果这些点是农户或幼儿园，请把文件作为农户或服务设施加载。",
            "en": "{file} holds only waypoints ({count}), no tracks or routes: waypoints are "
            "points, not roads. Export the track from the GPS app; if these points are "
            "households or kindergartens, load the file as households or services instead.",
        },
        "error.tracks.points_only": {
            "zh": "{file} 只有点或面（{found}），没有线：道路必须是线。请导出线图层，"
            "或在地图上画出这条路。",
            "en": "{file} holds only points or areas ({found}), no lines: a road must be a "
            "line. Export the lines layer, or draw the road on the map.",
        },
        "error.tracks.no_usable_line": {
            "zh": "{file} 中没有可用的道路：每条线都只有一个点（要素 {features}）。"
            "一条道路至少需要两个不同的点：请重新记录或导出轨迹。",
            "en": "{file} holds no usable road: every line has a single point (features "
            "{features}). A road needs at least two different points: record or export the "
            "track again.",
        },
        "error.tracks.bad_coordinates": {
            "zh": "{file} 要素 {feature}：坐标 {lon}, {lat} 超出经纬度范围。请检查导出设置"
            "（是否导出了投影坐标？），或删除这条线。",
            "en": "{file}, feature {feature}: coordinates {lon}, {lat} are outside the range of "
            "longitude/latitude. Check the export settings (projected coordinates?) or "
            "delete this line.",
        },
        "error.tracks.bad_modes": {
            "zh": "{file} 要素 {feature}：通行方式“{value}”无法识别。请写 walk、motorbike、car"
            "（或 步行、摩托车、汽车），用逗号分隔；留空表示所有方式都可通行。",
            "en": "{file}, feature {feature}: travel modes '{value}' are not recognised. Write "
            "walk, motorbike, car (comma separated); leave it empty for every mode.",
        },
        "error.tracks.no_geometry": {
            "zh": "{file} 要素 {feature} 没有几何形状。请删除它，或重新导出。",
            "en": "{file}, feature {feature} has no geometry. Delete it or export again.",
        },
        "error.closures.bad_speed": {
            "zh": "{file} 要素 {feature}：限速“{value}”无效。请给出 1 到 {limit} 之间的公里/小时"
            "数值（道路减速），或留空（道路封闭）。",
            "en": "{file}, feature {feature}: speed '{value}' is not valid. Give a speed "
            "between 1 and {limit} km/h (the roads are slowed), or leave it empty (the "
            "roads are closed).",
        },
        "error.closures.bad_area": {
            "zh": "{file} 要素 {feature}：这个封路范围无效，且无法自动修复（修复后为 {found}，"
            "没有面积）。请重新画这个范围，或删除它。",
            "en": "{file}, feature {feature}: the closure area is not valid and cannot be "
            "repaired (the repair gives {found}, with no area). Draw the area again or "
            "delete it.",
        },
        "error.closures.nothing": {
            "zh": "{file} 里没有封路范围（面）或封闭路段（线），只有 {found}。"
            "封路文件里要画出封闭的范围或路段。",
            "en": "{file} holds no closure areas (polygons) or closed stretches (lines), only "
            "{found}. A closures file holds the closed areas or stretches.",
        },
        "warning.tracks.one_point_skipped": {
            "zh": "{file}：{count} 条线只有一个点，未使用（要素 {features}）。",
            "en": "{file}: {count} line(s) have a single point and were left out "
            "(features {features}).",
        },
        "warning.tracks.not_lines_skipped": {
            "zh": "{file}：{count} 个要素不是线（{found}），未作为道路使用（要素 {features}）。",
            "en": "{file}: {count} feature(s) are not lines ({found}) and were not used as "
            "roads (features {features}).",
        },
        "warning.tracks.unknown_class": {
            "zh": "{file}：道路类型“{values}”无法识别，按土路处理（要素 {features}）。"
            "可用的类型：土路、乡村道路、主要道路。",
            "en": "{file}: road class '{values}' is not recognised and was taken as a dirt "
            "track (features {features}). Classes: 土路 (dirt track), 乡村道路 (village "
            "road), 主要道路 (main road).",
        },
        "note.tracks.gpx_is_wgs84": {
            "zh": "{file}：GPX 文件按规定使用 WGS84 坐标，没有按 {coords} 转换。",
            "en": "{file}: GPX files are WGS84 by definition; the coordinates were not "
            "converted from {coords}.",
        },
        "note.tracks.ovital_gcj02": {
            "zh": "{file} 像是奥维互动地图导出的文件：奥维 9.3 及以后的版本导出的是 GCJ-02（火星）"
            "坐标。如果道路看起来偏了几百米，请按 GCJ-02 坐标重新加载。",
            "en": "{file} looks like an export of 奥维 (Ovital): since its version 9.3 Ovital "
            "exports GCJ-02 coordinates. If the roads look a few hundred metres off, load the "
            "file again with GCJ-02 coordinates.",
        },
        "warning.closures.repaired": {
            "zh": "{file}：{count} 个封路范围的边界自相交，已自动修复（要素 {features}）。"
            "请在地图上检查修复后的范围。",
            "en": "{file}: {count} closure area(s) had an outline crossing itself and were "
            "repaired (features {features}). Check the repaired areas on the map.",
        },
        "warning.closures.points_skipped": {
            "zh": "{file}：{count} 个点要素不能表示封路，未使用（要素 {features}）。"
            "请画出封闭的范围或路段。",
            "en": "{file}: {count} point feature(s) cannot mark a closure and were left out "
            "(features {features}). Draw the closed area or stretch instead.",
        },
    }
)

#: Formats read, by extension.
SUPPORTED_TEXT = "GPX, KML, KMZ, GeoJSON, GeoPackage (.gpkg), zipped Shapefile (.zip)"
_TABLE_FORMATS = (".kml", ".kmz", ".geojson", ".json", ".gpkg", ".zip", ".shp")


# --------------------------------------------------------------------------------------------
# schema


def validate_community_roads(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check the community roads contract; a copy with schema dtypes.

    Raises ``TypeError`` on a broken contract (a bug in a loader, not bad user input).
    """
    check_columns(gdf, ROAD_DTYPES, "community roads")
    out = coerce(gdf, ROAD_DTYPES)
    if len(out) and not out.geometry.geom_type.eq("LineString").all():
        raise TypeError("community roads must be LineStrings")
    if not out["road_class"].isin(ROAD_CLASSES).all():
        raise TypeError(f"community road classes must be among {ROAD_CLASSES}")
    out.index.name = "road_id"
    return out


def empty_community_roads() -> gpd.GeoDataFrame:
    """A community roads layer with no rows."""
    return empty_frame(ROAD_DTYPES, "road_id")


def validate_closures(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check the closures contract; a copy with schema dtypes (``TypeError`` when broken)."""
    check_columns(gdf, CLOSURE_DTYPES, "closures")
    out = coerce(gdf, CLOSURE_DTYPES)
    if len(out) and not out.geometry.geom_type.isin(_LINES + _AREAS).all():
        raise TypeError("closures must be lines or polygons")
    out.index.name = "closure_id"
    return out


def empty_closures() -> gpd.GeoDataFrame:
    """A closures layer with no rows."""
    return empty_frame(CLOSURE_DTYPES, "closure_id")


def road_class_label(road_class: str, lang: str) -> str:
    """The label of a road class (土路 / dirt track ...)."""
    return i18n.t(f"road_class.{road_class}", lang)


def parse_road_class(value: object) -> str | None:
    """The road class a word stands for (``None`` when it is not one we know)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return DEFAULT_ROAD_CLASS
    key = re.sub(r"[\s_\-]", "", str(value)).lower()
    if not key:
        return DEFAULT_ROAD_CLASS
    return _CLASS_BY_WORD.get(key)


def parse_modes(value: object) -> str | None:
    """Canonical modes text (``walk,car``) of a user's value; ``None`` when not understood.

    Empty means every mode. Separators: comma, Chinese comma, semicolon, ``/``, spaces.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ALL_MODES_TEXT
    words = [w for w in re.split(r"[,，;；/、\s]+", str(value).strip().lower()) if w]
    if not words:
        return ALL_MODES_TEXT
    found = set()
    for word in words:
        mode = _MODE_BY_WORD.get(word)
        if mode is None:
            return None
        found.add(mode)
    return ",".join(m for m in MODES if m in found)


def modes_mask(modes_text: str) -> int:
    """The :data:`layers.roads.MODE_BITS` mask of a canonical modes text."""
    return int(sum(MODE_BITS[m] for m in str(modes_text).split(",") if m))


# --------------------------------------------------------------------------------------------
# community roads


def make_community_roads(
    lines: list[shapely.LineString] | gpd.GeoSeries,
    *,
    road_class: str | list[str] = DEFAULT_ROAD_CLASS,
    name: str | list[str | None] | None = None,
    added_by: str | list[str | None] | None = None,
    modes: str | list[str] = ALL_MODES_TEXT,
    source: str = DRAWN,
    first_id: int = 1,
) -> gpd.GeoDataFrame:
    """A community roads layer from lines drawn on the map (lon/lat WGS84).

    Parameters
    ----------
    lines
        LineStrings in lon/lat (EPSG:4326), e.g. from the map's draw tool.
    road_class, name, added_by, modes
        One value for every line, or one per line. ``road_class`` is one of
        :data:`ROAD_CLASSES`; ``modes`` a canonical modes text (``walk,motorbike,car``).
    source
        Where they came from (``drawn``).
    first_id
        Number of the first ``road_id`` (``R<first_id>``), to keep ids unique when adding.

    Raises
    ------
    InputError
        A line with fewer than two distinct points (``error.tracks.no_usable_line``).
    """
    geoms = list(lines.to_numpy() if isinstance(lines, gpd.GeoSeries) else lines)
    n = len(geoms)

    def each(value):
        return list(value) if isinstance(value, list) else [value] * n

    rows = list(range(1, n + 1))
    short = [i + 1 for i, g in enumerate(geoms) if _distinct_points(g) < 2]
    if short:
        raise InputError("error.tracks.no_usable_line", file=source, features=_numbers(short))
    classes = each(road_class)
    for cls in classes:
        if cls not in ROAD_CLASSES:
            raise ValueError(f"road_class must be one of {ROAD_CLASSES}, not {cls!r}")
    ids = [f"R{first_id + i}" for i in range(n)]
    gdf = gpd.GeoDataFrame(
        {
            "road_id": ids,
            "road_class": classes,
            "name": pd.array(each(name), dtype="str"),
            "added_by": pd.array(each(added_by), dtype="str"),
            "modes": each(modes),
            "source": source,
            "source_row": pd.array(rows, dtype="Int64"),
        },
        geometry=shapely.force_2d(np.asarray(geoms, dtype=object)),
        crs=WGS84,
        index=pd.Index(ids, dtype="str", name="road_id"),
    )
    return validate_community_roads(gdf)


def read_community_roads(
    path: str | Path,
    *,
    coords: str = "wgs84",
    layer_label: str | None = None,
    added_by: str | None = None,
    road_class: str | None = None,
) -> gpd.GeoDataFrame:
    """Read community roads (recorded tracks, drawn lines) from a file.

    Parameters
    ----------
    path
        ``.gpx`` (tracks and routes), ``.kml``, ``.kmz``, ``.geojson``/``.json``,
        ``.gpkg`` or ``.zip`` (a zipped Shapefile).
    coords
        Coordinate system of KML/KMZ/GeoJSON/GPKG/Shapefile lines: ``wgs84``, ``gcj02``
        (奥维 Ovital 9.3+ exports, Amap) or ``bd09``. GPX is always WGS84.
    layer_label
        The file name shown in messages (default: the name of ``path``).
    added_by
        Who added the roads, when the file does not say (GPX ``src``, a ``添加人`` column).
    road_class
        The class of roads whose file gives none (default :data:`DEFAULT_ROAD_CLASS`).

    Returns
    -------
    geopandas.GeoDataFrame
        The community roads layer (see the module docstring); warnings in
        ``attrs["notes"]``.

    Raises
    ------
    FileFormatError, NoDataError, InputError
        With a message naming the file and the feature and saying what to do.
    """
    path = Path(path)
    label = layer_label or path.name
    system = normalize_system(coords)
    raw, notes = _read_lines_file(path, label, system)
    default_class = road_class or DEFAULT_ROAD_CLASS

    geom_types = raw.geometry.geom_type
    lines = raw[geom_types.isin(_LINES)]
    others = raw[~geom_types.isin(_LINES)]
    if len(lines) == 0:
        found = ", ".join(sorted(set(geom_types)))
        raise InputError("error.tracks.points_only", file=label, found=found or "-")
    if len(others):
        notes.append(
            Note(
                "warning.tracks.not_lines_skipped",
                {
                    "file": label,
                    "count": len(others),
                    "found": ", ".join(sorted(set(others.geometry.geom_type))),
                    "features": _numbers(others["source_row"].tolist()),
                },
            )
        )

    cols = list(lines.columns)
    class_col = find_column(cols, CLASS_NAMES)
    name_col = find_column(cols, NAME_NAMES)
    by_col = find_column(cols, ADDED_BY_NAMES)
    modes_col = find_column(cols, MODES_NAMES)

    parts = lines.explode(index_parts=False, ignore_index=True)
    n_pts = np.array([_distinct_points(g) for g in parts.geometry.to_numpy()])
    single = parts["source_row"].to_numpy()[n_pts < 2]
    parts = parts[n_pts >= 2]
    if len(parts) == 0:
        raise InputError(
            "error.tracks.no_usable_line", file=label, features=_numbers(sorted(set(single)))
        )
    # a feature is "one point" only when none of its parts is usable
    single = sorted(set(single) - set(parts["source_row"].tolist()))
    if single:
        notes.append(
            Note(
                "warning.tracks.one_point_skipped",
                {"file": label, "count": len(single), "features": _numbers(single)},
            )
        )

    rows = parts["source_row"].astype("Int64")
    classes = pd.Series(default_class, index=parts.index, dtype="str")
    if class_col is not None:
        given = text_values(parts[class_col])
        parsed = given.map(lambda v: parse_road_class(v) if not pd.isna(v) else default_class)
        unknown = parsed.isna()
        if unknown.any():
            notes.append(
                Note(
                    "warning.tracks.unknown_class",
                    {
                        "file": label,
                        "values": ", ".join(sorted(set(given[unknown].astype(str))))[:120],
                        "features": _numbers(sorted(set(rows[unknown].tolist()))),
                    },
                )
            )
        classes = parsed.fillna(DEFAULT_ROAD_CLASS).astype("str")
    modes = pd.Series(ALL_MODES_TEXT, index=parts.index, dtype="str")
    if modes_col is not None:
        given = text_values(parts[modes_col])
        parsed = given.map(parse_modes)
        bad = parsed.isna()
        if bad.any():
            first = bad.to_numpy().argmax()
            raise InputError(
                "error.tracks.bad_modes",
                file=label,
                feature=int(rows.iloc[first]),
                value=str(given.iloc[first])[:40],
            )
        modes = parsed.astype("str")
    names = _text_or_na(parts, name_col)
    by = _text_or_na(parts, by_col)
    if added_by is not None:
        by = by.fillna(added_by)

    ids = [f"R{i}" for i in range(1, len(parts) + 1)]
    gdf = gpd.GeoDataFrame(
        {
            "road_id": ids,
            "road_class": classes.to_numpy(),
            "name": names.to_numpy(),
            "added_by": by.to_numpy(),
            "modes": modes.to_numpy(),
            "source": label,
            "source_row": rows.to_numpy(),
        },
        geometry=parts.geometry.to_numpy(),
        crs=WGS84,
        index=pd.Index(ids, dtype="str", name="road_id"),
    )
    out = validate_community_roads(gdf)
    return add_notes(out, notes)


def _read_lines_file(path: Path, label: str, system: str) -> tuple[gpd.GeoDataFrame, list[Note]]:
    """The file's features (WGS84, ``source_row``) and notes, after the size limit."""
    ext = path.suffix.lower()
    if ext != ".gpx" and ext not in _TABLE_FORMATS:
        raise FileFormatError(
            "error.tracks.unsupported", file=label, ext=ext or path.name, formats=SUPPORTED_TEXT
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _not_readable(label, type(exc).__name__) from exc
    if size > MAX_FILE_BYTES:
        raise InputError(
            "error.tracks.too_large",
            file=label,
            size_mb=f"{size / 1024**2:.0f}",
            limit_mb=f"{MAX_FILE_BYTES / 1024**2:.0f}",
        )
    notes: list[Note] = []
    if ext == ".gpx":
        if system != "wgs84":
            notes.append(Note("note.tracks.gpx_is_wgs84", {"file": label, "coords": system}))
        raw = _read_gpx(path, label)
    else:
        if ext in (".kml", ".kmz") and system == "wgs84" and looks_like_ovital(path):
            notes.append(Note("note.tracks.ovital_gcj02", {"file": label}))
        # read_table: the size, zip-bomb, CRS and coordinate-range checks of every user file
        raw = read_table(path, coords=system, layer_label=label)
        notes.extend(notes_of(raw))
        _check_points(raw, label)
    return raw, notes


def _check_points(raw: gpd.GeoDataFrame, label: str) -> None:
    """Refuse files with more vertices than :data:`MAX_POINTS`."""
    n = int(shapely.get_num_coordinates(raw.geometry.to_numpy()).sum())
    if n > MAX_POINTS:
        raise InputError("error.tracks.too_many_points", file=label, limit=f"{MAX_POINTS:,}")


def _read_gpx(path: Path, label: str) -> gpd.GeoDataFrame:
    """Tracks (one row per track segment) and routes of a GPX file, WGS84.

    Lines are built from GDAL's ``track_points``/``route_points`` layers rather than its
    ``tracks`` layer: a track with a one-point segment makes the latter fail as a whole (GEOS
    refuses a one-point line), and the points layers stream, so reading stops at
    :data:`MAX_POINTS`.
    """
    frames = []
    budget = MAX_POINTS
    for lines_layer, points_layer, fid_col, seg_col, pt_col in (
        ("tracks", "track_points", "track_fid", "track_seg_id", "track_seg_point_id"),
        ("routes", "route_points", "route_fid", None, "route_point_id"),
    ):
        attrs = _gpx_read(path, label, lines_layer, read_geometry=False)
        if len(attrs) == 0:
            continue
        cols = [c for c in (fid_col, seg_col, pt_col) if c]
        pts = _gpx_read(path, label, points_layer, columns=cols, max_features=budget + 1)
        if len(pts) > budget:
            raise InputError("error.tracks.too_many_points", file=label, limit=f"{MAX_POINTS:,}")
        budget -= len(pts)
        frames.append(_gpx_lines(pts, attrs, fid_col, seg_col, pt_col, label))
    if not frames:
        wpts = _gpx_read(path, label, "waypoints", read_geometry=False)
        if len(wpts):
            raise InputError("error.tracks.waypoints_only", file=label, count=len(wpts))
        raise NoDataError("error.tracks.empty", file=label)
    if len(frames) == 2:  # routes numbered after the tracks
        frames[1]["source_row"] += frames[0].attrs["n_features"]
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


def _gpx_read(path: Path, label: str, layer: str, **kwargs) -> gpd.GeoDataFrame | pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return pyogrio.read_dataframe(str(path), layer=layer, **kwargs)
    except pyogrio.errors.DataSourceError as exc:
        raise _not_readable(label, _first_line(exc, path, label)) from exc
    except (pyogrio.errors.DataLayerError, ValueError, shapely.errors.GEOSException) as exc:
        raise _not_readable(label, _first_line(exc, path, label)) from exc


def _gpx_lines(
    pts: gpd.GeoDataFrame,
    attrs: pd.DataFrame,
    fid_col: str,
    seg_col: str | None,
    pt_col: str,
    label: str,
) -> gpd.GeoDataFrame:
    """One LineString per track segment (or route) from its points, in point order.

    A segment of one point becomes a line of two equal points, and a track without points an
    empty line: both are left out with a warning by the caller.
    """
    fid = pts[fid_col].to_numpy(dtype=np.int64)
    seg = pts[seg_col].to_numpy(dtype=np.int64) if seg_col else np.zeros(len(pts), np.int64)
    order = np.lexsort((pts[pt_col].to_numpy(dtype=np.int64), seg, fid))
    xy = shapely.get_coordinates(pts.geometry.to_numpy()[order])
    fid, seg = fid[order], seg[order]
    bad = ~(np.isfinite(xy).all(axis=1) & (np.abs(xy[:, 0]) <= 180.0) & (np.abs(xy[:, 1]) <= 90.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            "error.tracks.bad_coordinates",
            file=label,
            feature=int(fid[i]) + 1,
            lon=f"{xy[i, 0]:g}",
            lat=f"{xy[i, 1]:g}",
        )
    key = fid * (int(seg.max(initial=0)) + 1) + seg
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else []
    ends = np.append(starts[1:], len(key)).astype(np.int64) if len(key) else []
    geoms, rows = [], []
    for s, e in zip(starts, ends, strict=True):
        part = xy[s:e] if e - s >= 2 else np.vstack([xy[s], xy[s]])
        geoms.append(shapely.linestrings(part))
        rows.append(int(fid[s]) + 1)
    present = set(rows)
    for f in range(1, len(attrs) + 1):
        if f not in present:  # an empty <trk>
            geoms.append(shapely.LineString())
            rows.append(f)
    a = attrs.reset_index(drop=True)
    take = np.asarray(rows, dtype=np.int64) - 1

    def col(name: str) -> np.ndarray:
        if name not in a.columns:
            return np.full(len(take), None, dtype=object)
        return a[name].to_numpy(dtype=object)[take]

    out = gpd.GeoDataFrame(
        {
            "name": col("name"),
            "src": col("src"),
            "type": col("type"),
            "source_row": pd.array(take + 1, dtype="Int64"),
        },
        geometry=np.asarray(geoms, dtype=object),
        crs=WGS84,
    )
    out = out.sort_values("source_row", kind="stable").reset_index(drop=True)
    out.attrs["n_features"] = len(attrs)
    return out


def _distinct_points(geom: shapely.Geometry) -> int:
    """How many distinct vertices a line has (0, 1 or 2: 2 means 'at least two')."""
    if geom is None or geom.is_empty:
        return 0
    xy = shapely.get_coordinates(geom)
    if len(xy) == 0:
        return 0
    return 1 if (xy == xy[0]).all() else 2


def _text_or_na(frame: pd.DataFrame, col: str | None) -> pd.Series:
    if col is None:
        return pd.Series(pd.NA, index=frame.index, dtype="str")
    return text_values(frame[col]).astype("str")


def _numbers(rows) -> str:
    from layers.tables import format_rows

    return format_rows([int(r) for r in rows])


def _not_readable(label: str, detail: str) -> FileFormatError:
    return FileFormatError(
        "error.tracks.not_readable", file=label, detail=detail, formats=SUPPORTED_TEXT
    )


def _first_line(exc: BaseException, path: Path, label: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for form in {str(path), str(path.resolve())}:
        text = text.replace(form, label)
    return text[:160]


# --------------------------------------------------------------------------------------------
# closures


def read_closures(
    path: str | Path,
    *,
    coords: str = "wgs84",
    layer_label: str | None = None,
    condition: str | None = None,
) -> gpd.GeoDataFrame:
    """Read road closures and slow-downs from a file (see the module docstring).

    Parameters
    ----------
    path
        GPX, KML, KMZ, GeoJSON, GeoPackage or zipped Shapefile of polygons (closed areas)
        and/or lines (closed stretches).
    coords
        Coordinate system of the positions (not applied to GPX).
    layer_label
        The file name shown in messages.
    condition
        The condition of features whose file gives none (default: the file's name without
        its extension).

    Raises
    ------
    InputError
        No polygons or lines; a polygon that cannot be repaired; a bad ``speed_kmh``.
    """
    path = Path(path)
    label = layer_label or path.name
    system = normalize_system(coords)
    raw, notes = _read_lines_file(path, label, system)
    default = condition or Path(label).stem or label

    gtype = raw.geometry.geom_type
    keep = gtype.isin(_LINES + _AREAS)
    if not keep.any():
        found = ", ".join(sorted(set(gtype)))
        raise InputError("error.closures.nothing", file=label, found=found or "-")
    if (~keep).any():
        notes.append(
            Note(
                "warning.closures.points_skipped",
                {
                    "file": label,
                    "count": int((~keep).sum()),
                    "features": _numbers(raw.loc[~keep, "source_row"].tolist()),
                },
            )
        )
    feats = raw[keep].reset_index(drop=True)
    rows = feats["source_row"].astype("Int64")

    geoms = feats.geometry.to_numpy().copy()
    repaired = []
    for i, g in enumerate(geoms):
        if g.geom_type in _AREAS and not g.is_valid:
            fixed = make_valid(g)
            area = shapely.union_all([p for p in shapely.get_parts(fixed) if p.geom_type in _AREAS])
            if area.is_empty or area.area == 0:
                raise InputError(
                    "error.closures.bad_area",
                    file=label,
                    feature=int(rows.iloc[i]),
                    found=fixed.geom_type,
                )
            geoms[i] = area
            repaired.append(int(rows.iloc[i]))
        elif g.geom_type in _LINES and _distinct_points(g) < 2:
            geoms[i] = None
    if repaired:
        notes.append(
            Note(
                "warning.closures.repaired",
                {"file": label, "count": len(repaired), "features": _numbers(repaired)},
            )
        )
    ok = np.array([g is not None for g in geoms])
    if not ok.all():
        single = rows[~ok].tolist()
        notes.append(
            Note(
                "warning.tracks.one_point_skipped",
                {"file": label, "count": len(single), "features": _numbers(single)},
            )
        )
        if not ok.any():
            raise InputError("error.tracks.no_usable_line", file=label, features=_numbers(single))
    feats, geoms, rows = (
        feats[ok].reset_index(drop=True),
        geoms[ok],
        rows[ok].reset_index(drop=True),
    )

    cols = list(feats.columns)
    speed_col = find_column(cols, SPEED_NAMES)
    cond_col = find_column(cols, CONDITION_NAMES)
    name_col = find_column(cols, NAME_NAMES)
    speeds = np.full(len(feats), np.nan)
    if speed_col is not None:
        given = text_values(feats[speed_col])
        for i, value in enumerate(given):
            if pd.isna(value):
                continue
            try:
                speed = float(str(value).replace("km/h", "").replace("公里", "").strip())
            except ValueError:
                speed = np.nan
            if not (1.0 <= speed <= MAX_SLOW_SPEED_KMH):
                raise InputError(
                    "error.closures.bad_speed",
                    file=label,
                    feature=int(rows.iloc[i]),
                    value=str(value)[:40],
                    limit=f"{MAX_SLOW_SPEED_KMH:g}",
                )
            speeds[i] = speed
    conds = _text_or_na(feats, cond_col).fillna(default)
    ids = [f"C{i}" for i in range(1, len(feats) + 1)]
    gdf = gpd.GeoDataFrame(
        {
            "closure_id": ids,
            "condition": conds.to_numpy(),
            "speed_kmh": speeds,
            "name": _text_or_na(feats, name_col).to_numpy(),
            "source": label,
            "source_row": rows.to_numpy(),
        },
        geometry=np.asarray(geoms, dtype=object),
        crs=WGS84,
        index=pd.Index(ids, dtype="str", name="closure_id"),
    )
    return add_notes(validate_closures(gdf), notes)


def make_closures(
    geoms: list[shapely.Geometry],
    *,
    condition: str,
    speed_kmh: float | None = None,
    name: str | None = None,
    source: str = DRAWN,
    first_id: int = 1,
) -> gpd.GeoDataFrame:
    """Closures (or slow-downs, with ``speed_kmh``) drawn on the map, lon/lat WGS84.

    Invalid areas are repaired with :func:`shapely.validation.make_valid`.
    """
    fixed = []
    for g in geoms:
        if g.geom_type in _AREAS and not g.is_valid:
            g = shapely.union_all(
                [p for p in shapely.get_parts(make_valid(g)) if p.geom_type in _AREAS]
            )
        fixed.append(shapely.force_2d(g))
    ids = [f"C{first_id + i}" for i in range(len(fixed))]
    gdf = gpd.GeoDataFrame(
        {
            "closure_id": ids,
            "condition": condition,
            "speed_kmh": np.nan if speed_kmh is None else float(speed_kmh),
            "name": pd.array([name] * len(fixed), dtype="str"),
            "source": source,
            "source_row": pd.array(range(1, len(fixed) + 1), dtype="Int64"),
        },
        geometry=np.asarray(fixed, dtype=object),
        crs=WGS84,
        index=pd.Index(ids, dtype="str", name="closure_id"),
    )
    return validate_closures(gdf)


def concat_community_roads(*layers: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Several community roads layers as one (``--roads`` given twice, drawn + read), with
    ``road_id`` renumbered ``R1``... in order; notes kept."""
    return _concat(layers, ROAD_DTYPES, "road_id", "R", validate_community_roads)


def concat_closures(*layers: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Several closures layers as one, ``closure_id`` renumbered ``C1``...; notes kept."""
    return _concat(layers, CLOSURE_DTYPES, "closure_id", "C", validate_closures)


def _concat(layers, dtypes, id_col, prefix, validate) -> gpd.GeoDataFrame:
    parts = [layer for layer in layers if len(layer)]
    if not parts:
        return empty_frame(dtypes, id_col)
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=WGS84)
    ids = [f"{prefix}{i}" for i in range(1, len(out) + 1)]
    out[id_col] = ids
    out.index = pd.Index(ids, dtype="str", name=id_col)
    out = validate(out)
    return add_notes(out, [n for layer in layers for n in notes_of(layer)])


# --------------------------------------------------------------------------------------------
# writing


def write_community_roads(roads: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write community roads as GeoJSON (``.geojson``) or GPX tracks (``.gpx``), all-or-nothing.

    The files read back with :func:`read_community_roads` to the same roads: GPX keeps the
    name (``name``), who added it (``src``) and the class (``type``, in Chinese).
    """
    path = Path(path)
    roads = validate_community_roads(roads)
    ext = path.suffix.lower()
    if ext == ".gpx":
        out = gpd.GeoDataFrame(
            {
                "name": roads["name"].astype(object).where(roads["name"].notna(), None),
                "src": roads["added_by"].astype(object).where(roads["added_by"].notna(), None),
                "type": [road_class_label(c, "zh") for c in roads["road_class"]],
                "desc": roads["modes"].astype(object),
            },
            geometry=[shapely.MultiLineString([g]) for g in roads.geometry],
            crs=WGS84,
        )
        layer, driver, opts = "tracks", "GPX", {}
    elif ext in (".geojson", ".json"):
        out = gpd.GeoDataFrame(
            roads.drop(columns=["source_row"]).astype(
                {c: object for c in ("name", "added_by", "source")}
            ),
            geometry="geometry",
            crs=WGS84,
        )
        layer, driver, opts = None, "GeoJSON", {}
    else:
        raise FileFormatError(
            "error.tracks.unsupported", file=path.name, ext=ext, formats="GeoJSON, GPX"
        )
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(out, tmp, layer=layer, driver=driver, **opts)
    return path
