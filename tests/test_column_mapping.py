"""Which column is which (issue 14, item 2): the readers' ``columns=``, the command line's
``--columns``, the message that prints the line that would read a file, and the library
functions behind the app's "which column is ..." step (inspect, guess, remember)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from layers.columns import (
    MAX_REMEMBERED,
    MEMORY_FILE,
    ColumnChoice,
    as_column_choice,
    header_key,
    inspect_file,
    parse_columns_option,
    recall_columns,
    remember_columns,
    role_label,
)
from layers.errors import InputError, SettingsError
from layers.households import read_households
from layers.schema import notes_of
from layers.services import read_services
from layers.tables import ColumnMapping, read_table
from layers.villages import read_villages
from mapping.cli import main
from tests.conftest import FIXTURES
from tests.test_survey_exports import refused

UNKNOWN = (
    "户编码,所在嘎查,东经度数,北纬度数,孩子个数,备注\n"
    "A1,温家村,112.958602,41.848387,2,东头\n"
    "A2,温家村,112.959286,41.845465,1,\n"
    "A3,希乐图村,113.047211,41.773120,0,新搬来\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------------------------
# the readers' columns=

MAPPING = {
    "lon": "东经度数",
    "lat": "北纬度数",
    "village": "所在嘎查",
    "id": "户编码",
    "children": "孩子个数",
}


def test_unknown_headers_read_with_a_mapping(tmp_path):
    hh = read_households(write(tmp_path / "住户.csv", UNKNOWN), columns=MAPPING)
    assert hh.index.tolist() == ["A1", "A2", "A3"]
    assert hh["village_name"].tolist() == ["温家村", "温家村", "希乐图村"]
    assert hh["children"].tolist() == [2, 1, 0]
    assert hh.geometry.x.tolist() == [112.958602, 112.959286, 113.047211]
    assert hh.geometry.y.tolist() == [41.848387, 41.845465, 41.773120]


def test_headers_match_ignoring_case_width_and_spaces(tmp_path):
    text = "ID,Ｅａｓｔ,North\nA1,112.9,41.8\n"
    hh = read_households(write(tmp_path / "h.csv", text), columns={"lon": " east ", "lat": "NORTH"})
    assert (hh.geometry.x.iloc[0], hh.geometry.y.iloc[0]) == (112.9, 41.8)


def test_the_no_lon_lat_message_prints_the_line_that_reads_the_file(tmp_path, capsys):
    path = write(tmp_path / "住户.csv", UNKNOWN)
    err = refused(
        InputError, "error.tables.no_lon_lat", lambda: read_households(path), tmp_path,
        "住户.csv", "--columns lon=东经度数,lat=北纬度数",
    )  # fmt: skip
    assert "--columns lon=东经度数,lat=北纬度数" in err.message("zh")
    assert "请把对应的列改成其中一个名字" in err.message("zh")  # the old advice stays
    # following the message reads the file, from the command line
    line = err.params["columns_line"].split(" ", 1)[1]
    out = tmp_path / "out"
    code = main(["analyze", "--demo", "--households", str(path), "--columns", line,
                 "--no-map", "--out", str(out), "--lang", "en"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "households.csv", encoding="utf-8-sig")
    assert len(table) == 3 and table["located"].tolist() == ["gps"] * 3
    assert table["dist_kindergarten_m"].notna().all()


def test_the_guess_prefers_degrees_over_other_numbers_and_hints_over_order(tmp_path):
    text = (
        "编号,海拔,Y坐标,X坐标,人数\n"
        "1,1452.5,41.848387,112.958602,3\n"
        "2,1449.0,41.845465,112.959286,4\n"
    )
    path = write(tmp_path / "h.csv", text)
    err = refused(InputError, "error.tables.no_lon_lat", lambda: read_table(path), tmp_path)
    assert err.params["columns_line"] == "--columns lon=X坐标,lat=Y坐标"


def test_the_guess_quotes_headers_with_spaces(tmp_path):
    path = write(tmp_path / "h.csv", "id,East deg,North deg\nA1,112.958602,41.848387\n")
    err = refused(InputError, "error.tables.no_lon_lat", lambda: read_table(path), tmp_path)
    assert err.params["columns_line"] == '--columns "lon=East deg,lat=North deg"'


def test_without_any_degrees_the_line_has_placeholders(tmp_path):
    path = write(tmp_path / "h.csv", "户号,地址\nA1,某村\n")
    err = refused(InputError, "error.tables.no_lon_lat", lambda: read_table(path), tmp_path)
    assert err.params["columns_line"] == "--columns lon=COLUMN,lat=COLUMN"


def test_a_header_the_file_lacks_names_the_files_columns(tmp_path):
    path = write(tmp_path / "住户.csv", UNKNOWN)
    err = refused(
        InputError, "error.columns.not_found",
        lambda: read_households(path, columns={"lon": "东经", "lat": "北纬度数"}), tmp_path,
        "住户.csv", "'东经'", "lon=东经", "户编码, 所在嘎查, 东经度数",
    )  # fmt: skip
    assert "请照抄文件第一行里的列名" in err.message("zh")


def test_an_unknown_role_is_a_settings_error(tmp_path):
    path = write(tmp_path / "住户.csv", UNKNOWN)
    refused(
        SettingsError, "error.columns.unknown_role",
        lambda: read_households(path, columns={"longitude_deg": "东经度数"}), tmp_path,
        "longitude_deg", "lon, lat, point",
    )  # fmt: skip


def test_longitude_without_latitude_is_refused(tmp_path):
    path = write(tmp_path / "住户.csv", UNKNOWN)
    refused(
        InputError, "error.columns.incomplete",
        lambda: read_households(path, columns={"lon": "东经度数"}), tmp_path,
        "lon=东经度数", "lat=...",
    )  # fmt: skip


def test_a_role_the_layer_does_not_read_is_refused_when_strict_and_skipped_when_shared(tmp_path):
    path = write(tmp_path / "住户.csv", UNKNOWN)
    refused(
        InputError, "error.columns.role_not_for_layer",
        lambda: read_households(path, columns={**MAPPING, "kind": "备注"}), tmp_path,
        "households", "'kind'",
    )  # fmt: skip
    shared = ColumnMapping({**MAPPING, "kind": "备注", "capacity": "没有这列"}, strict=False)
    assert read_households(path, columns=shared).index.tolist() == ["A1", "A2", "A3"]


def test_one_point_column_as_phones_write_it(tmp_path):
    text = "户号,位置信息\nA1,41.848387 112.958602 1452 5\nA2,41.845465 112.959286\n"
    hh = read_households(write(tmp_path / "h.csv", text), columns={"point": "位置信息"})
    assert hh.geometry.x.tolist() == [112.958602, 112.959286]
    assert hh.geometry.y.tolist() == [41.848387, 41.845465]


def test_a_mapped_column_is_not_taken_for_another_role(tmp_path):
    # 名称 would be the name of a service: mapped as the kind here, the name comes from 简称
    text = "名称,简称,lon,lat\n幼儿园,前进,112.9,41.8\n小学,红旗,113.0,41.9\n"
    svc = read_services(write(tmp_path / "s.csv", text), columns={"kind": "名称", "name": "简称"})
    assert svc["kind"].tolist() == ["kindergarten", "school"]
    assert svc["name"].tolist() == ["前进", "红旗"]


def test_villages_name_and_services_kind_messages_print_their_lines(tmp_path):
    v = write(tmp_path / "村.csv", "嘎查名称,lon,lat\n温家村,112.9,41.8\n希乐图村,113.0,41.9\n")
    err = refused(InputError, "error.villages.no_name_column", lambda: read_villages(v), tmp_path)
    assert "--columns villages:name=嘎查名称" in err.message("zh")
    assert read_villages(v, columns={"name": "嘎查名称"})["village_name"].tolist() == [
        "温家村",
        "希乐图村",
    ]
    s = write(tmp_path / "设施.csv", "名字,办学类型,lon,lat\n前进,幼儿园,112.9,41.8\n")
    err = refused(InputError, "error.services.no_kind", lambda: read_services(s), tmp_path)
    assert "--columns services:kind=办学类型" in err.message("en")


def test_a_mapping_finds_the_sheet_whose_headers_it_names(tmp_path):
    path = tmp_path / "h.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为示例"])
    data = wb.create_sheet("数据")
    data.append(["户编码", "东经度数", "北纬度数"])
    data.append(["A1", 112.9, 41.8])
    wb.save(path)
    hh = read_households(path, columns={"lon": "东经度数", "lat": "北纬度数", "id": "户编码"})
    assert hh.index.tolist() == ["A1"]
    assert any(n.params.get("sheet") == "数据" for n in notes_of(hh))


# --------------------------------------------------------------------------------------------
# --columns


def test_parse_shared_and_per_layer_pairs():
    choice = parse_columns_option(
        ["lon=东经度数,lat=北纬度数", "households:village=所在嘎查,children=孩子个数",
         "villages:name=嘎查名称"]
    )  # fmt: skip
    assert choice.shared == {"lon": "东经度数", "lat": "北纬度数"}
    assert choice.by_layer == {
        "households": {"village": "所在嘎查", "children": "孩子个数"},
        "villages": {"name": "嘎查名称"},
    }
    hh = choice.for_layer("households")
    assert hh.roles == {"lon": "东经度数", "lat": "北纬度数", "village": "所在嘎查",
                        "children": "孩子个数"}  # fmt: skip
    assert hh.is_strict("village") and not hh.is_strict("lon")
    assert choice.for_layer("services").roles == {"lon": "东经度数", "lat": "北纬度数"}
    assert not choice.for_layer("services").is_strict("lon")


def test_parse_full_width_punctuation_chinese_roles_and_layers():
    choice = parse_columns_option(["农户：经度＝东经度数，纬度＝北纬度数、村＝所在嘎查"])
    assert choice.by_layer == {
        "households": {"lon": "东经度数", "lat": "北纬度数", "village": "所在嘎查"}
    }


@pytest.mark.parametrize("value", ["lon", "lon=", "=东经", ",", "households:"])
def test_parse_refuses_malformed_pairs(value):
    with pytest.raises(SettingsError) as info:
        parse_columns_option([value])
    assert info.value.key == "error.columns.bad_option"
    assert "lon=东经,lat=北纬,village=所在村" in info.value.message("zh")


def test_parse_refuses_unknown_roles():
    with pytest.raises(SettingsError) as info:
        parse_columns_option(["east=东经度数"])
    assert info.value.key == "error.columns.unknown_role" and "east=东经度数" in str(info.value)


def test_a_plain_dict_is_a_choice_too():
    assert as_column_choice({"lon": "E", "lat": "N"}) == ColumnChoice({"lon": "E", "lat": "N"})
    assert as_column_choice({"households": {"经度": "E"}}).by_layer == {"households": {"lon": "E"}}


def test_cli_columns_for_two_files_sharing_their_coordinate_headers(tmp_path, capsys):
    hh = write(tmp_path / "住户.csv", UNKNOWN)
    vil = write(
        tmp_path / "村.csv",
        "嘎查名称,东经度数,北纬度数\n温家村,112.9595,41.8470\n希乐图村,113.0470,41.7735\n",
    )
    out = tmp_path / "out"
    code = main(["analyze", "--demo", "--households", str(hh), "--villages", str(vil),
                 "--columns", "lon=东经度数,lat=北纬度数,village=所在嘎查,children=孩子个数",
                 "--columns", "villages:name=嘎查名称", "--no-map", "--out", str(out),
                 "--lang", "en"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    v = pd.read_csv(out / "villages.csv", encoding="utf-8-sig")
    assert sorted(v["village_name"]) == ["希乐图村", "温家村"]
    assert v.set_index("village_name").loc["温家村", "n_children"] == 3


def test_cli_a_shared_header_no_file_has_is_an_error_naming_the_files(tmp_path, capsys):
    hh = write(tmp_path / "住户.csv", UNKNOWN)
    out = tmp_path / "out"
    code = main(["analyze", "--demo", "--households", str(hh), "--columns",
                 "lon=东经度数,lat=北纬度数,village=所在村", "--no-map", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "village=所在村" in err and "住户.csv" in err and "请照抄文件第一行里的列名" in err
    assert not out.exists()


def test_cli_a_layer_pair_the_file_lacks_lists_the_files_columns(tmp_path, capsys):
    hh = write(tmp_path / "住户.csv", UNKNOWN)
    code = main(["analyze", "--demo", "--households", str(hh), "--columns",
                 "households:lon=东经,lat=北纬度数", "--no-map", "--out", str(tmp_path / "o"),
                 "--lang", "en"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "has no column '东经'" in err and "东经度数" in err
    assert "Traceback" not in err


def test_cli_a_malformed_columns_option_is_a_message(tmp_path, capsys):
    code = main(["analyze", "--demo", "--columns", "lon东经", "--no-map", "--out",
                 str(tmp_path / "o"), "--lang", "zh"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "格式不对" in err and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# the app's "which column is ..." step


def test_inspect_an_unknown_table(tmp_path):
    path = write(tmp_path / "住户.csv", UNKNOWN)
    found = inspect_file(path, "households", memory_folder=tmp_path / "mem")
    assert found.headers == ["户编码", "所在嘎查", "东经度数", "北纬度数", "孩子个数", "备注"]
    assert found.rows[0] == ["A1", "温家村", "112.958602", "41.848387", "2", "东头"]
    assert len(found.rows) == 3 and not found.geodata and not found.remembered
    assert found.guess == {"lon": "东经度数", "lat": "北纬度数"}
    assert found.missing == ()
    assert found.roles == ("lon", "lat", "point", "id", "village", "name", "phone", "children")


def test_inspect_a_table_without_degrees_says_the_position_is_missing(tmp_path):
    path = write(tmp_path / "村.csv", "编码,地址\nA1,某村\n")
    found = inspect_file(path, "villages", memory_folder=tmp_path)
    assert found.missing == ("position", "name")
    assert found.guess == {}


def test_inspect_a_survey_export_guesses_what_the_reader_takes(tmp_path):
    found = inspect_file(
        FIXTURES / "survey" / "odk_two_geopoints.csv", "households", memory_folder=tmp_path
    )
    assert found.tool == "odk"
    assert found.guess == {
        "lon": "hh-gps-Longitude",
        "lat": "hh-gps-Latitude",
        "id": "hh-hh_id",
        "village": "hh-village",
        "name": "hh-head",
        "phone": "hh-phone",
        "children": "hh-children",
    }
    assert "KEY" in found.headers  # shown, but never guessed for a role


def test_inspect_services_and_a_geodata_file(tmp_path):
    s = write(tmp_path / "s.csv", "学校,办学类型,lon,lat\n前进幼儿园,幼儿园,112.9,41.8\n")
    found = inspect_file(s, "services", memory_folder=tmp_path)
    assert found.missing == ("kind",) and found.guess == {"lon": "lon", "lat": "lat"}
    gj = write(
        tmp_path / "s.geojson",
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"类型":"小学",'
        '"名称":"红旗小学"},"geometry":{"type":"Point","coordinates":[112.9,41.8]}}]}',
    )
    found = inspect_file(gj, "services", memory_folder=tmp_path)
    assert found.geodata and found.missing == ()
    assert found.guess == {"kind": "类型", "name": "名称"}
    assert "lon" not in found.roles


def test_remember_and_recall_a_mapping_per_header_set(tmp_path):
    path = write(tmp_path / "住户.csv", UNKNOWN)
    mem = tmp_path / "mem"
    first = inspect_file(path, "households", memory_folder=mem)
    assert recall_columns(first.headers, folder=mem) is None
    remember_columns(first.headers, MAPPING, folder=mem)
    assert recall_columns(first.headers, folder=mem) == MAPPING
    # the next export of the same form, other rows: read as remembered
    again = write(tmp_path / "住户2.csv", UNKNOWN.replace("A1", "C9"))
    found = inspect_file(again, "households", memory_folder=mem)
    assert found.remembered and found.guess == MAPPING
    hh = read_households(again, columns=found.guess)
    assert hh.index[0] == "C9"
    # other headers: nothing remembered
    assert recall_columns(["a", "b"], folder=mem) is None
    # the file is JSON the user can read, in their data folder
    data = json.loads((mem / MEMORY_FILE).read_text(encoding="utf-8"))
    assert data[header_key(first.headers)]["roles"]["village"] == "所在嘎查"


def test_a_damaged_memory_is_started_again(tmp_path):
    (tmp_path / MEMORY_FILE).write_text("{not json", encoding="utf-8")
    assert recall_columns(["a"], folder=tmp_path) is None
    remember_columns(["a", "b"], {"lon": "a", "lat": "b"}, folder=tmp_path)
    assert recall_columns(["a", "b"], folder=tmp_path) == {"lon": "a", "lat": "b"}


def test_the_memory_keeps_the_newest_header_sets(tmp_path):
    for i in range(MAX_REMEMBERED + 5):
        remember_columns([f"h{i}", "lat"], {"lon": f"h{i}"}, folder=tmp_path)
    data = json.loads((tmp_path / MEMORY_FILE).read_text(encoding="utf-8"))
    assert len(data) == MAX_REMEMBERED
    assert recall_columns(["h0", "lat"], folder=tmp_path) is None
    assert recall_columns([f"h{MAX_REMEMBERED + 4}", "lat"], folder=tmp_path) is not None


def test_remembering_an_unknown_role_is_refused(tmp_path):
    with pytest.raises(SettingsError):
        remember_columns(["a"], {"east": "a"}, folder=tmp_path)
    assert not (tmp_path / MEMORY_FILE).exists()


def test_role_labels_in_both_languages():
    assert role_label("lon", "zh") == "经度" and role_label("lon", "en") == "longitude"
    assert role_label("point", "zh").startswith("位置")
