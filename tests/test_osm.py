"""Tests of the offline OSM reader (layers/osm.py).

The hand-written extract ``tests/fixtures/osm/small.osm`` is small enough to check by hand; its
comments say what each object is for. The real extracts in ``../shared/data/osm`` check what
only real data shows (skipped when absent).
"""

from __future__ import annotations

import bz2
import gzip
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from layers import i18n
from layers import osm as osm_module
from layers.errors import FileFormatError, InputError, NoDataError
from layers.osm import (
    MODE_FILTERS,
    OSMNX_FALLBACK_FILTERS,
    OSMExtract,
    TagPredicate,
    format_overpass_filter,
    parse_overpass_filter,
    read_osm,
    way_modes,
    way_oneway,
)
from layers.roads import HIGHWAY_CLASSES, MODE_BITS
from layers.services import validate_services
from layers.villages import validate_villages
from tests.conftest import FIXTURES, ROOT, shared_file

SMALL = FIXTURES / "osm" / "small.osm"
W, M, C = MODE_BITS["walk"], MODE_BITS["motorbike"], MODE_BITS["car"]

#: small.osm's road segments, worked out by hand:
#: (u node, v node, way, highway, oneway, modes)
SMALL_SEGMENTS = [
    (1, 2, 100, "footway", 0, W),  # oneway=yes on a footway: walking ignores it
    (2, 3, 100, "footway", 0, W),
    (3, 4, 101, "track", 0, W | M | C),
    (4, 5, 102, "motorway", 0, C),  # osmnx walk excludes "motor"; motorbikes banned
    (5, 6, 102, "motorway", 0, C),
    (6, 7, 103, "residential", 1, W | M | C),
    (7, 8, 104, "residential", -1, W | M | C),
    (8, 9, 107, "residential", 0, W | M | C),  # 9-99: node 99 is not in the file
    (9, 10, 108, "service", 0, W | M | C),  # 9-9 self-loop dropped
    (10, 11, 110, "primary", 1, W | M | C),  # junction=roundabout
    (11, 12, 110, "primary", 1, W | M | C),
    (12, 10, 110, "primary", 1, W | M | C),
    (13, 14, 111, "residential", 0, W | M),  # motorcar=no
    (14, 15, 112, "residential", 0, W | C),  # motorcycle=no
]  # way 109 (access=private) and 113 (construction) are used by no mode; 105 is a building


def segments(extract: OSMExtract) -> list[tuple]:
    r = extract.roads
    return [
        (
            int(r.node_id[r.u[i]]),
            int(r.node_id[r.v[i]]),
            int(r.way_id[i]),
            HIGHWAY_CLASSES[r.highway[i]],
            int(r.oneway[i]),
            int(r.modes[i]),
        )
        for i in range(r.n_edges)
    ]


def write_variants(src: Path, folder: Path) -> dict[str, Path]:
    """The same data as .osm, .osm.gz, .osm.bz2 and .osm.pbf."""
    data = src.read_bytes()
    out = {"osm": src}
    out["gz"] = folder / "small.osm.gz"
    out["gz"].write_bytes(gzip.compress(data))
    out["bz2"] = folder / "small.osm.bz2"
    out["bz2"].write_bytes(bz2.compress(data))
    out["pbf"] = folder / "small.osm.pbf"
    with osmium.SimpleWriter(str(out["pbf"])) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    return out


def write_osm(path: Path, body: str) -> Path:
    path.write_text(
        f"<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n{body}\n</osm>\n"
    )
    return path


# --- Overpass filters -----------------------------------------------------------------------


def test_walk_filter_is_osmnx_own():
    from osmnx._overpass import _get_network_filter

    assert MODE_FILTERS["walk"] == _get_network_filter("walk")


def test_fallback_filters_equal_current_osmnx():
    from osmnx._overpass import _get_network_filter

    for network_type, text in OSMNX_FALLBACK_FILTERS.items():
        assert _get_network_filter(network_type) == text


