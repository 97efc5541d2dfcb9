"""Fuzzing the importers: whatever the file, a valid layer or one of the project's own errors.

Random CSV tables (headers among the lon/lat aliases and the layers' column names, cells with
full-width digits, decimal commas, empty, huge or NaN text, WKT-like strings), written in
random encodings; random bytes; random GeoJSON-like text; random zip archives. Each file goes
through ``read_table`` and the three layer loaders, which must either return a frame that
passes the layer's validator or raise :class:`layers.errors.GapMapperError`: never another
exception, and never a warning (warnings are recorded and must be none).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.errors import GapMapperError
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


LON = st.sampled_from(["lon", "经度", "X", "Longitude", "东经", "ｌｏｎ"])
LAT = st.sampled_from(["lat", "纬度", "y", "LAT ", "北纬"])
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
