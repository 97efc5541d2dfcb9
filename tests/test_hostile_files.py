"""Hostile and odd input files through the readers (issue 10): each gets a bilingual message
naming the file as the user called it and where, or is read as the user meant, with a note.

Families: OSM (unreadable or impossible coordinates, absurd capacities, files made in JOSM),
decompression bombs (zipped Shapefile, XLSX, KMZ), "ghost-row" and multi-sheet XLSX, KML
ExtendedData with Chinese names and KMZ, temporary paths in messages. Memory figures are
measured in a child process (``ru_maxrss``), so one test's allocations do not hide another's.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers.errors import FileFormatError, GapMapperError, InputError
from layers.households import read_households
from layers.osm import read_osm
from layers.roads import HIGHWAY_CLASSES
from layers.schema import notes_of
from layers.services import read_services
from layers.tables import read_table
from layers.villages import read_villages
from tests.conftest import ROOT
from tests.fixtures.hostile import (
    GIB,
    lie_about_sizes,
    write_ghost_row_xlsx,
    write_xlsx,
    write_zip_bomb_shapefile,
)

HAN = re.compile(r"[\u4e00-\u9fff]")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def refused(exc_type, key: str, call, folder: Path, *parts: str) -> GapMapperError:
    """``call()`` raises ``exc_type`` with ``key``; both languages name ``parts``; nothing
    in ``folder`` changed."""
    before = snapshot(folder)
    with pytest.raises(exc_type) as info:
        call()
    err = info.value
    assert err.key == key, str(err)
    for lang in ("en", "zh"):
        text = err.message(lang)
        for part in parts:
            assert part in text, f"{part!r} not in {text!r}"
    assert HAN.search(err.message("zh"))
    assert snapshot(folder) == before
    return err


def write_osm(path: Path, body: str, root: str = "<osm version='0.6'>") -> Path:
    path.write_text(f"<?xml version='1.0' encoding='UTF-8'?>\n{root}\n{body}\n</osm>\n")
    return path


ROAD = (
    '<node id="1" lat="41" lon="111"/><node id="2" lat="41.001" lon="111.001"/>'
    '<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="track"/></way>'
)


def segments(extract) -> list[tuple[int, int, int, str]]:
    r = extract.roads
    return sorted(
        (
            int(r.node_id[r.u[i]]),
            int(r.node_id[r.v[i]]),
            int(r.way_id[i]),
            HIGHWAY_CLASSES[r.highway[i]],
        )
        for i in range(r.n_edges)
    )


# --------------------------------------------------------------------------------------------
# OSM: coordinates


@pytest.mark.parametrize(
    ("lat", "lon", "attribute", "value"),
    [("abc", "111.001", "lat", "abc"), ("41", "0x10", "lon", "0x10"), ("", "111", "lat", "")],
)
@pytest.mark.parametrize("compress", [False, True])
def test_osm_node_with_a_coordinate_that_is_not_a_number(
    tmp_path, lat, lon, attribute, value, compress
):
    body = (
        '<node id="1" lat="41" lon="111"/>'
        f'<node id="777" lat="{lat}" lon="{lon}"/>'
        '<way id="10"><nd ref="1"/><nd ref="777"/><tag k="highway" v="track"/></way>'
    )
    path = write_osm(tmp_path / "roads.osm", body)
    if compress:
        path = tmp_path / "roads.osm.gz"
        path.write_bytes(gzip.compress((tmp_path / "roads.osm").read_bytes()))
        (tmp_path / "roads.osm").unlink()
    err = refused(
        FileFormatError,
        "error.osm.bad_coordinate",
        lambda: read_osm(path),
        tmp_path,
        path.name,
        "777",
        f'{attribute}="{value}"',
    )
    assert "JOSM" in err.message("en") and "id:777" in err.message("zh")


@pytest.mark.parametrize(
    ("node", "where"),
    [
        ('<node id="5" lat="95" lon="111.001"/>', "road"),
        ('<node id="5" lat="41" lon="-200"/>', "road"),
        ('<node id="5" lat="-90.5" lon="111"><tag k="amenity" v="school"/></node>', "service"),
        (
            '<node id="5" lat="91" lon="111"><tag k="place" v="village"/><tag k="name" v="甲"/></node>',
            "village",
        ),
    ],
)
def test_osm_node_outside_the_world_is_named(tmp_path, node, where):
    road = '<way id="11"><nd ref="1"/><nd ref="5"/><tag k="highway" v="track"/></way>'
    body = ROAD + node + (road if where == "road" else "")
    path = write_osm(tmp_path / "roads.osm", body)
    err = refused(
        FileFormatError,
        "error.osm.coordinate_out_of_range",
        lambda: read_osm(path, layer_label="我的路网.osm"),
        tmp_path,
        "我的路网.osm",
        "id:5",
    )
    assert err.params["count"] == 1 and err.params["node"] == 5
    assert "roads.osm" not in err.message("en")


def test_osm_out_of_range_message_counts_every_bad_node(tmp_path):
    body = (
        '<node id="1" lat="41" lon="111"/><node id="2" lat="95" lon="111"/>'
        '<node id="3" lat="41" lon="181"/><node id="4" lat="41.1" lon="111.1"/>'
        '<way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="2"/>'
        '<tag k="highway" v="track"/></way>'
    )
    path = write_osm(tmp_path / "r.osm", body)
    with pytest.raises(FileFormatError) as info:
        read_osm(path)
    assert info.value.params["count"] == 2
    assert info.value.params["node"] == 2
    assert info.value.params["lat"] == "95" and info.value.params["lon"] == "111"


# --------------------------------------------------------------------------------------------
# OSM: capacities


@pytest.mark.parametrize(
    "value",
    ["99999999999999999999", "50001", "1e9", "-5", "12.5", "about 100", "100;200", "9" * 250],
    ids=[
        "20 digits",
        "above limit",
        "exponent",
        "negative",
        "fraction",
        "text",
        "list",
        "250 digits",
    ],
)
def test_osm_absurd_capacity_is_unknown_with_a_warning(tmp_path, value):
    body = ROAD + (
        f'<node id="3" lat="41.0005" lon="111.0005"><tag k="amenity" v="kindergarten"/>'
        f'<tag k="capacity" v="{value}"/></node>'
        '<node id="4" lat="41.0006" lon="111.0006"><tag k="amenity" v="school"/>'
        '<tag k="capacity" v="120"/></node>'
    )
    path = write_osm(tmp_path / "svc.osm", body)
    extract = read_osm(path)
    caps = extract.services["capacity"]
    assert caps.loc["osm-n3"] is pd.NA and caps.loc["osm-n4"] == 120
    assert str(caps.dtype) == "Int64"
    (note,) = extract.notes
    assert notes_of(extract.services) == (note,)
    assert note.key == "warning.osm.bad_capacity" and note.is_warning
    assert note.params["count"] == 1
    for lang in ("en", "zh"):
        text = note.message(lang)
        assert "svc.osm" in text and "osm-n3" in text and "50000" in text
        assert len(text) < 600  # a 250-digit value is shortened
    assert "unknown" in note.message("en") and "未知" in note.message("zh")


def test_osm_usable_capacities_give_no_note(tmp_path):
    body = ROAD + (
        '<node id="3" lat="41.0005" lon="111.0005"><tag k="amenity" v="kindergarten"/>'
        '<tag k="capacity" v="50000"/></node>'
        '<node id="4" lat="41.0006" lon="111.0006"><tag k="amenity" v="school"/>'
        '<tag k="capacity" v=" 0 "/></node>'
        '<node id="5" lat="41.0007" lon="111.0007"><tag k="amenity" v="school"/></node>'
    )
    extract = read_osm(write_osm(tmp_path / "svc.osm", body))
    assert extract.services["capacity"].tolist() == [50000, 0, pd.NA]
    assert extract.notes == () and notes_of(extract.services) == ()


# --------------------------------------------------------------------------------------------
# OSM: files saved by JOSM (negative ids for new objects, no version/timestamp, action=...)

JOSM_NODES = """
  <node id='-101' action='modify' visible='true' lat='41.0' lon='111.0' />
  <node id='-102' action='modify' visible='true' lat='41.001' lon='111.001' />
  <node id='-103' action='modify' visible='true' lat='41.002' lon='111.001' />
  <node id='-104' action='modify' visible='true' lat='41.0015' lon='111.0' >
    <tag k='amenity' v='school' />
    <tag k='name' v='新小学' />
  </node>
  <node id='-111' action='modify' visible='true' lat='41.0' lon='111.002' />
  <node id='-112' action='modify' visible='true' lat='41.0' lon='111.003' />
  <node id='-113' action='modify' visible='true' lat='41.001' lon='111.003' />
  <node id='5' timestamp='2020-01-01T00:00:00Z' uid='1' user='u' visible='true' version='3'
        changeset='9' lat='41.003' lon='111.002' />"""
JOSM_WAYS = """
  <way id='-201' action='modify' visible='true'>
    <nd ref='-101' /><nd ref='-102' /><nd ref='-103' />
    <tag k='highway' v='track' />
  </way>
  <way id='-202' action='modify' visible='true'>
    <nd ref='-111' /><nd ref='-112' /><nd ref='-113' /><nd ref='-111' />
    <tag k='amenity' v='kindergarten' />
    <tag k='name' v='新幼儿园' />
  </way>
  <way id='7' action='modify' timestamp='2020-01-01T00:00:00Z' version='2' visible='true'>
    <nd ref='-103' /><nd ref='5' />
    <tag k='highway' v='residential' />
  </way>"""


@pytest.mark.parametrize("order", ["josm", "reversed"])
def test_josm_file_with_negative_ids_is_read_as_osm(tmp_path, order):
    ways = JOSM_WAYS.split("</way>")[:-1]
    if order == "reversed":  # positive ids first: not in id order for libosmium
        ways = ways[::-1]
    ways = "</way>".join(ways) + "</way>"
    path = write_osm(
        tmp_path / "drawn.osm",
        JOSM_NODES + ways,
        root="<osm version='0.6' upload='false' generator='JOSM'>",
    )
    extract = read_osm(path)
    # pencil: way -201 has two segments, way 7 one; ids are the file's own
    assert segments(extract) == [
        (-103, 5, 7, "residential"),
        (-102, -103, -201, "track"),
        (-101, -102, -201, "track"),
    ]
    r = extract.roads
    assert sorted(zip(r.node_id.tolist(), r.lon.tolist(), r.lat.tolist(), strict=True)) == [
        (-103, 111.001, 41.002),
        (-102, 111.001, 41.001),
        (-101, 111.0, 41.0),
        (5, 111.002, 41.003),
    ]
    svc = extract.services
    assert svc.index.tolist() == ["osm-n-104", "osm-w-202"]
    assert svc["name"].tolist() == ["新小学", "新幼儿园"]
    assert svc["kind"].tolist() == ["school", "kindergarten"]
    area_point = svc.geometry.loc["osm-w-202"]
    assert 111.002 < area_point.x < 111.003 and 41.0 < area_point.y < 41.001
    assert list(tmp_path.iterdir()) == [path]  # the renumbered copy was not left beside it


def test_negative_ids_without_an_editor_header_are_read(tmp_path):
    body = (
        '<node id="-1" lat="41" lon="111"/><node id="-2" lat="41.001" lon="111.001"/>'
        '<way id="-3"><nd ref="-1"/><nd ref="-2"/><tag k="highway" v="track"/></way>'
    )
    extract = read_osm(write_osm(tmp_path / "n.osm", body))
    assert segments(extract) == [(-1, -2, -3, "track")]


def test_files_not_sorted_by_id_are_read(tmp_path):
    body = (
        '<node id="2" lat="41.001" lon="111.001"/><node id="1" lat="41" lon="111"/>'
        '<node id="3" lat="41.002" lon="111.0"/><node id="4" lat="41.002" lon="111.001"/>'
        '<node id="6" lat="41.003" lon="111.001"/>'
        '<way id="20"><nd ref="1"/><nd ref="2"/><tag k="highway" v="track"/></way>'
        '<way id="10"><nd ref="3"/><nd ref="4"/><nd ref="6"/><nd ref="3"/>'
        '<tag k="amenity" v="kindergarten"/></way>'
    )
    extract = read_osm(write_osm(tmp_path / "unsorted.osm", body))
    assert segments(extract) == [(1, 2, 20, "track")]
    assert extract.services.index.tolist() == ["osm-w10"]


def test_osm_messages_name_the_file_as_the_user_called_it(tmp_path):
    path = tmp_path / "tmpab12cd.osm"
    path.write_bytes(b"<osm version='0.6'><node id='1'")
    with pytest.raises(FileFormatError) as info:
        read_osm(path, layer_label="路网.osm")
    for lang in ("en", "zh"):
        assert "路网.osm" in info.value.message(lang)
        assert "tmpab12cd" not in info.value.message(lang)
        assert str(tmp_path) not in info.value.message(lang)


# --------------------------------------------------------------------------------------------
# Memory and time of a read, measured in a child process


def measure(reader: str, path: Path, **kwargs: object) -> dict:
    """Run ``layers.<reader>(path, **kwargs)`` in a fresh interpreter: peak RSS (MB, from
    ``ru_maxrss``), seconds, and the error key or the number of rows."""
    code = f"""