def test_reading_osm_does_not_import_osmnx():
    import subprocess
    import sys

    code = "import sys, layers.osm; print('osmnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_parse_overpass_filter_round_trips_and_understands_ops():
    text = '["highway"]["area"!~"yes"]["a"="b"]["c"!="d"]["e"~"f|g"]'
    clauses = parse_overpass_filter(text)
    assert [(c.key, c.op, c.value) for c in clauses] == [
        ("highway", "exists", ""),
        ("area", "!~", "yes"),
        ("a", "=", "b"),
        ("c", "!=", "d"),
        ("e", "~", "f|g"),
    ]
    assert format_overpass_filter(clauses) == text
    for text in MODE_FILTERS.values():
        assert format_overpass_filter(parse_overpass_filter(text)) == text


@pytest.mark.parametrize("bad", ["", '["highway"', "highway=track", '["k"~"v",i]'])
def test_parse_overpass_filter_refuses_what_it_does_not_understand(bad):
    with pytest.raises(ValueError):
        parse_overpass_filter(bad)


def test_tag_predicate_overpass_semantics():
    not_motor = TagPredicate("highway", "!~", "motor")
    assert not not_motor.test("motorway")
    assert not not_motor.test("motorway_link")  # unanchored: re.search
    assert not_motor.test("trunk")
    assert not_motor.test(None)  # absent tag passes a negative clause
    foot = TagPredicate("foot", "!~", "no")
    assert foot.test("NO")  # case-sensitive
    assert not foot.test("no")
    assert TagPredicate("highway", "exists").test("x")
    assert not TagPredicate("highway", "exists").test(None)
    assert TagPredicate("a", "~", "^y").test("yes")
    assert not TagPredicate("a", "~", "^y").test(None)
    assert TagPredicate("a", "=", "b").test("b") and not TagPredicate("a", "=", "b").test("bb")
    assert TagPredicate("a", "!=", "b").test(None) and not TagPredicate("a", "!=", "b").test("b")


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "footway"}, W),
        ({"highway": "track"}, W | M | C),
        ({"highway": "motorway"}, C),
        ({"highway": "motorway_link"}, C),
        ({"highway": "trunk"}, W | M | C),
        ({"highway": "cycleway"}, 0),
        ({"highway": "residential", "access": "private"}, 0),
        ({"highway": "residential", "access": "no"}, W),  # osmnx walk only drops private
        ({"highway": "residential", "vehicle": "no"}, W),
        ({"highway": "residential", "motor_vehicle": "no"}, W),
        ({"highway": "residential", "motorcar": "no"}, W | M),
        ({"highway": "residential", "motorcycle": "no"}, W | C),
        ({"highway": "residential", "foot": "no"}, M | C),
        ({"highway": "residential", "area": "yes"}, 0),
        ({"highway": "service", "service": "parking_aisle"}, W),
        ({"highway": "primary", "sidewalk": "separate"}, M | C),
        ({"highway": "path"}, W),
        ({"building": "yes"}, 0),
    ],
)
def test_way_modes(tags, expected):
    assert way_modes(tags) == expected


# --- oneway against osmnx itself ------------------------------------------------------------

ONEWAY_CASES = {
    201: {"oneway": "yes"},
    202: {"oneway": "true"},
    203: {"oneway": "1"},
    204: {"oneway": "-1"},
    205: {"oneway": "reverse"},
    206: {"oneway": "T"},
    207: {"oneway": "F"},
    208: {"oneway": "no"},
    209: {"oneway": "alternating"},
    210: {"junction": "roundabout"},
    211: {"junction": "roundabout", "oneway": "-1"},
    212: {"junction": "roundabout", "oneway": "no"},
    213: {},
}


