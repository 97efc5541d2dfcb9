"""``--coords auto`` on a county: snapping a sample against snapping every household.

``python benchmarks/coords_detect.py`` (``--quick`` for small sizes, ``--json PATH`` to save
the rows). Rows, in the format of ``benchmarks/run.py`` (ours, alternative, ratio, target,
pass, largest difference between the two answers):

D1. **Tell the coordinate system of a county's households**: 20,000 households written in
    GCJ-02 and read as WGS84, on a synthetic county (100k road nodes, 2,000 villages, 30
    kindergartens). *Ours* = :func:`mapping.coorddetect.measure_coords`: an even sample of
    :data:`~mapping.coorddetect.MAX_SAMPLE` households read in the three systems, the roads
    near them binned and snapped (:mod:`mapping.snapgrid`). *Alternative* = what the user
    waits for anyway: ``run_analysis`` of the same county (network built, kindergartens and
    schools). Must choose GCJ-02. Target: <= 0.2x (most of it is fixed: projecting and
    binning the county's roads, done once for all the files of a run).
D2. **A sample against every household**: the same with all 20,000 measured; the difference
    column is the largest gap between the two runs' medians (m); both must choose GCJ-02.
    Informational (the fixed part, projecting and binning the roads, is most of either).
D3. **With the app's network**: ``network=`` (the routing network's own snapping grid over
    every segment, built once per network) against building the grid from the road arrays
    as D1 does. Informational.

Synthetic data: :mod:`benchmarks.synthetic` (fictional, deterministic). Times are wall
clock, best of a few repeats, ours and the alternative called in turn; the first calls
(numba compiling the snapping loops) happen before the timing.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.run import HEADER, Row, best_of, format_row, script_main  # noqa: E402
from benchmarks.synthetic import make_scenario, place_points  # noqa: E402
from layers.coords import wgs84_to_gcj02  # noqa: E402
from mapping.coorddetect import MAX_SAMPLE, measure_coords  # noqa: E402
from mapping.network import build_network  # noqa: E402


def row_county(sc, repeats: int) -> list[Row]:
    from mapping.analysis import run_analysis
    from mapping.settings import AnalysisSettings

    roads = sc.roads
    lon, lat = wgs84_to_gcj02(sc.households.geometry.x, sc.households.geometry.y)
    measure_coords(lon[:100], lat[:100], roads, read_as="wgs84")  # compile the loops
    settings = AnalysisSettings(kinds=("kindergarten",))
    run_analysis(sc, settings)  # compile its loops too
    t_ours = t_full = t_analysis = np.inf
    for _ in range(repeats):  # in turn, so that both meet the same load
        t, ours = best_of(lambda: measure_coords(lon, lat, roads, read_as="wgs84"), 1)
        t_ours = min(t_ours, t)
        t, full = best_of(
            lambda: measure_coords(lon, lat, roads, read_as="wgs84", max_points=len(lon)), 1
        )
        t_full = min(t_full, t)
        t_analysis = min(t_analysis, best_of(lambda: run_analysis(sc, settings), 1)[0])
    medians = ", ".join(f"{s} {m:.0f} m" for s, m in ours.medians_m.items())
    size = f"{len(lon):,} households, {roads.n_nodes // 1000}k nodes"
    rows = [
        Row(
            row=f"D1 detect vs the analysis ({size})",
            ours=t_ours,
            alt=t_analysis,
            unit="s",
            ratio=t_ours / t_analysis,
            target="<= 0.2x",
            ok=ours.best == "gcj02" and ours.strong and t_ours <= 0.2 * t_analysis,
            max_abs_diff_m=None,
            note=f"sample {MAX_SAMPLE}; chosen {ours.best} ({medians}, "
            f"{100 * ours.win_share:.0f}% nearer)",
        ),
        Row(
            row="D2 detect: a sample vs every household",
            ours=t_ours,
            alt=t_full,
            unit="s",
            ratio=t_ours / t_full,
            target="-",
            ok=None if full.best == ours.best == "gcj02" else False,
            max_abs_diff_m=max(abs(ours.medians_m[s] - full.medians_m[s]) for s in ours.medians_m),
            note=f"every household: chosen {full.best}",
        ),
    ]
    net = build_network(roads)
    measure_coords(lon[:100], lat[:100], None, read_as="wgs84", network=net)  # its grid
    t_with, with_net = best_of(
        lambda: measure_coords(lon, lat, None, read_as="wgs84", network=net), repeats
    )
    rows.append(
        Row(
            row="D3 detect with the app's network",
            ours=t_with,
            alt=t_ours,
            unit="s",
            ratio=t_with / t_ours,
            target="-",
            ok=None,
            max_abs_diff_m=max(
                abs(with_net.medians_m[s] - ours.medians_m[s]) for s in ours.medians_m
            ),
            note="the network's snapping grid over every segment (built once per network)",
        )
    )
    return rows


def run(quick: bool, out=print) -> list[Row]:
    n_nodes, n_hh, n_vil = (20_000, 5_000, 500) if quick else (100_000, 20_000, 2_000)
    out(HEADER)
    syn, sc = make_scenario(n_nodes, n_hh, n_vil, 30, seed=3)
    # households as a phone survey records them: 5-30 m from a road (the synthetic county's
    # own are up to 150 m off, as the routing rows want)
    homes, _ = place_points(syn, n_hh, seed=7, offroad_m=30.0)
    sc = sc.replace(households=sc.households.set_geometry(homes.geometry.values))
    rows = row_county(sc, repeats=3)
    for row in rows:
        out(format_row(row))
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
