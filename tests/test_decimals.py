"""Numbers that agree with their flag: 3,004 m against a 3 km threshold reads "3.004 km".

Reported (issue 11, item 15): the printout said "3.0 公里" for a village flagged against
3 km. Every place a village's or household's distance is printed next to its flag (the gap
sentence, the printable map, the map file's popups, the cards, the report) shows as many
decimals as it takes. The oracle is the flag's own rule, ``round(dist_m, 3) > limit_m``.
"""

from __future__ import annotations

import datetime as dt
import json

import matplotlib.pyplot as plt
import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.text import Text

from mapping.analysis import run_analysis
from mapping.cards import draw_village_card
from mapping.gaps import km_text
from mapping.mapmodel import build_map_model
from mapping.maps import draw_map, render_map_html
from mapping.printmap import draw_print_map
from mapping.report import write_report
from mapping.settings import AnalysisSettings
from tests import browser
from tests.netbuild import households, roads, services, villages
from tests.test_routes import scenario_of

DAY = dt.date(2026, 11, 29)


@pytest.mark.parametrize(
    ("dist_m", "limit_m", "text"),
    [
        (10_500.0, 5_000.0, "10.5"),
        (3_004.0, 3_000.0, "3.004"),
        (3_049.0, 3_000.0, "3.05"),
        (3_000.0, 3_000.0, "3.0"),  # at the threshold is within it
        (2_950.0, 3_000.0, "3.0"),  # within, and 3.0 is not beyond 3
        (3_000.4, 3_000.0, "3.0004"),
    ],
)
def test_km_text_by_pencil(dist_m, limit_m, text):
    assert km_text(dist_m, limit_m) == text


@given(
    st.floats(min_value=0, max_value=200_000, allow_nan=False),
    st.sampled_from([500.0, 1000.0, 3000.0, 5000.0, 10_000.0, 2500.0]),
)
def test_the_number_always_agrees_with_the_flag(dist_m, limit_m):
    shown_m = float(km_text(dist_m, limit_m)) * 1000
    assert (round(shown_m, 6) > limit_m) == (round(dist_m, 3) > limit_m)


@pytest.fixture(scope="module")
def just_beyond():
    """A village and a household 3,004 m by road from the kindergarten; threshold 3 km."""
    r = roads({0: (0.0, 0.0), 1: (5000.0, 0.0)}, [(1, [0, 1], "secondary")])
    vil = villages({"V": (0.0, 0.0)}, ["边上村"])
    hh = households({"H1": (0.0, 0.0)}, children=[1], village_names=["边上村"])
    svc = services({"K": ("kindergarten", 3004.0, 0.0), "S": ("school", 0.0, 0.0)})
    settings = AnalysisSettings(thresholds_m={"kindergarten": 3000.0, "school": 10_000.0})
    a = run_analysis(scenario_of(r, vil, hh, svc), settings)
    assert a.villages.at["V", "dist_kindergarten_m"] == pytest.approx(3004.0, abs=1e-3)
    assert bool(a.villages.at["V", "flag_kindergarten"])
    return a


def test_the_sentence_card_and_printout_say_3_004(just_beyond, tmp_path):
    a = just_beyond
    assert "沿道路 3.004 公里，超过 3 公里的标准" in a.villages.at["V", "reason_kindergarten_zh"]
    fig = draw_print_map(a, lang="zh", made_on=DAY)
    try:
        labels = [t.get_text() for t in fig.findobj(Text) if t.get_gid() == "label-flag"]
        assert labels == ["边上村\n3.004 公里"]
    finally:
        plt.close(fig)
    model = build_map_model(a, lang="zh", made_on=DAY)
    card = draw_village_card(model, "V")
    try:
        assert "3.004 公里" in [t.get_text() for t in card.findobj(Text)]
    finally:
        plt.close(card)
    report = write_report(model, tmp_path / "r.pdf")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(report).pages)
    assert "3.004" in text and "3.0 公里" not in text


@pytest.mark.browser
def test_the_household_popup_says_3_004(just_beyond, tmp_path):
    browser.require_chromium()
    m = draw_map(just_beyond, lang="en", privacy="full", made_on=DAY)
    path = tmp_path / "map.html"
    path.write_text(render_map_html(m), encoding="utf-8")
    with browser.DevTools() as tools:
        tools.navigate(path.as_uri())
        tools.wait_for(f"typeof {m.get_name()} !== 'undefined' && {m.get_name()}._loaded", 30)
        tips = json.loads(
            tools.evaluate(
                "JSON.stringify((function () { var out = [];"
                f"{m.get_name()}.eachLayer(function (l) {{"
                "  if (l.getTooltip && l.getTooltip() && l.feature && l.feature.properties.i) {"
                "    var c = l.getTooltip().getContent();"
                "    out.push(typeof c === 'function' ? c(l) : c); } });"
                "return out; })())"
            )
        )
        assert tools.console_errors() == []
    assert tips == ["H1 · 3.004 km"]
