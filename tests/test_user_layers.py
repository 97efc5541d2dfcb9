"""Households, villages and services read from users' files onto the layer schemas."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from layers import i18n
from layers.coords import gcj02_to_wgs84
from layers.errors import GapMapperError, InputError, SettingsError
from layers.households import read_households, validate_households
from layers.services import read_services, validate_services
from layers.villages import read_villages, validate_villages


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def raises(exc_type, key: str, reader, path: Path, *parts: str, **kwargs) -> GapMapperError:
    """reader(path) raises exc_type with key; English text holds parts; nothing changed."""
    before = snapshot(path.parent)
    with pytest.raises(exc_type) as info:
        reader(path, **kwargs)
    err = info.value
    assert err.key == key, str(err)
    for part in parts:
        assert part in str(err), f"{part!r} not in {str(err)!r}"
    assert snapshot(path.parent) == before
    return err


# --------------------------------------------------------------------------------------------
# households

HOUSEHOLDS_ZH = (
    "户号,所属村,户主姓名,手机,留守儿童数,经度,纬度\n"
    "A01,前进村,张三,13800000001,2,111.652,40.821\n"
    "A02,前进村,李四,,0,111.7031,40.7902\n"
    "A03,,王五,13800000003,,111.6895,40.8555\n"
)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_households_csv_with_chinese_headers(tmp_path, encoding):
    gdf = read_households(write(tmp_path / "住户.csv", HOUSEHOLDS_ZH, encoding))
    assert gdf.equals(validate_households(gdf))
    assert gdf.index.tolist() == ["A01", "A02", "A03"]
    assert gdf.index.name == "household_id"
    assert gdf["village_name"].tolist()[:2] == ["前进村", "前进村"]
    assert pd.isna(gdf["village_name"].iloc[2])
    assert gdf["name"].tolist() == ["张三", "李四", "王五"]
    assert gdf.loc["A01", "phone"] == "13800000001" and pd.isna(gdf.loc["A02", "phone"])
    assert gdf["children"].tolist()[:2] == [2, 0] and pd.isna(gdf["children"].iloc[2])
    assert str(gdf["children"].dtype) == "Int64"
    assert gdf["source_row"].tolist() == [2, 3, 4]
    assert gdf.geometry.x.tolist() == [111.652, 111.7031, 111.6895]
    assert gdf.geometry.y.tolist() == [40.821, 40.7902, 40.8555]


def test_households_english_headers_gcj02_and_generated_ids(tmp_path):
    text = "id,village,name,tel,n_children,lng,lat\n,Qianjin,Zhang,1,3,111.652,40.821\nB7,,Li,,1,111.7031,40.7902\n"
    gdf = read_households(write(tmp_path / "h.csv", text), coords="gcj02")
    assert gdf.index.tolist() == ["H2", "B7"]
    lon, lat = gcj02_to_wgs84([111.652, 111.7031], [40.821, 40.7902])
    assert np.array_equal(gdf.geometry.x.to_numpy(), lon)
    assert np.array_equal(gdf.geometry.y.to_numpy(), lat)


def test_households_from_xlsx_and_without_optional_columns(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["经度", "纬度", "电话"])
    ws.append([111.652, 40.821, 13800000001])
    ws.append([111.7031, 40.7902, None])
    wb.save(tmp_path / "h.xlsx")
    gdf = read_households(tmp_path / "h.xlsx")
    assert gdf.index.tolist() == ["H2", "H3"]
    assert gdf.loc["H2", "phone"] == "13800000001"
    assert gdf["village_name"].isna().all() and gdf["children"].isna().all()


def test_households_from_geojson_points(tmp_path):
    src = gpd.GeoDataFrame(
        {"household_id": [101, 102], "儿童人数": [1.0, np.nan]},
        geometry=[shapely.Point(111.652, 40.821), shapely.Point(111.7031, 40.7902)],
        crs="EPSG:4326",
    )
    src.to_file(tmp_path / "h.geojson")
    gdf = read_households(tmp_path / "h.geojson")
    assert gdf.index.tolist() == ["101", "102"]
    assert gdf["source_row"].tolist() == [1, 2]
    assert gdf.loc["101", "children"] == 1 and pd.isna(gdf.loc["102", "children"])


def test_households_header_only_file(tmp_path):
    path = write(tmp_path / "h.csv", "id,lon,lat\n")
    raises(InputError, "error.tables.header_only", read_households, path, "h.csv")


def test_duplicate_household_ids_name_the_id_and_both_rows(tmp_path):
    text = "户号,经度,纬度\nA1,111.5,40.8\nA2,111.6,40.8\nA1,111.7,40.8\n"
    path = write(tmp_path / "h.csv", text)
    raises(
        InputError,
        "error.tables.duplicate_id",
        read_households,
        path,
        "h.csv",
        "'A1'",
        "'户号'",
        "rows 2 and 4",
    )


def test_households_must_be_points(tmp_path):
    polys = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[shapely.box(111, 40, 111.1, 40.1), shapely.box(112, 40, 112.1, 40.1)],
        crs="EPSG:4326",
    )
    polys.to_file(tmp_path / "villages.gpkg")
    raises(
        InputError,
        "error.households.not_points",
        read_households,
        tmp_path / "villages.gpkg",
        "villages.gpkg",
        "must be points",
        "Polygon (2)",
    )


@pytest.mark.parametrize("value", ["2.5", "-1", "两个"])
def test_households_bad_children(tmp_path, value):
    text = f"儿童数,经度,纬度\n1,111.5,40.8\n{value},111.6,40.8\n"
    path = write(tmp_path / "h.csv", text)
    raises(
        InputError,
        "error.tables.bad_integer",
        read_households,
        path,
        "'儿童数'",
        f"3: '{value}'",
        "whole numbers",
    )


# --------------------------------------------------------------------------------------------
# villages


def village_areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"村名": ["前进村", "红旗嘎查"], "区划代码": ["150121100201", "150121100202"]},
        geometry=[
            shapely.box(111.60, 40.80, 111.66, 40.84),
            shapely.Polygon([(111.7, 40.7), (111.8, 40.7), (111.8, 40.8), (111.75, 40.72)]),
        ],
        crs="EPSG:4326",
    )


def test_villages_from_polygons(tmp_path):
    src = village_areas()
    src.to_file(tmp_path / "v.gpkg")
    gdf = read_villages(tmp_path / "v.gpkg")
    assert gdf.index.tolist() == ["150121100201", "150121100202"]
    assert gdf.index.name == "village_id"
    assert gdf["village_name"].tolist() == ["前进村", "红旗嘎查"]
    assert (gdf["source"] == "file").all()
    for i in range(2):
        boundary = gdf["boundary"].iloc[i]
        assert boundary.equals(src.geometry.iloc[i])
        assert gdf.geometry.iloc[i].equals(src.geometry.iloc[i].representative_point())
        assert boundary.contains(gdf.geometry.iloc[i])
    assert gdf["boundary"].crs.equals("EPSG:4326")


def test_villages_from_points_csv(tmp_path):
    text = "名称,lon,lat\n前进村,111.652,40.821\n红旗嘎查,111.7031,40.7902\n"
    gdf = read_villages(write(tmp_path / "v.csv", text))
    assert gdf.index.tolist() == ["V2", "V3"]
    assert gdf["boundary"].isna().all()
    assert gdf.geometry.x.tolist() == [111.652, 111.7031]


def test_villages_self_intersecting_polygon_is_repaired(tmp_path):
    bowtie = shapely.Polygon([(111.0, 40.0), (111.1, 40.1), (111.1, 40.0), (111.0, 40.1)])
    assert not bowtie.is_valid
    src = gpd.GeoDataFrame({"name": ["甲"]}, geometry=[bowtie], crs="EPSG:4326")
    src.to_file(tmp_path / "v.geojson")
    gdf = read_villages(tmp_path / "v.geojson")
    boundary = gdf["boundary"].iloc[0]
    assert boundary.geom_type == "MultiPolygon" and boundary.is_valid
    assert boundary.area == pytest.approx(0.005, rel=1e-9)  # two triangles of 0.0025 deg²
    assert boundary.contains(gdf.geometry.iloc[0])


def test_villages_unrepairable_polygon_names_the_feature(tmp_path):
    flat = shapely.Polygon([(111.0, 40.0), (111.1, 40.0), (111.2, 40.0), (111.0, 40.0)])
    ok = shapely.box(111, 40, 111.1, 40.1)
    src = gpd.GeoDataFrame({"name": ["甲", "乙"]}, geometry=[ok, flat], crs="EPSG:4326")
    src.to_file(tmp_path / "v.geojson")
    raises(
        InputError,
        "error.villages.invalid_polygon",
        read_villages,
        tmp_path / "v.geojson",
        "v.geojson",
        "feature 2 (乙)",
        "LineString",
    )


def test_villages_missing_names(tmp_path):
    text = "村名,lon,lat\n前进村,111.5,40.8\n,111.6,40.8\n ,111.7,40.8\n"
    path = write(tmp_path / "v.csv", text)
    raises(InputError, "error.villages.missing_name", read_villages, path, "'村名'", "rows 3, 4")


def test_villages_without_a_name_column(tmp_path):
    path = write(tmp_path / "v.csv", "code,lon,lat\n1,111.5,40.8\n")
    raises(InputError, "error.villages.no_name_column", read_villages, path, "code, lon, lat")


def test_villages_lines_are_rejected(tmp_path):
    src = gpd.GeoDataFrame(
        {"name": ["甲"]},
        geometry=[shapely.LineString([(111, 40), (111.1, 40.1)])],
        crs="EPSG:4326",
    )
    src.to_file(tmp_path / "v.gpkg")
    raises(
        InputError,
        "error.villages.bad_geometry",
        read_villages,
        tmp_path / "v.gpkg",
        "features 1",
        "LineString (1)",
    )


def test_villages_output_passes_validation(tmp_path):
    village_areas().to_file(tmp_path / "v.gpkg")
    gdf = read_villages(tmp_path / "v.gpkg")
    again = validate_villages(gdf)
    assert again.index.equals(gdf.index)


# --------------------------------------------------------------------------------------------
# services


def test_services_kind_column_with_chinese_values(tmp_path):
    text = (
        "学校名称,类型,学位数,经度,纬度\n"
        "第一幼儿园,幼儿园,120,111.652,40.821\n"
        "前进小学,小学,300,111.7031,40.7902\n"
        "红旗托育,托育,,111.6895,40.8555\n"
        "Sunshine,Kindergarten,45,111.60,40.80\n"
    )
    gdf = read_services(write(tmp_path / "s.csv", text, "gbk"))
    assert gdf.equals(validate_services(gdf))
    assert gdf.index.tolist() == ["S2", "S3", "S4", "S5"]
    assert gdf["kind"].tolist() == ["kindergarten", "school", "childcare", "kindergarten"]
    assert gdf["name"].tolist() == ["第一幼儿园", "前进小学", "红旗托育", "Sunshine"]
    assert gdf["capacity"].tolist()[:2] == [120, 300] and pd.isna(gdf["capacity"].iloc[2])
    assert (gdf["source"] == "file").all()
    assert gdf.geometry.x.tolist() == [111.652, 111.7031, 111.6895, 111.60]


def test_services_whole_file_kind_and_kml_folders(tmp_path):
    kml = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Folder><name>幼儿园</name>
<Placemark><name>一幼</name><Point><coordinates>111.652,40.821</coordinates></Point></Placemark>
</Folder></Document></kml>"""
    gdf = read_services(write(tmp_path / "s.kml", kml), kind="kindergarten")
    assert gdf["kind"].tolist() == ["kindergarten"]
    assert gdf["name"].tolist() == ["一幼"]
    assert gdf.index.tolist() == ["S1"]


