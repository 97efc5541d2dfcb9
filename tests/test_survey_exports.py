"""Phone survey exports (KoboToolbox, ODK Central), GPX waypoints and 奥维 files read without
any option, and their bad cases (issue 14, items 1, 5 and 6)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from layers import i18n
from layers.coords import gcj02_to_wgs84
from layers.errors import GapMapperError, InputError, NoDataError
from layers.households import read_households
from layers.schema import notes_of, read_as_of
from layers.services import read_services
from layers.survey import recognise
from layers.tables import MAX_ACCURACY_M, read_table
from layers.villages import read_villages
from tests.conftest import FIXTURES
from tests.fixtures.survey_exports import HOUSEHOLDS, make_all

SURVEY = FIXTURES / "survey"
ALL = sorted(p.name for p in SURVEY.iterdir())
WITH_GPS = [h for h in HOUSEHOLDS if h[5] is not None]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def villages(tmp_path):
    return read_villages(
        write(tmp_path / "村.csv", "村名,经度,纬度\n前进村,112.96,41.85\n红旗村,112.98,41.86\n")
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def refused(exc_type, key: str, call, folder: Path, *parts: str) -> GapMapperError:
    """call() raises exc_type with key, the English text holds parts, both languages are
    filled in, and nothing in folder changed."""
    before = snapshot(folder)
    with pytest.raises(exc_type) as info:
        call()
    err = info.value
    assert err.key == key, str(err)
    for part in parts:
        assert part in str(err), f"{part!r} not in {str(err)!r}"
    assert "{" not in err.message("zh") and "{" not in err.message("en")
    assert snapshot(folder) == before
    return err


def test_the_fixtures_are_what_the_generator_makes(tmp_path):
    made = make_all(tmp_path)
    assert sorted(p.name for p in made) == ALL
    for path in made:
        kept = SURVEY / path.name
        if path.suffix == ".csv":
            assert path.read_bytes() == kept.read_bytes(), path.name
        else:
            a, b = openpyxl.load_workbook(path), openpyxl.load_workbook(kept)
            assert a.sheetnames == b.sheetnames
            for name in a.sheetnames:
                assert list(a[name].values) == list(b[name].values)


@pytest.mark.parametrize("name", ALL)
def test_every_export_shape_reads_as_households_without_options(name, villages):
    hh = read_households(SURVEY / name, villages=villages)
    assert hh.index.tolist() == [h[0] for h in HOUSEHOLDS]
    assert hh["village_name"].tolist() == [h[1] for h in HOUSEHOLDS]
    assert hh["name"].tolist() == [h[2] for h in HOUSEHOLDS]
    assert hh["phone"].fillna("").tolist() == [h[3] for h in HOUSEHOLDS]
    assert hh["children"].tolist() == [h[4] for h in HOUSEHOLDS]
    # positions: the file's numbers (phone GPS is WGS84: no shift), latitude first in the file
    gps = hh[hh["located"] == "gps"]
    assert gps.index.tolist() == [h[0] for h in WITH_GPS]
    assert gps.geometry.x.tolist() == [h[6] for h in WITH_GPS]
    assert gps.geometry.y.tolist() == [h[5] for h in WITH_GPS]
    # the household whose GPS failed is at its village's point
    assert hh.loc["A03", "located"] == "village"
    assert (hh.loc["A03", "geometry"].x, hh.loc["A03", "geometry"].y) == (112.96, 41.85)
    read_as = read_as_of(hh)
    assert (read_as.system, read_as.declared, read_as.reason) == ("wgs84", False, "survey")
    keys = [n.key for n in notes_of(hh)]
    assert keys[0] == "note.tables.survey_export"
    assert "note.households.placed_at_village" in keys
    placed = next(n for n in notes_of(hh) if n.key == "note.households.placed_at_village")
    assert placed.message("zh").startswith(f"{name}：1 户没有坐标，按所在村计算（第 4 行）")


@pytest.mark.parametrize(
    "name, tool, question",
    [
        ("kobo_xml.csv", "KoboToolbox", "gps"),
        ("kobo_labels.csv", "KoboToolbox", "住户位置"),
        ("kobo_labels_groups.csv", "KoboToolbox", "住户信息/住户位置"),
        ("kobo_xml_groups.xlsx", "KoboToolbox", "household/gps"),
        ("kobo_raw_geopoint.csv", "KoboToolbox", "gps"),
        ("odk_central_groups.csv", "ODK Central", "hh-gps"),
    ],
)
def test_the_note_names_the_tool_and_the_question(name, tool, question):
    raw = read_table(SURVEY / name, allow_missing=True)
    note = notes_of(raw)[0]
    assert note.key == "note.tables.survey_export"
    assert note.params["tool"] == tool and note.params["question"] == question
    assert f"“{question}”" in note.message("zh") and f"'{question}'" in note.message("en")


@pytest.mark.parametrize("name", ["kobo_xml.csv", "kobo_xml_groups.xlsx", "odk_central_groups.csv"])
def test_metadata_columns_are_left_out(name):
    raw = read_table(SURVEY / name, allow_missing=True)
    left = {str(c).lower() for c in raw.columns}
    for meta in ("_id", "_uuid", "_submission_time", "_index", "start", "end", "submissiondate",
                 "key", "status", "reviewstate", "meta-instanceid", "__version__"):  # fmt: skip
        assert meta not in left


def test_kobo_id_column_is_not_the_household_id(villages):
    hh = read_households(SURVEY / "kobo_xml.csv", villages=villages)
    assert "101" not in hh.index and hh.index[0] == "A01"


def test_the_repeat_group_sheet_is_named_and_not_read():
    raw = read_table(SURVEY / "kobo_xml_groups.xlsx", allow_missing=True)
    sheet = next(n for n in notes_of(raw) if n.key == "note.tables.sheet_read")
    assert sheet.params["sheet"] == "住户调查2024" and "'child'" in sheet.params["others"]


def test_accuracy_and_altitude_are_read_but_not_positions():
    raw = read_table(SURVEY / "kobo_raw_geopoint.csv", allow_missing=True)
    assert raw.attrs["position"] == {"point": "gps"}
    assert not any(n.is_warning for n in notes_of(raw))  # every accuracy within the limit


def test_of_two_geopoints_the_most_answered_is_used_and_the_note_says_how_to_take_the_other(
    villages,
):
    path = SURVEY / "odk_two_geopoints.csv"
    hh = read_households(path, villages=villages)
    assert hh.loc["A01", "geometry"].y == 41.848387  # the home, not the school (41.8702)
    note = next(n for n in notes_of(hh) if n.key == "note.tables.geopoint_chosen")
    assert note.params["chosen"] == "hh-gps"
    line = "--columns lat=school-school_gps-Latitude,lon=school-school_gps-Longitude"
    assert line in note.message("en") and line in note.message("zh")
    # following the note reads the other question (the rows that did not answer it are
    # placed at their village)
    school = read_households(
        path,
        villages=villages,
        columns={"lat": "school-school_gps-Latitude", "lon": "school-school_gps-Longitude"},
    )
    assert school.loc["A01", "geometry"].y == 41.8702
    assert school["located"].tolist() == ["gps", "village", "village", "gps", "village", "village"]


def test_a_declared_system_still_applies_to_a_survey_export(villages):
    hh = read_households(SURVEY / "kobo_xml.csv", coords="gcj02", villages=villages)
    lon, lat = gcj02_to_wgs84(WITH_GPS[0][6], WITH_GPS[0][5])
    assert (hh.loc["A01", "geometry"].x, hh.loc["A01", "geometry"].y) == (lon, lat)
    assert read_as_of(hh).declared and read_as_of(hh).reason == "user"
    note = notes_of(hh)[0]
    assert note.key == "note.tables.survey_export_declared"
    assert "按所选的 GCJ-02（高德/腾讯）读取" in note.message("zh")
    assert "WGS84" not in note.message("en")


def test_survey_services_from_a_kobo_export(tmp_path):
    text = (
        '"start";"school/name";"school/type";"school/places";"school/loc";'
        '"school/_loc_latitude";"school/_loc_longitude";"school/_loc_altitude";'
        '"school/_loc_precision";"_id";"_uuid";"_submission_time";"_index"\r\n'
        '"2024";"前进幼儿园";"幼儿园";"30";"41.85 112.96 0 5";"41.85";"112.96";"0";"5";"7";"u";"t";"1"\r\n'
    )
    svc = read_services(write(tmp_path / "设施.csv", text))
    assert svc["name"].tolist() == ["前进幼儿园"]
    assert svc["kind"].tolist() == ["kindergarten"] and svc["capacity"].tolist() == [30]
    assert svc.index.tolist() == ["S2"]  # _id is metadata, not the service's id


# --------------------------------------------------------------------------------------------
# recognising the shapes from headers alone


def test_recognise_kobo_odk_and_plain_tables():
    kobo = recognise(["start", "household/_gps_latitude", "household/_gps_longitude", "_uuid"])
    assert kobo.tool == "kobo" and kobo.metadata == ("start", "_uuid")
    assert kobo.geopoints[0].question == "household/gps"
    odk = recognise(["SubmissionDate", "hh-gps-Latitude", "hh-gps-Longitude", "KEY", "Status"])
    assert odk.tool == "odk" and odk.metadata == ("SubmissionDate", "KEY", "Status")
    assert (odk.geopoints[0].lat, odk.geopoints[0].lon) == ("hh-gps-Latitude", "hh-gps-Longitude")
    plain = recognise(["户号", "status", "经度", "纬度"])
    assert plain.tool is None and plain.metadata == ()  # a plain table's status is kept


# --------------------------------------------------------------------------------------------
# GPX waypoints and 奥维 files

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="OsmAnd" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="41.848387" lon="112.958602"><ele>1452</ele><name>A01</name><desc>张家</desc></wpt>
<wpt lat="41.845465" lon="112.959286"><name>A02</name></wpt>
<trk><name>路</name><trkseg><trkpt lat="41.84" lon="112.95"/><trkpt lat="41.85" lon="112.96"/></trkseg></trk>
</gpx>
"""