def test_oneway_matches_osmnx_graph_directions(tmp_path):
    import osmnx as ox

    body = []
    for k, (way, tags) in enumerate(ONEWAY_CASES.items()):
        a, b = 2 * k + 1, 2 * k + 2
        body.append(f'<node id="{a}" lat="41.0{k:02d}" lon="111.0"/>')
        body.append(f'<node id="{b}" lat="41.0{k:02d}" lon="111.001"/>')
        tag_xml = "".join(f'<tag k="{key}" v="{v}"/>' for key, v in tags.items())
        body.append(
            f'<way id="{way}"><nd ref="{a}"/><nd ref="{b}"/>'
            f'<tag k="highway" v="residential"/>{tag_xml}</way>'
        )
    path = write_osm(tmp_path / "oneway.osm", "\n".join(body))
    G = ox.graph_from_xml(path, bidirectional=False, simplify=False, retain_all=True)
    extract = read_osm(path)
    got = {s[2]: (s[0], s[1], s[4]) for s in segments(extract)}
    assert set(got) == set(ONEWAY_CASES)
    for way, (a, b, oneway) in got.items():
        directions = {(u, v) for u, v, d in G.edges(data=True) if d["osmid"] == way}
        expected = {0: {(a, b), (b, a)}, 1: {(a, b)}, -1: {(b, a)}}[oneway]
        assert directions == expected, way
        assert way_oneway({"highway": "residential", **ONEWAY_CASES[way]}) == oneway
    assert got[204][2] == -1 and got[207][2] == 1 and got[208][2] == 0 and got[212][2] == 1


# --- the hand-written extract ---------------------------------------------------------------


def test_small_roads_exact():
    extract = read_osm(SMALL)
    assert sorted(segments(extract)) == sorted(SMALL_SEGMENTS)
    r = extract.roads
    # node 16 only belongs to the construction way; node 99 is not in the file
    assert r.node_id.tolist() == list(range(1, 16))
    assert r.lon[r.node_id.tolist().index(11)] == pytest.approx(111.009, abs=1e-9)
    assert r.lat[r.node_id.tolist().index(11)] == pytest.approx(40.999, abs=1e-9)
    assert r.u.dtype == np.int64 and r.highway.dtype == np.int16
    assert r.oneway.dtype == np.int8 and r.modes.dtype == np.uint8
    assert 105 not in r.way_id  # the kindergarten building is not a road
    assert extract.source == str(SMALL)


def test_small_services():
    services = read_osm(SMALL).services
    validate_services(services)
    assert services.index.tolist() == ["osm-n30", "osm-n33", "osm-w105", "osm-r200"]
    assert services["kind"].tolist() == ["kindergarten", "kindergarten", "kindergarten", "school"]
    # name:zh first; unnamed -> kind + id; the area takes the name it has
    assert services["name"].tolist() == [
        "阳光幼儿园",
        "kindergarten osm-n33",
        "Kita am Bach",
        "第一小学",
    ]
    # "about 30" and "300 pupils" are not integers; node 31 (inside building 105, same
    # kind) is dropped and lends its capacity 45 to the area
    assert services["capacity"].tolist() == [120, pd.NA, 45, pd.NA]
    assert (services["source"] == "osm").all()
    assert services.crs.to_epsg() == 4326
    assert services.geometry.iloc[0].coords[0] == pytest.approx((111.002, 41.002))
    building = box(111.004, 41.004, 111.006, 41.006)
    assert building.contains(services.geometry["osm-w105"])
    school = Polygon(
        [(111.010, 41.002), (111.016, 41.002), (111.016, 41.008), (111.010, 41.008)],
        [[(111.011, 41.003), (111.015, 41.003), (111.015, 41.007), (111.011, 41.007)]],
    )
    point = services.geometry["osm-r200"]
    assert school.contains(point)  # inside the grounds, not in the hole
    assert point.equals_exact(school.representative_point(), 1e-9)


