"""The folium map and its offline HTML export: content, privacy, escaping, and a real browser.

The test area (metres on UTM 49N, see :mod:`tests.netbuild`): a 12 km secondary road along x
(nodes every km) with a kindergarten at x=0 and a school at x=12 km, and a 2 km track going
north from x=6 km. Threshold for kindergartens: 5 km.

========  =============  =========================  ============================================
village   point (m)      boundary                   kindergarten status
========  =============  =========================  ============================================
A         (2000, 0)      1500..2500 x -500..500     ok: 2 km, its one household 1.967 km
C         (4500, 0)      4000..5500 x -500..500     warn: 4.5 km, its household 5.467 km
B         (10400, 0)     none                       flag: 10.4 km; households 11.167, 10.767 km
X         (7000, 300)    none                       flag: 7.3 km (hostile name, an <img>)
Y         (8000, -300)   none                       flag: 8.3 km (hostile name, a <script>)
========  =============  =========================  ============================================
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from html import escape
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from layers import i18n
from layers.errors import InputError, SettingsError
from layers.households import validate_households
from mapping.analysis import apply_proposals, run_analysis
from mapping.coverage import service_areas
from mapping.maps import (
    PRIVACY_MODES,
    _js_str,
    _road_lines,
    draw_map,
    render_map_html,
    write_map_html,
)
from mapping.scenario import DEMO_DIR, Scenario
from mapping.settings import AnalysisSettings
from mapping.whatif import make_proposal
from tests import browser
from tests.netbuild import UTM, box, households, lonlat, points, roads, services, villages

HOSTILE_IMG = '"><img src=x onerror="document.title=\'pwned\'">'
HOSTILE_SCRIPT = "<script>document.title='pwned'</script>"
DAY = dt.date(2024, 5, 1)

# the last id is hostile too: household popups and tooltips are built in the browser
HH_IDS = [
    "HH-ALPHA-01",
    "HH-BRAVO-02",
    "HH-CHARLIE-03",
    "HH-DELTA-04<img src=x onerror=\"document.title='pwned'\">",
]
HH_NAMES = ["张秘密甲", "李秘密乙", "王秘密丙", "赵秘密丁"]
HH_PHONES = ["13911110001", "13922220002", "13933330003", "13944440004"]
# Off the road by 137 m, so no household shares a coordinate with a road node or a village.
HH_XY = [(1830.0, 137.0), (5330.0, -137.0), (11030.0, 137.0), (10630.0, -137.0)]


def scenario(*, fictional: bool = False) -> Scenario:
    nodes = {i: (1000.0 * i, 0.0) for i in range(13)}
    nodes |= {20: (6000.0, 1000.0), 21: (6000.0, 2000.0)}
    r = roads(nodes, [(1, list(range(13)), "secondary"), (2, [6, 20, 21], "track")])
    vil = villages(
        {
            "A": (2000.0, 0.0),
            "C": (4500.0, 0.0),
            "B": (10400.0, 0.0),
            "X": (7000.0, 300.0),
            "Y": (8000.0, -300.0),
        },
        ["甲村", "丙村", "乙村", HOSTILE_IMG, HOSTILE_SCRIPT],
        [box(1500, -500, 2500, 500), box(4000, -500, 5500, 500), None, None, None],
    )
    hh = households(
        dict(zip(HH_IDS, HH_XY, strict=True)),
        children=[2, 1, 3, 1],
        names=HH_NAMES,
        phones=HH_PHONES,
    )
    svc = services({"k": ("kindergarten", 0.0, 0.0), "s": ("school", 12000.0, 0.0)})
    return Scenario(
        roads=r,
        villages=vil,
        households=hh,
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        title={"zh": "测试旗", "en": "Test Banner"},
        fictional=fictional,
    )


@pytest.fixture(scope="module")
def analysis():
    settings = AnalysisSettings(mode="motorbike", thresholds_m={"kindergarten": 5000.0})
    return run_analysis(scenario(), settings)


@pytest.fixture(scope="module")
def committee_html(analysis):
    return render_map_html(draw_map(analysis, lang="zh", made_on=DAY))


@pytest.fixture(scope="module")
def full_html(analysis):
    return render_map_html(draw_map(analysis, lang="en", privacy="full", made_on=DAY))


def as_json(text: str) -> str:
    """``text`` as folium's JSON embeds it (jinja's ``tojson``: non-ASCII and <>&' escaped)."""
    out = json.dumps(text)[1:-1]
    for c in "<>&'":
        out = out.replace(c, f"\\u{ord(c):04x}")
    return out


def household_coordinate_strings(hh: gpd.GeoDataFrame) -> list[str]:
    """Each household's lon and lat as a map could print them: 6, 5 and 4 decimals."""
    out = []
    for p in hh.geometry:
        for value in (p.x, p.y):
            out += [f"{value:.6f}", str(round(value, 6)), f"{value:.5f}", f"{value:.4f}"]
    return out


# --------------------------------------------------------------------------------------------
# Without a browser


def test_the_analysis_gives_the_statuses_the_map_shows(analysis):
    v = analysis.villages
    assert v["flag_kindergarten"].tolist() == [False, False, True, True, True]
    assert v["warn_kindergarten"].tolist() == [False, True, False, False, False]
    assert analysis.households["village_id"].tolist() == ["A", "C", "B", "B"]