def test_gpx_waypoints_are_households_named_by_their_id(tmp_path):
    hh = read_households(write(tmp_path / "住户.gpx", GPX))
    assert hh.index.tolist() == ["A01", "A02"]
    assert hh["name"].isna().all()  # the waypoint's name is its id, not a person's name
    assert hh.geometry.x.tolist() == [112.958602, 112.959286]
    assert read_as_of(hh).reason == "gpx" and read_as_of(hh).system == "wgs84"


def test_gpx_waypoints_are_services_with_their_names(tmp_path):
    svc = read_services(write(tmp_path / "幼儿园.gpx", GPX), kind="kindergarten")
    assert svc["name"].tolist() == ["A01", "A02"]
    assert svc.geometry.y.tolist() == [41.848387, 41.845465]


def test_gpx_is_wgs84_whatever_was_declared(tmp_path):
    hh = read_households(write(tmp_path / "住户.gpx", GPX), coords="gcj02")
    assert hh.geometry.x.tolist() == [112.958602, 112.959286]
    note = next(n for n in notes_of(hh) if n.key == "note.tables.gpx_is_wgs84")
    assert "gcj02" in note.message("zh")


def test_gpx_with_only_a_track_says_to_load_it_as_a_road(tmp_path):
    path = write(
        tmp_path / "轨迹.gpx",
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        '<trk><trkseg><trkpt lat="41.84" lon="112.95"/><trkpt lat="41.85" lon="112.96"/>'
        "</trkseg></trk></gpx>",
    )
    err = refused(
        InputError, "error.tables.gpx_no_waypoints", lambda: read_households(path), tmp_path,
        "轨迹.gpx", "--roads",
    )  # fmt: skip
    assert "--roads" in err.message("zh")


