"""Fuzzing the importers: whatever the file, a valid layer or one of the project's own errors.

Random CSV tables (headers among the lon/lat aliases and the layers' column names, cells with
full-width digits, decimal commas, empty, huge or NaN text, WKT-like strings), written in
random encodings; random bytes; random GeoJSON-like text; random zip archives. Each file goes
through ``read_table`` and the three layer loaders, which must either return a frame that
passes the layer's validator or raise :class:`layers.errors.GapMapperError`: never another
exception, and never a warning (warnings are recorded and must be none).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.errors import GapMapperError, InputError
from layers.households import read_households, validate_households
from layers.services import read_services, validate_services
from layers.tables import read_table
from layers.villages import read_villages, validate_villages


def budget(n: int) -> settings:
    """Hypothesis settings for ``n`` examples (the whole file stays well under a minute)."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,  # no .hypothesis folder of examples written into the project
        # CI runs the same examples every time (a landing must not depend on luck); runs on a
        # developer's machine explore new ones
        derandomize=bool(os.environ.get("CI")),
    )


def check_table(gdf: gpd.GeoDataFrame) -> None:
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert gdf.crs is not None and gdf.crs.equals("EPSG:4326")
    assert str(gdf["source_row"].dtype) == "Int64" and gdf["source_row"].notna().all()
    assert len(gdf) > 0
    b = gdf.geometry.bounds.to_numpy()
    assert np.isfinite(b).all()
    assert (b[:, 0] >= -180).all() and (b[:, 2] <= 180).all()
    assert (b[:, 1] >= -90).all() and (b[:, 3] <= 90).all()


LOADERS = {
    "table": (read_table, check_table),
    "households": (read_households, lambda g: validate_households(g)),
    "villages": (read_villages, lambda g: validate_villages(g)),
    "services": (read_services, lambda g: validate_services(g)),
}


def load_everything(path: Path) -> None:
    """Every loader on ``path``: a valid layer or a GapMapperError; no warning at all."""
    for name, (loader, check) in LOADERS.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = loader(path)
            except GapMapperError as err:
                # the message renders in both languages (no missing placeholder)
                assert err.message("zh") and err.message("en")
            else:
                check(out)
        assert not caught, (name, [f"{w.category.__name__}: {w.message}" for w in caught])


def write_and_load(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="gm-fuzz-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        load_everything(path)
        assert sorted(p.name for p in Path(folder).iterdir()) == [name]  # nothing written


# --------------------------------------------------------------------------------------------
# strategies

HEADERS = [
    "lon", "lat", "经度", "纬度", "X", "y", "Longitude", "LAT ", "东经", "北纬",
    "户号", "id", "name", "村名", "类型", "kind", "名称", "儿童数", "children", "学位",
    "capacity", "phone", "geometry", "source_row", "folder", "",
    # survey exports (layers.survey): geopoints, group paths, metadata
    "gps", "_gps_latitude", "_gps_longitude", "_gps_precision", "hh-gps-Latitude",
    "hh-gps-Longitude", "hh-gps-Accuracy", "household/village", "hh-hh_id", "_uuid",
    "_submission_time", "_index", "SubmissionDate", "KEY", "meta-instanceID", "_id",
]  # fmt: skip
FULLWIDTH = str.maketrans("0123456789.-,", "０１２３４５６７８９．－，")


def number_text() -> st.SearchStrategy[str]:
    plain = st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr)
    degrees = st.floats(-200, 200).map(lambda v: f"{v:.6f}")
    return st.one_of(
        degrees,
        degrees.map(lambda s: s.translate(FULLWIDTH)),
        degrees.map(lambda s: s.replace(".", ",")),
        plain,
        st.integers(-(10**30), 10**30).map(str),
        st.sampled_from(["NaN", "nan", "inf", "-", "", " ", "１１１．５", "40.8°N", "111,5",
                         "1e999", "0x1F", "四十", "幼儿园", "小学", "school"]),
    )  # fmt: skip


WKT = st.one_of(
    st.sampled_from(
        [
            "POINT (111.5 40.8)",
            "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))",
            "LINESTRING (111 40, 112 41)",
            "POINT EMPTY",
            "GEOMETRYCOLLECTION (POINT (1 2))",
            "POINT (nan nan)",
        ]
    ),
    st.text(alphabet="POINTLYGS()0123456789., -", max_size=40),
)
CELL = st.one_of(number_text(), WKT, st.text(max_size=12))


