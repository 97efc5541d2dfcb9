"""The workshop app in a real browser: how long a participant waits, on the demo.

``python benchmarks/app_browser.py`` starts ``streamlit run app.py`` offline on this machine,
opens it in headless Chromium (driven over the DevTools protocol, :mod:`tests.browser`) and
times what a participant does, each to an idle page (the app's script finished, nothing
stale or spinning on the page, the map in its frame drawn with its village markers):

- the first map drawn: from opening the page to the map, for the first visit (a cold
  server: reading the demo, building its road network) and for five later visits (new
  sessions on a warm server, as every other laptop of a workshop sees it);
- a threshold change (typing a new kindergarten threshold), a map click (choosing a
  place), adding a proposed kindergarten there, and a language switch: five times each.

Targets (issue 11): first map < 3 s, each action < 1 s, medians of 5. In the same run, the
AppTest timings of ``benchmarks/run.py`` row 5 (the app without a browser: the script's own
time) are measured, so the browser's share of the wait can be read off.

``--json PATH`` also saves the rows; ``--quick`` does three of each instead of five.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run import HEADER, Row, format_row, machine, row_app, save_rows  # noqa: E402
from tests import browser  # noqa: E402

VIEWPORT = (1400, 1000)
FOLIUM_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: The map in its frame has drawn (Leaflet, and its village markers).
MAP_READY = """
(() => {
  const frame = document.querySelector('FRAME');
  const doc = frame && frame.contentDocument;
  const win = frame && frame.contentWindow;
  return !!(doc && win && win.map && doc.querySelectorAll('.gm-village').length > 0
    && document.querySelector('h1'));
})()
""".replace("FRAME", FOLIUM_FRAME)
#: Where (lat, lon) is on the map, in page pixels.
MAP_POINT = """
((lat, lon) => {
  const frame = document.querySelector('FRAME');
  frame.scrollIntoView({block: 'center'});
  const f = frame.getBoundingClientRect();
  const c = frame.contentDocument.querySelector('.leaflet-container').getBoundingClientRect();
  const p = frame.contentWindow.map.latLngToContainerPoint([lat, lon]);
  return [f.left + c.left + p.x, f.top + c.top + p.y];
})
""".replace("FRAME", FOLIUM_FRAME)
FIRST_MAP_TARGET_S = 3.0
ACTION_TARGET_S = 1.0


def first_map(chromium: browser.DevTools, url: str) -> float:
    """Seconds from opening ``url`` to its first map drawn (and the page idle)."""
    page = browser.StreamlitPage(chromium)
    t0 = time.monotonic()
    chromium.navigate(url)
    chromium.wait_for(MAP_READY, 120, poll_s=0.02)
    page.install()
    return page.wait_idle(None, 120, ready=MAP_READY) - t0


def time_actions(chromium: browser.DevTools, url: str, repeats: int) -> dict:
    """Each action ``repeats`` times in one session: seconds to the idle page by action, and
    (under ``"runs"``) how many script runs each took."""
    from mapping.scenario import load_demo

    page = browser.StreamlitPage(chromium)
    chromium.navigate(url)
    chromium.wait_for(MAP_READY, 120)
    page.install()
    page.wait_idle(None, 120, ready=MAP_READY)
    villages = load_demo().villages
    far = villages.sort_values("village_name").geometry.iloc[: repeats * 3 : 3]
    times: dict[str, list[float]] = {"threshold": [], "click": [], "add": [], "lang": []}
    runs: dict[str, list[int]] = {key: [] for key in times}

    def timed(key: str, action) -> None:
        before = page.runs()["started"]
        times[key].append(page.act(action, ready=MAP_READY))
        runs[key].append(page.runs()["started"] - before)

    for i in range(repeats):
        value = f"{6 + i}"
        timed("threshold", lambda v=value: page.type("threshold_km_kindergarten", v))
        point = far.iloc[i]
        x, y = chromium.evaluate(f"{MAP_POINT}({point.y}, {point.x})")
        timed("click", lambda x=x, y=y: page.click_at(x, y))
        timed("add", lambda: page.click_key("add_kindergarten"))
        timed("lang", lambda i=i: page.choose("lang", (i + 1) % 2))
    times["runs"] = runs  # how many script runs each action took
    errors = chromium.console_errors()
    if errors:
        raise RuntimeError(f"the page reported errors: {errors[:3]}")
    return times


def rows(repeats: int = 5) -> list[Row]:
    """The browser rows (and AppTest's, measured in the same run)."""
    browser.require_chromium = _require  # a benchmark has no pytest to skip with
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gapmapper-bench-app-") as tmp:
        with browser.serve_app(ROOT, Path(tmp)) as server:
            with browser.DevTools(size=VIEWPORT, timeout_s=60) as chromium:
                cold = first_map(chromium, server.url)
            warm = []
            for _ in range(repeats):
                with browser.DevTools(size=VIEWPORT, timeout_s=60) as chromium:
                    warm.append(first_map(chromium, server.url))
            with browser.DevTools(size=VIEWPORT, timeout_s=60) as chromium:
                actions = time_actions(chromium, server.url, repeats)
            if "Traceback" in server.log():
                raise RuntimeError(f"the server failed: {server.log()[-3000:]}")
    med = statistics.median(warm)
    out.append(
        Row(
            f"8. app in Chromium: first map drawn (new session, median of {repeats})",
            med,
            None,
            "s",
            None,
            f"< {FIRST_MAP_TARGET_S:g} s",
            bool(med < FIRST_MAP_TARGET_S),
            None,
            f"first visit on a cold server {cold:.2f} s; all: "
            + ", ".join(f"{t:.2f}" for t in warm),
        )
    )
    labels = {
        "threshold": "threshold change",
        "click": "map click (choose a place)",
        "add": "add a proposed kindergarten",
        "lang": "language switch",
    }
    for key, label in labels.items():
        med = statistics.median(actions[key])
        out.append(
            Row(
                f"8. app in Chromium: {label} (median of {repeats})",
                med,
                None,
                "s",
                None,
                f"< {ACTION_TARGET_S:g} s",
                bool(med < ACTION_TARGET_S),
                None,
                "to an idle page with the map drawn; all: "
                + ", ".join(f"{t:.2f}" for t in actions[key])
                + "; script runs: "
                + ", ".join(map(str, actions["runs"][key])),
            )
        )
    out.extend(row_app())  # AppTest: the same app without a browser, in this run
    return out


def _require() -> str:
    exe = browser.chromium_path()
    if exe is None:
        raise SystemExit("headless Chromium is not installed (apt-get install chromium)")
    return exe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three of each instead of five")
    parser.add_argument("--json", type=Path, help="also save the rows to this JSON file")
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: {info}")
    print(HEADER)
    result = rows(3 if args.quick else 5)
    for r in result:
        print(format_row(r), flush=True)
    if args.json:
        save_rows(args.json, result, info)
    return 0 if all(r.ok is not False for r in result) else 1


if __name__ == "__main__":
    raise SystemExit(main())