def test_roads_are_merged_into_one_polyline_per_way(analysis):
    lines = _road_lines(analysis.network)
    assert sorted(lines) == ["secondary", "track"]
    assert [len(line) for line in lines["secondary"]] == [13]
    assert [len(line) for line in lines["track"]] == [3]
    lon, lat = lonlat(6000.0, 2000.0)
    assert lines["track"][0][-1] == pytest.approx([round(lon, 6), round(lat, 6)], abs=1e-9)
    # 6 decimals at most
    assert all(
        len(repr(c).split(".")[1]) <= 6 for line in lines["secondary"] for p in line for c in p
    )


def test_no_script_or_stylesheet_comes_from_the_internet(committee_html, full_html):
    for text in (committee_html, full_html):
        tags = re.findall(r"<(?:script|link)\b[^>]*>", text, flags=re.I)
        assert not [t for t in tags if re.search(r"(?:src|href)\s*=", t, flags=re.I)]
        assert "leaflet-container" in text  # Leaflet's CSS is inlined
        assert "L.map(" in text and "* Leaflet 1.9.3, a JS library" in text  # inlined
        assert "tile.openstreetmap.org" not in text
        assert "jquery" not in text.lower() and "bootstrap" not in text.lower()
        assert "url(images/" not in text  # Leaflet's CSS images are data URIs


def test_online_tiles_only_when_asked(analysis):
    text = render_map_html(draw_map(analysis, tiles=True, made_on=DAY))
    assert "tile.openstreetmap.org" in text
    assert not re.search(r"<(?:script|link)\b[^>]*(?:src|href)\s*=\s*[\"']?https?:", text)


def test_committee_map_holds_nothing_that_identifies_a_household(analysis, committee_html):
    for secret in (*HH_IDS, *HH_NAMES, *HH_PHONES):
        assert secret not in committee_html and as_json(secret) not in committee_html
    for coord in household_coordinate_strings(analysis.households):
        assert coord not in committee_html
    assert "gm-household" not in committee_html
    # ... but the per-village totals are there: B has 2 households, median (11167+10767)/2 m
    assert as_json("<td>11.0 公里</td>") in committee_html
    assert as_json("<td>11.2 公里</td>") in committee_html
    assert "住户只按村汇总显示" in committee_html  # the legend is plain HTML


def test_full_map_shows_households_and_the_banner(analysis, full_html):
    for secret in (*HH_IDS, *HH_NAMES, *HH_PHONES):
        assert as_json(secret) in full_html
    for p in analysis.households.geometry:
        assert str(round(p.x, 6)) in full_html and str(round(p.y, 6)) in full_html
    assert "Full detail: for the team\\u0027s own use, do not share" not in full_html
    assert "Full detail: for the team&#x27;s own use, do not share" in full_html
    # one style per distance class in use: 1-3 km (h1), 3-5 km (h2), > 10 km (h3, h4)
    assert full_html.count('"className": "gm-household"') == 3
    # HH-CHARLIE-03 is 11.167 km from the kindergarten: the > 10 km class ("4"); the popup
    # shows the decimals that agree with the threshold (tests/test_decimals.py) from 4 kept
    assert '"d": 11.167, "i": "HH-CHARLIE-03"' in full_html  # 11,167.0 m to 0.1 m
    assert '"p": "13933330003", "s": "4"' in full_html


def test_title_date_language_attribution_and_legend(analysis, committee_html, full_html):
    assert "<title>测试旗 · 幼儿园</title>" in committee_html
    assert "制图日期 2024-05-01 · 语言：中文" in committee_html
    assert "幼儿园：村庄与道路距离（标准 5 公里）" in committee_html
    assert "Made on 2024-05-01 · Language: English" in full_html
    assert as_json("© OpenStreetMap contributors") in committee_html
    assert 'id="gm-legend"' in committee_html and "缺口：超过 5 公里或无法到达" in committee_html
    assert "> 10 km" not in committee_html and "&gt; 10 km" in full_html
    assert 'id="gm-fictional"' not in committee_html


def test_fictional_scenarios_say_so():
    a = run_analysis(scenario(fictional=True), AnalysisSettings())
    text = render_map_html(draw_map(a, lang="en", kind="school", made_on=DAY))
    assert 'id="gm-fictional"' in text
    assert "Note: the demo data is fictional" in text
    assert "school: villages and road distance (threshold 10 km)" in text


def test_hostile_village_names_are_escaped_in_the_html(committee_html):
    assert HOSTILE_SCRIPT not in committee_html
    assert "<img src=x" not in committee_html
    assert 'onerror="document' not in committee_html
    # escaped by us (&lt;) and then by folium's JSON (\u0026)
    assert "\\u0026lt;script\\u0026gt;document.title=\\u0026#x27;pwned" in committee_html


def test_bad_settings_are_refused_with_a_message(analysis):
    with pytest.raises(SettingsError) as err:
        draw_map(analysis, kind="childcare")
    assert err.value.key == "error.settings.kind"
    assert "Unknown service kind 'childcare'. Choose one of: kindergarten, school." == str(
        err.value
    )
    with pytest.raises(SettingsError) as err:
        draw_map(analysis, privacy="public")
    assert err.value.key == "error.map.privacy"
    assert "未知的隐私模式“public”。可选：committee, displaced, full（" in err.value.message("zh")
    assert str(err.value).startswith(
        "Unknown privacy mode 'public'. Choose one of: committee, displaced, full (committee "
        "is the shareable, aggregated one; displaced is shareable"
    )
    assert PRIVACY_MODES == ("committee", "displaced", "full")
    with pytest.raises(SettingsError) as err:
        draw_map(analysis, lang="fr")
    assert err.value.key == "error.map.language"
    assert str(err.value) == "Unknown language 'fr'. Choose one of: zh, en."