LON = st.sampled_from(
    ["lon", "经度", "X", "Longitude", "东经", "ｌｏｎ", "_gps_longitude", "hh-gps-Longitude"]
)
LAT = st.sampled_from(["lat", "纬度", "y", "LAT ", "北纬", "_gps_latitude", "hh-gps-Latitude"])
OTHER = st.one_of(st.sampled_from(HEADERS), st.text(max_size=8))
# coordinates that are mostly usable (inside Inner Mongolia) so that parsing goes deep
GOOD_LON = st.floats(97.0, 126.0).map(lambda v: f"{v:.5f}")
GOOD_LAT = st.floats(37.0, 53.0).map(lambda v: f"{v:.5f}")


@st.composite
def csv_text(draw) -> str:
    header = draw(st.lists(OTHER, max_size=4))
    lon_at = lat_at = None
    if draw(st.integers(0, 9)) < 8:  # most tables have lon/lat somewhere
        lon_at = draw(st.integers(0, len(header)))
        header.insert(lon_at, draw(LON))
        lat_at = draw(st.integers(0, len(header)))
        header.insert(lat_at, draw(LAT))
        if lat_at <= lon_at:
            lon_at += 1
    n_cols = len(header)
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        cells = [draw(CELL) for _ in range(n_cols)]
        for col, good in ((lat_at, GOOD_LAT), (lon_at, GOOD_LON)):
            if col is not None and col < n_cols and draw(st.integers(0, 9)) < 8:
                cells[col] = draw(st.one_of(good, good.map(lambda s: s.translate(FULLWIDTH))))
        if draw(st.integers(0, 9)) == 0:  # ragged rows now and then
            cells = cells[: draw(st.integers(0, n_cols))] or cells + [draw(CELL)]
        rows.append(cells)
    sep = draw(st.sampled_from([",", ";", "\t"]))

    def line(cells: list[str]) -> str:
        return sep.join(
            '"' + c.replace('"', '""') + '"' if (sep in c or '"' in c or "\n" in c) else c
            for c in cells
        )

    return "\n".join(line(r) for r in [header, *rows]) + draw(st.sampled_from(["", "\n"]))


ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1"]


@budget(400)
@given(text=csv_text(), encoding=st.sampled_from(ENCODINGS), ext=st.sampled_from([".csv", ".txt"]))
def test_random_tables_in_random_encodings(text, encoding, ext):
    data = text.encode(encoding, errors="replace")
    write_and_load("table" + ext, data)


@budget(200)
@given(
    data=st.binary(max_size=400),
    name=st.sampled_from(["h.csv", "h.xlsx", "h.geojson", "h.json", "h.gpkg", "h.kml", "h.zip"]),
)
def test_random_bytes(data, name):
    write_and_load(name, data)


@budget(200)
@given(head=csv_text(), tail=st.binary(max_size=40))
def test_tables_with_random_bytes_appended(head, tail):
    write_and_load("h.csv", head.encode("utf-8") + b"\n" + tail)


# GeoJSON-like: the right keys with random values, nested at random
JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-(10**7), 10**7), st.text(max_size=6),
    st.sampled_from(["Point", "Polygon", "LineString", "Feature", "FeatureCollection"]),
)  # fmt: skip
JSON_KEYS = st.sampled_from(["type", "features", "geometry", "coordinates", "properties", "crs",
                             "name", "lon", "lat"])  # fmt: skip
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(JSON_KEYS, inner, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def geojson_text(draw) -> str:
    def coord():
        return draw(st.lists(st.one_of(st.floats(-400, 400), st.integers(-10**7, 10**7)),
                             min_size=0, max_size=3))  # fmt: skip

    features = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["Point", "Polygon", "LineString", "MultiPoint", "Nope"]))
        if kind == "Point":
            coords: object = coord()
        elif kind == "Polygon":
            coords = [[coord() for _ in range(draw(st.integers(0, 5)))]]
        else:
            coords = [coord() for _ in range(draw(st.integers(0, 3)))]
        geometry = draw(st.sampled_from([True, True, True, False]))
        features.append(
            {
                "type": "Feature",
                "properties": draw(st.dictionaries(st.sampled_from(HEADERS), CELL, max_size=3)),
                "geometry": {"type": kind, "coordinates": coords} if geometry else None,
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    if draw(st.booleans()):
        doc = draw(JSON)
    return json.dumps(doc, ensure_ascii=draw(st.booleans()))


@budget(250)
@given(text=geojson_text(), ext=st.sampled_from([".geojson", ".json"]))
def test_random_geojson(text, ext):
    write_and_load("h" + ext, text.encode("utf-8"))


@st.composite
def zip_bytes(draw) -> bytes:
    names = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["a", "数据/户", "__MACOSX/a", "x/y/z", ""]),
                st.sampled_from([".shp", ".shx", ".dbf", ".prj", ".cpg", ".txt", "/"]),
            ),
            max_size=5,
            unique=True,
        )
    )
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for stem, ext in names:
            if ext == "/":
                continue
            content = draw(st.one_of(st.binary(max_size=120), st.sampled_from([
                b'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
                b'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]',
                b"UTF-8", b"GBK", b""])))  # fmt: skip
            archive.writestr(stem + ext, content)
    return buf.getvalue()


