"""The Streamlit app, driven through ``streamlit.testing.v1.AppTest`` by widget keys."""

from __future__ import annotations

import pytest
import shapely
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

FAR = "希乐图村"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("GAPMAPPER_LOG_DIR", str(tmp_path / "log"))  # never the user's log
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_sections(at, *keys: str) -> None:
    """Open the page's sections (expanders) ``keys``, as a user does before using them."""
    for key in keys:
        at.session_state[key] = True
    at.run()


def autosaves() -> list:
    """Every autosave of this test's autosave folder."""
    from mapping.project import autosave_path

    return sorted(autosave_path().parent.rglob("autosave.gpkg"))


def own_autosave(at):
    """The autosave of the session ``at`` (its tab's workspace)."""
    from mapping.project import autosave_path

    return autosave_path(autosave_path().parent / "workspaces" / at.session_state["ws"])


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def village_rows(at):
    """The village table (an HTML table, :func:`mapping.barchart.table_html`) as a frame:
    numbers as floats, the flag column as booleans."""
    from tests.test_barchart import read_table_html

    tables = [h.proto.body for h in at.get("html") if 'class="gm-table"' in h.proto.body]
    assert len(tables) == 1, len(tables)
    frame = read_table_html(tables[0])
    flag = next(c for c in ("超标", "Beyond") if c in frame.columns)
    frame[flag] = frame[flag].astype(bool)
    return frame


def test_opens_on_the_demo_in_chinese_with_the_far_village_flagged(app):
    assert app.title[0].value.startswith("示例：")
    assert any("虚构" in i.value for i in app.info)
    table = village_rows(app)
    far = table[table["村庄"] == FAR].iloc[0]
    assert bool(far["超标"])
    assert "沿道路 10." in far["说明"] and "超过 5 公里的标准" in far["说明"]
    # flagged villages come first
    assert table["超标"].iloc[: int(table["超标"].sum())].all()
    assert int(metrics(app)["超标农户"]) >= 15


def test_threshold_change_updates_flags_and_numbers(app):
    before = metrics(app)
    app.number_input(key="threshold_km_kindergarten").set_value(12.0).run()
    after = metrics(app)
    assert int(after["超标村庄"]) < int(before["超标村庄"])
    table = village_rows(app)
    assert not bool(table[table["村庄"] == FAR].iloc[0]["超标"])


def test_language_switch_changes_every_label(app):
    app.radio(key="lang").set_value("en").run()
    assert not app.exception
    assert app.title[0].value.startswith("Demo:")
    assert "Households beyond" in metrics(app)
    table = village_rows(app)
    assert {"Village", "Distance (km)", "Beyond", "Why"} <= set(table.columns)
    assert "km away by road" in table[table["Village"] == FAR].iloc[0]["Why"]


def test_a_proposed_kindergarten_in_the_far_village_closes_the_gap(app):
    before = int(metrics(app)["超标农户"])
    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()  # options are the displayed names
    app.button(key="add_kindergarten").click().run()
    assert not app.exception, [e.value for e in app.exception]
    after = int(metrics(app)["超标农户"])
    assert after == before - 15
    assert any("→" in i.value for i in app.info)
    table = village_rows(app)
    assert not bool(table[table["村庄"] == FAR].iloc[0]["超标"])
    # and it can be removed again
    app.button(key="remove_P1").click().run()
    assert int(metrics(app)["超标农户"]) == before


def test_a_bad_households_file_is_explained_and_nothing_is_lost(app, tmp_path):
    before = metrics(app)
    bad = tmp_path / "households.csv"
    bad.write_text("户编号,经度,纬度\nA1,113.2,41.45\nA2,113.2,211.4\n", encoding="utf-8")
    open_sections(app, "exp_layers")
    app.text_input(key="layer_path_households").input(str(bad)).run()
    app.button(key="apply_layers").click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert errors, "expected an error message"
    assert "households.csv" in errors[0] and "3" in errors[0]
    assert "之前的数据和设置保持不变" in errors[0]
    assert metrics(app) == before


def test_a_good_households_file_replaces_the_households(app, tmp_path):
    good = tmp_path / "hh.csv"
    good.write_text(
        "户编号,经度,纬度,儿童数\nA1,113.20,41.45,2\nA2,113.25,41.46,1\n", encoding="utf-8"
    )
    open_sections(app, "exp_layers")
    app.text_input(key="layer_path_households").input(str(good)).run()
    app.button(key="apply_layers").click().run()
    assert not app.exception
    assert any("hh.csv" in s.value for s in app.success)
    assert int(metrics(app)["超标农户"]) <= 2


def test_a_proposal_can_be_moved_to_another_village(app):
    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    app.button(key="add_kindergarten").click().run()
    closed = int(metrics(app)["超标农户"])
    # move it to the Banner seat, far from the studied village: the far village is beyond again
    picker = app.selectbox(key="proposal_village")
    seat = next(o for o in picker.options if o.endswith("镇") and o != "")
    picker.select_index(picker.options.index(seat)).run()
    app.button(key="move_P1").click().run()
    assert not app.exception
    assert int(metrics(app)["超标农户"]) > closed


def test_adding_and_moving_a_household_on_the_map(app):
    n = len(app.session_state["scenario"].households)
    app.session_state["last_click"] = (113.25, 41.45)  # what a click on the map stores
    open_sections(app, "exp_edit")
    app.radio(key="edit_layer").set_value("households").run()
    app.text_input(key="edit_new_id").input("新户1").run()
    app.button(key="edit_add").click().run()
    assert not app.exception, [e.value for e in app.exception]
    hh = app.session_state["scenario"].households
    assert len(hh) == n + 1 and "新户1" in hh.index
    assert (hh.loc["新户1"].geometry.x, hh.loc["新户1"].geometry.y) == (113.25, 41.45)
    # the same id again is refused with a message, and nothing changes
    app.text_input(key="edit_new_id").input("新户1").run()
    app.button(key="edit_add").click().run()
    assert any("新户1" in e.value for e in app.error)
    assert len(app.session_state["scenario"].households) == n + 1


def test_adding_a_kindergarten_as_an_existing_service_reduces_the_gap(app):
    before = int(metrics(app)["超标农户"])
    scenario = app.session_state["scenario"]
    far = scenario.villages[scenario.villages["village_name"] == FAR].iloc[0]
    app.session_state["last_click"] = (far.geometry.x, far.geometry.y)
    open_sections(app, "exp_edit")
    app.radio(key="edit_layer").set_value("services").run()
    app.text_input(key="edit_name").input("希乐图村幼儿园").run()
    app.button(key="edit_add").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert int(metrics(app)["超标农户"]) == before - 15


