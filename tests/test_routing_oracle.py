"""Our routing against an independent oracle: networkx on the same roads, points as nodes.

The oracle knows nothing of our CSR graphs, virtual nodes, tiles or entry/exit helpers. It
builds a networkx multigraph of the same roads (lengths from the node positions in metres,
times from the same class speeds), inserts each snapped point as a node by splitting its
segment, and takes one Dijkstra per (point, service) pair. The rule for legs against a
one-way road (walked when at most ``END_TOLERANCE_M`` long, see :mod:`mapping.network`) is a
modelling choice, so the oracle states it again in its own way: as extra walking arcs from
the point to its segment's ends (and into the service from its segment's ends). The largest
piece is networkx's own (strongly connected for vehicles). The snaps are ours, but each is
checked to be a nearest point on a road of that piece (brute force over every segment).

Compared: every household's and village's distance, time and nearest service
(:func:`mapping.analysis.run_analysis`), the incremental what-if (:func:`mapping.access.add_services`),
and the cost pairs that siting, capacity and coverage use
(:func:`mapping.routing.compute_cost_pairs` with a limit, with ``below``/``node_bound``, and
:func:`mapping.routing.iter_source_searches`); exact to 1 mm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from layers.errors import NoDataError
from layers.roads import MODE_BITS
from mapping import access as access_mod
from mapping import routing
from mapping.access import access_table, add_services, point_costs, prepare_access, search_services
from mapping.analysis import run_analysis
from mapping.network import END_TOLERANCE_M, Snap, build_network
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests import netbuild
from tests.netbuild import ALL, UTM

MM = 1e-3
KIND = "kindergarten"
MODES = ("walk", "motorbike", "car")


# --------------------------------------------------------------------------------------------
# the oracle


@dataclass(frozen=True)
class _Seg:
    a: int
    b: int
    len_m: float
    time_s: float
    fwd: bool
    bwd: bool


@dataclass(frozen=True)
class _Point:
    """A point on the oracle's roads: segment key, position from ``a`` (0-1), off-road m."""

    key: tuple[int, int, int]
    t: float
    off_m: float