@budget(150)
@given(data=zip_bytes())
def test_random_zip_contents(data):
    write_and_load("h.zip", data)


@budget(60)
@given(rows=st.lists(st.lists(st.one_of(CELL, st.floats(allow_nan=True), st.integers(),
                                         st.none()), max_size=5), max_size=5),
       header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=5))  # fmt: skip
def test_random_spreadsheets(rows, header):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [header, *rows]:
        # openpyxl refuses control characters in cells: those are not what people type
        ws.append([_xlsx_safe(v) for v in row])
    with tempfile.TemporaryDirectory(prefix="gm-fuzz-") as folder:
        path = Path(folder) / "h.xlsx"
        wb.save(path)
        load_everything(path)


def _xlsx_safe(value: object) -> object:
    if isinstance(value, str):
        return "".join(ch for ch in value if ch >= " " or ch in "\t\n")
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, int) and abs(value) > 2**53:
        return str(value)
    return value


@pytest.mark.parametrize(
    "text",
    [
        "lon,lat\n1e308,1e308\n",
        "lon,lat\n-0,-0\n",
        "lon,lat\n１８０,９０\n",
        "lon,lat\n180.0000001,0\n",
        "x,y,lon,lat\n1,2,3,4\n",
        "lon;lat\n111,5;40,8\n",
        'lon,lat\n"111.5","40.8"\n"\n',
        "\ufeff\ufefflon,lat\n111.5,40.8\n",
        "lon,lat,lon,lat\n111.5,40.8,1,2\n",
        "lon,lat\n111.5,40.8\n" + "\x00",
    ],
)
def test_hand_picked_edge_tables(text):
    write_and_load("h.csv", text.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Hostile names through every reader: the exact text comes out (stripped of surrounding
# whitespace, as every cell is), or a clean InputError where the format cannot hold it.

PAYLOADS = [
    "{{7*7}}", "{% raw %}", "{#", "#}", "{{ config }}", "{%", "%}", "{{",
    "{{ lipsum.__globals__.os.popen('id').read() }}",
    "</script>", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "javascript:alert(1)", "\"'><svg onload=alert(1)>", "&amp;", "&#0;", "]]>", "<!--",
    "\u202e", "\u202d", "\u200f", "\u2066", "\ufeff", "\u200b", "\x00", "\x07", "\x1b[31m",
    "\x0b", "\x85", "\u2028", "\t", "\n", "\r\n", ",", ";", '"', "'", "\\", "%s", "{0}",
    "村", "嘎查", "𠀀", "😀", "ᠮᠣᠩᠭᠣᠯ",
]  # fmt: skip
MB = 1 << 20


def one_mb(piece: str) -> str:
    return (piece * (MB // max(len(piece), 1) + 1))[:MB]


HOSTILE_NAME = (
    st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=8)), min_size=1, max_size=6)
    .map("".join)
    .filter(lambda name: name.strip() != "")
)
#: A 1 MB name of every payload in turn but NUL (so that every format carries it through);
#: reading one takes a second, so it is not left to hypothesis.
ONE_MB_NAME = one_mb("甲" + "".join(p for p in PAYLOADS if p != "\x00"))

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]")