def test_small_childcare_only_when_asked():
    assert "osm-n32" not in read_osm(SMALL).services.index
    services = read_osm(SMALL, include_childcare=True).services
    assert services.loc["osm-n32", "kind"] == "childcare"
    assert services.loc["osm-n32", "name"] == "Day care"
    assert len(services) == 5


def test_small_villages_and_boundaries():
    extract = read_osm(SMALL)
    villages = extract.villages
    validate_villages(villages)
    # hamlet 52 has no name; place=city 54 is not a village
    assert villages.index.tolist() == ["osm-n50", "osm-n51", "osm-n53"]
    assert villages["village_name"].tolist() == ["阿尔法村", "Beta", "Delta"]
    assert (villages["source"] == "osm").all()
    b = extract.boundaries
    # relation 320 is admin_level 6: not a village boundary
    assert b.index.tolist() == ["osm-w310", "osm-r300", "osm-r302"]
    assert b["boundary_id"].tolist() == b.index.tolist()
    assert b["name"].tolist() == ["Gamma", "阿尔法村", "Alpha"]
    assert b["admin_level"].tolist() == [9, 10, 8]
    assert str(b["admin_level"].dtype) == "Int64"
    assert b.crs.to_epsg() == 4326
    # Alpha: same name at levels 10 and 8 -> the deepest (relation 300)
    assert villages["boundary"]["osm-n50"].equals(b.geometry["osm-r300"])
    assert villages["boundary"]["osm-n50"].equals(box(111.001, 41.011, 111.009, 41.019))
    # Beta: no boundary of its name; the level-9 way 310 holds no other named place
    assert villages["boundary"]["osm-n51"].equals(b.geometry["osm-w310"])
    assert villages["boundary"]["osm-n53"] is None


def test_four_formats_give_identical_results(tmp_path):
    results = {k: read_osm(p) for k, p in write_variants(SMALL, tmp_path).items()}
    ref = results["osm"]
    for kind, extract in results.items():
        for field in ("node_id", "lon", "lat", "u", "v", "way_id", "highway", "oneway", "modes"):
            np.testing.assert_array_equal(
                getattr(extract.roads, field), getattr(ref.roads, field), err_msg=kind
            )
        pd.testing.assert_frame_equal(extract.services, ref.services)
        pd.testing.assert_frame_equal(extract.villages, ref.villages)
        pd.testing.assert_frame_equal(extract.boundaries, ref.boundaries)
    assert sorted(segments(results["pbf"])) == sorted(SMALL_SEGMENTS)


class _PublicOnly:
    """A pyosmium object seen through its public API only (no ``_``-attributes)."""

    denied: set[str] = set()

    def __init__(self, obj) -> None:
        self._obj = obj

    def __getattr__(self, name):
        if name.startswith("_"):
            _PublicOnly.denied.add(name)
            raise AttributeError(name)
        value = getattr(self._obj, name)
        return _PublicOnly(value) if name == "nodes" else value

    def __len__(self) -> int:
        return len(self._obj)

    def __iter__(self):
        return iter(self._obj)


@pytest.mark.parametrize("path", [SMALL, "north-bayreuth.osm.gz"], ids=["small", "bayreuth"])
def test_reader_shortcuts_equal_the_public_pyosmium_api(path, monkeypatch):
    """The reader reads way nodes and tags through pyosmium 4's C++ getters; through the
    public API (the fallback for other pyosmium versions) the arrays are the same."""
    if isinstance(path, str):
        path = shared_file("osm", path)
    fast = read_osm(path)
    way = osm_module._Collector.way
    monkeypatch.setattr(osm_module._Collector, "way", lambda self, o: way(self, _PublicOnly(o)))
    public = read_osm(path)
    for field in ("node_id", "lon", "lat", "u", "v", "way_id", "highway", "oneway", "modes"):
        np.testing.assert_array_equal(getattr(public.roads, field), getattr(fast.roads, field))
    assert public.roads.n_edges > 0
    assert {"_pyosmium_data", "_list"} <= _PublicOnly.denied  # the fallbacks did run