def test_a_map_needing_cdn_assets_is_not_exported(tmp_path):
    m = folium.Map(tiles=None)  # folium's defaults: jQuery, Bootstrap, awesome-markers
    with pytest.raises(ValueError, match=r"code\.jquery\.com/jquery-3\.7\.1\.min\.js"):
        write_map_html(m, tmp_path / "map.html")
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_refuses_a_missing_folder(analysis, tmp_path):
    m = draw_map(analysis, made_on=DAY)
    out = write_map_html(m, tmp_path / "map.html")
    assert out == tmp_path / "map.html"
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]  # no temp file left
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and f"var {m.get_name()} = L.map(" in text
    missing = tmp_path / "nope" / "map.html"
    with pytest.raises(InputError) as err:
        write_map_html(m, missing)
    assert err.value.key == "error.map.no_folder"
    assert str(tmp_path / "nope") in str(err.value) and "map.html" in str(err.value)
    assert not (tmp_path / "nope").exists()


def test_ten_thousand_households_stay_under_5_mb(analysis):
    rng = __import__("numpy").random.default_rng(7)
    n = 10_000
    xy = {
        f"H{i:05d}": (float(x), float(y))
        for i, (x, y) in enumerate(
            zip(rng.uniform(0, 12000, n), rng.uniform(-1500, 1500, n), strict=True)
        )
    }
    hh = points(xy)
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array([None] * n, dtype="str")
    hh["name"] = pd.array([f"户主{i}" for i in range(n)], dtype="str")
    hh["phone"] = pd.array([f"139{i:08d}" for i in range(n)], dtype="str")
    hh["children"] = pd.array([1] * n, dtype="Int64")
    hh["source_row"] = pd.array(range(2, n + 2), dtype="Int64")
    sc = scenario().replace(households=validate_households(hh))
    a = run_analysis(sc, AnalysisSettings())
    full = render_map_html(draw_map(a, privacy="full", made_on=DAY))
    committee = render_map_html(draw_map(a, made_on=DAY))
    assert len(full.encode()) < 5_000_000
    assert len(committee.encode()) < 400_000
    assert full.count("H0") >= n // 2 and "H00042" not in committee


# --------------------------------------------------------------------------------------------
# Displaced households (positions moved at random, nothing personal)

TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)


def displaced_features(text: str) -> list[tuple[float, float, dict]]:
    """(lon, lat, properties) of every displaced household feature in the map's data."""
    found = re.findall(
        r'\{"geometry": \{"coordinates": \[([\d.]+), ([\d.]+)\], "type": "Point"\}, '
        r'"id": \d+, "properties": (\{"d": [^}]*\})',
        text,
    )
    return [(float(x), float(y), json.loads(p)) for x, y, p in found]


def matched_distances(lonlat_pts: np.ndarray, hh: gpd.GeoDataFrame) -> np.ndarray:
    """Distances (m, UTM 49N) of drawn points to the households, matched so that the largest
    is smallest (brute force over the four households)."""
    drawn = np.column_stack(TO_UTM.transform(lonlat_pts[:, 0], lonlat_pts[:, 1]))
    true = np.column_stack(TO_UTM.transform(hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()))
    best = None
    for perm in itertools.permutations(range(len(true))):
        d = np.hypot(*(drawn - true[list(perm)]).T)
        if best is None or d.max() < best.max():
            best = d
    return best


@pytest.fixture(scope="module")
def displaced_html(analysis):
    # seeded so that the byte search below is repeatable (see test_privacy for why)
    m = draw_map(
        analysis, lang="en", privacy="displaced", made_on=DAY, rng=np.random.default_rng(3)
    )
    return render_map_html(m)


def test_displaced_map_holds_no_household_identity_or_exact_position(analysis, displaced_html):
    text = displaced_html
    for secret in (*HH_IDS, *HH_NAMES, *HH_PHONES):
        assert secret not in text and as_json(secret) not in text
    for coord in household_coordinate_strings(analysis.households):
        assert not re.search(rf"(?<![0-9]){re.escape(coord)}(?![0-9])", text), coord
    assert 'id="gm-banner"' not in text and "Full detail" not in text
    assert "gm-highlight" not in text
    # the popups' labels: the village and the distance only (no id, name, phone, children
    # or nearest service)
    labels = re.findall(r"var LABELS = \{(.*?)\}, VILLAGES", text)
    assert len(labels) == 1
    assert re.findall(r"(\w+): ", labels[0]) == ["village", "distance", "unreachable", "km"]
    assert "Household id" not in text and _js_str("Phone") not in text


def test_displaced_map_draws_every_household_300_to_600_m_away(analysis, displaced_html):
    features = displaced_features(displaced_html)
    assert len(features) == 4
    assert displaced_html.count('"className": "gm-household gm-displaced"') == 3  # 3 classes
    d = matched_distances(np.array([(x, y) for x, y, _ in features]), analysis.households)
    assert ((d >= 299.9) & (d <= 600.1)).all()  # 6 decimals of a degree: 0.1 m
    # only the distance (km, 1 decimal), its class and the village, in random order:
    # 1.967, 5.467, 11.167, 10.767 km in the villages 甲村, 丙村, 乙村, 乙村
    villages = sorted(["丙村", "乙村", "甲村"])  # the popup's list, as in the page
    props = sorted((p["d"], p["s"], villages[p["v"]]) for _, _, p in features)
    assert props == [
        (2.0, "1", "甲村"),
        (5.5, "3", "丙村"),
        (10.8, "4", "乙村"),
        (11.2, "4", "乙村"),
    ]
    assert all(set(p) == {"d", "s", "v"} for _, _, p in features)
    assert "VILLAGES = [" + ", ".join(_js_str(v) for v in villages) + "]" in displaced_html


