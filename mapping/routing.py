"""Road costs from sources to points: virtual source nodes and the many-to-many cost pairs.

One module for every search that starts at services or candidate sites and ends at snapped
points (households, villages): the nearest-service search of :mod:`mapping.access`, and the
sparse (point, source) cost pairs that siting (:mod:`mapping.planning`), capacity
(:mod:`mapping.capacity`) and coverage (:mod:`mapping.coverage`) share. How a snapped point
enters and leaves its segment is the network's rule (:meth:`mapping.network.RoadNetwork.along_cost`);
everything here calls it and writes no one-way rule of its own.

A trip from a point to a source is: the point's off-road leg (straight, to its road), along
the roads (one-way streets respected for vehicles), then the source's off-road leg. A source
enters the search as a *virtual node* hung onto its segment: in the reversed graph (searching
towards sources) it has an arc to each end of its segment it may be entered from
(:func:`entry_arcs`). A point on the same segment as a source may reach it straight along the
segment (:func:`same_segment_pairs`), which the node-based answer alone would miss.

Costs between many sources and many points (:func:`compute_cost_pairs`) come from one
:func:`scipy.sparse.csgraph.dijkstra` call per tile of sources, each over only the part of the
network a kept pair's route can use (a route is never shorter than the straight line), and
are kept as sparse pairs -- never one search per pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from mapping.network import RoadNetwork, Snap

#: Cells (rows x columns of float64) of one chunk of the source searches; the search of a
#: chunk returns a dense chunk x nodes matrix, so this bounds the memory at about 160 MB.
MAX_CHUNK_CELLS = 20_000_000

#: Side (m) of the square tiles sources are grouped in for the local searches of
#: :func:`compute_cost_pairs`: smaller tiles search less of the network per source but pay
#: more per-tile overhead (``benchmarks/planning.py`` times it on a synthetic county).
TILE_M = 4500.0

#: Integer type of the point and source indices of :class:`CostPairs`: a county's pairs run
#: to tens of millions, and 32 bits hold any count of points or sources we accept.
_INDEX = np.int32

#: Slack (m) on the straight-line lower bound of a route, for rounding: a route's length is
#: a sum of rounded segment lengths and may fall short of the straight line by far less.
_LINE_SLACK_M = 1e-3


def _say(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    return progress or (lambda _msg: None)


# --------------------------------------------------------------------------------------------
# sources as virtual nodes


def entry_arcs(
    net: RoadNetwork, src_snap: Snap, src_off: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each source enters the reversed graph: ``(source index, node, cost)``.

    A source at position t of segment (u, v) is reached from u and from v by the legs
    :meth:`mapping.network.Snap.entry_costs` allows, plus its off-road leg ``src_off``.
    Sorted by source.
    """
    from_u, from_v = src_snap.entry_costs(net, metric)
    k = len(src_snap)
    svc = np.repeat(np.arange(k), 2).reshape(k, 2)
    node = np.column_stack([net.seg_u[src_snap.seg], net.seg_v[src_snap.seg]])
    cost = np.column_stack([from_u + src_off, from_v + src_off])
    mask = np.isfinite(cost)
    return svc[mask], node[mask].astype(np.int64), cost[mask]


