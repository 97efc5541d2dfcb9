"""Text from a file is data, never code: template syntax, markup and odd characters in names.

folium and branca compile map elements as jinja templates. A village, household, service or
OSM ``place`` name, or an OSM file's name, that holds ``{{ ... }}`` must not be evaluated
(``{{7*7}}`` must not become ``49``; the ``lipsum...popen`` payload must not run a shell
command), ``{% raw %}`` and ``{#`` must not crash the run, and markup must stay text. Each
payload goes through every export: ``map.html`` in the three privacy modes (checked in
headless Chromium: the exact text of every popup and tooltip), the app's map as
streamlit-folium sends it to the browser, the printable map, the GeoPackage, the CSVs and the
summary; and through real files (an OSM extract and a households CSV) by the command line.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.households import validate_households
from layers.villages import validate_villages
from mapping.analysis import run_analysis
from mapping.export import summarize, write_geopackage, write_tables
from mapping.maps import add_place_picker, draw_map, render_map_html, use_embedded_assets
from mapping.printmap import draw_print_map
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests import browser
from tests.netbuild import points, roads, services

DAY = dt.date(2024, 5, 1)
#: What the shell prints only if the popen payload runs (the payload itself holds "$((40+2))").
RAN = "gm-ran-42"
PAYLOADS = [
    "{{7*7}}",
    "{% raw %}",
    "{# not a comment",
    "{{ config }}",
    "{{ lipsum.__globals__.os.popen('echo gm-ran-$((40+2))').read() }}",
    "{%- for x in range(3) %}x{% endfor %}",
    "</script><script>document.title='pwned'</script>",
    '"><img src=x onerror="document.title=\'pwned\'">',
    "javascript:document.title='pwned'",
    "\u202eevil\u202c 村",  # right-to-left override
    "${7*7} `x` \\u003c %s %(x)s {0}",
    "$\\frac{1}{0}$ $x^2$",  # matplotlib mathtext
    "bell\x07 escape\x1b[31m tab\t end",  # control characters
]
N = len(PAYLOADS)
#: About 1 MB of UTF-8.
BIG = "长" * 350_000


def hostile_scenario(names: list[str]) -> Scenario:
    """A straight 12 km road; villages named ``names`` at x = 1, 2, ... km, a household
    beside each with the same text as id, name and village, a kindergarten (named after the
    first two payloads) at 12 km and a school at 0 km; the title is a payload too."""
    n = len(names)
    r = roads({i: (1000.0 * i, 0.0) for i in range(13)}, [(1, list(range(13)), "secondary")])
    vil = points({f"V{i}": (250.0 + 11_000.0 * i / n, 0.0) for i in range(n)})
    vil["village_id"] = vil.index
    vil["village_name"] = names
    vil["boundary"] = gpd.GeoSeries([None] * n, index=vil.index, crs="EPSG:4326")
    vil["source"] = "file"
    ids = [f"{name[:80]}#{i}" for i, name in enumerate(names)]
    hh = points({hid: (300.0 + 11_000.0 * i / n, 150.0) for i, hid in enumerate(ids)})
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array(names, dtype="str")
    hh["name"] = pd.array(names, dtype="str")
    hh["phone"] = pd.array(names, dtype="str")
    hh["children"] = pd.array([1] * n, dtype="Int64")
    hh["source_row"] = pd.array(range(2, n + 2), dtype="Int64")
    svc = services({"k": ("kindergarten", 12000.0, 0.0), "s": ("school", 0.0, 0.0)})
    svc["name"] = [PAYLOADS[0] + PAYLOADS[4], PAYLOADS[1] + PAYLOADS[6]]
    return Scenario(
        roads=r,
        villages=validate_villages(vil),
        households=validate_households(hh),
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        title={"zh": "测试旗" + PAYLOADS[0] + PAYLOADS[2], "en": "Test " + PAYLOADS[3]},
    )


SETTINGS = AnalysisSettings(thresholds_m={"kindergarten": 1000.0, "school": 20000.0})


@pytest.fixture(scope="module")
def analysis():
    return run_analysis(hostile_scenario(PAYLOADS), SETTINGS)


@pytest.fixture(scope="module")
def big_analysis():
    return run_analysis(hostile_scenario([*PAYLOADS[:3], BIG]), SETTINGS)


def assert_inert(text: str) -> None:
    """Nothing in ``text`` shows that a template ran."""
    assert RAN not in text
    assert "<Config" not in text  # what {{ config }} would print


# --------------------------------------------------------------------------------------------
# the offline HTML map, as text


@pytest.mark.parametrize("privacy", ["committee", "displaced", "full"])
def test_the_map_file_holds_the_payloads_as_text(analysis, privacy):
    text = render_map_html(draw_map(analysis, lang="zh", privacy=privacy, made_on=DAY, key=b"k"))
    assert_inert(text)
    # "{{7*7}}" survives as written: jinja would have made it 49
    assert "{{7*7}}" in text
    assert "{# not a comment" in text
    assert "{%- for x in range(3) %}x{% endfor %}" in text or "{%- for x in range(3) %}" in (
        html.unescape(text)
    )
    # markup from the data never appears as markup
    assert "<img src=x" not in text
    assert "<script>document.title" not in text


def test_the_title_is_text(analysis):
    text = render_map_html(draw_map(analysis, lang="zh", made_on=DAY))
    title = re.search(r"<title>(.*?)</title>", text, re.S).group(1)
    assert html.unescape(title) == "测试旗{{7*7}}{# not a comment · 幼儿园"


def test_a_1_mb_name_goes_through(big_analysis):
    text = render_map_html(draw_map(big_analysis, lang="en", privacy="full", made_on=DAY))
    assert BIG in text or json.dumps(BIG)[1:-1] in text  # as text, or in JSON's \\u escapes
    assert_inert(text)


# --------------------------------------------------------------------------------------------
# the map in a browser: the exact text of every popup and tooltip

COLLECT = """
(function () {
  var out = {title: document.title, texts: [], ran: window.__pwned === true};
  var parser = new DOMParser();
  function text(content, layer) {
    if (typeof content === "function") { content = content(layer); }
    if (content instanceof Node) { return content.textContent; }
    // parsed, never inserted: no script runs and no image loads
    return parser.parseFromString(String(content), "text/html").body.textContent;
  }
  %(map)s.eachLayer(function (l) {
    if (l.getPopup && l.getPopup()) { out.texts.push(text(l.getPopup().getContent(), l)); }
    if (l.getTooltip && l.getTooltip()) { out.texts.push(text(l.getTooltip().getContent(), l)); }
  });
  out.page = document.body.innerText;
  return JSON.stringify(out);
})()
"""


def browser_texts(page: str, map_name: str, path: Path) -> dict:
    browser.require_chromium()
    path.write_text(page, encoding="utf-8")
    with browser.DevTools() as tools:
        tools.navigate(path.as_uri())
        tools.wait_for(f"typeof {map_name} !== 'undefined' && {map_name}._loaded", 30)
        tools.pump(0.5)
        out = json.loads(tools.evaluate(COLLECT % {"map": map_name}))
        errors = tools.console_errors()
    assert errors == []
    return out


@pytest.mark.browser
@pytest.mark.parametrize("privacy", ["committee", "displaced", "full"])
def test_every_popup_and_tooltip_shows_the_exact_text(analysis, privacy, tmp_path):
    m = draw_map(analysis, lang="en", privacy=privacy, made_on=DAY, key=b"k")
    out = browser_texts(render_map_html(m), m.get_name(), tmp_path / "map.html")
    assert out["title"] == "Test {{ config }} · kindergarten"
    joined = "\n".join(out["texts"])
    assert_inert(joined + out["page"])
    for name in PAYLOADS:  # every village popup names its village exactly
        assert name in joined, name
    assert PAYLOADS[0] + PAYLOADS[4] in joined  # the kindergarten's name
    if privacy == "full":
        for i, name in enumerate(PAYLOADS):
            assert f"{name[:80]}#{i}" in joined  # household ids
    else:
        for i, name in enumerate(PAYLOADS):
            assert f"{name[:80]}#{i}" not in joined
    assert "测试旗" not in out["page"]  # the English map
    assert "Test {{ config }}" in out["page"]


# --------------------------------------------------------------------------------------------
# the app's map, as streamlit-folium sends it to the browser


def st_folium_parts(m) -> dict[str, str]:
    """What ``st_folium`` renders and sends to its component (the same calls, in order)."""
    from streamlit_folium import _get_header, _get_html, _get_map_string

    m.get_root().render()
    m.render()
    return {"html": _get_html(m), "header": _get_header(m), "script": _get_map_string(m)}


def test_the_apps_map_sends_the_payloads_as_data(analysis):
    m = draw_map(analysis, lang="zh", privacy="full", compact=True)
    parts = st_folium_parts(use_embedded_assets(add_place_picker(m, "zh")))
    script = parts["script"]
    for part in parts.values():
        assert_inert(part)
    assert "{{7*7}}" in script
    assert "{{ config }}" in script
    assert "<img src=x" not in script and "<script>document" not in script


# --------------------------------------------------------------------------------------------
# the printable map, the tables, the GeoPackage, the summary


def test_the_printable_map_draws_the_exact_names(analysis, tmp_path):
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        # control characters have no glyph: matplotlib draws a box and warns
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        fig = draw_print_map(analysis, lang="zh", made_on=DAY)
        try:
            texts = "\n".join(t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")))
            for name in PAYLOADS:
                assert name in texts, name
            assert_inert(texts)
            fig.savefig(tmp_path / "map.png", dpi=40)
            fig.savefig(tmp_path / "map.pdf")
        finally:
            plt.close(fig)


def test_the_tables_and_geopackage_round_trip_the_names(big_analysis, tmp_path):
    names = [*PAYLOADS[:3], BIG]
    villages_csv, households_csv = write_tables(big_analysis, tmp_path, "zh")
    back = pd.read_csv(villages_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert sorted(back["village_name"]) == sorted(names)
    hh = pd.read_csv(households_csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert sorted(hh["village_name"]) == sorted(names)
    path = write_geopackage(big_analysis, tmp_path / "layers.gpkg")
    villages = pyogrio.read_dataframe(path, layer="villages")
    assert sorted(villages["village_name"]) == sorted(names)
    households = pyogrio.read_dataframe(path, layer="households")
    assert sorted(households["name"]) == sorted(names)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_summary_quotes_the_names_verbatim(analysis, lang):
    text = summarize(analysis, lang)
    assert_inert(text)
    for name in PAYLOADS[:5]:
        assert name in text


# --------------------------------------------------------------------------------------------
# real files through the command line: an OSM extract whose names (and file name) are payloads

FIXTURE = Path(__file__).parent / "fixtures" / "osm" / "small.osm"


def hostile_osm(folder: Path) -> Path:
    """``small.osm`` with every ``name`` and ``name:zh`` tag replaced by a payload, saved under
    a file name that is template syntax itself."""
    text = FIXTURE.read_text(encoding="utf-8")
    i = iter(range(10_000))
    # XML 1.0 cannot hold control characters other than tab and newlines
    fit = [p for p in PAYLOADS if not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", p)]

    def swap(match: re.Match) -> str:
        payload = fit[next(i) % len(fit)]
        return f'<tag k="{match.group(1)}" v="{html.escape(payload, quote=True)}"/>'

    text = re.sub(r'<tag k="(name(?::zh)?)" v="[^"]*"/>', swap, text)
    path = folder / "{{7*7}}{% raw %}.osm"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("privacy", ["committee", "full"])
def test_the_cli_reads_a_hostile_osm_file_and_writes_inert_outputs(tmp_path, privacy, capsys):
    from mapping.cli import main

    osm = hostile_osm(tmp_path)
    out = tmp_path / "out"
    code = main(["analyze", "--osm", str(osm), "--privacy", privacy, "--out", str(out),
                 "--threshold", "kindergarten=100m", "--lang", "en"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert_inert(captured.out + captured.err)
    text = (out / "map.html").read_text(encoding="utf-8")
    assert_inert(text)
    title = html.unescape(re.search(r"<title>(.*?)</title>", text, re.S).group(1))
    assert title.startswith("Study area: {{7*7}}{% raw %}")
    back = pd.read_csv(out / "villages.csv", encoding="utf-8-sig", dtype=str)
    assert set(back["village_name"]) <= set(PAYLOADS)
    assert len(set(back["village_name"])) >= 2


def test_the_cli_reads_a_hostile_households_csv(tmp_path, capsys):
    from mapping.cli import main
    from mapping.scenario import DEMO_DIR

    if not (DEMO_DIR / "scenario.json").exists():
        pytest.skip(f"demo scenario not generated: {DEMO_DIR / 'scenario.json'}")
    rows = "".join(
        f'"{p.replace(chr(34), chr(34) * 2)}#{i}","{p.replace(chr(34), chr(34) * 2)}",'
        f"{113.20 + i / 1000:.6f},41.45,1\n"
        for i, p in enumerate(PAYLOADS)
    )
    src = tmp_path / "{{7*7}}.csv"
    src.write_text("户编号,户主,经度,纬度,儿童数\n" + rows, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["analyze", "--demo", "--households", str(src), "--privacy", "full",
                 "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    text = (out / "map.html").read_text(encoding="utf-8")
    assert_inert(text)
    assert "{{7*7}}#0" in text
    hh = pd.read_csv(out / "households.csv", encoding="utf-8-sig", dtype=str)
    assert sorted(hh["household_id"]) == sorted(f"{p}#{i}" for i, p in enumerate(PAYLOADS))


def test_no_template_engine_sees_the_data_even_when_jinja_would_fail(tmp_path):
    """``{% raw %}`` alone is a jinja syntax error: a map holding it must still be written."""
    sc = hostile_scenario(["{% raw %}", "{% endraw", "{{", "}}", "{%"])
    m = draw_map(run_analysis(sc, SETTINGS), lang="zh", privacy="full", made_on=DAY)
    text = render_map_html(m)
    for name in ("{% raw %}", "{% endraw"):
        assert name in text


# --------------------------------------------------------------------------------------------
# fuzzing: names that mix template syntax, markup and control characters

PIECES = st.sampled_from(
    ["{{", "}}", "{%", "%}", "{#", "#}", "7*7", " raw ", "endraw", "config", "lipsum", "<",
     ">", "</script>", "<script>", "&amp;", "&", '"', "'", "\\", "`", "$", "\u202e", "\u200b",
     "\n", "\t", "\x07", "村", "长", "\U0001f3eb", "javascript:", "onerror=", "%s", "{0}"]
)  # fmt: skip
NAMES = st.lists(st.one_of(PIECES, st.text(max_size=4)), min_size=1, max_size=12).map("".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NAMES.filter(lambda s: "\x00" not in s), min_size=2, max_size=3, unique=True))
def test_any_name_comes_out_of_the_map_as_the_same_text(names):
    a = run_analysis(hostile_scenario(names), SETTINGS)
    text = render_map_html(draw_map(a, lang="en", privacy="full", made_on=DAY))
    assert_inert(text)
    # every village popup holds its name HTML-escaped, inside JSON (either escaping style)
    for name in names:
        escaped = html.escape(name, quote=True)
        forms = {json.dumps(escaped)[1:-1], json.dumps(escaped, ensure_ascii=False)[1:-1]}
        forms = {f.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                 .replace("'", "\\u0027") for f in forms} | forms  # fmt: skip
        assert any(f in text for f in forms), name
