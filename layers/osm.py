"""Offline OpenStreetMap reader: roads, services, villages and admin boundaries from a local file.

:func:`read_osm` reads ``.osm``, ``.osm.gz``, ``.osm.bz2`` (OSM XML) and ``.osm.pbf`` with
pyosmium in one streaming pass (plus the relation pass the area assembler needs). C++-side
filters drop every object Python does not need (untagged nodes, buildings, landuse...), node
locations are kept by libosmium's location cache, and road segments go straight into numpy
arrays: no per-node Python objects survive the pass and no networkx graph is built.

Roads
-----
Only ways with a ``highway`` tag become road segments (``osmnx.graph_from_xml`` turns *every*
way, buildings included, into edges; we do not). Each consecutive node pair of a way is a
segment. Which modes may use it comes from :data:`MODE_FILTERS`, written in Overpass filter
syntax and evaluated with Overpass semantics (see :func:`parse_overpass_filter`):

* ``walk``: exactly osmnx's ``walk`` network filter, as ``osmnx._overpass._get_network_filter
  ("walk")`` gives it, kept as text in :data:`OSMNX_FALLBACK_FILTERS` (a test checks the copy
  against the installed osmnx, so importing osmnx is not needed at run time).
* ``car``: osmnx's ``drive_service`` filter with ``track`` allowed (in rural Inner Mongolia the
  dirt tracks *are* the roads), plus ``vehicle=no`` and ``access=no|private`` excluded.
* ``motorbike``: the car filter, but ``motorcycle=no`` excludes instead of ``motorcar=no``, and
  motorways are excluded (motorbikes are banned from Chinese expressways).

A segment no mode may use is dropped, as are self-loops (the same node twice in a row) and
segments with a node whose location is not in the file (clipped extracts).

``oneway`` follows osmnx 2.x (``osmnx.graph._is_path_one_way`` / ``_is_path_reversed``):
``oneway`` in {yes, true, 1, F} or ``junction=roundabout`` -> 1, ``oneway`` in {-1, reverse, T}
-> -1, else 0. It is set only on segments some vehicle may use (walking ignores it), so a
walk-only segment always has ``oneway`` 0.

Services
--------
``amenity=kindergarten`` and ``amenity=school`` (and ``amenity=childcare`` when asked for),
mapped as nodes, closed ways or multipolygon relations; an area becomes its
``representative_point()`` (always inside it). Ids ``osm-n<id>``, ``osm-w<id>``, ``osm-r<id>``.
A node that lies inside an area of the same kind is the same facility mapped twice: the area is
kept (its point is the facility's grounds) and the node is dropped, after lending the area its
name and capacity where the area has none.

Villages
--------
Named ``place=village|hamlet|isolated_dwelling|town`` nodes. Their ``boundary`` is an
administrative polygon (``boundary=administrative``, ``admin_level`` 8, 9 or 10): one with the
same name (``name:zh`` or ``name`` of either side), preferring polygons that contain the point,
then the deepest ``admin_level``; else the deepest polygon (not already claimed by name) that
holds no other named place point (unnamed place nodes are not villages and do not count); else
None.
"""

from __future__ import annotations

import bz2
import gzip
import re
import tempfile
import xml.etree.ElementTree as ET
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely
from osmium.filter import EntityFilter, KeyFilter
from osmium.osm import AREA, NODE, WAY
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from layers import i18n
from layers.errors import FileFormatError, GapMapperError, InputError, NoDataError
from layers.roads import MODE_BITS, RoadEdges, highway_code
from layers.schema import WGS84, Note, add_notes
from layers.services import MAX_CAPACITY, empty_services, validate_services
from layers.tables import library_detail
from layers.villages import empty_villages, validate_villages

