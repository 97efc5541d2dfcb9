"""Hostile names, and privacy of committee exports.

Names that try to run code (``<script>``, an ``<img onerror>``), quotes, backslashes, emoji,
right-to-left text and a 5,000-character name are used as village, household and service
names: every map (in headless Chromium), table, CSV, GeoPackage, printable map and summary
shows them as text, unchanged, and no script runs.

Privacy: committee-mode exports (HTML map, printable PDF/PNG, the CLI's outputs with
``--privacy committee``) are searched byte by byte for every household id, name, phone and
coordinate (6, 5 and 4 decimals, plain and JSON-escaped): none may appear.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from layers.households import validate_households
from layers.villages import validate_villages
from mapping.analysis import run_analysis
from mapping.export import summarize, village_table, write_geopackage, write_tables
from mapping.maps import draw_map, render_map_html
from mapping.printmap import draw_print_map, write_print_map
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests import browser
from tests.netbuild import points, roads, services

DAY = dt.date(2024, 5, 1)
PWNED = "pwned"
HOSTILE = [
    "<script>document.title='pwned'</script>",
    '"><img src=x onerror="document.title=\'pwned\'">',
    "他说\"你好\"，O'Brien's 村",
    "C:\\村\\n\\\\server\\share",
    "🏫 幼儿园 👧🏽🌟",
    "مرحبا قرية",  # Arabic, right to left
    "长" * 5000,
]
N = len(HOSTILE)


def hostile_scenario() -> Scenario:
    """A 12 km road; a village per hostile name at x = 1..7 km, a household 150 m off the road
    beside each (same names, hostile ids), a kindergarten at 12 km and a school at 0 km,
    both with hostile names. Threshold 1 km: every village is flagged for kindergartens."""
    r = roads({i: (1000.0 * i, 0.0) for i in range(13)}, [(1, list(range(13)), "secondary")])
    vil = points({f"V{i}": (1000.0 * (i + 1), 0.0) for i in range(N)})
    vil["village_id"] = vil.index
    vil["village_name"] = HOSTILE
    vil["boundary"] = gpd.GeoSeries([None] * N, index=vil.index, crs="EPSG:4326")
    vil["source"] = "file"
    ids = [f"{name[:60]}#{i}" for i, name in enumerate(HOSTILE)]
    hh = points({hid: (1000.0 * (i + 1) + 300.0, 150.0) for i, hid in enumerate(ids)})
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array(HOSTILE, dtype="str")
    hh["name"] = pd.array(HOSTILE, dtype="str")
    hh["phone"] = pd.array([f"1391234{i:04d}" for i in range(N)], dtype="str")
    hh["children"] = pd.array([1] * N, dtype="Int64")
    hh["source_row"] = pd.array(range(2, N + 2), dtype="Int64")
    svc = services({"k": ("kindergarten", 12000.0, 0.0), "s": ("school", 0.0, 0.0)})
    svc["name"] = [HOSTILE[0], HOSTILE[1]]
    return Scenario(
        roads=r,
        villages=validate_villages(vil),
        households=validate_households(hh),
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        title={"zh": "测试旗", "en": "Test Banner"},
    )


@pytest.fixture(scope="module")
def analysis():
    settings = AnalysisSettings(thresholds_m={"kindergarten": 1000.0, "school": 20000.0})
    return run_analysis(hostile_scenario(), settings)


@contextmanager
def emoji_boxes():
    """Draw with matplotlib's warning about glyphs the fonts lack (the emoji) silenced.

    The printable map shows such a glyph as an empty box and matplotlib warns; the warning is
    reported for mapping.printmap to handle (substitute a font or drop the glyph).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        yield


# --------------------------------------------------------------------------------------------
# tables, files and text


def test_the_village_table_keeps_every_name(analysis):
    table = village_table(analysis, "en")
    assert sorted(table["village_name"]) == sorted(HOSTILE)
    assert table["flag_kindergarten"].all()