class Oracle:
    """Shortest trips on a networkx multigraph of the roads, points inserted as nodes."""

    def __init__(self, nodes: dict, ways: list, mode: str):
        st_ = AnalysisSettings(mode=mode)
        speed = st_.class_speeds_kmh()
        self.walk_mps = st_.walk_speed_kmh / 3.6
        self.nodes = nodes
        self.segs: dict[tuple[int, int, int], _Seg] = {}
        self.G = nx.MultiDiGraph()
        for way in ways:
            wid, refs, hw = way[0], way[1], way[2]
            oneway = way[3] if len(way) > 3 else 0
            modes = way[4] if len(way) > 4 else ALL
            if not modes & MODE_BITS[mode]:
                continue
            for a, b in zip(refs[:-1], refs[1:], strict=True):
                if a == b:
                    continue
                length = math.dist(nodes[a], nodes[b])
                seg = _Seg(
                    a,
                    b,
                    length,
                    length / (speed[hw] / 3.6),
                    mode == "walk" or oneway >= 0,
                    mode == "walk" or oneway <= 0,
                )
                key = (wid, a, b)
                self.segs[key] = seg
                if seg.fwd:
                    self.G.add_edge(a, b, key=key, len=seg.len_m, time=seg.time_s)
                if seg.bwd:
                    self.G.add_edge(b, a, key=key, len=seg.len_m, time=seg.time_s)

    # -- pieces and snapping ------------------------------------------------------------------

    def largest_pieces(self, strongly: bool) -> list[set]:
        """The largest pieces (node sets; several when sizes tie): strongly connected for
        vehicles unless no strongly connected piece holds a road, else weakly connected."""
        if strongly:
            comps = [set(c) for c in nx.strongly_connected_components(self.G)]
            big = max(len(c) for c in comps)
            if big > 1:
                return [c for c in comps if len(c) == big]
        comps = [set(c) for c in nx.weakly_connected_components(self.G)]
        big = max(len(c) for c in comps)
        return [c for c in comps if len(c) == big]

    def seg_keys_in(self, nodes: set | None) -> list[tuple[int, int, int]]:
        return [k for k, s in self.segs.items() if nodes is None or {s.a, s.b} <= nodes]

    def distance_to_segment(self, xy, key) -> float:
        s = self.segs[key]
        (ax, ay), (bx, by) = self.nodes[s.a], self.nodes[s.b]
        dx, dy = bx - ax, by - ay
        t = min(1.0, max(0.0, ((xy[0] - ax) * dx + (xy[1] - ay) * dy) / (dx * dx + dy * dy)))
        return math.hypot(xy[0] - (ax + t * dx), xy[1] - (ay + t * dy))

    def point_of(self, net, snap: Snap, i: int) -> _Point:
        """Our snap ``i`` as an oracle point (the same segment, t measured from its ``a``)."""
        seg = int(snap.seg[i])
        wid = int(net.seg_way_id[seg])
        u, v = int(net.node_id[net.seg_u[seg]]), int(net.node_id[net.seg_v[seg]])
        t = float(snap.t[i])
        if (wid, u, v) in self.segs:
            return _Point((wid, u, v), t, float(snap.offroad_m[i]))
        return _Point((wid, v, u), 1.0 - t, float(snap.offroad_m[i]))

    def check_snap(self, net, snap: Snap, xy: list, allowed: list) -> list[_Point]:
        """Each snap is a nearest point on a segment of ``allowed``; the oracle points."""
        out = []
        for i, p in enumerate(xy):
            pt = self.point_of(net, snap, i)
            assert pt.key in allowed, f"point {i} snapped to a road outside the piece"
            best = min(self.distance_to_segment(p, k) for k in allowed)
            assert pt.off_m == pytest.approx(best, abs=1e-6)
            s = self.segs[pt.key]
            (ax, ay), (bx, by) = self.nodes[s.a], self.nodes[s.b]
            on = (ax + pt.t * (bx - ax), ay + pt.t * (by - ay))
            assert math.dist(p, on) == pytest.approx(pt.off_m, abs=1e-6)
            out.append(pt)
        return out

    # -- trips ----------------------------------------------------------------------------------

    def _walk_arc(self, H, a, b, length_m: float) -> None:
        # a leg against a one-way, walked when short enough (mapping.network's rule)
        if length_m <= END_TOLERANCE_M:
            H.add_edge(a, b, len=length_m, time=length_m / self.walk_mps)

    def graph_with(self, points: dict[str, _Point]):
        """The roads with ``points`` inserted as nodes (their segments split)."""
        H = self.G.copy()
        by_seg: dict = {}
        for name, p in points.items():
            by_seg.setdefault(p.key, []).append((p.t, name))
        for key, items in by_seg.items():
            s = self.segs[key]
            if s.fwd:
                H.remove_edge(s.a, s.b, key=key)
            if s.bwd:
                H.remove_edge(s.b, s.a, key=key)
            chain = [(0.0, s.a), *sorted(items), (1.0, s.b)]
            for (t0, n0), (t1, n1) in zip(chain[:-1], chain[1:], strict=True):
                if s.fwd:
                    H.add_edge(n0, n1, len=(t1 - t0) * s.len_m, time=(t1 - t0) * s.time_s)
                if s.bwd:
                    H.add_edge(n1, n0, len=(t1 - t0) * s.len_m, time=(t1 - t0) * s.time_s)
        return H

    def off(self, off_m: float, metric: str) -> float:
        return off_m if metric == "len" else off_m / self.walk_mps

    def trip(self, p: _Point, q: _Point, metric: str) -> float:
        """Shortest trip from point ``p`` to service ``q``, off-road legs included."""
        H = self.graph_with({"P": p, "Q": q})
        sp_, sq = self.segs[p.key], self.segs[q.key]
        if not sp_.bwd:  # leaving p towards a is against the one-way
            self._walk_arc(H, "P", sp_.a, p.t * sp_.len_m)
        if not sp_.fwd:
            self._walk_arc(H, "P", sp_.b, (1.0 - p.t) * sp_.len_m)
        if not sq.fwd:  # entering q from a travels towards b
            self._walk_arc(H, sq.a, "Q", q.t * sq.len_m)
        if not sq.bwd:
            self._walk_arc(H, sq.b, "Q", (1.0 - q.t) * sq.len_m)
        if p.key == q.key and (q.t == p.t or not (sp_.fwd if q.t > p.t else sp_.bwd)):
            # straight along the segment against the one-way (or nowhere: at the same place)
            self._walk_arc(H, "P", "Q", abs(q.t - p.t) * sp_.len_m)
        try:
            road = nx.dijkstra_path_length(H, "P", "Q", weight=metric)
        except nx.NetworkXNoPath:
            return math.inf
        return self.off(p.off_m, metric) + road + self.off(q.off_m, metric)

    def from_node(self, node: int, q: _Point) -> float:
        """Shortest trip (m) from a road node to service ``q``."""
        H = self.graph_with({"Q": q})
        sq = self.segs[q.key]
        if not sq.fwd:
            self._walk_arc(H, sq.a, "Q", q.t * sq.len_m)
        if not sq.bwd:
            self._walk_arc(H, sq.b, "Q", (1.0 - q.t) * sq.len_m)
        try:
            return nx.dijkstra_path_length(H, node, "Q", weight="len") + q.off_m
        except nx.NetworkXNoPath:
            return math.inf


