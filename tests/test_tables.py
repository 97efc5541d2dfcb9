"""read_table: every format's happy path, and every bad file with its message."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import shapely

from layers import i18n
from layers.coords import bd09_to_wgs84, gcj02_to_wgs84
from layers.errors import FileFormatError, GapMapperError, InputError, NoDataError, SettingsError
from layers.tables import read_table

# Three households in Hohhot's countryside (WGS84 degrees).
POINTS = [(111.652, 40.821), (111.7031, 40.7902), (111.6895, 40.8555)]
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def raises(exc_type, key: str, path: Path, *parts: str, **kwargs) -> GapMapperError:
    """read_table(path) raises exc_type with key; English text holds parts; nothing changed."""
    before = snapshot(path.parent)
    with pytest.raises(exc_type) as info:
        read_table(path, **kwargs)
    err = info.value
    assert err.key == key, str(err)
    text = str(err)
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    assert err.message("zh") != text  # a Chinese text exists and is filled in
    assert snapshot(path.parent) == before
    return err


def points_frame(crs="EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"户号": ["A1", "A2", "A3"], "户主": ["张三", "李四", "王五"], "儿童数": [2, 0, 1]},
        geometry=[shapely.Point(x, y) for x, y in POINTS],
        crs=crs,
    )


def assert_points(gdf: gpd.GeoDataFrame, expected=POINTS, atol: float = 0.0) -> None:
    assert gdf.crs.equals("EPSG:4326")
    got = np.column_stack([gdf.geometry.x, gdf.geometry.y])
    np.testing.assert_allclose(got, np.asarray(expected), rtol=0, atol=atol)


# --------------------------------------------------------------------------------------------
# CSV

CSV_ZH = "户号,户主,经度,纬度,儿童数\nA1,张三,111.652,40.821,2\nA2,李四,111.7031,40.7902,0\nA3,王五,111.6895,40.8555,1\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_with_chinese_headers(tmp_path, encoding):
    gdf = read_table(write(tmp_path / "households.csv", CSV_ZH, encoding))
    assert_points(gdf)
    assert list(gdf.columns) == ["户号", "户主", "经度", "纬度", "儿童数", "source_row", "geometry"]
    assert gdf["户主"].tolist() == ["张三", "李四", "王五"]
    assert gdf["source_row"].tolist() == [2, 3, 4]
    assert str(gdf["source_row"].dtype) == "Int64"


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ("lon", "lat"),
        ("Longitude", "Latitude"),
        ("LNG", "LAT"),
        ("long", "lat"),
        ("X", "Y"),
        ("东经", "北纬"),
        (" Lon_ ", "LA T"),
    ],
)
def test_csv_lon_lat_headers(tmp_path, lon, lat):
    text = f"{lat},name,{lon}\n40.821,a,111.652\n"
    gdf = read_table(write(tmp_path / "h.csv", text))
    assert_points(gdf, [POINTS[0]])


def test_csv_semicolon_with_comma_decimals(tmp_path):
    text = "name;lon;lat\na;111,652;40,821\nb;111.7031;40.7902\n"
    assert_points(read_table(write(tmp_path / "h.csv", text)), POINTS[:2])


def test_csv_tab_delimited(tmp_path):
    text = "name\tlng\tlat\na\t111.652\t40.821\nb\t111,7031\t40,7902\n"
    assert_points(read_table(write(tmp_path / "h.txt", text)), POINTS[:2])


def test_csv_fullwidth_digits_degrees_and_spaces(tmp_path):
    text = (
        "name,经度,纬度\n"
        "a,１１１．６５２,４０．８２１\n"
        'b," 111.7031° ",40.7902°N\n'
        "c,111.6895E,４０.８５５５\n"
        "d,－111.5,-40.5\n"
    )
    gdf = read_table(write(tmp_path / "h.csv", text))
    assert_points(gdf, [*POINTS, (-111.5, -40.5)])


def test_csv_rows_keep_spreadsheet_numbers_across_blank_lines(tmp_path):
    text = "\nlon,lat,name\n111.652,40.821,a\n,,\n\n111.7031,40.7902,b\n\n"
    gdf = read_table(write(tmp_path / "h.csv", text))
    # header on line 2 (a blank line 1 is a spreadsheet row too), data on lines 3 and 6
    assert gdf["source_row"].tolist() == [3, 6]
    assert gdf["name"].tolist() == ["a", "b"]


def test_csv_empty_cells_are_na_and_text_is_kept(tmp_path):
    text = "id,lon,lat,phone,note\n007,111.652,40.821,13800000000,\n"
    gdf = read_table(write(tmp_path / "h.csv", text))
    assert gdf.loc[0, "id"] == "007" and gdf.loc[0, "phone"] == "13800000000"
    assert gdf.loc[0, "note"] is pd.NA


@pytest.mark.parametrize(
    ("system", "convert"), [("gcj02", gcj02_to_wgs84), ("bd09", bd09_to_wgs84)]
)
def test_csv_declared_chinese_coordinates_are_converted(tmp_path, system, convert):
    gdf = read_table(write(tmp_path / "h.csv", CSV_ZH), coords=system)
    lon, lat = np.array(POINTS).T
    assert_points(gdf, np.column_stack(convert(lon, lat)))
    # and the shift is real: hundreds of metres, not a rounding
    assert np.abs(gdf.geometry.x.to_numpy() - lon).min() > 0.001


def test_unknown_coords_is_a_settings_error(tmp_path):
    path = write(tmp_path / "h.csv", CSV_ZH)
    with pytest.raises(SettingsError) as info:
        read_table(path, coords="beijing54")
    assert info.value.key == "error.coords.unknown_system"


# --------------------------------------------------------------------------------------------
# CSV / XLSX errors


def test_no_lon_lat_columns(tmp_path):
    path = write(tmp_path / "h.csv", "户号,地址,东西\nA1,某村,1\n")
    raises(
        InputError,
        "error.tables.no_lon_lat",
        path,
        "h.csv",
        "户号, 地址, 东西",
        "lon, lng, long, longitude, x, 经度, 东经",
        "lat, latitude, y, 纬度, 北纬",
    )


def test_only_longitude_column(tmp_path):
    path = write(tmp_path / "h.csv", "lon,name\n111.5,a\n")
    raises(InputError, "error.tables.no_lon_lat", path, "lon, name")


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\xef\xbb\xbf", b",,\n,,\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "h.csv"
    path.write_bytes(content)
    raises(NoDataError, "error.tables.empty_file", path, "h.csv")


def test_header_only(tmp_path):
    path = write(tmp_path / "h.csv", "lon,lat,name\n\n")
    raises(NoDataError, "error.tables.header_only", path, "h.csv", "row 1")


def test_non_numeric_coordinate_names_row_column_value(tmp_path):
    text = "name,lon,lat\na,111.5,40.8\nb,111.6,forty\nc,111.7,40.9\n"
    path = write(tmp_path / "h.csv", text)
    raises(InputError, "error.tables.non_numeric", path, "h.csv", "'lat'", "3: 'forty'", "1 value")


def test_many_bad_rows_show_five_and_the_count(tmp_path):
    rows = "".join(f"r{i},abc{i},40.8\n" for i in range(7))
    path = write(tmp_path / "h.csv", "name,lon,lat\n" + rows)
    err = raises(InputError, "error.tables.non_numeric", path, "7 value(s)", "2: 'abc0'")
    assert "6: 'abc4', ..." in str(err) and "abc5" not in str(err)


def test_comma_decimal_is_not_accepted_in_a_comma_csv(tmp_path):
    path = write(tmp_path / "h.csv", 'name,lon,lat\na,"111,5",40.8\n')
    raises(InputError, "error.tables.non_numeric", path, "2: '111,5'")


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "111.5.2", "--111"])
def test_not_finite_numbers_are_rejected(tmp_path, value):
    path = write(tmp_path / "h.csv", f"name,lon,lat\na,{value},40.8\n")
    raises(InputError, "error.tables.non_numeric", path, f"2: '{value}'")


def test_missing_coordinate(tmp_path):
    path = write(tmp_path / "h.csv", "name,lon,lat\na,111.5,40.8\nb,,40.9\n")
    raises(InputError, "error.tables.missing_coordinate", path, "'lon'", "rows 3")


def test_latitude_out_of_range_hints_at_swapped_columns(tmp_path):
    text = "name,lon,lat\na,111.5,40.8\nb,111.6,95.2\n"
    path = write(tmp_path / "h.csv", text)
    raises(
        InputError,
        "error.tables.out_of_range",
        path,
        "h.csv",
        "1 row(s)",
        "3: 111.6, 95.2",
        "swapped",
    )


def test_swapped_columns_are_said_explicitly(tmp_path):
    text = "name,经度,纬度\na,40.821,111.652\nb,40.7902,111.7031\n"
    path = write(tmp_path / "h.csv", text)
    raises(
        InputError,
        "error.tables.lat_lon_swapped",
        path,
        "column '纬度' holds longitudes",
        "column '经度' latitudes",
        "every row is valid",
    )


def test_projected_metres(tmp_path):
    text = "name,x,y\na,500000,4500000\nb,512345.6,4512345.6\n"
    path = write(tmp_path / "h.csv", text)
    raises(InputError, "error.tables.projected", path, "h.csv", "500000, 4500000", "degrees")


def test_too_many_cells(tmp_path):
    text = "name,lon,lat\na,111.5,40.8\nb,111,6,40.9\n"
    path = write(tmp_path / "h.csv", text)
    raises(InputError, "error.tables.too_many_cells", path, "rows 3")


def test_undecodable_csv(tmp_path):
    path = tmp_path / "h.csv"
    # 0x81 0x20 is invalid in UTF-8 and in GB18030 (a lead byte then an ASCII space)
    path.write_bytes(b"lon,lat\n111.5,40.8\n\x81\x20,\xff\n")
    raises(InputError, "error.tables.encoding", path, "h.csv", "UTF-8")


def test_huge_csv_field_is_read_and_an_unclosed_quote_is_a_csv_error(tmp_path):
    path = write(tmp_path / "h.csv", "lon,lat,note\n111.5,40.8," + "x" * 200_000 + "\n")
    assert read_table(path)["note"].tolist() == ["x" * 200_000]
    path = write(tmp_path / "h.csv", 'lon,lat,note\n111.5,40.8,"' + "x" * 200_000 + "\n")
    raises(InputError, "error.tables.bad_csv", path, "h.csv", "row 2")


def test_layer_label_names_the_file_in_messages(tmp_path):
    path = write(tmp_path / "tmpabc123.csv", "lon,lat\n111.5,abc\n")
    err = raises(InputError, "error.tables.non_numeric", path, "户籍.csv", layer_label="户籍.csv")
    assert "tmpabc123" not in str(err)


# --------------------------------------------------------------------------------------------
# XLSX


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_xlsx_numbers_text_and_rows(tmp_path):
    path = write_xlsx(
        tmp_path / "h.xlsx",
        [
            ["户号", "户主", "经度", "纬度", "电话"],
            [1, "张三", 111.652, 40.821, 13800000000],
            [None, None, None, None, None],
            ["A2", "李四", "111.7031", "40.7902", "13900000000"],
            [3.0, "王五", "111,6895", 40.8555, None],
        ],
    )
    gdf = read_table(path)
    assert_points(gdf)
    assert gdf["source_row"].tolist() == [2, 4, 5]
    assert gdf["户号"].tolist() == ["1", "A2", "3"]
    assert gdf["电话"].tolist()[:2] == ["13800000000", "13900000000"]


def test_xlsx_bad_cell_names_the_row(tmp_path):
    path = write_xlsx(tmp_path / "h.xlsx", [["lon", "lat"], [111.5, 40.8], [111.6, "北"]])
    raises(InputError, "error.tables.non_numeric", path, "h.xlsx", "3: '北'")


def test_xlsx_header_only_and_empty(tmp_path):
    raises(NoDataError, "error.tables.header_only", write_xlsx(tmp_path / "a.xlsx", [["lon"]]))
    raises(NoDataError, "error.tables.empty_file", write_xlsx(tmp_path / "b.xlsx", []))


# --------------------------------------------------------------------------------------------
# geodata files


def test_geojson(tmp_path):
    path = tmp_path / "h.geojson"
    points_frame().to_file(path, driver="GeoJSON")
    gdf = read_table(path)
    assert_points(gdf)
    assert gdf["source_row"].tolist() == [1, 2, 3]
    assert gdf["户主"].tolist() == ["张三", "李四", "王五"]


def test_gpkg_in_utm_is_reprojected(tmp_path):
    utm = pyproj.Transformer.from_crs(4326, 32649, always_xy=True)
    gdf = points_frame()
    gdf = gdf.set_geometry(
        [shapely.Point(*utm.transform(x, y)) for x, y in POINTS], crs="EPSG:32649"
    )
    path = tmp_path / "h.gpkg"
    gdf.to_file(path, layer="households")
    assert_points(read_table(path), atol=1e-9)


def test_gpkg_first_or_named_layer(tmp_path):
    path = tmp_path / "two.gpkg"
    points_frame().to_file(path, layer="first")
    other = points_frame().iloc[:1].copy()
    other["户主"] = ["其他"]
    other.to_file(path, layer="second")
    assert read_table(path)["户主"].tolist() == ["张三", "李四", "王五"]
    assert read_table(path, layer="second")["户主"].tolist() == ["其他"]
    raises(
        InputError,
        "error.tables.layer_not_found",
        path,
        "'third'",
        "first, second",
        layer="third",
    )


def test_gpkg_with_declared_gcj02(tmp_path):
    path = tmp_path / "h.gpkg"
    points_frame().to_file(path)
    lon, lat = np.array(POINTS).T
    assert_points(read_table(path, coords="gcj02"), np.column_stack(gcj02_to_wgs84(lon, lat)))


def zip_shapefile(tmp_path: Path, gdf: gpd.GeoDataFrame, skip=(), encoding=None) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir()
    kwargs = {"encoding": encoding} if encoding else {}
    gdf.to_file(folder / "户.shp", **kwargs)
    path = tmp_path / "households.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for part in sorted(folder.iterdir()):
            if part.suffix not in skip:
                archive.write(part, f"data/{part.name}")
    return path


def test_zipped_shapefile(tmp_path):
    gdf = read_table(zip_shapefile(tmp_path, points_frame()))
    assert_points(gdf)
    assert gdf["户主"].tolist() == ["张三", "李四", "王五"]
    assert gdf["source_row"].tolist() == [1, 2, 3]


def test_zipped_gbk_shapefile_without_cpg(tmp_path):
    path = zip_shapefile(tmp_path, points_frame(), skip=(".cpg",), encoding="GBK")
    assert read_table(path)["户主"].tolist() == ["张三", "李四", "王五"]


def test_zipped_shapefile_without_prj(tmp_path):
    path = zip_shapefile(tmp_path, points_frame(), skip=(".prj",))
    raises(InputError, "error.tables.no_crs", path, "households.zip", ".prj", "GeoJSON", "CSV")


@pytest.mark.parametrize("part", [".dbf", ".shx"])
def test_zipped_shapefile_missing_part(tmp_path, part):
    path = zip_shapefile(tmp_path, points_frame(), skip=(part,))
    raises(InputError, "error.tables.zip_missing_part", path, "households.zip", f"lacks {part}")


def test_zip_without_shapefile(tmp_path):
    path = tmp_path / "h.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    raises(InputError, "error.tables.zip_no_shapefile", path, "h.zip", "readme.txt")


def test_plain_shapefile_with_its_parts(tmp_path):
    points_frame().to_file(tmp_path / "h.shp")
    assert_points(read_table(tmp_path / "h.shp"))
    os.remove(tmp_path / "h.dbf")
    raises(InputError, "error.tables.zip_missing_part", tmp_path / "h.shp", ".dbf")


KML_TWO_FOLDERS = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>村里</name>
<Folder><name>幼儿园</name>
<Placemark><name>一幼</name><Point><coordinates>111.652,40.821,0</coordinates></Point></Placemark>
<Placemark><name>二幼</name><Point><coordinates>111.7031,40.7902,0</coordinates></Point></Placemark>
</Folder>
<Folder><name>小学</name>
<Placemark><name>一小</name><Point><coordinates>111.6895,40.8555</coordinates></Point></Placemark>
</Folder>
</Document></kml>
"""