def with_virtual_sources(
    net: RoadNetwork, src_snap: Snap, src_off: np.ndarray, metric: str
) -> sp.csr_matrix:
    """The reversed graph plus one virtual node per source, appended as the last rows.

    No base node has an arc *to* a virtual node in the reversed graph, so the base rows are
    reused untouched and only rows are appended: no rebuild of the big matrix.
    """
    rg = net.rgraph(metric)
    n, k = net.n_nodes, len(src_snap)
    svc, node, cost = entry_arcs(net, src_snap, src_off, metric)
    counts = np.bincount(svc, minlength=k)
    indptr = np.concatenate([rg.indptr, rg.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([rg.indices, node.astype(rg.indices.dtype)])
    data = np.concatenate([rg.data, cost])
    return sp.csr_matrix((data, indices, indptr.astype(np.int64)), shape=(n + k, n + k))


def same_segment_pairs(
    net: RoadNetwork, src_snap: Snap, point_snap: Snap, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (point, source) pair on one segment, and the cost straight along it.

    ``(point, source, cost)``: the leg of :meth:`mapping.network.RoadNetwork.along_cost`
    from the point to the source plus the source's off-road leg (not the point's); ``inf``
    where the rule forbids the leg. Ordered by point, then source.

    Few points share a segment with a source: they are picked by a lookup table, then paired
    by a binary search in the sources' sorted segments (a pandas merge took 5 ms for 20,000
    households).
    """
    empty = np.array([], dtype=np.int64)
    if len(src_snap) == 0 or len(point_snap) == 0:
        return empty, empty, np.array([])
    has_source = np.zeros(net.n_segments, dtype=bool)
    has_source[src_snap.seg] = True
    pts = np.flatnonzero(has_source[point_snap.seg])
    if len(pts) == 0:
        return empty, empty, np.array([])
    order = np.argsort(src_snap.seg, kind="stable")
    src_seg = src_snap.seg[order]
    lo = np.searchsorted(src_seg, point_snap.seg[pts], side="left")
    reps = np.searchsorted(src_seg, point_snap.seg[pts], side="right") - lo
    p = np.repeat(pts, reps)
    within = np.arange(len(p)) - np.repeat(np.cumsum(reps) - reps, reps)
    s = order[np.repeat(lo, reps) + within]
    along = net.along_cost(point_snap.seg[p], point_snap.t[p], src_snap.t[s], metric)
    cost = along + net.offroad_cost(src_snap.offroad_m[s], metric)
    return p.astype(np.int64), s.astype(np.int64), cost


# --------------------------------------------------------------------------------------------
# costs from many sources to many points


@dataclass(frozen=True)
class CostPairs:
    """Sparse (point, source) costs.

    Attributes
    ----------
    point, source
        Indices into the points and the sources (int32).
    cost
        Road distance (m) of the trip from the point to the source, off-road legs included.
    n_points, n_sources
        Sizes of the two sets.
    """

    point: np.ndarray
    source: np.ndarray
    cost: np.ndarray
    n_points: int
    n_sources: int


def iter_source_searches(
    net: RoadNetwork,
    src_snap: Snap,
    *,
    limit: float = np.inf,
    n_cols: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per-node road distances (m) *to* each source, a chunk of sources at a time.

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
    limit
        Searches stop at this distance (m); nodes beyond it get ``inf``.
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
    graph = with_virtual_sources(net, src_snap, src_snap.offroad_m, "len")
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
    *,
    limit: float = np.inf,
    below: np.ndarray | None = None,
    node_bound: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> CostPairs:
    """Road distances (m) from every point to every source within ``limit``, as sparse pairs.

    The same trip as :func:`mapping.access.point_costs` (the point's off-road leg, the roads
    from either end of its segment or straight along it to a source on the same segment, the
    source's off-road leg), for every pair instead of the nearest source only.

    The searches are local (see :func:`_tile_pairs`): sources are grouped in square tiles of
    :data:`TILE_M`, and each tile searches only the part of the network a kept pair's route
    can use. A route is never shorter than the straight line, so a node farther in a line
    from the tile than ``limit`` (and than ``node_bound``, below) cannot be on the route of a
    kept pair. The kept pairs and their costs are bit for bit those of one search over the
    whole network.

    Parameters
    ----------
    net
        The network.
    src_snap, point_snap
        Where the sources (e.g. candidate sites, services) and the points (households) meet
        the roads.
    limit
        Keep pairs costing at most this (m, inclusive).
    below
        Optional per-point bound (m): keep a pair only when it costs strictly less.
    node_bound
        Optional per-node distance (m) to the nearest *existing* service (e.g.
        ``analysis.access[kind].dist.node_cost``, ``inf`` where none is reachable), for use
        with ``below`` set to the points' current distances to those services. A pair can
        then beat ``below`` only along a route whose every node the source also brings closer
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
    n_pts, k = len(point_snap), len(src_snap)
    exit_u, exit_v = point_snap.exit_costs(net, "len")
    same_p, same_s, same_c = same_segment_pairs(net, src_snap, point_snap, "len")
    ctx = _PairContext(
        net=net,
        src_snap=src_snap,
        point_snap=point_snap,
        u=net.seg_u[point_snap.seg],
        v=net.seg_v[point_snap.seg],
        exit_u=exit_u,
        exit_v=exit_v,
        limit=float(limit),
        bound=np.full(n_pts, np.inf) if below is None else np.asarray(below, dtype=float),
        same_point=same_p,
        same_source=same_s,
        same_cost=same_c,
    )
    empty_i = np.array([], dtype=_INDEX)
    if k == 0 or n_pts == 0:
        return CostPairs(empty_i, empty_i, np.array([]), n_pts, k)
    node_lim = np.full(net.n_nodes, ctx.limit)
    if node_bound is not None and _bound_is_consistent(ctx, node_bound):
        node_lim = np.minimum(node_lim, np.asarray(node_bound, dtype=float))
    pt_lim = np.minimum(ctx.limit, ctx.bound)
    parts = [p for p in _tile_pairs(ctx, node_lim, pt_lim, progress) if len(p[0])]
    # the order of one search over all sources (by source, then point): greedy sums over the
    # pairs in this order, so equal inputs give equal sums to the last bit. Each source's
    # pairs come from one search (one part), in point order already: place them, no sort
    # needed, each part freed once placed (the pairs are most of the memory of a county)
    counts = np.zeros(k, dtype=np.int64)
    for srcs, _, _ in parts:
        counts += np.bincount(srcs, minlength=k)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(counts.sum())
    out_pts = np.empty(total, dtype=_INDEX)
    out_srcs = np.empty(total, dtype=_INDEX)
    out_costs = np.empty(total, dtype=np.float64)
    parts.reverse()
    while parts:
        srcs, pts, costs = parts.pop()
        first = np.flatnonzero(np.concatenate([[True], srcs[1:] != srcs[:-1]]))
        rank = np.arange(len(srcs)) - np.repeat(first, np.diff(np.append(first, len(srcs))))
        at = start[srcs] + rank
        out_pts[at], out_srcs[at], out_costs[at] = pts, srcs, costs
    return CostPairs(out_pts, out_srcs, out_costs, n_pts, k)


@dataclass(frozen=True)
class _PairContext:
    """Per-point and per-source arrays shared by the searches of :func:`compute_cost_pairs`.

    ``exit_u``/``exit_v``: each point's leg to the ends of its segment (``inf`` where not
    allowed); ``same_*``: the pairs on one segment (:func:`same_segment_pairs`).
    """

    net: RoadNetwork
    src_snap: Snap
    point_snap: Snap
    u: np.ndarray
    v: np.ndarray
    exit_u: np.ndarray
    exit_v: np.ndarray
    limit: float
    bound: np.ndarray
    same_point: np.ndarray
    same_source: np.ndarray
    same_cost: np.ndarray

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
        # a forbidden exit is inf, and inf plus a cost stays inf
        best = np.minimum(self.exit_u[pts] + node_cost[:, u], self.exit_v[pts] + node_cost[:, v])
        sel = np.isin(self.same_source, idx)
        if sel.any():
            row = np.full(len(self.src_snap), -1, dtype=np.int64)
            row[idx] = np.arange(len(idx))
            col = np.full(len(self.point_snap), -1, dtype=np.int64)
            col[pts] = np.arange(len(pts))
            r, c = row[self.same_source[sel]], col[self.same_point[sel]]
            ok = c >= 0
            r, c, sc = r[ok], c[ok], self.same_cost[sel][ok]
            best[r, c] = np.minimum(best[r, c], sc)
        total = best + self.point_snap.offroad_m[pts]
        keep = (total <= self.limit) & (total < self.bound[pts])
        r, c = np.nonzero(keep)
        return idx[r].astype(_INDEX), pts[c].astype(_INDEX), total[r, c]


def _bound_is_consistent(ctx: _PairContext, node_bound: np.ndarray) -> bool:
    """Whether every point's ``below`` is at most its cost through its segment ends at the
    node bound (as :func:`mapping.access.point_costs` computes it): the condition under which
    ``node_bound`` may confine the searches."""
    nb = np.asarray(node_bound, dtype=float)
    if nb.shape != (ctx.net.n_nodes,):
        return False
    via_u = ctx.exit_u + nb[ctx.u] + ctx.point_snap.offroad_m
    via_v = ctx.exit_v + nb[ctx.v] + ctx.point_snap.offroad_m
    return bool((ctx.bound <= np.minimum(via_u, via_v)).all())


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
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
        return self.order[concat_ranges(self.start[ok], self.end[ok])]


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
    """The pairs of :func:`compute_cost_pairs`, one local search per tile.

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
    p_off = ctx.point_snap.offroad_m
    src_off = src.offroad_m
    nodes = _Blocks.build(net.x, net.y, node_lim, np.zeros(n))
    points = _Blocks.build(ctx.point_snap.x, ctx.point_snap.y, pt_lim, p_off)
    tx = np.floor(src.x / TILE_M).astype(np.int64)
    ty = np.floor(src.y / TILE_M).astype(np.int64)
    tile_key = tx * 4_000_003 + ty
    order = np.argsort(tile_key, kind="stable")
    bounds = np.flatnonzero(np.concatenate([[True], tile_key[order][1:] != tile_key[order][:-1]]))
    tiles = np.split(order, bounds[1:])
    # source -> the points on its own segment (not groupby().agg(np.unique): pandas before
    # 3.1 refuses an aggregation that returns arrays)
    by_src = np.argsort(ctx.same_source, kind="stable")
    src_keys, src_starts = np.unique(ctx.same_source[by_src], return_index=True)
    groups = np.split(ctx.same_point[by_src], src_starts[1:]) if len(src_keys) else []
    same_pts = {k: np.unique(g) for k, g in zip(src_keys.tolist(), groups, strict=True)}

    def one_tile(idx: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        box = (src.x[idx].min(), src.y[idx].min(), src.x[idx].max(), src.y[idx].max())
        off = float(src_off[idx].min())
        cand = nodes.near(box, off)
        keep = _box_gap(box, net.x[cand], net.y[cand]) + off < node_lim[cand] + _LINE_SLACK_M
        w_nodes = np.sort(cand[keep])
        pc = points.near(box, off)
        ok = (
            p_off[pc] + _box_gap(box, ctx.point_snap.x[pc], ctx.point_snap.y[pc]) + off
            < pt_lim[pc] + _LINE_SLACK_M
        )
        pts = pc[ok]
        on_seg = [same_pts[j] for j in idx.tolist() if j in same_pts]
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
            graph = with_virtual_sources(net, src.take(idx), src_off[idx], "len")
            local = None
        else:
            graph, local = _subgraph(net, w_nodes, src.take(idx))
        n_w = n if whole else len(w_nodes)
        chunk = max(1, MAX_CHUNK_CELLS // max(n_w + len(idx), len(pts), 1))
        for s0 in range(0, len(idx), chunk):
            sub = np.arange(s0, min(len(idx), s0 + chunk))
            dist = dijkstra(graph, directed=True, indices=n_w + sub, limit=lim)[:, :n_w]
            out.append(ctx.pairs_from(idx[sub], dist, local, pts))
        return out

    say(f"road searches from {len(src)} sites in {len(tiles)} tiles")
    # one thread: csgraph's dijkstra releases the GIL, but two threads over the tiles measured
    # no faster on the synthetic county (the numpy work between searches holds it)
    return [part for idx in tiles for part in one_tile(idx)]


def _subgraph(net: RoadNetwork, w_nodes: np.ndarray, src: Snap) -> tuple[sp.csr_matrix, np.ndarray]:
    """The reversed length graph on ``w_nodes`` (sorted) plus the sources' virtual nodes, as
    in :func:`with_virtual_sources`; and the map from network node to column (-1 outside)."""
    rg = net.rgraph("len")
    n_w, k = len(w_nodes), len(src)
    local = np.full(net.n_nodes, -1, dtype=np.int64)
    local[w_nodes] = np.arange(n_w)
    arcs = concat_ranges(rg.indptr[w_nodes], rg.indptr[w_nodes + 1])
    row = np.repeat(np.arange(n_w), np.diff(rg.indptr)[w_nodes])
    col = local[rg.indices[arcs]]
    inside = col >= 0
    row, col, data = row[inside], col[inside], rg.data[arcs][inside]
    svc, node, cost = entry_arcs(net, src, src.offroad_m, "len")
    there = local[node] >= 0
    row = np.concatenate([row, n_w + svc[there]])
    col = np.concatenate([col, local[node[there]]])
    data = np.concatenate([data, cost[there]])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_w + k))])
    ordr = np.argsort(row, kind="stable")
    graph = sp.csr_matrix(
        (data[ordr], col[ordr].astype(np.int32), indptr), shape=(n_w + k, n_w + k)
    )
    return graph, local