def test_exports_a_committee_map_a_printable_map_and_a_project(app):
    open_sections(app, "exp_export")
    app.button(key="make_export").click().run()
    assert not app.exception, [e.value for e in app.exception]
    privacy, html = app.session_state["export_html"]
    assert privacy == "committee" and "<html" in html.lower()
    for hid in app.session_state["scenario"].households.index:
        assert hid not in html
    app.button(key="make_print").click().run()
    assert not app.exception, [e.value for e in app.exception]
    name, data = app.session_state["printed_map"]
    assert name == "map-A4.pdf" and data.startswith(b"%PDF")
    app.button(key="save_project").click().run()
    assert app.session_state["saved_project"][:16] == b"SQLite format 3\x00"


def test_work_is_autosaved_and_offered_back_after_a_crash(app, private_folders):
    from mapping.project import wait_for_saves

    assert autosaves() == []  # the untouched demo is not autosaved
    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    app.button(key="add_kindergarten").click().run()
    wait_for_saves()  # the layers are written in the background
    assert autosaves() == [own_autosave(app)]
    closed = metrics(app)
    # a new session (the browser tab after a crash) is offered the autosave
    st.cache_resource.clear()
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    again.run()
    assert any("自动保存" in w.value for w in again.warning)
    assert metrics(again) != closed  # not restored until asked
    again.button(key="restore_yes").click().run()
    assert not again.exception, [e.value for e in again.exception]
    assert metrics(again) == closed
    assert len(again.session_state["proposals"]) == 1


def test_a_setting_change_saves_only_the_settings_and_is_restored(app, private_folders):
    """A threshold change writes the small settings file beside the autosave, not the
    layers again; after a crash both come back."""
    from mapping.project import settings_path, wait_for_saves

    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    app.button(key="add_kindergarten").click().run()
    wait_for_saves()
    path = own_autosave(app)
    layers = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    app.number_input(key="threshold_km_kindergarten").set_value(12.0).run()
    assert not app.exception, [e.value for e in app.exception]
    wait_for_saves()
    assert path.stat().st_mtime_ns == mtime  # the layers were not rewritten
    assert path.read_bytes() == layers
    assert '"kindergarten": 12000.0' in settings_path(path).read_text("utf-8")
    closed = metrics(app)
    st.cache_resource.clear()
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    again.run()
    again.button(key="restore_yes").click().run()
    assert not again.exception, [e.value for e in again.exception]
    wait_for_saves()
    assert again.number_input(key="threshold_km_kindergarten").value == 12.0
    assert metrics(again) == closed
    # a damaged settings file: the project's own settings stand (the restored session saved
    # the project again, with 12 km), nothing fails
    settings_path(own_autosave(again)).write_text("{not json", "utf-8")
    st.cache_resource.clear()
    third = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    third.run()
    third.button(key="restore_yes").click().run()
    assert not third.exception, [e.value for e in third.exception]
    assert len(third.session_state["proposals"]) == 1
    assert third.number_input(key="threshold_km_kindergarten").value == 12.0


def test_planning_suggests_a_site_that_can_be_accepted(app):
    before = int(metrics(app)["超标农户"])
    open_sections(app, "exp_plan")
    app.button(key="plan_run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    sites = app.session_state["suggested_sites"][1]
    assert len(sites) == 1 and int(sites["newly_covered_households"].iloc[0]) == 15
    assert any("尚未采纳的建议地点" in i.value for i in app.info)  # previewed on the map
    assert int(metrics(app)["超标农户"]) == before  # but not counted until accepted
    app.button(key="plan_accept").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert int(metrics(app)["超标农户"]) == before - 15
    assert app.session_state["proposals"]["name"].iloc[0].startswith("建议幼儿园")
    frames = [d.value for d in app.dataframe]
    capacity = next(f for f in frames if "超员" in f.columns)
    small = capacity[capacity["设施"] == "贲红镇中心幼儿园（示例）"].iloc[0]
    # the research's second finding: the kindergarten near 温家村 is too small
    assert small["范围内需求"] >= 28 > small["学位"] and bool(small["超员"])


def test_households_outside_the_area_are_warned_about_in_the_app(app, tmp_path):
    csv = tmp_path / "hh.csv"
    csv.write_text("户编号,经度,纬度\nA1,113.20,41.45\nA2,116.50,39.90\n", encoding="utf-8")
    open_sections(app, "exp_layers")
    app.text_input(key="layer_path_households").input(str(csv)).run()
    app.button(key="apply_layers").click().run()
    assert not app.exception
    assert any("研究区以外" in w.value and "第 3 行" in w.value for w in app.warning)


def test_service_areas_can_be_shown(app):
    app.checkbox(key="show_areas").check().run()
    assert not app.exception, [e.value for e in app.exception]


def test_displaced_exports_move_households_the_same_way_in_every_session(app):
    """Two exports, even from two sessions, hold the same displaced points: collecting
    several cannot average the displacement away (this computer's key, mapping.privacy)."""
    import re

    def positions(html: str) -> str:  # folium names its elements at random: ignore the names
        return re.sub(r"_[0-9a-f]{32}", "_", html)

    def export(at) -> str:
        open_sections(at, "exp_export")
        at.radio(key="export_privacy").set_value("displaced").run()
        at.button(key="make_export").click().run()
        assert not at.exception, [e.value for e in at.exception]
        return at.session_state["export_html"][1]

    first = export(app)
    assert positions(export(app)) == positions(first)
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    other.run()
    assert positions(export(other)) == positions(first)
    assert "gm-displaced" in first
    for hid in app.session_state["scenario"].households.index:
        assert hid not in first


# --------------------------------------------------------------------------------------------
# Issue 11: nothing a participant does is lost, mixed up or misplaced

OWN = "户编号,经度,纬度,儿童数\nA1,113.0047,41.9373,2\nA2,113.0050,41.9370,1\n"


def upload(at, key: str, name: str, data: bytes) -> None:
    """Choose a file in the picker ``key`` (the app empties a picker after reading its file:
    the picker of the latest round)."""
    pickers = [u for u in at.file_uploader if u.key == key or u.key.startswith(f"{key}_")]
    if not pickers:  # the section of the layers' pickers is closed: open it
        open_sections(at, "exp_layers")
        pickers = [u for u in at.file_uploader if u.key == key or u.key.startswith(f"{key}_")]
    pickers[-1].set_value((name, data, "application/octet-stream")).run()


def test_every_change_can_be_undone_and_redone(app):
    start = metrics(app)
    app.number_input(key="threshold_km_kindergarten").set_value(12.0).run()
    wider = metrics(app)
    assert wider != start
    app.button(key="undo").click().run()
    assert app.number_input(key="threshold_km_kindergarten").value == 5.0
    assert metrics(app) == start
    assert any("已撤销：修改设置" in i.value for i in app.info)
    app.button(key="redo").click().run()
    assert app.number_input(key="threshold_km_kindergarten").value == 12.0
    assert metrics(app) == wider
    app.button(key="undo").click().run()
    # a proposal, then undo
    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    app.button(key="add_kindergarten").click().run()
    assert len(app.session_state["proposals"]) == 1
    assert "撤销：修改拟建点" in app.button(key="undo").label
    app.button(key="undo").click().run()
    assert len(app.session_state["proposals"]) == 0 and metrics(app) == start


def test_a_services_file_adds_by_default_and_replaces_when_asked(app, tmp_path):
    """Item 5: the demo's 19 services stay unless 'replace' is chosen; undo brings them
    back either way."""
    lon, lat = 113.0047, 41.9373
    data = f"名称,类型,经度,纬度\n新园,幼儿园,{lon},{lat}\n".encode()
    upload(app, "up_services", "新园.csv", data)
    app.button(key="apply_layers").click().run()
    assert not app.exception
    assert len(app.session_state["scenario"].services) == 20
    assert "已载入：新园.csv" in app.success[0].value
    app.button(key="undo").click().run()
    assert len(app.session_state["scenario"].services) == 19
    open_sections(app, "exp_layers")
    app.radio(key="how_services").set_value("replace").run()
    upload(app, "up_services", "新园.csv", data)  # a new, empty picker after the first read
    app.button(key="apply_layers").click().run()
    assert app.session_state["scenario"].services["name"].tolist() == ["新园"]
    app.button(key="undo").click().run()
    assert len(app.session_state["scenario"].services) == 19


def test_reading_a_file_twice_is_refused_and_nothing_changes(app, tmp_path):
    csv = tmp_path / "新园.csv"
    csv.write_text("名称,类型,经度,纬度\n新园,幼儿园,113.0,41.9\n", encoding="utf-8")
    open_sections(app, "exp_layers")
    app.text_input(key="layer_path_services").input(str(csv)).run()
    app.button(key="apply_layers").click().run()
    services = app.session_state["scenario"].services
    assert len(services) == 20
    assert app.text_input(key="layer_path_services").value == ""  # emptied after reading
    app.text_input(key="layer_path_services").input(str(csv)).run()
    app.button(key="apply_layers").click().run()
    assert "已经存在" in app.error[0].value and "之前的数据和设置保持不变" in app.error[0].value
    assert app.session_state["scenario"].services is services


def test_the_users_own_households_are_named_as_such(app):
    """Item 6 in the app: title, note under it, summary and every export."""
    upload(app, "up_households", "我们的农户.csv", OWN.encode())
    app.button(key="apply_layers").click().run()
    title = app.title[0].value
    assert title.startswith("察哈尔右翼后旗：农户是你的数据（我们的农户.csv）")
    assert not any("农户、幼儿园和学校均为虚构" in i.value for i in app.info)
    assert any(i.value.startswith("你的数据：农户（我们的农户.csv）") for i in app.info)
    open_sections(app, "exp_summary", "exp_export")
    summary = next(t.value for t in app.text if "村庄" in t.value)
    assert "我们的农户.csv" in summary and "示例数据是虚构的" not in summary
    app.button(key="make_export").click().run()
    html = app.session_state["export_html"][1]
    assert "我们的农户.csv" in html and "示例数据是虚构的" not in html


def test_an_opened_project_keeps_the_page_language_and_its_layers_origins(tmp_path):
    """Item 17, and item 3's project: layers, proposals, origins; the page stays English."""
    from mapping.app_state import DEMO, Work
    from mapping.project import save_project
    from mapping.scenario import load_demo
    from mapping.settings import AnalysisSettings
    from mapping.whatif import make_proposal

    demo = load_demo()
    work = Work.start(demo, DEMO).with_file("households", demo.households.iloc[:4], "hh.csv",
                                            "replace")  # fmt: skip
    path = save_project(
        tmp_path / "p.gpkg",
        work.scenario,
        AnalysisSettings(thresholds_m={"kindergarten": 7000.0}),
        make_proposal(None, "school", 113.0, 41.9),
        extra={"lang": "zh", **work.project_extra()},
    )
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = "en"
    at.run()
    at.radio(key="source").set_value("project").run()
    upload(at, "up_project", "我们的项目.gpkg", path.read_bytes())
    at.button(key="load_project").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="lang").value == "en"
    assert at.title[0].value.startswith(
        "Chahar Right Rear Banner: households are your data (hh.csv)"
    )
    assert len(at.session_state["scenario"].households) == 4
    assert len(at.session_state["proposals"]) == 1
    assert at.number_input(key="threshold_km_kindergarten").value == 7.0
    assert "Undo opening the project 我们的项目.gpkg" in at.button(key="undo").label