def test_kml_folders_are_concatenated(tmp_path):
    gdf = read_table(write(tmp_path / "s.kml", KML_TWO_FOLDERS))
    assert_points(gdf)
    assert gdf["Name"].tolist() == ["一幼", "二幼", "一小"]
    assert gdf["folder"].tolist() == ["幼儿园", "幼儿园", "小学"]
    assert gdf["source_row"].tolist() == [1, 2, 3]
    assert not gdf.geometry.has_z.any()


def test_kml_written_by_gdal(tmp_path):
    path = tmp_path / "h.kml"
    points_frame().to_file(path, driver="KML")
    gdf = read_table(path)
    assert_points(gdf, atol=1e-12)
    assert gdf["户主"].tolist() == ["张三", "李四", "王五"]


def test_geojson_in_metres_without_crs_is_projected(tmp_path):
    text = (
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {}, "geometry": '
        '{"type": "Point", "coordinates": [500000, 4500000]}}]}'
    )
    path = write(tmp_path / "h.geojson", text)
    raises(InputError, "error.tables.projected", path, "h.geojson", "500000, 4500000")


def test_geojson_out_of_range_degrees(tmp_path):
    features = ",".join(
        '{"type": "Feature", "properties": {}, "geometry": '
        f'{{"type": "Point", "coordinates": [{x}, {y}]}}}}'
        for x, y in [(111.5, 40.8), (111.5, 140.8)]
    )
    path = write(
        tmp_path / "h.geojson", f'{{"type": "FeatureCollection", "features": [{features}]}}'
    )
    raises(InputError, "error.tables.geo_out_of_range", path, "features 2", "WGS 84")