def test_csv_exports_round_trip_the_names(analysis, tmp_path):
    villages_csv, households_csv = write_tables(analysis, tmp_path, "zh")
    back = pd.read_csv(villages_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert sorted(back["village_name"]) == sorted(HOSTILE)
    assert sorted(back["nearest_kindergarten"]) == [HOSTILE[0]] * N
    hh = pd.read_csv(households_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert sorted(hh["household_id"]) == sorted(analysis.households.index)
    assert sorted(hh["village_name"]) == sorted(HOSTILE)


def test_the_geopackage_round_trips_the_names(analysis, tmp_path):
    path = write_geopackage(analysis, tmp_path / "layers.gpkg")
    villages = pyogrio.read_dataframe(path, layer="villages")
    assert sorted(villages["village_name"]) == sorted(HOSTILE)
    households = pyogrio.read_dataframe(path, layer="households")
    assert sorted(households["name"]) == sorted(HOSTILE)
    assert sorted(households["household_id"]) == sorted(analysis.households.index)
    svc = pyogrio.read_dataframe(path, layer="services")
    assert sorted(svc["name"]) == sorted(HOSTILE[:2])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_summary_quotes_the_names_verbatim(analysis, lang):
    text = summarize(analysis, lang)
    for name in HOSTILE:
        assert name in text


def test_the_printable_map_draws_the_names(analysis, tmp_path):
    with emoji_boxes():
        fig = draw_print_map(analysis, lang="zh", made_on=DAY)
    try:
        texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
        joined = "\n".join(texts)
        # the short names are labelled as they are (the 5,000-character one may be cut)
        for name in HOSTILE[:4]:
            assert name in joined or name.replace("\\", "\\\\") in joined, name
        with emoji_boxes():
            path = write_print_map(fig, tmp_path / "map.pdf")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    assert path.read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------------------------
# the maps in a browser

OPEN_TOOLTIPS = """
<script>
window.addEventListener("load", function () {
  %(map)s.eachLayer(function (l) {
    if (l.feature && l.getTooltip && l.getTooltip()) { l.openTooltip(); }
  });
});
</script>
"""


def browser_dom(m, path: Path) -> str:
    browser.require_chromium()
    text = render_map_html(m)
    text = text.replace("</html>", OPEN_TOOLTIPS % {"map": m.get_name()} + "</html>")
    path.write_text(text, encoding="utf-8")
    run = browser.dump_dom(path)
    assert run.console_errors() == []
    return run.dom


def as_text(name: str) -> str:
    """How a DOM dump serialises ``name`` when it is text (not markup)."""
    return html.escape(name, quote=False)


def assert_nothing_ran(dom: str, title: str) -> None:
    assert re.search(r"<title>(.*?)</title>", dom, re.S).group(1) == title
    assert PWNED not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert "<img src=" not in dom and "<script>document" not in dom


@pytest.mark.browser
def test_the_committee_map_shows_names_as_text_and_runs_nothing(analysis, tmp_path):
    dom = browser_dom(draw_map(analysis, lang="en", made_on=DAY), tmp_path / "c.html")
    assert_nothing_ran(dom, "Test Banner · kindergarten")
    for name in HOSTILE:  # village tooltips
        assert f"<b>{as_text(name)}</b>" in dom, name[:40]
    for name in HOSTILE[:2]:  # service tooltips
        assert as_text(name) in dom


@pytest.mark.browser
def test_the_full_map_shows_household_ids_as_text_and_runs_nothing(analysis, tmp_path):
    m = draw_map(analysis, lang="zh", privacy="full", made_on=DAY)
    dom = browser_dom(m, tmp_path / "f.html")
    assert_nothing_ran(dom, "测试旗 · 幼儿园")
    for hid in analysis.households.index:  # household tooltips: "id · distance"
        assert as_text(hid) + " · " in dom, hid[:40]


# --------------------------------------------------------------------------------------------
# privacy: committee exports hold nothing that identifies a household

SECRET_IDS = ["HH-SECRET-0001", "HH-SECRET-0002", "HH-SECRET-0003"]
SECRET_NAMES = ["秘密张甲乙", "秘密李丙丁", "Secret O'Hara"]
SECRET_PHONES = ["13987650001", "13987650002", "13987650003"]


def secret_strings(hh: gpd.GeoDataFrame) -> list[str]:
    """Every household value, plain and as JSON would escape it, and coordinates at 6, 5, 4
    decimals."""
    values = [*SECRET_IDS, *SECRET_NAMES, *SECRET_PHONES]
    for p in hh.geometry:
        for v in (p.x, p.y):
            values += [f"{v:.6f}", f"{v:.5f}", f"{v:.4f}", repr(round(v, 6))]
    out = set(values)
    for v in values:
        out.add(json.dumps(v)[1:-1])
        out.add(json.dumps(v, ensure_ascii=False)[1:-1])
    return sorted(out)


NUMBER = re.compile(r"-?\d+\.\d+")


def assert_no_secret(data: bytes, secrets: list[str], what: str) -> None:
    """No secret in ``data`` (UTF-8 or UTF-16); a coordinate counts only as a whole number
    (``113.2012`` inside a road node's ``113.201287`` is another place, not a leak)."""
    for s in secrets:
        for encoded in {s.encode("utf-8"), s.encode("utf-16-le")}:
            if NUMBER.fullmatch(s):
                pattern = rb"(?<![0-9])" + re.escape(encoded) + rb"(?![0-9])"
                assert not re.search(pattern, data), f"{s!r} found in {what}"
            else:
                assert encoded not in data, f"{s!r} found in {what}"


def private_households(at: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    hh = points(dict(zip(SECRET_IDS, at, strict=True)))
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array([None] * 3, dtype="str")
    hh["name"] = pd.array(SECRET_NAMES, dtype="str")
    hh["phone"] = pd.array(SECRET_PHONES, dtype="str")
    hh["children"] = pd.array([1, 2, 3], dtype="Int64")
    hh["source_row"] = pd.array([2, 3, 4], dtype="Int64")
    return validate_households(hh)


def test_committee_html_and_printable_map_hold_no_household_detail(tmp_path):
    sc = hostile_scenario()
    hh = private_households([(2345.678, 123.456), (5432.123, -211.987), (9876.543, 77.777)])
    a = run_analysis(sc.replace(households=hh), AnalysisSettings())
    secrets = secret_strings(a.households)
    for lang in ("zh", "en"):
        data = render_map_html(draw_map(a, lang=lang, made_on=DAY)).encode("utf-8")
        assert_no_secret(data, secrets, f"committee map ({lang})")
    with emoji_boxes():
        fig = draw_print_map(a, lang="zh", made_on=DAY)
    try:
        for suffix in (".pdf", ".png"):
            with emoji_boxes():
                path = write_print_map(fig, tmp_path / f"map{suffix}")
            assert_no_secret(path.read_bytes(), secrets, path.name)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    # the full map does hold them: the search would find a leak
    full = render_map_html(draw_map(a, privacy="full", made_on=DAY))
    assert json.dumps(SECRET_IDS[0])[1:-1] in full and SECRET_PHONES[2] in full
    x = float(a.households.geometry.x.iloc[0])
    assert re.search(rf"(?<![0-9]){re.escape(repr(round(x, 6)))}(?![0-9])", full)


@pytest.fixture(scope="module")
def cli_outputs(tmp_path_factory):
    """The CLI's committee outputs for the demo with our own households file."""
    from mapping.cli import main
    from mapping.scenario import DEMO_DIR

    if not (DEMO_DIR / "scenario.json").exists():
        pytest.skip(f"demo scenario not generated: {DEMO_DIR / 'scenario.json'}")
    folder = tmp_path_factory.mktemp("cli")
    rows = [
        (SECRET_IDS[0], SECRET_NAMES[0], SECRET_PHONES[0], 113.201234, 41.451234),
        (SECRET_IDS[1], SECRET_NAMES[1], SECRET_PHONES[1], 113.252345, 41.462345),
        (SECRET_IDS[2], SECRET_NAMES[2], SECRET_PHONES[2], 113.223456, 41.473456),
    ]
    hh_csv = folder / "private.csv"
    hh_csv.write_text(
        "户编号,户主,电话,经度,纬度,儿童数\n"
        + "".join(f"{i},{n},{p},{x},{y},1\n" for i, n, p, x, y in rows),
        encoding="utf-8",
    )
    out = folder / "out"
    code = main(
        ["analyze", "--demo", "--households", str(hh_csv), "--privacy", "committee",
         "--print", "A4", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    coords = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([r[3] for r in rows], [r[4] for r in rows]), crs="EPSG:4326"
    )
    return out, secret_strings(coords)


def test_cli_committee_map_printable_map_and_village_table_hold_no_household_detail(
    cli_outputs,
):
    out, secrets = cli_outputs
    names = sorted(p.name for p in out.iterdir())
    assert {"map.html", "map-A4.pdf", "map-A4.png", "villages.csv", "households.csv"} <= set(names)
    for name in ("map.html", "map-A4.pdf", "map-A4.png", "villages.csv"):
        assert_no_secret((out / name).read_bytes(), secrets, name)
    # households.csv is the team's own table (ids, no names/phones/coordinates) by design
    team = (out / "households.csv").read_bytes()
    assert SECRET_IDS[0].encode() in team
    for s in (*SECRET_NAMES, *SECRET_PHONES):
        assert s.encode() not in team


def test_cli_committee_geopackage_holds_no_household_detail(cli_outputs):
    out, secrets = cli_outputs
    assert_no_secret((out / "layers.gpkg").read_bytes(), secrets, "layers.gpkg")
