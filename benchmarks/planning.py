"""County-sized timing of the planning functions (a script, not a test: timings vary by machine).

Run ``python -m benchmarks.planning`` or call :func:`time_planning` (e.g. from the benchmark).
Synthetic data from :mod:`benchmarks.synthetic` (fictional, deterministic).
"""

from __future__ import annotations

import time

from benchmarks.synthetic import UTM, make_scenario
from mapping.analysis import run_analysis
from mapping.network import build_network
from mapping.planning import suggest_sites
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
    syn, sc = make_scenario(n_nodes, n_households, n_villages, n_services, seed)
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
