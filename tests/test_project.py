"""Saving and reopening a workshop project restores the same layers, proposals and results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from layers.errors import FileFormatError, InputError
from mapping.analysis import run_analysis
from mapping.project import is_project, open_project, save_project
from mapping.scenario import load_demo
from mapping.settings import AnalysisSettings
from mapping.whatif import make_proposal


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def test_round_trip_restores_everything(demo, tmp_path):
    settings = AnalysisSettings(mode="walk", thresholds_m={"kindergarten": 3000.0})
    far = demo.villages[demo.villages["village_name"] == "希乐图村"].iloc[0]
    proposals = make_proposal(None, "kindergarten", far.geometry.x, far.geometry.y, name="新园")
    path = save_project(tmp_path / "w.gpkg", demo, settings, proposals, extra={"lang": "en"})
    assert is_project(path)
    scenario, settings2, proposals2, extra = open_project(path)
    assert settings2 == settings
    assert extra == {"lang": "en"}
    assert scenario.title == demo.title and scenario.fictional
    for field in ("node_id", "lon", "lat", "u", "v", "way_id", "highway", "oneway", "modes"):
        np.testing.assert_array_equal(getattr(scenario.roads, field), getattr(demo.roads, field))
    pd.testing.assert_index_equal(scenario.households.index, demo.households.index)
    assert scenario.households["phone"].tolist() == demo.households["phone"].tolist()
    assert scenario.villages["boundary"].notna().sum() == demo.villages["boundary"].notna().sum()
    assert proposals2["name"].tolist() == ["新园"]
    assert scenario.study_area.equals_exact(demo.study_area, 1e-9)
    before = run_analysis(demo, settings).villages
    after = run_analysis(scenario, settings).villages
    pd.testing.assert_series_equal(before["dist_kindergarten_m"], after["dist_kindergarten_m"])


def test_saving_over_an_existing_project_replaces_it_whole(demo, tmp_path):
    path = tmp_path / "w.gpkg"
    save_project(path, demo, AnalysisSettings(mode="car"))
    save_project(path, demo, AnalysisSettings(mode="walk"))
    assert open_project(path)[1].mode == "walk"
    assert [p.name for p in tmp_path.iterdir()] == ["w.gpkg"]


def test_a_file_that_is_not_a_project_is_refused(tmp_path):
    bad = tmp_path / "notes.gpkg"
    bad.write_bytes(b"not a geopackage at all")
    with pytest.raises(FileFormatError) as err:
        open_project(bad)
    assert "notes.gpkg is not a project saved by this tool" in str(err.value)
    assert "保存项目" in err.value.message("zh")
    assert not is_project(bad)
    assert bad.read_bytes() == b"not a geopackage at all"


def test_a_plain_geopackage_is_not_a_project(tmp_path):
    import geopandas as gpd

    path = tmp_path / "layers.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=4326).to_file(path)
    with pytest.raises(FileFormatError):
        open_project(path)


@pytest.mark.parametrize(
    "content",
    [None, "{not json", '{"settings": {"mode": "plane"}, "extra": {}}', '{"extra": {}}',
     '{"settings": {"mode": "walk"}, "extra": [1]}', "[]"],
    ids=["missing", "not-json", "bad-mode", "no-settings", "bad-extra", "a-list"],
)  # fmt: skip
def test_settings_beside_a_project_round_trip_and_bad_ones_are_ignored(tmp_path, content):
    from mapping.project import open_settings, save_settings, settings_path

    project = tmp_path / "autosave.gpkg"
    settings = AnalysisSettings(mode="walk", thresholds_m={"kindergarten": 2500.0})
    save_settings(project, settings, {"lang": "en", "token": "t1"})
    assert open_settings(project) == (settings, {"lang": "en", "token": "t1"})
    if content is None:
        settings_path(project).unlink()
    else:
        settings_path(project).write_text(content, "utf-8")
    assert open_settings(project) is None


def test_background_saves_end_with_the_latest_state(tmp_path):
    from dataclasses import replace

    from mapping.project import save_project_later, wait_for_saves

    demo = load_demo()
    path = tmp_path / "autosave.gpkg"
    for i in range(5):  # asked in quick succession: the file must hold the last
        save_project_later(
            path, replace(demo, title={"zh": f"第{i}版", "en": f"v{i}"}), AnalysisSettings()
        )
    wait_for_saves()
    scenario, *_ = open_project(path)
    assert scenario.title == {"zh": "第4版", "en": "v4"}
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_background_save_that_cannot_write_is_logged_not_raised(tmp_path, caplog):
    from mapping.project import save_project_later, wait_for_saves

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    thread = save_project_later(blocker / "sub" / "autosave.gpkg", load_demo(), AnalysisSettings())
    wait_for_saves()
    assert not thread.is_alive()
    assert any("could not save" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "name",
    [
        "a#b.gpkg",
        "what?.gpkg",
        "100%25.gpkg",
        "50%.gpkg",
        "村 项目 &mode=rw.gpkg",
        "x?mode=rwc.gpkg",
    ],
)
def test_a_project_is_recognised_whatever_its_name(demo, tmp_path, name):
    # issue 12 bug 6: the name went into an SQLite URI as is, so '#' cut it, '?' started the
    # options and '%25' was decoded to '%': such projects were never offered for restoring
    path = save_project(tmp_path / name, demo, AnalysisSettings())
    assert is_project(path)
    assert is_project(str(path))
    # a file of the same name that is not a project is still not one, and stays as it was
    other = tmp_path / "plain" / name
    other.parent.mkdir()
    other.write_bytes(b"not a geopackage")
    assert not is_project(other)
    assert other.read_bytes() == b"not a geopackage"


def test_is_project_creates_nothing(tmp_path):
    missing = tmp_path / "nothing-here?.gpkg"
    assert not is_project(missing)
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# A tampered project file (issue 10): a clear message in both languages naming the file and
# what to do, never a raw exception; the file itself is left as it was.


@pytest.fixture(scope="module")
def saved(demo, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "workshop.gpkg"
    return save_project(path, demo, AnalysisSettings(), extra={"lang": "zh"})


def _tampered(saved, tmp_path, *sql: str):
    import shutil
    import sqlite3

    path = tmp_path / "工作坊 项目.gpkg"
    shutil.copy(saved, path)
    con = sqlite3.connect(path)
    # the GeoPackage's spatial index triggers call these SpatiaLite functions (GDAL brings
    # them; plain sqlite3 has none): a neutral answer is enough, the reader does not use the
    # index
    for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        con.create_function(name, 1, lambda _geom: 0)
    try:
        for statement in sql:
            con.execute(statement)
        con.commit()
    finally:
        con.close()
    return path


def _drop(table: str) -> tuple[str, ...]:
    return (
        f"delete from gpkg_contents where table_name = '{table}'",
        f"delete from gpkg_geometry_columns where table_name = '{table}'",
        f"drop table {table}",
    )


TAMPERED = {
    "unknown-service-kind": (
        ("update services set kind = 'hospital' where fid = 1",),
        ["services", "hospital", "kindergarten, school, childcare"],
    ),
    "unknown-proposal-kind": (
        (
            "insert into proposals (geom, service_id, kind, name, capacity, source) "
            "select geom, 'P1', 'spaceport', 'x', null, 'proposed' from services where fid = 1",
        ),
        ["proposals", "spaceport"],
    ),
    "settings-not-json": (("update project_meta set settings = '{not json'",), ["settings"]),
    "settings-a-list": (("update project_meta set settings = '[1, 2]'",), ["settings"]),
    "settings-unknown-mode": (
        ("""update project_meta set settings = '{"mode": "plane"}'""",),
        ["settings", "plane"],
    ),
    "settings-unknown-field": (
        ("""update project_meta set settings = '{"colour": "red"}'""",),
        ["settings", "colour"],
    ),
    "settings-wrong-type": (
        ("""update project_meta set settings = '{"thresholds_m": "far"}'""",),
        ["settings"],
    ),
    "scenario-not-json": (("update project_meta set scenario = 'x'",), ["scenario"]),
    "extra-not-an-object": (("update project_meta set extra = '[1]'",), ["extra"]),
    "version-not-a-number": (("update project_meta set version = 'one'",), ["version"]),
    "missing-road-segments": (_drop("road_segments"), ["road_segments"]),
    "missing-households": (_drop("households"), ["households"]),
    "missing-column": (
        ("alter table road_nodes drop column lon",),
        ["road_nodes", "lon"],
    ),
    "segment-outside-the-nodes": (
        ("update road_segments set u = 99999999 where fid = 1",),
        ["road_segments"],
    ),
    "text-in-a-number-column": (
        ("update road_nodes set lat = 'north' where fid = 1",),
        ["road_nodes"],
    ),
    "polygon-household": (
        ("update households set geom = (select geom from village_areas limit 1) where fid = 1",),
        ["households"],
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED), ids=list(TAMPERED))
def test_a_tampered_project_is_a_clear_message(saved, tmp_path, case):
    sql, words = TAMPERED[case]
    path = _tampered(saved, tmp_path, *sql)
    before = path.read_bytes()
    with pytest.raises(InputError) as info:
        open_project(path)
    err = info.value
    en, zh = err.message("en"), err.message("zh")
    for text in (en, zh):
        assert "工作坊 项目.gpkg" in text
        for word in words:
            assert word in text, (word, text)
    assert "earlier copy" in en and "较早的副本" in zh  # what to do
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.replace("工作坊 项目", ""))
    assert str(tmp_path) not in en  # the name as the user sees it, not the folder
    assert path.read_bytes() == before


def test_project_messages_have_the_same_placeholders_in_both_languages():
    from layers import i18n

    for key in i18n.all_keys():
        if key.startswith(("error.project.", "project.")):
            texts = i18n.texts_for(key)
            assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


# --------------------------------------------------------------------------------------------
# Community roads and road conditions (issue 13) are kept in the project too


@pytest.fixture(scope="module")
def corrections():
    from layers.tracks import make_closures, make_community_roads, read_closures
    from tests.conftest import ROOT

    drawn = make_community_roads(
        [shapely.LineString([(113.0, 41.9), (113.01, 41.91), (113.02, 41.905)])],
        road_class="unclassified",
        name="牧道",
        added_by="乌兰",
    )
    slow = make_closures(
        [shapely.box(113.0, 41.9, 113.01, 41.91)], condition="雨季", speed_kmh=15.0
    )
    closures = pd.concat([read_closures(ROOT / "data" / "demo" / "winter_closure.geojson"), slow])
    closures.index = pd.Index(["C1", "C2", "C3"], dtype="str", name="closure_id")
    closures["closure_id"] = closures.index
    return drawn, closures


def test_community_roads_and_closures_round_trip(demo, corrections, tmp_path):
    from mapping.project import open_corrections

    roads, closures = corrections
    path = save_project(
        tmp_path / "w.gpkg", demo, AnalysisSettings(), community=roads, closures=closures
    )
    roads2, closures2 = open_corrections(path)
    pd.testing.assert_frame_equal(
        pd.DataFrame(roads2.drop(columns="geometry")), pd.DataFrame(roads.drop(columns="geometry"))
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(closures2.drop(columns="geometry")),
        pd.DataFrame(closures.drop(columns="geometry")),
    )
    assert roads2.geometry.geom_equals_exact(roads.geometry, 1e-9).all()
    assert closures2.geometry.geom_equals_exact(closures.geometry, 1e-9).all()
    assert closures2["speed_kmh"].tolist()[1:] == [20.0, 15.0]  # the demo's slow-down, ours
    assert pd.isna(closures2["speed_kmh"].iloc[0])  # closed
    # a project without them opens with empty layers, and saving again without them drops them
    save_project(path, demo, AnalysisSettings())
    roads3, closures3 = open_corrections(path)
    assert len(roads3) == 0 and len(closures3) == 0
    assert list(roads3.columns) == list(roads.columns)


@pytest.fixture(scope="module")
def saved_with_roads(demo, corrections, tmp_path_factory):
    roads, closures = corrections
    path = tmp_path_factory.mktemp("saved-roads") / "workshop.gpkg"
    return save_project(path, demo, AnalysisSettings(), community=roads, closures=closures)


TAMPERED_CORRECTIONS = {
    "unknown-road-class": (
        ("update community_roads set road_class = 'spaceway' where fid = 1",),
        ["community_roads"],
    ),
    "text-speed": (
        ("update closures set speed_kmh = 'fast' where fid = 3",),
        ["closures", "speed_kmh"],
    ),
    "missing-condition": (
        ("alter table closures drop column condition",),
        ["closures"],
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED_CORRECTIONS), ids=list(TAMPERED_CORRECTIONS))
def test_a_tampered_community_layer_is_a_clear_message(saved_with_roads, tmp_path, case):
    from mapping.project import open_corrections

    sql, words = TAMPERED_CORRECTIONS[case]
    path = _tampered(saved_with_roads, tmp_path, *sql)
    before = path.read_bytes()
    with pytest.raises(InputError) as info:
        open_corrections(path)
    en, zh = info.value.message("en"), info.value.message("zh")
    for text in (en, zh):
        assert "工作坊 项目.gpkg" in text
        for word in words:
            assert word in text, (word, text)
    assert "earlier copy" in en and "较早的副本" in zh
    assert path.read_bytes() == before