def test_the_coordinate_system_is_remembered_across_a_reload(app):
    """Item 8: the choice lives in the page's address, so a reload keeps it."""
    open_sections(app, "exp_layers")
    app.radio(key="coords").set_value("gcj02").run()
    assert app.query_params["coords"] == "gcj02"
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    again.query_params["coords"] = "gcj02"
    again.run()
    open_sections(again, "exp_layers")
    assert again.radio(key="coords").value == "gcj02"


def test_the_layers_section_closed_is_not_drawn_and_keeps_its_choices(app):
    """Closed, the own-layers section draws nothing (a new session's page is lighter), and
    the coordinate system, the add/replace choices and typed paths chosen in it stay."""
    assert not [u for u in app.file_uploader if u.key.startswith("up_households")]
    open_sections(app, "exp_layers")
    assert [u for u in app.file_uploader if u.key.startswith("up_households")]
    app.radio(key="coords").set_value("gcj02").run()
    app.radio(key="how_services").set_value("replace").run()
    app.text_input(key="layer_path_villages").input("村.csv").run()
    app.session_state["exp_layers"] = False
    app.run()
    app.number_input(key="threshold_km_kindergarten").set_value(6.0).run()  # another run
    assert not [u for u in app.file_uploader if u.key.startswith("up_households")]
    assert app.session_state["coords"] == "gcj02"
    open_sections(app, "exp_layers")
    assert app.radio(key="coords").value == "gcj02"
    assert app.radio(key="how_services").value == "replace"
    assert app.text_input(key="layer_path_villages").value == "村.csv"


def test_an_added_service_is_confirmed_and_the_village_list_starts_with_the_flagged(app):
    """Item 12."""
    picker = app.selectbox(key="proposal_village")
    options = picker.options[1:]
    table = village_rows(app)
    flagged = set(table.loc[table["超标"], "村庄"])
    assert set(options[: len(flagged)]) == flagged and options[0] == FAR  # most households
    rest = options[len(flagged) :]
    assert rest == sorted(rest)
    app.session_state["last_click"] = (113.0047, 41.9373)
    open_sections(app, "exp_edit")
    app.radio(key="edit_layer").set_value("services").run()
    app.text_input(key="edit_name").input("希乐图幼儿园").run()
    app.button(key="edit_add").click().run()
    assert any("已添加幼儿园 / 学校“希乐图幼儿园”" in s.value for s in app.success)
    # the feature list shows names, not OSM ids
    labels = app.selectbox(key="edit_pick").options
    assert any(label.startswith("希乐图幼儿园（E") for label in labels)
    assert not any(label.startswith("osm-") for label in labels)