i18n.register(
    {
        "error.osm.not_found": {
            "zh": "找不到 OpenStreetMap 文件 {file}。请检查路径和文件名是否正确,或重新选择文件。",
            "en": "OpenStreetMap file {file} was not found. Check the path and the file name, "
            "or choose the file again.",
        },
        "error.osm.bad_extension": {
            "zh": "文件 {file} 的扩展名是“{extension}”,不能作为 OpenStreetMap 数据读取。"
            "支持的格式:{supported}。请把数据导出或下载为其中一种格式。",
            "en": 'File {file} has the extension "{extension}", which cannot be read as '
            "OpenStreetMap data. Supported formats: {supported}. Export or download the data "
            "in one of these formats.",
        },
        "error.osm.corrupt": {
            "zh": "无法读取 OpenStreetMap 文件 {file}:文件可能已损坏、没有下载完整,"
            "或者内容与扩展名不符(读取程序报告:{detail})。请重新下载或重新导出该文件,"
            "并确认没有把 .osm.pbf 文件改名为 .osm(或反过来)。",
            "en": "Cannot read OpenStreetMap file {file}: it is damaged, incompletely "
            "downloaded, or its content does not match its extension (the reader said: "
            "{detail}). Download or export the file again, and make sure a .osm.pbf file was "
            "not renamed to .osm (or the other way round).",
        },
        "error.osm.no_roads": {
            "zh": "OpenStreetMap 文件 {file} 中没有可用于路径计算的道路(带 highway 标签的线)。"
            "这个文件可能只包含建筑物、土地利用等要素,或者是在道路区域之外裁剪出来的。"
            "请换一个包含道路网的 OSM 文件(例如 Geofabrik 的地区提取),或扩大下载范围。",
            "en": "OpenStreetMap file {file} holds no highway ways usable for routing. It may "
            "contain only buildings, land use and similar features, or it was clipped outside "
            "the road network. Use an OSM file that contains the road network (for example a "
            "regional extract from Geofabrik) or download a larger area.",
        },
        "error.osm.no_roads_in_clip": {
            "zh": "OpenStreetMap 文件 {file} 中有 {n_segments} 段道路,但没有一段完全位于所选范围"
            " {clip} 内。请检查范围是否正确(经度和纬度是否颠倒),或选择与该文件重叠的区域。",
            "en": "OpenStreetMap file {file} holds {n_segments} road segments, but none lies "
            "entirely inside the chosen area {clip}. Check the area (are longitude and latitude "
            "swapped?) or choose an area that overlaps the file.",
        },
        "error.osm.bad_bbox": {
            "zh": "裁剪范围 (west={west}, south={south}, east={east}, north={north}) 无效:"
            "需要 west < east、south < north,经度在 -180 到 180 之间,纬度在 -90 到 90 之间"
            "(WGS84 度)。请检查四个数的顺序是否为(西, 南, 东, 北)。",
            "en": "Clip box (west={west}, south={south}, east={east}, north={north}) is not "
            "valid: expected west < east and south < north, longitudes within -180..180 and "
            "latitudes within -90..90 (WGS84 degrees). Check that the four numbers are in the "
            "order (west, south, east, north).",
        },
        "error.osm.bad_coordinate": {
            "zh": 'OpenStreetMap 文件 {file} 中的节点 {node} 的 {attribute}="{value}" 不是以度为单位的数字。'
            "请在 JOSM 中修正或删除这个节点(搜索 id:{node}),或重新下载、重新导出该文件。",
            "en": 'OpenStreetMap file {file}: node {node} has {attribute}="{value}", which is not '
            "a number of degrees. Fix or delete this node in JOSM (search for id:{node}), or "
            "download or export the file again.",
        },
        "error.osm.coordinate_out_of_range": {
            "zh": "OpenStreetMap 文件 {file} 中有 {count} 个节点的坐标超出范围(经度应在 -180..180,"
            "纬度应在 -90..90),例如节点 {node}(经度 {lon},纬度 {lat})。"
            "请在 JOSM 中修正或删除这些节点(搜索 id:{node}),或重新下载、重新导出该文件。",
            "en": "OpenStreetMap file {file}: {count} node(s) have coordinates outside the world "
            "(longitude must be within -180..180, latitude within -90..90), e.g. node {node} "
            "(longitude {lon}, latitude {lat}). Fix or delete these nodes in JOSM (search for "
            "id:{node}), or download or export the file again.",
        },
        "warning.osm.bad_capacity": {
            "zh": "OpenStreetMap 文件 {file} 中有 {count} 个设施的 capacity 标签不是 0 到 {limit} "
            "之间的整数(编号: 值):{examples}。这些设施的学位数按“未知”处理。"
            "如需使用学位数,请在 OSM 中修正标签,或在设施文件中填写学位数。",
            "en": "OpenStreetMap file {file}: {count} service(s) have a capacity tag that is not "
            "a whole number from 0 to {limit} (id: value) {examples}. Their capacity is treated "
            "as unknown. To use capacities, fix the tags in OSM or give them in a services file.",
        },
        "error.osm.bad_clip": {
            "zh": "无法使用类型为 {kind} 的裁剪范围:需要 None、(西, 南, 东, 北) 四个数,"
            "或一个 WGS84 经纬度的面(Polygon 或 MultiPolygon)。",
            "en": "A clip area of type {kind} cannot be used: expected None, four numbers "
            "(west, south, east, north), or a Polygon or MultiPolygon in WGS84 lon/lat.",
        },
    }
)

#: File name endings we read, and the libosmium format string of each.
SUPPORTED_FORMATS = {
    ".osm.pbf": "pbf",
    ".osm.bz2": "osm.bz2",
    ".osm.gz": "osm.gz",
    ".osm": "osm",
}

# --------------------------------------------------------------------------------------------
# Mode filters (Overpass syntax, Overpass semantics)
# --------------------------------------------------------------------------------------------

#: osmnx 2.1's network filters, used when ``osmnx._overpass._get_network_filter`` is gone or
#: returns something we cannot parse (a test checks they still equal the live ones).
OSMNX_FALLBACK_FILTERS = {
    "walk": (
        '["highway"]["area"!~"yes"]["access"!~"private"]'
        '["highway"!~"abandoned|bus_guideway|construction|cycleway|motor|no|planned|'
        'platform|proposed|raceway|razed|rest_area|services"]'
        '["foot"!~"no"]["service"!~"private"]'
        '["sidewalk"!~"separate"]["sidewalk:both"!~"separate"]'
        '["sidewalk:left"!~"separate"]["sidewalk:right"!~"separate"]'
    ),
    "drive_service": (
        '["highway"]["area"!~"yes"]["access"!~"private"]'
        '["highway"!~"abandoned|bridleway|bus_guideway|construction|corridor|'
        "cycleway|elevator|escalator|footway|no|path|pedestrian|planned|platform|"
        'proposed|raceway|razed|rest_area|services|steps|track"]'
        '["motor_vehicle"!~"no"]["motorcar"!~"no"]'
        '["service"!~"emergency_access|parking|parking_aisle|private"]'
    ),
}

_CLAUSE = re.compile(r'\[\s*"([^"]+)"\s*(?:(!~|~|!=|=)\s*"([^"]*)"\s*)?\]')


@dataclass(frozen=True)
class TagPredicate:
    """One Overpass filter clause: ``["key"]``, ``["key"op"value"]``.

    Overpass semantics: ``["k"]`` the tag is present; ``["k"="v"]`` present and equal;
    ``["k"!="v"]`` absent or different; ``["k"~"re"]`` present and the unanchored,
    case-sensitive regex matches somewhere in the value (``re.search``); ``["k"!~"re"]``
    absent or the regex does not match.
    """

    key: str
    op: str  # "exists", "=", "!=", "~" or "!~"
    value: str = ""

    def test(self, value: str | None) -> bool:
        """Whether a tag value (None when the tag is absent) passes this clause."""
        if self.op == "exists":
            return value is not None
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = value is not None and re.search(self.value, value) is not None
        return found if self.op == "~" else not found

    def __str__(self) -> str:
        if self.op == "exists":
            return f'["{self.key}"]'
        return f'["{self.key}"{self.op}"{self.value}"]'


