"""Community roads and closures read from GPX, KML, KMZ, GeoJSON, GPKG and zipped Shapefiles.

Every bad input has its test: the message (both languages) names the file and the feature
and says what to do, and nothing in the folder changes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers import i18n, tracks
from layers.coords import gcj02_to_wgs84
from layers.errors import FileFormatError, GapMapperError, InputError, NoDataError
from layers.schema import notes_of
from layers.tracks import (
    make_closures,
    make_community_roads,
    read_closures,
    read_community_roads,
    validate_closures,
    validate_community_roads,
    write_community_roads,
)

GPX_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">\n'
)


def trk(points, name=None, kind=None, src=None, segments=None) -> str:
    """A <trk> with one segment of ``points`` ((lon, lat) pairs), or several ``segments``."""
    segs = segments if segments is not None else [points]
    tags = ""
    if name:
        tags += f"<name>{name}</name>"
    if src:
        tags += f"<src>{src}</src>"
    if kind:
        tags += f"<type>{kind}</type>"
    body = "".join(
        "<trkseg>" + "".join(f'<trkpt lat="{la}" lon="{lo}"/>' for lo, la in seg) + "</trkseg>"
        for seg in segs
    )
    return f"<trk>{tags}{body}</trk>\n"


def gpx(path: Path, *elements: str) -> Path:
    path.write_text(GPX_HEAD + "".join(elements) + "</gpx>\n", encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def raises(exc_type, key, reader, path, *parts, **kwargs) -> GapMapperError:
    """reader(path) raises exc_type with key; both languages name the file; nothing changed."""
    before = snapshot(path.parent)
    with pytest.raises(exc_type) as info:
        reader(path, **kwargs)
    err = info.value
    assert err.key == key, str(err)
    for part in parts:
        assert part in str(err), f"{part!r} not in {str(err)!r}"
    label = kwargs.get("layer_label") or path.name
    assert label in err.message("zh") and label in err.message("en")
    assert snapshot(path.parent) == before
    return err


A = (113.00, 41.90)
B = (113.01, 41.91)
C = (113.02, 41.905)


# --------------------------------------------------------------------------------------------
# GPX


def test_gpx_tracks_and_routes(tmp_path):
    path = gpx(
        tmp_path / "记录.gpx",
        '<wpt lat="41.9" lon="113.0"><name>村口</name></wpt>\n',
        trk([A, B, C], name="去希乐图的小路", kind="土路", src="王老师"),
        trk(None, name="两段", segments=[[A, B], [B, C]]),
        f'<rte><name>画的路</name><type>乡村道路</type><rtept lat="{A[1]}" lon="{A[0]}"/>'
        f'<rtept lat="{C[1]}" lon="{C[0]}"/></rte>\n',
    )
    roads = read_community_roads(path, added_by="工作坊")
    assert roads.equals(validate_community_roads(roads))
    assert roads.index.tolist() == ["R1", "R2", "R3", "R4"]
    assert roads["source_row"].tolist() == [1, 2, 2, 3]  # tracks 1-2, then route 1 as 3
    assert roads["name"].tolist() == ["去希乐图的小路", "两段", "两段", "画的路"]
    assert roads["road_class"].tolist() == ["track", "track", "track", "unclassified"]
    # the file's <src> wins; the reader's added_by fills the others
    assert roads["added_by"].tolist() == ["王老师", "工作坊", "工作坊", "工作坊"]
    assert roads["modes"].unique().tolist() == ["walk,motorbike,car"]
    assert roads["source"].unique().tolist() == ["记录.gpx"]
    assert shapely.get_coordinates(roads.geometry.iloc[0]).tolist() == [list(A), list(B), list(C)]
    assert notes_of(roads) == ()


def test_gpx_is_wgs84_whatever_coords_says(tmp_path):
    path = gpx(tmp_path / "t.gpx", trk([A, B]))
    roads = read_community_roads(path, coords="gcj02")
    assert shapely.get_coordinates(roads.geometry.iloc[0]).tolist() == [list(A), list(B)]
    (note,) = notes_of(roads)
    assert note.key == "note.tracks.gpx_is_wgs84"
    assert "WGS84" in note.message("zh") and "t.gpx" in note.message("en")


def test_waypoints_only_gpx_says_waypoints_are_not_roads(tmp_path):
    path = gpx(
        tmp_path / "航点.gpx",
        '<wpt lat="41.9" lon="113.0"><name>A</name></wpt>',
        '<wpt lat="41.8" lon="113.1"><name>B</name></wpt>',
    )
    err = raises(InputError, "error.tracks.waypoints_only", read_community_roads, path, "(2)")
    assert "waypoints are points, not roads" in err.message("en")
    assert "households" in err.message("en")
    assert "航点是点，不是道路" in err.message("zh")


def test_empty_gpx(tmp_path):
    path = gpx(tmp_path / "empty.gpx")
    raises(NoDataError, "error.tracks.empty", read_community_roads, path)


def test_one_point_track_alone_is_refused_with_its_number(tmp_path):
    path = gpx(tmp_path / "one.gpx", trk([A]))
    raises(InputError, "error.tracks.no_usable_line", read_community_roads, path, "features 1")


def test_one_point_track_among_others_is_left_out_with_a_warning(tmp_path):
    path = gpx(
        tmp_path / "mixed.gpx",
        trk([A, B]),
        trk([C]),
        trk([A, A, A]),  # three points at one place: still a single point
        trk(None, segments=[[A], [B, C]]),  # a one-point segment in a usable track
    )
    roads = read_community_roads(path)
    assert roads["source_row"].tolist() == [1, 4]
    (note,) = notes_of(roads)
    assert note.key == "warning.tracks.one_point_skipped"
    assert note.params["features"] == "2, 3"
    assert note.is_warning


def test_self_crossing_and_duplicate_tracks_are_read(tmp_path):
    loop = [A, (113.02, 41.92), (113.02, 41.90), (113.00, 41.92)]  # crosses itself
    path = gpx(tmp_path / "dup.gpx", trk(loop), trk(loop), trk([A, B]))
    roads = read_community_roads(path)
    assert len(roads) == 3
    assert roads.geometry.iloc[0].equals(roads.geometry.iloc[1])
    assert not roads.geometry.iloc[0].is_simple  # kept as recorded; the join nodes it


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (GPX_HEAD + trk([A, B]).replace("<trkpt", "<trkpt <<", 1) + "</gpx>", "not well-formed"),
        (GPX_HEAD + trk([A, B])[:-40], "XML"),
        ("this is a note, not a GPS file", "not recognized"),
    ],
)
def test_invalid_xml_names_the_file_and_says_export_again(tmp_path, text, detail):
    path = tmp_path / "坏.gpx"
    path.write_text(text, encoding="utf-8")
    err = raises(FileFormatError, "error.tracks.not_readable", read_community_roads, path, detail)
    assert "export it again" in err.message("en")
    assert "重新导出" in err.message("zh")
    assert str(tmp_path) not in str(err)  # the file as the user named it, not our path


def test_gpx_out_of_range_coordinates(tmp_path):
    path = gpx(tmp_path / "p.gpx", trk([A, B]), trk([(500123.0, 4600456.0), (500200.0, 4600500.0)]))
    raises(InputError, "error.tracks.bad_coordinates", read_community_roads, path, "feature 2")


def test_huge_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.gpx"
    path.write_bytes(b"\0" * 4096)  # not even GPX: the size is checked first
    monkeypatch.setattr(tracks, "MAX_FILE_BYTES", 2048)
    err = raises(InputError, "error.tracks.too_large", read_community_roads, path)
    assert err.params["limit_mb"] == "0" and err.params["size_mb"] == "0"
    monkeypatch.setattr(tracks, "MAX_FILE_BYTES", 3 * 1024 * 1024)
    path.write_bytes(b" " * (5 * 1024 * 1024))
    err = raises(InputError, "error.tracks.too_large", read_community_roads, path, "5 MB", "3 MB")
    assert "split the file" in err.message("en")


def test_too_many_points_stops_the_stream_with_the_limit(tmp_path, monkeypatch):
    pts = [(113.0 + i * 1e-4, 41.9) for i in range(60)]
    path = gpx(tmp_path / "long.gpx", trk(pts), trk(pts))
    monkeypatch.setattr(tracks, "MAX_POINTS", 100)
    raises(InputError, "error.tracks.too_many_points", read_community_roads, path, "100")
    monkeypatch.setattr(tracks, "MAX_POINTS", 120)
    assert len(read_community_roads(path)) == 2


# --------------------------------------------------------------------------------------------
# KML, KMZ, GeoJSON, GPKG, zipped Shapefile


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<name>{doc}</name>
<Placemark><name>牧道</name><LineString><coordinates>{a} {b} {c}</coordinates></LineString></Placemark>
<Placemark><name>村口</name><Point><coordinates>{a}</coordinates></Point></Placemark>
</Document></kml>
"""