OVITAL_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>奥维互动地图</name>
<Placemark><name>前进幼儿园</name><Point><coordinates>112.958602,41.848387,0</coordinates></Point></Placemark>
<Placemark><name>红旗小学</name><Point><coordinates>112.981377,41.861204,0</coordinates></Point></Placemark>
</Document></kml>
"""


@pytest.mark.parametrize("suffix", [".ovkml", ".ovkmz", ".kml", ".kmz"])
def test_ovital_files_are_read_as_gcj02_by_default_with_a_note(tmp_path, suffix):
    if suffix in (".ovkmz", ".kmz"):
        path = tmp_path / f"学校{suffix}"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("doc.kml", OVITAL_KML)
    else:
        path = write(tmp_path / f"学校{suffix}", OVITAL_KML)
    svc = read_services(path, kind="school")
    lon, lat = gcj02_to_wgs84([112.958602, 112.981377], [41.848387, 41.861204])
    assert np.array_equal(svc.geometry.x.to_numpy(), lon)
    assert np.array_equal(svc.geometry.y.to_numpy(), lat)
    assert svc["name"].tolist() == ["前进幼儿园", "红旗小学"]
    note = next(n for n in notes_of(svc) if n.key == "note.tables.ovital_gcj02")
    assert path.name in note.message("zh") and "GCJ-02" in note.message("en")
    assert read_as_of(svc).reason == "ovital" and not read_as_of(svc).declared
    # a declared system wins: the user knows better than the default
    as_wgs = read_services(path, kind="school", coords="wgs84")
    assert as_wgs.geometry.x.tolist() == [112.958602, 112.981377]
    assert not any(n.key == "note.tables.ovital_gcj02" for n in notes_of(as_wgs))


@pytest.mark.parametrize("suffix, content", [(".ovkml", b"OVMAP\x00\x01\x02"), (".ovkmz", b"PK")])
def test_ovital_files_in_ovitals_own_format_are_refused(tmp_path, suffix, content):
    path = tmp_path / f"点{suffix}"
    if suffix == ".ovkmz":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("data.ovobj", content)
    else:
        path.write_bytes(content)
    err = refused(
        InputError, "error.tables.ovital_not_kml", lambda: read_services(path, kind="school"),
        tmp_path, path.name, "KML",
    )  # fmt: skip
    assert "导出为 KML 或 KMZ" in err.message("zh")


# --------------------------------------------------------------------------------------------
# bad cases (issue 14, item 6)

KOBO_HEAD = '"hh_id";"village";"gps";"_id";"_uuid";"_submission_time";"_index"\r\n'


def kobo(tmp_path: Path, *points: str) -> Path:
    rows = "".join(
        f'"H{i}";"前进村";"{p}";"{i}";"u{i}";"t";"{i}"\r\n' for i, p in enumerate(points, start=1)
    )
    return write(tmp_path / "住户.csv", KOBO_HEAD + rows)


def test_a_geopoint_with_one_number_names_the_row_and_the_column(tmp_path):
    path = kobo(tmp_path, "41.848387 112.958602 1452 4.8", "41.845465", "41.86 112.98 0 5")
    err = refused(
        InputError, "error.tables.bad_point", lambda: read_households(path), tmp_path,
        "住户.csv", "'gps'", "3: '41.845465'", "latitude longitude",
    )  # fmt: skip
    assert "“gps”" in err.message("zh") and "纬度 经度" in err.message("zh")


def test_a_geopoint_with_longitude_first_is_refused_with_what_to_do(tmp_path):
    path = kobo(tmp_path, "112.958602 41.848387 1452 4.8", "112.959286 41.845465 0 6")
    err = refused(
        InputError, "error.tables.point_swapped", lambda: read_households(path), tmp_path,
        "住户.csv", "'gps'", "2 row(s)", "latitude first",
    )  # fmt: skip
    assert "纬度在前" in err.message("zh")


def test_split_latitude_and_longitude_swapped_are_refused(tmp_path):
    path = write(tmp_path / "住户.csv", "户号,经度,纬度\nA1,41.848,112.958\nA2,41.845,112.959\n")
    refused(
        InputError, "error.tables.lat_lon_swapped", lambda: read_households(path), tmp_path,
        "住户.csv", "Swap",
    )  # fmt: skip


def test_comma_pairs_with_the_longitude_first_are_read_as_map_pickers_copy_them(tmp_path):
    path = write(
        tmp_path / "住户.csv", '户号,坐标\nA1,"112.958602,41.848387"\nA2,"112.959286,41.845465"\n'
    )
    hh = read_households(path)
    assert hh.geometry.x.tolist() == [112.958602, 112.959286]
    assert hh.geometry.y.tolist() == [41.848387, 41.845465]
    assert any(n.key == "note.tables.point_lon_lat" for n in notes_of(hh))


def test_a_position_5000_m_off_is_warned_about_and_still_used(tmp_path):
    path = kobo(tmp_path, "41.848387 112.958602 1452 4.8", "41.845465 112.959286 0 5000", "")
    hh = read_households(
        path,
        villages=read_villages(write(tmp_path / "v.csv", "村名,lon,lat\n前进村,112.96,41.85\n")),
    )
    warning = next(n for n in notes_of(hh) if n.key == "warning.tables.poor_accuracy")
    assert warning.is_warning
    assert warning.params["rows"] == "3" and warning.params["worst"] == "5,000"
    assert f"{MAX_ACCURACY_M:g} m" in warning.message(
        "en"
    ) and "不是住户的真实位置" in warning.message("zh")
    assert hh.loc["H2", "located"] == "gps"  # kept: a warning, not a refusal


def test_all_rows_without_coordinates_and_no_villages_layer_is_an_error(tmp_path):
    head = '"hh_id";"village";"gps";"_gps_latitude";"_gps_longitude";"_uuid";"_index"\r\n'
    rows = "".join(f'"H{i}";"前进村";"";"";"";"u{i}";"{i}"\r\n' for i in (1, 2, 3))
    path = write(tmp_path / "住户.csv", head + rows)
    err = refused(
        InputError, "error.households.no_coordinates_no_villages", lambda: read_households(path),
        tmp_path, "住户.csv", "None of the 3 households", "villages",
    )  # fmt: skip
    assert "3 户都没有坐标" in err.message("zh")


def test_some_rows_without_coordinates_and_no_villages_names_the_rows(tmp_path):
    path = kobo(tmp_path, "41.848387 112.958602 1452 4.8", "")
    refused(
        InputError, "error.households.missing_no_villages", lambda: read_households(path),
        tmp_path, "住户.csv", "rows 3", "--villages",
    )  # fmt: skip


def test_a_row_with_neither_position_nor_village_names_the_row(tmp_path, villages):
    path = write(
        tmp_path / "住户.csv", "户号,村名,经度,纬度\nA1,前进村,112.95,41.84\nA2,,,\nA3,前进村,,\n"
    )
    refused(
        InputError, "error.households.no_position_no_village",
        lambda: read_households(path, villages=villages), tmp_path, "住户.csv", "rows 3", "'村名'",
    )  # fmt: skip


def test_a_village_the_villages_layer_lacks_names_the_row_and_the_villages(tmp_path, villages):
    path = write(
        tmp_path / "住户.csv", "户号,村名,经度,纬度\nA1,前进村,112.95,41.84\nA2,东风村,,\n"
    )
    refused(
        InputError, "error.households.unknown_village",
        lambda: read_households(path, villages=villages), tmp_path, "3: '东风村'", "前进村, 红旗村",
    )  # fmt: skip


def test_village_names_match_without_their_ending(tmp_path):
    villages = read_villages(
        write(
            tmp_path / "v.csv", "村名,lon,lat\n白音淖嘎查,112.9,41.8\n红旗村民委员会,113.0,41.9\n"
        )
    )
    path = write(tmp_path / "住户.csv", "户号,村名,经度,纬度\nA1,白音淖,,\nA2,红旗村,,\n")
    hh = read_households(path, villages=villages)
    assert hh.geometry.x.tolist() == [112.9, 113.0]


def test_two_villages_of_one_name_cannot_place_a_household(tmp_path):
    villages = read_villages(
        write(tmp_path / "v.csv", "id,村名,lon,lat\nV1,前进村,112.9,41.8\nV2,前进村,113.0,41.9\n")
    )
    path = write(tmp_path / "住户.csv", "户号,村名,经度,纬度\nA1,前进村,,\n")
    refused(
        InputError, "error.households.ambiguous_village",
        lambda: read_households(path, villages=villages), tmp_path, "2: '前进村'",
    )  # fmt: skip


def test_require_coords_keeps_the_strict_behaviour(tmp_path, villages):
    path = write(
        tmp_path / "住户.csv", "户号,村名,经度,纬度\nA1,前进村,112.95,41.84\nA2,前进村,,\n"
    )
    refused(
        InputError, "error.tables.missing_coordinate",
        lambda: read_households(path, villages=villages, require_coords=True), tmp_path,
        "'经度'", "rows 3",
    )  # fmt: skip


def test_a_row_with_only_the_longitude_is_still_an_error(tmp_path, villages):
    path = write(
        tmp_path / "住户.csv", "户号,村名,经度,纬度\nA1,前进村,112.95,41.84\nA2,前进村,112.9,\n"
    )
    refused(
        InputError, "error.tables.missing_coordinate",
        lambda: read_households(path, villages=villages), tmp_path, "'纬度'", "rows 3",
    )  # fmt: skip


def test_villages_and_services_still_need_their_positions(tmp_path):
    path = write(tmp_path / "v.csv", "村名,lon,lat\n前进村,112.9,41.8\n红旗村,,\n")
    refused(
        InputError,
        "error.tables.missing_coordinate",
        lambda: read_villages(path),
        tmp_path,
        "rows 3",
    )


def test_an_empty_survey_export_is_no_data(tmp_path):
    path = write(tmp_path / "住户.csv", KOBO_HEAD)
    refused(NoDataError, "error.tables.header_only", lambda: read_households(path), tmp_path)


def test_new_messages_have_the_same_placeholders_in_both_languages():
    for key in i18n.all_keys():
        if key.startswith(("error.households.", "note.households.", "note.tables.",
                           "warning.tables.", "error.columns.", "error.tables.")):  # fmt: skip
            texts = i18n.texts_for(key)
            assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key
