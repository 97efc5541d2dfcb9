"""WGS84 / GCJ-02 / BD-09 conversions and the UTM zone choice."""

from __future__ import annotations

import warnings

import numpy as np
import pyproj
import pytest

from layers import i18n
from layers.coords import (
    COORD_SYSTEMS,
    GCJEdgeWarning,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    utm_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from layers.errors import SettingsError

GEOD = pyproj.Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between WGS84 points (arrays)."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# googollee/eviltransform, python/test.py (TESTS): (wgsLat, wgsLng, gcjLat, gcjLng); that test
# asserts wgs2gcj to 6 decimals, and gcj2wgs_exact within 0.5 m of the WGS84 point.
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]

# wandergis/coordtransform, test/app.js: every conversion applied to (116.404, 39.915),
# results as (lon, lat). gcj02towgs84 there is the one-step (approximate) inverse.
CT_INPUT = (116.404, 39.915)
CT_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
CT_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
CT_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
CT_GCJ02_TO_WGS84_ONE_STEP = (116.39775550083061, 39.91359571849836)

# Towns across Inner Mongolia (WGS84, rounded): Hohhot, Baotou, Hailar, Chifeng, Ejina,
# Xilinhot, Ordos (Dongsheng), Tongliao.
INNER_MONGOLIA_TOWNS = np.array(
    [
        (111.75, 40.84),
        (109.84, 40.66),
        (119.77, 49.21),
        (118.89, 42.26),
        (101.06, 41.95),
        (116.09, 43.93),
        (109.78, 39.61),
        (122.26, 43.65),
    ]
)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_eviltransform(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert float(lon) == pytest.approx(glon, abs=1e-6)
    assert float(lat) == pytest.approx(glat, abs=1e-6)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_recovers_eviltransform_points(wlat, wlon, glat, glon):
    lon, lat = gcj02_to_wgs84(glon, glat)
    # eviltransform's own exact inverse is only asked to come within 0.5 m; ours is iterated
    # to 1e-10 degrees, so what remains is eviltransform's slightly different earth radius.
    assert metres(lon, lat, wlon, wlat) < 0.02


def test_coordtransform_reference_values():
    assert np.allclose(wgs84_to_gcj02(*CT_INPUT), CT_WGS84_TO_GCJ02, rtol=0, atol=1e-10)
    assert np.allclose(gcj02_to_bd09(*CT_INPUT), CT_GCJ02_TO_BD09, rtol=0, atol=1e-10)
    assert np.allclose(bd09_to_gcj02(*CT_INPUT), CT_BD09_TO_GCJ02, rtol=0, atol=1e-10)


def test_gcj02_to_wgs84_is_exact_where_the_one_step_inverse_is_not():
    lon, lat = gcj02_to_wgs84(*CT_INPUT)
    forward = wgs84_to_gcj02(lon, lat)
    assert np.allclose(forward, CT_INPUT, rtol=0, atol=1e-10)
    # the published one-step inverse lands within centimetres of ours here, but not on it
    one_step_m = metres(lon, lat, *CT_GCJ02_TO_WGS84_ONE_STEP)
    assert 0.001 < one_step_m < 1.0
    fwd_one_step = wgs84_to_gcj02(*CT_GCJ02_TO_WGS84_ONE_STEP)
    assert metres(*fwd_one_step, *CT_INPUT) > metres(*forward, *CT_INPUT)


def test_round_trip_over_inner_mongolia_below_one_centimetre():
    lon, lat = np.meshgrid(np.linspace(97.2, 126.1, 40), np.linspace(37.4, 53.3, 30))
    gx, gy = wgs84_to_gcj02(lon, lat)
    wx, wy = gcj02_to_wgs84(gx, gy)
    assert wx.shape == lon.shape
    assert metres(wx.ravel(), wy.ravel(), lon.ravel(), lat.ravel()).max() < 0.01
    # and the other way round: GCJ-02 -> WGS84 -> GCJ-02
    fx, fy = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert metres(fx.ravel(), fy.ravel(), lon.ravel(), lat.ravel()).max() < 0.01


def test_offset_in_inner_mongolia_is_a_few_hundred_metres():
    lon, lat = INNER_MONGOLIA_TOWNS.T
    d = metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    # 277 m at Ejina up to 607 m at Xilinhot with the published formula
    assert d.min() > 200
    assert d.max() < 700


def test_bd09_round_trip_below_half_a_metre():
    lon, lat = INNER_MONGOLIA_TOWNS.T
    bx, by = wgs84_to_bd09(lon, lat)
    shift = metres(lon, lat, bx, by)
    assert (shift > 500).all() and (shift < 2000).all()  # BD-09 adds ~1 km on top of GCJ-02
    wx, wy = bd09_to_wgs84(bx, by)
    assert metres(wx, wy, lon, lat).max() < 0.5


@pytest.mark.parametrize(
    "func",
    [gcj02_to_wgs84, wgs84_to_gcj02, bd09_to_gcj02, gcj02_to_bd09, bd09_to_wgs84, wgs84_to_bd09],
)
def test_points_outside_china_are_unchanged(func):
    # Paris, Tokyo (east of the box), Sydney, New York
    lon = np.array([2.3522, 139.6917, 151.2093, -74.006])
    lat = np.array([48.8566, 35.6895, -33.8688, 40.7128])
    assert out_of_china(lon, lat).all()
    x, y = func(lon, lat)
    assert np.array_equal(x, lon) and np.array_equal(y, lat)


def test_scalars_shapes_and_nan():
    x, y = gcj02_to_wgs84(111.75, 40.84)
    assert x.shape == () and y.shape == ()
    x, y = wgs84_to_gcj02(np.array([111.75, np.nan]), 40.84)  # broadcast
    assert x.shape == (2,) and np.isnan(x[1]) and np.isfinite(x[0])
    x, y = gcj02_to_wgs84([np.nan], [40.0])
    assert np.isnan(x[0]) and y[0] == 40.0  # NaN counts as out of China: untouched


def test_to_wgs84_dispatches_on_the_system():
    lon, lat = INNER_MONGOLIA_TOWNS.T
    assert COORD_SYSTEMS == ("wgs84", "gcj02", "bd09")
    assert np.array_equal(to_wgs84(lon, lat, "wgs84")[0], lon)
    assert np.array_equal(to_wgs84(lon, lat, "gcj02")[0], gcj02_to_wgs84(lon, lat)[0])
    assert np.array_equal(to_wgs84(lon, lat, "BD-09")[1], bd09_to_wgs84(lon, lat)[1])
    assert np.array_equal(to_wgs84(lon, lat, "GCJ_02")[1], gcj02_to_wgs84(lon, lat)[1])


def test_unknown_system_is_a_settings_error_in_both_languages():
    with pytest.raises(SettingsError) as info:
        to_wgs84(111.0, 40.0, "cgcs2000")
    err = info.value
    assert err.key == "error.coords.unknown_system"
    assert "cgcs2000" in str(err) and "wgs84, gcj02, bd09" in str(err)
    assert "cgcs2000" in err.message("zh") and "不认识的坐标系" in err.message("zh")


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (111.75, 40.84, 32649),  # Hohhot: 108-114 E
        (101.06, 41.95, 32647),  # Ejina: 96-102 E
        (119.77, 49.21, 32650),  # Hailar: 114-120 E
        (126.0, 53.0, 32652),  # north-east tip of Inner Mongolia
        (97.2, 42.0, 32647),
        (151.2, -33.9, 32756),  # Sydney, southern hemisphere
        (180.0, 0.0, 32660),  # the antimeridian belongs to zone 60
        (-180.0, 0.0, 32601),
    ],
)
def test_utm_crs(lon, lat, epsg):
    assert utm_crs(lon, lat) == pyproj.CRS.from_epsg(epsg)


