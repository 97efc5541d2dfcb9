"""The road route from villages and households to their nearest service, as lines.

A route is read from the search that gave the distance (:class:`mapping.access.ServiceSearch`
keeps each node's next node on the way to its nearest service), never from a second search per
point: the point's off-road leg to its road, along its segment to the end it leaves by (or
straight to a service on the same segment), node after node to the service's segment, along it
to where the service meets the road, and the service's own off-road leg. Its length is the
reported distance (``tests/test_routes.py`` checks it to the millimetre).

An analysis with proposals (:func:`mapping.analysis.apply_proposals`) extends its searches
without keeping next nodes; its routes then come from one new search per kind, with all the
services, proposals included.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapping.access import ServiceSearch, search_services
from mapping.analysis import Analysis
from mapping.network import RoadNetwork, Snap
from mapping.routing import same_segment_pairs

#: Columns of a routes layer, besides ``geometry``.
ROUTE_COLUMNS = (
    "layer",
    "from_id",
    "kind",
    "service_id",
    "service_name",
    "road_m",
    "offroad_m",
    "dist_m",
)


def _search_with_next(analysis: Analysis, kind: str) -> ServiceSearch:
    search = analysis.access[kind].dist
    if search.node_next is not None:
        return search
    return search_services(analysis.network, search.svc_snap, "len")


def _same_segment_best(
    net: RoadNetwork, search: ServiceSearch, snap: Snap
) -> tuple[np.ndarray, np.ndarray]:
    """Cost to the best service on each point's own segment and its index (inf, -1: none);
    the same choice as :func:`mapping.access.point_costs` makes."""
    cost = np.full(len(snap), np.inf)
    who = np.full(len(snap), -1, dtype=np.int64)
    p, s, c = same_segment_pairs(net, search.svc_snap, snap, search.metric)
    if len(p):
        first = np.lexsort((s, c, p))
        keep = first[np.concatenate([[True], p[first][1:] != p[first][:-1]])]
        cost[p[keep]] = c[keep]
        who[p[keep]] = s[keep]
    return cost, who


def trace_routes(
    analysis: Analysis, kind: str, layer: str = "villages", ids=None
) -> gpd.GeoDataFrame:
    """The road route of each village (or household) to its nearest service of ``kind``.

    Parameters
    ----------
    analysis
        A finished analysis (with or without proposals).
    kind
        A service kind of the analysis.
    layer
        ``villages`` or ``households``.
    ids
        Only these ids of the layer (default: all); points that reach no service get no route.

    Returns
    -------
    geopandas.GeoDataFrame
        One LineString per point with a route (EPSG:4326), with ``layer``, ``from_id``,
        ``kind``, ``service_id``, ``service_name``, ``road_m`` (along the roads),
        ``offroad_m`` (both off-road legs) and ``dist_m`` (their sum: the reported distance).
    """
    if layer not in ("villages", "households"):
        raise ValueError(f"layer must be 'villages' or 'households', not {layer!r}")
    net = analysis.network
    frame = analysis.villages if layer == "villages" else analysis.households
    snap = analysis.vil_snap if layer == "villages" else analysis.hh_snap
    rows = np.arange(len(frame))
    if ids is not None:
        wanted = pd.Index([str(i) for i in ids])
        rows = np.flatnonzero(frame.index.astype(str).isin(wanted))
    access = analysis.access[kind]
    search = _search_with_next(analysis, kind)
    sub = snap.take(rows)
    n = net.n_nodes

    # the same choice of exit as mapping.access.point_costs
    u, v = net.seg_u[sub.seg], net.seg_v[sub.seg]
    exit_u, exit_v = sub.exit_costs(net, "len")
    via_u = exit_u + search.node_cost[u]
    via_v = exit_v + search.node_cost[v]
    by_v = via_v <= via_u
    best = np.where(by_v, via_v, via_u)
    same_cost, same_who = _same_segment_best(net, search, sub)
    same = same_cost < best
    best = np.where(same, same_cost, best)

    px, py = net.project_points(frame.iloc[rows])
    svc = access.services
    svc_x, svc_y = access.svc_xy[:, 0], access.svc_xy[:, 1]
    svc_snap = search.svc_snap
    ids_out, kinds, svc_ids, svc_names, road, off, total, lines = [], [], [], [], [], [], [], []
    for i in range(len(rows)):
        if not np.isfinite(best[i]):
            continue
        coords = [(px[i], py[i]), (sub.x[i], sub.y[i])]
        if same[i]:
            j = int(same_who[i])
        else:
            node = int(v[i] if by_v[i] else u[i])
            steps = 0
            while node < n:
                coords.append((net.x[node], net.y[node]))
                node = int(search.node_next[node])
                steps += 1
                if node < 0 or steps > n:  # not on a tree: a bug, never a hang
                    raise RuntimeError("the search's next nodes do not lead to a service")
            j = node - n
        coords.append((svc_snap.x[j], svc_snap.y[j]))
        coords.append((svc_x[j], svc_y[j]))
        leg_off = float(sub.offroad_m[i] + svc_snap.offroad_m[j])
        dist = float(best[i] + sub.offroad_m[i])
        ids_out.append(str(frame.index[rows[i]]))
        kinds.append(kind)
        svc_ids.append(str(svc.index[j]))
        svc_names.append(None if pd.isna(svc["name"].iloc[j]) else str(svc["name"].iloc[j]))
        road.append(dist - leg_off)
        off.append(leg_off)
        total.append(dist)
        # repeated vertices (a point on its road, a service at a node) only cost bytes
        xy = np.array(coords, dtype=float)
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
        xy = xy[keep]
        if len(xy) == 1:
            xy = np.vstack([xy, xy])
        lines.append(shapely.linestrings(xy))
    out = gpd.GeoDataFrame(
        {
            "layer": pd.array([layer] * len(ids_out), dtype=object),
            "from_id": pd.array(ids_out, dtype=object),
            "kind": pd.array(kinds, dtype=object),
            "service_id": pd.array(svc_ids, dtype=object),
            "service_name": pd.array(svc_names, dtype=object),
            "road_m": np.array(road, dtype=float),
            "offroad_m": np.array(off, dtype=float),
            "dist_m": np.array(total, dtype=float),
        },
        geometry=gpd.GeoSeries(lines, crs=net.crs),
    )
    return out.to_crs("EPSG:4326")


def all_routes(analysis: Analysis, *, households: bool = False) -> gpd.GeoDataFrame:
    """The routes of every village (and household, with ``households=True``) to the nearest
    service of each kind of the analysis, in one layer (see :func:`trace_routes`)."""
    parts = []
    for kind in analysis.settings.kinds:
        parts.append(trace_routes(analysis, kind, "villages"))
        if households:
            parts.append(trace_routes(analysis, kind, "households"))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=4326)
