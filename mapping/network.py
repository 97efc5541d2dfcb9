"""The routing network: road segments as compact sparse arrays, and snapping points to roads.

A :class:`RoadNetwork` is built once per study area and travel mode from
:class:`layers.roads.RoadEdges`. It lives in a local projected CRS (the UTM zone of the area),
so every length is metres. Shortest paths run on scipy CSR matrices with
:func:`scipy.sparse.csgraph.dijkstra` -- about 55x faster than networkx's multi-source
Dijkstra on the same graph (see ``benchmarks/``) -- and the arrays stay small enough for a
county of a million nodes.

Every OSM node of a highway way is a graph node and every consecutive pair a segment, so a
segment is a straight line and snapping onto it is exact. Snapping many points searches a grid
of the segments in numba-compiled loops (:mod:`mapping.snapgrid`); a few points try every
segment with numpy.

**How a snapped point enters and leaves its segment** is one rule, written once in
:meth:`RoadNetwork.along_cost` (and :meth:`Snap.exit_costs`, :meth:`Snap.entry_costs`, which
call it); every search uses it: nearest services (:mod:`mapping.access`), cost pairs
(:mod:`mapping.routing`, for siting, capacity and coverage) and service areas.
A point at position ``t`` of segment (u, v) travels along it to either end, or straight to
another point on the same segment:

* with the segment's direction (either way on a two-way road, and always when walking) the
  leg costs its share of the segment, ``|t_to - t_from|`` x the segment's length or time;
* against a one-way road the leg is allowed only when it is at most :data:`END_TOLERANCE_M`
  long, and it is *walked*, as an off-road leg is (metres, or seconds at walking speed).
  A kindergarten 1 cm up a one-way street from a junction is reached from the junction, not
  round the block: the point stands in the junction, and only snapping put it a hair inside;
* a leg of length 0 (a point exactly at a segment end leaving by that end) is always allowed.

Vehicles route on the largest *strongly* connected piece (see :func:`build_network`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from layers import i18n
from layers.coords import utm_crs
from layers.errors import NoDataError
from layers.roads import HIGHWAY_CLASSES, MODE_BITS, RoadEdges
from mapping.settings import AnalysisSettings
from mapping.snapgrid import SegmentGrid, build_grid, nearest_segments, nearest_segments_brute

i18n.register(
    {
        "error.network.no_roads_for_mode": {
            "zh": "道路数据中没有可供“{mode}”通行的道路（共 {n_all} 段道路）。"
            "请换一种出行方式，或使用包含道路的 OSM 数据。",
            "en": "The road data has no roads usable for '{mode}' ({n_all} road segments in "
            "all). Choose another travel mode, or use an OSM extract that has roads.",
        },
    }
)


#: Longest leg (m) along a segment *against* its one-way direction that a snapped point may
#: take to or from a segment end or another point on the segment, walked (see the module
#: docstring). A point this near a junction stands in the junction: 1 m is less than half the
#: width of any road, and far more than the precision of OSM coordinates (1e-7 degrees, about
#: 1 cm) and the rounding of snapping.
END_TOLERANCE_M = 1.0

#: Up to this many point-segment pairs, snapping tries every segment (numpy, about 30 ns a
#: pair: at most ~8 ms) rather than the compiled grid search. The demo's layers (at most
#: 45 points on 2,500 segments) stay below it, so a first start never waits for numba to
#: compile the grid's loops (a few seconds, once per machine; then cached on disk).
BRUTE_FORCE_PAIRS = 250_000


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A routable road network for one travel mode, in a projected CRS (metres).

    Attributes
    ----------
    mode
        The travel mode it was built for.
    crs
        The projected CRS of ``x``/``y`` (a UTM zone).
    node_id, x, y
        OSM node id and position (metres) of each node.
    seg_u, seg_v, seg_len_m, seg_time_s, seg_fwd, seg_bwd, seg_highway, seg_way_id
        The road segments (one per consecutive node pair of an OSM way), their length (m),
        travel time (s) at the mode's speed for their highway class, whether they may be
        travelled u->v (``fwd``) and v->u (``bwd``), highway code, and OSM way id.
    graph_len, graph_time
        Directed N x N CSR matrices of the segments, weights metres and seconds; where several
        segments join the same two nodes the *minimum* is kept (``csr_matrix`` would add them).
    rgraph_len, rgraph_time
        The same, reversed (for searches *towards* services).
    component, main_component
        Connected piece of each node and the label of the largest: for walking the weakly
        connected pieces (roads taken both ways); for vehicles the *strongly* connected ones
        (every node of a piece can reach every other), as osmnx's
        ``largest_component(strongly=True)``, so a one-way dead-end spur, which a car can
        enter but never leave, is not part of the main piece. A network without any cycle
        (no strongly connected piece holds a road) keeps the weak pieces.
    walk_speed_kmh
        The speed of off-road legs.
    """

    mode: str
    crs: pyproj.CRS
    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_len_m: np.ndarray
    seg_time_s: np.ndarray
    seg_fwd: np.ndarray
    seg_bwd: np.ndarray
    seg_highway: np.ndarray
    seg_way_id: np.ndarray
    graph_len: sp.csr_matrix
    graph_time: sp.csr_matrix
    rgraph_len: sp.csr_matrix
    rgraph_time: sp.csr_matrix
    component: np.ndarray
    main_component: int
    walk_speed_kmh: float
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_id)

    @property
    def n_segments(self) -> int:
        return len(self.seg_u)

    def seg_cost(self, metric: str) -> np.ndarray:
        """Per-segment cost for ``metric`` (``"len"``: metres, ``"time"``: seconds)."""
        return self.seg_len_m if metric == "len" else self.seg_time_s

    def rgraph(self, metric: str) -> sp.csr_matrix:
        """The reversed graph for ``metric``."""
        return self.rgraph_len if metric == "len" else self.rgraph_time

    def graph(self, metric: str) -> sp.csr_matrix:
        """The forward graph for ``metric``."""
        return self.graph_len if metric == "len" else self.graph_time

    def offroad_cost(self, offroad_m: np.ndarray, metric: str) -> np.ndarray:
        """Cost of straight off-road legs: metres, or seconds at walking speed."""
        if metric == "len":
            return offroad_m
        return offroad_m / (self.walk_speed_kmh / 3.6)

    def _with_direction(self, seg: np.ndarray, toward_v: np.ndarray) -> np.ndarray:
        """Whether segment ``seg`` may be travelled towards its ``v`` end (else its ``u``)."""
        return np.where(toward_v, self.seg_fwd[seg], self.seg_bwd[seg])

    def _leg_cost(
        self, length_m: np.ndarray, with_direction: np.ndarray, road_cost, metric: str
    ) -> np.ndarray:
        """The rule itself, on legs already measured: ``road_cost`` (their share of the
        segment's cost) where they go with the segment's direction, else walked when at most
        :data:`END_TOLERANCE_M` long, else ``inf``."""
        walkable = length_m <= END_TOLERANCE_M
        if metric == "len":  # road_cost is length_m
            return np.where(with_direction | walkable, length_m, np.inf)
        walked = np.where(walkable, self.offroad_cost(length_m, metric), np.inf)
        return np.where(with_direction, road_cost, walked)

    def along_cost(self, seg: np.ndarray, t_from, t_to, metric: str) -> np.ndarray:
        """Cost of the leg along segment ``seg`` from position ``t_from`` to ``t_to``.

        The one rule for how a snapped point enters and leaves its segment (see the module
        docstring): with the segment's direction the leg costs ``|t_to - t_from|`` x the
        segment's cost; against a one-way it is walked when at most :data:`END_TOLERANCE_M`
        long and not allowed (``inf``) when longer; a leg of length 0 costs 0.

        Parameters
        ----------
        seg
            Segment indices.
        t_from, t_to
            Positions along the segments (0 at ``seg_u``, 1 at ``seg_v``), arrays or scalars.
        metric
            ``len`` (metres) or ``time`` (seconds).

        Returns
        -------
        numpy.ndarray
            Metres or seconds per leg, ``inf`` where the leg is not allowed.
        """
        dt = np.subtract(t_to, t_from)
        frac = np.abs(dt)
        length_m = frac * self.seg_len_m[seg]
        road = length_m if metric == "len" else frac * self.seg_cost(metric)[seg]
        return self._leg_cost(length_m, self._with_direction(seg, dt > 0), road, metric)

    def end_leg_costs(
        self, seg: np.ndarray, t: np.ndarray, metric: str, *, leaving: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Costs of the legs between positions ``t`` of segments ``seg`` and the segments'
        ``u`` and ``v`` ends: ``(u leg, v leg)``, from the points to the ends when
        ``leaving``, else from the ends to the points.

        The same numbers as :meth:`along_cost` to or from ``t = 0`` and ``t = 1``, with each
        segment's arrays read once (every household's search answer reads these).
        """
        seg_len = self.seg_len_m[seg]
        len_u, len_v = t * seg_len, (1.0 - t) * seg_len
        # leaving towards u travels v->u (bwd); entering from u travels u->v (fwd)
        fwd, bwd = self.seg_fwd[seg], self.seg_bwd[seg]
        dir_u, dir_v = (bwd, fwd) if leaving else (fwd, bwd)
        if metric == "len":
            road_u, road_v = len_u, len_v
        else:
            cost = self.seg_cost(metric)[seg]
            road_u, road_v = t * cost, (1.0 - t) * cost
        return (
            self._leg_cost(len_u, dir_u, road_u, metric),
            self._leg_cost(len_v, dir_v, road_v, metric),
        )

    def along_reach_m(self, seg: np.ndarray, toward_v: np.ndarray) -> np.ndarray:
        """The longest leg (m) along segment ``seg`` towards its ``v`` end (``toward_v``) or
        its ``u`` end that :meth:`along_cost` allows: the whole segment with its direction,
        :data:`END_TOLERANCE_M` against it."""
        length_m = self.seg_len_m[seg]
        ok = self._with_direction(seg, toward_v)
        return np.where(ok, length_m, np.minimum(length_m, END_TOLERANCE_M))

    def to_projected(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project WGS84 lon/lat (degrees) into the network's CRS (metres)."""
        tr = self._transformer("EPSG:4326", self.crs)
        return tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))

    def project_points(self, gdf) -> tuple[np.ndarray, np.ndarray]:
        """Project a point layer (EPSG:4326) into the network's CRS: ``(x, y)`` in metres."""
        if len(gdf) == 0:
            return np.array([], dtype=float), np.array([], dtype=float)
        geoms = np.asarray(gdf.geometry.values)  # shapely's own accessors: 3x faster than .x
        return self.to_projected(shapely.get_x(geoms), shapely.get_y(geoms))

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unproject network coordinates (metres) to WGS84 lon/lat (degrees)."""
        tr = self._transformer(self.crs, "EPSG:4326")
        return tr.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def _transformer(self, src, dst) -> pyproj.Transformer:
        # made once per network (0.25 ms each time otherwise); thread safe since pyproj 3.1
        key = ("transformer", str(src), str(dst))
        if key not in self._cache:
            self._cache[key] = pyproj.Transformer.from_crs(src, dst, always_xy=True)
        return self._cache[key]

    def snap_candidates(self, snap_to: str) -> np.ndarray:
        """Indices of the segments points may snap to (``largest`` or ``any``), cached."""
        key = ("snap_candidates", snap_to)
        if key not in self._cache:
            if snap_to == "largest":
                main = self.component == self.main_component
                cand = np.flatnonzero(main[self.seg_u] & main[self.seg_v])
            else:
                cand = np.arange(self.n_segments)
            self._cache[key] = cand
        return self._cache[key]

    def segment_ends(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(ax, ay, bx, by)``: both ends of every segment (m), cached."""
        if "segment_ends" not in self._cache:
            self._cache["segment_ends"] = tuple(
                np.ascontiguousarray(a)
                for a in (
                    self.x[self.seg_u],
                    self.y[self.seg_u],
                    self.x[self.seg_v],
                    self.y[self.seg_v],
                )
            )
        return self._cache["segment_ends"]

    def snap_index(self, snap_to: str) -> SegmentGrid:
        """The grid of segments points may snap to (see :mod:`mapping.snapgrid`), built once
        per network and ``snap_to``."""
        key = ("snap_grid", snap_to)
        if key not in self._cache:
            self._cache[key] = build_grid(*self.segment_ends(), self.snap_candidates(snap_to))
        return self._cache[key]