@pytest.mark.parametrize(("lon", "lat"), [(200.0, 40.0), (111.0, 85.0), (float("nan"), 40.0)])
def test_utm_crs_rejects_points_outside_utm(lon, lat):
    with pytest.raises(SettingsError) as info:
        utm_crs(lon, lat)
    assert info.value.key == "error.coords.bad_point"
    assert str(lon) in str(info.value)


def test_coords_messages_have_the_same_placeholders_in_both_languages():
    for key in i18n.all_keys():
        if key.startswith("error.coords."):
            texts = i18n.texts_for(key)
            assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


# --------------------------------------------------------------------------------------------
# The edges of the China box (issue 12, bug 5). The oracle is the forward transform's
# definition: wgs84_to_gcj02 is exact by definition, so a GCJ-02 point with one WGS84
# preimage must come back to it, and a point with none must be said.

BOX_WEST, BOX_EAST, BOX_SOUTH, BOX_NORTH = 72.004, 137.8347, 0.8293, 55.8271
#: Offsets from an edge, in degrees: from well outside to well inside, including the
#: hair's-breadth points whose first estimate lands on the other side of the edge.
EDGE_OFFSETS_DEG = np.array(
    [-0.02, -0.006, -1e-3, -1e-5, -1e-7, 0.0, 1e-9, 1e-7, 1e-6, 1e-5, 5e-5, 1e-4, 1e-3, 0.006, 0.02]
)
#: Round trip tolerance where the GCJ-02 point has exactly one WGS84 preimage.
ROUND_TRIP_TOLERANCE_M = 0.001


