"""The catalogue of bad inputs: every one is refused with a clear message in both languages.

Each case writes one bad file into ``tmp_path``, hands it to the loader a user's file goes
through (``read_households``, ``read_villages``, ``read_services``, ``read_table`` or
``read_osm``) and checks:

- the error class and the message key;
- fragments that must appear in BOTH the English and the Chinese message: the file name, the
  row or feature numbers and the column where they apply;
- a "what to do" fragment in each language;
- that the file and its folder are unchanged (nothing written, nothing lost).

Odd-but-usable data (households outside the study area, roads in several pieces, no service
of a kind, a service exactly on a household) is not an error: its documented behaviour is
checked through :func:`mapping.analysis.run_analysis` at the end, and a few bad files are
driven through the app (AppTest) to see the message in the user's language with the previous
state kept.
"""

from __future__ import annotations

import hashlib
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from layers import i18n
from layers.errors import FileFormatError, GapMapperError, InputError, NoDataError
from layers.households import (
    describe_households_outside,
    find_households_outside,
    read_households,
    validate_households,
)
from layers.osm import read_osm
from layers.services import read_services
from layers.tables import MAX_TABLE_BYTES, read_table
from layers.villages import read_villages, validate_villages
from mapping.analysis import run_analysis
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests.netbuild import lonlat, points, roads, services

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


# --------------------------------------------------------------------------------------------
# file builders (each writes into a folder and returns the file)


def text(name: str, content: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content.encode(encoding))
        return path

    return build


def raw(name: str, content: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def xlsx(name: str, rows: list[list[object]], merge: str | None = None) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        wb = openpyxl.Workbook()
        ws = wb.active
        for row in rows:
            ws.append(row)
        if merge:
            ws.merge_cells(merge)
        path = folder / name
        wb.save(path)
        return path

    return build


def geodata(name: str, gdf: Callable[[], gpd.GeoDataFrame], **kwargs) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        gdf().to_file(path, **kwargs)
        return path

    return build


def household_points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"户号": ["A1", "A2", "A3"], "户主": ["张三", "李四", "王五"]},
        geometry=[shapely.Point(111.652, 40.821), shapely.Point(111.70, 40.79),
                  shapely.Point(111.69, 40.85)],
        crs="EPSG:4326",
    )  # fmt: skip


def two_squares() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["甲村", "乙村"]},
        geometry=[shapely.box(111, 40, 111.1, 40.1), shapely.box(112, 40, 112.1, 40.1)],
        crs="EPSG:4326",
    )


def collapsed_polygon() -> gpd.GeoDataFrame:
    # feature 2 is a "polygon" whose ring runs back along itself: make_valid gives a line
    flat = shapely.Polygon([(111.5, 40.5), (111.6, 40.5), (111.7, 40.5), (111.5, 40.5)])
    return gpd.GeoDataFrame(
        {"name": ["甲村", "乙村"]},
        geometry=[shapely.box(111, 40, 111.1, 40.1), flat],
        crs="EPSG:4326",
    )


def village_line() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["甲村", "公路"]},
        geometry=[shapely.Point(111.5, 40.5), shapely.LineString([(111, 40), (111.1, 40.1)])],
        crs="EPSG:4326",
    )


def zipped_shapefile(name: str, skip: tuple[str, ...] = (), twice: bool = False):
    def build(folder: Path) -> Path:
        parts = folder / "parts"
        parts.mkdir()
        household_points().to_file(parts / "户.shp")
        if twice:
            household_points().to_file(parts / "二.shp")
        path = folder / name
        with zipfile.ZipFile(path, "w") as archive:
            for part in sorted(parts.iterdir()):
                if part.suffix not in skip:
                    archive.write(part, f"data/{part.name}")
        return path

    return build


