"""``--coords auto``: the coordinate system whose points sit closest to the roads (issue 14,
item 3), on pencil networks, on a real extract's roads with the real GCJ-02 / BD-09
transforms, and on the demo."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from layers.coords import (
    bd09_to_wgs84,
    gcj02_to_wgs84,
    utm_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from layers.households import read_households
from layers.roads import RoadEdges
from layers.schema import notes_of, read_as_of
from layers.villages import read_villages
from mapping.cli import main
from mapping.coorddetect import (
    MAX_SAMPLE,
    MIN_POINTS,
    decide,
    measure_coords,
    sample_indices,
    settle_layer_coords,
)
from mapping.network import build_network
from mapping.scenario import DEMO_DIR, load_demo, replace_layers
from tests.conftest import shared_file

# --------------------------------------------------------------------------------------------
# the rule, by hand


def test_decide_takes_the_nearest_reading_only_when_it_is_clearly_nearer():
    near = np.full(20, 12.0)
    far = np.full(20, 430.0)
    check = decide("wgs84", {"wgs84": far, "gcj02": near, "bd09": far + 500})
    assert (check.best, check.strong, check.win_share) == ("gcj02", True, 1.0)
    assert check.medians_m == {"wgs84": 430.0, "gcj02": 12.0, "bd09": 930.0}
    assert check.ranked() == ["gcj02", "wgs84", "bd09"]
    # 1.5 times nearer is not enough
    check = decide("wgs84", {"wgs84": near * 1.5, "gcj02": near, "bd09": far})
    assert (check.best, check.strong, check.reason) == ("gcj02", False, "unclear")
    # twice nearer but only 10 m: GPS noise
    check = decide("wgs84", {"wgs84": np.full(20, 20.0), "gcj02": np.full(20, 10.0), "bd09": far})
    assert check.reason == "unclear"
    # the median of a few points carried by luck: most points are not nearer
    mixed = np.array([10.0] * 11 + [500.0] * 9)
    other = np.array([400.0] * 11 + [5.0] * 9)
    check = decide("wgs84", {"wgs84": other, "gcj02": mixed, "bd09": far})
    assert check.medians_m["gcj02"] == 10.0 and check.medians_m["wgs84"] == 400.0
    assert check.win_share == 0.55 and check.reason == "unclear"
    # nowhere near a road in any reading
    check = decide("wgs84", {"wgs84": far + 600, "gcj02": far + 100, "bd09": far + 900})
    assert check.reason == "no_roads"
    # too few points
    few = {s: d[: MIN_POINTS - 1] for s, d in {"wgs84": far, "gcj02": near, "bd09": far}.items()}
    assert decide("wgs84", few).reason == "few_points"


def test_the_sample_is_even_and_the_same_each_time():
    assert sample_indices(10).tolist() == list(range(10))
    idx = sample_indices(100_000)
    assert len(idx) == MAX_SAMPLE and idx[0] == 0 and idx[-1] == 99_999
    assert np.array_equal(idx, sample_indices(100_000))
    assert np.all(np.diff(idx) >= 49)


# --------------------------------------------------------------------------------------------
# a pencil network in Inner Mongolia: a 5 x 5 grid of roads 1 km apart, households 15 m off


def grid_roads(lon0: float = 112.9, lat0: float = 41.8, n: int = 5, step_m: float = 1000.0):
    crs = utm_crs(lon0, lat0)
    fwd = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x0, y0 = fwd.transform(lon0, lat0)
    nodes, segs = {}, []
    for i in range(n):
        for j in range(n):
            lon, lat = fwd.transform(x0 + i * step_m, y0 + j * step_m, direction="INVERSE")
            nodes[i * n + j + 1] = (lon, lat)
    for i in range(n):
        for j in range(n):
            a = i * n + j + 1
            if i + 1 < n:
                segs.append((a, a + n, a, "track", 0, 7))
            if j + 1 < n:
                segs.append((a, a + 1, 100 + a, "track", 0, 7))
    return RoadEdges.from_lists(nodes, segs), fwd


def homes_by_the_roads(roads: RoadEdges, fwd, n: int, off_m: float, seed: int = 1):
    """WGS84 points ``off_m`` from a road: beside the middle of random segments."""
    rng = np.random.default_rng(seed)
    seg = rng.choice(roads.n_edges, n)
    ux, uy = fwd.transform(roads.lon[roads.u[seg]], roads.lat[roads.u[seg]])
    vx, vy = fwd.transform(roads.lon[roads.v[seg]], roads.lat[roads.v[seg]])
    t = rng.uniform(0.2, 0.8, n)
    dx, dy = vx - ux, vy - uy
    length = np.hypot(dx, dy)
    side = rng.choice([-1.0, 1.0], n)
    px = ux + t * dx - side * dy / length * off_m
    py = uy + t * dy + side * dx / length * off_m
    return fwd.transform(px, py, direction="INVERSE")


def oracle_distances_m(lon, lat, roads: RoadEdges, fwd) -> np.ndarray:
    """Distance of each point to the roads by shapely, in the same UTM zone (independent of
    the project's snapping)."""
    rx, ry = fwd.transform(roads.lon, roads.lat)
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([rx[roads.u], ry[roads.u]]),
                np.column_stack([rx[roads.v], ry[roads.v]]),
            ],
            axis=1,
        )  # fmt: skip
    )
    px, py = fwd.transform(lon, lat)
    tree = shapely.STRtree(lines)
    _, dist = tree.query_nearest(shapely.points(px, py), return_distance=True, all_matches=False)
    return np.asarray(dist)