def parse_overpass_filter(text: str) -> tuple[TagPredicate, ...]:
    """Parse an Overpass tag filter such as ``["highway"]["foot"!~"no"]`` into clauses.

    Raises ``ValueError`` on anything this small parser does not understand (flags such as
    ``,i``, unquoted keys...), rather than guessing.
    """
    clauses = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _CLAUSE.match(text, pos)
        if m is None:
            raise ValueError(f"cannot parse Overpass filter at {text[pos : pos + 30]!r}")
        key, op, value = m.group(1), m.group(2), m.group(3)
        clauses.append(TagPredicate(key, op or "exists", value or ""))
        pos = m.end()
    if not clauses:
        raise ValueError("empty Overpass filter")
    return tuple(clauses)


def format_overpass_filter(clauses: tuple[TagPredicate, ...]) -> str:
    """The Overpass text of parsed clauses (inverse of :func:`parse_overpass_filter`)."""
    return "".join(str(c) for c in clauses)


def _osmnx_filter(network_type: str) -> str:
    """osmnx's Overpass filter for ``network_type``, from our copy of it.

    Importing osmnx costs 1.5-2 s, which the app would pay at every start, so the filters are
    kept as text in :data:`OSMNX_FALLBACK_FILTERS`; ``tests/test_osm.py`` checks that they
    are still exactly what the installed osmnx uses, so the walk network stays osmnx's own.
    """
    return OSMNX_FALLBACK_FILTERS[network_type]


def _drop_alternative(
    clauses: tuple[TagPredicate, ...], key: str, alternative: str
) -> tuple[TagPredicate, ...]:
    """Remove one ``a|b|c`` alternative from the ``["key"!~"..."]`` clause(s)."""
    out = []
    for c in clauses:
        if c.key == key and c.op == "!~":
            kept = [a for a in c.value.split("|") if a != alternative]
            c = TagPredicate(key, "!~", "|".join(kept))
        out.append(c)
    return tuple(out)


def _build_mode_filters() -> dict[str, str]:
    walk = _osmnx_filter("walk")
    drive = parse_overpass_filter(_osmnx_filter("drive_service"))
    # Dirt tracks are the roads of rural Inner Mongolia: cars and motorbikes use them.
    drive = _drop_alternative(drive, "highway", "track")
    # Our additions match whole values (anchored), unlike osmnx's unanchored regexes.
    car = drive + parse_overpass_filter('["vehicle"!~"^no$"]["access"!~"^(no|private)$"]')
    motorbike = tuple(c for c in car if c.key != "motorcar") + parse_overpass_filter(
        # Motorbikes are banned from Chinese expressways (motorway / motorway_link).
        '["motorcycle"!~"^no$"]["highway"!~"^(motorway|motorway_link)$"]'
    )
    return {
        "walk": walk,
        "motorbike": format_overpass_filter(motorbike),
        "car": format_overpass_filter(car),
    }


#: Per-mode road filters in Overpass syntax (see the module docstring): a way with a
#: ``highway`` tag may be used by a mode when it passes every clause of that mode's filter.
MODE_FILTERS: dict[str, str] = _build_mode_filters()
MODE_PREDICATES: dict[str, tuple[TagPredicate, ...]] = {
    mode: parse_overpass_filter(text) for mode, text in MODE_FILTERS.items()
}

#: osmnx 2.x ``oneway`` values (``osmnx.graph._add_paths``): one-way, and one-way against the
#: drawing direction.
ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
REVERSED_VALUES = frozenset({"-1", "reverse", "T"})

_VEHICLE_BITS = MODE_BITS["car"] | MODE_BITS["motorbike"]
# The tags that decide a way's modes, oneway and class, in a fixed order (the memo key).
_WAY_KEYS = tuple(
    sorted({c.key for p in MODE_PREDICATES.values() for c in p} | {"highway", "oneway", "junction"})
)
_NO_VALUES = (None,) * len(_WAY_KEYS)


def _classify_way(values: tuple[str | None, ...]) -> tuple[int, int, int]:
    """``(modes, oneway, highway code)`` of a way from its tag values in ``_WAY_KEYS`` order."""
    tags = dict(zip(_WAY_KEYS, values, strict=True))
    modes = 0
    for mode, clauses in MODE_PREDICATES.items():
        if all(c.test(tags[c.key]) for c in clauses):
            modes |= MODE_BITS[mode]
    oneway = 0
    if modes & _VEHICLE_BITS:
        value = tags["oneway"]
        if value in REVERSED_VALUES:
            oneway = -1
        elif value in ONEWAY_VALUES or tags["junction"] == "roundabout":
            oneway = 1
    return modes, oneway, highway_code(tags["highway"] or "")


def way_modes(tags: dict[str, str]) -> int:
    """The :data:`MODE_BITS` mask of a way with these tags (0: no mode, or not a highway)."""
    return _classify_way(tuple(tags.get(k) for k in _WAY_KEYS))[0]


def way_oneway(tags: dict[str, str]) -> int:
    """The vehicle ``oneway`` (0, 1, -1) of a way with these tags (0 when walk-only)."""
    return _classify_way(tuple(tags.get(k) for k in _WAY_KEYS))[1]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

PLACE_VALUES = frozenset({"village", "hamlet", "isolated_dwelling", "town"})
ADMIN_LEVELS = (8, 9, 10)
_INVALID_COORDINATE = 2147483647  # libosmium's undefined_coordinate (node not in the file)
_COORDINATE_PRECISION = 10_000_000  # libosmium stores degrees * 1e7 as int32
_TYPE_ORDER = {"n": 0, "w": 1, "r": 2}
_CAPACITY = re.compile(r"^\s*(\d+)\s*$")
_DEGREES_E7 = (1_800_000_000, 900_000_000)  # the valid range of x, y (lon, lat) * 1e7
#: Editors give objects they created negative ids (JOSM: -1, -2...); libosmium's location
#: cache and area assembler need positive ids in order, so such files are read through a
#: renumbered, sorted copy (see :func:`_read_normalized`).
_GENERATORS_WITH_NEGATIVE_IDS = ("JOSM", "Merkaartor", "level0")

