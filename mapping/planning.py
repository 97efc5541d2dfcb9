"""Where the next kindergarten (or school) should go: site suggestions on our road network.

Two questions, both with the existing services of the kind kept where they are:

* ``coverage`` (the *maximal covering location problem*, MCLP): which ``k`` sites bring the
  most households (or children) within the threshold? Households already within the
  threshold of an existing service count as covered and do not attract sites.
* ``distance`` (the *p-median problem*): which ``k`` sites make the total (weighted) road
  distance from households to their nearest service, existing or new, the smallest?

Candidate sites are the village points and, optionally, points on a regular grid snapped to
the roads. Distances are measured exactly as :mod:`mapping.access` measures them (a candidate
is a service: both off-road legs, one-way streets, a point on the candidate's own segment
reaching it directly), with one :func:`scipy.sparse.csgraph.dijkstra` call per tile of
candidates from their virtual nodes -- never one search per pair -- over only the part of
the network a useful route can use (a route is never shorter than the straight line, and a
route that improves a household's distance only passes nodes it improves too), and kept as
sparse pairs: for coverage only the pairs within the threshold, for distance only the pairs
that improve on the household's current distance. On a synthetic county (101k nodes, 30k
households, 12.5k candidates; ``python benchmarks/run.py``) this takes about 2.5 s
for coverage and 16 s for distance, against 29 s and 252 s searching the whole network.

Solving: small problems (after merging households that meet the road at the same place and,
for coverage, households that the same candidates cover) are solved *exactly* with PySAL
spopt (``MCLP`` / ``PMedian``) and PuLP's bundled CBC. The existing services enter the
p-median as one predefined facility whose cost is each household's current distance (each
household would use its nearest existing service anyway), and the MCLP needs them only to
drop the households they already cover, which is the same optimum with a smaller model.
spopt builds dense models in Python, so larger problems use a greedy heuristic (vectorised
over sparse pairs, re-summing only the savings an addition changed); the tests compare both
on small cases.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from layers import i18n
from layers.errors import InputError, NoDataError
from mapping.access import with_virtual_sources
from mapping.analysis import Analysis
from mapping.network import RoadNetwork, Snap, snap_points

i18n.register(
    {
        "error.planning.kind": {
            "zh": "分析中没有“{kind}”类服务的距离（已分析：{kinds}）。请在分析时加入这一类型。",
            "en": "The analysis has no distances for '{kind}' (analysed: {kinds}). "
            "Include that kind in the analysis.",
        },
        "error.planning.k": {
            "zh": "新增选址数量应为正整数，收到的是 {k}。",
            "en": "The number of new sites must be a positive whole number; got {k}.",
        },
        "error.planning.choice": {
            "zh": "参数 {name} 的取值“{value}”无效，可选：{choices}。",
            "en": "'{value}' is not a valid {name}; choose one of: {choices}.",
        },
        "error.planning.grid": {
            "zh": "候选点包含网格时须给出网格间距（米，大于 0），收到的是 {grid}。",
            "en": "Grid candidates need a grid spacing in metres greater than 0; got {grid}.",
        },
        "error.planning.no_children": {
            "zh": "按儿童数加权需要住户表中的“children”（儿童数）列，但该列没有任何数值。"
            "请补充儿童数，或改为按户数加权。",
            "en": "Weighting by children needs the households' 'children' column, but it has "
            "no values. Add the number of children, or weight by households.",
        },
        "error.planning.no_candidates": {
            "zh": "没有可用的候选地点：没有村庄点，也没有网格点。请提供村庄数据或设置网格间距。",
            "en": "There are no candidate sites: no village points and no grid points. "
            "Give villages, or a grid spacing.",
        },
    }
)

#: Objectives of :func:`suggest_sites`.
OBJECTIVES = ("coverage", "distance")
#: Candidate sets of :func:`suggest_sites`.
CANDIDATE_SETS = ("villages", "villages+grid")
#: Demand weights of :func:`suggest_sites`.
WEIGHTS = ("households", "children")

#: Largest reduced problem (demand groups x candidates) solved exactly with spopt; spopt
#: builds its PuLP model cell by cell in Python, which takes about 10 s at this size.
EXACT_MAX_CELLS = 150_000

#: Cost (m) of a household that no existing service can reach, in the p-median: far beyond
#: any trip in a county, so that connecting such households comes first.
UNREACHED_PENALTY_M = 1_000_000.0

#: Cells (rows x columns of float64) of one chunk of the candidate searches; the search of a
#: chunk returns a dense chunk x nodes matrix, so this bounds the memory at about 160 MB.
MAX_CHUNK_CELLS = 20_000_000


def _say(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    return progress or (lambda _msg: None)


# --------------------------------------------------------------------------------------------
# costs from many sources to many points


@dataclass(frozen=True)
class CostPairs:
    """Sparse (point, source) costs.

    Attributes
    ----------
    point, source
        Indices into the points and the sources.
    cost
        Cost of the trip from the point to the source (m for ``len``, s for ``time``),
        off-road legs included.
    n_points, n_sources
        Sizes of the two sets.
    """

    point: np.ndarray
    source: np.ndarray
    cost: np.ndarray
    n_points: int
    n_sources: int

    def to_csr(self) -> sp.csr_matrix:
        """Points x sources boolean matrix of the stored pairs (costs may be 0)."""
        return sp.csr_matrix(
            (np.ones(len(self.point), dtype=bool), (self.point, self.source)),
            shape=(self.n_points, self.n_sources),
        )


def iter_source_searches(
    net: RoadNetwork,
    src_snap: Snap,
    metric: str = "len",
    *,
    limit: float = np.inf,
    n_cols: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per-node costs *to* each source, a chunk of sources at a time.

    The sources hang on the reversed graph as virtual nodes exactly as in
    :func:`mapping.access.search_services`, so ``cost[j, node]`` is the trip from ``node`` to
    source ``j`` (its off-road leg included), the same number the nearest-service search gives
    when ``j`` is the only service.

    Parameters
    ----------
    net
        The network.
    src_snap
        Where the sources meet the roads.
    metric
        ``len`` (m) or ``time`` (s).
    limit
        Searches stop at this cost; nodes beyond it get ``inf``.
    n_cols
        Width of the caller's per-chunk work arrays (e.g. the number of points), to size the
        chunks.
    progress
        Optional callable taking a short message.

    Yields
    ------
    tuple
        ``(source indices, costs)`` with costs of shape ``(len(indices), net.n_nodes)``.
    """
    n, k = net.n_nodes, len(src_snap)
    if k == 0:
        return
    say = _say(progress)
    off = net.offroad_cost(src_snap.offroad_m, metric)
    graph = with_virtual_sources(net, src_snap, off, metric)
    chunk = max(1, MAX_CHUNK_CELLS // max(n + k, n_cols, 1))
    for start in range(0, k, chunk):
        idx = np.arange(start, min(k, start + chunk))
        if k > chunk:
            say(f"road searches from sites {start + 1}-{idx[-1] + 1} of {k}")
        dist = dijkstra(graph, directed=True, indices=n + idx, limit=limit)
        yield idx, dist[:, :n]


def compute_cost_pairs(
    net: RoadNetwork,
    src_snap: Snap,
    point_snap: Snap,
    metric: str = "len",
    *,
    limit: float = np.inf,
    below: np.ndarray | None = None,
    node_bound: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> CostPairs:
    """Costs from every point to every source within ``limit``, as sparse pairs.

    The same trip as :func:`mapping.access.point_costs` (the point's off-road leg, the roads
    from either end of its segment or straight along it to a source on the same segment, the
    source's off-road leg), for every pair instead of the nearest source only.

    For ``len`` the searches are local (see :func:`_tile_pairs`): sources are grouped in
    square tiles of :data:`TILE_M`, and each tile searches only the part of the network a kept
    pair's route can use. A route is never shorter than the straight line, so a node farther
    in a line from the tile than ``limit`` (and than ``node_bound``, below) cannot be on the
    route of a kept pair. The kept pairs and their costs are bit for bit those of one search
    over the whole network.

    Parameters
    ----------
    net
        The network.
    src_snap, point_snap
        Where the sources (e.g. candidate sites, services) and the points (households) meet
        the roads.
    metric
        ``len`` (m) or ``time`` (s).
    limit
        Keep pairs costing at most this (inclusive).
    below
        Optional per-point bound: keep a pair only when it costs strictly less.
    node_bound
        Optional per-node cost to the nearest *existing* service (e.g.
        ``analysis.access[kind].dist.node_cost``, ``inf`` where none is reachable), for use
        with ``below`` set to the points' current costs to those services. A pair can then
        beat ``below`` only along a route whose every node the source also brings closer
        than ``node_bound`` (else the point would do as well through that node to the
        existing service), which confines each search to the source's own neighbourhood.
        It is ignored (the searches are then bounded by ``limit`` only) when some point's
        ``below`` exceeds its cost through an end of its segment at ``node_bound``, i.e.
        when the two do not describe the same services.
    progress
        Optional callable taking a short message.

    Returns
    -------
    CostPairs
        The kept pairs, ordered by source then point.
    """
    m = metric
    n_pts, k = len(point_snap), len(src_snap)
    seg, t = point_snap.seg, point_snap.t
    cost_seg = net.seg_cost(m)[seg]
    u, v = net.seg_u[seg], net.seg_v[seg]
    ctx = _PairContext(
        net=net,
        metric=m,
        src_snap=src_snap,
        point_snap=point_snap,
        src_off=net.offroad_cost(src_snap.offroad_m, m),
        u=u,
        v=v,
        ok_u=net.seg_bwd[seg] | (t == 0.0),
        ok_v=net.seg_fwd[seg] | (t == 1.0),
        along_u=t * cost_seg,
        along_v=(1.0 - t) * cost_seg,
        p_off=net.offroad_cost(point_snap.offroad_m, m),
        limit=float(limit),
        bound=np.full(n_pts, np.inf) if below is None else np.asarray(below, dtype=float),
        same=_same_segment_pairs(net, src_snap, point_snap, m),
    )
    empty_i = np.array([], dtype=np.int64)
    if k == 0 or n_pts == 0:
        return CostPairs(empty_i, empty_i, np.array([]), n_pts, k)
    if m == "len":
        node_lim = np.full(net.n_nodes, ctx.limit)
        if node_bound is not None and _bound_is_consistent(ctx, node_bound):
            node_lim = np.minimum(node_lim, np.asarray(node_bound, dtype=float))
        pt_lim = np.minimum(ctx.limit, ctx.bound)
        parts = _tile_pairs(ctx, node_lim, pt_lim, progress)
    else:
        # a trip's time has no straight-line lower bound here (speeds vary): whole network
        parts = [
            ctx.pairs_from(idx, node_cost, None, np.arange(n_pts))
            for idx, node_cost in iter_source_searches(
                net, src_snap, m, limit=limit, n_cols=n_pts, progress=progress
            )
        ]
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return CostPairs(empty_i, empty_i, np.array([]), n_pts, k)
    srcs = np.concatenate([p[0] for p in parts]).astype(np.int64)
    pts = np.concatenate([p[1] for p in parts]).astype(np.int64)
    costs = np.concatenate([p[2] for p in parts])
    # the order of one search over all sources (by source, then point): greedy sums over the
    # pairs in this order, so equal inputs give equal sums to the last bit. Each source's
    # pairs come from one search, in point order already: place them, no sort needed
    first = np.flatnonzero(np.concatenate([[True], srcs[1:] != srcs[:-1]]))
    rank = np.arange(len(srcs)) - np.repeat(first, np.diff(np.append(first, len(srcs))))
    start = np.concatenate([[0], np.cumsum(np.bincount(srcs, minlength=k))[:-1]])
    at = start[srcs] + rank
    out_pts, out_srcs, out_costs = np.empty_like(pts), np.empty_like(srcs), np.empty_like(costs)
    out_pts[at], out_srcs[at], out_costs[at] = pts, srcs, costs
    return CostPairs(out_pts, out_srcs, out_costs, n_pts, k)


#: Side (m) of the square tiles sources are grouped in for the local searches of
#: :func:`compute_cost_pairs`: smaller tiles search less of the network per source but pay
#: more per-tile overhead; 2 km measured best on a synthetic county (benchmarks/planning.py).
TILE_M = 4500.0

#: Slack (m) on the straight-line lower bound of a route, for rounding: a route's length is
#: a sum of rounded segment lengths and may fall short of the straight line by far less.
_LINE_SLACK_M = 1e-3


@dataclass(frozen=True)
class _PairContext:
    """Per-point and per-source arrays shared by the searches of :func:`compute_cost_pairs`."""

    net: RoadNetwork
    metric: str
    src_snap: Snap
    point_snap: Snap
    src_off: np.ndarray
    u: np.ndarray
    v: np.ndarray
    ok_u: np.ndarray
    ok_v: np.ndarray
    along_u: np.ndarray
    along_v: np.ndarray
    p_off: np.ndarray
    limit: float
    bound: np.ndarray
    same: dict[str, np.ndarray]

    def pairs_from(
        self,
        idx: np.ndarray,
        node_cost: np.ndarray,
        local: np.ndarray | None,
        pts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Kept (source, point, cost) of sources ``idx`` and points ``pts``.

        ``node_cost`` holds each source's cost from the nodes (columns); ``local`` maps
        network nodes to those columns (-1: not searched, cost ``inf``), None when the columns
        are the network's nodes. Same arithmetic, in the same order, as one search over the
        whole network, so the costs are equal to the last bit.
        """
        u, v = self.u[pts], self.v[pts]
        if local is not None:
            node_cost = np.hstack([node_cost, np.full((len(idx), 1), np.inf)])
            u, v = local[u], local[v]  # -1 reads the inf column
        with np.errstate(invalid="ignore"):
            via_v = np.where(self.ok_v[pts], self.along_v[pts] + node_cost[:, v], np.inf)
            via_u = np.where(self.ok_u[pts], self.along_u[pts] + node_cost[:, u], np.inf)
        best = np.minimum(via_u, via_v)
        del via_u, via_v
        same = self.same
        sel = np.isin(same["source"], idx)
        if sel.any():
            row = np.full(len(self.src_snap), -1, dtype=np.int64)
            row[idx] = np.arange(len(idx))
            col = np.full(len(self.point_snap), -1, dtype=np.int64)
            col[pts] = np.arange(len(pts))
            r, c = row[same["source"][sel]], col[same["point"][sel]]
            ok = c >= 0
            r, c, sc = r[ok], c[ok], same["cost"][sel][ok]
            best[r, c] = np.minimum(best[r, c], sc)
        total = best + self.p_off[pts]
        keep = (total <= self.limit) & (total < self.bound[pts])
        r, c = np.nonzero(keep)
        return idx[r], pts[c], total[r, c]


def _bound_is_consistent(ctx: _PairContext, node_bound: np.ndarray) -> bool:
    """Whether every point's ``below`` is at most its cost through its segment ends at the
    node bound (as :func:`mapping.access.point_costs` computes it): the condition under which
    ``node_bound`` may confine the searches."""
    nb = np.asarray(node_bound, dtype=float)
    if nb.shape != (ctx.net.n_nodes,):
        return False
    with np.errstate(invalid="ignore"):
        via_u = np.where(ctx.ok_u, ctx.along_u + nb[ctx.u], np.inf) + ctx.p_off
        via_v = np.where(ctx.ok_v, ctx.along_v + nb[ctx.v], np.inf) + ctx.p_off
    return bool((ctx.bound <= np.minimum(via_u, via_v)).all())


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, e) for s, e in zip(starts, ends)])``, vectorised."""
    lens = ends - starts
    keep = lens > 0
    starts, lens = starts[keep], lens[keep]
    if not len(lens):
        return np.array([], dtype=np.int64)
    offs = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return offs + np.arange(int(lens.sum()))


@dataclass(frozen=True)
class _Blocks:
    """Items (nodes or points) bucketed in :data:`TILE_M` cells, for tile-to-item tests."""

    order: np.ndarray
    start: np.ndarray
    end: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    hi: np.ndarray  # per cell: the largest bound of its items
    lo_off: np.ndarray  # per cell: the smallest extra cost of its items (point off-road leg)

    @staticmethod
    def build(x: np.ndarray, y: np.ndarray, bound: np.ndarray, off: np.ndarray) -> _Blocks:
        cx, cy = np.floor(x / TILE_M).astype(np.int64), np.floor(y / TILE_M).astype(np.int64)
        key = cx * 4_000_003 + cy
        order = np.argsort(key, kind="stable")
        key = key[order]
        start = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        end = np.append(start[1:], len(key))
        return _Blocks(
            order=order,
            start=start,
            end=end,
            cx=cx[order][start],
            cy=cy[order][start],
            hi=np.maximum.reduceat(bound[order], start),
            lo_off=np.minimum.reduceat(off[order], start),
        )

    def near(self, box: tuple[float, float, float, float], extra: float) -> np.ndarray:
        """Items of the cells where one might lie within its bound of ``box`` (x0, y0, x1,
        y1, m) at ``extra`` m of fixed cost."""
        x0, y0, x1, y1 = box
        gx = np.maximum(np.maximum(self.cx * TILE_M - x1, x0 - (self.cx + 1) * TILE_M), 0.0)
        gy = np.maximum(np.maximum(self.cy * TILE_M - y1, y0 - (self.cy + 1) * TILE_M), 0.0)
        ok = np.hypot(gx, gy) + extra + self.lo_off < self.hi + _LINE_SLACK_M
        return self.order[_ranges(self.start[ok], self.end[ok])]


def _box_gap(box: tuple[float, float, float, float], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box
    gx = np.maximum(np.maximum(x0 - x, x - x1), 0.0)
    gy = np.maximum(np.maximum(y0 - y, y - y1), 0.0)
    return np.hypot(gx, gy)


def _tile_pairs(
    ctx: _PairContext,
    node_lim: np.ndarray,
    pt_lim: np.ndarray,
    progress: Callable[[str], None] | None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The pairs of :func:`compute_cost_pairs` (``len``), one local search per tile.

    A tile's search runs on the subgraph of the nodes ``x`` with ``line(x, tile) + smallest
    source off-road leg < node_lim[x]``, from its sources' virtual nodes. Why that is exact:
    a kept pair's route reaches its point through a segment end ``e`` with
    ``cost(e) < node_lim[e]`` (from ``limit``, or from ``node_bound``, which
    :func:`_bound_is_consistent` checked against ``below``), and every node ``x`` on the
    route from the source to ``e`` has ``cost(x) <= cost(e)`` and, with ``node_bound``,
    ``cost(x) < node_bound[x]`` as well (``node_bound`` is a shortest-path cost, so it grows
    by at most the arc along the route, in floating point too). A route is never shorter than
    the straight line, so every such node is in the subgraph: the route is found with the same
    arithmetic. Nodes outside may make other costs larger than over the whole network, but
    those costs are at least ``node_lim`` at their end and are dropped either way.
    """
    net, src = ctx.net, ctx.src_snap
    n = net.n_nodes
    say = _say(progress)
    nodes = _Blocks.build(net.x, net.y, node_lim, np.zeros(n))
    points = _Blocks.build(ctx.point_snap.x, ctx.point_snap.y, pt_lim, ctx.p_off)
    tx = np.floor(src.x / TILE_M).astype(np.int64)
    ty = np.floor(src.y / TILE_M).astype(np.int64)
    tile_key = tx * 4_000_003 + ty
    order = np.argsort(tile_key, kind="stable")
    bounds = np.flatnonzero(np.concatenate([[True], tile_key[order][1:] != tile_key[order][:-1]]))
    tiles = np.split(order, bounds[1:])
    same_pts = pd.Series(ctx.same["point"]).groupby(ctx.same["source"]).agg(np.unique)
    rg = net.rgraph(ctx.metric)

    def one_tile(idx: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        box = (src.x[idx].min(), src.y[idx].min(), src.x[idx].max(), src.y[idx].max())
        off = float(ctx.src_off[idx].min())
        cand = nodes.near(box, off)
        keep = _box_gap(box, net.x[cand], net.y[cand]) + off < node_lim[cand] + _LINE_SLACK_M
        w_nodes = np.sort(cand[keep])
        pc = points.near(box, off)
        ok = (
            ctx.p_off[pc] + _box_gap(box, ctx.point_snap.x[pc], ctx.point_snap.y[pc]) + off
            < pt_lim[pc] + _LINE_SLACK_M
        )
        pts = pc[ok]
        on_seg = [same_pts[j] for j in idx if j in same_pts.index]
        if on_seg:
            pts = np.union1d(pts, np.concatenate(on_seg))
        else:
            pts = np.sort(pts)
        if not len(pts):
            return []
        lim = min(ctx.limit, float(node_lim[w_nodes].max())) if len(w_nodes) else ctx.limit
        whole = len(w_nodes) > n // 2
        out = []
        if whole:
            graph_full = with_virtual_sources(net, src.take(idx), ctx.src_off[idx], ctx.metric)
            local = None
        else:
            graph, local = _subgraph(net, rg, w_nodes, src.take(idx), ctx.src_off[idx])
        n_w = n if whole else len(w_nodes)
        chunk = max(1, MAX_CHUNK_CELLS // max(n_w + len(idx), len(pts), 1))
        for s0 in range(0, len(idx), chunk):
            sub = np.arange(s0, min(len(idx), s0 + chunk))
            g = graph_full if whole else graph
            dist = dijkstra(g, directed=True, indices=n_w + sub, limit=lim)[:, :n_w]
            out.append(ctx.pairs_from(idx[sub], dist, local, pts))
        return out

    say(f"road searches from {len(src)} sites in {len(tiles)} tiles")
    # one thread: csgraph's dijkstra releases the GIL, but two threads over the tiles measured
    # no faster on the synthetic county (the numpy work between searches holds it)
    return [part for idx in tiles for part in one_tile(idx)]


def _subgraph(
    net: RoadNetwork, rg: sp.csr_matrix, w_nodes: np.ndarray, src: Snap, src_off: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The reversed graph on ``w_nodes`` (sorted) plus the sources' virtual nodes, as in
    :func:`mapping.access.with_virtual_sources`; and the map from network node to column
    (-1 outside)."""
    n_w, k = len(w_nodes), len(src)
    local = np.full(net.n_nodes, -1, dtype=np.int64)
    local[w_nodes] = np.arange(n_w)
    arcs = _ranges(rg.indptr[w_nodes], rg.indptr[w_nodes + 1])
    row = np.repeat(np.arange(n_w), np.diff(rg.indptr)[w_nodes])
    col = local[rg.indices[arcs]]
    inside = col >= 0
    row, col, data = row[inside], col[inside], rg.data[arcs][inside]
    cost = net.seg_cost("len")[src.seg]
    to_u = (net.seg_fwd[src.seg] | (src.t == 0.0)) & (local[net.seg_u[src.seg]] >= 0)
    to_v = (net.seg_bwd[src.seg] | (src.t == 1.0)) & (local[net.seg_v[src.seg]] >= 0)
    vrow = np.arange(n_w, n_w + k)
    row = np.concatenate([row, vrow[to_u], vrow[to_v]])
    col = np.concatenate([col, local[net.seg_u[src.seg]][to_u], local[net.seg_v[src.seg]][to_v]])
    data = np.concatenate(
        [data, (src.t * cost + src_off)[to_u], ((1.0 - src.t) * cost + src_off)[to_v]]
    )
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_w + k))])
    ordr = np.argsort(row, kind="stable")
    graph = sp.csr_matrix(
        (data[ordr], col[ordr].astype(np.int32), indptr), shape=(n_w + k, n_w + k)
    )
    return graph, local


def _same_segment_pairs(
    net: RoadNetwork, src_snap: Snap, point_snap: Snap, metric: str
) -> dict[str, np.ndarray]:
    """Road cost of every (point, source) pair on one segment, straight along it.

    Mirrors :func:`mapping.access._same_segment` for all pairs; the source's off-road leg is
    included, the point's is not.
    """
    pts = pd.DataFrame({"point": np.arange(len(point_snap)), "seg": point_snap.seg})
    pts["tp"] = point_snap.t
    srcs = pd.DataFrame({"source": np.arange(len(src_snap)), "seg": src_snap.seg})
    srcs["ts"] = src_snap.t
    srcs["off"] = net.offroad_cost(src_snap.offroad_m, metric)
    pairs = pts.merge(srcs, on="seg")
    if pairs.empty:
        empty = np.array([], dtype=np.int64)
        return {"point": empty, "source": empty, "cost": np.array([])}
    segs = pairs["seg"].to_numpy()
    ts, tp = pairs["ts"].to_numpy(), pairs["tp"].to_numpy()
    allowed = np.where(ts >= tp, net.seg_fwd[segs], net.seg_bwd[segs]) | (ts == tp)
    c = np.abs(ts - tp) * net.seg_cost(metric)[segs] + pairs["off"].to_numpy()
    return {
        "point": pairs["point"].to_numpy(),
        "source": pairs["source"].to_numpy(),
        "cost": np.where(allowed, c, np.inf),
    }


# --------------------------------------------------------------------------------------------
# candidates and demand


@dataclass(frozen=True)
class Candidates:
    """Candidate sites: ids, kinds (``village``/``grid``), names, positions and snaps."""

    ids: np.ndarray
    source: np.ndarray
    names: np.ndarray
    x: np.ndarray
    y: np.ndarray
    snap: Snap

    def __len__(self) -> int:
        return len(self.ids)


def build_candidates(
    analysis: Analysis, candidates: str = "villages", grid_m: float | None = None
) -> Candidates:
    """Candidate sites: the village points, and optionally a road grid.

    Parameters
    ----------
    analysis
        The analysis (its network, villages and study area are used).
    candidates
        ``villages`` or ``villages+grid``.
    grid_m
        Grid spacing (m, network CRS) for ``villages+grid``: the grid covers the study area
        (or the road network's extent when there is none), each grid point is snapped to the
        roads and the site is the snapped road point; sites within 1 m of one another are
        kept once.

    Returns
    -------
    Candidates
        Village candidates keep the village id and stand at the village point (its off-road
        leg counts, as for a service there); grid candidates are ``G1``, ``G2``... on the road.
    """
    net = analysis.network
    vil = analysis.scenario.villages
    vx, vy = net.project_points(vil)
    ids = [np.asarray(vil.index.astype(str), dtype=object)]
    kinds = [np.full(len(vil), "village", dtype=object)]
    names = [vil["village_name"].astype(object).to_numpy() if len(vil) else np.array([], object)]
    xs, ys, snaps = [np.asarray(vx, float)], [np.asarray(vy, float)], [analysis.vil_snap]
    if candidates == "villages+grid":
        gx, gy = _grid_points(analysis, float(grid_m))
        gsnap = snap_points(net, gx, gy, snap_to=analysis.settings.snap_to)
        key = pd.DataFrame({"x": np.round(gsnap.x), "y": np.round(gsnap.y)})
        first = ~key.duplicated().to_numpy()
        gsnap = gsnap.take(np.flatnonzero(first))
        # the site is the road point itself: no off-road leg
        gsnap = Snap(gsnap.seg, gsnap.t, np.zeros(len(gsnap)), gsnap.x, gsnap.y)
        ids.append(np.array([f"G{i + 1}" for i in range(len(gsnap))], dtype=object))
        kinds.append(np.full(len(gsnap), "grid", dtype=object))
        names.append(np.full(len(gsnap), "", dtype=object))
        xs.append(gsnap.x)
        ys.append(gsnap.y)
        snaps.append(gsnap)
    return Candidates(
        ids=np.concatenate(ids),
        source=np.concatenate(kinds),
        names=np.concatenate(names),
        x=np.concatenate(xs),
        y=np.concatenate(ys),
        snap=Snap.concat(snaps),
    )


def _grid_points(analysis: Analysis, grid_m: float) -> tuple[np.ndarray, np.ndarray]:
    net = analysis.network
    area = analysis.scenario.study_area
    if area is not None:
        area_p = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(net.crs).iloc[0]
        x0, y0, x1, y1 = area_p.bounds
    else:
        area_p = None
        x0, y0, x1, y1 = net.x.min(), net.y.min(), net.x.max(), net.y.max()
    gx = np.arange(np.floor(x0 / grid_m) * grid_m, x1 + grid_m, grid_m)
    gy = np.arange(np.floor(y0 / grid_m) * grid_m, y1 + grid_m, grid_m)
    xx, yy = (a.ravel() for a in np.meshgrid(gx, gy))
    if area_p is not None:
        inside = shapely.contains_xy(area_p, xx, yy)
        xx, yy = xx[inside], yy[inside]
    return xx, yy


@dataclass(frozen=True)
class Demand:
    """Households merged where they meet the road at exactly the same place.

    Attributes
    ----------
    unit
        For each household, its unit.
    snap
        One snap per unit.
    households, children, weight
        Per unit: number of households, children (0 where unknown) and the weight used.
    current_m
        Per unit: current road distance to the nearest service of the kind (m), NaN when none
        can be reached.
    """

    unit: np.ndarray
    snap: Snap
    households: np.ndarray
    children: np.ndarray
    weight: np.ndarray
    current_m: np.ndarray


def _demand(analysis: Analysis, kind: str, weight: str) -> Demand:
    hh = analysis.households
    snap = analysis.hh_snap
    key = pd.DataFrame({"seg": snap.seg, "t": snap.t, "off": snap.offroad_m})
    unit = key.groupby(["seg", "t", "off"], sort=False).ngroup().to_numpy()
    n_units = int(unit.max()) + 1 if len(unit) else 0
    first = np.full(n_units, -1, dtype=np.int64)
    first[unit[::-1]] = np.arange(len(unit))[::-1]
    kids = _children(hh)
    n_hh = np.bincount(unit, minlength=n_units).astype(float)
    n_kids = np.bincount(unit, weights=kids, minlength=n_units)
    return Demand(
        unit=unit,
        snap=snap.take(first),
        households=n_hh,
        children=n_kids,
        weight=n_kids if weight == "children" else n_hh,
        current_m=hh[f"dist_{kind}_m"].to_numpy(dtype=float)[first],
    )


def _children(hh: pd.DataFrame) -> np.ndarray:
    if "children" not in hh:
        return np.zeros(len(hh))
    return hh["children"].astype("Float64").fillna(0).to_numpy(dtype=float)


def _has_children(hh: pd.DataFrame) -> bool:
    return "children" in hh and bool(hh["children"].notna().any())


# --------------------------------------------------------------------------------------------
# solvers


@contextlib.contextmanager
def _quiet_pulp() -> Iterator[None]:
    # PuLP 3.3 warns that spopt's way of building variables and the bundled CBC go away in
    # PuLP 4; both are spopt's and PuLP's business, and the bundled CBC is what we want offline
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp(\.|$)")
        yield


def solve_mclp(
    cover: sp.csr_matrix, weight: np.ndarray, k: int, *, method: str = "auto"
) -> tuple[list[int], str]:
    """Choose up to ``k`` columns of ``cover`` covering the most row weight.

    Parameters
    ----------
    cover
        Demand x candidate boolean matrix: which candidates cover which demand.
    weight
        Demand weights.
    k
        Number of candidates to choose.
    method
        ``exact`` (spopt MCLP + CBC), ``greedy``, or ``auto`` (exact when small enough,
        see :data:`EXACT_MAX_CELLS`).

    Returns
    -------
    tuple
        The chosen candidate indices (only those that add coverage) and the method used.
    """
    n_dem, n_cand = cover.shape
    k = min(k, n_cand)
    if k == 0 or n_dem == 0:
        return [], "none"
    if method == "auto":
        method = "exact" if n_dem * n_cand <= EXACT_MAX_CELLS else "greedy"
    if method == "greedy":
        return _greedy_mclp(cover, weight, k), "greedy"
    import pulp
    from spopt.locate import MCLP

    cost = np.where(cover.toarray(), 0.0, 1.0)
    with _quiet_pulp():
        model = MCLP.from_cost_matrix(cost, weight, service_radius=0.5, p_facilities=k)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = [j for j in range(n_cand) if model.fac_vars[j].value() > 0.5]
    return _order_by_gain_cover(cover, weight, chosen), "spopt-cbc"


def _greedy_mclp(cover: sp.csr_matrix, weight: np.ndarray, k: int) -> list[int]:
    cc = cover.tocsc().astype(np.float64)
    left = np.asarray(weight, dtype=float).copy()
    chosen: list[int] = []
    for _ in range(k):
        gain = cc.T @ left
        if chosen:
            gain[chosen] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        left[cc[:, j].indices] = 0.0
    return chosen


def _order_by_gain_cover(cover: sp.csr_matrix, weight: np.ndarray, chosen: list[int]) -> list[int]:
    """The chosen candidates, best marginal gain first; those adding nothing are dropped."""
    cc = cover.tocsc()[:, chosen].astype(np.float64)
    left = np.asarray(weight, dtype=float).copy()
    out: list[int] = []
    todo = list(range(len(chosen)))
    while todo:
        gain = cc[:, todo].T @ left
        i = int(np.argmax(gain))
        if gain[i] <= 0:
            break
        col = todo.pop(i)
        out.append(chosen[col])
        left[cc[:, col].indices] = 0.0
    return out


def solve_pmedian(
    pairs: CostPairs, current: np.ndarray, weight: np.ndarray, k: int, *, method: str = "auto"
) -> tuple[list[int], str]:
    """Choose up to ``k`` candidates minimising the weighted distance to the nearest service.

    Parameters
    ----------
    pairs
        Demand x candidate costs; only pairs better than ``current`` matter (others may be
        absent).
    current
        Cost of each demand unit to its nearest existing service (use
        :data:`UNREACHED_PENALTY_M` where there is none).
    weight
        Demand weights.
    k
        Number of sites.
    method
        ``exact`` (spopt PMedian + CBC, the existing services as one predefined facility),
        ``greedy``, or ``auto``.

    Returns
    -------
    tuple
        Chosen candidate indices, best saving first (those saving nothing dropped), and the
        method used.
    """
    n_dem, n_cand = pairs.n_points, pairs.n_sources
    k = min(k, n_cand)
    if k == 0 or n_dem == 0:
        return [], "none"
    if method == "auto":
        method = "exact" if n_dem * (n_cand + 1) <= EXACT_MAX_CELLS else "greedy"
    if method == "greedy":
        return _order_by_saving(pairs, current, weight, None, k), "greedy"
    import pulp
    from spopt.locate import PMedian

    cost = np.repeat(np.asarray(current, dtype=float)[:, None], n_cand + 1, axis=1)
    np.minimum.at(cost, (pairs.point, pairs.source + 1), pairs.cost)
    predefined = np.zeros(n_cand + 1, dtype=int)
    predefined[0] = 1
    with _quiet_pulp():
        model = PMedian.from_cost_matrix(
            cost,
            np.asarray(weight, dtype=float),
            p_facilities=k + 1,
            predefined_facilities_arr=predefined,
        )
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = [j - 1 for j in range(1, n_cand + 1) if model.fac_vars[j].value() > 0.5]
    return _order_by_saving(pairs, current, weight, chosen, k), "spopt-cbc"


def _order_by_saving(
    pairs: CostPairs, current: np.ndarray, weight: np.ndarray, among: list[int] | None, k: int
) -> list[int]:
    """Greedy additions by largest weighted saving (among ``among``, or all candidates).

    After each addition only the savings of the candidates sharing a household whose cost it
    lowered are summed again, over their pairs in the same order as a full sum, so every
    saving is the full sum to the last bit and the choices (the first largest) are those of
    summing everything each round.
    """
    cur = np.asarray(current, dtype=float).copy()
    w = np.asarray(weight, dtype=float)
    n_src = pairs.n_sources
    allowed = np.ones(n_src, dtype=bool)
    if among is not None:
        allowed[:] = False
        allowed[among] = True
    terms = w[pairs.point] * np.maximum(cur[pairs.point] - pairs.cost, 0.0)
    saving = np.bincount(pairs.source, weights=terms, minlength=n_src)
    by_point = np.argsort(pairs.point, kind="stable")
    point_start = np.searchsorted(pairs.point[by_point], np.arange(pairs.n_points + 1))
    out: list[int] = []
    for _ in range(k):
        score = np.where(allowed, saving, -1.0)
        j = int(np.argmax(score))
        if score[j] <= 0:
            break
        out.append(j)
        allowed[j] = False
        sel = pairs.source == j
        before = cur.copy()
        np.minimum.at(cur, pairs.point[sel], pairs.cost[sel])
        changed = np.flatnonzero(cur < before)
        idx = by_point[_ranges(point_start[changed], point_start[changed + 1])]
        p = pairs.point[idx]
        terms[idx] = w[p] * np.maximum(cur[p] - pairs.cost[idx], 0.0)
        touched = np.zeros(n_src, dtype=bool)
        touched[pairs.source[idx]] = True
        redo = touched[pairs.source]
        fresh = np.bincount(pairs.source[redo], weights=terms[redo], minlength=n_src)
        saving = np.where(touched, fresh, saving)
    return out


# --------------------------------------------------------------------------------------------
# the public entry point


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(
            "error.planning.choice", name=name, value=value, choices=", ".join(choices)
        )


def suggest_sites(
    analysis: Analysis,
    kind: str,
    k: int,
    *,
    objective: str = "coverage",
    threshold_m: float | None = None,
    candidates: str = "villages",
    grid_m: float | None = None,
    weight: str = "households",
    method: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> gpd.GeoDataFrame:
    """Propose ``k`` new sites for ``kind``, the existing services kept where they are.

    Parameters
    ----------
    analysis
        An analysis that includes ``kind`` (:func:`mapping.analysis.run_analysis`).
    kind
        Service kind.
    k
        Number of new sites.
    objective
        ``coverage``: most households (children) newly within ``threshold_m`` by road (MCLP);
        ``distance``: least total weighted road distance to the nearest service (p-median).
    threshold_m
        Coverage threshold (m); default: the analysis' threshold for ``kind``. Distances are
        compared at the millimetre, as in :mod:`mapping.gaps`.
    candidates
        ``villages`` (the village points) or ``villages+grid`` (plus road points on a grid
        of ``grid_m`` metres, see :func:`build_candidates`).
    grid_m
        Grid spacing (m) for ``villages+grid``.
    weight
        ``households`` (each household counts 1) or ``children`` (the households'
        ``children``; unknown counts as 0).
    method
        ``auto`` (exact with spopt when the reduced problem is small, greedy otherwise),
        ``exact`` or ``greedy``.
    progress
        Optional callable taking a short message.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per site (EPSG:4326 points), best first, index ``S1``, ``S2``...: ``order``,
        ``candidate`` (village id or ``G<n>``), ``candidate_type`` (``village``/``grid``),
        ``name`` (village name, empty for grid sites), ``lon``, ``lat`` (WGS84 degrees),
        ``newly_covered_households`` and ``newly_covered_children`` (brought within the
        threshold by this site and not by the ones before it, so the columns add up; children
        NA when the households have no children data), ``objective``, ``threshold_m``,
        ``method``; for ``distance`` also ``total_dist_before_m`` and ``total_dist_after_m``
        (total weighted road distance, m, over households some existing service reaches,
        after this site and the ones before it) and ``newly_reached_households`` (no existing
        service reaches them, this site does). Fewer than ``k`` rows when more sites would
        add nothing.

    Raises
    ------
    InputError
        For a kind not in the analysis, ``k`` < 1, an unknown option, a missing grid spacing,
        or children weights without children data.
    NoDataError
        When there is no candidate at all.
    """
    say = _say(progress)
    if kind not in analysis.access:
        raise InputError("error.planning.kind", kind=kind, kinds=", ".join(analysis.access))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError("error.planning.k", k=k)
    _check_choice("objective", objective, OBJECTIVES)
    _check_choice("candidates", candidates, CANDIDATE_SETS)
    _check_choice("weight", weight, WEIGHTS)
    _check_choice("method", method, ("auto", "exact", "greedy"))
    if candidates == "villages+grid" and not (grid_m is not None and grid_m > 0):
        raise InputError("error.planning.grid", grid=grid_m)
    hh = analysis.households
    has_kids = _has_children(hh)
    if weight == "children" and not has_kids:
        raise InputError("error.planning.no_children")
    thr = float(analysis.settings.threshold_m(kind) if threshold_m is None else threshold_m)

    say("candidate sites")
    cand = build_candidates(analysis, candidates, grid_m)
    if len(cand) == 0:
        raise NoDataError("error.planning.no_candidates")
    dem = _demand(analysis, kind, weight)
    net = analysis.network
    cur = dem.current_m
    covered0 = np.isfinite(cur) & (np.round(cur, 3) <= thr)

    if objective == "coverage":
        todo = np.flatnonzero(~covered0 & (dem.weight > 0))
        # a trip is never shorter than the straight line from the household's road point to
        # the site: sites with no uncovered household that near need no road search
        near = _sites_near(cand, dem.snap.take(todo), thr + 5e-4)
        say(f"road distances from {len(near)} sites to {len(todo)} household places")
        sub = compute_cost_pairs(net, cand.snap.take(near), dem.snap.take(todo), limit=thr + 5e-4)
        pairs = CostPairs(sub.point, near[sub.source], sub.cost, len(todo), len(cand))
        ok = np.round(pairs.cost, 3) <= thr
        cover = sp.csr_matrix(
            (np.ones(int(ok.sum()), dtype=bool), (pairs.point[ok], pairs.source[ok])),
            shape=(len(todo), len(cand)),
        )
        groups, gweight = _merge_identical_rows(cover, dem.weight[todo])
        say(f"choosing {k} of {len(cand)} sites for {groups.shape[0]} demand groups")
        chosen, used = solve_mclp(groups, gweight, int(k), method=method)
        extra: dict[str, list] = {}
    else:
        reached0 = np.isfinite(cur)
        cur_cost = np.where(reached0, cur, UNREACHED_PENALTY_M)
        limit = float(cur.max()) if reached0.all() and len(cur) else np.inf
        keep = dem.weight > 0
        todo = np.flatnonzero(keep)
        say(f"road distances from {len(cand)} sites to {len(todo)} household places")
        # the existing services' node costs confine each site's search to the places it
        # brings closer (see compute_cost_pairs); the households' current distances come from
        # the same search, which compute_cost_pairs checks
        pairs = compute_cost_pairs(
            net,
            cand.snap,
            dem.snap.take(todo),
            limit=limit,
            below=cur_cost[todo],
            node_bound=analysis.access[kind].dist.node_cost,
        )
        say(f"choosing {k} of {len(cand)} sites")
        chosen, used = solve_pmedian(pairs, cur_cost[todo], dem.weight[todo], int(k), method=method)
        extra = _distance_columns(pairs, chosen, cur, todo, dem.weight, dem.households)
        # coverage credit of each site under the threshold, for the same columns as coverage
        ok = np.round(pairs.cost, 3) <= thr
        ok &= ~covered0[todo][pairs.point]
        cover = sp.csr_matrix(
            (np.ones(int(ok.sum()), dtype=bool), (pairs.point[ok], pairs.source[ok])),
            shape=(len(todo), len(cand)),
        )

    new_hh, new_kids = _marginal_cover(cover, chosen, dem.households[todo], dem.children[todo])
    lon, lat = net.to_lonlat(cand.x[chosen], cand.y[chosen])
    lon, lat = np.atleast_1d(lon), np.atleast_1d(lat)
    out = pd.DataFrame(
        {
            "order": np.arange(1, len(chosen) + 1, dtype=np.int64),
            "candidate": pd.array(cand.ids[chosen], dtype="str"),
            "candidate_type": pd.array(cand.source[chosen], dtype="str"),
            "name": pd.array(cand.names[chosen], dtype="str"),
            "lon": np.asarray(lon, dtype=float),
            "lat": np.asarray(lat, dtype=float),
            "newly_covered_households": np.asarray(new_hh, dtype=np.int64),
            "newly_covered_children": pd.array(
                np.round(new_kids).astype(np.int64) if has_kids else [pd.NA] * len(chosen),
                dtype="Int64",
            ),
            "objective": objective,
            "threshold_m": thr,
            "method": used,
            **extra,
        },
        index=pd.Index([f"S{i + 1}" for i in range(len(chosen))], name="site_id"),
    )
    return gpd.GeoDataFrame(
        out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs="EPSG:4326"
    )


def _sites_near(cand: Candidates, snap: Snap, radius_m: float) -> np.ndarray:
    """Candidates with a point of ``snap`` (a road point) within ``radius_m`` in a line."""
    if len(snap) == 0 or len(cand) == 0:
        return np.array([], dtype=np.int64)
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([snap.x, snap.y]))
    counts = tree.query_ball_point(
        np.column_stack([cand.x, cand.y]), r=radius_m, return_length=True
    )
    return np.flatnonzero(np.asarray(counts) > 0)


def _merge_identical_rows(
    cover: sp.csr_matrix, weight: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Demand rows with the same covering candidates, merged (weights summed).

    Rows covered by no candidate are dropped: no choice changes them.
    """
    cover = cover.tocsr()
    cover.sort_indices()
    keys = [
        cover.indices[cover.indptr[i] : cover.indptr[i + 1]].tobytes()
        for i in range(cover.shape[0])
    ]
    codes, uniq = pd.factorize(pd.Series(keys, dtype=object))
    nonempty = np.array([len(key) > 0 for key in uniq], dtype=bool)
    gweight = np.bincount(codes, weights=weight, minlength=len(uniq))
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    rows = first[nonempty]
    return cover[rows], gweight[nonempty]


def _marginal_cover(
    cover: sp.csr_matrix, chosen: list[int], households: np.ndarray, children: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    cc = cover.tocsc()
    done = np.zeros(cover.shape[0], dtype=bool)
    new_hh, new_kids = [], []
    for j in chosen:
        rows = cc[:, j].indices
        rows = rows[~done[rows]]
        done[rows] = True
        new_hh.append(households[rows].sum())
        new_kids.append(children[rows].sum())
    return np.asarray(new_hh), np.asarray(new_kids)


def _distance_columns(
    pairs: CostPairs,
    chosen: list[int],
    cur: np.ndarray,
    todo: np.ndarray,
    weight: np.ndarray,
    households: np.ndarray,
) -> dict[str, list]:
    reached0 = np.isfinite(cur[todo])
    w = weight[todo]
    now = np.where(reached0, cur[todo], np.inf)
    before = float((w[reached0] * now[reached0]).sum())
    after, newly = [], []
    for j in chosen:
        sel = pairs.source == j
        was = np.isfinite(now)
        np.minimum.at(now, pairs.point[sel], pairs.cost[sel])
        newly_reached = np.isfinite(now) & ~was
        newly.append(int(households[todo][newly_reached].sum()))
        after.append(float((w[reached0] * now[reached0]).sum()))
    return {
        "total_dist_before_m": [before] * len(chosen),
        "total_dist_after_m": after,
        "newly_reached_households": newly,
    }


def sites_to_proposals(sites: gpd.GeoDataFrame, kind: str, lang: str = "zh") -> gpd.GeoDataFrame:
    """The suggested sites as a proposals layer (for :func:`mapping.analysis.apply_proposals`).

    Proposals get the ids ``P1``, ``P2``... in the sites' order.
    """
    from mapping.whatif import make_proposal

    props = None
    for _, row in sites.sort_values("order").iterrows():
        props = make_proposal(props, kind, row["lon"], row["lat"], lang=lang)
    if props is None:
        from layers.services import empty_services

        return empty_services()
    return props