# --------------------------------------------------------------------------------------------
# running ours and the oracle on one case


@dataclass
class Case:
    nodes: dict[int, tuple[float, float]]
    ways: list
    households: dict[str, tuple[float, float]]
    villages: dict[str, tuple[float, float]]
    services: dict[str, tuple[float, float]]


def analyse(case: Case, mode: str, snap_to: str):
    road_edges = netbuild.roads(case.nodes, case.ways)
    settings_ = AnalysisSettings(
        mode=mode, kinds=(KIND,), thresholds_m={KIND: 1000.0}, snap_to=snap_to
    )
    net = build_network(road_edges, settings_, crs=UTM)
    sc = Scenario(
        roads=road_edges,
        villages=netbuild.villages(case.villages, names=list(case.villages)),
        households=netbuild.households(case.households, children=[1] * len(case.households)),
        services=netbuild.services({k: (KIND, x, y) for k, (x, y) in case.services.items()}),
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )
    return run_analysis(sc, settings_, network=net)


def nearest(costs: np.ndarray) -> tuple[float, int | None]:
    """The smallest cost and its index, None when there is no clear winner (a tie)."""
    order = np.argsort(costs, kind="stable")
    best = float(costs[order[0]])
    if not np.isfinite(best):
        return best, None
    tie = len(costs) > 1 and costs[order[1]] - best < 1e-6
    return best, None if tie else int(order[0])