def zip_of(name: str, members: dict[str, str]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        with zipfile.ZipFile(path, "w") as archive:
            for member, content in members.items():
                archive.writestr(member, content)
        return path

    return build


def sparse(name: str, size: int) -> Callable[[Path], Path]:
    """A file of ``size`` bytes that takes no disk space (a hole): an 'enormous' upload."""

    def build(folder: Path) -> Path:
        path = folder / name
        with open(path, "wb") as fh:
            fh.write(b"lon,lat\n")
            fh.truncate(size)
        return path

    return build


KML_FOLDERS_WITH_A_ROAD = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>调查</name>
<Folder><name>一组</name>
<Placemark><name>张三</name><Point><coordinates>111.652,40.821,0</coordinates></Point></Placemark>
</Folder>
<Folder><name>道路</name>
<Placemark><name>村道</name><LineString><coordinates>111.6,40.8 111.7,40.9</coordinates>
</LineString></Placemark>
</Folder>
</Document></kml>
"""

OSM_NO_ROADS = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="40.80" lon="111.60"/>
  <node id="2" lat="40.80" lon="111.61"/>
  <node id="3" lat="40.81" lon="111.61"/>
  <node id="4" lat="40.81" lon="111.60"/>
  <node id="5" lat="40.805" lon="111.605"><tag k="amenity" v="kindergarten"/></node>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="building" v="yes"/></way>
</osm>
"""

GEOJSON_ONE_POINT_IN_METRES = (
    '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
    '"geometry": {"type": "Point", "coordinates": [500000, 4500000]}}]}'
)
GEOJSON_SECOND_WITHOUT_GEOMETRY = (
    '{"type": "FeatureCollection", "features": ['
    '{"type": "Feature", "properties": {"n": 1}, "geometry": '
    '{"type": "Point", "coordinates": [111.5, 40.8]}},'
    '{"type": "Feature", "properties": {"n": 2}, "geometry": null}]}'
)


# --------------------------------------------------------------------------------------------
# the catalogue


@dataclass(frozen=True)
class Case:
    """One bad input and what its message must say.

    ``both`` fragments must be in the English and the Chinese message (file name, rows,
    columns, values); ``en`` and ``zh`` are per-language fragments, the "what to do" among them.
    """

    id: str
    build: Callable[[Path], Path]
    load: Callable[[Path], object]
    error: type[GapMapperError]
    key: str
    both: tuple[str, ...]
    en: tuple[str, ...]
    zh: tuple[str, ...]
    kwargs: dict = field(default_factory=dict)


HH = read_households
CASES = [
    # -- empty or nearly
    Case("empty-csv", raw("households.csv", b""), HH, NoDataError, "error.tables.empty_file",
         ("households.csv",), ("Choose the file that holds the data",), ("请选择填好数据的文件",)),
    Case("empty-xlsx", xlsx("households.xlsx", []), HH, NoDataError, "error.tables.empty_file",
         ("households.xlsx",), ("Choose the file",), ("请选择填好数据的文件",)),
    Case("header-only", text("households.csv", "户号,经度,纬度\n\n"), HH, NoDataError,
         "error.tables.header_only", ("households.csv",),
         ("row 1", "Add one row per item"), ("第 1 行", "请在表头下面逐行填写数据")),
    # -- lon/lat columns
    Case("no-lon-lat-columns", text("h.csv", "户号,地址,东西\nA1,某村,1\n"), HH, InputError,
         "error.tables.no_lon_lat", ("h.csv", "户号, 地址, 东西", "经度", "纬度"),
         ("Rename the columns",), ("请把对应的列改成其中一个名字",)),
    Case("latitude-column-missing", text("h.csv", "户号,经度,高度\nA1,111.5,1200\n"), HH,
         InputError, "error.tables.no_lon_lat", ("h.csv", "户号, 经度, 高度"),
         ("Rename the columns",), ("请把对应的列改成",)),
    Case("lat-lon-swapped", text("h.csv", "户号,经度,纬度\nA1,40.821,111.652\nA2,40.79,111.70\n"),
         HH, InputError, "error.tables.lat_lon_swapped",
         ("h.csv", "纬度", "经度", "2: 40.821, 111.652"),
         ("Swap the two headers",), ("请交换这两列的表头",)),
    Case("latitude-out-of-range", text("h.csv", "户号,lon,lat\nA1,111.5,40.8\nA2,111.6,95.2\n"),
         HH, InputError, "error.tables.out_of_range", ("h.csv", "3: 111.6, 95.2", "lat", "lon"),
         ("swapped?",), ("是否填反了",)),
    Case("projected-metres-as-lon-lat",
         text("h.csv", "户号,x,y\nA1,500000,4500000\nA2,512345.6,4512345.6\n"), HH, InputError,
         "error.tables.projected", ("h.csv", "500000, 4500000"),
         ("Export longitude/latitude in decimal degrees",), ("导出为 WGS84 经纬度",)),
    Case("projected-geojson-without-crs", text("h.geojson", GEOJSON_ONE_POINT_IN_METRES), HH,
         InputError, "error.tables.projected", ("h.geojson", "500000, 4500000"),
         ("Export longitude/latitude",), ("导出为 WGS84 经纬度",)),
    Case("missing-coordinate", text("h.csv", "户号,lon,lat\nA1,111.5,40.8\nA2,,40.9\n"), HH,
         InputError, "error.tables.missing_coordinate", ("h.csv", "lon"),
         ("rows 3", "Fill in the coordinates"), ("第 3 行", "请补上经纬度")),
    # -- encodings
    Case("undecodable-bytes", raw("h.csv", b"lon,lat\n111.5,40.8\n\x81\x20,\xff\n"), HH,
         InputError, "error.tables.encoding", ("h.csv", "UTF-8", "GBK"),
         ("Save it again from Excel or WPS as 'CSV UTF-8'",), ("另存为“CSV UTF-8”",)),
    Case("mixed-gbk-and-utf8",
         raw("h.csv", "户号,经度,纬度,户主\nA1,111.6,40.8,张三\n".encode()
             + "A2,111.7,40.9,李四\n".encode("gbk")),
         HH, InputError, "error.tables.mixed_encoding", ("h.csv", "UTF-8", "GBK"),
         ("row 1 is UTF-8 but row 3", "save them all as 'CSV UTF-8'"),
         ("第 1 行是 UTF-8，而第 3 行", "统一另存为“CSV UTF-8”")),
    Case("unclosed-quote", text("h.csv", 'lon,lat,户主\n111.5,40.8,"张三\n111.6,40.9,李四\n'),
         HH, InputError, "error.tables.bad_csv", ("h.csv",),
         ("row 2", "Check that quotes come in pairs"), ("第 2 行", "请检查引号是否成对")),
    # -- spreadsheets
    Case("xlsx-merged-title-row",
         xlsx("登记表.xlsx", [["某某村住户登记表"], ["户号", "户主", "经度", "纬度"],
                            ["A1", "张三", 111.6, 40.8]], merge="A1:D1"),
         HH, InputError, "error.tables.header_not_first", ("登记表.xlsx", "某某村住户登记表"),
         ("row 2", "Delete the rows above row 2"), ("第 2 行", "请删除第 2 行上面的行")),
    Case("csv-title-row",
         text("h.csv", "2024年住户调查,,\n户号,lon,lat\nA1,111.5,40.8\n"), HH, InputError,
         "error.tables.header_not_first", ("h.csv", "2024年住户调查"),
         ("Delete the rows above row 2",), ("请删除第 2 行上面的行",)),
    Case("xlsx-text-in-coordinate",
         xlsx("h.xlsx", [["lon", "lat"], [111.5, 40.8], [111.6, "北"]]), HH, InputError,
         "error.tables.non_numeric", ("h.xlsx", "lat", "3: '北'"),
         ("Write decimal degrees",), ("请填写十进制度数",)),
    # -- numbers
    Case("comma-decimal-in-comma-csv", text("h.csv", '户号,经度,纬度\nA1,"111,5",40.8\n'), HH,
         InputError, "error.tables.non_numeric", ("h.csv", "经度", "2: '111,5'"),
         ("Write decimal degrees, e.g. 111.52",), ("请填写十进制度数，例如 111.52",)),
    Case("unquoted-comma-decimal", text("h.csv", "户号,经度,纬度\nA1,111.5,40.8\nA2,111,6,40.9\n"),
         HH, InputError, "error.tables.too_many_cells", ("h.csv",),
         ("rows 3", "a comma inside a number"), ("第 3 行", "数值里的逗号")),
    Case("fullwidth-comma-decimal", text("h.csv", "户号,经度,纬度\nA1,111，6,40.8\n"), HH,
         InputError, "error.tables.non_numeric", ("h.csv", "经度", "2: '111，6'"),
         ("Write decimal degrees",), ("请填写十进制度数",)),
    Case("nan-text-coordinate", text("h.csv", "户号,lon,lat\nA1,NaN,40.8\n"), HH, InputError,
         "error.tables.non_numeric", ("h.csv", "lon", "2: 'NaN'"),
         ("Write decimal degrees",), ("请填写十进制度数",)),
    Case("chinese-number-words-as-children",
         text("h.csv", "户号,经度,纬度,儿童数\nA1,111.5,40.8,２\nA2,111.6,40.9,两个\n"), HH,
         InputError, "error.tables.bad_integer", ("h.csv", "儿童数", "3: '两个'"),
         ("Write 0, 1, 2... or leave the cell empty",), ("请填写 0、1、2……这样的整数",)),
    # -- ids
    Case("duplicate-household-ids",
         text("h.csv", "户编号,经度,纬度\nA1,111.5,40.8\nA2,111.6,40.8\nA1,111.7,40.8\n"), HH,
         InputError, "error.tables.duplicate_id", ("h.csv", "A1", "户编号"),
         ("rows 2 and 4", "change one of them"), ("第 2 行和第 4 行", "请修改其中一行")),
    Case("duplicate-service-ids",
         text("s.csv", "id,类型,lon,lat\nK1,幼儿园,111.5,40.8\nK1,小学,111.6,40.8\n"),
         read_services, InputError, "error.tables.duplicate_id", ("s.csv", "K1"),
         ("rows 2 and 3", "change one of them"), ("第 2 行和第 3 行", "请修改其中一行")),
    # -- wrong geometry for the layer
    Case("polygons-given-as-households", geodata("villages.gpkg", two_squares), HH, InputError,
         "error.households.not_points", ("villages.gpkg", "Polygon (2)"),
         ("features 1, 2", "Choose a file of household points"),
         ("第 1, 2 个要素", "请选择住户点文件")),
    Case("kml-folders-with-a-road-as-households", text("调查.kml", KML_FOLDERS_WITH_A_ROAD), HH,
         InputError, "error.households.not_points", ("调查.kml", "LineString (1)"),
         ("features 2", "Choose a file of household points"), ("第 2 个要素", "请选择住户点文件")),
    Case("village-area-collapsed-to-a-line", geodata("v.gpkg", collapsed_polygon), read_villages,
         InputError, "error.villages.invalid_polygon", ("v.gpkg", "乙村"),
         ("feature 2", "Fix it in your GIS"), ("第 2 个要素", "请在 GIS 软件中检查并修正")),
    Case("village-layer-with-a-line", geodata("v.gpkg", village_line), read_villages, InputError,
         "error.villages.bad_geometry", ("v.gpkg", "LineString (1)"),
         ("features 2", "delete the other features"), ("第 2 个要素", "请删除其他要素")),
    Case("villages-without-names", text("v.csv", "村名,lon,lat\n前进村,111.5,40.8\n,111.6,40.8\n"),
         read_villages, InputError, "error.villages.missing_name", ("v.csv", "村名"),
         ("rows 3", "Fill in the names"), ("第 3 行", "请补上村名")),
    Case("villages-without-a-name-column", text("v.csv", "code,lon,lat\n1,111.5,40.8\n"),
         read_villages, InputError, "error.villages.no_name_column", ("v.csv", "code, lon, lat"),
         ("Rename the column",), ("请把村名所在列的表头改成其中一个",)),
    Case("unknown-service-kind",
         text("s.csv", "名称,类型,lon,lat\n一幼,幼儿园,111.5,40.8\n卫生院,医院,111.6,40.8\n"),
         read_services, InputError, "error.services.unknown_kind", ("s.csv", "类型", "3: '医院'"),
         ("Change those cells",), ("请把这些单元格改成以下之一",)),
    Case("services-without-kind", text("s.csv", "名称,lon,lat\n一幼,111.5,40.8\n"), read_services,
         InputError, "error.services.no_kind", ("s.csv", "名称, lon, lat"),
         ("Add one",), ("请加一列“类型”",)),
    Case("service-capacity-not-a-number",
         text("s.csv", "名称,类型,学位,lon,lat\n一幼,幼儿园,很多,111.5,40.8\n"), read_services,
         InputError, "error.tables.bad_integer", ("s.csv", "学位", "2: '很多'"),
         ("Write 0, 1, 2",), ("请填写 0、1、2",)),
    # -- zipped Shapefiles
    Case("zip-without-prj", zipped_shapefile("households.zip", skip=(".prj",)), HH, InputError,
         "error.tables.no_crs", ("households.zip", ".prj"),
         ("Zip the .prj together",), ("请把 .prj 文件一起打包",)),
    Case("zip-without-dbf", zipped_shapefile("households.zip", skip=(".dbf",)), HH, InputError,
         "error.tables.zip_missing_part", ("households.zip", "data/户.shp", ".dbf"),
         ("zip them all together",), ("请把它们一起压缩成 zip",)),
    Case("zip-without-shx", zipped_shapefile("households.zip", skip=(".shx",)), HH, InputError,
         "error.tables.zip_missing_part", ("households.zip", ".shx"),
         ("zip them all together",), ("请把它们一起压缩成 zip",)),
    Case("zip-without-a-shapefile", zip_of("h.zip", {"readme.txt": "你好"}), HH, InputError,
         "error.tables.zip_no_shapefile", ("h.zip", "readme.txt"),
         ("Zip all the parts of a Shapefile",), ("请压缩 Shapefile 的全部文件",)),
    Case("zip-with-two-shapefiles", zipped_shapefile("h.zip", twice=True), HH, InputError,
         "error.tables.zip_several_shapefiles", ("h.zip", "data/二.shp", "data/户.shp"),
         ("Put one Shapefile per zip",), ("请每个 zip 只放一个 Shapefile",)),
    # -- geodata files with holes
    Case("geojson-feature-without-geometry", text("h.geojson", GEOJSON_SECOND_WITHOUT_GEOMETRY),
         HH, InputError, "error.tables.missing_geometry", ("h.geojson",),
         ("features 2", "Delete them or draw them"), ("第 2 个要素", "请在 GIS 软件中删除或补画")),
    Case("geojson-without-features",
         text("h.geojson", '{"type": "FeatureCollection", "features": []}'), HH, NoDataError,
         "error.tables.no_features", ("h.geojson",),
         ("Check that the right layer was exported",), ("请检查导出时是否选对了图层",)),
    # -- not geodata at all
    Case("image-renamed-csv", raw("photo.csv", PNG_BYTES), HH, FileFormatError,
         "error.tables.not_readable", ("photo.csv", "GeoJSON"),
         ("Check that the file is not damaged",), ("请确认文件没有损坏",)),
    Case("pdf-renamed-xlsx", raw("report.xlsx", PDF_BYTES), HH, FileFormatError,
         "error.tables.not_readable", ("report.xlsx", "XLSX"),
         ("Check that the file is not damaged",), ("请确认文件没有损坏",)),
    Case("json-that-is-not-geojson", text("data.json", '{"hello": [1, 2, 3]}'), HH,
         FileFormatError, "error.tables.not_readable", ("data.json", "GeoJSON"),
         ("Check that the file is not damaged",), ("请确认文件没有损坏",)),
    Case("word-document", raw("名单.docx", b"PK\x03\x04" + bytes(60)), HH, FileFormatError,
         "error.tables.unsupported_extension", ("名单.docx", ".docx", "CSV, XLSX"),
         ("Supported formats",), ("可以读取的格式",)),
    Case("enormous-file", sparse("big.csv", MAX_TABLE_BYTES + 1), HH, InputError,
         "error.tables.too_large", ("big.csv", "100 MB"),
         ("the limit is 100 MB", "split the file"), ("上限 100 MB", "拆成几个较小的文件")),
    # -- OpenStreetMap files
    Case("osm-without-roads", text("area.osm", OSM_NO_ROADS), read_osm, NoDataError,
         "error.osm.no_roads", ("area.osm", "highway"),
         ("Use an OSM file that contains the road network",), ("请换一个包含道路网的 OSM 文件",)),
    Case("table-renamed-osm", text("area.osm", "lon,lat\n111.5,40.8\n"), read_osm,
         FileFormatError, "error.osm.corrupt", ("area.osm",),
         ("Download or export the file again",), ("请重新下载或重新导出该文件",)),
]  # fmt: skip


def tree_state(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``folder``: (size, sha1). Hashing keeps the 100 MB case cheap."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h = hashlib.sha1()
            with open(p, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                    h.update(block)
            out[str(p.relative_to(folder))] = (p.stat().st_size, h.hexdigest())
    return out


def test_the_catalogue_is_large_and_its_ids_are_unique():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_a_clear_message(tmp_path, case):
    path = case.build(tmp_path)
    before = tree_state(tmp_path)
    started = time.monotonic()
    with pytest.raises(case.error) as info:
        case.load(path, **case.kwargs)
    elapsed = time.monotonic() - started
    err = info.value
    assert err.key == case.key, str(err)
    en, zh = err.message("en"), err.message("zh")
    assert str(err) == en
    assert en != zh
    for fragment in case.both:
        assert fragment in en, f"{fragment!r} not in {en!r}"
        assert fragment in zh, f"{fragment!r} not in {zh!r}"
    for fragment in case.en:
        assert fragment in en, f"{fragment!r} not in {en!r}"
    for fragment in case.zh:
        assert fragment in zh, f"{fragment!r} not in {zh!r}"
    # Chinese text really is Chinese, and no placeholder is left unfilled
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.replace(path.name, ""))
    assert "{" not in en.replace(path.name, "") and "{" not in zh.replace(path.name, "")
    assert tree_state(tmp_path) == before
    assert elapsed < 10.0  # refused promptly, never a frozen app (the 100 MB case included)


def test_every_catalogue_key_has_the_same_placeholders_in_both_languages():
    for key in {c.key for c in CASES} | {"warning.households.outside_area"}:
        texts = i18n.texts_for(key)
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


def test_the_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    import layers.tables as tables

    path = tmp_path / "h.csv"
    path.write_text("lon,lat\n111.5,40.8\n", encoding="utf-8")
    assert len(read_table(path)) == 1
    monkeypatch.setattr(tables, "MAX_TABLE_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert info.value.key == "error.tables.too_large"
    assert info.value.params == {"file": "h.csv", "size_mb": "0", "limit_mb": "0"}


def test_not_readable_messages_do_not_show_the_temporary_path(tmp_path):
    # the app reads uploads from a temporary copy; the message names the user's file only
    path = tmp_path / "tmpxyz123.json"
    path.write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(FileFormatError) as info:
        read_households(path, layer_label="村民.json")
    for lang in ("en", "zh"):
        assert "tmpxyz123" not in info.value.message(lang)
        assert "村民.json" in info.value.message(lang)


# --------------------------------------------------------------------------------------------
# Odd but usable: accepted, with the documented behaviour


def test_fullwidth_digits_and_a_utf16_excel_export_are_read(tmp_path):
    path = tmp_path / "h.txt"  # Excel's "Unicode text": UTF-16 with a BOM, tab separated
    path.write_bytes(
        "户号\t经度\t纬度\t儿童数\nA1\t１１１．６５\t４０．８２\t３\n".encode("utf-16")
    )
    hh = read_households(path)
    assert (hh.geometry.x.iloc[0], hh.geometry.y.iloc[0]) == (111.65, 40.82)
    assert hh["children"].tolist() == [3]


def test_a_kml_with_folders_of_points_is_one_households_layer(tmp_path):
    kml = KML_FOLDERS_WITH_A_ROAD.replace(
        "<LineString><coordinates>111.6,40.8 111.7,40.9</coordinates>\n</LineString>",
        "<Point><coordinates>111.7,40.9</coordinates></Point>",
    )
    path = tmp_path / "调查.kml"
    path.write_text(kml, encoding="utf-8")
    hh = read_households(path)
    assert hh["source_row"].tolist() == [1, 2]
    assert hh.index.tolist() == ["H1", "H2"]


def test_a_self_intersecting_village_area_is_repaired(tmp_path):
    bowtie = shapely.Polygon([(111.0, 40.0), (111.1, 40.1), (111.1, 40.0), (111.0, 40.1)])
    assert not bowtie.is_valid
    gpd.GeoDataFrame({"name": ["甲村"]}, geometry=[bowtie], crs="EPSG:4326").to_file(
        tmp_path / "v.gpkg"
    )
    v = read_villages(tmp_path / "v.gpkg")
    area = v["boundary"].iloc[0]
    assert area.is_valid and area.geom_type == "MultiPolygon"
    # two triangles meeting at (111.05, 40.05), each 0.1 wide and 0.05 high (square degrees)
    assert area.area == pytest.approx(2 * 0.1 * 0.05 / 2, rel=1e-9)
    assert area.contains(v.geometry.iloc[0])


# A 6 km secondary road along x (nodes every km) and, 4 km further, a separate 2 km piece
# that touches nothing (metres on UTM 49N, see tests/netbuild.py). One kindergarten at x=0.
#   village N (1000, 0) on the main road; village F (11000, 0) on the separate piece
#   household h-near (1000, 100); h-far (11000, 100); h-on-k exactly on the kindergarten;
#   h-outside 30 km north of the road, far outside the study area.
STUDY_AREA_XY = [(-500.0, -1000.0), (12500.0, -1000.0), (12500.0, 1000.0), (-500.0, 1000.0)]


def odd_scenario() -> Scenario:
    nodes = {i: (1000.0 * i, 0.0) for i in range(7)} | {
        10: (10000.0, 0.0),
        11: (11000.0, 0.0),
        12: (12000.0, 0.0),
    }
    r = roads(nodes, [(1, list(range(7)), "secondary"), (2, [10, 11, 12], "track")])
    vil = points({"N": (1000.0, 0.0), "F": (11000.0, 0.0)})
    vil["village_id"] = vil.index
    vil["village_name"] = ["近村", "远村"]
    vil["boundary"] = gpd.GeoSeries([None, None], index=vil.index, crs="EPSG:4326")
    vil["source"] = "file"
    hh = points(
        {
            "h-near": (1000.0, 100.0),
            "h-far": (11000.0, 100.0),
            "h-on-k": (0.0, 0.0),
            "h-outside": (3000.0, 30000.0),
        }
    )
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array([None] * 4, dtype="str")
    hh["name"] = pd.array([None] * 4, dtype="str")
    hh["phone"] = pd.array([None] * 4, dtype="str")
    hh["children"] = pd.array([1, 2, 1, 1], dtype="Int64")
    hh["source_row"] = pd.array([2, 3, 4, 5], dtype="Int64")
    area = shapely.Polygon([lonlat(x, y) for x, y in STUDY_AREA_XY])
    return Scenario(
        roads=r,
        villages=validate_villages(vil),
        households=validate_households(hh),
        services=services({"k": ("kindergarten", 0.0, 0.0)}),
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        study_area=area,
        title={"zh": "测试", "en": "Test"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def odd():
    settings = AnalysisSettings(
        mode="car", thresholds_m={"kindergarten": 5000.0, "school": 10000.0},
        kinds=("kindergarten", "school"),
    )  # fmt: skip
    return run_analysis(odd_scenario(), settings)


def test_roads_in_several_pieces_snap_to_the_largest_piece_by_default(odd):
    # settings.snap_to = "largest" (as osmnx keeps the largest component): h-far walks to the
    # main road's end at x = 6 km, sqrt(5000^2 + 100^2) m, then drives 6 km
    hh, v = odd.households, odd.villages
    assert odd.settings.snap_to == "largest"
    assert hh.loc["h-far", "offroad_m"] == pytest.approx(np.hypot(5000.0, 100.0), abs=1e-3)
    assert hh.loc["h-far", "dist_kindergarten_m"] == pytest.approx(
        np.hypot(5000.0, 100.0) + 6000.0, abs=1e-3
    )
    assert hh.loc["h-near", "dist_kindergarten_m"] == pytest.approx(1100.0, abs=1e-3)
    assert v.loc["F", "offroad_m"] == pytest.approx(5000.0, abs=1e-3)  # visible in the table
    assert bool(v.loc["F", "flag_kindergarten"]) and not bool(v.loc["N", "flag_kindergarten"])


def test_roads_in_several_pieces_leave_the_far_piece_unreachable_with_a_reason(odd):
    a = run_analysis(odd.scenario, odd.settings.with_(snap_to="any"))
    hh, v = a.households, a.villages
    assert not bool(hh.loc["h-far", "reachable_kindergarten"])
    assert hh.loc["h-far", "unreachable_kindergarten"] == "not_connected"
    assert np.isnan(hh.loc["h-far", "dist_kindergarten_m"])
    assert hh.loc["h-near", "dist_kindergarten_m"] == pytest.approx(1100.0, abs=1e-3)
    assert bool(v.loc["F", "flag_kindergarten"]) and not bool(v.loc["N", "flag_kindergarten"])
    # the straight-line distance (11 km) is given instead, and what to check
    assert v.loc["F", "reason_kindergarten_en"] == (
        "远村: no kindergarten can be reached by road; the nearest one in a straight line is "
        "11.0 km away. Check that the roads connect."
    )
    assert "请检查道路数据是否连通" in v.loc["F", "reason_kindergarten_zh"]


def test_no_service_of_a_kind_anywhere_is_flagged_with_its_reason(odd):
    hh, v = odd.households, odd.villages
    assert (hh["unreachable_school"] == "no_service").all()
    assert hh["dist_school_m"].isna().all() and hh["nearest_school"].isna().all()
    assert v["flag_school"].all()
    assert v.loc["N", "reason_school_en"] == "近村: there is no school in the study area."
    assert v.loc["N", "reason_school_zh"] == "近村：研究区内没有学校。"


def test_a_service_exactly_on_a_household_is_zero_metres_away(odd):
    row = odd.households.loc["h-on-k"]
    assert row["offroad_m"] == pytest.approx(0.0, abs=1e-6)
    assert odd.services.loc["k", "offroad_m"] == pytest.approx(0.0, abs=1e-6)
    # distance = the household's leg (0) + road (0) + the service's own leg (0)
    assert row["dist_kindergarten_m"] == pytest.approx(0.0, abs=1e-6)
    assert row["nearest_kindergarten_id"] == "k" and bool(row["reachable_kindergarten"])


def test_a_service_on_a_household_off_the_road_counts_both_legs(odd):
    # the same spot 200 m off the road: the trip is measured household -> road -> service
    # (module docstring of mapping.access), so 200 + 0 + 200 m, not 0
    sc = odd.scenario
    moved = sc.households.copy()
    moved.loc["h-on-k", "geometry"] = shapely.Point(*lonlat(3000.0, 200.0))
    svc = services({"k": ("kindergarten", 3000.0, 200.0)})
    a = run_analysis(sc.replace(households=moved, services=svc), odd.settings)
    row = a.households.loc["h-on-k"]
    assert row["offroad_m"] == pytest.approx(200.0, abs=1e-6)
    assert a.services.loc["k", "offroad_m"] == pytest.approx(200.0, abs=1e-6)
    assert row["dist_kindergarten_m"] == pytest.approx(400.0, abs=1e-6)
    assert row["straight_kindergarten_m"] == pytest.approx(0.0, abs=1e-6)


def test_households_outside_the_study_area_are_kept_and_reported(odd):
    hh = odd.households
    # still analysed: its 29 km walk to the road is part of its distance
    assert hh.loc["h-outside", "offroad_m"] == pytest.approx(30000.0, abs=1e-3)
    assert hh.loc["h-outside", "dist_kindergarten_m"] == pytest.approx(33000.0, abs=1e-3)
    outside = find_households_outside(odd.scenario.households, odd.scenario.study_area)
    assert outside.index.tolist() == ["h-outside"]
    assert outside["outside_m"].iloc[0] == pytest.approx(29000.0, abs=1.0)
    en = describe_households_outside(outside, "en")
    assert en == (
        "1 household(s) lie more than 1 km outside the study area (rows 5; the farthest "
        "29.0 km). Check their coordinates (longitude and latitude swapped? Amap/Baidu "
        "coordinates not converted?) or remove them from the file. They are still included "
        "in the analysis."
    )
    zh = describe_households_outside(outside, "zh")
    assert "第 5 行" in zh and "29.0 公里" in zh and "经纬度是否填反" in zh


def test_households_within_the_tolerance_or_without_an_area_are_not_reported(odd):
    hh = odd.scenario.households.drop(index="h-outside")
    assert len(find_households_outside(hh, odd.scenario.study_area)) == 0
    assert describe_households_outside(find_households_outside(hh, None), "zh") is None
    # an outline whose north edge runs 50 m south of h-near and h-far (both at y = 100 m)
    edge = shapely.Polygon(
        [lonlat(x, y) for x, y in [(-500, -1000), (12500, -1000), (12500, 50), (-500, 50)]]
    )
    assert len(find_households_outside(hh, edge)) == 0  # 50 m out: within the 1 km tolerance
    out = find_households_outside(hh, edge, tolerance_m=10.0)
    assert out["outside_m"].to_numpy() == pytest.approx([50.0, 50.0], abs=0.5)
    assert set(out.index) == {"h-near", "h-far"}


# --------------------------------------------------------------------------------------------
# Through the app: the message in the user's language, and nothing lost


APP_CASES = [
    "lat-lon-swapped",
    "mixed-gbk-and-utf8",
    "xlsx-merged-title-row",
    "polygons-given-as-households",
    "zip-without-prj",
]


def _fresh_app(lang: str | None = None):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if lang is not None:
        at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app():
    return _fresh_app()


def _format_in(at, lang: str) -> None:
    """Make AppTest format option labels in ``lang``.

    AppTest finds a select box's or radio's choice by calling the app's ``format_func``
    outside the script run, where the app's ``t()`` sees no session and falls back to
    Chinese; the English labels it rendered would then not be found. (A browser sends the
    chosen index, so the app itself is not affected.)
    """
    import streamlit
    from streamlit.runtime.state.common import TESTING_KEY

    funcs = at.session_state[TESTING_KEY]
    for wid, func in list(funcs.items()):

        def in_lang(value, func=func):
            real = streamlit.session_state
            streamlit.session_state = {"lang": lang}
            try:
                return func(value)
            finally:
                streamlit.session_state = real

        funcs[wid] = in_lang


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def load_in_app(at, path: Path, lang: str = "zh") -> list[str]:
    at.session_state["exp_layers"] = True  # the section of one's own layers, opened
    at.run()
    at.text_input(key="layer_path_households").input(str(path)).run()
    if lang != "zh":
        _format_in(at, lang)
    at.button(key="apply_layers").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


def test_bad_files_in_the_app_are_explained_and_nothing_is_lost(app, tmp_path_factory):
    by_id = {c.id: c for c in CASES}
    scenario = app.session_state["scenario"]
    before = metrics(app)
    for case_id in APP_CASES:
        case = by_id[case_id]
        folder = tmp_path_factory.mktemp(case_id)
        path = case.build(folder)
        errors = load_in_app(app, path)
        assert len(errors) == 1, (case_id, errors)
        expected = i18n.t(case.key, "zh", **_params(case, folder))
        assert expected in errors[0], (case_id, errors[0])
        assert "之前的数据和设置保持不变" in errors[0]
        assert app.session_state["scenario"] is scenario
        assert metrics(app) == before


def test_a_bad_file_in_the_english_app_is_explained_in_english(tmp_path):
    # the session starts in English: AppTest remembers select boxes and radios by their shown
    # (translated) labels, which a switch half-way would leave stale (a browser sends indexes)
    at = _fresh_app(lang="en")
    assert at.radio(key="lang").value == "en"
    _format_in(at, "en")
    scenario = at.session_state["scenario"]
    before = metrics(at)
    case = next(c for c in CASES if c.id == "lat-lon-swapped")
    errors = load_in_app(at, case.build(tmp_path), lang="en")
    assert len(errors) == 1
    assert i18n.t(case.key, "en", **_params(case, tmp_path)) in errors[0]
    assert "The previous data and settings are kept." in errors[0]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in errors[0].replace("纬度", "").replace(
        "经度", ""))  # fmt: skip
    assert at.session_state["scenario"] is scenario
    assert metrics(at) == before


def _params(case: Case, folder: Path) -> dict:
    """The parameters the loader puts in the error (read directly, for the expected text)."""
    path = next(p for p in folder.iterdir() if p.is_file())
    with pytest.raises(GapMapperError) as info:
        case.load(path, **case.kwargs)
    return info.value.params