def test_exports_say_whether_they_show_today_or_after_the_proposals(app):
    """Item 13: with a proposal, an export shows today unless 'after' is chosen, and says
    which in its title and file name."""
    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    app.button(key="add_kindergarten").click().run()
    open_sections(app, "exp_export")
    assert app.radio(key="export_which").value == "now"
    app.button(key="make_export").click().run()
    html = app.session_state["export_html"][1]
    assert "现状" in html and "拟建后" not in html
    assert app.session_state["export_name"] == "map-committee-now-zh.html"
    app.radio(key="export_which").set_value("after").run()
    app.button(key="make_export").click().run()
    html = app.session_state["export_html"][1]
    assert "拟建后（含 1 个拟建点）" in html
    assert app.session_state["export_name"] == "map-committee-after-zh.html"


def test_tables_speak_the_pages_language(app):
    """Item 7: the coverage and edit tables, the download CSVs (headers in the language,
    metres to the decimetre), and the English page's village placeholder."""
    import io
    import json

    import pandas as pd

    open_sections(app, "exp_plan", "exp_edit", "exp_export")
    frames = [d.value for d in app.dataframe]
    coverage = next(f for f in frames if "道路距离以内（公里）" in f.columns)
    assert not {"scope", "band_m", "hh_within", "overall"} & set(coverage.columns)
    edit = next(d for d in app.dataframe if d.key == "edit_table_households")
    config = json.loads(edit.proto.columns)
    assert {c["label"] for c in config.values()} == {"村庄", "儿童数", "编号"}
    # the CSV the download button hands out
    table = pd.read_csv(io.BytesIO(app.session_state["memo_csv_villages"][2]))
    assert "村庄" in table.columns and "到幼儿园道路距离（米）" in table.columns
    dist = table["到幼儿园道路距离（米）"].dropna()
    assert (dist == dist.round(1)).all()
    assert set(table["超标（幼儿园）"]) <= {"是", "否"}
    app.radio(key="lang").set_value("en").run()
    assert app.selectbox(key="proposal_village").format_func("") == "(none: use the clicked place)"


# --------------------------------------------------------------------------------------------
# Issue 10 in the app: uploads are deleted once read, named as the user named them; a bad or
# hostile file is a message; a bug is a short message and the log, never a traceback


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The app's temporary folders go here (to see what it leaves behind)."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_uploaded_households_are_deleted_as_soon_as_they_are_read(app, private_tmp):
    upload(app, "up_households", "我们的农户.csv", OWN.encode())
    app.button(key="apply_layers").click().run()
    assert len(app.session_state["scenario"].households) == 2
    assert list(private_tmp.iterdir()) == []  # names and phones of families: gone


def test_a_bad_upload_is_named_as_the_user_named_it_and_deleted(app, private_tmp):
    bad = "户编号,经度,纬度\nA1,113.2,41.45\nA2,113.2,211.4\n".encode()
    scenario = app.session_state["scenario"]
    upload(app, "up_households", "村里的农户.csv", bad)
    app.button(key="apply_layers").click().run()
    assert not app.exception
    message = app.error[0].value
    assert "村里的农户.csv" in message and "之前的数据和设置保持不变" in message
    assert str(private_tmp) not in message and "gapmapper-" not in message
    assert app.session_state["scenario"] is scenario
    assert list(private_tmp.iterdir()) == []


def test_a_tampered_project_is_a_message_in_the_users_language(app, private_tmp, tmp_path):
    import sqlite3

    from mapping.project import save_project
    from mapping.scenario import load_demo
    from mapping.settings import AnalysisSettings

    path = save_project(tmp_path / "p.gpkg", load_demo(), AnalysisSettings())
    with sqlite3.connect(path) as con:
        con.execute("update project_meta set settings = '{not json'")
    before = metrics(app)
    app.radio(key="source").set_value("project").run()
    upload(app, "up_project", "别人的项目.gpkg", path.read_bytes())
    app.button(key="load_project").click().run()
    assert not app.exception, [e.value for e in app.exception]
    message = app.error[0].value
    assert message.startswith("无法完成：") and "别人的项目.gpkg" in message
    assert "Traceback" not in message and str(private_tmp) not in message
    assert metrics(app) == before
    assert list(private_tmp.iterdir()) == []