def check_case(case: Case, mode: str, snap_to: str = "largest", tile_m: float = 4500.0) -> dict:
    """Compare everything against the oracle; returns the oracle's distances for pencil checks."""
    a = analyse(case, mode, snap_to)
    net = a.network
    orc = Oracle(case.nodes, case.ways, mode)

    # the piece points snap to: one of networkx's largest, and only its roads
    if snap_to == "largest":
        ours = {int(i) for i in net.node_id[net.component == net.main_component]}
        pieces = orc.largest_pieces(strongly=mode != "walk")
        assert ours in pieces
        allowed = orc.seg_keys_in(ours)
    else:
        allowed = orc.seg_keys_in(None)
    hh_pts = orc.check_snap(net, a.hh_snap, list(case.households.values()), allowed)
    vil_pts = orc.check_snap(net, a.vil_snap, list(case.villages.values()), allowed)
    acc = a.access[KIND]
    svc_snap = acc.dist.svc_snap
    svc_pts = orc.check_snap(net, svc_snap, list(case.services.values()), allowed)
    svc_ids = list(acc.services.index)

    dist = {
        m: np.array([[orc.trip(p, q, m) for q in svc_pts] for p in hh_pts + vil_pts]).reshape(
            len(hh_pts) + len(vil_pts), len(svc_pts)
        )
        for m in ("len", "time")
    }
    n_hh = len(hh_pts)

    # nearest service of every household and village: distance, time, which one, reachable
    hh = a.households
    for i, hid in enumerate(case.households):
        want, who = nearest(dist["len"][i])
        got = hh.loc[hid, f"dist_{KIND}_m"]
        if np.isfinite(want):
            assert got == pytest.approx(want, abs=MM), f"household {hid}"
            assert hh.loc[hid, f"time_{KIND}_min"] == pytest.approx(
                dist["time"][i].min() / 60.0, abs=1e-6
            )
            assert hh.loc[hid, f"reachable_{KIND}"]
            if who is not None:
                assert hh.loc[hid, f"nearest_{KIND}_id"] == svc_ids[who]
        else:
            assert np.isnan(got) and not hh.loc[hid, f"reachable_{KIND}"]
            assert hh.loc[hid, f"unreachable_{KIND}"] == "not_connected"
    for j, vid in enumerate(case.villages):
        want, _ = nearest(dist["len"][n_hh + j])
        got = a.villages.loc[vid, f"dist_{KIND}_m"]
        if np.isfinite(want):
            assert got == pytest.approx(want, abs=MM), f"village {vid}"
        else:
            assert np.isnan(got)

    # the what-if: the last service added to the others, both searches
    if len(svc_pts) > 1:
        snaps = Snap.concat([a.hh_snap, a.vil_snap])
        points = pd.concat([a.scenario.households, a.scenario.villages])
        svc = acc.services
        for limit in (-1, 10**9):  # the pruned search, and one scipy search
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(access_mod, "PRUNED_SEARCH_MIN_NODES", limit)
                base = prepare_access(net, svc.iloc[:-1], KIND, snap_to=snap_to)
                added = add_services(net, base, svc.iloc[-1:], snap_to=snap_to)
            got = access_table(net, added, points, snaps)[f"dist_{KIND}_m"].to_numpy()
            want = dist["len"].min(axis=1)
            np.testing.assert_allclose(
                np.nan_to_num(got, nan=-1), np.where(np.isfinite(want), want, -1), atol=MM
            )

    # cost pairs (siting, capacity, coverage), with local searches on tiles of ``tile_m``
    pts = Snap.concat([a.hh_snap, a.vil_snap])
    full = dist["len"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(routing, "TILE_M", tile_m)
        finite = full[np.isfinite(full)]
        limits = [np.inf, *([float(np.median(finite)) + 0.37] if len(finite) else [])]
        for limit in limits:
            pairs = routing.compute_cost_pairs(net, svc_snap, pts, limit=limit)
            assert_pairs(pairs, full, lambda c, lim=limit: c <= lim, limit)
        # the distance objective: only pairs better than the nearest of some existing services
        if len(svc_pts) > 1:
            existing = svc_snap.take(np.arange(len(svc_pts) // 2 + 1))
            search = search_services(net, existing, "len")
            below, _ = point_costs(net, search, pts)
            below = np.where(np.isfinite(below), below, 1e6)
            np.testing.assert_allclose(
                np.minimum(below, 1e6),
                np.minimum(full[:, : len(existing)].min(axis=1), 1e6),
                atol=MM,
            )
            cand = svc_snap.take(np.arange(len(existing), len(svc_pts)))
            pairs = routing.compute_cost_pairs(
                net, cand, pts, below=below, node_bound=search.node_cost
            )
            rest = full[:, len(existing) :]
            assert_pairs(pairs, rest, lambda c: c < below[:, None], below)

        # per-node costs to each service (service areas)
        for idx, node_cost in routing.iter_source_searches(net, svc_snap):
            for r, j in enumerate(idx):
                want = [orc.from_node(int(nid), svc_pts[j]) for nid in net.node_id]
                np.testing.assert_allclose(node_cost[r], want, atol=MM)
    return {"len": full, "time": dist["time"], "analysis": a}


def assert_pairs(pairs, full: np.ndarray, keep, bound) -> None:
    """The pairs are the cells of ``full`` that ``keep`` selects, at the oracle's cost (1 mm),
    ordered by source then point; cells within 1 mm of ``bound`` (one number, or one per
    point) may go either way."""
    got = np.full(full.shape, np.nan)
    got[pairs.point, pairs.source] = pairs.cost
    want_in = keep(full) & np.isfinite(full)
    bnd = np.asarray(bound, dtype=float)
    with np.errstate(invalid="ignore"):
        near = np.abs(full - (bnd[:, None] if bnd.ndim == 1 else bnd)) < MM
    np.testing.assert_array_equal(np.isfinite(got)[~near], want_in[~near])
    both = np.isfinite(got) & want_in
    np.testing.assert_allclose(got[both], full[both], atol=MM)
    order = np.lexsort((pairs.point, pairs.source))
    np.testing.assert_array_equal(order, np.arange(len(order)))


# --------------------------------------------------------------------------------------------
# random small networks


HIGHWAYS = ("residential", "track", "primary", "service")


@st.composite
def cases(draw) -> Case:
    """A small road network on a 25 m lattice (one-way roads, walk-only and vehicle-only
    ways, parallel ways, crossings without a junction), and points on and beside its roads:
    at segment ends, a hair (1 cm, 0.6 m) inside, beyond the tolerance, anywhere."""
    n = draw(st.integers(2, 9))
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, 24), st.integers(0, 24)), min_size=n, max_size=n, unique=True
        )
    )
    nodes = {i + 1: (25.0 * cx, 25.0 * cy) for i, (cx, cy) in enumerate(cells)}
    ids = list(nodes)
    n_ways = draw(st.integers(1, 14))
    ways = []
    for wid in range(1, n_ways + 1):
        a = draw(st.sampled_from(ids))
        b = draw(st.sampled_from([i for i in ids if i != a]))
        oneway = draw(st.sampled_from([0, 0, 1, -1]))
        hw = draw(st.sampled_from(HIGHWAYS))
        modes = (
            ALL
            if wid == 1
            else draw(
                st.sampled_from(
                    [ALL, ALL, ALL, MODE_BITS["walk"], MODE_BITS["car"] | MODE_BITS["motorbike"]]
                )
            )
        )
        ways.append((wid, [a, b], hw, oneway, modes))

    def point():
        wid, refs, *_ = draw(st.sampled_from(ways))
        (ax, ay), (bx, by) = nodes[refs[0]], nodes[refs[1]]
        length = math.dist((ax, ay), (bx, by))
        along = draw(
            st.one_of(
                st.sampled_from([0.0, 0.01, 0.6, 3.0]).map(lambda m: m / length),
                st.sampled_from([0.0, 0.01, 0.6, 3.0]).map(lambda m: 1.0 - m / length),
                st.floats(0.0, 1.0),
            )
        )
        side = draw(st.sampled_from([0.0, 0.0, 0.004, 7.0, 30.0])) * draw(st.sampled_from([1, -1]))
        nx_, ny_ = -(by - ay) / length, (bx - ax) / length
        if draw(st.integers(0, 5)) == 0:  # anywhere in the area
            return (draw(st.floats(-60.0, 660.0)), draw(st.floats(-60.0, 660.0)))
        return (ax + along * (bx - ax) + side * nx_, ay + along * (by - ay) + side * ny_)

    return Case(
        nodes,
        ways,
        {f"h{i}": point() for i in range(draw(st.integers(1, 6)))},
        {f"v{i}": point() for i in range(draw(st.integers(1, 3)))},
        {f"k{i}": point() for i in range(draw(st.integers(1, 4)))},
    )