def kml_text(doc="roads") -> str:
    def xy(p):
        return f"{p[0]},{p[1]}"

    return KML.format(doc=doc, a=xy(A), b=xy(B), c=xy(C))


def test_kml_lines_with_gcj02(tmp_path):
    path = tmp_path / "路.kml"
    path.write_text(kml_text(), encoding="utf-8")
    roads = read_community_roads(path, coords="gcj02")
    assert roads["name"].tolist() == ["牧道"]
    lon, lat = gcj02_to_wgs84(np.array([A[0], B[0], C[0]]), np.array([A[1], B[1], C[1]]))
    got = shapely.get_coordinates(roads.geometry.iloc[0])
    assert np.allclose(got, np.column_stack([lon, lat]), atol=1e-9)
    (note,) = notes_of(roads)  # the point is not a road
    assert note.key == "warning.tracks.not_lines_skipped"
    assert "Point" in note.message("en")


def test_ovital_kml_gets_a_gcj02_note(tmp_path):
    path = tmp_path / "奥维导出.kml"
    path.write_text(kml_text(doc="奥维互动地图 Ovital export"), encoding="utf-8")
    roads = read_community_roads(path)
    keys = [n.key for n in notes_of(roads)]
    assert "note.tracks.ovital_gcj02" in keys
    text = next(n for n in notes_of(roads) if n.key == "note.tracks.ovital_gcj02").message("zh")
    assert "GCJ-02" in text and "9.3" in text
    # told it is GCJ-02: no note
    roads = read_community_roads(path, coords="gcj02")
    assert "note.tracks.ovital_gcj02" not in [n.key for n in notes_of(roads)]


