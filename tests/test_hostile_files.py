"""Hostile and odd input files through the readers (issue 10): each gets a bilingual message
naming the file as the user called it and where, or is read as the user meant, with a note.

Families: OSM (unreadable or impossible coordinates, absurd capacities, files made in JOSM),
decompression bombs (zipped Shapefile, XLSX, KMZ), "ghost-row" and multi-sheet XLSX, KML
ExtendedData with Chinese names and KMZ, temporary paths in messages. Memory figures are
measured in a child process (``ru_maxrss``), so one test's allocations do not hide another's.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

from layers.errors import FileFormatError, GapMapperError
from layers.osm import read_osm
from layers.roads import HIGHWAY_CLASSES
from layers.schema import notes_of

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
    assert HAN.search(err.message("zh")) and not HAN.search(err.message("en").replace(parts[0], ""))
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