@pytest.mark.parametrize("mode", MODES)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    case=cases(),
    snap_to=st.sampled_from(["largest", "largest", "any"]),
    tile_m=st.sampled_from([20.0, 150.0, 4500.0]),
)
def test_routing_equals_the_oracle_on_random_networks(mode, case, snap_to, tile_m):
    try:
        check_case(case, mode, snap_to, tile_m)
    except NoDataError:  # no road this mode may use
        assume(False)


# --------------------------------------------------------------------------------------------
# pencil cases: the oracle and ours agree, and both give the number worked out by hand


def test_line_of_five_nodes():
    case = Case(
        nodes={i: (100.0 * i, 0.0) for i in range(5)},
        ways=[(1, [0, 1, 2, 3, 4], "tertiary")],
        households={"h1": (150.0, 30.0), "h2": (0.0, 0.0), "h3": (390.0, -5.0)},
        villages={"v": (250.0, 0.0)},
        services={"k1": (400.0, -20.0), "k2": (10.0, 0.0)},
    )
    for mode in MODES:
        got = check_case(case, mode)["len"]
        # h1: 30 off, 140 along to k2 at x=10 (k1: 30 + 250 + 20 = 300)
        np.testing.assert_allclose(got[0], [300.0, 170.0], atol=MM)
        np.testing.assert_allclose(got[1], [420.0, 10.0], atol=MM)
        np.testing.assert_allclose(got[2], [5.0 + 10.0 + 20.0, 5.0 + 380.0], atol=MM)
        np.testing.assert_allclose(got[3], [170.0, 240.0], atol=MM)


