"""Data health: long off-road legs, small disconnected pieces, unreachable services and the
"map this road" suggestions, on hand-built networks with pencil answers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from mapping.analysis import run_analysis
from mapping.health import CIRCUITY, COLUMNS, compute_health
from mapping.network import build_network
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests.netbuild import UTM, households, roads, services, villages

WALK = AnalysisSettings(mode="walk", kinds=("kindergarten",))


def analyse(r, vil, hh, svc, settings=WALK):
    sc = Scenario(
        roads=r,
        villages=vil,
        households=hh,
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )
    return run_analysis(sc, settings, network=build_network(r, settings, crs=UTM))


def main_road_and_stray_piece():
    """A 3 km road along y = 0 and, 600 m north, a 200 m track connected to nothing."""
    return roads(
        {1: (0, 0), 2: (3000, 0), 3: (1000, 600), 4: (1200, 600)},
        [(10, [1, 2], "primary"), (11, [3, 4], "track")],
    )


def test_long_offroad_legs_are_listed_above_the_limit():
    r = roads({1: (0, 0), 2: (3000, 0)}, [(10, [1, 2], "primary")])
    vil = villages({"V": (1000, 50), "W": (2000, 800)}, ["近村", "远村"])
    hh = households(
        {"H1": (1000, 700), "H2": (1000, 300), "H3": (2000, 501)},
        children=[1, 1, 1],
        village_names=["近村", "近村", "远村"],
    )
    svc = services({"K": ("kindergarten", 0, 0)})
    health = compute_health(analyse(r, vil, hh, svc))
    assert list(health.columns) == [*COLUMNS, "geometry"]
    long = health[health["issue"] == "long_offroad"]
    assert long[["layer", "id"]].values.tolist() == [
        ["village", "W"],
        ["household", "H1"],
        ["household", "H3"],
    ]
    assert long["offroad_m"].tolist() == pytest.approx([800, 700, 501])
    assert "800 m from the nearest road" in long["detail_en"].iloc[0]
    assert long["detail_zh"].iloc[1].startswith("H1 (近村)：离最近的道路 700 米")
    stricter = compute_health(analyse(r, vil, hh, svc), offroad_limit_m=250)
    assert (stricter["issue"] == "long_offroad").sum() == 4
    no_hh = compute_health(analyse(r, vil, hh, svc), households=False)
    assert not (no_hh["layer"] == "household").any()


def test_a_point_nearest_a_small_disconnected_piece():
    r = main_road_and_stray_piece()
    vil = villages({"V": (1100, 620)}, ["孤村"])
    hh = households({"H": (1100, 580)}, children=[2], village_names=["孤村"])
    svc = services({"K": ("kindergarten", 0, 0)})
    a = analyse(r, vil, hh, svc)
    health = compute_health(a)
    piece = health[health["issue"] == "small_piece"].sort_values("id", ascending=False)
    assert piece["id"].tolist() == ["V", "H"]
    assert piece["value_m"].tolist() == pytest.approx([20, 20])
    assert piece["offroad_m"].tolist() == pytest.approx([620, 580])
    assert "(2 nodes)" in piece["detail_en"].iloc[0] and "620 m away" in piece["detail_en"].iloc[0]
    # snapped to any road, they stand on the piece and reach nothing
    a_any = analyse(r, vil, hh, svc, settings=WALK.with_(snap_to="any"))
    piece = compute_health(a_any)
    piece = piece[piece["issue"] == "small_piece"]
    assert sorted(piece["id"]) == ["H", "V"]
    assert "nothing can be reached" in piece["detail_en"].iloc[0]


def test_a_service_nobody_can_reach():
    r = main_road_and_stray_piece()
    vil = villages({"V": (500, 10)}, ["村"])
    hh = households({"H": (600, 10)}, children=[1], village_names=["村"])
    svc = services({"K1": ("kindergarten", 0, 0), "K2": ("kindergarten", 1100, 610)})
    settings = WALK.with_(snap_to="any")
    health = compute_health(analyse(r, vil, hh, svc, settings=settings))
    bad = health[health["issue"] == "service_unreachable"]
    assert bad["id"].tolist() == ["K2"]
    assert bad["detail_en"].iloc[0] == (
        "name-K2 (kindergarten): no household or village can reach it by road. Check its "
        "position and the roads around it."
    )
    # measured from the main road (the default), it is reachable, 610 m off-road
    health = compute_health(analyse(r, vil, hh, svc))
    assert not (health["issue"] == "service_unreachable").any()


def test_map_this_road_ranks_by_what_tracks_could_save_households():
    # a road bending far round: (0,0) -> (0,3000) -> (3000,3000) -> (3000,0)
    r = roads(
        {1: (0, 0), 2: (0, 3000), 3: (3000, 3000), 4: (3000, 0)},
        [(10, [1, 2, 3, 4], "secondary")],
    )
    svc = services({"K": ("kindergarten", 0, 0)})
    vil = villages({"A": (3000, 100), "B": (100, 1500), "C": (50, 200)}, ["甲村", "乙村", "丙村"])
    hh = households(
        {f"A{i}": (3000 + 300, 100) for i in range(4)}
        | {f"B{i}": (100 + 200, 1500) for i in range(10)},
        children=[1] * 14,
        village_names=["甲村"] * 4 + ["乙村"] * 10,
    )
    a = analyse(r, vil, hh, svc)
    health = compute_health(a)
    sug = health[health["issue"] == "map_this_road"]
    # A: 4 households 300 m off-road, 8900 m by road against 3001.7 m in a straight line
    line_a = np.hypot(3000, 100)
    gain_a = 300 + (3000 + 3000 + 2900 - CIRCUITY * line_a)
    # B: 10 households 300 m off-road; 1500 m by road, 1503.3 straight: no detour
    gain_b = 300.0
    assert sug["id"].tolist() == ["A", "B"]  # C: no households, its own 50 m leg < 200 m
    assert sug["rank"].tolist() == [1, 2]
    assert sug["value_m"].tolist() == pytest.approx([gain_a, gain_b])
    assert sug["score"].tolist() == pytest.approx([4 * gain_a, 10 * gain_b])
    assert sug["detail_en"].iloc[0] == (
        f"甲村: 4 households, 300 m off the road on average (walked in a straight line); the "
        f"nearest kindergarten is {8900 / 1000:.1f} km by road, {line_a / 1000:.1f} km "
        f"in a straight line. Tracks recorded here could save up to about "
        f"{gain_a / 1000:.1f} km per household."
    )
    assert health["issue"].iloc[0] == "map_this_road"  # suggestions come first
    assert len(compute_health(a, top_n=1).query("issue == 'map_this_road'")) == 1


def test_a_cut_off_village_is_a_suggestion_with_its_own_sentence():
    from layers.tracks import make_closures
    from mapping.conditions import apply_conditions_to_analysis
    from tests.netbuild import box

    r = roads(
        {1: (0, 0), 2: (1000, 0), 3: (1000, 1000), 4: (1000, 2000)},
        [(10, [1, 2], "primary"), (11, [2, 3, 4], "track")],
    )
    vil = villages({"V": (1000, 2000)}, ["希乐图村"])
    hh = households({"H": (1000, 2000)}, children=[3], village_names=["希乐图村"])
    a = analyse(r, vil, hh, services({"K": ("kindergarten", 0, 0)}))
    closed, _ = apply_conditions_to_analysis(
        a, make_closures([box(990, 400, 1010, 600)], condition="冬季积雪")
    )
    sug = compute_health(closed).query("issue == 'map_this_road'")
    assert sug["id"].tolist() == ["V"]
    assert sug["value_m"].iloc[0] == pytest.approx(np.hypot(1000, 2000))
    assert "no kindergarten can be reached by road" in sug["detail_en"].iloc[0]
    assert "沿道路到不了任何幼儿园" in sug["detail_zh"].iloc[0]


def test_a_healthy_network_has_an_empty_table():
    r = roads({1: (0, 0), 2: (1000, 0)}, [(10, [1, 2], "primary")])
    vil = villages({"V": (500, 10)}, ["村"])
    hh = households({"H": (510, 10)}, children=[1], village_names=["村"])
    health = compute_health(analyse(r, vil, hh, services({"K": ("kindergarten", 0, 0)})))
    assert len(health) == 0 and list(health.columns) == [*COLUMNS, "geometry"]