def test_services_areas_become_points_and_unnamed_get_their_id(tmp_path):
    yard = shapely.box(111.60, 40.80, 111.602, 40.802)
    src = gpd.GeoDataFrame({"id": ["K9"], "type": ["school"]}, geometry=[yard], crs="EPSG:4326")
    src.to_file(tmp_path / "s.geojson")
    gdf = read_services(tmp_path / "s.geojson")
    assert gdf.geometry.iloc[0].equals(yard.representative_point())
    assert gdf.loc["K9", "name"] == "K9"
    assert pd.isna(gdf.loc["K9", "capacity"])


def test_services_unknown_kind_names_row_and_accepted_values(tmp_path):
    text = "name,kind,lon,lat\na,school,111.5,40.8\nb,hospital,111.6,40.8\nc,,111.7,40.8\n"
    path = write(tmp_path / "s.csv", text)
    raises(
        InputError,
        "error.services.unknown_kind",
        read_services,
        path,
        "'kind'",
        "2 unknown",
        "3: 'hospital'",
        "4: ''",
        "kindergarten, 幼儿园",
    )


def test_services_without_kind(tmp_path):
    path = write(tmp_path / "s.csv", "name,lon,lat\na,111.5,40.8\n")
    raises(InputError, "error.services.no_kind", read_services, path, "name, lon, lat")


def test_services_bad_kind_setting(tmp_path):
    path = write(tmp_path / "s.csv", "name,lon,lat\na,111.5,40.8\n")
    raises(
        SettingsError,
        "error.services.bad_kind_setting",
        read_services,
        path,
        "hospital",
        kind="hospital",
    )


def test_services_bad_capacity(tmp_path):
    text = "name,kind,容量,lon,lat\na,school,很多,111.5,40.8\n"
    path = write(tmp_path / "s.csv", text)
    raises(InputError, "error.tables.bad_integer", read_services, path, "'容量'", "2: '很多'")


def test_services_duplicate_ids(tmp_path):
    text = "id,kind,lon,lat\nK1,school,111.5,40.8\nK1,school,111.6,40.8\n"
    path = write(tmp_path / "s.csv", text)
    raises(InputError, "error.tables.duplicate_id", read_services, path, "'K1'", "rows 2 and 3")


def test_layer_messages_have_the_same_placeholders_in_both_languages():
    prefixes = ("error.households.", "error.villages.", "error.services.")
    keys = [k for k in i18n.all_keys() if k.startswith(prefixes)]
    assert len(keys) >= 8
    for key in keys:
        texts = i18n.texts_for(key)
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key