def test_displaced_map_says_positions_are_moved_in_both_languages(analysis, displaced_html):
    note = (
        "To protect families, every household is drawn 300–600 m from its true position, in a "
        "random direction; distances are by road from the true positions."
    )
    assert f'<div id="gm-displaced-note" class="gm-note">{note}</div>' in displaced_html
    assert "Households: road distance to kindergarten" in legend_of(displaced_html)
    assert as_json("Households (positions moved)") in displaced_html  # the layer list
    zh = render_map_html(draw_map(analysis, privacy="displaced", made_on=DAY, compact=True))
    assert '<details id="gm-legend"' in zh  # folded in the app, the note inside
    assert "为保护住户家庭，图上每户的位置都向随机方向移动了 300–600 米" in zh
    assert "住户只按村汇总显示" not in zh


def test_two_displaced_maps_move_the_households_differently(analysis):
    a, b = (render_map_html(draw_map(analysis, privacy="displaced", made_on=DAY)) for _ in range(2))
    pa = sorted((x, y) for x, y, _ in displaced_features(a))
    pb = sorted((x, y) for x, y, _ in displaced_features(b))
    assert len(pa) == len(pb) == 4 and not set(pa) & set(pb)
    # the same generator state draws the same map
    same = [
        displaced_features(
            render_map_html(
                draw_map(analysis, privacy="displaced", made_on=DAY, rng=np.random.default_rng(5))
            )
        )
        for _ in range(2)
    ]
    assert same[0] == same[1]


def fit_bounds(text: str) -> str:
    found = re.findall(r"\.fitBounds\(\s*(\[\[[\d.]+, [\d.]+\], \[[\d.]+, [\d.]+\]\])", text)
    assert len(found) == 1
    return found[0]


def test_households_do_not_set_a_displaced_maps_extent():
    """A household 9 km north of everything widens the full map, not a displaced one."""
    base = scenario()
    far = base.households.copy()
    far.loc[HH_IDS[3], "geometry"] = shapely.Point(*lonlat(10630.0, 9000.0))
    settings = AnalysisSettings(mode="motorbike", thresholds_m={"kindergarten": 5000.0})
    moved = run_analysis(base.replace(households=far), settings)
    committee = fit_bounds(render_map_html(draw_map(moved, made_on=DAY)))
    displaced = fit_bounds(render_map_html(draw_map(moved, privacy="displaced", made_on=DAY)))
    full = fit_bounds(render_map_html(draw_map(moved, privacy="full", made_on=DAY)))
    assert displaced == committee
    assert full != committee  # the search would see a household in the extent


# --------------------------------------------------------------------------------------------
# In headless Chromium, network off

# Opens every tooltip, and the popup of the first feature whose properties mention NEEDLE.
OPEN_ALL = """
<script>
window.addEventListener("load", function () {
  var map = %(map)s, needle = %(needle)s, opened = false;
  map.eachLayer(function (l) {
    if (!l.feature) { return; }
    if (l.getTooltip && l.getTooltip()) { l.openTooltip(); }
    if (!opened && JSON.stringify(l.feature.properties).indexOf(needle) >= 0) {
      l.openPopup();
      opened = true;
    }
  });
});
</script>
"""


def run_in_browser(m: folium.Map, path: Path, *, open_popup: str | None = None) -> browser.PageRun:
    browser.require_chromium()
    text = render_map_html(m)
    if open_popup is not None:
        script = OPEN_ALL % {"map": m.get_name(), "needle": json.dumps(open_popup)}
        text = text.replace("</html>", script + "</html>")
    path.write_text(text, encoding="utf-8")
    return browser.dump_dom(path)


def popup_text(dom: str) -> str:
    found = re.search(r'class="leaflet-popup-content"[^>]*>(.*?)</div></div>', dom, re.S)
    assert found is not None, "no popup open"
    return found.group(1)


def count_class(dom: str, cls: str) -> int:
    """How many elements carry the class ``cls`` (a whole class token)."""
    return sum(cls in attr.split() for attr in re.findall(r'class="([^"]*)"', dom))


@pytest.mark.browser
def test_committee_map_draws_offline(analysis, tmp_path):
    run = run_in_browser(draw_map(analysis, made_on=DAY), tmp_path / "map.html")
    dom = run.dom
    assert count_class(dom, "leaflet-container") == 1
    assert count_class(dom, "gm-village") == 5
    assert count_class(dom, "gm-village-flag") == 3
    assert count_class(dom, "gm-village-warn") == 1
    assert count_class(dom, "gm-village-ok") == 1
    assert count_class(dom, "gm-boundary") == 2
    assert count_class(dom, "gm-road") == 2  # one MultiLineString per road style
    assert count_class(dom, "gm-service-kindergarten") == 1
    assert count_class(dom, "gm-service-school") == 1
    assert count_class(dom, "gm-household") == 0
    assert 'id="gm-legend"' in dom and "leaflet-control-layers" in dom
    assert "© OpenStreetMap contributors" in dom
    assert "住户只按村汇总显示" in dom
    assert "<title>测试旗 · 幼儿园</title>" in dom
    assert run.console_errors() == []


