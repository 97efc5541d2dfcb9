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
candidates from their virtual nodes (:func:`mapping.routing.compute_cost_pairs`) -- never one
search per pair -- over only the part of the network a useful route can use (a route is never shorter than the straight line, and a
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
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from layers import i18n
from layers.errors import InputError, NoDataError
from mapping.analysis import Analysis
from mapping.network import Snap, snap_points
from mapping.routing import CostPairs, compute_cost_pairs, concat_ranges

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
        "error.planning.k_too_many": {
            "zh": "一次最多建议 {most} 个新增选址，收到的是 {k}。请减少数量，或分区域做选址。",
            "en": "At most {most} new sites can be suggested at once; got {k}. Ask for fewer, "
            "or plan part of the study area at a time.",
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
        "error.planning.grid_too_fine": {
            "zh": "网格间距 {grid} 米太小：研究区（{width_km}×{height_km} 公里）会有约 {n_grid} 个"
            "网格候选点，加上 {n_villages} 个村庄，超过了最多 {most} 个候选点的上限。"
            "请把网格间距设为至少 {smallest} 米。",
            "en": "A grid of {grid} m is too fine: over the study area ({width_km} x {height_km} "
            "km) it would give about {n_grid} grid candidates besides the {n_villages} villages, "
            "more than the {most} candidate sites that can be compared. Use a grid spacing of at "
            "least {smallest} m.",
        },
        "error.planning.too_many_candidates": {
            "zh": "候选地点太多：有 {n_villages} 个村庄点，最多只能比较 {most} 个候选点。"
            "请只对研究区的一部分（更少的村庄）做选址。",
            "en": "Too many candidate sites: {n_villages} village points, and at most {most} "
            "candidates can be compared. Plan for part of the study area (fewer villages).",
        },
        "error.planning.no_room_for_grid": {
            "zh": "{n_villages} 个村庄点已接近最多 {most} 个候选点的上限，没有余地再加网格候选点。"
            "请只用村庄作候选点，或只对研究区的一部分做选址。",
            "en": "The {n_villages} village points leave no room for grid candidates (at most "
            "{most} candidate sites in all). Use the villages alone as candidates, or plan for "
            "part of the study area.",
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

#: Most candidate sites (villages plus grid points) one suggestion compares. The road
#: searches and the pairs they keep grow with the candidates: on the benchmark county (100k
#: road nodes, 30,000 households) 12,481 candidates took 15 s and 0.5 GB for the distance
#: objective (benchmarks/ row 7), 42,667 (a 500 m grid) 2.5 min and 3.7 GB. Up to this many,
#: a county stays within about 1 GB on a workshop laptop; more are refused before any work
#: (issue 10).
MAX_CANDIDATES = 20_000

#: Most new sites one suggestion adds: each greedy round passes over all the pairs (a county
#: holds millions), so a thousand sites would take many minutes; a workshop asks for a few.
MAX_NEW_SITES = 100

#: Cost (m) of a household that no existing service can reach, in the p-median: far beyond
#: any trip in a county, so that connecting such households comes first.
UNREACHED_PENALTY_M = 1_000_000.0


def _say(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    return progress or (lambda _msg: None)


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

    Raises
    ------
    InputError
        Before any work, when the spacing is not a finite positive number, when the villages
        and the grid over the study area's bounding box would exceed :data:`MAX_CANDIDATES`
        (the message gives the smallest whole-metre spacing that fits), or when the villages
        alone exceed it (or leave no room for a grid).
    """
    net = analysis.network
    vil = analysis.scenario.villages
    grid = candidates == "villages+grid"
    if grid:
        _check_grid_m(grid_m)
    counts = {"n_villages": f"{len(vil):,}", "most": f"{MAX_CANDIDATES:,}"}
    if len(vil) > MAX_CANDIDATES:
        raise InputError("error.planning.too_many_candidates", **counts)
    if grid and MAX_CANDIDATES - len(vil) < _MIN_GRID_ROOM:
        raise InputError("error.planning.no_room_for_grid", **counts)
    if grid:
        box = _grid_box(analysis)
        room = MAX_CANDIDATES - len(vil)
        n_grid = _grid_size(box, float(grid_m))
        if n_grid > room:
            raise InputError(
                "error.planning.grid_too_fine",
                grid=f"{float(grid_m):g}",
                width_km=f"{(box[2] - box[0]) / 1000:.1f}",
                height_km=f"{(box[3] - box[1]) / 1000:.1f}",
                n_grid=f"{n_grid:,.0f}" if n_grid < 1e15 else "> 10^15",
                **counts,
                smallest=f"{smallest_grid_m(box, room):,.0f}",
            )
    vx, vy = net.project_points(vil)
    ids = [np.asarray(vil.index.astype(str), dtype=object)]
    kinds = [np.full(len(vil), "village", dtype=object)]
    names = [vil["village_name"].astype(object).to_numpy() if len(vil) else np.array([], object)]
    xs, ys, snaps = [np.asarray(vx, float)], [np.asarray(vy, float)], [analysis.vil_snap]
    if grid:
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


#: A grid needs room for at least this many points (3 x 3: any spacing wider than the area).
_MIN_GRID_ROOM = 9


def _check_grid_m(grid_m) -> None:
    ok = isinstance(grid_m, (int, float, np.integer, np.floating)) and not isinstance(grid_m, bool)
    if not (ok and np.isfinite(grid_m) and grid_m > 0):
        raise InputError("error.planning.grid", grid=grid_m)


def _grid_box(analysis: Analysis) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` (m, network CRS) the grid covers: the study area's bounds, or the
    road network's extent when there is none."""
    net = analysis.network
    area = analysis.scenario.study_area
    if area is not None:
        area_p = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(net.crs).iloc[0]
        return tuple(float(b) for b in area_p.bounds)
    return float(net.x.min()), float(net.y.min()), float(net.x.max()), float(net.y.max())


def _grid_axis(lo: float, hi: float, grid_m: float) -> tuple[float, float]:
    """Start and stop of one grid axis (``np.arange(start, stop, grid_m)``)."""
    return float(np.floor(lo / grid_m) * grid_m), hi + grid_m


def _grid_size(box: tuple[float, float, float, float], grid_m: float) -> float:
    """Points of the grid over ``box`` before clipping to the study area, counted the way
    :func:`numpy.arange` counts, without making the grid; a float (``inf`` for a spacing so
    small that the count overflows)."""
    n = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        for lo, hi in ((box[0], box[2]), (box[1], box[3])):
            start, stop = _grid_axis(lo, hi, grid_m)
            steps = float(np.ceil((stop - start) / grid_m))
            if not (np.isfinite(steps) and steps >= 1):  # the division overflowed
                return np.inf
            n *= steps
    return n if np.isfinite(n) else np.inf


def smallest_grid_m(box: tuple[float, float, float, float], room: int) -> float:
    """The smallest whole-metre grid spacing whose grid over ``box`` (m) has at most ``room``
    points (``room`` >= 9).

    The count ``n(s)`` lies between ``w h / s^2`` and ``(w / s + 2)(h / s + 2)``, so the
    answer lies between ``sqrt(w h / room)`` and the root of the second bound; the few whole
    metres between the two are tried in order.
    """
    w, h = box[2] - box[0], box[3] - box[1]
    lo = max(1, math.floor(math.sqrt(w * h / room)))
    hi = ((w + h) + math.sqrt((w + h) ** 2 + (room - 4) * w * h)) / (room - 4)
    for s in range(lo, math.ceil(hi) + 2):
        if _grid_size(box, float(s)) <= room:
            return float(s)
    return float(math.ceil(hi) + 1)  # pragma: no cover - the bound above always fits


def _grid_points(analysis: Analysis, grid_m: float) -> tuple[np.ndarray, np.ndarray]:
    net = analysis.network
    area = analysis.scenario.study_area
    x0, y0, x1, y1 = _grid_box(analysis)
    gx = np.arange(*_grid_axis(x0, x1, grid_m), grid_m)
    gy = np.arange(*_grid_axis(y0, y1, grid_m), grid_m)
    xx, yy = (a.ravel() for a in np.meshgrid(gx, gy))
    if area is not None:
        area_p = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(net.crs).iloc[0]
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
        idx = by_point[concat_ranges(point_start[changed], point_start[changed + 1])]
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
        For a kind not in the analysis, ``k`` < 1 or above :data:`MAX_NEW_SITES`, an unknown
        option, a missing or non-finite grid spacing, a grid finer or more candidates than
        :data:`MAX_CANDIDATES` allows (see :func:`build_candidates`), or children weights
        without children data.
    NoDataError
        When there is no candidate at all.
    """
    say = _say(progress)
    if kind not in analysis.access:
        raise InputError("error.planning.kind", kind=kind, kinds=", ".join(analysis.access))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError("error.planning.k", k=k)
    if k > MAX_NEW_SITES:
        raise InputError("error.planning.k_too_many", k=f"{k:,}", most=MAX_NEW_SITES)
    _check_choice("objective", objective, OBJECTIVES)
    _check_choice("candidates", candidates, CANDIDATE_SETS)
    _check_choice("weight", weight, WEIGHTS)
    _check_choice("method", method, ("auto", "exact", "greedy"))
    if candidates == "villages+grid":
        _check_grid_m(grid_m)
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