def oracle_median_m(lon, lat, roads: RoadEdges, fwd) -> float:
    return float(np.median(oracle_distances_m(lon, lat, roads, fwd)))


@pytest.mark.parametrize(
    "system, to_file", [("wgs84", None), ("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)]
)
def test_the_system_of_a_pencil_file_is_found(system, to_file):
    roads, fwd = grid_roads()
    lon, lat = homes_by_the_roads(roads, fwd, 60, off_m=15.0)
    file_lon, file_lat = (lon, lat) if to_file is None else to_file(lon, lat)
    check = measure_coords(file_lon, file_lat, roads, read_as="wgs84")
    assert check.best == system and check.strong
    assert check.medians_m[system] == pytest.approx(15.0, abs=0.1)  # BD-09's inverse: ~0.1 m
    # every reading's median agrees with shapely's
    for s, back in (("wgs84", None), ("gcj02", gcj02_to_wgs84), ("bd09", bd09_to_wgs84)):
        x, y = (file_lon, file_lat) if back is None else back(file_lon, file_lat)
        assert check.medians_m[s] == pytest.approx(oracle_median_m(x, y, roads, fwd), abs=1e-6)


def test_the_network_snapping_gives_the_same_medians():
    roads, fwd = grid_roads()
    lon, lat = wgs84_to_gcj02(*homes_by_the_roads(roads, fwd, 40, off_m=25.0))
    own = measure_coords(lon, lat, roads, read_as="wgs84")
    net = measure_coords(lon, lat, None, read_as="wgs84", network=build_network(roads))
    for s in own.medians_m:
        assert net.medians_m[s] == pytest.approx(own.medians_m[s], abs=1e-6)
    assert net.best == own.best == "gcj02"


def test_points_far_from_every_road_keep_the_default():
    roads, fwd = grid_roads()
    lon, lat = homes_by_the_roads(roads, fwd, 40, off_m=15.0)
    check = measure_coords(np.asarray(lon) + 0.3, np.asarray(lat) + 0.3, roads, read_as="wgs84")
    assert not check.strong and check.reason == "no_roads"
    assert min(check.medians_m.values()) > 30_000  # 0.3 degrees away


def test_points_scattered_without_regard_to_roads_are_unclear():
    # a dense net (150 m) wider than the largest shift: every reading lands among roads
    roads, fwd = grid_roads(n=40, step_m=150.0)
    rng = np.random.default_rng(3)
    x0, y0 = fwd.transform(roads.lon.min(), roads.lat.min())
    x, y = x0 + rng.uniform(1500, 4500, 300), y0 + rng.uniform(1500, 4500, 300)
    lon, lat = fwd.transform(x, y, direction="INVERSE")
    check = measure_coords(lon, lat, roads, read_as="wgs84")
    assert not check.strong and check.reason == "unclear"


def test_outside_china_nothing_is_measured():
    roads, fwd = grid_roads(lon0=11.5, lat0=50.0)
    lon, lat = homes_by_the_roads(roads, fwd, 40, off_m=15.0)
    check = measure_coords(lon, lat, roads, read_as="wgs84")
    assert check.reason == "outside_china" and check.medians_m == {}


# --------------------------------------------------------------------------------------------
# layers read from files: re-read, noted, warned


def write_homes(path: Path, lon, lat, villages: list[str] | None = None) -> Path:
    rows = [
        f"H{i},{villages[i] if villages else ''},{x!r},{y!r}"
        for i, (x, y) in enumerate(
            zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True)
        )
    ]
    path.write_text("户号,村名,经度,纬度\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_auto_rereads_a_gcj02_file_and_says_which_and_how_sure(tmp_path):
    roads, fwd = grid_roads()
    lon, lat = homes_by_the_roads(roads, fwd, 50, off_m=15.0)
    path = write_homes(tmp_path / "住户.csv", *wgs84_to_gcj02(lon, lat))
    hh = read_households(path)
    assert read_as_of(hh).system == "wgs84"
    out = settle_layer_coords(hh, roads, what="households", auto=True)
    assert read_as_of(out).system == "gcj02" and read_as_of(out).reason == "detected"
    np.testing.assert_allclose(out.geometry.x, lon, atol=1e-8)  # 1 mm
    np.testing.assert_allclose(out.geometry.y, lat, atol=1e-8)
    note = notes_of(out)[-1]
    assert note.key == "note.coords.detected"
    zh, en = note.message("zh"), note.message("en")
    assert zh.startswith("住户.csv：按 GCJ-02（高德/腾讯）读取：农户到道路的中位距离 15 米，按 ")
    runner = note.params["runner"].key.rsplit(".", 1)[1]
    back = {"wgs84": lambda a, b: (a, b), "bd09": bd09_to_wgs84}[runner]
    glon, glat = wgs84_to_gcj02(lon, lat)
    share = np.mean(
        oracle_distances_m(lon, lat, roads, fwd) < oracle_distances_m(*back(glon, glat), roads, fwd)
    )
    assert f"（比较了 50 个点，其中 {100 * share:.0f}% 这样读取离道路更近）" in zh
    assert en.startswith(
        "住户.csv: read as GCJ-02 (Amap/Tencent): the median distance from the households to the roads is 15 m"
    )
    assert hh.geometry.x.iloc[0] != out.geometry.x.iloc[0]  # the input was not changed


def test_auto_with_weak_evidence_keeps_the_default_and_says_why(tmp_path):
    roads, fwd = grid_roads()
    lon, lat = homes_by_the_roads(roads, fwd, 5, off_m=15.0)
    hh = read_households(write_homes(tmp_path / "住户.csv", *wgs84_to_gcj02(lon, lat)))
    out = settle_layer_coords(hh, roads, what="households", auto=True)
    assert read_as_of(out).system == "wgs84"
    assert out.geometry.x.tolist() == hh.geometry.x.tolist()
    note = notes_of(out)[-1]
    assert note.key == "note.coords.few_points"
    assert note.message("zh") == (
        "住户.csv：只有 5 个点，不足以判断坐标系（至少要 8 个），按 WGS84（GPS）读取。"
    )


def test_a_declared_system_that_looks_wrong_is_warned_about(tmp_path):
    roads, fwd = grid_roads()
    lon, lat = homes_by_the_roads(roads, fwd, 50, off_m=15.0)
    path = write_homes(tmp_path / "住户.csv", *wgs84_to_bd09(lon, lat))
    hh = read_households(path, coords="gcj02")
    out = settle_layer_coords(hh, roads, what="households", auto=False)
    assert out.geometry.x.tolist() == hh.geometry.x.tolist()  # a warning, nothing moved
    warning = notes_of(out)[-1]
    assert warning.key == "warning.coords.looks_wrong" and warning.is_warning
    assert "按 BD-09（百度）读取只有 15 米" in warning.message("zh")
    assert "--coords bd09" in warning.message("en")
    # declared right: no word
    right = read_households(path, coords="bd09")
    assert settle_layer_coords(right, roads, what="households", auto=False) is right


def test_households_placed_at_their_village_are_not_moved_or_measured(tmp_path):
    roads, fwd = grid_roads()
    lon, lat = homes_by_the_roads(roads, fwd, 30, off_m=15.0)
    villages = read_villages(_village_file(tmp_path))
    glon, glat = wgs84_to_gcj02(lon, lat)
    rows = [
        f"H{i},前进村,{float(x)!r},{float(y)!r}"
        for i, (x, y) in enumerate(zip(glon, glat, strict=True))
    ]
    rows += ["N1,前进村,,", "N2,前进村,,"]
    path = tmp_path / "住户.csv"
    path.write_text("户号,村名,经度,纬度\n" + "\n".join(rows) + "\n", encoding="utf-8")
    hh = read_households(path, villages=villages)
    out = settle_layer_coords(hh, roads, what="households", auto=True)
    assert read_as_of(out).system == "gcj02"
    assert notes_of(out)[-1].params["n"] == 30  # the two placed ones were not measured
    for hid in ("N1", "N2"):
        assert out.loc[hid, "geometry"].equals(villages.geometry.iloc[0])
    np.testing.assert_allclose(out.geometry.x[:30], lon, atol=1e-8)


def _village_file(folder: Path) -> Path:
    path = folder / "村.csv"
    path.write_text("村名,经度,纬度\n前进村,112.905,41.805\n", encoding="utf-8")
    return path


def test_a_village_area_is_reread_with_its_point(tmp_path):
    roads, fwd = grid_roads()
    lon, lat = homes_by_the_roads(roads, fwd, 12, off_m=10.0, seed=5)
    glon, glat = wgs84_to_gcj02(lon, lat)
    feats = []
    for i, (x, y) in enumerate(zip(glon.tolist(), glat.tolist(), strict=True)):
        ring = [[x - 1e-4, y - 1e-4], [x + 1e-4, y - 1e-4], [x, y + 1e-4], [x - 1e-4, y - 1e-4]]
        feats.append(
            {
                "type": "Feature",
                "properties": {"name": f"村{i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path = tmp_path / "村界.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    v = read_villages(path)
    out = settle_layer_coords(v, roads, what="villages", auto=True)
    assert read_as_of(out).system == "gcj02"
    first = out["boundary"].iloc[0]
    ex, ey = gcj02_to_wgs84(glon[0] - 1e-4, glat[0] - 1e-4)
    assert first.exterior.coords[0] == pytest.approx((float(ex), float(ey)), abs=1e-9)
    assert first.contains(out.geometry.iloc[0])


# --------------------------------------------------------------------------------------------
# a real extract's roads, moved into Inner Mongolia


@pytest.mark.shared
@pytest.mark.parametrize(
    "system, to_file", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09), ("wgs84", None)]
)
def test_households_shifted_by_the_real_transform_on_real_roads(tmp_path, system, to_file):
    """north-bayreuth's roads (2,000 ways, 900 tracks: a dense rural net) moved by a fixed
    offset into the Banner, so that GCJ-02 shifts them (it shifts nothing in Germany);
    households 5-40 m beside 600 of their nodes, written in ``system`` as a phone app or a
    Chinese map would, read as WGS84 and detected."""
    from layers.osm import read_osm

    extract = read_osm(shared_file("osm", "north-bayreuth.osm.gz"))
    roads = replace(extract.roads, lon=extract.roads.lon + 101.5, lat=extract.roads.lat - 8.2)
    crs = utm_crs(float(np.median(roads.lon)), float(np.median(roads.lat)))
    fwd = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    rng = np.random.default_rng(14)
    idx = rng.choice(roads.n_nodes, 600, replace=False)
    x, y = fwd.transform(roads.lon[idx], roads.lat[idx])
    angle, off = rng.uniform(0, 2 * np.pi, 600), rng.uniform(5, 40, 600)
    lon, lat = fwd.transform(x + off * np.cos(angle), y + off * np.sin(angle), direction="INVERSE")
    file_lon, file_lat = (lon, lat) if to_file is None else to_file(lon, lat)
    hh = read_households(write_homes(tmp_path / "住户.csv", file_lon, file_lat))
    out = settle_layer_coords(hh, roads, what="households", auto=True)
    note = notes_of(out)[-1]
    assert note.key == "note.coords.detected", note.message("en")
    assert read_as_of(out).system == system
    np.testing.assert_allclose(out.geometry.x, lon, atol=1e-6)  # 0.1 m (BD-09's inverse)
    np.testing.assert_allclose(out.geometry.y, lat, atol=1e-6)
    best = float(note.params["best_m"].replace(",", ""))
    assert best == pytest.approx(oracle_median_m(lon, lat, roads, fwd), abs=0.5)
    assert best <= 40
    # the same file read as declared WGS84 is warned about unless it is WGS84
    warned = settle_layer_coords(hh, roads, what="households", auto=False)
    assert any(n.key == "warning.coords.looks_wrong" for n in notes_of(warned)) == (
        system != "wgs84"
    )


# --------------------------------------------------------------------------------------------
# the demo


def test_demo_households_are_gcj02_and_auto_finds_it():
    demo = load_demo()  # declared gcj02 in scenario.json: nothing to warn about
    assert not any(".coords." in n.key for n in notes_of(demo.households))
    auto = replace_layers(demo, households=DEMO_DIR / "households.csv", coords="auto")
    assert read_as_of(auto.households).system == "gcj02"
    np.testing.assert_allclose(auto.households.geometry.x, demo.households.geometry.x, atol=1e-9)
    note = notes_of(auto.households)[-1]
    assert note.key == "note.coords.detected" and note.params["chosen"].key == "coords.system.gcj02"
    wrong = replace_layers(demo, households=DEMO_DIR / "households.csv", coords="wgs84")
    assert notes_of(wrong.households)[-1].key == "warning.coords.looks_wrong"


def test_cli_coords_auto_on_the_demo(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["analyze", "--demo", "--households", str(DEMO_DIR / "households.csv"),
                 "--coords", "auto", "--no-map", "--out", str(out), "--lang", "zh"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "households.csv：按 GCJ-02（高德/腾讯）读取：农户到道路的中位距离" in err
    auto = pd.read_csv(out / "households.csv", encoding="utf-8-sig")
    code = main(["analyze", "--demo", "--no-map", "--out", str(tmp_path / "demo"),
                 "--lang", "zh"])  # fmt: skip
    assert code == 0
    demo = pd.read_csv(tmp_path / "demo" / "households.csv", encoding="utf-8-sig")
    pd.testing.assert_series_equal(auto["dist_kindergarten_m"], demo["dist_kindergarten_m"])


def test_cli_warns_when_the_default_looks_wrong(tmp_path, capsys):
    code = main(["analyze", "--demo", "--households", str(DEMO_DIR / "households.csv"),
                 "--no-map", "--out", str(tmp_path / "o"), "--lang", "en"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert "read as WGS84 (GPS), the median distance from the households to the roads" in err
    assert "--coords gcj02" in err
