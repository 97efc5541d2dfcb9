"""Road distance and travel time from every point to the nearest service of a kind.

One multi-source Dijkstra per service kind and metric gives, for every network node, the
distance to the nearest service and which service it is; each point then reads its answer
from the two ends of the segment it snapped to. There is never one search per household.

How a trip is measured: the point's off-road leg (straight, to the nearest road), along the
roads (respecting one-way streets for vehicles), then the service's own off-road leg from
the road to the service's point. Off-road legs are timed at walking speed.

Services enter the search as *virtual nodes* hung onto their segment: in the reversed graph
(searching towards services) a service on segment (a, b) at position t has arcs to a
(cost t x segment) when the segment may be travelled a->b, and to b ((1-t) x segment) when
b->a is allowed. A point on the same segment as a service may reach it directly along the
segment; that case is added separately, since the node-based answer would make it turn at a
segment end.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from mapping.network import RoadNetwork, Snap, snap_points
from mapping.pruned import improved_costs
from mapping.routing import entry_arcs, same_segment_pairs, with_virtual_sources

#: From this many nodes up, :func:`add_services` searches with the pruned search
#: (:mod:`mapping.pruned`, compiled by numba: a few seconds the first time on a computer, then
#: cached on disk); below it, a whole scipy search from the new services takes < 5 ms.
PRUNED_SEARCH_MIN_NODES = 30_000

#: Reasons a point has no road distance (values of ``unreachable_<kind>``).
REASON_NO_SERVICE = "no_service"
REASON_NOT_CONNECTED = "not_connected"


@dataclass(frozen=True)
class ServiceSearch:
    """The result of one multi-source search towards a set of services.

    Attributes
    ----------
    metric
        ``len`` (metres) or ``time`` (seconds).
    node_cost
        Cost from each network node to its nearest service (``inf`` when none is reachable).
    node_service
        Index (into the service arrays) of that nearest service, -1 when none.
    svc_snap, svc_off_cost
        The services' snaps and the cost of their off-road legs.
    node_next
        The next node on each node's way to its nearest service (the search's predecessor
        in the reversed graph); ``n_nodes + j`` when the next stop is service ``j`` itself,
        negative when no service is reachable. None when the search did not keep them
        (:func:`add_services`): :mod:`mapping.routes` then runs one search for them.
    """

    metric: str
    node_cost: np.ndarray
    node_service: np.ndarray
    svc_snap: Snap
    svc_off_cost: np.ndarray
    node_next: np.ndarray | None = None


def search_services(
    net: RoadNetwork, svc_snap: Snap, metric: str = "len", *, limit: float = np.inf
) -> ServiceSearch:
    """Run one multi-source Dijkstra from all services (towards them) over the network.

    Parameters
    ----------
    net
        The network.
    svc_snap
        Where the services meet the roads.
    metric
        ``len`` for metres, ``time`` for seconds.
    limit
        Stop the search at this cost; nodes beyond it get ``inf``.

    Returns
    -------
    ServiceSearch
        Per-node cost to, and index of, the nearest service.
    """
    n, k = net.n_nodes, len(svc_snap)
    svc_off = net.offroad_cost(svc_snap.offroad_m, metric)
    if k == 0:
        return ServiceSearch(
            metric, np.full(n, np.inf), np.full(n, -1, dtype=np.int64), svc_snap, svc_off
        )
    graph = with_virtual_sources(net, svc_snap, svc_off, metric)
    dist, pred, sources = dijkstra(
        graph,
        directed=True,
        indices=np.arange(n, n + k),
        min_only=True,
        return_predecessors=True,
        limit=limit,
    )
    node_service = np.where(sources[:n] >= n, sources[:n] - n, -1).astype(np.int64)
    return ServiceSearch(metric, dist[:n], node_service, svc_snap, svc_off, pred[:n])


def point_costs(
    net: RoadNetwork, search: ServiceSearch, snap: Snap
) -> tuple[np.ndarray, np.ndarray]:
    """Cost from each snapped point to its nearest service, and that service's index.

    The point leaves its segment by either end (the legs :meth:`mapping.network.Snap.exit_costs`
    allows) or goes straight along it to a service on the same segment
    (:func:`mapping.routing.same_segment_pairs`); its off-road leg is added.

    Returns ``(cost, service_index)``; ``inf`` and -1 where no service is reachable.
    """
    m = search.metric
    u, v = net.seg_u[snap.seg], net.seg_v[snap.seg]
    exit_u, exit_v = snap.exit_costs(net, m)
    via_u = exit_u + search.node_cost[u]  # a forbidden exit is inf, and stays inf
    via_v = exit_v + search.node_cost[v]
    best = np.minimum(via_u, via_v)
    who = np.where(via_v <= via_u, search.node_service[v], search.node_service[u])

    # a service on the point's own segment, reached straight along it
    if len(search.svc_snap) and len(snap):
        same_cost, same_who = _same_segment(net, search, snap)
        better = same_cost < best
        best = np.where(better, same_cost, best)
        who = np.where(better, same_who, who)
    who = np.where(np.isfinite(best), who, -1)
    return best + net.offroad_cost(snap.offroad_m, m), who


def _same_segment(
    net: RoadNetwork, search: ServiceSearch, snap: Snap
) -> tuple[np.ndarray, np.ndarray]:
    """Cost to the best service on each point's own segment (straight along it), and its
    index; ``inf`` and -1 where there is none."""
    out_cost = np.full(len(snap), np.inf)
    out_who = np.full(len(snap), -1, dtype=np.int64)
    p, s, c = same_segment_pairs(net, search.svc_snap, snap, search.metric)
    if len(p) == 0:
        return out_cost, out_who
    # the cheapest pair of each point; ties go to the lowest service index
    first = np.lexsort((s, c, p))
    keep = first[np.concatenate([[True], p[first][1:] != p[first][:-1]])]
    out_cost[p[keep]] = c[keep]
    out_who[p[keep]] = s[keep]
    return out_cost, out_who


@dataclass(frozen=True)
class KindAccess:
    """The searches towards all services of one kind, ready to answer any points.

    Attributes
    ----------
    kind
        The service kind.
    services
        Those services (EPSG:4326), in the order of the searches' service indices.
    svc_xy
        Their projected positions (network CRS, m), for straight-line distances.
    dist, time
        The distance (m) and time (s) searches; ``time`` is None when not asked for.
    """

    kind: str
    services: gpd.GeoDataFrame
    svc_xy: np.ndarray
    dist: ServiceSearch
    time: ServiceSearch | None


def prepare_access(
    net: RoadNetwork,
    services: gpd.GeoDataFrame,
    kind: str,
    *,
    snap_to: str = "largest",
    with_time: bool = True,
    snap: Snap | None = None,
) -> KindAccess:
    """Snap the services of ``kind`` and run the distance and time searches towards them.

    Parameters
    ----------
    net
        The routing network.
    services
        Services layer (EPSG:4326); only rows of ``kind`` are used.
    kind
        Service kind.
    snap_to
        Which road segments services may snap to.
    with_time
        Also run the travel-time search (a second Dijkstra); without it
        :func:`access_table` gives no ``time_<kind>_min`` column.
    snap
        The snaps of all rows of ``services``, when the caller has them already.
    """
    mask = (services["kind"] == kind).to_numpy()
    svc = services[mask]
    x, y = net.project_points(svc)
    if snap is None:
        svc_snap = snap_points(net, x, y, snap_to=snap_to)
    else:
        svc_snap = snap.take(np.flatnonzero(mask))
    return KindAccess(
        kind=kind,
        services=svc,
        svc_xy=np.column_stack([x, y]),
        dist=search_services(net, svc_snap, "len"),
        time=search_services(net, svc_snap, "time") if with_time else None,
    )


def add_services(
    net: RoadNetwork,
    access: KindAccess,
    new: gpd.GeoDataFrame,
    *,
    snap_to: str = "largest",
    snap: Snap | None = None,
) -> KindAccess:
    """Add services (e.g. a proposed kindergarten) without redoing the whole search.

    Adding sources can only shorten costs, so the new answer is the old one wherever the
    new services do not beat it. The search from the new services
    (:func:`mapping.pruned.improved_costs`) only expands the nodes they improve: for a
    proposed kindergarten, the area it would now be nearest for. Exact: the result equals a
    full search with all services (``tests/test_network_access.py``, ``benchmarks/`` row 3).

    Parameters
    ----------
    net
        The routing network.
    access
        The current searches for the kind.
    new
        The services to add (EPSG:4326, services schema; ``kind`` is not checked).
    snap_to
        Which road segments they may snap to.
    snap
        The snaps of ``new``, when the caller has them already.
    """
    if len(new) == 0:
        return access
    x, y = net.project_points(new)
    if snap is None:
        snap = snap_points(net, x, y, snap_to=snap_to)
    k_old = len(access.services)
    searches = []
    for old in (access.dist, access.time):
        if old is None:
            searches.append(None)
            continue
        off = net.offroad_cost(snap.offroad_m, old.metric)
        if net.n_nodes <= PRUNED_SEARCH_MIN_NODES:
            # a small network: one plain scipy search from the new services is as quick, and
            # needs no compiling on a computer that has never run the pruned search
            alone = search_services(net, snap, old.metric)
            fresh, who = alone.node_cost, alone.node_service
        else:
            svc, node, cost = entry_arcs(net, snap, off, old.metric)
            fresh, who = improved_costs(net.rgraph(old.metric), node, cost, svc, old.node_cost)
        better = fresh < old.node_cost
        searches.append(
            ServiceSearch(
                metric=old.metric,
                node_cost=np.where(better, fresh, old.node_cost),
                node_service=np.where(better, who + k_old, old.node_service),
                svc_snap=Snap.concat([old.svc_snap, snap]),
                svc_off_cost=np.concatenate([old.svc_off_cost, off]),
            )
        )
    services = pd.concat([access.services, new])
    return KindAccess(
        kind=access.kind,
        services=services,
        svc_xy=np.vstack([access.svc_xy, np.column_stack([x, y])]),
        dist=searches[0],
        time=searches[1],
    )


def access_columns(kind: str) -> list[str]:
    """The columns :func:`access_table` adds for ``kind``, in order."""
    return [
        f"dist_{kind}_m",
        f"time_{kind}_min",
        f"nearest_{kind}_id",
        f"nearest_{kind}",
        f"straight_{kind}_m",
        f"reachable_{kind}",
        f"unreachable_{kind}",
    ]


def access_table(
    net: RoadNetwork, access: KindAccess, points: gpd.GeoDataFrame, point_snap: Snap
) -> pd.DataFrame:
    """The access columns of ``points`` (see :func:`compute_service_access`)."""
    kind = access.kind
    dist, who = point_costs(net, access.dist, point_snap)
    reachable = np.isfinite(dist)
    found = who >= 0
    safe = np.where(found, who, 0)
    ids = access.services.index.to_numpy(dtype=object)
    names = access.services["name"].to_numpy(dtype=object)
    out = pd.DataFrame(index=points.index)
    out[f"dist_{kind}_m"] = np.where(reachable, dist, np.nan)
    if access.time is not None:
        secs, _ = point_costs(net, access.time, point_snap)
        out[f"time_{kind}_min"] = np.where(np.isfinite(secs), secs / 60.0, np.nan)
    if len(ids):
        out[f"nearest_{kind}_id"] = pd.array(np.where(found, ids[safe], None), dtype="str")
        out[f"nearest_{kind}"] = pd.array(np.where(found, names[safe], None), dtype="str")
    else:
        out[f"nearest_{kind}_id"] = pd.array([None] * len(out), dtype="str")
        out[f"nearest_{kind}"] = pd.array([None] * len(out), dtype="str")
    out[f"straight_{kind}_m"] = _straight_distance(net, points, access.svc_xy)
    out[f"reachable_{kind}"] = reachable
    reason = REASON_NOT_CONNECTED if len(ids) else REASON_NO_SERVICE
    out[f"unreachable_{kind}"] = pd.array(np.where(reachable, None, reason), dtype="str")
    return out


def compute_service_access(
    net: RoadNetwork,
    points: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    kind: str,
    *,
    snap_to: str = "largest",
    point_snap: Snap | None = None,
    with_time: bool = True,
) -> pd.DataFrame:
    """Road distance and time from every point to the nearest service of ``kind``.

    Parameters
    ----------
    net
        The routing network of the travel mode.
    points
        Households or villages (Points, EPSG:4326).
    services
        Services layer (EPSG:4326); only rows of ``kind`` are used.
    kind
        Service kind (``kindergarten``, ``school``, ``childcare``).
    snap_to
        Which road segments points may snap to (see :func:`mapping.network.snap_points`).
    point_snap
        The points' snaps when already computed (saves snapping again for each kind).
    with_time
        Also compute ``time_<kind>_min`` (a second search, by travel time).

    Returns
    -------
    pandas.DataFrame
        On ``points``' index: ``dist_<kind>_m`` (metres along the roads, off-road legs
        included), ``time_<kind>_min`` (fastest trip, minutes; it may end at another service
        than the nearest by distance), ``nearest_<kind>_id`` and ``nearest_<kind>`` (id and
        name of the nearest service by road distance), ``straight_<kind>_m`` (straight-line
        distance to the nearest service of the kind, always given when one exists),
        ``reachable_<kind>`` (bool) and ``unreachable_<kind>`` (reason, or missing: see
        :data:`REASON_NO_SERVICE`, :data:`REASON_NOT_CONNECTED`). Unreachable points have
        NaN distances and times, never ``inf`` or 0.
    """
    if point_snap is None:
        point_snap = snap_points(net, *net.project_points(points), snap_to=snap_to)
    access = prepare_access(net, services, kind, snap_to=snap_to, with_time=with_time)
    return access_table(net, access, points, point_snap)


def _straight_distance(
    net: RoadNetwork, points: gpd.GeoDataFrame, svc_xy: np.ndarray
) -> np.ndarray:
    if len(svc_xy) == 0 or len(points) == 0:
        return np.full(len(points), np.nan)
    px, py = net.project_points(points)
    d, _ = cKDTree(svc_xy).query(np.column_stack([px, py]))
    return d