Clip = tuple[float, float, float, float] | Polygon | MultiPolygon | None


@dataclass(frozen=True)
class OSMExtract:
    """What :func:`read_osm` found in a file (all geometry in EPSG:4326, lon/lat degrees).

    Attributes
    ----------
    roads
        Every road segment at least one mode may use.
    services
        Services layer (:mod:`layers.services`), ``source="osm"``.
    villages
        Villages layer (:mod:`layers.villages`), ``source="osm"``.
    boundaries
        Admin polygons (admin_level 8-10), indexed by ``boundary_id``: columns
        ``boundary_id`` (str, ``osm-r<id>``/``osm-w<id>``), ``name`` (str, NA when unnamed),
        ``admin_level`` (Int64), ``geometry`` (Polygon/MultiPolygon).
    source
        The file path as given (for messages and cache keys).
    notes
        What the reader treated as unknown (see :class:`layers.schema.Note`), e.g.
        ``warning.osm.bad_capacity``; the services frame carries the same note in its
        ``attrs`` (:func:`layers.schema.notes_of`).
    """

    roads: RoadEdges
    services: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame
    source: str
    notes: tuple[Note, ...] = ()


def _name(tags) -> str | None:
    for key in ("name:zh", "name"):
        value = tags.get(key)
        if value and value.strip():
            return value.strip()
    return None


def _names(tags) -> frozenset[str]:
    return frozenset(v.strip() for k in ("name:zh", "name") if (v := tags.get(k)) and v.strip())


def _capacity(tags) -> tuple[int | None, str | None]:
    """``(places, None)`` for a usable ``capacity`` tag, ``(None, text)`` for an unusable one
    (text, negative, fractional or above :data:`~layers.services.MAX_CAPACITY`), and
    ``(None, None)`` when there is no tag."""
    text = tags.get("capacity")
    if text is None or not text.strip():
        return None, None
    m = _CAPACITY.match(text)
    if m is None or len(m.group(1)) > 9 or int(m.group(1)) > MAX_CAPACITY:
        return None, text
    return int(m.group(1)), None


def _file_format(path: Path, label: str) -> str:
    name = path.name.lower()
    for ending, fmt in SUPPORTED_FORMATS.items():
        if name.endswith(ending):
            return fmt
    raise FileFormatError(
        "error.osm.bad_extension",
        file=label,
        extension="".join(path.suffixes[-2:]) or path.name,
        supported=", ".join(sorted(SUPPORTED_FORMATS, key=len)),
    )


