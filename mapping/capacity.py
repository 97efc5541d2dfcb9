"""Places against children: the two-step floating catchment area (2SFCA) on our roads.

Step 1: each service's *catchment* is every household within the threshold by road; its
supply/demand ratio is its capacity (places) divided by the demand (children, or households)
in the catchment. Step 2: each household's score is the sum of the ratios of the services
whose catchment it is in -- places per child within reach (Luo & Wang 2003). The distances
are the road distances of :mod:`mapping.access` (both off-road legs), computed for every
household-service pair within the threshold by :func:`mapping.routing.compute_cost_pairs`.
The numbers equal PySAL ``access``'s ``two_stage_fca`` on the same cost table (tested).

A service whose capacity is unknown is left out of both steps (its places cannot be counted)
and says so in ``excluded_reason``; a service with no demand in its catchment has no ratio and
adds nothing to anyone's score.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from layers import i18n
from layers.errors import InputError
from mapping.analysis import Analysis
from mapping.routing import compute_cost_pairs

#: ``excluded_reason`` of a service without a known capacity.
REASON_NO_CAPACITY = "no_capacity"
DEMANDS = ("children", "households")

i18n.register(
    {
        "error.capacity.demand": {
            "zh": "需求类型“{value}”无效，可选：{choices}。",
            "en": "'{value}' is not a valid demand; choose one of: {choices}.",
        },
        "error.capacity.no_children": {
            "zh": "按儿童数计算需求需要住户表中的“children”（儿童数）列，但该列没有任何数值。"
            "请补充儿童数，或改为按户数计算。",
            "en": "Counting demand in children needs the households' 'children' column, but it "
            "has no values. Add the number of children, or count households.",
        },
    }
)


def compute_2sfca(
    analysis: Analysis,
    kind: str,
    *,
    threshold_m: float | None = None,
    demand: str = "children",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two-step floating catchment scores for ``kind``.

    Parameters
    ----------
    analysis
        An analysis that includes ``kind``; proposals applied with
        :func:`mapping.analysis.apply_proposals` count as services (with their capacity).
    kind
        Service kind.
    threshold_m
        Catchment size (m by road, inclusive at the millimetre); default the analysis'
        threshold for ``kind``.
    demand
        ``children`` (the households' ``children``, unknown counted as 0) or ``households``
        (each household counts 1).

    Returns
    -------
    tuple of pandas.DataFrame
        Households (their index): ``demand``, ``n_services_within_<kind>`` (services with a
        known capacity within the threshold) and ``places_per_child_<kind>`` (or
        ``places_per_household_<kind>``): the score, 0 when no counted service is in reach.
        Services (their index): ``name``, ``capacity``, ``demand_in_catchment``,
        ``n_households_in_catchment``, ``supply_demand_ratio`` (places per unit of demand; NaN
        when excluded or when the catchment is empty), ``over_subscribed`` (demand in the
        catchment greater than capacity; NA when excluded) and ``excluded_reason``
        (:data:`REASON_NO_CAPACITY`, or NA).

    Raises
    ------
    InputError
        For a kind not in the analysis, an unknown ``demand``, or children demand without
        children data.
    """
    if kind not in analysis.access:
        raise InputError("error.planning.kind", kind=kind, kinds=", ".join(analysis.access))
    if demand not in DEMANDS:
        raise InputError("error.capacity.demand", value=demand, choices=", ".join(DEMANDS))
    hh = analysis.households
    if demand == "children" and not ("children" in hh and hh["children"].notna().any()):
        raise InputError("error.capacity.no_children")
    thr = float(analysis.settings.threshold_m(kind) if threshold_m is None else threshold_m)
    acc = analysis.access[kind]
    svc = acc.services
    if demand == "children":
        dem = hh["children"].astype("Float64").fillna(0).to_numpy(dtype=float)
    else:
        dem = np.ones(len(hh))

    pairs = compute_cost_pairs(
        analysis.network, acc.dist.svc_snap, analysis.hh_snap, limit=thr + 5e-4
    )
    # the threshold is inclusive at the millimetre, as for the gap flags
    ok = np.round(pairs.cost, 3) <= thr
    p, s = pairs.point[ok], pairs.source[ok]

    cap = svc["capacity"].astype("Float64")
    counted = cap.notna().to_numpy()
    cap_v = cap.fillna(0).to_numpy(dtype=float)
    n_svc = len(svc)
    dem_in = np.bincount(s, weights=dem[p], minlength=n_svc)
    hh_in = np.bincount(s, minlength=n_svc)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(counted & (dem_in > 0), cap_v / dem_in, np.nan)

    use = counted[s] & np.isfinite(ratio[s])
    score = np.bincount(p[use], weights=ratio[s][use], minlength=len(hh))
    n_within = np.bincount(p[counted[s]], minlength=len(hh))
    unit = "child" if demand == "children" else "household"
    per_hh = pd.DataFrame(
        {
            "demand": dem,
            f"n_services_within_{kind}": n_within.astype(np.int64),
            f"places_per_{unit}_{kind}": score,
        },
        index=hh.index,
    )
    per_svc = pd.DataFrame(
        {
            "name": svc["name"].to_numpy(),
            "capacity": cap.astype("Int64").to_numpy(),
            "demand_in_catchment": dem_in,
            "n_households_in_catchment": hh_in.astype(np.int64),
            "supply_demand_ratio": ratio,
            "over_subscribed": pd.array(np.where(counted, dem_in > cap_v, None), dtype="boolean"),
            "excluded_reason": pd.array(np.where(counted, None, REASON_NO_CAPACITY), dtype="str"),
        },
        index=svc.index,
    )
    per_svc["threshold_m"] = thr
    return per_hh, per_svc


def compute_village_2sfca(
    analysis: Analysis, household_scores: pd.DataFrame, kind: str
) -> gpd.GeoDataFrame:
    """Per-village summary of :func:`compute_2sfca`'s household scores.

    Returns
    -------
    geopandas.GeoDataFrame
        On the villages' index (EPSG:4326 points): ``village_name``, ``n_households``,
        ``demand`` (sum), ``mean_places_per_<unit>_<kind>`` (the demand-weighted mean score:
        places per child in the village's reach; NaN when the village has no demand) and
        ``n_hh_no_places_<kind>`` (households with no counted service within the threshold).
    """
    score_col = next(c for c in household_scores if c.startswith("places_per_"))
    hh = analysis.households[["village_id"]].join(household_scores)
    hh["_wscore"] = hh[score_col] * hh["demand"]
    hh["_none"] = hh[f"n_services_within_{kind}"] == 0
    g = hh.groupby("village_id", sort=False)
    vil = analysis.villages[["village_name", "geometry"]].copy()
    idx = vil.index
    vil["n_households"] = g.size().reindex(idx).fillna(0).astype("int64")
    vil["demand"] = g["demand"].sum().reindex(idx).fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = g["_wscore"].sum().reindex(idx) / vil["demand"].replace(0, np.nan)
    vil[f"mean_{score_col}"] = mean
    vil[f"n_hh_no_places_{kind}"] = g["_none"].sum().reindex(idx).fillna(0).astype("int64")
    return gpd.GeoDataFrame(vil, geometry="geometry", crs=analysis.villages.crs)
