"""The evidence pack: village cards and the report PDF, timed against the printable map.

``python benchmarks/evidence.py`` (``--quick`` for small sizes, ``--json PATH`` to save the
rows). Rows, in the format of ``benchmarks/run.py``:

E1. **One village card** (draw and write the 1080 x 1920 PNG) of a synthetic county's
    farthest village; *alternative* = the printable map on A4 (draw and write its PNG), what
    a workshop printed before cards existed. Target: < 1 s.
E2. **Report and cards for 100 villages**: ``report.pdf`` with a page per village (100) and
    the 100 cards, on a synthetic county of 10k road nodes (2,000 households, 100 villages,
    all beyond a 300 m threshold); *alternative* = the printable map's PNG, once (the ratio
    says how many printable maps the whole pack costs). Target: < 60 s.

Synthetic data: :mod:`benchmarks.synthetic` (fictional, deterministic). Times are wall clock,
best of a few repeats (one for E2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.run import HEADER, Row, best_of, format_row, save_rows  # noqa: E402
from benchmarks.synthetic import UTM, make_scenario  # noqa: E402
from mapping.analysis import run_analysis  # noqa: E402
from mapping.cards import draw_village_card, write_card, write_cards  # noqa: E402
from mapping.mapmodel import build_map_model  # noqa: E402
from mapping.network import build_network  # noqa: E402
from mapping.printmap import draw_print_model, write_print_map  # noqa: E402
from mapping.report import write_report  # noqa: E402
from mapping.settings import AnalysisSettings  # noqa: E402

DAY = dt.date(2026, 11, 29)


def county(n_nodes: int, n_households: int, n_villages: int):
    settings = AnalysisSettings(thresholds_m={"kindergarten": 300.0, "school": 10_000.0})
    _, sc = make_scenario(n_nodes, n_households, n_villages, 3, seed=11)
    net = build_network(sc.roads, settings, crs=UTM)
    analysis = run_analysis(sc, settings, network=net)
    return build_map_model(analysis, lang="zh", made_on=DAY)


def print_png(model, folder: Path) -> None:
    fig = draw_print_model(model, paper="A4", orientation="landscape")
    try:
        write_print_map(fig, folder / "map.png")
    finally:
        plt.close(fig)


def row_card(model, folder: Path, repeats: int) -> list[Row]:
    vid = model.analysis.villages["dist_kindergarten_m"].idxmax()

    def one_card():
        fig = draw_village_card(model, vid)
        try:
            write_card(fig, folder / "card.png")
        finally:
            plt.close(fig)

    one_card()  # fonts and routes once, as the app has them after its first card
    t_card, _ = best_of(one_card, repeats)
    t_print, _ = best_of(lambda: print_png(model, folder), repeats)
    return [
        Row(
            "E1. one village card (PNG)",
            t_card,
            t_print,
            "s",
            t_card / t_print,
            "< 1 s",
            bool(t_card < 1.0),
            None,
            "alternative: the printable map's A4 PNG",
        )  # fmt: skip
    ]


def row_pack(model, folder: Path) -> list[Row]:
    n = int(model.analysis.villages["flag_kindergarten"].sum())
    t0 = time.perf_counter()
    write_report(model, folder / "report.pdf", max_village_pages=n)
    t_report = time.perf_counter() - t0
    t0 = time.perf_counter()
    cards = write_cards(model, folder / "cards")
    t_cards = time.perf_counter() - t0
    t_print, _ = best_of(lambda: print_png(model, folder), 1)
    total = t_report + t_cards
    size_mb = (folder / "report.pdf").stat().st_size / 1e6
    return [
        Row(
            f"E2. report ({n} village pages) + {len(cards)} cards",
            total,
            t_print,
            "s",
            total / t_print,
            "< 60 s",
            bool(total < 60.0),
            None,
            f"report {t_report:.1f} s ({size_mb:.1f} MB), cards {t_cards:.1f} s",
        )  # fmt: skip
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    n_nodes, n_hh, n_vil = (2_000, 300, 12) if args.quick else (10_000, 2_000, 100)
    rows: list[Row] = []
    model = county(n_nodes, n_hh, n_vil)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows += row_card(model, folder, 1 if args.quick else 3)
        rows += row_pack(model, folder)
    print(HEADER)
    for r in rows:
        print(format_row(r))
    if args.json:
        save_rows(args.json, rows)
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