def build_network(
    roads: RoadEdges,
    settings: AnalysisSettings | None = None,
    *,
    crs: pyproj.CRS | str | None = None,
) -> RoadNetwork:
    """Build the routing network of one travel mode.

    Parameters
    ----------
    roads
        Road segments in lon/lat (from :func:`layers.osm.read_osm` or the online download).
    settings
        Travel mode and speeds (defaults: :class:`mapping.settings.AnalysisSettings`).
    crs
        Projected CRS to work in; by default the UTM zone of the roads' centre.

    Returns
    -------
    RoadNetwork
        The segments the mode may use, with lengths (m) and times (s).

    Raises
    ------
    NoDataError
        When no segment may be used by the mode.
    """
    settings = settings or AnalysisSettings()
    mode = settings.mode
    keep = (roads.modes & MODE_BITS[mode]) != 0
    keep &= roads.u != roads.v  # a node repeated in a way is not a road
    if not keep.any():
        raise NoDataError("error.network.no_roads_for_mode", mode=mode, n_all=roads.n_edges)
    sub = roads.subset(keep)
    if crs is None:
        crs = utm_crs(float(np.mean(sub.lon)), float(np.mean(sub.lat)))
    crs = pyproj.CRS.from_user_input(crs)
    tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tr.transform(sub.lon, sub.lat)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    u, v = sub.u, sub.v
    length = np.hypot(x[v] - x[u], y[v] - y[u])
    speeds = settings.class_speeds_kmh()
    speed_by_code = np.array([speeds[h] for h in HIGHWAY_CLASSES], dtype=np.float64) / 3.6
    time_s = length / speed_by_code[sub.highway]
    if mode == "walk":  # pedestrians may walk both ways along one-way streets (as osmnx's walk)
        fwd = np.ones(len(u), dtype=bool)
        bwd = fwd.copy()
    else:
        fwd = sub.oneway >= 0
        bwd = sub.oneway <= 0

    n = sub.n_nodes
    (graph_len, graph_time), (rgraph_len, rgraph_time) = _directed_csr(
        n, u, v, (length, time_s), fwd, bwd
    )
    labels, main = _main_piece(graph_len, strongly=mode != "walk")
    return RoadNetwork(
        mode=mode,
        crs=crs,
        node_id=sub.node_id,
        x=x,
        y=y,
        seg_u=u,
        seg_v=v,
        seg_len_m=length,
        seg_time_s=time_s,
        seg_fwd=fwd,
        seg_bwd=bwd,
        seg_highway=sub.highway,
        seg_way_id=sub.way_id,
        graph_len=graph_len,
        graph_time=graph_time,
        rgraph_len=rgraph_len,
        rgraph_time=rgraph_time,
        component=labels.astype(np.int32),
        main_component=main,
        walk_speed_kmh=settings.walk_speed_kmh,
    )