def test_kmz(tmp_path):
    path = tmp_path / "路.kmz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("doc.kml", kml_text(doc="Ovital"))
    roads = read_community_roads(path, coords="gcj02")
    assert roads["name"].tolist() == ["牧道"]


def lines_frame(**columns) -> gpd.GeoDataFrame:
    geoms = [shapely.LineString([A, B]), shapely.LineString([B, C]), shapely.LineString([A, C])]
    return gpd.GeoDataFrame(columns, geometry=geoms, crs="EPSG:4326")


def test_geojson_with_chinese_columns(tmp_path):
    gdf = lines_frame(
        类型=["乡村道路", "主要道路", "石子路"], 名称=["a", None, "c"], 添加人=["李", "王", None]
    )
    path = tmp_path / "roads.geojson"
    gdf.to_file(path, driver="GeoJSON")
    roads = read_community_roads(path)
    assert roads["road_class"].tolist() == ["unclassified", "secondary", "track"]
    assert roads["name"].isna().tolist() == [False, True, False]
    assert roads["added_by"].tolist()[:2] == ["李", "王"]
    (note,) = notes_of(roads)
    assert note.key == "warning.tracks.unknown_class"
    assert "石子路" in note.message("en") and note.params["features"] == "3"


def test_modes_column(tmp_path):
    path = tmp_path / "m.geojson"
    lines_frame(modes=["步行", "walk, motorbike", None]).to_file(path, driver="GeoJSON")
    roads = read_community_roads(path)
    assert roads["modes"].tolist() == ["walk", "walk,motorbike", "walk,motorbike,car"]
    lines_frame(modes=["walk", "飞机", None]).to_file(path, driver="GeoJSON")
    raises(InputError, "error.tracks.bad_modes", read_community_roads, path, "feature 2", "飞机")


def test_gpkg_and_zipped_shapefile(tmp_path):
    gdf = lines_frame(name=["x", "y", "z"])
    gpkg = tmp_path / "roads.gpkg"
    gdf.to_file(gpkg, driver="GPKG")
    assert read_community_roads(gpkg)["name"].tolist() == ["x", "y", "z"]
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "roads.shp")
    zpath = tmp_path / "roads.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    assert read_community_roads(zpath)["name"].tolist() == ["x", "y", "z"]


