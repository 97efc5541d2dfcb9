"""Thresholds in minutes of travel (issue 11, item 9): flags by whichever threshold is set.

A straight 12 km track with a kindergarten at one end and villages 3, 6 and 12 km along it:
walking at 4.5 km/h they are 40, 80 and 160 minutes away; by motorbike on a track
(25 km/h) 7.2, 14.4 and 28.8 minutes. Every answer below is worked out with a pencil.
"""

from __future__ import annotations

import pytest

from layers.errors import SettingsError
from mapping.analysis import rethreshold, run_analysis
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings, parse_threshold
from tests.netbuild import households, roads, services, villages


@pytest.fixture(scope="module")
def line() -> Scenario:
    nodes = {i: (3000.0 * i, 0.0) for i in range(5)}
    import geopandas as gpd

    return Scenario(
        roads=roads(nodes, [(1, [0, 1, 2, 3, 4], "track")]),
        villages=villages(
            {"V1": (3000.0, 0.0), "V2": (6000.0, 0.0), "V3": (12000.0, 0.0)},
            ["一村", "二村", "三村"],
        ),
        households=households({"H1": (3000.0, 0.0), "H3": (12000.0, 0.0)}, children=[1, 2]),
        services=services({"K": ("kindergarten", 0.0, 0.0)}),
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )


def flags(analysis) -> dict[str, bool]:
    return analysis.villages["flag_kindergarten"].to_dict()


def test_walking_times_are_distance_over_speed(line):
    a = run_analysis(line, AnalysisSettings(mode="walk", kinds=("kindergarten",)))
    assert a.villages["time_kindergarten_min"].round(6).to_dict() == {
        "V1": 40.0,
        "V2": 80.0,
        "V3": 160.0,
    }


def test_a_minutes_threshold_flags_by_travel_time_not_distance(line):
    by_km = AnalysisSettings(
        mode="walk", kinds=("kindergarten",), thresholds_m={"kindergarten": 10_000.0}
    )
    a = run_analysis(line, by_km)
    assert flags(a) == {"V1": False, "V2": False, "V3": True}
    # 80 minutes: the village at exactly 80 minutes is within it; the distance threshold
    # (10 km, which would let 二村 and 一村 pass too) no longer decides
    by_min = by_km.with_(time_thresholds_min={"kindergarten": 80.0})
    b = rethreshold(a, by_min)
    assert flags(b) == {"V1": False, "V2": False, "V3": True}
    c = rethreshold(a, by_km.with_(time_thresholds_min={"kindergarten": 60.0}))
    assert flags(c) == {"V1": False, "V2": True, "V3": True}
    # households: the one at 三村 (160 min) is beyond, the one at 一村 (40 min) is not
    assert c.villages["n_hh_beyond_kindergarten"].to_dict() == {"V1": 0, "V2": 0, "V3": 1}
    assert c.villages["n_children_beyond_kindergarten"].to_dict()["V3"] == 2
    # the same as a fresh analysis with the minutes threshold
    assert flags(run_analysis(line, by_km.with_(time_thresholds_min={"kindergarten": 60.0}))) == (
        flags(c)
    )


def test_the_sentence_gives_the_minutes_and_the_minutes_threshold(line):
    settings = AnalysisSettings(
        mode="walk", kinds=("kindergarten",), time_thresholds_min={"kindergarten": 60.0}
    )
    v = run_analysis(line, settings).villages
    assert v.loc["V3", "reason_kindergarten_zh"].startswith(
        "三村：最近的幼儿园（name-K）沿道路 12.0 公里，约 160 分钟，超过 60 分钟的标准。"
    )
    assert v.loc["V1", "reason_kindergarten_en"].startswith(
        "一村: the nearest kindergarten (name-K) is 3.0 km away by road, 40 min, within the "
        "60 min threshold."
    )


def test_minutes_near_the_threshold_show_enough_decimals(line):
    # by motorbike on a track, 三村 is 28.8 minutes away: against 28.5 "29" agrees with the
    # flag, against 28.8 "29" would not (it is within), so the sentence says 28.8
    moto = AnalysisSettings(kinds=("kindergarten",))
    a = run_analysis(line, moto)
    assert round(a.villages.loc["V3", "time_kindergarten_min"], 6) == 28.8
    b = rethreshold(a, moto.with_(time_thresholds_min={"kindergarten": 28.8}))
    assert not b.villages.loc["V3", "flag_kindergarten"]
    assert "约 28.8 分钟，在 28.8 分钟标准以内" in b.villages.loc["V3", "reason_kindergarten_zh"]
    c = rethreshold(a, moto.with_(time_thresholds_min={"kindergarten": 28.5}))
    assert c.villages.loc["V3", "flag_kindergarten"]
    assert "约 29 分钟，超过 28.5 分钟的标准" in c.villages.loc["V3", "reason_kindergarten_zh"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30min", ("min", 30.0)),
        ("30 分钟", ("min", 30.0)),
        ("45mins", ("min", 45.0)),
        ("5km", ("m", 5000.0)),
        ("800m", ("m", 800.0)),
        ("2.5 公里", ("m", 2500.0)),
    ],
)
def test_thresholds_are_read_as_distance_or_time(text, expected):
    assert parse_threshold(text, "kindergarten") == expected


@pytest.mark.parametrize("text", ["0min", "-5min", "1e309min", "nanmin", "abcmin"])
def test_bad_minutes_are_refused_naming_the_kind(text):
    with pytest.raises(SettingsError) as info:
        parse_threshold(text, "kindergarten")
    assert "kindergarten" in str(info.value) and text in str(info.value)


def test_settings_refuse_a_minutes_threshold_that_is_not_a_finite_positive_number():
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(SettingsError):
            AnalysisSettings(time_thresholds_min={"kindergarten": bad})
    with pytest.raises(SettingsError):
        AnalysisSettings(time_thresholds_min={"hospital": 30.0})
    s = AnalysisSettings(time_thresholds_min={"school": 45})
    assert s.threshold_min("school") == 45.0 and s.threshold_min("kindergarten") is None
