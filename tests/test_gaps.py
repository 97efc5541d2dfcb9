"""Households to villages, village gap flags and the sentences that explain them."""

from __future__ import annotations

import geopandas as gpd
import pytest

from mapping.analysis import run_analysis
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests.netbuild import box, households, roads, services, villages


def scenario():
    """A 12 km road along x (nodes every km); a kindergarten at x=0, a school at x=12 km.

    Village A at 2 km (boundary 1.5-2.5 km), C at 4.5 km (boundary 4-5.5 km), B at 10.4 km
    (no boundary).
    """
    r = roads({i: (1000.0 * i, 0.0) for i in range(13)}, [(1, list(range(13)), "secondary")])
    vil = villages(
        {"A": (2000.0, 0.0), "C": (4500.0, 0.0), "B": (10400.0, 0.0)},
        ["甲村", "丙村", "乙村"],
        [box(1500, -500, 2500, 500), box(4000, -500, 5500, 500), None],
    )
    hh = households(
        {
            "h1": (1800.0, 100.0),  # inside A
            "h2": (6000.0, 50.0),  # outside every boundary, file says 乙村 -> B
            "h3": (11000.0, 0.0),  # no name, nearest village point is B
            "h4": (5400.0, 0.0),  # inside C, but beyond 5 km
        },
        children=[2, 1, 3, 1],
        village_names=[None, "乙村", None, None],
    )
    svc = services({"k": ("kindergarten", 0.0, 0.0), "s": ("school", 12000.0, 0.0)})
    return Scenario(
        roads=r,
        villages=vil,
        households=hh,
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )


@pytest.fixture(scope="module")
def result():
    settings = AnalysisSettings(mode="motorbike", thresholds_m={"kindergarten": 5000.0})
    return run_analysis(scenario(), settings)


def test_households_are_placed_by_area_then_name_then_nearest(result):
    hh = result.households
    assert hh["village_id"].tolist() == ["A", "B", "B", "C"]
    assert hh["village_rule"].tolist() == ["area", "named", "nearest", "area"]
    assert hh["village_name"].tolist() == ["甲村", "乙村", "乙村", "丙村"]
    assert hh["village_name_file"].isna().tolist() == [True, False, True, True]


def test_household_distances_and_offroad(result):
    hh = result.households
    assert hh.loc["h1", "offroad_m"] == pytest.approx(100.0, abs=1e-3)
    assert hh.loc["h1", "dist_kindergarten_m"] == pytest.approx(1900.0, abs=1e-3)
    assert hh.loc["h2", "dist_kindergarten_m"] == pytest.approx(6050.0, abs=1e-3)
    assert hh.loc["h3", "dist_school_m"] == pytest.approx(1000.0, abs=1e-3)
    assert hh.loc["h3", "nearest_school"] == "name-s"


def test_village_flags_counts_and_shares(result):
    v = result.villages
    assert v.loc["B", "dist_kindergarten_m"] == pytest.approx(10400.0, abs=1e-3)
    assert v["flag_kindergarten"].tolist() == [False, False, True]
    assert v["n_households"].tolist() == [1, 1, 2]
    assert v["n_children"].tolist() == [2, 1, 4]
    assert v["n_hh_beyond_kindergarten"].tolist() == [0, 1, 2]
    assert v.loc["B", "share_hh_beyond_kindergarten"] == pytest.approx(1.0)
    assert v.loc["B", "n_children_beyond_kindergarten"] == 4
    assert v.loc["B", "median_hh_dist_kindergarten_m"] == pytest.approx(
        (6050 + 11000) / 2, abs=1e-3
    )
    assert v.loc["B", "max_hh_dist_kindergarten_m"] == pytest.approx(11000.0, abs=1e-3)
    # C's point is within 5 km but one of its households is not: a warning, not a flag
    assert v["warn_kindergarten"].tolist() == [False, True, False]
    # school threshold defaults to 10 km: A is 10 km from the school, B 1.6 km
    assert v.loc["A", "dist_school_m"] == pytest.approx(10000.0, abs=1e-3)
    assert not v["flag_school"].any()


def test_sentences_say_why(result):
    v = result.villages
    zh = v.loc["B", "reason_kindergarten_zh"]
    en = v.loc["B", "reason_kindergarten_en"]
    assert zh.startswith("乙村：最近的幼儿园（name-k）沿道路 10.4 公里，超过 5 公里的标准。")
    assert "2 户中有 2 户超过标准" in zh and "4 名儿童" in zh
    assert en.startswith("乙村: the nearest kindergarten (name-k) is 10.4 km away by road")
    assert "beyond the 5 km threshold" in en
    assert "within the 5 km threshold" in v.loc["A", "reason_kindergarten_en"]


def test_raising_the_threshold_clears_the_flag():
    settings = AnalysisSettings(mode="motorbike", thresholds_m={"kindergarten": 11000.0})
    v = run_analysis(scenario(), settings).villages
    assert not v["flag_kindergarten"].any()


def test_no_service_of_a_kind_flags_every_village_with_a_reason():
    sc = scenario()
    sc = sc.replace(services=sc.services[sc.services["kind"] == "school"])
    v = run_analysis(sc, AnalysisSettings()).villages
    assert v["flag_kindergarten"].all()
    assert v["dist_kindergarten_m"].isna().all()
    assert (
        v.loc["A", "reason_kindergarten_en"] == "甲村: there is no kindergarten in the study area."
    )
    assert v.loc["A", "reason_kindergarten_zh"] == "甲村：研究区内没有幼儿园。"


def test_village_without_households_uses_its_point():
    sc = scenario()
    sc = sc.replace(households=sc.households.iloc[0:0])
    v = run_analysis(sc, AnalysisSettings()).villages
    assert v["n_households"].tolist() == [0, 0, 0]
    assert v["flag_kindergarten"].tolist() == [False, False, True]
    assert v["share_hh_beyond_kindergarten"].isna().all()