def fit(name: str, fmt: str) -> str:
    """The name as the format can hold it (what a user's program would have written)."""
    if fmt in ("xlsx", "kml", "ovkml", "gpx"):
        # XML 1.0 has no control characters; a raw CR is read back as LF; Excel holds
        # at most 32 767 characters in a cell; GDAL's GPX reader stops at 100 000 bytes in
        # one element (refused cleanly beyond: test_hostile_files)
        name = _XML_ILLEGAL.sub("", name)
        if fmt == "gpx":
            return name.encode("utf-8")[:90_000].decode("utf-8", errors="ignore")
        return name[:32_767] if fmt == "xlsx" else name
    if fmt in ("gpkg", "shp"):
        name = name.replace("\x00", "")  # GDAL writes C strings
        if fmt == "shp":  # a .dbf text field holds 254 bytes
            name = name.encode("utf-8")[:254].decode("utf-8", errors="ignore")
        return name
    if fmt == "csv-gbk":
        return "".join(ch for ch in name if _gbk_ok(ch))
    return name


def _gbk_ok(ch: str) -> bool:
    try:
        ch.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def write_named(folder: Path, fmt: str, name: str) -> Path:
    """A file of one service at a known place whose name is ``name``, in format ``fmt``."""
    row = {"name": name, "kind": "school", "lon": 111.5, "lat": 40.8}
    if fmt in ("csv-utf8", "csv-gbk"):
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(list(row))
        writer.writerow(list(row.values()))
        path = folder / "names.csv"
        path.write_bytes(buf.getvalue().encode("gbk" if fmt == "csv-gbk" else "utf-8"))
    elif fmt == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(list(row))
        sheet.append([None, "school", 111.5, 40.8])
        sheet["A2"].value = name
        sheet["A2"].data_type = "s"  # a name starting with "=" is text, not a formula
        path = folder / "names.xlsx"
        workbook.save(path)
    elif fmt == "geojson":
        path = folder / "names.geojson"
        feature = {
            "type": "Feature",
            "properties": {"name": name, "kind": "school"},
            "geometry": {"type": "Point", "coordinates": [111.5, 40.8]},
        }
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    elif fmt in ("kobo-csv", "odk-csv"):
        # a survey export: the name question inside a group, the position a geopoint
        if fmt == "kobo-csv":
            header = ["start", "hh/name", "hh/kind", "hh/gps", "hh/_gps_latitude",
                      "hh/_gps_longitude", "_uuid", "_index"]  # fmt: skip
            cells = ["2024", name, "school", "40.8 111.5 0 5", "40.8", "111.5", "u", "1"]
            sep = ";"
        else:
            header = ["SubmissionDate", "hh-name", "hh-kind", "hh-gps-Latitude",
                      "hh-gps-Longitude", "KEY"]  # fmt: skip
            cells = ["2024", name, "school", "40.8", "111.5", "uuid:1"]
            sep = ","
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=sep, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerow(cells)
        path = folder / f"{fmt}.csv"
        path.write_bytes(buf.getvalue().encode("utf-8"))
    elif fmt == "gpx":
        from xml.sax.saxutils import escape

        path = folder / "names.gpx"
        path.write_text(
            '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="t" '
            'xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="40.8" lon="111.5">'
            f"<name>{escape(name)}</name><type>school</type></wpt></gpx>",
            encoding="utf-8",
        )
    elif fmt in ("kml", "ovkml"):
        from xml.sax.saxutils import escape

        path = folder / f"names.{fmt}"
        path.write_text(
            '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
            f"<Document><Placemark><name>{escape(name)}</name><ExtendedData>"
            '<Data name="kind"><value>school</value></Data></ExtendedData>'
            "<Point><coordinates>111.5,40.8</coordinates></Point></Placemark></Document></kml>",
            encoding="utf-8",
        )
    else:
        gdf = gpd.GeoDataFrame(
            {"name": [name], "kind": ["school"]}, geometry=[shapely.Point(111.5, 40.8)], crs=4326
        )
        if fmt == "gpkg":
            path = folder / "names.gpkg"
            gdf.to_file(path, driver="GPKG")
        else:
            parts = folder / "parts"
            parts.mkdir()
            gdf.to_file(parts / "names.shp", encoding="UTF-8")
            path = folder / "names.zip"
            with zipfile.ZipFile(path, "w") as archive:
                for part in parts.iterdir():
                    archive.write(part, part.name)
    return path


