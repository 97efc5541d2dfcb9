"""Households without coordinates on maps: counted at their village, never drawn as a dot.

A household typed in without GPS is placed at its village's point (``located = village``,
issue 14). On a map a dot there would pass for a surveyed position: full and displaced maps
leave it out of the household points and ring the village instead, saying how many.
"""

from __future__ import annotations

import json

import pytest

from mapping.cli import main
from mapping.scenario import DEMO_DIR


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    if not (DEMO_DIR / "scenario.json").exists():
        pytest.skip("demo scenario not generated")
    folder = tmp_path_factory.mktemp("located")
    csv = folder / "hh.csv"
    csv.write_text(
        "户编号,村名,经度,纬度,儿童数\n"
        "GPS-1,温家村,112.958602,41.848387,1\n"
        "NOGPS-1,温家村,,,2\n"
        "NOGPS-2,温家村,,,1\n",
        encoding="utf-8",
    )
    out = {}
    for privacy in ("full", "displaced", "committee"):
        out[privacy] = folder / privacy
        code = main(["analyze", "--demo", "--households", str(csv), "--coords", "wgs84",
                     "--privacy", privacy, "--out", str(out[privacy]), "--lang", "en"])  # fmt: skip
        assert code == 0
    return out


def household_features(html: str) -> list[dict]:
    """The household points' properties in a map file (their layer's GeoJSON)."""
    found, decoder = [], json.JSONDecoder()
    for text in html.split(".addData(")[1:]:
        if not text.startswith('{"features"'):
            continue  # Leaflet's own code
        data, _ = decoder.raw_decode(text)
        for f in data["features"]:
            if "d" in f["properties"]:
                found.append(f["properties"])
    return found


def test_a_full_map_draws_only_the_household_with_gps(outputs):
    html = (outputs["full"] / "map.html").read_text(encoding="utf-8")
    ids = [p["i"] for p in household_features(html)]
    assert ids == ["GPS-1"]
    assert "2 households without coordinates, counted at the village" in html
    assert "gm-placed" in html


def test_a_displaced_map_moves_only_the_household_with_gps(outputs):
    html = (outputs["displaced"] / "map.html").read_text(encoding="utf-8")
    assert len(household_features(html)) == 1
    assert "2 households without coordinates" in html


def test_a_committee_map_shows_no_household_and_no_ring(outputs):
    html = (outputs["committee"] / "map.html").read_text(encoding="utf-8")
    assert household_features(html) == []
    assert "gm-placed" not in html


def test_a_map_drawn_again_reuses_its_household_layer(monkeypatch):
    """The app redraws its map on every click: when no household is placed at its village
    (all ``located = gps``), the households frame is passed on as it is, so its 20,000-point
    layer is built once, not on every rerun."""
    import mapping.maps as maps
    from mapping.analysis import run_analysis
    from mapping.scenario import load_demo
    from mapping.settings import AnalysisSettings

    analysis = run_analysis(load_demo(), AnalysisSettings())
    assert "located" in analysis.households and (analysis.households["located"] == "gps").all()
    built = []
    real = maps._household_layer
    monkeypatch.setattr(maps, "_household_layer", lambda *a, **k: built.append(1) or real(*a, **k))
    first = maps.render_map_html(maps.draw_map(analysis, lang="zh", privacy="full"))
    second = maps.render_map_html(maps.draw_map(analysis, lang="zh", privacy="full"))
    assert len(built) == 1
    assert first.count("gm-household") == second.count("gm-household") > 0