@pytest.mark.browser
def test_full_map_draws_households_and_the_banner(analysis, tmp_path):
    m = draw_map(analysis, lang="en", privacy="full", made_on=DAY)
    dom = run_in_browser(m, tmp_path / "map.html", open_popup="HH-CHARLIE-03").dom
    assert count_class(dom, "gm-household") == 4
    popup = popup_text(dom)
    assert "<th>Household id</th><td>HH-CHARLIE-03</td>" in popup
    assert "<th>Name</th><td>王秘密丙</td>" in popup and "13933330003" in popup
    assert "<th>Village</th><td>乙村</td>" in popup
    assert "<th>Road distance to kindergarten</th><td>11.2 km</td>" in popup
    assert "<th>Nearest kindergarten</th><td>name-k</td>" in popup
    minutes = round(analysis.households.at["HH-CHARLIE-03", "time_kindergarten_min"])
    assert f"<th>Travel time to kindergarten</th><td>about {minutes} min (motorbike)</td>" in popup
    assert "HH-ALPHA-01 · 2.0 km" in dom  # tooltips
    assert "HH-DELTA-04&lt;img src=x onerror=\"document.title='pwned'\"&gt; · 10.8 km" in dom
    assert '<img src="x"' not in dom and "pwned</title>" not in dom
    assert re.search(
        r'id="gm-banner"[^>]*>Full detail: for the team\'s own use, do not share<', dom
    )


@pytest.mark.browser
def test_displaced_map_draws_moved_households_with_only_village_and_distance(analysis, tmp_path):
    m = draw_map(analysis, lang="en", privacy="displaced", made_on=DAY)
    run = run_in_browser(m, tmp_path / "map.html", open_popup='"d":11.2')
    dom = run.dom
    assert count_class(dom, "gm-household") == 4
    assert count_class(dom, "gm-displaced") == 4
    assert count_class(dom, "gm-village") == 5
    popup = popup_text(dom)
    assert popup == (
        '<div class="gm-popup"><table class="gm-table"><tbody>'
        "<tr><th>Village</th><td>乙村</td></tr>"
        "<tr><th>Road distance to kindergarten</th><td>11.2 km</td></tr>"
        "</tbody></table>"
    )
    # tooltips: village and distance
    for tip in ("甲村 · 2.0 km", "丙村 · 5.5 km", "乙村 · 10.8 km", "乙村 · 11.2 km"):
        assert tip in dom
    assert re.search(r'id="gm-displaced-note"[^>]*>To protect families, every household', dom)
    for secret in (*HH_IDS, *HH_NAMES, *HH_PHONES):
        assert secret not in dom and escape(secret, quote=False) not in dom
    assert "Household id" not in dom and 'id="gm-banner"' not in dom
    assert run.console_errors() == []


@pytest.mark.browser
def test_hostile_names_render_as_text_and_run_nothing(analysis, tmp_path):
    m = draw_map(analysis, made_on=DAY)
    dom = run_in_browser(m, tmp_path / "map.html", open_popup="img src=x").dom
    assert "pwned</title>" not in dom and "<title>测试旗 · 幼儿园</title>" in dom
    assert count_class(dom, "leaflet-tooltip") == 5 + 2  # village points and services
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert '"&gt;&lt;img src=x onerror="document.title=\'pwned\'"&gt;' in dom
    assert '<img src="x"' not in dom and "<img src=x" not in dom
    popup = popup_text(dom)
    assert "&lt;img src=x" in popup and "沿道路 7.3 公里，超过 5 公里的标准" in popup


