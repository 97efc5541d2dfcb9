"""The app's session state without Streamlit: origins per layer, content cache keys, undo."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers.errors import InputError
from layers.households import read_households
from layers.services import read_services
from mapping.app_state import (
    DEMO,
    EDIT,
    LAYERS,
    History,
    Work,
    digest_frame,
    digest_roads,
    origins_from_extra,
    step_edit,
    step_files,
    step_proposals,
    step_settings,
)
from mapping.scenario import load_demo
from mapping.settings import AnalysisSettings
from mapping.whatif import make_proposal

CLAIMS = ("与农户", "农户、幼儿园和学校均为虚构", "and households", "households, kindergartens")


@pytest.fixture(scope="module")
def demo():
    return load_demo()


@pytest.fixture
def work(demo):
    return Work.start(demo, DEMO)


def csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def own_households(tmp_path):
    return read_households(
        csv(
            tmp_path / "我们的农户.csv",
            "户编号,经度,纬度,儿童数\nA1,113.0,41.9,2\nA2,113.1,41.9,1\n",
        )
    )


@pytest.fixture
def one_kindergarten(tmp_path):
    return read_services(
        csv(tmp_path / "新园.csv", "名称,类型,经度,纬度\n新园,幼儿园,113.0,41.9\n")
    )


# --------------------------------------------------------------------------------------------
# Digests: cache keys come from content


def test_equal_content_has_equal_digests_and_any_change_changes_it(demo):
    hh = demo.households
    assert digest_frame(hh) == digest_frame(hh.copy())
    changed = hh.copy()
    changed.loc[changed.index[3], "children"] = 7
    assert digest_frame(changed) != digest_frame(hh)
    moved = hh.copy()
    moved.loc[moved.index[0], "geometry"] = shapely.Point(113.0, 41.0)
    assert digest_frame(moved) != digest_frame(hh)
    renamed = hh.rename(index={hh.index[0]: "另一个编号"})
    assert digest_frame(renamed) != digest_frame(hh)
    assert digest_frame(hh.iloc[::-1]) != digest_frame(hh)  # order is content too
    assert digest_roads(demo.roads) == digest_roads(demo.replace().roads)


def test_village_boundaries_are_part_of_the_digest(demo):
    v = demo.villages
    with_area = v[v["boundary"].notna()].index[0]
    changed = v.copy()
    changed.loc[with_area, "boundary"] = shapely.box(0, 0, 1, 1)
    assert digest_frame(changed) != digest_frame(v)


def test_two_sessions_first_edits_have_different_keys(work):
    """Issue 11, item 1: session A adds a kindergarten, session B a household; each one's
    first edit. The keys differ (they were both 'token+edit1'), and the same edit made in
    two sessions has the same key (they may share the result)."""
    from layers.editing import add_household, add_service

    svc = add_service(work.scenario.services, 113.0, 41.93, kind="kindergarten", name="甲")
    hh = add_household(work.scenario.households, 113.0, 41.93, household_id="乙1")
    a = work.with_edit("services", svc)
    b = work.with_edit("households", hh)
    assert len({work.layers_key, a.layers_key, b.layers_key}) == 3
    assert a.roads_key == b.roads_key == work.roads_key  # the network is shared
    again = work.with_edit(
        "households", add_household(hh.iloc[:-1], 113.0, 41.93, household_id="乙1")
    )
    assert again.layers_key == b.layers_key


def test_the_origin_is_part_of_the_key(work, demo):
    """The same households from the demo and from a file say different things on the map,
    so they are not one cached result."""
    same = work.with_file("households", demo.households, "hh.csv", "replace")
    assert same.digests["households"] == work.digests["households"]
    assert same.layers_key != work.layers_key


# --------------------------------------------------------------------------------------------
# Files: add or replace


def test_a_kindergarten_file_adds_to_the_services_by_default(work, one_kindergarten):
    from mapping.app_state import DEFAULT_HOW

    assert DEFAULT_HOW["services"] == "add"
    added = work.with_file("services", one_kindergarten, "新园.csv", DEFAULT_HOW["services"])
    kinds = added.scenario.services["kind"].value_counts().to_dict()
    assert kinds == {"kindergarten": 11, "school": 9}  # the demo's 10 + 9, and the new one
    assert added.origins["services"] == (DEMO, "新园.csv")
    replaced = work.with_file("services", one_kindergarten, "新园.csv", "replace")
    assert replaced.scenario.services["kind"].tolist() == ["kindergarten"]
    assert replaced.origins["services"] == ("新园.csv",)
    # the earlier work is untouched
    assert len(work.scenario.services) == 19


def test_adding_a_file_twice_is_refused_with_a_message(work, one_kindergarten):
    added = work.with_file("services", one_kindergarten, "新园.csv", "add")
    with pytest.raises(InputError) as info:
        added.with_file("services", one_kindergarten, "新园.csv", "add")
    assert info.value.key == "error.state.duplicate_ids"
    zh = info.value.message("zh")
    assert "新园.csv" in zh and "S2" in zh and "替换" in zh
    assert "replace" in info.value.message("en")


# --------------------------------------------------------------------------------------------
# Saying which layers are the demo's (item 6)


def test_the_untouched_demo_is_the_demo(work, demo):
    assert work.is_pure_demo()
    assert work.labelled_scenario() is demo
    assert "均为虚构" in work.banner("zh")


def test_own_households_are_never_called_fictional(work, own_households):
    mixed = work.with_file("households", own_households, "我们的农户.csv", "replace")
    assert not mixed.is_demo("households") and mixed.is_demo("roads")
    sc = mixed.labelled_scenario()
    assert sc.fictional is False
    zh, en = sc.title["zh"], sc.title["en"]
    assert (
        zh
        == "察哈尔右翼后旗：农户是你的数据（我们的农户.csv），道路、村庄位置、幼儿园和学校是虚构的示例"
    )
    assert en == (
        "Chahar Right Rear Banner: households are your data (我们的农户.csv); roads, village "
        "positions, kindergartens and schools are fictional demo data"
    )
    for text in (zh, en, mixed.banner("zh"), mixed.banner("en")):
        assert not [c for c in CLAIMS if c in text], text
    assert mixed.banner("zh").startswith("你的数据：农户（我们的农户.csv）。虚构的示例数据：道路、")


def test_edits_and_added_files_are_named_as_the_users(work, one_kindergarten):
    from layers.editing import add_household

    edited = work.with_edit(
        "households", add_household(work.scenario.households, 113.0, 41.9, household_id="N1")
    )
    assert edited.origins["households"] == (DEMO, EDIT)
    assert "农户是你的数据（你的修改）" in edited.labelled_scenario().title["zh"]
    both = edited.with_file("services", one_kindergarten, "新园.csv", "add")
    title = both.labelled_scenario().title["zh"]
    assert title.startswith("察哈尔右翼后旗：农户、幼儿园和学校是你的数据（新园.csv、你的修改）")
    assert title.endswith("道路、村庄位置、农户、幼儿园和学校是虚构的示例")


def test_a_study_area_of_the_users_own_keeps_its_title(demo):
    own = Work.start(demo.replace(title={"zh": "研究区：x.osm", "en": "Study area: x.osm"},
                                  fictional=False), "x.osm")  # fmt: skip
    assert own.labelled_scenario().title["zh"] == "研究区：x.osm"
    assert own.banner("zh") is None


def test_origins_survive_a_project_and_bad_ones_are_ignored(work, own_households):
    mixed = work.with_file("households", own_households, "我们的农户.csv", "replace")
    extra = mixed.project_extra()
    assert origins_from_extra(extra) == dict(mixed.origins)
    back = Work.start(mixed.scenario, "project.gpkg", origins=origins_from_extra(extra))
    assert back.origins == mixed.origins and back.layers_key == mixed.layers_key
    for bad in (None, {}, {"origins": "x"}, {"origins": {"roads": ["demo"]}},
                {"origins": {layer: [1] for layer in LAYERS}}):  # fmt: skip
        assert origins_from_extra(bad) is None


# --------------------------------------------------------------------------------------------
# Undo


def test_every_change_can_be_undone_and_redone(work, own_households):
    history = History(work)
    assert history.undo() is None and history.undo_step is None
    p1 = work.with_proposals(make_proposal(None, "kindergarten", 113.0, 41.9))
    history.change(p1, step_proposals())
    s1 = p1.with_settings(AnalysisSettings(thresholds_m={"kindergarten": 8000.0}))
    history.change(s1, step_settings())
    f1 = s1.with_file("households", own_households, "我们的农户.csv", "replace")
    history.change(f1, step_files([("households", "我们的农户.csv", "replace")]))
    assert history.undo_step.label("zh") == "用 我们的农户.csv 替换农户"
    assert history.undo_step.label("en") == "replacing the households with 我们的农户.csv"
    assert history.undo().key == "state.step.replace_layer"
    assert history.work is s1
    assert history.undo() == step_settings() and history.work is p1
    assert history.redo_step == step_settings()
    assert history.redo() == step_settings() and history.work is s1
    assert history.undo() and history.undo() and history.work is work
    assert len(history) == 0
    # a new change after undoing forgets what could have been redone
    history.redo()
    history.change(work.with_edit("households", own_households), step_edit("households"))
    assert history.redo_step is None and history.undo_step.label("zh") == "编辑农户"


def test_at_least_twenty_steps_are_kept(work):
    history = History(work)
    works = [work]
    for i in range(25):
        nxt = works[-1].with_settings(AnalysisSettings(thresholds_m={"kindergarten": 1000.0 + i}))
        history.change(nxt, step_settings())
        works.append(nxt)
    for expected in reversed(works[-21:-1]):
        assert history.undo() is not None
        assert history.work is expected
    assert len(history) == 5  # the limit is 30: the first five changes are still there


def test_changing_to_the_same_work_is_not_a_step(work):
    history = History(work)
    history.change(work, step_settings())
    assert len(history) == 0 and history.revision == 0


def test_a_layer_from_a_geodataframe_of_the_wrong_shape_is_refused(work):
    empty = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:4326")
    with pytest.raises((TypeError, ValueError, KeyError)):
        work.with_file("services", empty.set_index(pd.Index(["S9"])), "x.csv", "add")


# --------------------------------------------------------------------------------------------
# Numbers near a threshold (item 15)


def test_distances_near_the_threshold_show_enough_decimals_to_agree_with_the_flag():
    from mapping.app_state import distance_km_shown

    dist = pd.Series([3004.0, 3040.0, 2996.0, 3000.0, 10449.0, 2400.0, float("nan"), 3000.0004])
    shown = distance_km_shown(dist, 3000.0)
    # pencil: beyond 3 km at the millimetre -> the number shown is above 3
    assert shown.tolist()[:6] == [3.004, 3.04, 3.0, 3.0, 10.4, 2.4]
    assert pd.isna(shown.iloc[6])
    assert shown.iloc[7] == 3.0  # 0.4 mm over: within at the millimetre, as the flag says
    beyond = dist.round(3) > 3000.0
    agree = (shown * 1000 > 3000.0) == beyond
    assert agree[dist.notna()].all()


# --------------------------------------------------------------------------------------------
# The workshop's corrections to the roads (issue 13): community roads, closures, conditions


LINE = shapely.LineString([(113.0, 41.90), (113.01, 41.91), (113.02, 41.905)])


def test_a_drawn_road_is_a_community_road_with_its_class_name_and_author(work):
    drawn = work.with_drawn_road(LINE, road_class="unclassified", name="牧道", added_by="乌兰")
    roads = drawn.community
    assert roads.index.tolist() == ["R1"]
    row = roads.loc["R1"]
    assert (row["road_class"], row["name"], row["added_by"], row["source"]) == (
        "unclassified", "牧道", "乌兰", "drawn",
    )  # fmt: skip
    assert row.geometry.equals(LINE)
    # by default a dirt track, name and author left empty
    plain = drawn.with_drawn_road(LINE, name="  ", added_by="")
    assert plain.community.index.tolist() == ["R1", "R2"]
    assert plain.community.loc["R2", "road_class"] == "track"
    assert pd.isna(plain.community.loc["R2", "name"])
    # the layers and their key are untouched, the analysis key is not
    assert drawn.layers_key == work.layers_key
    assert len({work.analysis_key, drawn.analysis_key, plain.analysis_key}) == 3
    assert len(work.community) == 0  # the earlier work is as it was


def test_a_one_point_line_is_refused_with_the_readers_message(work):
    with pytest.raises(InputError) as info:
        work.with_drawn_road(shapely.LineString([(113.0, 41.9), (113.0, 41.9)]))
    assert info.value.key == "error.tracks.no_usable_line"


def test_ids_of_deleted_roads_are_not_given_again(work, tmp_path):
    from layers.tracks import read_community_roads
    from tests.conftest import ROOT

    two = work.with_drawn_road(LINE).with_drawn_road(LINE)
    one = two.without_road("R1")
    assert one.community.index.tolist() == ["R2"]
    three = one.with_drawn_road(LINE)
    assert three.community.index.tolist() == ["R2", "R3"]
    track = read_community_roads(ROOT / "data" / "demo" / "community_track.gpx")
    assert track.index.tolist() == ["R1"]
    filed = three.with_road_file(track)
    assert filed.community.index.tolist() == ["R2", "R3", "R4"]
    assert filed.community.loc["R4", "source"] == "community_track.gpx"


def test_road_edits_change_class_and_name_and_refuse_unknown_classes(work):
    roads = work.with_drawn_road(LINE, name="旧名").with_drawn_road(LINE)
    edits = pd.DataFrame(
        {"road_class": ["secondary", "track"], "name": ["新名", ""], "added_by": [None, "巴特"]},
        index=["R1", "R2"],
    )
    edited = roads.with_road_edits(edits)
    assert edited.community["road_class"].tolist() == ["secondary", "track"]
    assert edited.community.loc["R1", "name"] == "新名"
    assert pd.isna(edited.community.loc["R2", "name"])  # emptied
    assert edited.community.loc["R2", "added_by"] == "巴特"
    assert edited.community_key != roads.community_key
    assert roads.with_road_edits(roads.community[["road_class"]]) is roads  # nothing changed
    with pytest.raises(InputError) as info:
        roads.with_road_edits(pd.DataFrame({"road_class": ["highway"]}, index=["R2"]))
    assert "R2" in info.value.message("zh") and "highway" in info.value.message("en")


def test_closures_under_conditions_and_the_condition_shown(work):
    area = shapely.box(113.0, 41.9, 113.01, 41.91)
    with pytest.raises(InputError) as info:
        work.with_closure(area, condition="  ")
    assert info.value.key == "error.state.no_condition" and "路况" in info.value.message("zh")
    snow = work.with_closure(area, condition="冬季积雪")
    both = snow.with_closure(LINE, condition="雨季", speed_kmh=15.0, name="河滩路")
    assert both.closures.index.tolist() == ["C1", "C2"]
    assert both.conditions == ["冬季积雪", "雨季"]
    assert both.closures.loc["C2", "speed_kmh"] == 15.0
    assert pd.isna(both.closures.loc["C1", "speed_kmh"])
    winter = both.with_condition("冬季积雪")
    assert winter.condition == "冬季积雪"
    assert winter.closures_key != both.closures_key  # what the page shows differs
    assert winter.layers_key == both.layers_key == work.layers_key
    with pytest.raises(ValueError):
        both.with_condition("沙尘暴")
    # removing the last closure of the shown condition shows the usual roads again
    back = winter.without_closure("C1")
    assert back.condition == "" and back.conditions == ["雨季"]


def test_corrections_are_undone_like_every_other_change(work):
    from mapping.app_state import step_add_closure, step_add_road, step_condition

    history = History(work)
    road = work.with_drawn_road(LINE, name="牧道")
    history.change(road, step_add_road("牧道"))
    closed = road.with_closure(shapely.box(113.0, 41.9, 113.01, 41.91), condition="冬季积雪")
    history.change(closed, step_add_closure("冬季积雪"))
    shown = closed.with_condition("冬季积雪")
    history.change(shown, step_condition())
    assert history.undo_step.label("zh") == "选择路况"
    assert history.undo() and history.work is closed
    assert history.undo_step.label("zh") == "在“冬季积雪”下封路或限速"
    assert history.undo() and history.work is road
    assert history.undo_step.label("en") == "adding the community road 牧道"
    assert history.undo() and history.work is work and len(history.work.community) == 0


def test_the_untouched_demo_has_no_corrections(work):
    assert work.is_untouched_demo()
    assert not work.with_drawn_road(LINE).is_untouched_demo()
    assert not work.with_closure(LINE, condition="雨季").is_untouched_demo()
    assert work.with_drawn_road(LINE).is_pure_demo()  # the four layers are still the demo's


def test_the_condition_shown_survives_a_project(work):
    from mapping.app_state import condition_from_extra

    shown = work.with_closure(LINE, condition="雨季").with_condition("雨季")
    extra = shown.project_extra()
    assert condition_from_extra(extra) == "雨季"
    back = Work.start(shown.scenario, "p.gpkg", origins=shown.origins).with_corrections(
        shown.community, shown.closures, condition_from_extra(extra)
    )
    assert back.analysis_key == shown.analysis_key
    # a condition the closures do not have (an edited file) is the usual roads
    assert work.with_corrections(None, shown.closures, "沙尘暴").condition == ""
    for bad in (None, {}, {"condition": 3}):
        assert condition_from_extra(bad) == ""


def test_a_click_picks_the_road_between_two_junctions():
    """Pencil: a straight road 0-1-2-3-4 (100 m apart, one OSM way) meets a side road at
    node 2. A click beside the piece 3-4 picks 2-3-4: from the junction at 2 to the end."""
    from mapping.app_state import road_stretch_near
    from mapping.network import build_network
    from tests import netbuild as nb

    edges = nb.roads(
        {0: (0, 0), 1: (100, 0), 2: (200, 0), 3: (300, 0), 4: (400, 0), 5: (200, 150)},
        [(1, [0, 1, 2, 3, 4], "unclassified"), (2, [2, 5], "track")],
    )
    net = build_network(edges, AnalysisSettings(mode="walk"), crs=nb.UTM)
    line = road_stretch_near(net, *nb.lonlat(350, 20))
    assert line is not None
    ends = [nb.lonlat(200, 0), nb.lonlat(300, 0), nb.lonlat(400, 0)]
    got = list(line.coords)
    assert len(got) == 3
    if got[0][0] > got[-1][0]:
        got.reverse()
    for (gx, gy), (ex, ey) in zip(got, ends, strict=True):
        assert abs(gx - ex) < 1e-9 and abs(gy - ey) < 1e-9
    # beside the first piece: 0-1-2 (the other side of the junction)
    line = road_stretch_near(net, *nb.lonlat(50, -30))
    assert len(line.coords) == 3
    # the side road alone
    assert len(road_stretch_near(net, *nb.lonlat(210, 100)).coords) == 2
    # too far from any road: nothing
    assert road_stretch_near(net, *nb.lonlat(900, 900)) is None
    # a length cap stops the walk
    capped = road_stretch_near(net, *nb.lonlat(350, 20), max_length_m=50)
    assert len(capped.coords) == 2


def test_the_length_of_a_drawn_line_is_its_length_on_the_ellipsoid():
    """Pencil: one degree of latitude between 41 and 42 N is the meridian arc's degree at
    41.5 N, 111,132.954 - 559.822 cos 2phi + 1.175 cos 4phi = 111,063.6 m (WGS84)."""
    from mapping.app_state import line_length_m

    arc = line_length_m(shapely.LineString([(113.0, 41.0), (113.0, 42.0)]))
    assert abs(arc - 111_063.6) < 0.5
    assert line_length_m(shapely.LineString([(113.0, 41.0), (113.0, 41.5), (113.0, 42.0)])) == (
        pytest.approx(arc, rel=1e-9)
    )
