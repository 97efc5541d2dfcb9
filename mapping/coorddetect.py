"""Which coordinate system a user's file is in, told by the roads (``--coords auto``).

The most common coordinate mistake in China is silent: a table copied from Amap or Tencent
(GCJ-02) or Baidu (BD-09) declared as WGS84, or the other way round. Every point is then a
few hundred metres (GCJ-02) to about a kilometre (BD-09) off, all in the same direction, and
the analysis happily measures from the wrong places. Homes, villages and schools sit by the
roads, so the system under which the points sit closest to the roads is the right one:

1. take the layer's positions (a sample of at most :data:`MAX_SAMPLE` points, evenly
   through the file, so a county's 20,000 households cost the same as 2,000);
2. read them as each of WGS84, GCJ-02 and BD-09 (:func:`layers.coords.convert_system`,
   starting from the system the reader used, :class:`layers.schema.ReadAs`);
3. snap each reading to the road segments with the project's snapping
   (:mod:`mapping.snapgrid`, the grid the routing network uses, or the network's own when
   one is given) and take the median off-road leg;
4. the smallest median wins when the evidence is strong (:func:`decide`): enough points
   (:data:`MIN_POINTS`), near roads in the best reading (median within
   :data:`MAX_NEAR_ROAD_M`), clearly nearer than in the next best (at least
   :data:`MIN_RATIO` times and :data:`MIN_GAIN_M` metres), and nearer point by point (at
   least :data:`MIN_WIN_SHARE` of the points are nearer the roads in the best reading than
   in the next: a few points cannot carry the median alone). Otherwise the file's default
   is kept, and a note says why.

:func:`settle_layer_coords` applies this to a layer read from a user's file: with ``auto``
it re-reads the positions in the system the roads chose, and says which and how sure
("按 GCJ-02（高德/腾讯）读取：农户到道路的中位距离 12 米，按 WGS84 则为 430 米"); without, it
only warns when the declared (or default) system looks wrong by the same test. Households
placed at their village (``located = village``) are neither measured nor moved: their
positions come from the villages layer. Points outside China have no GCJ-02/BD-09 shift and
are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from layers import i18n
from layers.coords import COORD_SYSTEMS, convert_geometries, convert_system, out_of_china, utm_crs
from layers.roads import RoadEdges
from layers.schema import Note, Phrase, add_notes, notes_of, read_as_of, set_read_as
from mapping.network import RoadNetwork, snap_points
from mapping.snapgrid import build_grid, nearest_segments, nearest_segments_brute

#: Most points measured per layer (evenly spaced through the file): the medians of 2,000
#: points are within a few metres of the full file's, and cost milliseconds to snap.
MAX_SAMPLE = 2000
#: Fewest points that can tell the systems apart (a handful of schools can sit anywhere).
MIN_POINTS = 8
#: The best reading's median off-road leg must be within this (m): farther, the points are
#: not by the roads the extract has (no roads nearby, or a different area), in any system.
MAX_NEAR_ROAD_M = 500.0
#: The best reading must be this many times nearer than the next (median off-road legs) ...
MIN_RATIO = 2.0
#: ... and this many metres nearer (phone GPS is good to 5-20 m: a gain within that is noise;
#: on a dense network, where every point is near some road, a wrong reading still sits
#: 50-60 m off against 10 m for the right one) ...
MIN_GAIN_M = 20.0
#: ... and nearer for this share of the points, one by one (by chance, half would be).
MIN_WIN_SHARE = 0.7
#: Brute-force snapping below this many point-segment pairs (no grid to build).
_BRUTE_PAIRS = 250_000

i18n.register(
    {
        "coords.what.households": {"zh": "农户", "en": "households"},
        "coords.what.villages": {"zh": "村庄", "en": "villages"},
        "coords.what.services": {"zh": "设施", "en": "services"},
        "note.coords.detected": {
            "zh": "{file}：按 {chosen}读取：{what}到道路的中位距离 {best_m} 米，按 {runner}则为 "
            "{runner_m} 米，按 {third}为 {third_m} 米（比较了 {n} 个点，其中 {share}% 这样读取"
            "离道路更近）。",
            "en": "{file}: read as {chosen}: the median distance from the {what} to the roads "
            "is {best_m} m; as {runner} it would be {runner_m} m, as {third} {third_m} m "
            "({n} points compared, {share}% of them nearer the roads read this way).",
        },
        "note.coords.few_points": {
            "zh": "{file}：只有 {n} 个点，不足以判断坐标系（至少要 {min_n} 个），按 {kept}读取。",
            "en": "{file}: {n} point(s) are too few to tell the coordinate system (at least "
            "{min_n} are needed); read as {kept}.",
        },
        "note.coords.no_roads": {
            "zh": "{file}：{what}附近没有道路（按哪种坐标系读取，到道路的中位距离都至少 {best_m} 米），"
            "无法判断坐标系，按 {kept}读取。",
            "en": "{file}: there are no roads near the {what} (the median distance to the "
            "roads is at least {best_m} m in every coordinate system), so the system cannot "
            "be told; read as {kept}.",
        },
        "note.coords.unclear": {
            "zh": "{file}：按不同坐标系读取，{what}到道路的中位距离相差不大（{chosen} {best_m} 米，"
            "{runner} {runner_m} 米），无法判断坐标系，按 {kept}读取。",
            "en": "{file}: the median distance from the {what} to the roads is much the "
            "same in every coordinate system ({chosen} {best_m} m, {runner} {runner_m} m), "
            "so the system cannot be told; read as {kept}.",
        },
        "note.coords.outside_china": {
            "zh": "{file}：位置在中国境外，那里没有 GCJ-02/BD-09 偏移，按 {kept}读取。",
            "en": "{file}: the positions are outside China, where GCJ-02/BD-09 shift "
            "nothing; read as {kept}.",
        },
        "warning.coords.looks_wrong": {
            "zh": "{file}：按 {declared}读取时，{what}到道路的中位距离为 {declared_m} 米，"
            "而按 {best}读取只有 {best_m} 米：坐标系可能选错了。请改选 {best}后重新读取"
            "（命令行 --coords {code}，或 --coords auto 自动判断）。",
            "en": "{file}: read as {declared}, the median distance from the {what} to the "
            "roads is {declared_m} m, but read as {best} only {best_m} m: the coordinate "
            "system is probably wrong. Load the file again as {best} (--coords {code} on the "
            "command line, or --coords auto to let the roads decide).",
        },
    }
)


@dataclass(frozen=True)
class CoordsCheck:
    """The medians of one layer's positions read in each coordinate system.

    Attributes
    ----------
    read_as
        The system the positions were read in (the reader's :class:`ReadAs`).
    medians_m
        ``{system: median off-road leg (m)}`` for each of :data:`COORD_SYSTEMS`; empty when
        nothing was measured (no points, outside China, no roads).
    n_points
        How many points were measured (at most :data:`MAX_SAMPLE`).
    best
        The system with the smallest median (``read_as`` when nothing was measured).
    win_share
        The share of the points nearer the roads in the ``best`` reading than in the next
        best (NaN when nothing was measured).
    strong
        Whether the evidence is strong enough to choose ``best`` (see :func:`decide`).
    reason
        Why not, when not strong: ``"few_points"``, ``"no_roads"``, ``"unclear"`` or
        ``"outside_china"``; None when strong.
    """

    read_as: str
    medians_m: dict[str, float]
    n_points: int
    best: str
    win_share: float
    strong: bool
    reason: str | None

    def ranked(self) -> list[str]:
        """The systems from the nearest to the roads to the farthest."""
        return sorted(self.medians_m, key=lambda s: (self.medians_m[s], COORD_SYSTEMS.index(s)))


def sample_indices(n: int, max_points: int = MAX_SAMPLE) -> np.ndarray:
    """At most ``max_points`` indices evenly spread over ``range(n)`` (deterministic: the
    same file gives the same answer)."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def measure_coords(
    lon: np.ndarray,
    lat: np.ndarray,
    roads: RoadEdges | None,
    *,
    read_as: str,
    network: RoadNetwork | None = None,
    max_points: int = MAX_SAMPLE,
    snapper: RoadSnapper | None = None,
) -> CoordsCheck:
    """Median off-road legs of points read as each coordinate system, and the decision.

    Parameters
    ----------
    lon, lat
        WGS84 degrees of the points as the reader converted them from ``read_as``.
    roads
        The study area's road segments (EPSG:4326); ignored when ``network`` is given.
    read_as
        The system the reader took the file's numbers to be in.
    network
        A routing network already built for these roads (the app keeps one): its snapping
        grid over every segment is reused.
    max_points
        At most this many points are measured (see :func:`sample_indices`).
    snapper
        The roads already projected and binned (:class:`RoadSnapper`, shared by the layers
        of one scenario); made from ``roads`` or ``network`` when not given.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    keep = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[keep], lat[keep]
    idx = sample_indices(len(lon), max_points)
    lon, lat = lon[idx], lat[idx]
    n = len(lon)
    if n and out_of_china(lon, lat).all():
        return CoordsCheck(read_as, {}, n, read_as, np.nan, False, "outside_china")
    if n < MIN_POINTS:
        return CoordsCheck(read_as, {}, n, read_as, np.nan, False, "few_points")
    readings = {s: convert_system(lon, lat, read_as, s) for s in COORD_SYSTEMS}
    distances = _offroad_m(readings, snapper or RoadSnapper(roads, network))
    if distances is None:
        return CoordsCheck(read_as, {}, n, read_as, np.nan, False, "no_roads")
    return decide(read_as, distances)


def decide(read_as: str, distances_m: dict[str, np.ndarray]) -> CoordsCheck:
    """Whether the off-road legs (m) of the same points read in each system choose one
    (see the module docstring for the rule)."""
    medians = {s: float(np.median(d)) for s, d in distances_m.items()}
    ranked = sorted(medians, key=lambda s: (medians[s], COORD_SYSTEMS.index(s)))
    best, runner = ranked[0], ranked[1]
    best_m, runner_m = medians[best], medians[runner]
    n_points = len(distances_m[best])
    win_share = float(np.mean(distances_m[best] < distances_m[runner])) if n_points else np.nan
    if n_points < MIN_POINTS:
        reason = "few_points"
    elif not best_m <= MAX_NEAR_ROAD_M:
        reason = "no_roads"
    elif (
        runner_m < MIN_RATIO * best_m
        or runner_m - best_m < MIN_GAIN_M
        or not win_share >= MIN_WIN_SHARE
    ):
        reason = "unclear"
    else:
        reason = None
    return CoordsCheck(read_as, medians, n_points, best, win_share, reason is None, reason)


class RoadSnapper:
    """Off-road legs from points to a study area's roads, for every layer of a scenario.

    The road nodes are projected once into the UTM zone of the roads, and the segments
    binned once into the project's snapping grid (:mod:`mapping.snapgrid`) on the first
    query that needs it; a handful of points (a services file on a small network) is
    snapped by trying every segment instead. With ``network`` the routing network's own
    projection and snapping grid are used (``snap_to="any"``: every segment).

    Parameters
    ----------
    roads
        The road segments (EPSG:4326).
    network
        A routing network already built for them (the app keeps one).
    """

    def __init__(self, roads: RoadEdges | None = None, network: RoadNetwork | None = None):
        self.roads = roads
        self.network = network
        self._ends: tuple[np.ndarray, ...] | None = None
        self._grid = None
        self._to_m: pyproj.Transformer | None = None

    def _project(self) -> None:
        roads = self.roads
        crs = utm_crs(float(np.median(roads.lon)), float(np.median(roads.lat)))
        self._to_m = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        nx, ny = self._to_m.transform(roads.lon, roads.lat)
        self._ends = (nx[roads.u], ny[roads.u], nx[roads.v], ny[roads.v])

    def offroad_m(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray | None:
        """Distance (m) from each point (WGS84 degrees) to the nearest road segment; None
        when there are no roads at all."""
        if self.network is not None:
            x, y = self.network.to_projected(lon, lat)
            return snap_points(self.network, x, y, snap_to="any").offroad_m
        if self.roads is None or self.roads.n_edges == 0:
            return None
        if self._ends is None:
            self._project()
        px, py = self._to_m.transform(np.asarray(lon, float), np.asarray(lat, float))
        every = np.arange(self.roads.n_edges)
        if self._grid is None and len(px) * len(every) <= _BRUTE_PAIRS:
            return nearest_segments_brute(*self._ends, every, px, py)[2]
        if self._grid is None:
            self._grid = build_grid(*self._ends, every)
        return nearest_segments(self._grid, px, py)[2]


def _offroad_m(
    readings: dict[str, tuple[np.ndarray, np.ndarray]], snapper: RoadSnapper
) -> dict[str, np.ndarray] | None:
    """Off-road legs (m) of each reading (snapped together), or None without roads."""
    all_lon = np.concatenate([r[0] for r in readings.values()])
    all_lat = np.concatenate([r[1] for r in readings.values()])
    dist = snapper.offroad_m(all_lon, all_lat)
    if dist is None:
        return None
    out, start = {}, 0
    for system, (lon, _) in readings.items():
        out[system] = dist[start : start + len(lon)]
        start += len(lon)
    return out


def layer_points(layer: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lon, lat, rows)``: the positions of a layer that came from its file, and where.

    Households placed at their village (``located = village``) are left out: their position
    is the village's. Areas count by a point inside them.
    """
    own = np.ones(len(layer), dtype=bool)
    if "located" in layer.columns:
        own = (layer["located"] != "village").to_numpy()
    geoms = layer.geometry.to_numpy()[own]
    geoms = np.array(
        [g if g is None or g.geom_type == "Point" else g.representative_point() for g in geoms],
        dtype=object,
    )
    return shapely.get_x(geoms), shapely.get_y(geoms), np.flatnonzero(own)