def test_geojson_missing_geometry(tmp_path):
    text = (
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"n": 1}, "geometry": '
        '{"type": "Point", "coordinates": [111.5, 40.8]}},'
        '{"type": "Feature", "properties": {"n": 2}, "geometry": null}]}'
    )
    path = write(tmp_path / "h.geojson", text)
    raises(InputError, "error.tables.missing_geometry", path, "features 2", "1 feature")


def test_geojson_without_features(tmp_path):
    path = write(tmp_path / "h.geojson", '{"type": "FeatureCollection", "features": []}')
    raises(NoDataError, "error.tables.no_features", path, "h.geojson")


# --------------------------------------------------------------------------------------------
# not geodata at all


@pytest.mark.parametrize(
    "name", ["h.csv", "h.xlsx", "h.geojson", "h.json", "h.gpkg", "h.kml", "h.zip", "h.shp"]
)
@pytest.mark.parametrize("content", [PNG_BYTES, bytes(range(256)) * 4])
def test_binary_junk_is_a_file_format_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as info:  # FileFormatError, or a missing .shx/.dbf for .shp
        read_table(path)
    if name != "h.shp":
        assert isinstance(info.value, FileFormatError)
        assert info.value.key == "error.tables.not_readable"
        assert name in str(info.value) and "GeoJSON" in str(info.value)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["map.png", "notes.docx", "README"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(PNG_BYTES)
    raises(
        FileFormatError,
        "error.tables.unsupported_extension",
        path,
        name,
        "CSV, XLSX, GeoJSON, GeoPackage",
    )


def test_missing_file_is_a_file_format_error(tmp_path):
    with pytest.raises(FileFormatError) as info:
        read_table(tmp_path / "gone.csv")
    assert info.value.key == "error.tables.not_readable" and "gone.csv" in str(info.value)


def test_tables_messages_have_the_same_placeholders_in_both_languages():
    keys = [k for k in i18n.all_keys() if k.startswith("error.tables.")]
    assert len(keys) >= 20
    for key in keys:
        texts = i18n.texts_for(key)
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


# --------------------------------------------------------------------------------------------
# issue 14: how positions were read, headers inside groups, previews without positions


@pytest.fixture
def plain_csv(tmp_path):
    return write(tmp_path / "h.csv", "lon,lat\n111.5,40.8\n")


@pytest.mark.parametrize(
    ("coords", "system", "declared", "reason"),
    [(None, "wgs84", False, "default"), ("auto", "wgs84", False, "default"),
     ("wgs84", "wgs84", True, "user"), ("BD-09", "bd09", True, "user")],
)  # fmt: skip
def test_read_as_records_the_system_and_whether_the_user_chose_it(
    plain_csv, coords, system, declared, reason
):
    from layers.schema import read_as_of

    read_as = read_as_of(read_table(plain_csv, coords=coords, layer_label="我的.csv"))
    assert (read_as.system, read_as.declared, read_as.reason) == (system, declared, reason)
    assert read_as.file == "我的.csv"


def test_lon_lat_inside_a_group_are_found(tmp_path):
    path = write(tmp_path / "h.csv", "info/name,loc/lon,loc/lat\nA,111.5,40.8\n")
    gdf = read_table(path)
    assert (gdf.geometry.x[0], gdf.geometry.y[0]) == (111.5, 40.8)
    assert gdf.attrs["position"] == {"lon": "loc/lon", "lat": "loc/lat"}


def test_a_whole_header_wins_over_one_inside_a_group(tmp_path):
    from layers.tables import find_column

    assert find_column(["a/name", "name"], ("name",)) == "name"
    assert find_column(["a/name", "b"], ("name",)) == "a/name"
    # a dash is a group path only in ODK Central exports
    assert find_column(["hh-village"], ("village",)) is None
    assert find_column(["hh-village"], ("village",), tool="odk") == "hh-village"


def test_a_preview_needs_no_position_column(tmp_path):
    from layers.tables import read_preview

    path = write(tmp_path / "h.csv", "户号,地址\nA1,某村\n\nA2,\n", encoding="gbk")
    preview = read_preview(path, layer_label="住户.csv")
    assert preview.headers == ["户号", "地址"]
    assert preview.rows == [["A1", "某村"], ["A2", ""]]
    assert not preview.geodata and preview.tool is None and preview.sheet is None


def test_a_preview_of_a_workbook_names_its_sheet_and_stops_early(tmp_path):
    from layers.tables import read_preview

    path = tmp_path / "h.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["填表说明"])
    data = wb.create_sheet("住户")
    data.append(["户号", "经度", "纬度"])
    for i in range(500):
        data.append([f"A{i}", 111.5, 40.8])
    wb.save(path)
    preview = read_preview(path, max_rows=10)
    assert preview.sheet == "住户" and len(preview.rows) == 10
    assert preview.rows[0] == ["A0", "111.5", "40.8"]


def test_a_preview_refuses_what_read_table_refuses(tmp_path):
    from layers.tables import read_preview

    path = write(tmp_path / "h.csv", "")
    with pytest.raises(NoDataError) as info:
        read_preview(path)
    assert info.value.key == "error.tables.empty_file"
