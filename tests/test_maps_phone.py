"""The committee's HTML map on a phone (390 x 844, as an iPhone 12-15 shows a page).

Reported (issue 11, item 16): the layer list was always open and covered the title and the
notice, the legend covered half the map, and popups ran under the layer list. On a small
screen both start folded (a tap opens them), and a popup stays inside the screen and clear of
the controls. On a laptop screen the map is as before: layer list and legend open.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mapping.analysis import run_analysis
from mapping.maps import draw_map, render_map_html
from mapping.settings import AnalysisSettings
from tests import browser
from tests.test_template_injection import hostile_scenario

DAY = dt.date(2024, 5, 1)
PHONE = (390, 844)
LAPTOP = (1400, 1000)

NAMES = ["巨井泉村", "巨井泉村二组", "希乐图村", "光明村", "很长很长的一个村名字" * 3]

LAYOUT = """
(function () {
  function box(sel) {
    var el = document.querySelector(sel);
    if (!el) { return null; }
    var r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
            width: r.width, height: r.height};
  }
  return JSON.stringify({
    layers: box(".leaflet-control-layers"),
    expanded: !!document.querySelector(".leaflet-control-layers-expanded"),
    top: box("#gm-title"),
    legend: box("#gm-legend"),
    legendOpen: !!(document.querySelector("#gm-legend") || {}).open,
    width: window.innerWidth, height: window.innerHeight
  });
})()
"""

OPEN_POPUP = """
(function () {
  var target = null;
  %(map)s.eachLayer(function (l) {
    if (!target && l.getPopup && l.getPopup() && l.getLatLng) { target = l; }
  });
  target.openPopup();
  return true;
})()
"""


def overlap(a: dict, b: dict) -> float:
    """The area two boxes share, px²."""
    w = min(a["right"], b["right"]) - max(a["left"], b["left"])
    h = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return max(w, 0) * max(h, 0)


@pytest.fixture(scope="module")
def committee_page(tmp_path_factory):
    settings = AnalysisSettings(thresholds_m={"kindergarten": 1000.0, "school": 20000.0})
    a = run_analysis(hostile_scenario(NAMES), settings)
    m = draw_map(a, lang="zh", made_on=DAY)
    path = tmp_path_factory.mktemp("phone") / "map.html"
    path.write_text(render_map_html(m), encoding="utf-8")
    return path, m.get_name()


def layout(path, map_name: str, size: tuple[int, int], *, popup: bool = False) -> dict:
    browser.require_chromium()
    with browser.DevTools(size=size) as tools:
        tools.navigate(path.as_uri())
        tools.wait_for(f"typeof {map_name} !== 'undefined' && {map_name}._loaded", 30)
        tools.pump(0.5)
        out = json.loads(tools.evaluate(LAYOUT))
        if popup:
            tools.evaluate(OPEN_POPUP % {"map": map_name})
            tools.pump(1.0)  # the map pans the popup into view
            out["popup"] = json.loads(
                tools.evaluate(
                    "JSON.stringify(document.querySelector('.leaflet-popup')"
                    ".getBoundingClientRect())"
                )
            )
        assert tools.console_errors() == []
    return out


@pytest.mark.browser
def test_on_a_phone_the_layer_list_and_legend_start_folded(committee_page):
    out = layout(*committee_page, PHONE)
    assert not out["expanded"]
    assert not out["legendOpen"]
    screen = out["width"] * out["height"]
    assert out["legend"]["width"] * out["legend"]["height"] < 0.05 * screen
    assert overlap(out["layers"], out["top"]) == 0  # the title and notice stay readable
    assert overlap(out["legend"], out["top"]) == 0


@pytest.mark.browser
def test_on_a_phone_a_popup_fits_the_screen_and_clears_the_controls(committee_page):
    out = layout(*committee_page, PHONE, popup=True)
    p = out["popup"]
    assert p["left"] >= 0 and p["right"] <= out["width"]
    assert p["top"] >= 0 and p["bottom"] <= out["height"]
    assert overlap(p, out["layers"]) == 0


@pytest.mark.browser
def test_on_a_laptop_the_layer_list_and_legend_are_open(committee_page):
    out = layout(*committee_page, LAPTOP)
    assert out["expanded"]
    assert out["legendOpen"]
    assert overlap(out["layers"], out["top"]) == 0