def _grid_over_the_edges() -> tuple[np.ndarray, np.ndarray]:
    """WGS84 points on lines across each of the four edges of the box."""
    along_lat = np.linspace(1.5, 55.0, 37)
    along_lon = np.linspace(73.0, 137.0, 37)
    lon, lat = [], []
    for edge in (BOX_WEST, BOX_EAST):
        x, y = np.meshgrid(edge + EDGE_OFFSETS_DEG, along_lat)
        lon.append(x.ravel())
        lat.append(y.ravel())
    for edge in (BOX_SOUTH, BOX_NORTH):
        x, y = np.meshgrid(along_lon, edge + EDGE_OFFSETS_DEG)
        lon.append(x.ravel())
        lat.append(y.ravel())
    return np.concatenate(lon), np.concatenate(lat)


def test_round_trip_over_the_edges_of_the_china_box():
    lon, lat = _grid_over_the_edges()
    gx, gy = wgs84_to_gcj02(lon, lat)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every one of these GCJ-02 points has a preimage
        wx, wy = gcj02_to_wgs84(gx, gy)
    inside = ~out_of_china(gx, gy)
    # a GCJ-02 point inside the box has exactly one preimage (points outside the box map to
    # themselves, so none of them lands inside): the round trip must find it
    err_m = metres(wx[inside], wy[inside], lon[inside], lat[inside])
    assert err_m.max() < ROUND_TRIP_TOLERANCE_M, (lon[inside][err_m.argmax()], err_m.max())
    # a GCJ-02 point outside the box is returned unchanged (documented), which is a preimage
    # of it; where the WGS84 point was outside too, that is the point itself
    out = ~inside
    assert np.array_equal(wx[out], gx[out]) and np.array_equal(wy[out], gy[out])
    fx, fy = wgs84_to_gcj02(wx[out], wy[out])
    assert np.array_equal(fx, gx[out]) and np.array_equal(fy, gy[out])
    was_out = out_of_china(lon, lat)
    assert np.array_equal(wx[was_out], lon[was_out]) and np.array_equal(wy[was_out], lat[was_out])
    # the grid holds each case: points just inside the west edge (whose first estimate
    # falls outside the box), inside points that map out of the box (north and east), and
    # points outside
    assert (inside & (lon >= BOX_WEST) & (lon < BOX_WEST + 1e-5)).sum() >= 37
    assert (out & ~was_out).sum() > 0
    assert was_out.sum() > 0


def test_the_reported_point_on_the_west_edge():
    # 72.0045 E, 39.0 N: inside the box, but the WGS84 points east of the edge all move
    # ~470 m east and those west of it stay: no WGS84 point maps here. The conversion says
    # so and subtracts the formula's shift instead of oscillating across the edge.
    g = (72.0045, 39.0)
    edge_image = wgs84_to_gcj02(BOX_WEST, 39.0)
    assert BOX_WEST < g[0] < float(edge_image[0])  # in the strip no point maps to
    with pytest.warns(GCJEdgeWarning) as record:
        wx, wy = gcj02_to_wgs84(*g)
    assert "72.0045" in str(record[0].message)
    assert "GCJ-02" in record[0].message.message("zh")
    # the one-step inverse (subtract the shift at the GCJ-02 point, taken from the forward
    # transform there) is within a few metres of what the formula's shift gives
    shift = np.subtract(wgs84_to_gcj02(*g), g)
    one_step = np.subtract(g, shift)
    assert metres(wx, wy, *one_step) < 5.0
    assert out_of_china(wx, wy)  # the answer lies west of the edge, as it must