def test_oneway_spur():
    # a two-way square loop with a one-way dead-end spur J(500,0) -> S(500,-400)
    nodes = {1: (0.0, 0.0), 2: (500.0, 0.0), 3: (1000.0, 0.0), 4: (1000.0, 1000.0)}
    nodes |= {5: (0.0, 1000.0), 6: (500.0, -400.0)}
    case = Case(
        nodes=nodes,
        ways=[(1, [1, 2, 3, 4, 5, 1], "residential"), (2, [2, 6], "residential", 1)],
        households={"h": (520.0, -300.0)},
        villages={"v": (500.0, -390.0)},
        services={"k": (0.0, 0.0), "spur": (490.0, -200.0)},
    )
    car = check_case(case, "car")
    # by car everything snaps to the loop (the spur is no way out): h 300 m off at x=520,
    # the service "spur" 200 m off at x=490, the village 390 m off at x=500
    np.testing.assert_allclose(car["len"][0], [300.0 + 520.0, 300.0 + 30.0 + 200.0], atol=MM)
    np.testing.assert_allclose(car["len"][1], [390.0 + 500.0, 390.0 + 10.0 + 200.0], atol=MM)
    walk = check_case(case, "walk")
    # walkers use the spur: h 20 m off it, 300 m up to J, 500 m to k; to "spur" (10 m off the
    # spur at y=-200) 20 + 100 + 10; the village stands on the spur at y=-390
    np.testing.assert_allclose(walk["len"][0], [820.0, 130.0], atol=MM)
    np.testing.assert_allclose(walk["len"][1], [390.0 + 500.0, 190.0 + 10.0], atol=MM)


def test_one_centimetre_up_a_oneway_from_a_junction():
    # H(-1000,0) - J(0,0) two-way; K(0,2000) -> J one-way; loop J - A(2100,0) - B(2100,2000) - K
    nodes = {0: (-1000.0, 0.0), 1: (0.0, 0.0), 2: (0.0, 2000.0), 3: (2100.0, 0.0)}
    nodes[4] = (2100.0, 2000.0)
    ways = [
        (1, [0, 1], "residential"),
        (2, [2, 1], "residential", 1),
        (3, [1, 3, 4, 2], "residential"),
    ]
    case = Case(
        nodes=nodes,
        ways=ways,
        households={"h": (-1000.0, 0.0), "up": (0.0, 0.01)},
        villages={"v": (-500.0, 0.0)},
        services={"k": (0.0, 0.01), "far": (0.0, 5.0)},
    )
    got = check_case(case, "car")["len"]
    # 1 cm walked against the one-way; 5 m is too far to walk: round the loop
    np.testing.assert_allclose(got[0], [1000.01, 1000.0 + 6200.0 + 1995.0], atol=MM)
    np.testing.assert_allclose(got[1], [0.0, 0.01 + 6200.0 + 1995.0], atol=MM)
    np.testing.assert_allclose(got[2], [500.01, 500.0 + 6200.0 + 1995.0], atol=MM)