@pytest.mark.browser
@pytest.mark.slow
def test_demo_map_is_small_and_draws(tmp_path):
    if not (DEMO_DIR / "scenario.json").exists():
        pytest.skip(f"demo scenario not generated: {DEMO_DIR / 'scenario.json'}")
    from mapping.scenario import load_demo

    a = run_analysis(load_demo())
    m = draw_map(a, made_on=DAY)
    path = write_map_html(m, tmp_path / "demo.html")
    assert path.stat().st_size < 2_000_000
    run = browser.dump_dom(path)
    assert count_class(run.dom, "gm-village") == len(a.villages)
    assert count_class(run.dom, "gm-village-flag") == int(a.villages["flag_kindergarten"].sum())
    assert 'id="gm-fictional"' in run.dom
    assert run.console_errors() == []
    png = browser.screenshot(path, tmp_path / "demo.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_compact_map_for_the_app_folds_the_legend_and_drops_the_title_box(analysis):
    from mapping.maps import draw_map, render_map_html

    html = render_map_html(draw_map(analysis, compact=True, privacy="full"))
    assert '<details id="gm-legend" class="gm-box">' in html  # folded
    assert 'id="gm-top"' not in html and 'id="gm-banner"' not in html
    full = render_map_html(draw_map(analysis, privacy="full"))
    # a file: title box, legend open (a script folds it on a phone: test_maps_phone.py)
    assert 'id="gm-top"' in full and '<details id="gm-legend" class="gm-box" open>' in full


# --------------------------------------------------------------------------------------------
# Planning results: proposals, service areas, newly covered households
#
# P1, a proposed kindergarten on the road at x=9 km, brings HH-BRAVO-02 (5.467 -> 3.807 km),
# HH-CHARLIE-03 (11.167 -> 2.167 km) and HH-DELTA-04 (10.767 -> 1.767 km) within 5 km;
# HH-ALPHA-01 stays at 1.967 km from the kindergarten at x=0. P2 is a proposed school at
# x=3 km with a hostile name. Service areas of the two kindergartens (k and P1) in the bands
# 1 and 3 km: 4 shapes, none empty.

AREA_BANDS_M = (1000.0, 3000.0)
NEWLY_COVERED = ["HH-BRAVO-02", "HH-CHARLIE-03", HH_IDS[3]]


@pytest.fixture(scope="module")
def proposals():
    p = make_proposal(None, "kindergarten", *lonlat(9000.0, 0.0), lang="zh")
    return make_proposal(p, "school", *lonlat(3000.0, 0.0), name=HOSTILE_SCRIPT)


@pytest.fixture(scope="module")
def planned(analysis, proposals):
    return apply_proposals(analysis, proposals)


@pytest.fixture(scope="module")
def areas(planned):
    return service_areas(planned, "kindergarten", AREA_BANDS_M)


def newly_covered(before, after, kind: str = "kindergarten") -> list[str]:
    """Households within the threshold after the proposals and not before (mm precision)."""
    limit = before.settings.threshold_m(kind)
    d0 = before.households[f"dist_{kind}_m"].round(3)
    d1 = after.households[f"dist_{kind}_m"].round(3)
    return list(after.households.index[(d1 <= limit) & ~(d0 <= limit)])


def legend_of(text: str) -> str:
    """The legend element of a map's HTML (plain HTML, not JSON-escaped)."""
    start = text.index('id="gm-legend"')
    return text[start : text.index("</details>", start)]


def drawn_lonlat(text: str) -> list[tuple[float, float]]:
    """Every [lon, lat] pair in the map's GeoJSON data."""
    return [(float(a), float(b)) for a, b in re.findall(r"\[(\d+\.\d+), (\d+\.\d+)\]", text)]


def test_the_plan_covers_the_households_the_map_rings(analysis, planned, proposals):
    assert list(proposals.index) == ["P1", "P2"]
    assert proposals.loc["P1", "name"] == "拟建幼儿园 1"
    assert newly_covered(analysis, planned) == NEWLY_COVERED
    assert planned.households["dist_kindergarten_m"].round(3).tolist() == [
        1967.0,
        3807.0,
        2167.0,
        1767.0,
    ]


def test_proposals_are_drawn_apart_from_existing_services(planned):
    text = render_map_html(draw_map(planned, lang="zh", made_on=DAY))
    # the existing services keep their symbols, each proposal gets the proposed one
    assert text.count('"className": "gm-service gm-service-kindergarten"') == 1
    assert text.count('"className": "gm-service gm-service-school"') == 1
    assert text.count('"className": "gm-service gm-proposed gm-proposed-kindergarten"') == 1
    assert text.count('"className": "gm-service gm-proposed gm-proposed-school"') == 1
    assert text.count('stroke-dasharray=\\"3 2\\"') >= 2  # the dashed outline, in the icons
    # "proposed" in tooltip, popup and layer list
    assert as_json("拟建幼儿园 1（拟建）") in text
    assert as_json('<span class="gm-proposed-tag">拟建幼儿园（规划方案，尚未建成）</span>') in text
    assert as_json("拟建学校") in text  # the school proposals' layer
    legend = legend_of(text)
    assert legend.count('class="gm-row gm-legend-proposed"') == 2
    assert "拟建幼儿园</div>" in legend and "拟建学校</div>" in legend
    # the hostile name is text, in the popup and in the tooltip
    assert HOSTILE_SCRIPT not in text
    assert as_json(f'<b class="gm-name">{escape(HOSTILE_SCRIPT)}</b>') in text
    assert as_json(escape(f"{HOSTILE_SCRIPT}（拟建）")) in text
    english = render_map_html(draw_map(planned, lang="en", made_on=DAY))
    assert "Proposed kindergarten</div>" in legend_of(english)
    assert as_json("拟建幼儿园 1 (proposed)") in english


def test_without_proposals_nothing_says_proposed(committee_html, full_html):
    for text in (committee_html, full_html):
        assert "gm-proposed" not in text and "gm-legend-proposed" not in text
    assert "拟建" not in committee_html
    assert "Proposed" not in full_html and "proposed" not in legend_of(full_html)


def test_service_areas_are_a_layer_with_a_legend_by_band(planned, areas, committee_html):
    assert len(areas) == 4 and not areas.geometry.is_empty.any()
    text = render_map_html(draw_map(planned, made_on=DAY, service_areas=areas))
    # one feature per shape, the farther band first (drawn under the nearer one)
    found = re.findall(r'"band_m": ([\d.]+), "s": "(\d)"', text)
    assert found == [("3000.0", "1"), ("3000.0", "1"), ("1000.0", "0"), ("1000.0", "0")]
    assert re.search(r"\bclassName\"?: \"gm-service-area\"", text)
    assert as_json("服务范围（沿道路）") in text  # in the layer list
    legend = legend_of(text)
    assert legend.count('class="gm-row gm-legend-area"') == 2
    assert "1 公里以内</div>" in legend and "3 公里以内</div>" in legend
    assert "服务范围：沿道路到服务设施" in legend
    # nearest band darkest
    assert legend.index("#08519c") < legend.index("1 公里以内") < legend.index("#3182bd")
    # without areas: no layer, no legend entry
    assert "gm-service-area" not in committee_html and "服务范围" not in committee_html


def test_dissolved_and_empty_service_areas(planned, areas):
    merged = service_areas(planned, "kindergarten", AREA_BANDS_M, dissolve=True)
    text = render_map_html(draw_map(planned, made_on=DAY, service_areas=merged))
    assert re.findall(r'"band_m": ([\d.]+)', text) == ["3000.0", "1000.0"]
    # an empty shape (a service that reaches nothing within a band) is left out
    holed = areas.copy()
    holed.loc[holed.index[0], "geometry"] = shapely.Polygon()
    text = render_map_html(draw_map(planned, made_on=DAY, service_areas=holed))
    assert re.findall(r'"band_m": ([\d.]+)', text) == ["3000.0", "3000.0", "1000.0"]
    # nothing left to draw: neither a layer nor a legend entry
    gone = areas.copy()
    gone["geometry"] = [shapely.Polygon()] * len(gone)
    text = render_map_html(draw_map(planned, made_on=DAY, service_areas=gone))
    assert "gm-service-area" not in text and "gm-legend-area" not in text


def test_service_areas_in_another_crs_are_drawn_in_lon_lat(planned, areas):
    utm = areas.to_crs("EPSG:32649")
    a = render_map_html(draw_map(planned, made_on=DAY, service_areas=areas))
    b = render_map_html(draw_map(planned, made_on=DAY, service_areas=utm))
    pairs_a, pairs_b = np.array(drawn_lonlat(a)), np.array(drawn_lonlat(b))
    assert pairs_a.shape == pairs_b.shape and len(pairs_a) > 100
    # the same shapes, to the rounding of a round trip through UTM (0.1 m)
    assert np.abs(pairs_a - pairs_b).max() <= 2e-6


def test_bad_service_areas_are_refused_with_a_message(planned, areas):
    with pytest.raises(InputError) as err:
        draw_map(planned, service_areas=areas.drop(columns="band_m"))
    assert err.value.key == "error.map.service_areas"
    assert str(err.value).startswith("The service areas layer lacks the column(s) band_m,")
    assert "mapping.coverage.service_areas" in str(err.value)
    assert "服务范围图层缺少以下列：band_m" in err.value.message("zh")
    with pytest.raises(InputError) as err:
        draw_map(planned, service_areas=pd.DataFrame({"band_m": [1000.0]}))
    assert "lacks the column(s) geometry" in str(err.value)
    no_crs = gpd.GeoDataFrame(
        {"band_m": [1000.0]}, geometry=[shapely.box(111.0, 41.5, 111.1, 41.6)]
    )
    with pytest.raises(InputError) as err:
        draw_map(planned, service_areas=no_crs)
    assert err.value.key == "error.map.service_areas_crs"
    assert "has no coordinate system" in str(err.value) and "set_crs" in str(err.value)


def test_newly_covered_households_are_ringed_only_in_full_mode(analysis, planned):
    ids = newly_covered(analysis, planned)
    full = render_map_html(
        draw_map(planned, lang="en", privacy="full", made_on=DAY, highlight_households=ids)
    )
    assert full.count('"className": "gm-highlight"') == 1  # one style for every ring
    hh = planned.households
    for hid, point in zip(hh.index, hh.geometry, strict=True):
        pair = json.dumps([round(point.x, 6), round(point.y, 6)])
        # a ringed household's position is drawn twice: its point and its ring
        assert full.count(pair) == (2 if hid in ids else 1), hid
    assert "Households a proposal would newly cover (3)" in legend_of(full)
    assert as_json("Newly covered households") in full  # the layer list
    committee = render_map_html(draw_map(planned, lang="zh", made_on=DAY, highlight_households=ids))
    assert "gm-highlight" not in committee and "新覆盖的住户" not in committee
    # without ids, no ring and no legend entry in full mode either
    plain = render_map_html(draw_map(planned, lang="en", privacy="full", made_on=DAY))
    assert "gm-highlight" not in plain and "newly cover" not in plain


def test_unknown_households_to_highlight_are_refused(planned):
    for privacy in PRIVACY_MODES:
        with pytest.raises(InputError) as err:
            draw_map(planned, privacy=privacy, highlight_households=["HH-BRAVO-02", "HH-NOPE-99"])
        assert err.value.key == "error.map.highlight"
        assert str(err.value).startswith(
            "1 of the households to highlight are not in this analysis' households table: "
            "HH-NOPE-99."
        )
        assert "有 1 个编号在本次分析的住户表里找不到：HH-NOPE-99" in err.value.message("zh")
    # a single id is one id, not its characters
    text = render_map_html(
        draw_map(planned, privacy="full", made_on=DAY, highlight_households="HH-BRAVO-02")
    )
    assert "Households a proposal" not in text and "拟建点新覆盖的住户（1 户）" in text


def test_a_committee_map_of_a_plan_holds_no_household_values(analysis, planned, areas):
    text = render_map_html(
        draw_map(
            planned,
            lang="zh",
            made_on=DAY,
            service_areas=areas,
            highlight_households=NEWLY_COVERED,
        )
    )
    for secret in (*HH_IDS, *HH_NAMES, *HH_PHONES):
        assert secret not in text and as_json(secret) not in text
    assert "gm-household" not in text and "gm-highlight" not in text
    # No drawn point -- service area vertices included -- lies within 20 m of a household
    # (they stand 137 m off the road; the areas reach 200 m off it). Single coordinates are
    # not searched for as text: among hundreds of vertices, "41.55036" is part of 41.550368.
    hh = np.array([(p.x, p.y) for p in planned.households.geometry])
    drawn = np.array(drawn_lonlat(text))
    assert len(drawn) > 100
    dx = (drawn[:, None, 0] - hh[None, :, 0]) * 111_320.0 * np.cos(np.radians(hh[None, :, 1]))
    dy = (drawn[:, None, 1] - hh[None, :, 1]) * 110_574.0
    assert np.hypot(dx, dy).min() > 20.0


def classes_with(dom: str, *classes: str) -> int:
    """How many elements carry every one of ``classes``."""
    return sum(
        all(c in attr.split() for c in classes) for attr in re.findall(r'class="([^"]*)"', dom)
    )


@pytest.mark.browser
def test_a_plan_draws_in_the_browser(analysis, planned, areas, tmp_path):
    ids = newly_covered(analysis, planned)
    m = draw_map(
        planned,
        lang="zh",
        privacy="full",
        made_on=DAY,
        service_areas=areas,
        highlight_households=ids,
    )
    run = run_in_browser(m, tmp_path / "full.html", open_popup="拟建幼儿园（规划方案")
    dom = run.dom
    assert count_class(dom, "gm-proposed") == 2
    assert count_class(dom, "gm-proposed-kindergarten") == 1
    assert count_class(dom, "gm-proposed-school") == 1
    assert count_class(dom, "gm-service-kindergarten") == 1  # the existing one only
    assert count_class(dom, "gm-service-school") == 1
    assert count_class(dom, "gm-service-area") == 4
    assert count_class(dom, "gm-household") == 4
    assert count_class(dom, "gm-highlight") == 3
    # areas and rings take no clicks: the villages and households keep their popups
    assert classes_with(dom, "gm-service-area", "leaflet-interactive") == 0
    assert classes_with(dom, "gm-highlight", "leaflet-interactive") == 0
    popup = popup_text(dom)
    assert '<b class="gm-name">拟建幼儿园 1</b>' in popup
    assert "拟建幼儿园（规划方案，尚未建成）" in popup
    assert "拟建幼儿园 1（拟建）" in dom  # its tooltip
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;（拟建）" in dom
    assert "pwned</title>" not in dom
    assert run.console_errors() == []

    committee = draw_map(planned, made_on=DAY, service_areas=areas, highlight_households=ids)
    dom = run_in_browser(committee, tmp_path / "committee.html").dom
    assert count_class(dom, "gm-proposed") == 2
    assert count_class(dom, "gm-service-area") == 4
    assert count_class(dom, "gm-household") == 0 and count_class(dom, "gm-highlight") == 0


@pytest.mark.browser
@pytest.mark.slow
def test_demo_suggestions_draw_on_the_map(tmp_path):
    if not (DEMO_DIR / "scenario.json").exists():
        pytest.skip(f"demo scenario not generated: {DEMO_DIR / 'scenario.json'}")
    from mapping.planning import sites_to_proposals, suggest_sites
    from mapping.scenario import load_demo

    before = run_analysis(load_demo())
    sites = suggest_sites(before, "kindergarten", 2)
    props = sites_to_proposals(sites, "kindergarten")
    after = apply_proposals(before, props)
    ids = newly_covered(before, after)
    # the map rings exactly the households the suggestion counts
    assert len(ids) == int(sites["newly_covered_households"].sum()) > 0
    shapes = service_areas(after, "kindergarten")
    n_shapes = int((~shapes.geometry.is_empty).sum())
    n_kindergartens = int((after.services["kind"] == "kindergarten").sum())
    assert len(shapes) == 4 * n_kindergartens  # the four default bands
    m = draw_map(after, privacy="full", made_on=DAY, service_areas=shapes, highlight_households=ids)
    path = write_map_html(m, tmp_path / "plan.html")
    run = browser.dump_dom(path)
    assert count_class(run.dom, "gm-proposed") == len(props) == len(sites)
    assert count_class(run.dom, "gm-proposed-kindergarten") == len(props)
    assert count_class(run.dom, "gm-service-area") == n_shapes
    assert count_class(run.dom, "gm-highlight") == len(ids)
    assert count_class(run.dom, "gm-household") == len(after.households)
    assert run.console_errors() == []


def test_map_messages_have_both_languages_and_the_same_placeholders():
    keys = [k for k in i18n.all_keys() if k.startswith(("map.", "error.map."))]
    assert {"map.layer.proposed", "map.legend.service_areas", "map.legend.highlight"} <= set(keys)
    for key in keys:
        texts = i18n.texts_for(key)
        assert texts["zh"] and texts["en"], key
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


def test_the_place_picker_loads_leaflet_draw_from_the_project_not_a_cdn(analysis):
    import folium.plugins

    from mapping.maps import add_place_picker, use_embedded_assets

    m = use_embedded_assets(add_place_picker(draw_map(analysis, compact=True), "en"))
    draws = [c for c in m._children.values() if isinstance(c, folium.plugins.Draw)]
    assert len(draws) == 1
    urls = [
        u for _, u in (*m.default_js, *m.default_css, *draws[0].default_js, *draws[0].default_css)
    ]
    assert urls and all(u.startswith("data:") for u in urls)
    script = m.get_root().render()
    assert "Choose a place on the map" in script  # the toolbar's text, translated


def test_village_popups_give_the_travel_time(analysis, committee_html):
    """Issue 11, item 9: the time by the travel mode, beside the distance."""
    for _, v in analysis.villages.iterrows():
        if pd.notna(v["time_kindergarten_min"]):
            text = f"约 {v['time_kindergarten_min']:.0f} 分钟（摩托车）"
            assert as_json(text) in committee_html or text in committee_html, text