def _main_piece(graph: sp.csr_matrix, *, strongly: bool) -> tuple[np.ndarray, int]:
    """Connected piece labels of the nodes and the label of the largest (most nodes).

    ``strongly``: the strongly connected pieces, unless the largest of them is a single node
    (a network without any cycle, where no strongly connected piece holds a road): then the
    weak ones, so that points still have roads to snap to.
    """
    if strongly:
        n_comp, labels = connected_components(graph, directed=True, connection="strong")
        sizes = np.bincount(labels, minlength=n_comp)
        main = int(np.argmax(sizes))
        if sizes[main] > 1:
            return labels, main
    n_comp, labels = connected_components(graph, directed=True, connection="weak")
    return labels, int(np.argmax(np.bincount(labels, minlength=n_comp)))


def _directed_csr(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    weights: tuple[np.ndarray, ...],
    fwd: np.ndarray,
    bwd: np.ndarray,
) -> tuple[list[sp.csr_matrix], list[sp.csr_matrix]]:
    """Forward and reversed CSR of the allowed arcs, one per weight (length, time), keeping
    the minimum of parallel arcs.

    Built by hand rather than with ``csr_matrix((w, (u, v)))``, which *sums* duplicate
    entries: two parallel roads of 100 m and 120 m would become one of 220 m.
    """
    src = np.concatenate([u[fwd], v[bwd]])
    dst = np.concatenate([v[fwd], u[bwd]])
    wts = [np.concatenate([w[fwd], w[bwd]]) for w in weights]
    return _min_csr(n, src, dst, wts), _min_csr(n, dst, src, wts)