def test_clip_bbox():
    extract = read_osm(SMALL, clip=(110.9995, 40.9995, 111.0055, 41.0065))
    assert segments(extract) == SMALL_SEGMENTS[:5]
    assert extract.roads.node_id.tolist() == [1, 2, 3, 4, 5, 6]
    assert extract.services.index.tolist() == ["osm-n30", "osm-w105"]
    assert extract.villages.empty and extract.boundaries.empty
    validate_villages(extract.villages)
    validate_services(extract.services)


def test_clip_polygon_edges_count_as_inside():
    area = box(111.0045, 41.0, 111.0095, 41.016)  # road nodes lie on its southern edge
    extract = read_osm(SMALL, clip=area)
    assert segments(extract) == SMALL_SEGMENTS[5:9]
    assert extract.services.index.tolist() == ["osm-w105"]
    assert extract.villages.index.tolist() == ["osm-n50"]
    assert extract.villages["boundary"]["osm-n50"].equals(box(111.001, 41.011, 111.009, 41.019))
    assert extract.boundaries.index.tolist() == ["osm-r300", "osm-r302"]


# --- errors ---------------------------------------------------------------------------------


def assert_untouched(folder: Path, before: set[str]) -> None:
    assert {p.name for p in folder.iterdir()} == before


def test_error_file_not_found(tmp_path):
    path = tmp_path / "missing.osm.pbf"
    with pytest.raises(InputError) as info:
        read_osm(path)
    assert info.value.key == "error.osm.not_found"
    assert str(path) in str(info.value) and "not found" in str(info.value)
    assert str(path) in info.value.message("zh") and "找不到" in info.value.message("zh")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["roads.shp", "roads.pbf.zip", "roads.geojson", "osm"])
def test_error_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("x")
    with pytest.raises(FileFormatError) as info:
        read_osm(path)
    assert info.value.key == "error.osm.bad_extension"
    text = str(info.value)
    assert name in text
    assert "Supported formats: .osm, .osm.gz, .osm.pbf, .osm.bz2" in text
    assert ".osm.pbf" in info.value.message("zh")
    assert_untouched(tmp_path, {name})


@pytest.mark.parametrize(
    ("name", "content", "detail"),
    [
        ("broken.osm.pbf", b"not a pbf at all", "PBF error"),
        ("broken.osm", b"<osm version='0.6'><node id='1'", "XML parsing error"),
        ("noversion.osm", b"<osm><node id='1'/></osm>", "without version"),
        ("page.osm", b"<html><body>404</body></html>", "html"),
        ("empty.osm", b"", "XML parsing error"),
        ("truncated.osm.bz2", bz2.compress(b"<osm version='0.6'><node id='1'")[:20], ""),
    ],
)
def test_error_corrupt_file(tmp_path, name, content, detail):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileFormatError) as info:
        read_osm(path)
    assert info.value.key == "error.osm.corrupt"
    text = str(info.value)
    assert text.startswith(f"Cannot read OpenStreetMap file {name}: it is damaged")
    assert detail in text and "Download or export the file again" in text
    assert name in info.value.message("zh") and "重新下载" in info.value.message("zh")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert_untouched(tmp_path, {name})


def test_error_buildings_only(tmp_path):
    path = write_osm(
        tmp_path / "buildings.osm",
        '<node id="1" lat="41" lon="111"/><node id="2" lat="41" lon="111.001"/>'
        '<node id="3" lat="41.001" lon="111"/>'
        '<way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/>'
        '<tag k="building" v="yes"/></way>'
        '<way id="2"><nd ref="1"/><nd ref="2"/><tag k="highway" v="construction"/></way>'
        '<node id="4" lat="41" lon="111"><tag k="amenity" v="kindergarten"/></node>',
    )
    with pytest.raises(NoDataError) as info:
        read_osm(path)
    assert info.value.key == "error.osm.no_roads"
    text = str(info.value)
    assert "buildings.osm holds no highway ways usable for routing" in text
    assert "only buildings" in text and "clipped outside" in text
    assert "contains the road network" in text
    assert "highway" in info.value.message("zh")
    assert_untouched(tmp_path, {"buildings.osm"})


