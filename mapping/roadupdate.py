"""A changed road network without a rebuild: patch the network, update an analysis in place.

Adding one community road or closing one stretch changes a few road segments of a county's
100,000. Rebuilding the network and redoing the analysis costs about a second; this module
does the same work for the part that changed (``benchmarks/community.py``):

:func:`patch_network`
    A :class:`~mapping.network.RoadNetwork` with segments removed, retimed or added (and
    nodes appended), built from the old one: the CSR rows of the touched nodes are rebuilt,
    every other row is copied. Node indices of the old network stay valid.
:func:`update_analysis`
    An :class:`~mapping.analysis.Analysis` on the patched network. Points keep their snaps
    unless their segment went or a new one is nearer; each service search is redone only
    where it may have changed: the nodes whose shortest path to a service used a segment
    that went (or got slower), found from the old costs, get their costs again from the
    nodes around them, and a pruned search (:func:`mapping.pruned.improved_costs`) carries
    any improvement (a new road) as far as it reaches. Only the villages whose answers
    changed get their row of the village table again.

Why exact: a node whose old shortest path avoids every changed arc can still take that path,
so its old cost bounds the new one from above; the search from the changed region and the
new arcs then finds every node whose cost drops below that bound, exactly as
:mod:`mapping.pruned` argues for new services. The tests compare every answer with a full
rebuild (``tests/test_conditions.py``, ``tests/test_community.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numba as nb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from mapping.access import KindAccess, ServiceSearch, access_columns, access_table
from mapping.analysis import Analysis
from mapping.gaps import compute_village_gaps
from mapping.network import RoadNetwork, Snap, _main_piece
from mapping.pruned import improved_costs
from mapping.routing import entry_arcs
from mapping.snapgrid import build_grid, nearest_segments, nearest_segments_brute

#: Relative tolerance for "this neighbour gives the node its cost" (float sums of the same
#: arcs are equal; the tolerance only keeps a last-bit difference from hiding a parent).
_TIGHT_REL = 1e-12


@dataclass(frozen=True)
class RoadChange:
    """How a patched network relates to the network it came from.

    Attributes
    ----------
    seg_map
        Per old segment: its index in the new network, -1 when it was removed or split.
    pieces
        Split segments: ``(old_seg, new_seg, t0, t1)`` arrays, the new segment covering
        positions ``t0..t1`` of the old one.
    added
        New segments that are not pieces of old ones (community roads).
    slower, faster
        New segments whose time went up / down (slow-downs), by metric ``time``.
    n_old_nodes
        Nodes of the old network (the first nodes of the new one).
    """

    seg_map: np.ndarray
    pieces: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    added: np.ndarray
    slower: np.ndarray
    faster: np.ndarray
    n_old_nodes: int


# --------------------------------------------------------------------------------------------
# the network


def patch_network(
    net: RoadNetwork,
    *,
    remove: np.ndarray | None = None,
    retime_s: tuple[np.ndarray, np.ndarray] | None = None,
    add: dict[str, np.ndarray] | None = None,
    new_nodes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    pieces_of: np.ndarray | None = None,
    pieces_t: tuple[np.ndarray, np.ndarray] | None = None,
    keep_components: bool = False,
) -> tuple[RoadNetwork, RoadChange]:
    """A network like ``net`` with some segments removed, retimed or added.

    Parameters
    ----------
    net
        The network to start from (not modified).
    remove
        Indices of segments to remove (closed roads, segments that are split).
    retime_s
        ``(segments, seconds)``: new travel times of some (kept) segments.
    add
        New segments: ``u``, ``v`` (node indices in the new network), ``len_m``, ``time_s``,
        ``fwd``, ``bwd`` (bool), ``highway``, ``way_id``.
    new_nodes
        ``(node_id, x, y)`` of nodes appended after the old ones.
    pieces_of, pieces_t
        For added segments that are pieces of a removed one: the old segment (-1 for
        others) and the positions ``(t0, t1)`` they cover, to move snapped points onto them.
    keep_components
        Keep the old network's connected pieces and main piece (road conditions: a village
        cut off by a closure stays on its road and comes out ``not_connected``); otherwise
        they are computed again (new roads may join pieces).

    Returns
    -------
    (RoadNetwork, RoadChange)
    """
    n_old = net.n_nodes
    e_old = net.n_segments
    remove = np.unique(np.asarray(remove if remove is not None else [], dtype=np.int64))
    keep = np.ones(e_old, dtype=bool)
    keep[remove] = False
    seg_map = np.full(e_old, -1, dtype=np.int64)
    seg_map[keep] = np.arange(int(keep.sum()))

    time_s = net.seg_time_s.copy()
    slower = faster = np.array([], dtype=np.int64)
    retimed_old = np.array([], dtype=np.int64)
    if retime_s is not None:
        segs, secs = np.asarray(retime_s[0], np.int64), np.asarray(retime_s[1], float)
        slower = seg_map[segs[secs > time_s[segs]]]
        faster = seg_map[segs[secs < time_s[segs]]]
        retimed_old = segs[secs != time_s[segs]]
        time_s[segs] = secs

    add = add or {}
    n_add = len(add.get("u", []))
    if new_nodes is not None:
        nid, nx_, ny_ = (np.asarray(a) for a in new_nodes)
    else:
        nid, nx_, ny_ = np.array([], np.int64), np.array([]), np.array([])
    n_new = n_old + len(nid)

    def cat(old, key, dtype):
        extra = np.asarray(add.get(key, np.array([], dtype=dtype)), dtype=dtype)
        return np.concatenate([old[keep], extra])

    seg_u = cat(net.seg_u, "u", net.seg_u.dtype)
    seg_v = cat(net.seg_v, "v", net.seg_v.dtype)
    seg_len = cat(net.seg_len_m, "len_m", float)
    seg_time = np.concatenate([time_s[keep], np.asarray(add.get("time_s", []), float)])
    seg_fwd = cat(net.seg_fwd, "fwd", bool)
    seg_bwd = cat(net.seg_bwd, "bwd", bool)
    seg_hw = cat(net.seg_highway, "highway", net.seg_highway.dtype)
    seg_way = cat(net.seg_way_id, "way_id", net.seg_way_id.dtype)
    added_idx = int(keep.sum()) + np.arange(n_add)

    # rows of the nodes touched by the change are built again, every other row is copied
    touched = np.zeros(n_new, dtype=bool)
    touched[net.seg_u[remove]] = True
    touched[net.seg_v[remove]] = True
    touched[net.seg_u[retimed_old]] = True
    touched[net.seg_v[retimed_old]] = True
    if n_add:
        touched[np.asarray(add["u"])] = True
        touched[np.asarray(add["v"])] = True
    touched[n_old:] = True
    inc = np.flatnonzero(touched[seg_u] | touched[seg_v])
    u, v = seg_u[inc], seg_v[inc]
    fw, bw = seg_fwd[inc], seg_bwd[inc]
    w_len, w_time = seg_len[inc], seg_time[inc]
    src = np.concatenate([u[fw], v[bw]])
    dst = np.concatenate([v[fw], u[bw]])
    wl = np.concatenate([w_len[fw], w_len[bw]])
    wt = np.concatenate([w_time[fw], w_time[bw]])
    fwd_rows = touched[src]
    graph_len, graph_time = _patch_rows(
        (net.graph_len, net.graph_time), n_new, touched, src[fwd_rows], dst[fwd_rows],
        (wl[fwd_rows], wt[fwd_rows]),
    )  # fmt: skip
    rev_rows = touched[dst]
    rgraph_len, rgraph_time = _patch_rows(
        (net.rgraph_len, net.rgraph_time), n_new, touched, dst[rev_rows], src[rev_rows],
        (wl[rev_rows], wt[rev_rows]),
    )  # fmt: skip

    component = np.concatenate([net.component, np.full(len(nid), -1, dtype=net.component.dtype)])
    main = net.main_component
    if not keep_components:
        grown = _grow_main(net, component, remove, add, pieces_of)
        if grown is None:  # pieces may have merged or split: label them all again
            labels, main = _main_piece(graph_len, strongly=net.mode != "walk")
            component = labels.astype(np.int32)
        else:
            component = grown

    new = RoadNetwork(
        mode=net.mode,
        crs=net.crs,
        node_id=np.concatenate([net.node_id, nid.astype(net.node_id.dtype)]),
        x=np.concatenate([net.x, nx_.astype(float)]),
        y=np.concatenate([net.y, ny_.astype(float)]),
        seg_u=seg_u,
        seg_v=seg_v,
        seg_len_m=seg_len,
        seg_time_s=seg_time,
        seg_fwd=seg_fwd,
        seg_bwd=seg_bwd,
        seg_highway=seg_hw,
        seg_way_id=seg_way,
        graph_len=graph_len,
        graph_time=graph_time,
        rgraph_len=rgraph_len,
        rgraph_time=rgraph_time,
        component=component,
        main_component=int(main),
        walk_speed_kmh=net.walk_speed_kmh,
    )
    # the segments' boxes (for resnapping points whose road went): the kept ones' from the
    # old network, the new ones' computed
    old_boxes = _segment_boxes(net)
    n_kept = int(keep.sum())
    ax, ay = new.x[seg_u[n_kept:]], new.y[seg_u[n_kept:]]
    bx, by = new.x[seg_v[n_kept:]], new.y[seg_v[n_kept:]]
    new._cache[("segment_boxes",)] = tuple(
        np.concatenate([old_b[keep], extra])
        for old_b, extra in zip(
            old_boxes,
            (np.minimum(ax, bx), np.maximum(ax, bx), np.minimum(ay, by), np.maximum(ay, by)),
            strict=True,
        )
    )
    if pieces_of is not None and n_add:
        pieces_of = np.asarray(pieces_of, np.int64)
        is_piece = pieces_of >= 0
        pieces = (
            pieces_of[is_piece],
            added_idx[is_piece],
            np.asarray(pieces_t[0], float)[is_piece],
            np.asarray(pieces_t[1], float)[is_piece],
        )
        truly_added = added_idx[~is_piece]
    else:
        empty = np.array([], dtype=np.int64)
        pieces = (empty, empty, np.array([]), np.array([]))
        truly_added = added_idx
    change = RoadChange(
        seg_map=seg_map,
        pieces=pieces,
        added=truly_added,
        slower=slower,
        faster=faster,
        n_old_nodes=n_old,
    )
    return new, change


def _grow_main(net, component, remove, add, pieces_of) -> np.ndarray | None:
    """The connected pieces after adding roads to the main piece, without a full labelling.

    Exact in the usual case: segments were only split (every removed one has pieces) and
    every new segment links main-piece nodes and new nodes, two-way (a new node on a two-way
    road to the main piece is in it) or as a piece of a one-way segment whose two ends are
    in it (u -> p -> v and the main piece leads back from v to u). Returns ``None`` in any
    other case (a new road reaching another piece may merge pieces).
    """
    n_add = len(add.get("u", [])) if add else 0
    if n_add == 0:
        return component if len(remove) == 0 else None
    main = net.main_component
    u, v = np.asarray(add["u"], np.int64), np.asarray(add["v"], np.int64)
    fw, bw = np.asarray(add["fwd"], bool), np.asarray(add["bwd"], bool)
    of = np.asarray(pieces_of if pieces_of is not None else np.full(n_add, -1), np.int64)
    if not np.isin(remove, of[of >= 0]).all():
        return None  # a segment went without pieces: the main piece may split
    # a new segment may not touch an old node outside the main piece
    n_old = net.n_nodes
    for end in (u, v):
        old_end = end[end < n_old]
        if (component[old_end] != main).any():
            return None
    lab = component.copy()
    piece_ok = np.zeros(n_add, dtype=bool)
    if (of >= 0).any():
        s = of[of >= 0]
        both_main = (net.component[net.seg_u[s]] == main) & (net.component[net.seg_v[s]] == main)
        piece_ok[of >= 0] = both_main
    lab[u[piece_ok]] = main
    lab[v[piece_ok]] = main
    two_way = fw & bw
    for _ in range(n_add):
        lu, lv = lab[u] == main, lab[v] == main
        grow = two_way & (lu != lv)
        if not grow.any():
            break
        lab[u[grow]] = main
        lab[v[grow]] = main
    if (lab[n_old:] != main).any():
        return None  # a new road not tied to the main piece
    return lab


def _patch_rows(
    mats: tuple[sp.csr_matrix, ...],
    n_new: int,
    touched: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weights: tuple[np.ndarray, ...],
) -> list[sp.csr_matrix]:
    """CSR matrices (same structure, one per weight) with the touched rows replaced by the
    arcs ``src -> dst`` (minimum of parallel arcs, as :func:`mapping.network._min_csr`).

    The untouched rows between two touched ones are copied as one slice: a few hundred
    slices for a change, instead of an index per stored arc.
    """
    old = mats[0]
    n_old = old.shape[0]
    # the new arcs, parallel ones reduced to their minimum, sorted by row then column
    key = src.astype(np.int64) * n_new + dst.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else key
    ukey = key[starts]
    new_row, new_col = ukey // n_new, (ukey % n_new).astype(old.indices.dtype)
    new_w = [np.minimum.reduceat(w[order], starts) if len(starts) else w[:0] for w in weights]

    rows = np.flatnonzero(touched)
    old_rows = rows[rows < n_old]
    counts = np.zeros(n_new, dtype=np.int64)
    counts[:n_old] = np.diff(old.indptr)
    counts[rows] = 0
    counts += np.bincount(new_row, minlength=n_new)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    # pieces: old rows before the first touched one, the new arcs of each touched row, the
    # old rows up to the next touched one ...
    lo = np.searchsorted(new_row, rows, side="left")
    hi = np.searchsorted(new_row, rows, side="right")
    cut_start = old.indptr[old_rows]
    cut_end = old.indptr[old_rows + 1]
    keep_from = np.concatenate([[0], cut_end])
    keep_to = np.concatenate([cut_start, [old.indptr[-1]]])
    idx_parts, data_parts = [], [[] for _ in mats]
    for k in range(len(rows) + 1):
        if k < len(keep_from) and keep_to[k] > keep_from[k]:
            idx_parts.append(old.indices[keep_from[k] : keep_to[k]])
            for j, mat in enumerate(mats):
                data_parts[j].append(mat.data[keep_from[k] : keep_to[k]])
        if k < len(rows):
            idx_parts.append(new_col[lo[k] : hi[k]])
            for j in range(len(mats)):
                data_parts[j].append(new_w[j][lo[k] : hi[k]])
    indices = np.concatenate(idx_parts) if idx_parts else old.indices[:0]
    out = []
    for j in range(len(mats)):
        data = np.concatenate(data_parts[j]) if data_parts[j] else np.array([], float)
        out.append(sp.csr_matrix((data, indices, indptr), shape=(n_new, n_new)))
    return out


# --------------------------------------------------------------------------------------------
# the analysis


def update_analysis(
    analysis: Analysis,
    network: RoadNetwork,
    change: RoadChange,
    *,
    scenario=None,
) -> Analysis:
    """The analysis on a patched network, redoing only what the change can affect.

    Parameters
    ----------
    analysis
        An analysis on the network ``network`` was patched from (proposals included).
    network, change
        The result of :func:`patch_network` (or of the helpers that call it:
        :func:`mapping.community.add_community_roads`, :func:`mapping.conditions.apply_conditions`).
    scenario
        The scenario of the new analysis (default: the old one; pass the one with the new
        roads when roads were added, so that a later full run gives the same answer).

    Returns
    -------
    Analysis
        Equal, answer for answer, to :func:`mapping.analysis.run_analysis` on the new
        network (``tests/test_conditions.py``, ``tests/test_community.py``).
    """
    old_net = analysis.network
    net = network
    settings = analysis.settings
    snap_to = settings.snap_to
    scenario = scenario if scenario is not None else analysis.scenario
    if not np.array_equal(net.node_id[: change.n_old_nodes], old_net.node_id):
        raise ValueError("the network was not patched from the analysis' network")

    cand = _Candidates(old_net, net, change, snap_to)
    hh_snap, hh_moved = _update_snap(
        analysis.hh_snap, old_net, net, change, cand, analysis.households
    )
    vil_snap, vil_moved = _update_snap(
        analysis.vil_snap, old_net, net, change, cand, analysis.scenario.villages
    )

    access: dict[str, KindAccess] = {}
    changed_nodes = np.zeros(net.n_nodes, dtype=bool)
    changed_nodes[change.n_old_nodes :] = True
    # points on a segment whose time changed leave it at another cost
    for segs in (change.slower, change.faster):
        changed_nodes[net.seg_u[segs]] = True
        changed_nodes[net.seg_v[segs]] = True
    svc_offroad: dict[str, np.ndarray] = {}
    for kind, acc in analysis.access.items():
        svc_snap, svc_moved = _update_snap(
            acc.dist.svc_snap, old_net, net, change, cand, acc.services
        )
        searches = []
        for old in (acc.dist, acc.time):
            if old is None:
                searches.append(None)
                continue
            search = _update_search(old_net, net, change, old, svc_snap, svc_moved)
            n_old = change.n_old_nodes
            diff = (search.node_cost[:n_old] != old.node_cost) | (
                search.node_service[:n_old] != old.node_service
            )
            changed_nodes[:n_old] |= diff
            searches.append(search)
        if svc_moved.any():
            # a service that moved changes the answer of points on its old and new segments
            changed_nodes[net.seg_u[svc_snap.seg[svc_moved]]] = True
            changed_nodes[net.seg_v[svc_snap.seg[svc_moved]]] = True
            old_segs = change.seg_map[acc.dist.svc_snap.seg[svc_moved]]
            old_segs = old_segs[old_segs >= 0]
            changed_nodes[net.seg_u[old_segs]] = True
            changed_nodes[net.seg_v[old_segs]] = True
        access[kind] = KindAccess(
            kind=kind,
            services=acc.services,
            svc_xy=acc.svc_xy,
            dist=searches[0],
            time=searches[1],
        )
        svc_offroad[kind] = svc_snap.offroad_m

    def redo(snap: Snap, moved: np.ndarray) -> np.ndarray:
        return moved | changed_nodes[net.seg_u[snap.seg]] | changed_nodes[net.seg_v[snap.seg]]

    hh_redo = redo(hh_snap, hh_moved)
    vil_redo = redo(vil_snap, vil_moved)
    households, hh_changed = _update_points(analysis.households, net, access, hh_snap, hh_redo)
    if hh_moved.any():
        households = _with_column(households, "offroad_m", hh_snap.offroad_m)
    villages, vil_changed = _update_points(
        analysis.villages, net, access, vil_snap, vil_redo, points=scenario.villages
    )

    # the village rows to compute again: their own answer or their households' changed
    vil_index = analysis.villages.index
    touched = vil_changed.copy()
    if hh_changed.any():
        ids = households["village_id"].to_numpy(dtype=object)[hh_changed]
        touched |= vil_index.isin(pd.unique(ids[pd.notna(ids)]))
    if touched.any():
        touched_ids = vil_index[touched]
        sub = scenario.villages.loc[touched_ids]
        cols = [c for kind in access for c in access_columns(kind)]
        vil_access = pd.DataFrame(villages.loc[touched_ids, cols])
        hh_sub = households[households["village_id"].isin(touched_ids)]
        gaps = compute_village_gaps(sub, vil_access, hh_sub, settings)
        villages = _with_rows(villages, np.flatnonzero(touched), gaps)
    if vil_moved.any() or touched.any():
        villages = _with_column(villages, "offroad_m", vil_snap.offroad_m)

    services = analysis.services
    for kind, off in svc_offroad.items():
        mask = (services["kind"] == kind).to_numpy()
        if mask.sum() == len(off) and not np.array_equal(
            services.loc[mask, "offroad_m"].to_numpy(dtype=float), off
        ):
            col = services["offroad_m"].to_numpy(dtype=float, copy=True)
            col[mask] = off
            services = _with_column(services, "offroad_m", col)
    return replace(
        analysis,
        scenario=scenario,
        network=net,
        households=households,
        villages=villages,
        services=services,
        access=access,
        hh_snap=hh_snap,
        vil_snap=vil_snap,
    )


def _same(old, new) -> np.ndarray:
    """Element-wise equality of two column arrays, missing values equal to each other."""
    a = np.asarray(old, dtype=object).copy()
    b = np.asarray(new, dtype=object).copy()
    a[pd.isna(a)] = None
    b[pd.isna(b)] = None
    return np.array([x == y for x, y in zip(a, b, strict=True)], dtype=bool)


def _with_rows(frame: pd.DataFrame, pos: np.ndarray, rows: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy of ``frame`` with the rows at positions ``pos`` replaced by ``rows``
    (same columns, in the order of ``pos``), column by column."""
    out = frame.copy(deep=False)
    for col in frame.columns:
        if col not in rows.columns:
            continue
        values = frame[col].array.copy()
        new = rows[col].array
        if values.dtype != new.dtype:
            values = pd.array(values, dtype=new.dtype).copy()
        values[pos] = new
        out[col] = values
    return out