NAMED_FORMATS = [
    "csv-utf8", "csv-gbk", "xlsx", "geojson", "gpkg", "shp", "kml", "ovkml", "gpx",
    "kobo-csv", "odk-csv",
]  # fmt: skip


@budget(20)
@given(name=HOSTILE_NAME)
@pytest.mark.parametrize("fmt", NAMED_FORMATS)
def test_hostile_names_come_out_exactly_through_every_reader(fmt, name):
    read_name_back(fmt, name)


@pytest.mark.parametrize("fmt", NAMED_FORMATS)
def test_a_one_megabyte_name_comes_out_exactly_through_every_reader(fmt):
    read_name_back(fmt, ONE_MB_NAME)


def read_name_back(fmt: str, name: str) -> None:
    """Write ``name`` in ``fmt`` (as far as it can hold it); every layer reader gives it back
    exactly, or refuses a NUL with a clean message."""
    name = fit(name, fmt)
    expected = name.strip()
    if not expected:
        return
    with tempfile.TemporaryDirectory(prefix="gm-fuzz-") as folder:
        with warnings.catch_warnings():
            # GDAL notes that it wrote a long text field; the file is what a user would have
            warnings.simplefilter("ignore", RuntimeWarning)
            path = write_named(Path(folder), fmt, name)
        for reader, column in (
            (read_villages, "village_name"),
            # a GPX waypoint's name is the household's id
            (read_households, "household_id" if fmt == "gpx" else "name"),
            (read_services, "name"),
        ):
            try:
                layer = (
                    reader(path, kind="school")
                    if fmt == "gpx" and reader is read_services
                    else reader(path)
                )
            except InputError as err:
                # only a NUL, which CSV and GeoJSON can carry but no reader can keep
                assert "\x00" in name, (fmt, reader.__name__, err.key, str(err)[:300])
                assert err.key in ("error.tables.not_readable", "error.tables.nul_character")
                assert err.message("zh") and err.message("en")
                continue
            assert layer[column].tolist() == [expected], (fmt, reader.__name__)


# --------------------------------------------------------------------------------------------
# Field data (issue 14): one position column, and --columns


@budget(150)
@given(
    lat=st.floats(-90, 90, allow_nan=False),
    lon=st.floats(-180, 180, allow_nan=False),
    extra=st.lists(st.floats(0, 9000).map(lambda v: f"{v:.1f}"), max_size=2),
    sep=st.sampled_from([" ", "  ", "\t", " \u3000"]),
)
def test_a_geopoint_column_reads_back_exactly(lat, lon, extra, sep):
    """Phone geopoints "lat lon [alt [acc]]" (as Kobo writes them, with any spacing) come
    back as the numbers written, latitude first."""
    cells = [f"{lat!r}", f"{lon!r}", *extra]
    text = "户号,位置\nA1," + '"' + sep.join(cells) + '"\n'
    with tempfile.TemporaryDirectory(prefix="gm-fuzz-") as folder:
        path = Path(folder) / "h.csv"
        path.write_text(text, encoding="utf-8")
        try:
            hh = read_households(path, columns={"point": "位置"})
        except GapMapperError as err:  # every such cell is a position: none may be refused
            raise AssertionError(err.message("en")) from err
        assert (hh.geometry.x.iloc[0], hh.geometry.y.iloc[0]) == (lon, lat)


@budget(200)
@given(
    cell=st.one_of(st.text(max_size=40), CELL, st.lists(number_text(), max_size=5).map(" ".join))
)
def test_random_position_cells_give_a_layer_or_a_message(cell):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["户号", "gps", "_uuid", "_index"])
    writer.writerow(["A1", "41.84 112.95 0 5", "u", "1"])
    writer.writerow(["A2", cell, "u", "2"])
    writer.writerow(["A3", "41.85 112.96 0 5", "u", "3"])
    write_and_load("survey.csv", buf.getvalue().encode("utf-8"))


@budget(300)
@given(values=st.lists(st.text(max_size=30), max_size=3))
def test_random_columns_options_parse_or_explain(values):
    from layers.columns import parse_columns_option
    from layers.errors import SettingsError

    try:
        choice = parse_columns_option(values)
    except SettingsError as err:
        assert err.key in ("error.columns.bad_option", "error.columns.unknown_role")
        assert err.message("zh") and err.message("en")
    else:
        for pairs in (choice.shared, *choice.by_layer.values()):
            assert all(h.strip() == h and h for h in pairs.values())