def test_points_only_file(tmp_path):
    path = tmp_path / "pts.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(A)], crs="EPSG:4326").to_file(path)
    raises(InputError, "error.tracks.points_only", read_community_roads, path, "Point")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "roads.csv"
    path.write_text("lon,lat\n113,41\n", encoding="utf-8")
    raises(FileFormatError, "error.tracks.unsupported", read_community_roads, path, ".csv")


def test_layer_label_is_the_users_file_name(tmp_path):
    path = gpx(tmp_path / "tmp123.gpx", '<wpt lat="41.9" lon="113.0"/>')
    err = raises(
        InputError,
        "error.tracks.waypoints_only",
        read_community_roads,
        path,
        "我的轨迹.gpx",
        layer_label="我的轨迹.gpx",
    )
    assert "tmp123" not in str(err)


# --------------------------------------------------------------------------------------------
# drawn roads and writing


def test_make_community_roads_and_refuse_a_point():
    roads = make_community_roads(
        [shapely.LineString([A, B]), shapely.LineString([B, C])],
        road_class=["track", "secondary"],
        name="新路",
        added_by="李",
        first_id=5,
    )
    assert roads.index.tolist() == ["R5", "R6"]
    assert roads["source"].unique().tolist() == ["drawn"]
    with pytest.raises(InputError) as info:
        make_community_roads([shapely.LineString([A, A])])
    assert info.value.key == "error.tracks.no_usable_line"


@pytest.mark.parametrize("ext", [".gpx", ".geojson"])
def test_write_and_read_back(tmp_path, ext):
    roads = make_community_roads(
        [shapely.LineString([A, B, C]), shapely.LineString([B, C])],
        road_class=["unclassified", "track"],
        name=["去村里", None],
        added_by=["李老师", None],
        modes=["walk,motorbike,car", "walk"],
    )
    path = write_community_roads(roads, tmp_path / f"out{ext}")
    back = read_community_roads(path)
    assert back["road_class"].tolist() == roads["road_class"].tolist()
    assert back["name"].tolist()[0] == "去村里" and pd.isna(back["name"].iloc[1])
    assert back["added_by"].tolist()[0] == "李老师"
    for g0, g1 in zip(roads.geometry, back.geometry, strict=True):
        assert np.allclose(shapely.get_coordinates(g0), shapely.get_coordinates(g1), atol=1e-9)
    if ext == ".geojson":
        assert back["modes"].tolist() == ["walk,motorbike,car", "walk"]