def _check_clip(clip: object) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """A vectorised ``inside(lon, lat)`` test for ``clip`` (None: no clipping)."""
    if clip is None:
        return None
    if isinstance(clip, Polygon | MultiPolygon):
        shapely.prepare(clip)
        return lambda lon, lat: shapely.intersects_xy(clip, lon, lat)
    if isinstance(clip, tuple | list) and len(clip) == 4:
        try:
            west, south, east, north = (float(v) for v in clip)
        except (TypeError, ValueError):
            raise InputError("error.osm.bad_clip", kind=type(clip).__name__) from None
        ok = -180 <= west < east <= 180 and -90 <= south < north <= 90
        if not ok:
            raise InputError("error.osm.bad_bbox", west=west, south=south, east=east, north=north)
        return lambda lon, lat: (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    raise InputError("error.osm.bad_clip", kind=type(clip).__name__)


def _clip_geometry(clip: Clip) -> BaseGeometry | None:
    if clip is None or isinstance(clip, BaseGeometry):
        return clip
    return box(*(float(v) for v in clip))


def _single(geom: BaseGeometry) -> BaseGeometry:
    """A one-part MultiPolygon as its Polygon (the villages schema speaks of Polygons)."""
    if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
        return geom.geoms[0]
    return geom


class _Collector:
    """Accumulates what one pass over the file yields, in plain lists."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.way_cache: dict[tuple[str | None, ...], tuple[int, int, int]] = {}
        # Road ways: (ref, x, y) per way node, flat in a typed buffer (24 bytes a node, no
        # Python object per node); per way its length and (way id, highway, oneway, modes).
        self.way_nodes = array("q")
        self.way_len = array("q")
        self.way_attr = array("q")
        # Services: (type, id, kind, name, capacity, geometry-or-None, lon, lat).
        self.service_rows: list[tuple] = []
        # Place nodes: (id, name, names, lon, lat).
        self.places: list[tuple[int, str, frozenset[str], float, float]] = []
        # Admin boundaries: (type, id, name, names, admin_level, wkb).
        self.admin: list[tuple[str, int, str | None, frozenset[str], int, str]] = []
        # Services whose capacity tag is unusable: (type, id, text).
        self.bad_capacity: list[tuple[str, int, str]] = []
        # Tagged nodes outside -180..180 / -90..90: (id, x, y) in 1e-7 degrees.
        self.bad_nodes: list[tuple[int, int, int]] = []
        self.wkb = osmium.geom.WKBFactory()

    def capacity(self, otype: str, oid: int, tags) -> int | None:
        places, bad = _capacity(tags)
        if bad is not None:
            self.bad_capacity.append((otype, oid, bad))
        return places

    def node(self, o) -> None:
        tags = o.tags
        kind = self.kinds.get(tags.get("amenity", ""))
        loc = o.location
        if not loc.valid():
            if loc.x != _INVALID_COORDINATE or loc.y != _INVALID_COORDINATE:
                self.bad_nodes.append((o.id, loc.x, loc.y))
            return
        if kind is not None:
            capacity = self.capacity("n", o.id, tags)
            self.service_rows.append(
                ("n", o.id, kind, _name(tags), capacity, None, loc.lon, loc.lat)
            )
        if tags.get("place") in PLACE_VALUES:
            name = _name(tags)
            if name is not None:
                self.places.append((o.id, name, _names(tags), loc.lon, loc.lat))

    def way(self, o) -> None:
        try:
            # pyosmium 4's C++ tag lookup directly (a Python wrapper call less per tag, for
            # each of the _WAY_KEYS on every highway way)
            get = o._pyosmium_data.tags_get_value_by_key
        except AttributeError:  # another pyosmium layout: the public way
            tags = o.tags
            key = tuple(tags.get(k) for k in _WAY_KEYS)
        else:
            key = tuple(map(get, _WAY_KEYS, _NO_VALUES))
        info = self.way_cache.get(key)
        if info is None:
            info = self.way_cache[key] = _classify_way(key)
        modes, oneway, hw = info
        nodes = o.nodes
        n_nodes = len(nodes)
        if not modes or n_nodes < 2:
            return
        try:
            # pyosmium 4's node list: its C++ getter directly, without the Python layers of
            # iteration and properties around it; this halves the reader's per-node cost
            # (which is most of its Python time), measured in benchmarks/ row 2
            get, buf = nodes._list.get, nodes._pyosmium_data
        except AttributeError:  # another pyosmium layout: the public way, slower
            self.way_nodes.extend([v for n in nodes for v in (n.ref, n.x, n.y)])
        else:
            append = self.way_nodes.append
            for i in range(n_nodes):
                ref = get(buf, i)
                loc = ref.location
                append(ref.ref)
                append(loc.x)
                append(loc.y)
        self.way_len.append(n_nodes)
        self.way_attr.extend((o.id, hw, oneway, modes))

    def area(self, o) -> None:
        tags = o.tags
        kind = self.kinds.get(tags.get("amenity", ""))
        admin_level = None
        if tags.get("boundary") == "administrative":
            try:
                admin_level = int(tags.get("admin_level", ""))
            except ValueError:
                admin_level = None
            if admin_level not in ADMIN_LEVELS:
                admin_level = None
        if kind is None and admin_level is None:
            return
        try:
            wkb = self.wkb.create_multipolygon(o)
        except RuntimeError:
            # libosmium could not build a valid ring (broken or clipped multipolygon).
            return
        otype = "w" if o.from_way() else "r"
        if kind is not None:
            geom = shapely.from_wkb(wkb)
            point = geom.representative_point()
            capacity = self.capacity(otype, o.orig_id(), tags)
            self.service_rows.append(
                (otype, o.orig_id(), kind, _name(tags), capacity, geom, point.x, point.y)
            )
        if admin_level is not None:
            self.admin.append((otype, o.orig_id(), _name(tags), _names(tags), admin_level, wkb))


def _read(path: Path, fmt: str, collector: _Collector) -> None:
    nodes = KeyFilter("amenity", "place")
    nodes.enable_for(NODE)
    ways = KeyFilter("highway")
    ways.enable_for(WAY)
    areas = KeyFilter("amenity", "boundary")
    areas.enable_for(AREA)
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), fmt))
        .with_locations()
        # Only relations that can hold a service or a boundary are assembled into areas.
        .with_areas(KeyFilter("amenity", "boundary"))
        .with_filter(EntityFilter(NODE | WAY | AREA))
        .with_filter(nodes)
        .with_filter(ways)
        .with_filter(areas)
    )
    handle = {"n": collector.node, "w": collector.way, "a": collector.area}
    for obj in processor:
        handle[obj.type_str()](obj)


def _collect(path: Path, fmt: str, kinds: dict[str, str], label: str) -> _Collector:
    """Read ``path`` into a collector, turning every failure into a message about ``label``."""
    try:
        collector = _Collector(kinds)
        try:
            _read(path, fmt, collector)
            needs_copy = _has_negative_ids(collector) or _made_by_editor(path, fmt)
        except RuntimeError as exc:
            # libosmium's area assembler needs objects sorted by id ("Way IDs out of order"):
            # editors' files and some merged extracts are not
            if "out of order" not in str(exc):
                raise
            needs_copy = True
        if needs_copy:
            collector = _Collector(kinds)
            _read_normalized(path, fmt, collector)
    except osmium.InvalidLocationError as exc:
        found = _find_bad_coordinate(path, fmt, str(exc))
        if found is None:
            raise FileFormatError(
                "error.osm.corrupt", file=label, detail=library_detail(exc, path, label)
            ) from exc
        node, attribute, value = found
        raise FileFormatError(
            "error.osm.bad_coordinate",
            file=label,
            node=node,
            attribute=attribute,
            value=value[:40],
        ) from exc
    except GapMapperError:
        raise
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # libosmium reports XML/PBF/compression errors as runtime_error
        raise FileFormatError(
            "error.osm.corrupt", file=label, detail=library_detail(exc, path, label)
        ) from exc
    _check_locations(collector, label)
    return collector


def _has_negative_ids(c: _Collector) -> bool:
    """Whether any id the pass saw is negative (objects an editor created, not yet uploaded)."""
    refs = np.frombuffer(c.way_nodes, dtype=np.int64)[0::3]
    way_ids = np.frombuffer(c.way_attr, dtype=np.int64)[0::4]
    return bool(
        (len(refs) and refs.min() < 0)
        or (len(way_ids) and way_ids.min() < 0)
        or any(r[1] < 0 for r in c.service_rows)
        or any(p[0] < 0 for p in c.places)
        or any(a[1] < 0 for a in c.admin)
    )


def _made_by_editor(path: Path, fmt: str) -> bool:
    """Whether the file's header names an editor that writes negative ids (JOSM...).

    Its areas built only of new (negative) objects would otherwise be dropped unseen.
    """
    header = osmium.io.Reader(osmium.io.File(str(path), fmt), osmium.osm.NOTHING).header()
    generator = header.get("generator") or ""
    return generator.startswith(_GENERATORS_WITH_NEGATIVE_IDS)


def _read_normalized(path: Path, fmt: str, collector: _Collector) -> None:
    """Read ``path`` through a sorted copy whose negative ids are renumbered, then restore them.

    libosmium's location cache stores positive ids only and its area assembler needs objects
    in id order; editors such as JOSM write new objects with negative ids, in their own
    order. Negative ids become ``top - id`` (``top``: the largest id or reference in the
    file), so they collide with nothing; the collector gets the file's own ids back. This
    pass runs in Python over every object, so only files that need it take it (editors'
    files are small).
    """
    nodes: list[tuple[int, dict[str, str], int, int]] = []
    ways: list[tuple[int, dict[str, str], list[int]]] = []
    relations: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]] = []
    top = 0
    for o in osmium.FileProcessor(osmium.io.File(str(path), fmt)):
        kind = o.type_str()
        if kind == "n":
            loc = o.location
            nodes.append((o.id, dict(o.tags), loc.x, loc.y))
            top = max(top, o.id)
        elif kind == "w":
            refs = [n.ref for n in o.nodes]
            ways.append((o.id, dict(o.tags), refs))
            top = max(top, o.id, *refs)
        else:
            members = [(m.type, m.ref, m.role) for m in o.members]
            relations.append((o.id, dict(o.tags), members))
            top = max(top, o.id, *(m[1] for m in members))

    def shift(i: int) -> int:
        return i if i >= 0 else top - i

    precision = float(_COORDINATE_PRECISION)
    with tempfile.TemporaryDirectory(prefix="gapmapper-osm-") as folder:
        copy = Path(folder) / "normalized.osm.pbf"
        writer = osmium.SimpleWriter(str(copy))
        try:
            for oid, tags, x, y in sorted(nodes, key=lambda r: shift(r[0])):
                location = osmium.osm.Location(x / precision, y / precision)
                writer.add_node(
                    osmium.osm.mutable.Node(id=shift(oid), location=location, tags=tags)
                )
            for oid, tags, refs in sorted(ways, key=lambda r: shift(r[0])):
                nodes_ = [shift(r) for r in refs]
                writer.add_way(osmium.osm.mutable.Way(id=shift(oid), nodes=nodes_, tags=tags))
            for oid, tags, members in sorted(relations, key=lambda r: shift(r[0])):
                shifted = [(t, shift(ref), role) for t, ref, role in members]
                writer.add_relation(
                    osmium.osm.mutable.Relation(id=shift(oid), members=shifted, tags=tags)
                )
        finally:
            writer.close()
        _read(copy, "pbf", collector)
    _restore_ids(collector, top)


def _restore_ids(c: _Collector, top: int) -> None:
    """Undo :func:`_read_normalized`'s renumbering (ids above ``top`` were negative)."""

    def back(i: int) -> int:
        return i if i <= top else top - i

    refs = np.frombuffer(c.way_nodes, dtype=np.int64).reshape(-1, 3)[:, 0]
    refs[refs > top] = top - refs[refs > top]
    way_ids = np.frombuffer(c.way_attr, dtype=np.int64).reshape(-1, 4)[:, 0]
    way_ids[way_ids > top] = top - way_ids[way_ids > top]
    c.service_rows = [(r[0], back(r[1]), *r[2:]) for r in c.service_rows]
    c.places = [(back(p[0]), *p[1:]) for p in c.places]
    c.admin = [(a[0], back(a[1]), *a[2:]) for a in c.admin]
    c.bad_capacity = [(t, back(i), v) for t, i, v in c.bad_capacity]
    c.bad_nodes = [(back(i), x, y) for i, x, y in c.bad_nodes]


def _check_locations(c: _Collector, label: str) -> None:
    """Raise ``error.osm.coordinate_out_of_range`` for a used node outside the world."""
    bad = list(c.bad_nodes)
    if c.way_len:
        triples = np.frombuffer(c.way_nodes, dtype=np.int64).reshape(-1, 3)
        x, y = triples[:, 1], triples[:, 2]
        defined = (x != _INVALID_COORDINATE) | (y != _INVALID_COORDINATE)
        outside = defined & ((np.abs(x) > _DEGREES_E7[0]) | (np.abs(y) > _DEGREES_E7[1]))
        if outside.any():
            rows = np.unique(triples[outside], axis=0)
            bad += [(int(r[0]), int(r[1]), int(r[2])) for r in rows]
    if not bad:
        return
    ids = {}
    for oid, x, y in bad:
        ids.setdefault(oid, (x, y))
    node, (x, y) = next(iter(ids.items()))
    raise FileFormatError(
        "error.osm.coordinate_out_of_range",
        file=label,
        count=len(ids),
        node=node,
        lon=f"{x / _COORDINATE_PRECISION:.7g}",
        lat=f"{y / _COORDINATE_PRECISION:.7g}",
    )


def _find_bad_coordinate(path: Path, fmt: str, message: str) -> tuple[str, str, str] | None:
    """``(node id, "lat"/"lon", value)`` of the node whose coordinate libosmium refused.

    libosmium's message quotes the value (or its unreadable tail) but not the node, so the
    XML is scanned again for it: only after a failure, streaming, with Python's expat (no
    external entities, no DTD fetched). ``None`` for PBF or when not found.
    """
    m = re.search(r"'(.*)'\s*$", message)
    if fmt == "pbf" or m is None:
        return None
    quoted = m.group(1)
    opener = {"osm": open, "osm.gz": gzip.open, "osm.bz2": bz2.open}[fmt]
    try:
        with opener(path, "rb") as stream:
            root = None
            for event, element in ET.iterparse(stream, events=("start", "end")):
                if root is None:
                    root = element
                if event == "start" and element.tag == "node":
                    for attribute in ("lat", "lon"):
                        value = element.get(attribute)
                        if value is not None and (
                            value == quoted or (quoted and value.endswith(quoted))
                        ):
                            return str(element.get("id")), attribute, value
                elif event == "end" and element.tag in ("node", "way", "relation"):
                    root.clear()
    except (ET.ParseError, OSError, EOFError, ValueError):
        return None
    return None


def _build_roads(c: _Collector, inside) -> tuple[RoadEdges, int]:
    """Road segments from the collected ways, and how many there were before clipping."""
    if not c.way_len:
        empty = np.zeros(0, dtype=np.int64)
        return RoadEdges(
            empty, np.zeros(0), np.zeros(0), empty, empty, empty,
            np.zeros(0, np.int16), np.zeros(0, np.int8), np.zeros(0, np.uint8),
        ), 0  # fmt: skip
    triples = np.frombuffer(c.way_nodes, dtype=np.int64).reshape(-1, 3)
    refs, x, y = triples[:, 0], triples[:, 1], triples[:, 2]
    lengths = np.frombuffer(c.way_len, dtype=np.int64)
    attr = np.frombuffer(c.way_attr, dtype=np.int64).reshape(-1, 4)
    not_last = np.ones(len(refs), dtype=bool)
    not_last[np.cumsum(lengths) - 1] = False
    a = np.flatnonzero(not_last)
    b = a + 1
    seg_attr = np.repeat(attr, lengths - 1, axis=0)
    valid = (x != _INVALID_COORDINATE) & (y != _INVALID_COORDINATE)
    keep = valid[a] & valid[b] & (refs[a] != refs[b])
    lon = x / _COORDINATE_PRECISION
    lat = y / _COORDINATE_PRECISION
    n_before = int(keep.sum())
    if inside is not None:
        ok = np.zeros(len(refs), dtype=bool)
        ok[valid] = inside(lon[valid], lat[valid])
        keep &= ok[a] & ok[b]
    a, b, seg_attr = a[keep], b[keep], seg_attr[keep]
    used = np.concatenate([a, b])
    node_id, first, inverse = np.unique(refs[used], return_index=True, return_inverse=True)
    first_row = used[first]
    roads = RoadEdges(
        node_id=node_id,
        lon=lon[first_row],
        lat=lat[first_row],
        u=inverse[: len(a)].astype(np.int64),
        v=inverse[len(a) :].astype(np.int64),
        way_id=seg_attr[:, 0].copy(),
        highway=seg_attr[:, 1].astype(np.int16),
        oneway=seg_attr[:, 2].astype(np.int8),
        modes=seg_attr[:, 3].astype(np.uint8),
    )
    return roads, n_before


def _build_services(c: _Collector, inside) -> gpd.GeoDataFrame:
    rows = sorted(c.service_rows, key=lambda r: (_TYPE_ORDER[r[0]], r[1]))
    areas = [r for r in rows if r[5] is not None]
    points = [r for r in rows if r[5] is None]
    dropped: set[int] = set()
    filled: dict[int, list] = {}
    if areas and points:
        tree = shapely.STRtree([r[5] for r in areas])
        pts = shapely.points([r[6] for r in points], [r[7] for r in points])
        p_idx, a_idx = tree.query(pts, predicate="within")
        for pi, ai in sorted(zip(p_idx.tolist(), a_idx.tolist(), strict=True)):
            node, area = points[pi], areas[ai]
            if node[2] != area[2]:
                continue
            dropped.add(pi)
            extra = filled.setdefault(ai, [None, None])
            extra[0] = extra[0] or node[3]
            extra[1] = extra[1] if extra[1] is not None else node[4]
    kept = [r for i, r in enumerate(points) if i not in dropped]
    for ai, r in enumerate(areas):
        name, capacity = r[3], r[4]
        if ai in filled:
            name = name or filled[ai][0]
            capacity = capacity if capacity is not None else filled[ai][1]
        kept.append((r[0], r[1], r[2], name, capacity, r[5], r[6], r[7]))
    kept.sort(key=lambda r: (_TYPE_ORDER[r[0]], r[1]))
    if inside is not None and kept:
        mask = inside(np.array([r[6] for r in kept]), np.array([r[7] for r in kept]))
        kept = [r for r, m in zip(kept, mask, strict=True) if m]
    if not kept:
        return empty_services()
    ids = [f"osm-{r[0]}{r[1]}" for r in kept]
    gdf = gpd.GeoDataFrame(
        {
            "service_id": ids,
            "kind": [r[2] for r in kept],
            # A neutral label (kind + id) so it reads the same in every language.
            "name": [r[3] or f"{r[2]} {sid}" for r, sid in zip(kept, ids, strict=True)],
            "capacity": pd.array([r[4] for r in kept], dtype="Int64"),
            "source": "osm",
        },
        geometry=shapely.points([r[6] for r in kept], [r[7] for r in kept]),
        crs=WGS84,
        index=pd.Index(ids, dtype="str", name="service_id"),
    )
    return validate_services(gdf)


def _build_boundaries(c: _Collector) -> gpd.GeoDataFrame:
    c.admin.sort(key=lambda r: (_TYPE_ORDER[r[0]], r[1]))
    rows = c.admin
    ids = [f"osm-{r[0]}{r[1]}" for r in rows]
    geoms = [_single(g) for g in shapely.from_wkb([r[5] for r in rows])] if rows else []
    return gpd.GeoDataFrame(
        {
            "boundary_id": pd.array(ids, dtype="str"),
            "name": pd.array([r[2] for r in rows], dtype="str"),
            "admin_level": pd.array([r[4] for r in rows], dtype="Int64"),
        },
        geometry=gpd.GeoSeries(geoms, crs=WGS84),
        crs=WGS84,
    ).set_index(pd.Index(ids, dtype="str", name="boundary_id"))


def _match_boundaries(c: _Collector, boundaries: gpd.GeoDataFrame) -> list[int | None]:
    """Per place (in ``c.places`` order), the position in ``boundaries`` of its polygon."""
    places = c.places
    if not places or boundaries.empty:
        return [None] * len(places)
    geoms = boundaries.geometry.to_numpy()
    # c.admin is in the frame's row order (sorted by _build_boundaries).
    levels = [r[4] for r in c.admin]
    names = [r[3] for r in c.admin]
    pts = shapely.points([p[3] for p in places], [p[4] for p in places])
    p_idx, b_idx = shapely.STRtree(geoms).query(pts, predicate="within")
    inside_of: dict[int, set[int]] = {}
    points_in: dict[int, list[int]] = {}
    for pi, bi in zip(p_idx.tolist(), b_idx.tolist(), strict=True):
        inside_of.setdefault(pi, set()).add(bi)
        points_in.setdefault(bi, []).append(pi)
    result: list[int | None] = [None] * len(places)
    claimed: set[int] = set()
    for pi, place in enumerate(places):
        same = [bi for bi, bn in enumerate(names) if bn & place[2]]
        if not same:
            continue
        containing = [bi for bi in same if bi in inside_of.get(pi, ())]
        pool = containing or same
        # Deepest level first; among equals the first in file order.
        result[pi] = max(pool, key=lambda bi: (levels[bi], -bi))
        claimed.add(result[pi])
    for pi in range(len(places)):
        if result[pi] is not None:
            continue
        sole = [bi for bi in inside_of.get(pi, ()) if bi not in claimed and points_in[bi] == [pi]]
        if sole:
            result[pi] = max(sole, key=lambda bi: (levels[bi], -bi))
    return result


def _build_villages(c: _Collector, boundaries: gpd.GeoDataFrame, inside) -> gpd.GeoDataFrame:
    match = _match_boundaries(c, boundaries)
    geoms = boundaries.geometry.to_numpy()
    rows = [(p, None if m is None else geoms[m]) for p, m in zip(c.places, match, strict=True)]
    if inside is not None and rows:
        mask = inside(np.array([p[3] for p, _ in rows]), np.array([p[4] for p, _ in rows]))
        rows = [r for r, m in zip(rows, mask, strict=True) if m]
    if not rows:
        return empty_villages()
    ids = [f"osm-n{p[0]}" for p, _ in rows]
    gdf = gpd.GeoDataFrame(
        {
            "village_id": ids,
            "village_name": [p[1] for p, _ in rows],
            "boundary": gpd.GeoSeries([g for _, g in rows], crs=WGS84),
            "source": "osm",
        },
        geometry=shapely.points([p[3] for p, _ in rows], [p[4] for p, _ in rows]),
        crs=WGS84,
    )
    gdf.index = pd.Index(ids, dtype="str", name="village_id")
    gdf["boundary"] = gpd.GeoSeries([g for _, g in rows], crs=WGS84, index=gdf.index)
    return validate_villages(gdf)


def read_osm(
    path: str | PathLike[str],
    *,
    clip: Clip = None,
    include_childcare: bool = False,
    layer_label: str | None = None,
) -> OSMExtract:
    """Read roads, services, villages and admin boundaries from a local OSM file.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.gz``, ``.osm.bz2`` (OSM XML) or ``.osm.pbf`` file.
    clip
        None (everything), a ``(west, south, east, north)`` box in WGS84 degrees, or a shapely
        Polygon/MultiPolygon in WGS84 lon/lat. Keeps road segments with both ends inside,
        services and villages whose point is inside, boundaries that intersect it (edges
        count as inside).
    include_childcare
        Also read ``amenity=childcare`` as services of kind ``childcare``.
    layer_label
        The file name shown in messages (default: the name of ``path``), for a file read
        from a temporary copy.

    Files whose objects have negative ids (made in JOSM and not uploaded) or are not sorted
    by id are read through a renumbered, sorted copy; the result keeps the file's own ids.

    Returns
    -------
    OSMExtract
        Everything in EPSG:4326; see the module docstring for the rules.

    Raises
    ------
    InputError
        ``error.osm.not_found`` (no such file), ``error.osm.bad_bbox`` / ``error.osm.bad_clip``
        (unusable ``clip``).
    FileFormatError
        ``error.osm.bad_extension`` (not one of the supported endings), ``error.osm.corrupt``
        (libosmium could not parse the file), ``error.osm.bad_coordinate`` (a node's lat/lon
        is not a number; names the node), ``error.osm.coordinate_out_of_range`` (a node used
        by a road, service or village lies outside -180..180 / -90..90; names the node).
    NoDataError
        ``error.osm.no_roads`` (no highway way usable by any mode), ``error.osm.no_roads_in_clip``
        (roads exist but none inside ``clip``).
    """
    source = str(path)
    file = Path(path)
    label = layer_label or file.name
    inside = _check_clip(clip)
    if not file.is_file():
        raise InputError("error.osm.not_found", file=layer_label or source)
    fmt = _file_format(file, label)
    kinds = {"kindergarten": "kindergarten", "school": "school"}
    if include_childcare:
        kinds["childcare"] = "childcare"
    collector = _collect(file, fmt, kinds, label)
    roads, n_segments = _build_roads(collector, inside)
    if n_segments == 0:
        raise NoDataError("error.osm.no_roads", file=label)
    if roads.n_edges == 0:
        raise NoDataError(
            "error.osm.no_roads_in_clip",
            file=label,
            n_segments=n_segments,
            clip=_describe_clip(clip),
        )
    boundaries = _build_boundaries(collector)
    villages = _build_villages(collector, boundaries, inside)
    if clip is not None and not boundaries.empty:
        boundaries = boundaries[boundaries.intersects(_clip_geometry(clip))]
    notes = _capacity_notes(collector, label)
    return OSMExtract(
        roads=roads,
        services=add_notes(_build_services(collector, inside), notes),
        villages=villages,
        boundaries=boundaries,
        source=source,
        notes=notes,
    )


def _capacity_notes(c: _Collector, label: str) -> tuple[Note, ...]:
    """``warning.osm.bad_capacity`` about the services whose capacity counts as unknown."""
    if not c.bad_capacity:
        return ()
    rows = sorted(set(c.bad_capacity), key=lambda r: (_TYPE_ORDER[r[0]], r[1]))
    shown = [f"osm-{t}{i}: {v[:20]!r}" for t, i, v in rows[:5]]
    return (
        Note(
            "warning.osm.bad_capacity",
            {
                "file": label,
                "count": len(rows),
                "limit": MAX_CAPACITY,
                "examples": ", ".join(shown) + (", ..." if len(rows) > 5 else ""),
            },
        ),
    )


def _describe_clip(clip: Clip) -> str:
    if isinstance(clip, BaseGeometry):
        w, s, e, n = clip.bounds
        return f"({w:.5f}, {s:.5f}, {e:.5f}, {n:.5f})"
    return "(" + ", ".join(f"{float(v):.5f}" for v in clip) + ")"
