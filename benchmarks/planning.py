"""County-sized timing of the planning functions (a script, not a test: timings vary by machine).

Run ``python -m tests.planning_timing`` or call :func:`time_planning` (e.g. from the benchmark).
Synthetic data from :mod:`benchmarks.synthetic` (fictional, deterministic).
"""

from __future__ import annotations

import time

import geopandas as gpd
import pandas as pd

from benchmarks.synthetic import UTM, as_services, make_roads, place_points
from layers.households import validate_households
from layers.villages import validate_villages
from mapping.analysis import run_analysis
from mapping.network import build_network
from mapping.planning import suggest_sites
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings


def time_planning(
    n_nodes: int = 100_000,
    n_households: int = 30_000,
    n_villages: int = 2_000,
    n_services: int = 30,
    k: int = 10,
    grid_m: float | None = 1000.0,
    seed: int = 7,
    objectives: tuple[str, ...] = ("coverage", "distance"),
) -> dict[str, float]:
    """Seconds for ``suggest_sites`` (coverage and distance) on a synthetic county.

    Returns a dict with the sizes, the candidate count and the wall-clock seconds of each step.
    """
    syn = make_roads(n_nodes, seed)
    hh, _ = place_points(syn, n_households, seed=seed + 1)
    vil, _ = place_points(syn, n_villages, seed=seed + 2, offroad_m=50.0)
    svc_pts, _ = place_points(syn, n_services, seed=seed + 3)
    vil = vil.assign(
        village_id=vil.index,
        village_name=vil.index,
        boundary=gpd.GeoSeries([None] * len(vil), crs="EPSG:4326", index=vil.index),
        source="file",
    )
    hh = hh.assign(
        household_id=hh.index,
        village_name=pd.array([pd.NA] * len(hh), dtype="str"),
        name=pd.array([pd.NA] * len(hh), dtype="str"),
        phone=pd.array([pd.NA] * len(hh), dtype="str"),
        children=pd.array((hh.index.str[1:].astype(int) % 3).to_numpy(), dtype="Int64"),
        source_row=pd.array(range(2, len(hh) + 2), dtype="Int64"),
    )
    sc = Scenario(
        roads=syn.roads,
        villages=validate_villages(vil),
        households=validate_households(hh),
        services=as_services(svc_pts),
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )
    settings = AnalysisSettings(mode="motorbike", kinds=("kindergarten",))
    out: dict[str, float] = {"nodes": float(syn.roads.n_nodes), "households": n_households}
    t = time.perf_counter()
    net = build_network(syn.roads, settings, crs=UTM)
    a = run_analysis(sc, settings, network=net)
    out["analysis_s"] = time.perf_counter() - t
    cands = "villages+grid" if grid_m else "villages"
    for objective in objectives:
        t = time.perf_counter()
        sites = suggest_sites(
            a, "kindergarten", k, objective=objective, candidates=cands, grid_m=grid_m
        )
        out[f"{objective}_s"] = time.perf_counter() - t
        out[f"{objective}_method"] = sites["method"].iloc[0] if len(sites) else "none"
        out[f"{objective}_newly_covered"] = float(sites["newly_covered_households"].sum())
    from mapping.planning import build_candidates

    out["candidates"] = float(len(build_candidates(a, cands, grid_m)))
    return out


if __name__ == "__main__":
    # both objectives on villages + a 1 km grid (about 12.5k candidates)
    for key, value in time_planning().items():
        print(f"{key:>26}: {value}")
