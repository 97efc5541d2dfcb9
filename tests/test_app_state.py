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