def test_a_bug_is_a_short_message_and_the_log_never_a_traceback(app, tmp_path, monkeypatch):
    import layers.households
    import mapping.scenario

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a reader")

    monkeypatch.setenv("GAPMAPPER_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setattr(layers.households, "read_households", broken)
    # the app reads files as the command line does (mapping.scenario.replace_layers)
    monkeypatch.setattr(mapping.scenario, "read_households", broken)
    scenario = app.session_state["scenario"]
    upload(app, "up_households", "hh.csv", OWN.encode())
    app.button(key="apply_layers").click().run()
    assert not app.exception, [e.value for e in app.exception]
    message = app.error[0].value
    log = tmp_path / "log" / "gapmapper.log"
    # the page shows Markdown: the path's underscores come escaped, so they show as they are
    assert "RuntimeError" in message and str(log).replace("_", "\\_") in message
    assert "Traceback" not in message and "a bug in a reader" not in message
    assert "Traceback" in log.read_text(encoding="utf-8")
    assert "a bug in a reader" in log.read_text(encoding="utf-8")
    assert app.session_state["scenario"] is scenario


def test_a_threshold_in_minutes_flags_by_travel_time(app):
    """Item 9: travel time in the table; a kind can be judged by minutes instead of km, and
    the page, the summary and undo follow."""
    table = village_rows(app)
    far = table[table["村庄"] == FAR].iloc[0]
    assert far["时间（分钟）"] > 0
    app.radio(key="threshold_unit_kindergarten").set_value("min").run()
    assert app.number_input(key="threshold_min_kindergarten").value == 30.0
    minutes = float(far["时间（分钟）"])
    # a limit just above the far village's time: it is no longer flagged
    app.number_input(key="threshold_min_kindergarten").set_value(round(minutes) + 5).run()
    table = village_rows(app)
    assert not bool(table[table["村庄"] == FAR].iloc[0]["超标"])
    assert f"在 {round(minutes) + 5:g} 分钟标准以内" in table[table["村庄"] == FAR].iloc[0]["说明"]
    open_sections(app, "exp_summary")
    summary = next(t.value for t in app.text if "村庄" in t.value)
    assert f"幼儿园（标准 {round(minutes) + 5:g} 分钟）" in summary
    app.button(key="undo").click().run()
    assert app.number_input(key="threshold_min_kindergarten").value == 30.0
    app.button(key="undo").click().run()
    assert app.radio(key="threshold_unit_kindergarten").value == "km"
    assert bool(village_rows(app).set_index("村庄").loc[FAR, "超标"])


def test_only_the_threshold_in_use_is_drawn_and_the_other_keeps_its_value(app):
    """The sidebar draws the kilometres or the minutes of a kind, whichever flags; switching
    back finds the other as it was left."""
    keys = lambda: {n.key for n in app.number_input}  # noqa: E731
    assert "threshold_km_kindergarten" in keys() and "threshold_min_kindergarten" not in keys()
    app.number_input(key="threshold_km_kindergarten").set_value(7.5).run()
    app.radio(key="threshold_unit_kindergarten").set_value("min").run()
    assert "threshold_km_kindergarten" not in keys()
    app.number_input(key="threshold_min_kindergarten").set_value(45.0).run()
    app.number_input(key="threshold_km_school").set_value(4.0).run()  # another run
    app.radio(key="threshold_unit_kindergarten").set_value("km").run()
    assert app.number_input(key="threshold_km_kindergarten").value == 7.5
    assert app.session_state["threshold_min_kindergarten"] == 45.0
    assert not app.exception


def test_the_summary_lists_the_villages_with_most_households_beyond_first(app):
    """Item 10: the issue's case: 9 surveyed households in 光明村, the village list in its
    own order puts empty villages (and 希乐图村, now without households) before it."""
    v = app.session_state["scenario"].villages
    point = v[v["village_name"] == "光明村"].geometry.iloc[0]
    rows = [f"G{i},{point.x + 0.0005 * i:.6f},{point.y:.6f},1" for i in range(9)]
    upload(
        app, "up_households", "光明村.csv", ("户编号,经度,纬度,儿童数\n" + "\n".join(rows)).encode()
    )
    app.button(key="apply_layers").click().run()
    open_sections(app, "exp_summary")
    summary = next(t.value for t in app.text if "村庄" in t.value)
    line = next(x for x in summary.splitlines() if x.startswith("幼儿园（标准 5 公里）"))
    names = line.split(" (", 1)[1].split(")")[0].split(", ")
    assert names[0] == "光明村" and FAR in names[1:]
    first_reason = next(x for x in summary.splitlines() if x.startswith("  - "))
    assert first_reason.startswith("  - 光明村：") and "9 户中有 9 户超过标准" in first_reason


def test_two_tabs_keep_separate_autosaves_and_a_reload_gets_its_own_back(app):
    """Item 1 for the autosave: two laptops on one server never overwrite each other's
    autosave; a reload of a tab (its address keeps its workspace) is offered its own."""
    from mapping.project import open_project, wait_for_saves

    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    app.button(key="add_kindergarten").click().run()
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    other.run()
    other.button(key="restore_no").click().run()
    other.number_input(key="threshold_km_kindergarten").set_value(3.0).run()
    other.session_state["last_click"] = (113.0, 41.5)
    other.run()
    other.button(key="add_school").click().run()
    wait_for_saves()
    assert len(autosaves()) == 2 and app.session_state["ws"] != other.session_state["ws"]
    mine = open_project(own_autosave(app))[2]
    assert mine["kind"].tolist() == ["kindergarten"]
    assert open_project(own_autosave(other))[2]["kind"].tolist() == ["school"]
    # the first tab reloaded: its address names its workspace
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    again.query_params["ws"] = app.session_state["ws"]
    again.run()
    again.button(key="restore_yes").click().run()
    assert again.session_state["proposals"]["kind"].tolist() == ["kindergarten"]


def test_an_autosave_that_cannot_be_written_is_said_once(tmp_path, monkeypatch):
    """The work goes on, and the user learns that nothing is being kept."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("GAPMAPPER_AUTOSAVE_DIR", str(blocker))
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    picker = at.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    at.button(key="add_kindergarten").click().run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning if "自动保存没有成功" in w.value]
    assert len(warnings) == 1 and "保存项目" in warnings[0]
    at.number_input(key="threshold_km_kindergarten").set_value(6.0).run()
    assert not [w.value for w in at.warning if "自动保存没有成功" in w.value]  # said once
    assert len(at.session_state["proposals"]) == 1


HOSTILE_OSM = b"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="x">
  <node id="1" lat="abc" lon="113.0" version="1"/>
  <node id="2" lat="41.0" lon="113.1" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
</osm>
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_hostile_osm_upload_is_a_message_naming_the_file(lang, private_tmp):
    """Issue 10: an OSM file with lat="abc" ends in the project's message in the page's
    language (the file as the user named it), never Streamlit's error box; nothing changes."""
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = lang
    at.run()
    before = metrics(at)
    at.radio(key="source").set_value("osm").run()
    upload(at, "up_osm", "村里的路.osm", HOSTILE_OSM)
    at.button(key="load_osm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    message = at.error[0].value
    assert "村里的路.osm" in message and 'lat="abc"' in message
    assert message.startswith("无法完成：" if lang == "zh" else "Could not do that: ")
    assert str(private_tmp) not in message
    assert metrics(at) == before
    assert list(private_tmp.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Issue 13 in the app: community roads and road conditions


def demo_track():
    from layers.tracks import read_community_roads

    return read_community_roads(ROOT / "data" / "demo" / "community_track.gpx")


def demo_closures():
    from layers.tracks import read_closures

    return read_closures(ROOT / "data" / "demo" / "winter_closure.geojson")


def library_run(community=None, closures=None, condition=None, **thresholds_m):
    """The command line's answer (mapping.corrections.run_corrected in one go): the oracle
    for the app, which works it out step by step from its caches."""
    from mapping.corrections import run_corrected
    from mapping.scenario import load_demo
    from mapping.settings import AnalysisSettings

    settings = AnalysisSettings(kinds=("kindergarten", "school"))
    if thresholds_m:
        settings = settings.with_(thresholds_m={**settings.thresholds_m, **thresholds_m})
    return run_corrected(
        load_demo(), settings, community=community, closures=closures, condition=condition
    )


def table_of(at, prefix: str):
    """The editable table whose key starts with ``prefix``."""
    return next(d for d in at.dataframe if d.key and d.key.startswith(prefix))


def frame_with(at, column: str):
    """The first table on the page with a column named ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_a_line_drawn_on_the_map_becomes_a_community_road(app):
    """The demo's recorded track, drawn instead of read: the app's numbers are the command
    line's for the same road; class and name edited in the table; deleted; undone."""
    track = demo_track()
    oracle = library_run(community=track)
    expected = oracle.community_changes()
    expected = expected[expected["kind"] == "kindergarten"]
    assert expected["village_name"].tolist() == ["巨井泉村二组"]  # the demo's story
    open_sections(app, "exp_roads")
    app.session_state["drawn_shape"] = track.geometry.iloc[0]  # what a drawn line stores
    app.run()
    assert any("你在地图上画了一条线（3.22 公里）" in i.value for i in app.info)
    assert app.selectbox(key="road_class").value == "track"  # 土路 by default
    app.text_input(key="road_name").input("近路").run()
    app.text_input(key="road_by").input("乌兰").run()
    app.button(key="road_add").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "已添加社区道路“近路”（土路）。" in [s.value for s in app.success]
    roads = app.session_state["history"].work.community
    assert roads[["name", "added_by", "road_class"]].values.tolist() == [["近路", "乌兰", "track"]]
    # what the community roads changed: the command line's table, to the metre
    changes = frame_with(app, "变化（公里）")
    assert changes["村庄"].tolist() == ["巨井泉村二组"]
    row = expected.iloc[0]
    assert changes["之前（公里）"].iloc[0] == round(row["dist_before_m"] / 1000, 2)
    assert changes["之后（公里）"].iloc[0] == round(row["dist_after_m"] / 1000, 2) == 3.4
    table = village_rows(app).set_index("村庄")
    assert table.loc["巨井泉村二组", "距离（公里）"] == round(
        oracle.analysis.villages.set_index("village_name").loc[
            "巨井泉村二组", "dist_kindergarten_m"
        ]
        / 1000,
        1,
    )
    # the class and name edited in the table (labels in the page's language)
    editor = table_of(app, "road_table")
    app.session_state[editor.key] = {
        "edited_rows": {0: {"road_class": "主要道路", "name": "大路"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    app.button(key="roads_apply").click().run()
    roads = app.session_state["history"].work.community
    assert roads[["name", "road_class"]].values.tolist() == [["大路", "secondary"]]
    # deleted, then undone, then the edit undone
    app.button(key="road_delete").click().run()
    assert len(app.session_state["history"].work.community) == 0
    assert village_rows(app).set_index("村庄").loc["巨井泉村二组", "距离（公里）"] == 4.3
    assert "撤销：删除社区道路 大路（R1）" in app.button(key="undo").label
    app.button(key="undo").click().run()
    assert app.session_state["history"].work.community["name"].tolist() == ["大路"]
    app.button(key="undo").click().run()
    assert app.session_state["history"].work.community["name"].tolist() == ["近路"]


def test_a_road_file_is_read_and_offered_back_as_geojson_and_gpx(app, private_tmp):
    from layers.tracks import read_community_roads

    open_sections(app, "exp_roads")
    data = (ROOT / "data" / "demo" / "community_track.gpx").read_bytes()
    upload(app, "up_roads", "我们记录的轨迹.gpx", data)
    app.button(key="roads_load").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "已读入 我们记录的轨迹.gpx：1 条道路。" in [s.value for s in app.success]
    assert list(private_tmp.iterdir()) == []  # the upload is gone
    roads = app.session_state["history"].work.community
    assert roads["source"].tolist() == ["我们记录的轨迹.gpx"]
    for fmt in ("geojson", "gpx"):
        made = app.session_state[f"memo_roads_{fmt}"][2]
        back = private_tmp / f"back.{fmt}"
        back.write_bytes(made)
        again = read_community_roads(back)
        assert again.geometry.iloc[0].equals_exact(roads.geometry.iloc[0], 1e-6), fmt
        assert again["name"].tolist() == roads["name"].tolist()


def test_a_bad_road_file_is_a_message_and_nothing_changes(app, private_tmp):
    open_sections(app, "exp_roads")
    before = metrics(app)
    gpx = (
        '<?xml version="1.0"?><gpx version="1.1" creator="x" '
        'xmlns="http://www.topografix.com/GPX/1/1">'
        '<wpt lat="41.9" lon="113.0"><name>学校</name></wpt></gpx>'
    )
    upload(app, "up_roads", "只有航点.gpx", gpx.encode())
    app.button(key="roads_load").click().run()
    assert not app.exception, [e.value for e in app.exception]
    message = app.error[0].value
    assert message.startswith("无法完成：") and "只有航点.gpx" in message
    assert "之前的数据和设置保持不变" in message and str(private_tmp) not in message
    assert len(app.session_state["history"].work.community) == 0
    assert metrics(app) == before
    assert list(private_tmp.iterdir()) == []


def test_roads_all_outside_the_area_are_refused_at_the_step(app):
    """The join refuses roads that all lie outside the study area: said when they are
    saved, nothing changes (the page is not left without its map)."""
    open_sections(app, "exp_roads")
    app.session_state["drawn_shape"] = shapely.LineString([(100.0, 30.0), (100.1, 30.1)])
    app.run()
    app.button(key="road_add").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("研究区以外" in e.value for e in app.error)
    assert len(app.session_state["history"].work.community) == 0
    assert app.session_state["drawn_shape"] is not None  # the line is still there to move


def test_a_winter_closure_cuts_off_the_far_village_and_names_the_condition(app, private_tmp):
    """The demo's closure file read through the picker; the condition shown; the village
    table, metrics and comparison are the command line's (12 km threshold: 希乐图村 is
    within it on the usual roads, cut off in winter)."""
    app.number_input(key="threshold_km_kindergarten").set_value(12.0).run()
    usual = metrics(app)
    open_sections(app, "exp_roads")
    data = (ROOT / "data" / "demo" / "winter_closure.geojson").read_bytes()
    upload(app, "up_closures", "冬天.geojson", data)
    app.button(key="closures_load").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("2 处封路或限速（路况：冬季积雪）" in s.value for s in app.success)
    assert list(private_tmp.iterdir()) == []
    assert metrics(app) == usual  # read, not yet shown
    sentences = [m.value for m in app.markdown if m.value.startswith("- 冬季积雪")]
    oracle = library_run(closures=demo_closures(), kindergarten=12000.0)
    expected = oracle.conditions_side_by_side()
    expected = expected[expected["kind"] == "kindergarten"]["sentence_zh"].tolist()
    assert sentences == [f"- {s}" for s in expected]
    assert "比平时多 1 个（其中 1 个无法沿道路到达）" in sentences[0]
    app.selectbox(key="condition").set_value("冬季积雪").run()
    assert not app.exception, [e.value for e in app.exception]
    far = village_rows(app).set_index("村庄").loc[FAR]
    assert bool(far["超标"]) and pd_isna(far["距离（公里）"])
    assert far["说明"].startswith(f"{FAR}：冬季积雪封路后，沿道路无法到达任何幼儿园")
    winter = oracle.analysis.villages
    assert int(metrics(app)["超标村庄"]) == int(winter["flag_kindergarten"].sum())
    assert any("现在显示的是“冬季积雪”的路况" in i.value for i in app.info)
    app.button(key="undo").click().run()  # back to the usual roads
    assert app.selectbox(key="condition").value == ""
    assert metrics(app) == usual


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_an_area_drawn_or_a_click_closes_roads_under_a_condition(app):
    """The demo's snowdrift drawn as an area gives the file's answer; a click on a road
    closes the stretch between its junctions; a blank condition name is refused."""
    snowdrift = demo_closures().geometry.iloc[0]
    open_sections(app, "exp_roads")
    app.session_state["drawn_shape"] = snowdrift
    app.run()
    app.button(key="closure_drawn").click().run()
    assert any("请先给路况起个名字" in e.value for e in app.error)
    assert len(app.session_state["history"].work.closures) == 0
    app.text_input(key="closure_condition").input("大雪").run()
    app.button(key="closure_drawn").click().run()
    assert not app.exception, [e.value for e in app.exception]
    work = app.session_state["history"].work
    assert work.conditions == ["大雪"] and work.condition == "大雪"
    assert "已在“大雪”下加上封路（不能通行）。地图现在显示这种路况。" in [
        s.value for s in app.success
    ]
    far = village_rows(app).set_index("村庄").loc[FAR]
    assert far["说明"].startswith(f"{FAR}：大雪封路后，沿道路无法到达任何幼儿园")
    # a slow-down at a clicked road: the stretch nearest the click, slowed to 15 km/h
    net = library_run().open.network
    x, y = net.x[net.seg_u[100:101]], net.y[net.seg_u[100:101]]
    lon, lat = net.to_lonlat(x, y)
    app.session_state["last_click"] = (float(lon[0]), float(lat[0]))
    app.run()
    app.radio(key="closure_effect").set_value("slowed").run()
    app.number_input(key="closure_speed").set_value(15.0).run()
    app.button(key="closure_click").click().run()
    assert not app.exception, [e.value for e in app.exception]
    closures = app.session_state["history"].work.closures
    assert closures["speed_kmh"].tolist()[1] == 15.0
    line = closures.geometry.iloc[1]
    assert line.geom_type == "LineString" and line.distance(shapely.Point(lon[0], lat[0])) < 1e-6
    # a click far from any road closes nothing
    app.session_state["last_click"] = (112.0, 40.0)
    app.run()
    app.button(key="closure_click").click().run()
    assert any("150 米以内没有道路" in e.value for e in app.error)
    assert len(app.session_state["history"].work.closures) == 2


def test_corrections_are_kept_in_the_project_and_the_autosave(app, tmp_path, private_folders):
    from mapping.project import open_corrections, wait_for_saves

    open_sections(app, "exp_roads")
    app.button(key="roads_demo").click().run()
    app.selectbox(key="condition").set_value("冬季积雪").run()
    shown = metrics(app)
    wait_for_saves()
    roads, closures = open_corrections(own_autosave(app))
    assert len(roads) == 1 and closures["condition"].tolist() == ["冬季积雪", "冬季积雪"]
    open_sections(app, "exp_export")
    app.button(key="save_project").click().run()
    project = tmp_path / "p.gpkg"
    project.write_bytes(app.session_state["saved_project"])
    roads, closures = open_corrections(project)
    assert roads["source"].tolist() == ["community_track.gpx"] and len(closures) == 2
    # after a crash: restored with the roads, closures and the condition shown
    st.cache_resource.clear()
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    again.query_params["ws"] = app.session_state["ws"]
    again.run()
    again.button(key="restore_yes").click().run()
    assert not again.exception, [e.value for e in again.exception]
    assert again.selectbox(key="condition").value == "冬季积雪"
    assert metrics(again) == shown
    # and from the project file, in another session
    third = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    third.run()
    third.radio(key="source").set_value("project").run()
    upload(third, "up_project", "冬天的项目.gpkg", project.read_bytes())
    third.button(key="load_project").click().run()
    assert not third.exception, [e.value for e in third.exception]
    assert metrics(third) == shown
    assert len(third.session_state["history"].work.community) == 1


def test_the_data_health_panel_says_where_to_record_a_track(app):
    from mapping.health import compute_health

    open_sections(app, "exp_health")
    health = frame_with(app, "问题")
    oracle = compute_health(library_run().analysis)
    assert health["说明"].tolist() == oracle["detail_zh"].tolist()
    assert health["名称"].tolist() == oracle["name"].astype(str).tolist()
    assert health["问题"].iloc[0] == "建议补路" and "记录轨迹" in health["说明"].iloc[0]


# --------------------------------------------------------------------------------------------
# Issue 14 in the app: which column is which, the coordinate system detected, households
# placed at their village

ODD = (
    "编码,东经度数,北纬度数,所在嘎查,孩子\n"
    "A1,113.0047,41.9373,希乐图村,2\n"
    "A2,113.0050,41.9370,希乐图村,1\n"
    "A3,113.0052,41.9368,希乐图村,3\n"
)


def test_unrecognised_headers_ask_which_column_is_which_and_remember(app, private_tmp):
    from layers.columns import recall_columns

    before = metrics(app)
    upload(app, "up_households", "调查表.csv", ODD.encode())
    app.button(key="apply_layers").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert metrics(app) == before and not app.error  # nothing read yet, nothing wrong
    assert list(private_tmp.iterdir()) == []  # the upload is not kept while asking
    assert any(h.value == "调查表.csv：哪一列是……" for h in app.subheader)
    assert any(m.value.startswith("没有认出这个文件里的经纬度。") for m in app.markdown)
    rows = frame_with(app, "东经度数")
    assert rows["编码"].tolist() == ["A1", "A2", "A3"]  # the first rows, as text
    # the columns whose numbers look like degrees are offered first
    assert app.selectbox(key="colmap_lon").value == "东经度数"
    assert app.selectbox(key="colmap_lat").value == "北纬度数"
    # lat left out: said, and still asked
    app.selectbox(key="colmap_lat").set_value("").run()
    app.button(key="colmap_apply").click().run()
    assert any("请选出经度和纬度两列" in e.value for e in app.error)
    assert any(h.value == "调查表.csv：哪一列是……" for h in app.subheader)
    app.selectbox(key="colmap_lat").set_value("北纬度数")
    app.selectbox(key="colmap_id").set_value("编码")
    app.selectbox(key="colmap_village").set_value("所在嘎查")
    app.selectbox(key="colmap_children").set_value("孩子").run()
    app.button(key="colmap_apply").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "已载入：调查表.csv" in [s.value for s in app.success]
    hh = app.session_state["scenario"].households
    assert hh.index.tolist() == ["A1", "A2", "A3"] and hh["children"].tolist() == [2, 1, 3]
    assert hh["village_name"].tolist() == ["希乐图村"] * 3
    assert not any(h.value.endswith("哪一列是……") for h in app.subheader)
    assert list(private_tmp.iterdir()) == []
    # remembered for these headers (beside the autosave)
    from mapping.project import autosave_path

    remembered = recall_columns(ODD.splitlines()[0].split(","), folder=autosave_path().parent)
    assert remembered == {
        "lon": "东经度数", "lat": "北纬度数", "id": "编码", "village": "所在嘎查", "children": "孩子",
    }  # fmt: skip
    # the next export of the same form is read at once, and says how
    again = ODD.replace("A1", "B1").replace("A2", "B2").replace("A3", "B3")
    upload(app, "up_households", "调查表2.csv", again.encode())
    app.button(key="apply_layers").click().run()
    assert "已载入：调查表2.csv" in [s.value for s in app.success]
    assert any(
        "按上次为同样表头记住的列读取" in i.value and "经度=东经度数" in i.value for i in app.info
    )
    assert app.session_state["scenario"].households.index.tolist() == ["B1", "B2", "B3"]


def test_the_column_step_speaks_english_on_an_english_page(app):
    app.radio(key="lang").set_value("en").run()
    upload(app, "up_households", "survey.csv", ODD.encode())
    app.button(key="apply_layers").click().run()
    assert any(h.value == "survey.csv: which column is …" for h in app.subheader)
    assert app.selectbox(key="colmap_lon").label == "longitude"
    app.button(key="colmap_cancel").click().run()
    assert not any(h.value.endswith("which column is …") for h in app.subheader)
    assert len(app.session_state["scenario"].households) > 3  # still the demo's


def test_the_coordinate_system_is_detected_by_default_and_said(app):
    """The demo's households file is GCJ-02 (copied from Amap): read with the default
    "detect", the roads choose GCJ-02 and the page says so with the medians; the
    households land where the demo itself puts them (it declares GCJ-02)."""
    from mapping.scenario import load_demo

    open_sections(app, "exp_layers")
    assert app.radio(key="coords").value == "auto"
    data = (ROOT / "data" / "demo" / "households.csv").read_bytes()
    upload(app, "up_households", "农户.csv", data)
    app.button(key="apply_layers").click().run()
    assert not app.exception, [e.value for e in app.exception]
    said = [i.value for i in app.info if "农户.csv：按 GCJ-02（高德/腾讯）读取" in i.value]
    assert said and "农户到道路的中位距离" in said[0] and "按 WGS84" in said[0]
    mine = app.session_state["scenario"].households
    demo = load_demo().households.loc[mine.index]
    assert mine.geometry.geom_equals_exact(demo.geometry, 1e-9).all()
    # declared WGS84 (wrongly): read as declared, with a warning saying what fits better
    app.radio(key="coords").set_value("wgs84").run()
    upload(app, "up_households", "农户.csv", data)
    app.button(key="apply_layers").click().run()
    assert any("坐标系可能选错了" in w.value and "GCJ-02" in w.value for w in app.warning)


def test_households_without_coordinates_are_counted_at_their_village(app):
    csv = (
        "户编号,经度,纬度,所属村,儿童数\n"
        "C1,113.0047,41.9373,希乐图村,1\n"
        "C2,,,希乐图村,2\n"
        "C3,,,温家村,1\n"
    )
    upload(app, "up_households", "补录.csv", csv.encode())
    app.button(key="apply_layers").click().run()
    assert not app.exception, [e.value for e in app.exception]
    hh = app.session_state["scenario"].households
    assert hh["located"].tolist() == ["gps", "village", "village"]
    assert any("2 户没有坐标，按所在村计算；地图上没有画出它们。" in c.value for c in app.caption)
    open_sections(app, "exp_summary")
    summary = next(t.value for t in app.text if "村庄" in t.value)
    assert "2 户没有坐标，按所在村计算。" in summary
    table = village_rows(app).set_index("村庄")
    assert table.loc[FAR, "农户"] == 2 and table.loc["温家村", "农户"] == 1


# --------------------------------------------------------------------------------------------
# Issue 15 in the app: the report PDF and the village cards


def test_the_report_and_the_cards_are_made_for_the_committee(app, private_tmp):
    import io
    import zipfile

    import pypdf
    from PIL import Image

    from mapping.cards import card_file_name

    open_sections(app, "exp_export")
    assert app.radio(key="export_privacy").value == "committee"
    assert app.radio(key="cards_which").value == "flagged"
    app.text_input(key="report_author").input("乌兰察布社工站").run()
    app.button(key="make_report").click().run()
    assert not app.exception, [e.value for e in app.exception]
    name, pdf, zip_name, zipped, n = app.session_state["report_pack"]
    assert name == "report-committee-now-zh.pdf" and pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    text = text.replace("\n", "")
    villages = app.session_state["scenario"].villages
    table = village_rows(app)
    flagged = table[table["超标"]]
    for reason in flagged["说明"]:
        assert reason.replace(" ", "") in text.replace(" ", ""), reason
    assert "乌兰察布社工站" in text
    households = app.session_state["scenario"].households
    for value in [*households.index, *households["name"].dropna(), *households["phone"].dropna()]:
        assert str(value) not in text  # committee: nothing of a household
    # one card per flagged village, named by the village, 1080 px wide
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        names = sorted(z.namelist())
        first = Image.open(io.BytesIO(z.read(names[0])))
    assert n == len(flagged) == len(names)
    ids = villages.index[villages["village_name"].isin(flagged["村庄"])]
    assert names == sorted(card_file_name(villages.at[v, "village_name"], v) for v in ids)
    assert first.size[0] == 1080
    bar = app.get("progress")[0].proto  # the bar, full, says what was made
    assert bar.value == 100 and bar.text == f"报告和 {n} 张村卡片已经做好。"
    assert list(private_tmp.iterdir()) == []  # the temporary folder is gone


def test_the_report_after_the_proposals_says_so(app):
    picker = app.selectbox(key="proposal_village")
    picker.select_index(picker.options.index(FAR)).run()
    app.button(key="add_kindergarten").click().run()
    open_sections(app, "exp_export")
    app.radio(key="export_which").set_value("after").run()
    app.radio(key="cards_which").set_value("none").run()
    app.button(key="make_report").click().run()
    assert not app.exception, [e.value for e in app.exception]
    name, pdf, _, zipped, n = app.session_state["report_pack"]
    assert name == "report-committee-after-zh.pdf" and zipped is None and n == 0


def test_routes_can_be_drawn_on_the_map(app):
    app.checkbox(key="show_routes").check().run()
    assert not app.exception, [e.value for e in app.exception]


def test_road_speeds_are_kept_when_their_table_is_closed(app):
    """The speeds table is drawn only while its section is open; closing it keeps the
    speeds set in it (and undo takes them back)."""
    from mapping.settings import MOTORBIKE_SPEEDS_KMH

    open_sections(app, "exp_speeds")
    row = list(MOTORBIKE_SPEEDS_KMH).index("track")
    app.session_state[table_of(app, "vehicle_speeds_motorbike").key] = {
        "edited_rows": {row: {"kmh": 5.0}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    assert app.session_state["history"].work.settings.speeds_kmh == {"track": 5.0}
    app.session_state["exp_speeds"] = False  # closed
    app.run()
    assert not [d for d in app.dataframe if d.key and d.key.startswith("vehicle_speeds")]
    app.number_input(key="threshold_km_kindergarten").set_value(6.0).run()
    assert app.session_state["history"].work.settings.speeds_kmh == {"track": 5.0}
    app.button(key="undo").click().run()
    app.button(key="undo").click().run()
    assert app.session_state["history"].work.settings.speeds_kmh is None


def test_a_file_name_that_looks_like_markdown_is_shown_as_it_is(app):
    """Data is never code: a file name holding Markdown (a link, emphasis, a colour
    directive) reaches the page's messages escaped, so it shows as the characters it has."""
    name = "农户[点我](http:--x)_*:red[红]*.csv"
    upload(app, "up_households", name, OWN.encode())
    app.button(key="apply_layers").click().run()
    assert not app.exception, [e.value for e in app.exception]
    shown = next(s.value for s in app.success if "已载入" in s.value)
    assert shown == "已载入：农户\\[点我\\](http:--x)\\_\\*:red\\[红\\]\\*.csv"
    assert app.title[0].value.startswith("察哈尔右翼后旗：农户是你的数据（农户\\[点我\\]")