def test_a_failed_write_leaves_the_earlier_file(tmp_path, monkeypatch):
    roads = make_community_roads([shapely.LineString([A, B])])
    path = write_community_roads(roads, tmp_path / "roads.geojson")
    before = path.read_bytes()

    def broken(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tracks.pyogrio, "write_dataframe", broken)
    with pytest.raises(GapMapperError):
        write_community_roads(make_community_roads([shapely.LineString([B, C])]), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["roads.geojson"]


# --------------------------------------------------------------------------------------------
# closures


def closures_frame(**columns) -> gpd.GeoDataFrame:
    square = shapely.box(113.0, 41.9, 113.01, 41.91)
    line = shapely.LineString([A, C])
    return gpd.GeoDataFrame(columns, geometry=[square, line], crs="EPSG:4326")


def test_closures_with_conditions_and_speeds(tmp_path):
    path = tmp_path / "季节.geojson"
    closures_frame(
        condition=["冬季积雪", "雨季"], speed_kmh=[None, "10"], name=["垭口", None]
    ).to_file(path)
    cl = read_closures(path)
    assert cl.equals(validate_closures(cl))
    assert cl["condition"].tolist() == ["冬季积雪", "雨季"]
    assert np.isnan(cl["speed_kmh"].iloc[0]) and cl["speed_kmh"].iloc[1] == 10.0
    assert cl.geometry.geom_type.tolist() == ["Polygon", "LineString"]


def test_closures_default_condition_is_the_file_name(tmp_path):
    path = tmp_path / "winter_closure.geojson"
    closures_frame().to_file(path)
    assert read_closures(path)["condition"].unique().tolist() == ["winter_closure"]
    assert read_closures(path, condition="冬季")["condition"].unique().tolist() == ["冬季"]


def test_closures_bad_speed_names_the_feature(tmp_path):
    path = tmp_path / "c.geojson"
    closures_frame(speed_kmh=[None, "快"]).to_file(path)
    err = raises(InputError, "error.closures.bad_speed", read_closures, path, "feature 2", "快")
    assert "leave it empty" in err.message("en")
    closures_frame(speed_kmh=[0, None]).to_file(path)
    raises(InputError, "error.closures.bad_speed", read_closures, path, "feature 1")


def test_invalid_closure_polygon_is_repaired_with_a_warning(tmp_path):
    bowtie = shapely.Polygon([(113.0, 41.9), (113.01, 41.91), (113.01, 41.9), (113.0, 41.91)])
    assert not bowtie.is_valid
    path = tmp_path / "bow.geojson"
    gpd.GeoDataFrame(
        geometry=[shapely.box(113.0, 41.8, 113.01, 41.81), bowtie], crs="EPSG:4326"
    ).to_file(path)
    cl = read_closures(path)
    assert cl.geometry.is_valid.all()
    # both lobes kept (buffer(0) would drop one): two triangles of 0.01 x 0.005 / 2 degrees
    assert cl.geometry.iloc[1].area == pytest.approx(2 * 0.01 * 0.005 / 2, rel=1e-9)
    (note,) = notes_of(cl)
    assert note.key == "warning.closures.repaired" and note.params["features"] == "2"


def test_closure_polygon_without_area_is_refused_with_its_number(tmp_path):
    flat = shapely.Polygon([(113.0, 41.9), (113.01, 41.9), (113.02, 41.9), (113.0, 41.9)])
    path = tmp_path / "flat.geojson"
    gpd.GeoDataFrame(
        geometry=[shapely.box(113.0, 41.8, 113.01, 41.81), flat], crs="EPSG:4326"
    ).to_file(path)
    err = raises(InputError, "error.closures.bad_area", read_closures, path, "feature 2")
    assert "Draw the area again" in err.message("en")


def test_closures_of_points_only(tmp_path):
    path = tmp_path / "p.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(A)], crs="EPSG:4326").to_file(path)
    raises(InputError, "error.closures.nothing", read_closures, path, "Point")


def test_closures_from_gpx_tracks(tmp_path):
    path = gpx(tmp_path / "closed.gpx", trk([A, B, C], name="被雪埋的路"))
    cl = read_closures(path, condition="冬季积雪")
    assert cl["name"].tolist() == ["被雪埋的路"]
    assert cl["condition"].tolist() == ["冬季积雪"]


def test_make_closures_repairs():
    bowtie = shapely.Polygon([(113.0, 41.9), (113.01, 41.91), (113.01, 41.9), (113.0, 41.91)])
    cl = make_closures([bowtie], condition="雨季", speed_kmh=15)
    assert cl.geometry.is_valid.all() and cl["speed_kmh"].tolist() == [15.0]


def test_every_message_has_both_languages():
    for key in i18n.all_keys():
        if key.startswith(("error.tracks", "error.closures", "warning.tracks", "note.tracks")):
            texts = i18n.texts_for(key)
            assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


def test_several_files_make_one_layer_with_fresh_ids(tmp_path):
    first = read_community_roads(gpx(tmp_path / "a.gpx", trk([A, B]), trk([C])))
    second = make_community_roads([shapely.LineString([B, C])], name="画的")
    both = tracks.concat_community_roads(first, second, make_community_roads([]))
    assert both.index.tolist() == ["R1", "R2"]
    assert both["source"].tolist() == ["a.gpx", "drawn"]
    assert [n.key for n in notes_of(both)] == ["warning.tracks.one_point_skipped"]
    assert len(tracks.concat_community_roads()) == 0
    cl = tracks.concat_closures(
        make_closures([shapely.box(*A, *B)], condition="冬季积雪"),
        make_closures([shapely.box(*A, *B)], condition="雨季"),
    )
    assert cl.index.tolist() == ["C1", "C2"] and cl["condition"].tolist() == ["冬季积雪", "雨季"]