def test_error_clip_outside_roads():
    with pytest.raises(NoDataError) as info:
        read_osm(SMALL, clip=(0.0, 0.0, 1.0, 1.0))
    assert info.value.key == "error.osm.no_roads_in_clip"
    assert info.value.params["n_segments"] == len(SMALL_SEGMENTS)
    assert str(info.value) == (
        "OpenStreetMap file small.osm holds 14 road segments, but none lies entirely inside "
        "the chosen area (0.00000, 0.00000, 1.00000, 1.00000). Check the area (are longitude "
        "and latitude swapped?) or choose an area that overlaps the file."
    )


@pytest.mark.parametrize(
    "bbox",
    [
        (111.01, 41.0, 111.0, 41.1),  # west > east
        (111.0, 41.0, 111.0, 41.1),  # west == east
        (111.0, 41.1, 111.1, 41.0),  # south > north
        (41.0, 111.0, 41.1, 111.1),  # lat/lon swapped: latitude 111
        (111.0, float("nan"), 111.1, 41.1),
    ],
)
def test_error_bad_bbox(bbox):
    with pytest.raises(InputError) as info:
        read_osm(SMALL, clip=bbox)
    assert info.value.key == "error.osm.bad_bbox"
    text = str(info.value)
    assert f"west={float(bbox[0])}" in text and f"north={float(bbox[3])}" in text
    assert "expected west < east and south < north" in text
    assert "(west, south, east, north)" in text
    assert "(西, 南, 东, 北)" in info.value.message("zh")


@pytest.mark.parametrize("clip", [(1.0, 2.0, 3.0), "111,41,112,42", ("a", "b", "c", "d")])
def test_error_bad_clip_type(clip):
    with pytest.raises(InputError) as info:
        read_osm(SMALL, clip=clip)
    assert info.value.key == "error.osm.bad_clip"
    assert type(clip).__name__ in str(info.value)
    assert "Polygon or MultiPolygon in WGS84" in str(info.value)


def test_messages_registered_in_both_languages():
    keys = [k for k in i18n.all_keys() if k.startswith(("error.osm.", "warning.osm."))]
    assert len(keys) == 10
    for key in keys:
        texts = i18n.texts_for(key)
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key
        assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), key


# --- real extracts --------------------------------------------------------------------------


def _xml_ways_and_places(path: Path) -> tuple[pd.DataFrame, dict[int, set[int]], list[dict]]:
    """An independent plain-XML parse: tags of every way, node refs of highway ways, places."""
    ways, refs, places = [], {}, []
    with gzip.open(path) as f:
        for _, elem in ET.iterparse(f):
            if elem.tag == "way":
                tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                way_id = int(elem.get("id"))
                ways.append({"way_id": way_id, **tags})
                if "highway" in tags:
                    refs[way_id] = [int(n.get("ref")) for n in elem.iter("nd")]
                elem.clear()
            elif elem.tag == "node":
                tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                if "place" in tags:
                    places.append({"id": int(elem.get("id")), **tags})
                elem.clear()
    return pd.DataFrame(ways), refs, places


def _osmnx_keeps(df: pd.DataFrame, overpass_filter: str) -> pd.Series:
    """osmnx's filter applied with pandas string methods (not layers.osm's code)."""
    keep = pd.Series(True, index=df.index)
    for clause in overpass_filter.strip("[]").split("]["):
        parts = clause.split('"')
        key = parts[1]
        col = df[key] if key in df else pd.Series(pd.NA, index=df.index, dtype="object")
        if len(parts) == 3:  # ["key"]
            keep &= col.notna()
        else:
            assert parts[2] == "!~", clause
            keep &= col.isna() | ~col.fillna("").str.contains(parts[3], regex=True)
    return keep