import json, resource, sys, time
from layers.errors import GapMapperError
from {reader.rsplit(".", 1)[0]} import {reader.rsplit(".", 1)[1]} as read
start = time.perf_counter()
try:
    out = {{"rows": len(read({str(path)!r}, **{kwargs!r}))}}
except GapMapperError as err:
    out = {{"key": err.key}}
out["seconds"] = time.perf_counter() - start
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Decompression bombs

KML_EXTENDED = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark id=""><name>张三家</name>
  <ExtendedData><Data name="户号"><value>A1</value></Data><Data name="儿童数"><value>2</value></Data>
  </ExtendedData><Point><coordinates>111.652,40.821</coordinates></Point></Placemark>
<Placemark><name>李四家</name>
  <ExtendedData><Data name="户号"><value>A2</value></Data><Data name="儿童数"><value>0</value></Data>
  </ExtendedData><Point><coordinates>111.7031,40.7902</coordinates></Point></Placemark>
</Document></kml>
"""


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """A 1 MB zipped Shapefile whose .dbf unzips to 1 GiB."""
    path = tmp_path_factory.mktemp("bomb") / "村民.zip"
    write_zip_bomb_shapefile(path, GIB)
    assert path.stat().st_size < 2 * 1024**2
    return path


def test_a_zip_bomb_is_refused_from_its_directory_with_the_largest_that_fits(zip_bomb):
    err = refused(
        InputError,
        "error.tables.zip_too_large",
        lambda: read_table(zip_bomb, layer_label="households.zip"),
        zip_bomb.parent,
        "households.zip",
        "1024 MB",
        "200 MB",
        "h.dbf",
    )
    assert err.params["limit_mb"] == "200"


def test_a_zip_bomb_stays_far_under_a_gigabyte(zip_bomb):
    got = measure("layers.households.read_households", zip_bomb)
    assert got["key"] == "error.tables.zip_too_large"
    assert got["peak_mb"] < 1024, got


def test_a_member_compressed_beyond_any_real_data_is_refused(tmp_path):
    path = write_zip_bomb_shapefile(tmp_path / "h.zip", 100 * 1024**2)  # 100 MiB in ~100 KB
    err = refused(
        InputError, "error.tables.zip_ratio", lambda: read_table(path), tmp_path, "h.zip", "h.dbf"
    )
    assert int(err.params["ratio"]) > 200 and err.params["limit"] == 200


def test_a_zip_listing_too_many_members_is_refused(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(10_001):
            archive.writestr(f"m{i}.txt", b"")
    err = refused(
        InputError, "error.tables.zip_too_many_members", lambda: read_table(path), tmp_path,
        "many.zip", "10001", "10000",
    )  # fmt: skip
    assert err.params["count"] == 10_001


@pytest.mark.parametrize(("name", "make"), [("h.xlsx", "xlsx"), ("h.kmz", "kmz")])
def test_xlsx_and_kmz_are_zips_with_the_same_limit(tmp_path, monkeypatch, name, make):
    import layers.tables as tables

    path = tmp_path / name
    if make == "xlsx":
        write_xlsx(path, {"Sheet": [["lon", "lat"], [111.5, 40.8]]})
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("doc.kml", KML_EXTENDED)
    assert len(read_table(path)) >= 1
    monkeypatch.setattr(tables, "MAX_UNZIPPED_BYTES", 100)
    refused(InputError, "error.tables.zip_too_large", lambda: read_table(path), tmp_path, name)


def gbk_shapefile(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "parts"
    folder.mkdir()
    n = len(names)
    gdf = gpd.GeoDataFrame(
        {"name": names},
        geometry=[shapely.Point(111.6 + i * 1e-4, 40.8) for i in range(n)],
        crs=4326,
    )
    gdf.to_file(folder / "h.shp", encoding="GBK")
    path = tmp_path / "h.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for part in folder.iterdir():
            if part.suffix != ".cpg":
                archive.write(part, part.name)
    return path


def test_the_dbf_encoding_is_guessed_from_a_stream_past_its_first_chunk(tmp_path, monkeypatch):
    import layers.tables as tables

    # ASCII records first; the GBK record only after many chunks of the stream
    names = [f"h{i}" for i in range(200)] + ["王五"]
    path = gbk_shapefile(tmp_path, names)
    monkeypatch.setattr(tables, "_CHUNK_BYTES", 7)
    assert read_table(path)["name"].tolist() == names


def test_a_utf8_character_split_between_chunks_is_still_utf8(monkeypatch):
    import io

    import layers.tables as tables

    header = bytearray(32)
    header[8:10] = (32).to_bytes(2, "little")
    records = " 张三李四".encode()  # 3-byte characters across 2-byte chunks
    monkeypatch.setattr(tables, "_CHUNK_BYTES", 2)
    assert tables._stream_encoding(io.BytesIO(bytes(header) + records)) is None
    gbk = " 张三李四".encode("gbk")
    assert tables._stream_encoding(io.BytesIO(bytes(header) + gbk)) == "GB18030"


# --------------------------------------------------------------------------------------------
# XLSX: ghost rows, limits, several sheets

TABLE = [["户号", "经度", "纬度"], ["A1", 111.652, 40.821], ["A2", 111.7031, 40.7902]]


@pytest.mark.parametrize("every_row", [True, False], ids=["formatted rows", "one last cell"])
def test_a_ghost_row_workbook_is_read_to_its_last_row_quickly(tmp_path, every_row):
    path = write_ghost_row_xlsx(tmp_path / "ghost.xlsx", TABLE, every_row=every_row)
    gdf = read_table(path)
    assert gdf["户号"].tolist() == ["A1", "A2"] and gdf["source_row"].tolist() == [2, 3]
    got = measure("layers.tables.read_table", path)
    assert got["rows"] == 2
    assert got["peak_mb"] < 1024, got


def test_rows_after_a_gap_of_empty_rows_are_read(tmp_path):
    import openpyxl

    path = write_xlsx(tmp_path / "gap.xlsx", {"Sheet": TABLE})
    workbook = openpyxl.load_workbook(path)
    workbook.active.cell(row=5000, column=1, value="A3")
    workbook.active.cell(row=5000, column=2, value=111.6)
    workbook.active.cell(row=5000, column=3, value=40.8)
    workbook.save(path)
    assert read_table(path)["source_row"].tolist() == [2, 3, 5000]


@pytest.mark.parametrize("ext", [".csv", ".xlsx"])
def test_too_many_rows_or_cells_say_the_largest_that_fits(tmp_path, monkeypatch, ext):
    import layers.tables as tables

    rows = [["lon", "lat", "name"]] + [[111.5, 40.8, f"n{i}"] for i in range(6)]
    path = tmp_path / f"big{ext}"
    if ext == ".csv":
        path.write_text("\n".join(",".join(map(str, r)) for r in rows), encoding="utf-8")
    else:
        write_xlsx(path, {"Sheet": rows})
    assert len(read_table(path)) == 6
    monkeypatch.setattr(tables, "MAX_TABLE_ROWS", 5)
    refused(InputError, "error.tables.too_many_rows", lambda: read_table(path), tmp_path,
            path.name, "5", "7")  # fmt: skip
    monkeypatch.setattr(tables, "MAX_TABLE_ROWS", 100)
    monkeypatch.setattr(tables, "MAX_TABLE_CELLS", 10)
    refused(InputError, "error.tables.too_many_table_cells", lambda: read_table(path),
            tmp_path, path.name, "10", "4")  # fmt: skip


EXAMPLE = [["填写说明", "示例"], ["户号", "A1"], ["经纬度", "111.5, 40.8"]]
REAL = [["户号", "经度", "纬度", "儿童数"]] + [
    [f"B{i}", 111.6 + i / 1000, 40.8 + i / 1000, i % 3] for i in range(30)
]


def test_the_sheet_with_lon_lat_headers_is_read_and_the_note_says_so(tmp_path):
    path = write_xlsx(tmp_path / "村民.xlsx", {"示例": EXAMPLE, "数据": REAL, "备注": [["x"]]})
    hh = read_households(path, layer_label="households.xlsx")
    assert hh.index.tolist() == [f"B{i}" for i in range(30)]
    assert hh["children"].tolist() == [i % 3 for i in range(30)]
    (note,) = notes_of(hh)
    assert note.key == "note.tables.sheet_read" and not note.is_warning
    assert note.params == {"file": "households.xlsx", "sheet": "数据", "others": "'示例', '备注'"}
    assert "'数据'" in note.message("en") and "“数据”" in note.message("zh")
    assert "'示例', '备注'" in note.message("en") and "'示例', '备注'" in note.message("zh")
    # the same note reaches every layer reader
    villages = [["村名", "经度", "纬度"], ["甲村", 111.6, 40.8]]
    write_xlsx(tmp_path / "v.xlsx", {"说明": EXAMPLE, "村": villages})
    assert [n.params["sheet"] for n in notes_of(read_villages(tmp_path / "v.xlsx"))] == ["村"]
    services = [["名称", "类型", "经度", "纬度"], ["一幼", "幼儿园", 111.6, 40.8]]
    write_xlsx(tmp_path / "s.xlsx", {"说明": EXAMPLE, "设施": services})
    assert [n.params["sheet"] for n in notes_of(read_services(tmp_path / "s.xlsx"))] == ["设施"]


def test_several_matching_sheets_read_the_first_and_warn(tmp_path):
    path = write_xlsx(tmp_path / "h.xlsx", {"一村": REAL[:3], "二村": REAL[:1] + REAL[5:9]})
    gdf = read_table(path)
    assert len(gdf) == 2
    keys = [(n.key, n.params["sheet"], n.params["others"]) for n in notes_of(gdf)]
    assert keys == [
        ("note.tables.sheet_read", "一村", "'二村'"),
        ("warning.tables.other_sheets_match", "一村", "'二村'"),
    ]
    assert notes_of(gdf)[1].is_warning


def test_a_workbook_of_one_sheet_has_no_note(tmp_path):
    assert notes_of(read_table(write_xlsx(tmp_path / "h.xlsx", {"Sheet": TABLE}))) == ()


def test_no_sheet_with_lon_lat_reports_the_first_sheet(tmp_path):
    path = write_xlsx(tmp_path / "h.xlsx", {"示例": EXAMPLE, "其他": [["a", "b"], [1, 2]]})
    refused(InputError, "error.tables.no_lon_lat", lambda: read_table(path), tmp_path,
            "h.xlsx", "填写说明")  # fmt: skip


# --------------------------------------------------------------------------------------------
# KML / KMZ: ExtendedData under its own names, the placemark id last


@pytest.mark.parametrize("ext", [".kml", ".kmz"])
def test_kml_extended_data_with_chinese_names_gives_ids_and_children(tmp_path, ext):
    path = tmp_path / f"调查{ext}"
    if ext == ".kml":
        path.write_text(KML_EXTENDED, encoding="utf-8")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("doc.kml", KML_EXTENDED)
    raw = read_table(path)
    assert raw["户号"].tolist() == ["A1", "A2"] and raw["儿童数"].tolist() == ["2", "0"]
    hh = read_households(path)
    assert hh.index.tolist() == ["A1", "A2"]  # not H1, H2 from the placemarks' empty id
    assert hh["children"].tolist() == [2, 0]
    assert hh["name"].tolist() == ["张三家", "李四家"]


def test_kml_fields_only_on_later_placemarks_are_read(tmp_path):
    kml = KML_EXTENDED.replace('<Data name="儿童数"><value>2</value></Data>', "")
    path = tmp_path / "h.kml"
    path.write_text(kml, encoding="utf-8")
    assert read_households(path)["children"].tolist() == [pd.NA, 0]


def test_the_placemark_id_is_the_household_id_only_without_an_id_column(tmp_path):
    kml = KML_EXTENDED.replace('<Placemark id="">', '<Placemark id="p7">').replace(
        "<Placemark>", '<Placemark id="p8">'
    )
    path = tmp_path / "h.kml"
    path.write_text(kml, encoding="utf-8")
    assert read_households(path).index.tolist() == ["A1", "A2"]
    path.write_text(re.sub(r'<Data name="户号"><value>A\d</value></Data>', "", kml), "utf-8")
    assert read_households(path).index.tolist() == ["p7", "p8"]


LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE kml [\n<!ENTITY a "aaaaaaaaaa">\n'
    + "".join(
        f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + ']>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&a9;</name>'
    "<Point><coordinates>111,40</coordinates></Point></Placemark></Document></kml>\n"
)
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&x;</name>'
    "<Point><coordinates>111,40</coordinates></Point></Placemark></Document></kml>\n"
)


@pytest.mark.parametrize("text", [LAUGHS, XXE], ids=["entity expansion", "external entity"])
def test_kml_with_a_dtd_is_refused(tmp_path, text):
    path = tmp_path / "h.kml"
    path.write_text(text, encoding="utf-8")
    err = refused(
        FileFormatError, "error.tables.not_readable", lambda: read_table(path), tmp_path, "h.kml"
    )
    assert "root:" not in err.message("en")


# --------------------------------------------------------------------------------------------
# Messages name the file as the user called it, never a server path


def test_library_messages_lose_every_spelling_of_the_temporary_path(tmp_path):
    from layers.tables import library_detail

    upload = tmp_path / "gapmapper-k3j4" / "tmp9x.zip"
    texts = [
        f"Unable to open /vsizip/{upload}/sub/h.shx",
        f"Unable to open /vsizip//{str(upload).lstrip('/')}/sub/h.dbf",
        f"[Errno 13] Permission denied: '{upload}'",
        f"{upload.parent}/h.cpg: not found",
    ]
    for text in texts:
        got = library_detail(OSError(text), upload, "村民.zip")
        assert "gapmapper" not in got and "/vsi" not in got and str(tmp_path) not in got, got
        assert "tmp9x" not in got
    assert (
        library_detail(OSError(texts[0]), upload, "村民.zip") == "Unable to open 村民.zip/sub/h.shx"
    )


def damaged_shapefiles() -> list[tuple[str, dict[str, bytes]]]:
    folder = Path(tempfile.mkdtemp(prefix="gm-shp-"))
    gpd.GeoDataFrame(
        {"name": ["a", "b"]}, geometry=[shapely.Point(111, 40), shapely.Point(112, 41)], crs=4326
    ).to_file(folder / "h.shp")
    parts = {ext: (folder / f"h{ext}").read_bytes() for ext in (".shp", ".shx", ".dbf", ".prj")}
    cases = [
        ("shx truncated", {**parts, ".shx": parts[".shx"][:60]}),
        ("shp header only", {**parts, ".shp": parts[".shp"][:100]}),
        ("prj garbage", {**parts, ".prj": b'GEOGCS["x",DATUM['}),
        ("shp not a shapefile", {**parts, ".shp": b"hello" * 30}),
        ("all empty", dict.fromkeys(parts, b"")),
    ]
    return cases


@pytest.mark.parametrize(
    ("case", "parts"), damaged_shapefiles(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_damaged_uploads_are_named_as_the_user_called_them(tmp_path, case, parts):
    folder = tmp_path / "gapmapper-q1w2e3"
    folder.mkdir()
    path = folder / "tmpupload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for ext, data in parts.items():
            archive.writestr(f"数据/h{ext}", data)
    with pytest.raises(GapMapperError) as info:
        read_households(path, layer_label="村民.zip")
    for lang in ("en", "zh"):
        text = info.value.message(lang)
        assert "村民.zip" in text
        for leak in ("gapmapper-q1w2e3", "tmpupload", "/vsi", str(tmp_path)):
            assert leak not in text, (case, text)


# --------------------------------------------------------------------------------------------
# Settings: finite and positive numbers, known road classes


@pytest.mark.parametrize(
    "text", ["1e309km", "inf", "-inf", "nan", "NaN m", "0", "0km", "-5km", "1e400", "infm", "abc"]
)
def test_distances_must_be_finite_and_positive(text):
    from layers.errors import SettingsError
    from mapping.settings import parse_distance_m

    err = refused(
        SettingsError, "error.settings.threshold", lambda: parse_distance_m(text, "kindergarten"),
        ROOT / "layers", text, "kindergarten",
    )  # fmt: skip
    assert "5km" in err.message("en") and "5km" in err.message("zh")


@pytest.mark.parametrize(
    ("text", "metres"),
    [("10km", 10_000.0), ("500m", 500.0), ("2.5 公里", 2_500.0), ("800", 800.0), ("1e3m", 1_000.0)],
)
def test_distances_in_km_and_m(text, metres):
    from mapping.settings import parse_distance_m

    assert parse_distance_m(text) == metres


@pytest.mark.parametrize(
    ("changes", "key", "named"),
    [
        ({"walk_speed_kmh": float("inf")}, "error.settings.speed", "walk"),
        ({"walk_speed_kmh": float("nan")}, "error.settings.speed", "walk"),
        ({"walk_speed_kmh": 0.0}, "error.settings.speed", "walk"),
        ({"walk_speed_kmh": -4.5}, "error.settings.speed", "walk"),
        ({"walk_speed_kmh": "4.5"}, "error.settings.speed", "walk"),
        ({"speeds_kmh": {"track": float("inf")}}, "error.settings.speed", "track"),
        ({"speeds_kmh": {"track": 1e309}}, "error.settings.speed", "track"),
        ({"speeds_kmh": {"track": -1.0}}, "error.settings.speed", "track"),
        ({"thresholds_m": {"school": float("inf")}}, "error.settings.threshold", "school"),
        ({"thresholds_m": {"school": float("nan")}}, "error.settings.threshold", "school"),
        ({"thresholds_m": {"school": 0}}, "error.settings.threshold", "school"),
    ],
)
def test_every_number_setting_must_be_finite_and_positive(changes, key, named):
    from layers.errors import SettingsError
    from mapping.settings import AnalysisSettings

    refused(SettingsError, key, lambda: AnalysisSettings(**changes), ROOT / "layers", named)


def test_an_unknown_road_class_in_the_speeds_lists_the_valid_ones():
    from layers.errors import SettingsError
    from mapping.settings import AnalysisSettings

    err = refused(
        SettingsError, "error.settings.speed_class",
        lambda: AnalysisSettings(mode="motorbike", speeds_kmh={"track": 25.0, "trak": 15.0}),
        ROOT / "layers", "trak", "track", "residential", "unclassified",
    )  # fmt: skip
    assert err.params["choices"] == ", ".join(HIGHWAY_CLASSES)
    assert AnalysisSettings(speeds_kmh={"track": 15}).class_speeds_kmh()["track"] == 15


# --------------------------------------------------------------------------------------------
# Characters a reader cannot keep: refused, never cut short in silence


def test_a_nul_in_geojson_text_is_refused_not_cut_short(tmp_path):
    feature = {
        "type": "Feature",
        "properties": {"name": "甲村\u0000乙", "note": "a\\u0000 is text here"},
        "geometry": {"type": "Point", "coordinates": [111.5, 40.8]},
    }
    path = tmp_path / "v.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    refused(InputError, "error.tables.nul_character", lambda: read_villages(path), tmp_path,
            "v.geojson", "\\u0000")  # fmt: skip
    feature["properties"]["name"] = "甲村"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    villages = read_villages(path)  # an escaped backslash before "u0000" is no NUL
    assert villages["village_name"].tolist() == ["甲村"]


def test_a_nul_in_a_csv_is_refused(tmp_path):
    path = tmp_path / "v.csv"
    path.write_bytes("name,lon,lat\n甲\x00村,111.5,40.8\n".encode())
    refused(FileFormatError, "error.tables.not_readable", lambda: read_villages(path), tmp_path,
            "v.csv")  # fmt: skip


def test_a_one_megabyte_cell_in_a_csv_is_read(tmp_path):
    name = "{{7*7}}</script>\u202e" * 60_000
    path = tmp_path / "v.csv"
    path.write_text(f"name,lon,lat\n{name},111.5,40.8\n", encoding="utf-8")
    assert read_villages(path)["village_name"].tolist() == [name]


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "utf-8"])
def test_rare_chinese_characters_escaped_in_geojson_are_read_exactly(tmp_path, ensure_ascii):
    # U+2D800 (CJK Extension F) and U+2DEF1: GDAL turns their \\ud8xx\\udcxx escapes into U+FFFD
    names = ["\U0002d800村", "甲\U0002def1", "𠀀😀"]
    features = [
        {
            "type": "Feature",
            "properties": {"name": name},
            "geometry": {"type": "Point", "coordinates": [111.5 + i / 100, 40.8]},
        }
        for i, name in enumerate(names)
    ]
    path = tmp_path / "v.geojson"
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=ensure_ascii), encoding="utf-8")
    before = snapshot(tmp_path)
    assert read_villages(path)["village_name"].tolist() == names
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("cpg", [False, True], ids=["encoding guessed", "cpg given"])
def test_a_zip_that_lies_about_its_sizes_is_read_only_as_far_as_it_declares(tmp_path, cpg):
    path = write_zip_bomb_shapefile(tmp_path / "h.zip", 300 * 1024**2)
    lie_about_sizes(path, "h.dbf", 1000)
    if cpg:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("h.cpg", "GBK")
    got = measure("layers.tables.read_table", path)
    assert got["peak_mb"] < 1024, got
    if cpg:  # GDAL stops at the declared 1000 bytes: the one record is there
        assert got == {**got, "rows": 1}
    else:  # zipfile stops there too, and the CRC of what it read does not match
        assert got["key"] == "error.tables.not_readable"


def test_a_workbook_whose_dimension_is_too_small_is_read_whole(tmp_path):
    path = write_xlsx(tmp_path / "h.xlsx", {"Sheet": TABLE})
    with zipfile.ZipFile(path) as src:
        parts = {info.filename: src.read(info.filename) for info in src.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    assert b'<dimension ref="A1:C3"' in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b'ref="A1:C3"', b'ref="A1"')
    with zipfile.ZipFile(path, "w") as dst:
        for name, data in parts.items():
            dst.writestr(name, data)
    gdf = read_table(path)
    assert gdf["户号"].tolist() == ["A1", "A2"]
    assert gdf.geometry.x.tolist() == [111.652, 111.7031]


def test_a_formatted_last_column_does_not_widen_every_row(tmp_path):
    import openpyxl
    from openpyxl.styles import Font

    path = write_xlsx(tmp_path / "h.xlsx", {"Sheet": TABLE})
    workbook = openpyxl.load_workbook(path)
    for row in range(1, 2000):
        workbook.active.cell(row=row, column=16_384).font = Font(bold=True)
    workbook.save(path)
    gdf = read_table(path)
    assert gdf["户号"].tolist() == ["A1", "A2"]
    assert [c for c in gdf.columns if c.startswith("column_")] == []


# --------------------------------------------------------------------------------------------
# Field data (issue 14): GPX, 奥维 files and survey exports under the same limits


GPX_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE gpx [\n<!ENTITY a "aaaaaaaaaa">\n'
    + "".join(
        f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + ']>\n<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
    '<wpt lat="40.8" lon="111.5"><name>&a9;</name></wpt></gpx>\n'
)
GPX_XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    '<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
    '<wpt lat="40.8" lon="111.5"><name>&x;</name></wpt></gpx>\n'
)


def test_gpx_entity_expansion_is_refused(tmp_path):
    path = tmp_path / "点.gpx"
    path.write_text(GPX_LAUGHS, encoding="utf-8")
    refused(
        FileFormatError, "error.tables.not_readable", lambda: read_households(path), tmp_path,
        "点.gpx",
    )  # fmt: skip


def test_gpx_external_entities_are_not_loaded(tmp_path):
    path = tmp_path / "点.gpx"
    path.write_text(GPX_XXE, encoding="utf-8")
    try:
        hh = read_households(path)
    except GapMapperError as err:
        assert "root:" not in err.message("en")
    else:
        assert "root:" not in " ".join(map(str, hh.astype(str).to_numpy().ravel()))


@pytest.mark.parametrize("text", [LAUGHS, XXE], ids=["entity expansion", "external entity"])
def test_ovital_kml_with_a_dtd_is_refused(tmp_path, text):
    path = tmp_path / "奥维.ovkml"
    path.write_text(text, encoding="utf-8")
    err = refused(
        FileFormatError, "error.tables.not_readable", lambda: read_table(path), tmp_path,
        "奥维.ovkml",
    )  # fmt: skip
    assert "root:" not in err.message("en")
    assert "ovital.kml" not in err.message("en")  # the temporary copy is never named


def test_ovkmz_is_a_zip_with_the_same_limit(tmp_path, monkeypatch):
    import layers.tables as tables

    path = tmp_path / "奥维.ovkmz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("doc.kml", KML_EXTENDED)
    assert len(read_table(path)) == 2
    monkeypatch.setattr(tables, "MAX_UNZIPPED_BYTES", 100)
    refused(
        InputError, "error.tables.zip_too_large", lambda: read_table(path), tmp_path, "奥维.ovkmz"
    )


def test_a_one_megabyte_geopoint_cell_is_a_message_not_a_hang(tmp_path):
    head = '"hh_id";"gps";"_uuid";"_index"\r\n'
    rows = "".join(f'"A{i}";"40.8 111.5 0 5";"u";"{i}"\r\n' for i in (1, 2, 3))
    rows += f'"A4";"{"4" * (1 << 20)}";"u";"4"\r\n'
    path = tmp_path / "住户.csv"
    path.write_text(head + rows, encoding="utf-8")
    result = measure("layers.households.read_households", path)
    assert result.get("key") == "error.tables.bad_point", result
    assert result["seconds"] < 10


def test_a_huge_survey_export_is_read_within_the_limits(tmp_path):
    """60,000 Kobo rows (a county's households, 12 MB): positions from the split columns,
    the raw geopoint column and 12 metadata columns left as text."""
    head = (
        '"start";"end";"hh_id";"village";"gps";"_gps_latitude";"_gps_longitude";'
        '"_gps_altitude";"_gps_precision";"__version__";"_id";"_uuid";"_submission_time";'
        '"_validation_status";"_notes";"_status";"_submitted_by";"_tags";"_index"\r\n'
    )
    lines = [head]
    for i in range(60_000):
        lat, lon = 41.8 + (i % 300) * 1e-4, 112.9 + (i // 300) * 1e-4
        lines.append(
            f'"2024";"2024";"H{i}";"村{i % 50}";"{lat:.6f} {lon:.6f} 1450 5";"{lat:.6f}";'
            f'"{lon:.6f}";"1450";"5";"v";"{i}";"u{i}";"t";"";"";"s";"e";"";"{i + 1}"\r\n'
        )
    path = tmp_path / "住户.csv"
    path.write_text("".join(lines), encoding="utf-8")
    result = measure("layers.households.read_households", path)
    assert result.get("rows") == 60_000, result
    assert result["peak_mb"] < 1024


def test_a_gpx_name_longer_than_gdal_reads_is_a_clean_refusal(tmp_path):
    path = tmp_path / "点.gpx"
    path.write_text(
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f'<wpt lat="40.8" lon="111.5"><name>{"甲" * (1 << 20)}</name></wpt></gpx>',
        encoding="utf-8",
    )
    refused(
        FileFormatError, "error.tables.not_readable", lambda: read_services(path, kind="school"),
        tmp_path, "点.gpx",
    )  # fmt: skip