def _min_csr(
    n: int, src: np.ndarray, dst: np.ndarray, weights: list[np.ndarray]
) -> list[sp.csr_matrix]:
    """One CSR per weight over the same arcs; the arcs are sorted once for all weights."""
    # one int64 key per (src, dst) pair: a single argsort instead of a three-key lexsort,
    # which was ~10x slower on a million-node county
    key = src.astype(np.int64) * n + dst.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    key = key[starts]
    row, col = key // n, key % n
    col = col.astype(np.int32)
    indptr = np.searchsorted(row, np.arange(n + 1)).astype(np.int64)
    out = []
    for wt in weights:
        wmin = np.minimum.reduceat(wt[order], starts) if len(starts) else wt[:0]
        # explicit zeros (two nodes at one position) are kept as edges by csgraph
        out.append(sp.csr_matrix((wmin, col, indptr), shape=(n, n)))
    return out


@dataclass(frozen=True)
class Snap:
    """Where points meet the road network.

    Attributes
    ----------
    seg
        Index of the segment each point snapped to.
    t
        Position along the segment, 0 at ``seg_u`` and 1 at ``seg_v``.
    offroad_m
        Straight distance from the point to the road (m), the off-road leg.
    x, y
        The snapped position on the road (network CRS, m).
    """

    seg: np.ndarray
    t: np.ndarray
    offroad_m: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.seg)

    def exit_costs(self, net: RoadNetwork, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Cost of each point's leg along its segment to the segment's ``u`` end and to its
        ``v`` end (``inf`` where the rule of :meth:`RoadNetwork.along_cost` forbids it)."""
        return net.end_leg_costs(self.seg, self.t, metric, leaving=True)

    def entry_costs(self, net: RoadNetwork, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Cost of the leg along each point's segment from its ``u`` end and from its ``v``
        end to the point (``inf`` where :meth:`RoadNetwork.along_cost` forbids it)."""
        return net.end_leg_costs(self.seg, self.t, metric, leaving=False)

    def take(self, idx: np.ndarray) -> Snap:
        """The snaps of some points."""
        return Snap(self.seg[idx], self.t[idx], self.offroad_m[idx], self.x[idx], self.y[idx])

    @staticmethod
    def concat(snaps: list[Snap]) -> Snap:
        """Several snaps one after the other."""
        return Snap(
            *(
                np.concatenate([getattr(s, f) for s in snaps])
                for f in ("seg", "t", "offroad_m", "x", "y")
            )
        )


def snap_points(
    net: RoadNetwork, x: np.ndarray, y: np.ndarray, *, snap_to: str = "largest"
) -> Snap:
    """Snap projected points to the nearest point on a road segment.

    Parameters
    ----------
    net
        The network.
    x, y
        Point coordinates in ``net.crs`` (metres).
    snap_to
        ``largest``: only segments with both ends in the largest connected piece (strongly
        connected for vehicles, see :class:`RoadNetwork`); ``any``: every segment.

    Returns
    -------
    Snap
        Segment, position along it and the off-road leg (m) of every point.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) == 0:
        empty = np.array([], dtype=np.float64)
        return Snap(np.array([], dtype=np.int64), empty, empty, empty, empty)
    cand = net.snap_candidates(snap_to)
    if len(x) * len(cand) <= BRUTE_FORCE_PAIRS and (("snap_grid", snap_to) not in net._cache):
        seg, t, off, sx, sy = nearest_segments_brute(*net.segment_ends(), cand, x, y)
    else:
        seg, t, off, sx, sy = nearest_segments(net.snap_index(snap_to), x, y)
    if (seg < 0).any():  # the layers' checks keep such points out: this is a bug if reached
        raise ValueError(f"{int((seg < 0).sum())} points without coordinates cannot be snapped")
    return Snap(seg=seg, t=t, offroad_m=off, x=sx, y=sy)