def check_layer_coords(
    layer: gpd.GeoDataFrame,
    roads: RoadEdges | None,
    *,
    network: RoadNetwork | None = None,
    snapper: RoadSnapper | None = None,
) -> CoordsCheck | None:
    """:func:`measure_coords` on a layer read from a user's file (None for other layers)."""
    read_as = read_as_of(layer)
    if read_as is None:
        return None
    lon, lat, _ = layer_points(layer)
    return measure_coords(lon, lat, roads, read_as=read_as.system, network=network, snapper=snapper)


def reread_layer(layer: gpd.GeoDataFrame, system: str, *, reason: str = "detected"):
    """A copy of ``layer`` with its file's positions read as ``system`` instead.

    The geometry of the rows that came from the file (not households placed at their
    village) and a villages layer's ``boundary`` are converted; the :class:`ReadAs` says
    ``system`` and ``reason``; notes are kept.
    """
    read_as = read_as_of(layer)
    if read_as is None or read_as.system == system:
        return layer
    out = layer.copy()
    _, _, own = layer_points(layer)
    geoms = layer.geometry.to_numpy().copy()
    geoms[own] = convert_geometries(geoms[own], read_as.system, system)
    out[layer.geometry.name] = gpd.GeoSeries(geoms, index=layer.index, crs=layer.crs)
    if "boundary" in out.columns:
        boundary = out["boundary"].to_numpy()
        out["boundary"] = gpd.GeoSeries(
            convert_geometries(boundary, read_as.system, system), index=layer.index, crs=layer.crs
        )
    out.attrs = dict(layer.attrs)
    set_read_as(out, replace(read_as, system=system, reason=reason))
    return out