@pytest.mark.shared
def test_north_bayreuth():
    path = shared_file("osm", "north-bayreuth.osm.gz")
    extract = read_osm(path)
    ways, refs, places = _xml_ways_and_places(path)

    kindergartens = extract.services[extract.services["kind"] == "kindergarten"]
    assert len(kindergartens) == 3 and len(extract.services) == 3
    assert kindergartens.index.str.startswith("osm-w").all()

    place_kinds = pd.Series([p["place"] for p in places if "name" in p]).value_counts()
    assert place_kinds["village"] == 22 and place_kinds["hamlet"] == 48
    expected_villages = {
        f"osm-n{p['id']}"
        for p in places
        if p["place"] in ("village", "hamlet", "isolated_dwelling", "town") and "name" in p
    }
    assert set(extract.villages.index) == expected_villages
    validate_villages(extract.villages)

    # walk: exactly the ways osmnx's walk filter keeps (every highway way in this extract has
    # its nodes and at least one real segment, so none drops out for lack of geometry)
    with_highway = ways[ways["highway"].notna()]
    assert len(with_highway) == 2056
    assert all(len(set(nodes)) > 1 for nodes in refs.values())
    expected = set(with_highway.loc[_osmnx_keeps(with_highway, MODE_FILTERS["walk"]), "way_id"])
    r = extract.roads
    assert set(r.way_id[(r.modes & W) > 0].tolist()) == expected
    assert len(expected) == 1872

    # every way with a highway tag and no other way (buildings, landuse) is a candidate
    assert set(r.way_id.tolist()) <= set(with_highway["way_id"])
    buildings = set(ways.loc[ways["building"].notna(), "way_id"])
    assert len(buildings) > 4000 and not buildings & set(r.way_id.tolist())
    # tracks are roads for cars and motorbikes
    track = HIGHWAY_CLASSES.index("track")
    assert ((r.highway == track) & ((r.modes & (M | C)) == (M | C))).sum() > 1000


@pytest.mark.shared
def test_andorra_has_no_kindergarten():
    extract = read_osm(shared_file("osm", "andorra.osm.pbf"))
    assert (extract.services["kind"] == "kindergarten").sum() == 0
    assert (extract.services["kind"] == "school").sum() == 1
    assert extract.roads.n_edges > 10_000


@pytest.mark.shared
def test_liechtenstein_services_and_boundaries():
    extract = read_osm(shared_file("osm", "liechtenstein-2013.osm.pbf"))
    kinds = extract.services["kind"].value_counts()
    assert kinds["kindergarten"] == 6 and kinds["school"] == 16
    assert (extract.boundaries["admin_level"] == 8).sum() == 15
    assert extract.boundaries.geometry.is_valid.all()
    # Vaduz is matched through its name:zh (瓦都茲) like the boundary relation
    villages = extract.villages
    assert villages["boundary"].notna().sum() >= 10
    vaduz = extract.boundaries[extract.boundaries["name"] == "Vaduz"]
    assert len(vaduz) == 1
    assert any(g is not None and g.equals(vaduz.geometry.iloc[0]) for g in villages["boundary"])


@pytest.mark.shared
def test_clip_on_real_extract_keeps_only_inside():
    path = shared_file("osm", "north-bayreuth.osm.gz")
    area = (11.5, 49.95, 11.6, 50.05)
    extract = read_osm(path, clip=area)
    r = extract.roads
    assert r.lon.min() >= 11.5 and r.lon.max() <= 11.6
    assert r.lat.min() >= 49.95 and r.lat.max() <= 50.05
    pts = extract.villages.geometry
    assert shapely.intersects_xy(box(*area), pts.x, pts.y).all()
    full = read_osm(path)
    assert 0 < r.n_edges < full.roads.n_edges