def _with_column(frame: pd.DataFrame, col: str, values) -> pd.DataFrame:
    """A shallow copy of ``frame`` with one column replaced (the input is not modified)."""
    out = frame.copy(deep=False)
    out[col] = values
    return out


def _update_points(
    frame: gpd.GeoDataFrame,
    net: RoadNetwork,
    access: dict[str, KindAccess],
    snap: Snap,
    redo: np.ndarray,
    *,
    points: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """``frame`` with the access columns of the rows in ``redo`` read again, and which rows'
    answers actually changed. The frame is shared, not copied, when nothing changed."""
    changed = np.zeros(len(frame), dtype=bool)
    if not redo.any():
        return frame, changed
    idx = np.flatnonzero(redo)
    sub = (points if points is not None else frame).iloc[idx]
    sub_snap = snap.take(idx)
    tables = [(acc.kind, access_table(net, acc, sub, sub_snap)) for acc in access.values()]
    differs: dict[str, np.ndarray] = {}  # per column: which of the redone rows changed
    for kind, table in tables:
        for col in access_columns(kind):
            if col in table.columns:
                differs[col] = ~_same(frame[col].array[idx], table[col].array)
                changed[idx] |= differs[col]
    if not changed.any():
        return frame, changed
    out = frame.copy(deep=False)
    pos = np.flatnonzero(changed[idx])
    rows = idx[pos]
    for kind, table in tables:
        for col in access_columns(kind):
            if col not in differs or not differs[col].any():
                continue  # only the columns that changed are written again
            values = frame[col].array.copy()
            new = table[col].array[pos]
            if values.dtype != new.dtype:
                values = pd.array(values, dtype=new.dtype).copy()
            values[rows] = new
            out[col] = values
    return out, changed


class _Candidates:
    """Which segments of the new network points may snap to, and which are new to them."""

    def __init__(self, old_net, net, change, snap_to):
        self.snap_to = snap_to
        self.cand = net.snap_candidates(snap_to)
        is_cand = np.zeros(net.n_segments, dtype=bool)
        is_cand[self.cand] = True
        self.is_cand = is_cand
        old_cand = np.zeros(old_net.n_segments, dtype=bool)
        old_cand[old_net.snap_candidates(snap_to)] = True
        # an old candidate that is no longer one (its piece left the main piece): resnap
        mapped = change.seg_map >= 0
        self.lost = np.zeros(old_net.n_segments, dtype=bool)
        self.lost[mapped] = old_cand[mapped] & ~is_cand[change.seg_map[mapped]]
        # candidates that points could not snap to before: added, or newly in the main piece
        was = np.zeros(net.n_segments, dtype=bool)
        was[change.seg_map[mapped & old_cand]] = True
        p_old, p_new = change.pieces[0], change.pieces[1]
        was[p_new[old_cand[p_old]]] = True
        self.gained = np.flatnonzero(is_cand & ~was)


def _update_snap(
    snap: Snap,
    old_net: RoadNetwork,
    net: RoadNetwork,
    change: RoadChange,
    cand: _Candidates,
    points: gpd.GeoDataFrame,
) -> tuple[Snap, np.ndarray]:
    """The snaps on the new network, and which points moved to another road position.

    A point keeps its position on its road unless its segment was removed (or left the
    candidates), or a segment it could not snap to before is nearer (a new road).
    """
    n = len(snap)
    seg = change.seg_map[snap.seg] if n else snap.seg.copy()
    t = snap.t.copy()
    off, sx, sy = snap.offroad_m.copy(), snap.x.copy(), snap.y.copy()
    moved = np.zeros(n, dtype=bool)
    # onto the pieces of split segments
    p_old, p_new, t0, t1 = change.pieces
    if len(p_old) and n:
        split = seg < 0
        order = np.lexsort((t0, p_old))
        po, pn, a0, a1 = p_old[order], p_new[order], t0[order], t1[order]
        for i in np.flatnonzero(split):
            s_old = snap.seg[i]
            lo, hi = np.searchsorted(po, s_old), np.searchsorted(po, s_old, side="right")
            if lo == hi:
                continue
            k = lo + int(np.searchsorted(a1[lo:hi], t[i]))
            k = min(k, hi - 1)
            seg[i] = pn[k]
            span = a1[k] - a0[k]
            t[i] = (t[i] - a0[k]) / span if span > 0 else 0.0
    lost = np.zeros(n, dtype=bool)
    if n:
        lost = seg < 0
        lost |= cand.lost[snap.seg]
    need = lost.copy()
    # a new road (or newly reachable piece) nearer than the point's road: only points whose
    # road position is within twice their off-road leg of the new roads' box can have one
    check = np.zeros(n, dtype=bool)
    if n and len(cand.gained):
        ax, ay, bx, by = net.segment_ends()
        g = cand.gained
        x0, x1 = min(ax[g].min(), bx[g].min()), max(ax[g].max(), bx[g].max())
        y0, y1 = min(ay[g].min(), by[g].min()), max(ay[g].max(), by[g].max())
        gap = np.hypot(
            np.maximum(0, np.maximum(x0 - snap.x, snap.x - x1)),
            np.maximum(0, np.maximum(y0 - snap.y, snap.y - y1)),
        )
        check = (gap < 2 * snap.offroad_m + 1e-6) & ~need
    todo = np.flatnonzero(check | need)
    px = np.full(n, np.nan)
    py = np.full(n, np.nan)
    if len(todo):
        px[todo], py[todo] = net.project_points(points.iloc[todo])
    if check.any():
        c = np.flatnonzero(check)
        if len(c) * len(cand.gained) <= 5_000_000:
            gs, gt, goff, gx, gy = nearest_segments_brute(
                *net.segment_ends(), cand.gained, px[c], py[c]
            )
        else:  # many new roads (a day's tracks): the snapping grid of just those
            grid = build_grid(*net.segment_ends(), cand.gained)
            gs, gt, goff, gx, gy = nearest_segments(grid, px[c], py[c])
        better = goff < off[c]
        nearer = c[better]
        seg[nearer], t[nearer], off[nearer] = gs[better], gt[better], goff[better]
        sx[nearer], sy[nearer] = gx[better], gy[better]
        moved[nearer] = True
    if need.any():
        i = np.flatnonzero(need)
        rs, rt, roff, rx, ry = _nearest_candidates(net, cand, px[i], py[i])
        seg[i], t[i], off[i], sx[i], sy[i] = rs, rt, roff, rx, ry
        moved[i] = True
    return Snap(seg=seg, t=t, offroad_m=off, x=sx, y=sy), moved


def _nearest_candidates(net, cand, x, y):
    """Nearest candidate segment of a few points (those whose road was closed).

    Each point tries the candidates in a box around it, growing fourfold until the nearest
    found lies within the box's half width (then nothing outside can be nearer); many points
    at once use the network's snapping grid instead.
    """
    if len(x) > 200:
        from mapping.network import snap_points

        s = snap_points(net, x, y, snap_to=cand.snap_to)
        return s.seg, s.t, s.offroad_m, s.x, s.y
    ends = net.segment_ends()
    boxes = _segment_boxes(net)
    lo_x, hi_x, lo_y, hi_y = (b[cand.cand] for b in boxes)
    out = [np.empty(len(x), dtype=np.int64)] + [np.empty(len(x)) for _ in range(4)]
    todo = np.arange(len(x))
    r = 500.0
    while len(todo):
        x0, x1 = x[todo].min() - r, x[todo].max() + r
        y0, y1 = y[todo].min() - r, y[todo].max() + r
        near = np.flatnonzero((hi_x >= x0) & (lo_x <= x1) & (hi_y >= y0) & (lo_y <= y1))
        if len(near) == 0 and len(near) < len(cand.cand):
            r *= 4.0
            continue
        res = nearest_segments_brute(*ends, cand.cand[near], x[todo], y[todo])
        # exact where the nearest lies within the box around the point (its distance to
        # the box's edge); everything is exact once the box holds every candidate
        room = np.minimum.reduce([x[todo] - x0, x1 - x[todo], y[todo] - y0, y1 - y[todo]])
        done = (res[2] <= room) | (len(near) == len(cand.cand))
        for k in range(5):
            out[k][todo[done]] = res[k][done]
        todo = todo[~done]
        r *= 4.0
    return tuple(out)


def _segment_boxes(net: RoadNetwork) -> tuple[np.ndarray, ...]:
    """``(min x, max x, min y, max y)`` of every segment (m), kept in the network's cache
    (a patched network inherits its parent's, see :func:`patch_network`)."""
    key = ("segment_boxes",)
    if key not in net._cache:
        ax, ay, bx, by = net.segment_ends()
        net._cache[key] = (
            np.minimum(ax, bx),
            np.maximum(ax, bx),
            np.minimum(ay, by),
            np.maximum(ay, by),
        )
    return net._cache[key]


def _update_search(
    old_net: RoadNetwork,
    net: RoadNetwork,
    change: RoadChange,
    old: ServiceSearch,
    svc_snap: Snap,
    svc_moved: np.ndarray,
) -> ServiceSearch:
    """One nearest-service search on the new network, redone where the change reaches."""
    m = old.metric
    n_old, n = change.n_old_nodes, net.n_nodes
    cost_old = old.node_cost
    svc_off = net.offroad_cost(svc_snap.offroad_m, m)

    # 1. the nodes whose shortest path used something that went or got slower
    invalid_segs = np.flatnonzero(change.seg_map < 0)
    if m == "time" and len(change.slower):
        back = np.full(net.n_segments, -1, dtype=np.int64)
        mapped = change.seg_map >= 0
        back[change.seg_map[mapped]] = np.flatnonzero(mapped)
        invalid_segs = np.concatenate([invalid_segs, back[change.slower]])
    svc_changed = svc_moved | (svc_off != old.svc_off_cost)
    affected = _affected_nodes(old_net, old, invalid_segs, svc_changed)

    masked = np.full(n, np.inf)
    masked[:n_old] = np.where(affected, np.inf, cost_old)
    label = np.full(n, -1, dtype=np.int64)
    label[:n_old] = np.where(affected, -1, old.node_service)

    # 2. seeds: arcs from the affected (and new) nodes to settled ones, arcs of new or faster
    #    segments, and every service's entry to the network
    g = net.graph(m)
    redo = np.zeros(n, dtype=bool)
    redo[:n_old] = affected
    redo[n_old:] = True
    rows = np.flatnonzero(redo)
    counts = np.diff(g.indptr)[rows]
    pos = np.repeat(g.indptr[rows], counts) + (
        np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    src = np.repeat(rows, counts)
    dst = g.indices[pos].astype(np.int64)
    w = g.data[pos]
    ok = np.isfinite(masked[dst])
    seed_node = [src[ok]]
    seed_cost = [masked[dst[ok]] + w[ok]]
    seed_label = [label[dst[ok]]]

    new_segs = np.concatenate([change.added, change.pieces[1], change.faster]).astype(np.int64)
    if len(new_segs):
        su, sv = net.seg_u[new_segs], net.seg_v[new_segs]
        wt = net.seg_cost(m)[new_segs]
        fw, bw = net.seg_fwd[new_segs], net.seg_bwd[new_segs]
        a_src = np.concatenate([su[fw], sv[bw]])
        a_dst = np.concatenate([sv[fw], su[bw]])
        a_w = np.concatenate([wt[fw], wt[bw]])
        ok = np.isfinite(masked[a_dst])
        seed_node.append(a_src[ok])
        seed_cost.append(masked[a_dst[ok]] + a_w[ok])
        seed_label.append(label[a_dst[ok]])

    s_idx, s_node, s_cost = entry_arcs(net, svc_snap, svc_off, m)
    seed_node.append(s_node)
    seed_cost.append(s_cost)
    seed_label.append(s_idx)

    node = np.concatenate(seed_node).astype(np.int64)
    cost = np.concatenate(seed_cost)
    lab = np.concatenate(seed_label).astype(np.int64)
    fresh, who = improved_costs(net.rgraph(m), node, cost, lab, masked)
    better = fresh < masked
    return ServiceSearch(
        metric=m,
        node_cost=np.where(better, fresh, masked),
        node_service=np.where(better, who, label),
        svc_snap=svc_snap,
        svc_off_cost=svc_off,
    )


def _affected_nodes(
    net: RoadNetwork, search: ServiceSearch, invalid_segs: np.ndarray, svc_changed: np.ndarray
) -> np.ndarray:
    """Old nodes whose cost may rise: those whose cost an invalid arc may carry.

    A node is *cut* when an arc that went (or got slower) leads from it to a neighbour that
    gives it its cost, or when its cost is the entry of a service that moved. Every node
    whose cost a cut node may give (a neighbour for which the arc to it is tight), and so on,
    is affected: a breadth-first walk from the cut nodes along tight arcs, which only visits
    the affected region. A node with another tight neighbour is taken too: more than needed,
    never less, and its cost is simply found again.
    """
    n = net.n_nodes
    cost = search.node_cost
    m = search.metric
    cut = np.zeros(n, dtype=bool)
    s_idx, s_node, s_cost = entry_arcs(net, search.svc_snap, search.svc_off_cost, m)
    at_entry = np.abs(s_cost - cost[s_node]) <= _TIGHT_REL * np.maximum(s_cost, 1.0)
    cut[s_node[at_entry & svc_changed[s_idx]]] = True
    if len(invalid_segs):
        su, sv = net.seg_u[invalid_segs], net.seg_v[invalid_segs]
        w = net.seg_cost(m)[invalid_segs]
        fw, bw = net.seg_fwd[invalid_segs], net.seg_bwd[invalid_segs]
        with np.errstate(invalid="ignore"):
            tol_u = _TIGHT_REL * np.maximum(np.abs(cost[su]), 1.0)
            tol_v = _TIGHT_REL * np.maximum(np.abs(cost[sv]), 1.0)
            tight_uv = fw & np.isfinite(cost[su]) & (np.abs(cost[sv] + w - cost[su]) <= tol_u)
            tight_vu = bw & np.isfinite(cost[sv]) & (np.abs(cost[su] + w - cost[sv]) <= tol_v)
        cut[su[tight_uv]] = True
        cut[sv[tight_vu]] = True
    if not cut.any():
        return cut
    rg = net.rgraph(m)  # row y holds the arcs x -> y: the nodes y may give their cost
    return _tight_walk(
        rg.indptr, rg.indices, rg.data, cost, np.flatnonzero(cut).astype(np.int64), _TIGHT_REL
    )


@nb.njit(cache=True)
def _tight_walk(indptr, indices, data, cost, start, rel):  # pragma: no cover - compiled
    n = len(indptr) - 1
    seen = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    head, tail = 0, 0
    for s in start:
        if not seen[s]:
            seen[s] = True
            queue[tail] = s
            tail += 1
    while head < tail:
        y = queue[head]
        head += 1
        cy = cost[y]
        for e in range(indptr[y], indptr[y + 1]):
            x = indices[e]
            if seen[x]:
                continue
            cx = cost[x]
            if not np.isfinite(cx):
                continue
            tol = rel * max(abs(cx), 1.0)
            if abs(cy + data[e] - cx) <= tol:
                seen[x] = True
                queue[tail] = x
                tail += 1
    return seen