def test_gcj_points_in_the_strips_no_point_maps_to_warn_once_with_their_count():
    lat = np.linspace(1.5, 55.0, 20)
    edge_lon = wgs84_to_gcj02(np.full_like(lat, BOX_WEST), lat)[0]
    strip_lon = (BOX_WEST + edge_lon) / 2  # between the edge and the edge's image
    lon = np.concatenate([strip_lon, np.full(5, 111.75)])
    lat = np.concatenate([lat, np.full(5, 40.84)])
    with pytest.warns(GCJEdgeWarning) as record:
        wx, wy = gcj02_to_wgs84(lon, lat)
    assert len(record) == 1
    assert record[0].message.params["count"] == 20
    assert out_of_china(wx[:20], wy[:20]).all()
    # the other points are exact
    fx, fy = wgs84_to_gcj02(wx[20:], wy[20:])
    assert metres(fx, fy, lon[20:], lat[20:]).max() < ROUND_TRIP_TOLERANCE_M
    # the south edge has such a strip too (the shift there is northward)
    south = wgs84_to_gcj02(100.0, BOX_SOUTH)[1]
    with pytest.warns(GCJEdgeWarning):
        gcj02_to_wgs84(100.0, (BOX_SOUTH + float(south)) / 2)


def test_edge_warning_messages_have_the_same_placeholders_in_both_languages():
    texts = i18n.texts_for("warning.coords.gcj02_edge")
    assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"])


# --------------------------------------------------------------------------------------------
# re-reading positions in another system (issue 14: --coords auto)


def test_from_wgs84_inverts_to_wgs84_for_every_system():
    from layers.coords import from_wgs84

    lon, lat = INNER_MONGOLIA_TOWNS[:, 0], INNER_MONGOLIA_TOWNS[:, 1]
    for system, tol_m in (("wgs84", 0.0), ("gcj02", 0.01), ("bd09", 0.5)):
        back = to_wgs84(*from_wgs84(lon, lat, system), system)
        assert metres(lon, lat, *back).max() <= tol_m, system
    assert from_wgs84(lon, lat, "gcj02")[0].tolist() == wgs84_to_gcj02(lon, lat)[0].tolist()


def test_convert_system_rereads_numbers_taken_for_another_system():
    from layers.coords import convert_system

    lon, lat = INNER_MONGOLIA_TOWNS[:, 0], INNER_MONGOLIA_TOWNS[:, 1]
    file_lon, file_lat = wgs84_to_gcj02(lon, lat)  # a GCJ-02 file ...
    # ... read as WGS84 (no shift), then re-read as GCJ-02: the true positions
    x, y = convert_system(file_lon, file_lat, "wgs84", "gcj02")
    assert metres(lon, lat, x, y).max() < 0.01
    # read as GCJ-02 then re-read as WGS84: the file's own numbers
    x, y = convert_system(*gcj02_to_wgs84(file_lon, file_lat), "gcj02", "wgs84")
    assert metres(file_lon, file_lat, x, y).max() < 0.01
    same = convert_system(lon, lat, "bd09", "BD-09")
    assert np.array_equal(same[0], lon) and np.array_equal(same[1], lat)


def test_convert_geometries_moves_every_vertex_and_keeps_none():
    import shapely

    from layers.coords import convert_geometries

    square = shapely.box(111.5, 40.8, 111.51, 40.81)
    out = convert_geometries([shapely.Point(111.5, 40.8), square, None], "wgs84", "gcj02")
    x, y = gcj02_to_wgs84(111.5, 40.8)
    assert out[0].equals(shapely.Point(float(x), float(y)))
    assert out[2] is None
    corners = shapely.get_coordinates(out[1])
    gx, gy = gcj02_to_wgs84(*shapely.get_coordinates(square).T)
    assert np.allclose(corners, np.column_stack([gx, gy]), atol=1e-12)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "wgs84"), ("auto", "auto"), ("Detect", "auto"), ("GCJ_02", "gcj02"), ("bd-09", "bd09")],
)
def test_normalize_choice(value, expected):
    from layers.coords import normalize_choice

    assert normalize_choice(value) == expected


def test_normalize_choice_refuses_other_words():
    from layers.coords import normalize_choice

    with pytest.raises(SettingsError) as info:
        normalize_choice("mars")
    assert info.value.key == "error.coords.unknown_system"