def settle_layer_coords(
    layer: gpd.GeoDataFrame,
    roads: RoadEdges | None,
    *,
    what: str,
    auto: bool,
    network: RoadNetwork | None = None,
    snapper: RoadSnapper | None = None,
) -> gpd.GeoDataFrame:
    """A layer read from a user's file, in the coordinate system the roads confirm.

    Parameters
    ----------
    layer
        A households, villages or services layer with a :class:`ReadAs` (others are returned
        as they are).
    roads
        The study area's road segments.
    what
        ``"households"``, ``"villages"`` or ``"services"`` (for the note's wording).
    auto
        True (``--coords auto``, the app's "detect"): re-read the positions in the system
        the roads choose, with a note saying which and how sure (the medians), or a note
        saying why the file's default was kept. False: keep the positions, and add a
        warning when another system fits the roads clearly better.
    network
        A routing network already built for ``roads`` (its snapping grid is reused).
    snapper
        A :class:`RoadSnapper` shared by the layers of one scenario (the roads projected
        and binned once).

    Returns
    -------
    geopandas.GeoDataFrame
        The layer (a converted copy when the system changed), with the note added.
    """
    read_as = read_as_of(layer)
    check = check_layer_coords(layer, roads, network=network, snapper=snapper)
    if read_as is None or check is None:
        return layer
    label = read_as.file
    kept = Phrase(f"coords.system.{read_as.system}")
    what_p = Phrase(f"coords.what.{what}")
    if auto:
        if check.strong:
            ranked = check.ranked()
            note = Note(
                "note.coords.detected",
                {
                    "file": label,
                    "chosen": Phrase(f"coords.system.{ranked[0]}"),
                    "what": what_p,
                    "best_m": _m(check.medians_m[ranked[0]]),
                    "runner": Phrase(f"coords.system.{ranked[1]}"),
                    "runner_m": _m(check.medians_m[ranked[1]]),
                    "third": Phrase(f"coords.system.{ranked[2]}"),
                    "third_m": _m(check.medians_m[ranked[2]]),
                    "n": check.n_points,
                    "share": f"{100 * check.win_share:.0f}",
                },
            )
            out = reread_layer(layer, check.best)
            if out is layer:
                out = layer.copy()
                out.attrs = dict(layer.attrs)
                set_read_as(out, replace(read_as, reason="detected"))
            return add_notes(out, [note])
        params: dict[str, object] = {"file": label, "kept": kept, "what": what_p}
        params["n"], params["min_n"] = check.n_points, MIN_POINTS
        if check.medians_m:
            ranked = check.ranked()
            params.update(
                chosen=Phrase(f"coords.system.{ranked[0]}"),
                best_m=_m(check.medians_m[ranked[0]]),
                runner=Phrase(f"coords.system.{ranked[1]}"),
                runner_m=_m(check.medians_m[ranked[1]]),
            )
        elif check.reason == "no_roads":
            params["best_m"] = "-"
        out = layer.copy()
        out.attrs = dict(layer.attrs)
        return add_notes(out, [Note(f"note.coords.{check.reason}", params)])
    if check.strong and check.best != read_as.system:
        warning = Note(
            "warning.coords.looks_wrong",
            {
                "file": label,
                "declared": kept,
                "what": what_p,
                "declared_m": _m(check.medians_m[read_as.system]),
                "best": Phrase(f"coords.system.{check.best}"),
                "best_m": _m(check.medians_m[check.best]),
                "code": check.best,
            },
        )
        out = layer.copy()
        out.attrs = dict(layer.attrs)
        return add_notes(out, [warning])
    return layer


def _m(metres: float) -> str:
    return f"{metres:,.0f}"


def notes_about_coords(layer: gpd.GeoDataFrame) -> list[Note]:
    """The notes :func:`settle_layer_coords` added to ``layer`` (for the app to show apart)."""
    return [n for n in notes_of(layer) if ".coords." in n.key]


__all__ = [
    "CoordsCheck",
    "RoadSnapper",
    "check_layer_coords",
    "decide",
    "layer_points",
    "measure_coords",
    "notes_about_coords",
    "reread_layer",
    "sample_indices",
    "settle_layer_coords",
]
