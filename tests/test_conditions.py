"""Road conditions: closures and slow-downs, cut-off villages, conditions side by side.

Pencil cases on hand-built grids, a networkx oracle on real extracts (the closed segments
found by a plain shapely loop, the graph built without them), and the analysis updated under
a condition against a full run on the same network.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from layers.errors import SettingsError
from layers.households import empty_households
from layers.tracks import make_closures
from mapping.analysis import run_analysis
from mapping.conditions import (
    apply_conditions,
    apply_conditions_to_analysis,
    compare_conditions,
    condition_names,
    mark_cut_off,
)
from mapping.network import build_network
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests.conftest import shared_file
from tests.netbuild import UTM, box, lonlat, roads, services, villages

WALK = AnalysisSettings(mode="walk", kinds=("kindergarten",))
MOTO = AnalysisSettings(mode="motorbike", kinds=("kindergarten",))


def grid(n=4, step=100.0):
    """An n x n grid of two-way streets, ``step`` metres apart; node (i, j) has id i*n+j+1."""
    nodes = {i * n + j + 1: (j * step, i * step) for i in range(n) for j in range(n)}
    ways = [(100 + i, [i * n + j + 1 for j in range(n)], "residential") for i in range(n)]
    ways += [(200 + j, [i * n + j + 1 for i in range(n)], "residential") for j in range(n)]
    return roads(nodes, ways)


def line(*pts):
    return shapely.LineString([lonlat(*p) for p in pts])


def scenario(r, vil_xy, names, svc_xy):
    return Scenario(
        roads=r,
        villages=villages(vil_xy, names),
        households=empty_households(),
        services=services({f"K{i}": ("kindergarten", *p) for i, p in enumerate(svc_xy)}),
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )


def seg_ids(net, segs):
    return sorted(
        tuple(sorted((int(net.node_id[net.seg_u[s]]), int(net.node_id[net.seg_v[s]]))))
        for s in segs
    )


# --------------------------------------------------------------------------------------------
# which segments a feature affects


def test_an_area_closes_every_segment_it_touches():
    net = build_network(grid(), WALK, crs=UTM)
    # a 20 m square around node (1, 1) = id 6, at (100, 100)
    cl = make_closures([box(90, 90, 110, 110)], condition="冬季积雪")
    effect = apply_conditions(net, cl)
    assert seg_ids(net, effect.closed) == [(2, 6), (5, 6), (6, 7), (6, 10)]
    assert effect.conditions == ("冬季积雪",)
    assert effect.network.n_segments == net.n_segments - 4
    assert (effect.segments["effect"] == "closed").all()
    # an area that only touches a segment at one point still closes it
    cl = make_closures([box(140, 200, 160, 210)], condition="x")  # meets (100,200)-(200,200)
    assert seg_ids(net, apply_conditions(net, cl).closed) == [(10, 11)]


def test_a_line_closes_the_segments_it_runs_along_not_the_side_roads():
    net = build_network(grid(), WALK, crs=UTM)
    # along the row y = 100 from x = 0 to x = 300, drawn 8 m off it
    cl = make_closures([line((0, 108), (300, 108))], condition="雨季")
    assert seg_ids(net, apply_conditions(net, cl).closed) == [(5, 6), (6, 7), (7, 8)]
    # half way along a segment: at least half of it is within 20 m -> closed
    cl = make_closures([line((0, 100), (150, 100))], condition="雨季")
    assert seg_ids(net, apply_conditions(net, cl).closed) == [(5, 6), (6, 7)]
    cl = make_closures([line((0, 100), (120, 100))], condition="雨季")  # 40 m of (6, 7)
    assert seg_ids(net, apply_conditions(net, cl).closed) == [(5, 6)]
    # across a road (a barrier drawn across it) closes nothing: areas do that
    cl = make_closures([line((150, 80), (150, 120))], condition="雨季")
    effect = apply_conditions(net, cl)
    assert len(effect.closed) == 0
    (note,) = effect.notes
    assert note.key == "warning.conditions.touches_nothing"
    assert "drawn #1 (雨季)" in note.message("en") and "drawn #1 (雨季)" in note.message("zh")


def test_a_slow_down_changes_times_not_distances():
    r = roads({1: (0, 0), 2: (1000, 0), 3: (2000, 0)}, [(10, [1, 2, 3], "secondary")])
    net = build_network(r, MOTO, crs=UTM)
    cl = make_closures([box(-10, -10, 990, 10)], condition="雨季", speed_kmh=10)
    effect = apply_conditions(net, cl)
    assert len(effect.closed) == 0 and seg_ids(net, effect.slowed) == [(1, 2)]
    new = effect.network
    assert new.seg_len_m.tolist() == net.seg_len_m.tolist()
    # (1,2) at 10 km/h instead of 50 (secondary, motorbike); (2,3) unchanged
    assert new.seg_time_s.tolist() == pytest.approx([1000 / (10 / 3.6), 1000 / (50 / 3.6)])
    # a slow-down faster than the road changes nothing; closed wins over slowed
    fast = make_closures([box(-10, -10, 990, 10)], condition="a", speed_kmh=90)
    assert apply_conditions(net, fast).network.seg_time_s.tolist() == net.seg_time_s.tolist()
    both = make_closures([box(-10, -10, 990, 10)], condition="a", speed_kmh=10)
    both = gpd.GeoDataFrame(
        gpd.pd.concat([both, make_closures([box(-10, -10, 500, 10)], condition="a", first_id=2)])
    )
    effect = apply_conditions(net, both)
    assert seg_ids(net, effect.closed) == [(1, 2)] and len(effect.slowed) == 0


def test_choosing_conditions():
    net = build_network(grid(), WALK, crs=UTM)
    cl = gpd.GeoDataFrame(
        gpd.pd.concat(
            [
                make_closures([box(90, 90, 110, 110)], condition="冬季积雪"),
                make_closures([box(190, 190, 210, 210)], condition="雨季", first_id=2),
            ]
        )
    )
    assert condition_names(cl) == ["冬季积雪", "雨季"]
    assert len(apply_conditions(net, cl).closed) == 8
    assert len(apply_conditions(net, cl, "雨季").closed) == 4
    assert len(apply_conditions(net, cl, ["雨季", "冬季积雪"]).closed) == 8
    with pytest.raises(SettingsError) as info:
        apply_conditions(net, cl, "夏季")
    assert info.value.key == "error.conditions.unknown"
    assert "冬季积雪, 雨季" in info.value.message("zh")


# --------------------------------------------------------------------------------------------
# villages under a condition


def spur_roads():
    """A main road with a 2 km dead-end spur north to a village, and a loop east."""
    nodes = {1: (0, 0), 2: (1000, 0), 3: (2000, 0), 4: (1000, 1000), 5: (1000, 2000)}
    nodes |= {6: (2000, 1000), 7: (1000, 1500)}
    ways = [(10, [1, 2, 3], "primary"), (11, [2, 4, 7, 5], "track"), (12, [3, 6, 4], "track")]
    return roads(nodes, ways)


def test_a_village_cut_off_by_a_closure_is_not_connected_and_named():
    r = spur_roads()
    sc = scenario(r, {"V": (1000, 2000), "W": (2000, 500)}, ["希乐图村", "东村"], [(0, 0)])
    open_a = run_analysis(sc, MOTO, network=build_network(r, MOTO, crs=UTM))
    assert open_a.villages.loc["V", "dist_kindergarten_m"] == pytest.approx(3000)
    # close the spur above the loop junction (1000, 1000): V is cut off, W is not
    cl = make_closures([box(990, 1200, 1010, 1300)], condition="冬季积雪")
    closed, effect = apply_conditions_to_analysis(open_a, cl)
    v = closed.villages.loc["V"]
    assert np.isnan(v["dist_kindergarten_m"]) and bool(v["flag_kindergarten"])
    assert v["unreachable_kindergarten"] == "not_connected"
    assert bool(v["cut_off_kindergarten"])
    assert v["reason_kindergarten_zh"].startswith("希乐图村：冬季积雪封路后")
    assert "cut off by the closures of 冬季积雪" in v["reason_kindergarten_en"]
    assert "2.2 km" in v["reason_kindergarten_en"]  # sqrt(1000^2 + 2000^2): straight line
    w = closed.villages.loc["W"]
    assert w["dist_kindergarten_m"] == pytest.approx(2500) and not w["cut_off_kindergarten"]
    # the same as a full run on the closed network, reasons apart
    full = run_analysis(sc, MOTO, network=effect.network)
    assert full.villages.loc["V", "unreachable_kindergarten"] == "not_connected"
    marked = mark_cut_off(full, effect.conditions)
    for col in ("reason_kindergarten_zh", "cut_off_kindergarten", "dist_kindergarten_m"):
        assert marked.villages[col].fillna(-1).tolist() == closed.villages[col].fillna(-1).tolist()
    # closing the junction road the other way round, V's road around the loop is longer
    cl = make_closures([box(990, 400, 1010, 600)], condition="雨季")
    closed, _ = apply_conditions_to_analysis(open_a, cl)
    # east 2000 m, up the loop 1000 m, west 1000 m to (1000, 1000), up the spur 1000 m
    assert closed.villages.loc["V", "dist_kindergarten_m"] == pytest.approx(5000)


def test_a_village_whose_own_road_is_closed_snaps_to_the_nearest_open_road():
    r = spur_roads()
    sc = scenario(r, {"V": (1000, 1900)}, ["希乐图村"], [(0, 0)])
    open_a = run_analysis(sc, WALK, network=build_network(r, WALK, crs=UTM))
    cl = make_closures([box(900, 1050, 1100, 2100)], condition="冬季积雪")
    closed, _ = apply_conditions_to_analysis(open_a, cl)
    # the spur above (1000,1000) is closed: 900 m off-road to (1000,1000), then 2000 m
    assert closed.villages.loc["V", "offroad_m"] == pytest.approx(900)
    assert closed.villages.loc["V", "dist_kindergarten_m"] == pytest.approx(900 + 2000)


def test_compare_conditions_side_by_side():
    r = spur_roads()
    sc = scenario(
        r,
        {"V": (1000, 2000), "W": (2000, 500), "X": (300, 0)},
        ["希乐图村", "东村", "西村"],
        [(0, 0)],
    )
    open_a = run_analysis(
        sc, MOTO.with_(thresholds_m={"kindergarten": 2600.0}), network=build_network(r, MOTO)
    )
    cl = gpd.GeoDataFrame(
        gpd.pd.concat(
            [
                make_closures([box(990, 1200, 1010, 1300)], condition="冬季积雪"),
                make_closures([box(1490, -10, 1510, 10)], condition="雨季", first_id=2),
            ]
        )
    )
    cmp = compare_conditions(open_a, cl)
    s = cmp.summary.set_index("condition")
    # usual: V at 3.0 km flagged; winter: V cut off; rain: W goes round the loop (4.5 km)
    assert open_a.villages["flag_kindergarten"].tolist() == [True, False, False]
    assert s.loc["冬季积雪", "n_flagged"] == 1 and s.loc["冬季积雪", "n_more"] == 0
    assert s.loc["冬季积雪", "n_cut_off"] == 1
    assert s.loc["雨季", "n_flagged"] == 2 and s.loc["雨季", "n_more"] == 1
    assert s.loc["雨季", "sentence_en"] == (
        "雨季: 2 villages are beyond 2.6 km of a kindergarten, 1 more than usual "
        "(0 of them cut off)."
    )
    assert "比平时多 1 个" in s.loc["雨季", "sentence_zh"]
    v = cmp.villages
    assert v.loc["W", "dist_kindergarten_m|雨季"] == pytest.approx(1000 + 1000 + 1000 + 500)
    assert bool(v.loc["V", "cut_off_kindergarten|冬季积雪"])
    assert not v["cut_off_kindergarten|"].any()


# --------------------------------------------------------------------------------------------
# the analysis under a condition, updated, equals a full run


@pytest.fixture(scope="module")
def county():
    from benchmarks.synthetic import make_scenario

    return make_scenario(12_000, 3_000, 300, 8, seed=13)


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_conditions_on_an_analysis_equal_a_full_run(county, mode):
    syn, sc = county
    settings = AnalysisSettings(mode=mode, kinds=("kindergarten",))
    net = build_network(sc.roads, settings, crs=UTM)
    base = run_analysis(sc, settings, network=net)
    to_ll = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    rng = np.random.default_rng(8)
    cx, cy = np.median(syn.x), np.median(syn.y)
    feats, conds, speeds = [], [], []
    for k in range(9):
        x0, y0 = cx + rng.uniform(-3000, 3000), cy + rng.uniform(-3000, 3000)
        if k % 3 == 0:
            half = rng.uniform(100, 600)
            ring = [(x0 - half, y0 - half), (x0 + half, y0 - half), (x0 + half, y0 + half)]
            feats.append(shapely.Polygon([to_ll.transform(*p) for p in ring]))
        else:  # along a row of the grid: from a node, east
            i = int(np.argmin(np.hypot(syn.x - x0, syn.y - y0)))
            p0 = (syn.x[i], syn.y[i])
            feats.append(
                shapely.LineString([to_ll.transform(*p0), to_ll.transform(p0[0] + 900, p0[1])])
            )
        conds.append("冬季积雪" if k < 6 else "雨季")
        speeds.append(None if k % 2 == 0 else 8.0)
    parts = [
        make_closures([f], condition=c, speed_kmh=s, first_id=i + 1)
        for i, (f, c, s) in enumerate(zip(feats, conds, speeds, strict=True))
    ]
    cl = gpd.GeoDataFrame(gpd.pd.concat(parts), crs="EPSG:4326")
    changed = 0
    for cond in (None, "冬季积雪", "雨季"):
        updated, effect = apply_conditions_to_analysis(base, cl, cond)
        assert len(effect.closed) > 0
        full = mark_cut_off(run_analysis(sc, settings, network=effect.network), effect.conditions)
        for frame in ("villages", "households"):
            a, b = getattr(updated, frame), getattr(full, frame)
            for col in ("dist_kindergarten_m", "time_kindergarten_min", "offroad_m"):
                np.testing.assert_allclose(a[col], b[col], atol=1e-6, rtol=0, err_msg=col)
        for col in ("flag_kindergarten", "reason_kindergarten_en", "cut_off_kindergarten"):
            assert updated.villages[col].tolist() == full.villages[col].tolist(), col
        changed += int(
            (updated.villages["time_kindergarten_min"] - base.villages["time_kindergarten_min"])
            .abs()
            .gt(1e-9)
            .sum()
        )
    assert changed > 0, "the closures changed nothing: the test would not test"


# --------------------------------------------------------------------------------------------
# real extracts against networkx


@pytest.mark.shared
@pytest.mark.slow
def test_closures_on_a_real_extract_match_networkx():
    from layers.osm import read_osm

    extract = read_osm(
        shared_file("osm", "liechtenstein-2013.osm.pbf"), clip=(9.50, 47.12, 9.56, 47.17)
    )
    net = build_network(extract.roads, WALK)
    rng = np.random.default_rng(4)
    main = np.flatnonzero(net.component == net.main_component)
    to_ll = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)

    # areas around a few junctions (touching several segments each), and a dead-end spur
    degree = np.bincount(np.concatenate([net.seg_u, net.seg_v]), minlength=net.n_nodes)
    junctions = rng.choice(np.flatnonzero(degree >= 3), 6, replace=False)
    areas = [
        shapely.Polygon(
            [
                to_ll.transform(net.x[j] + dx, net.y[j] + dy)
                for dx, dy in ((-8, -8), (8, -8), (8, 8), (-8, 8))
            ]
        )
        for j in junctions
    ]
    # a spur: leaf L - P - Q with P of degree 2; close P-Q, a village on L-P is cut off
    nbr = {}
    for s, (u, v) in enumerate(zip(net.seg_u, net.seg_v, strict=True)):
        nbr.setdefault(u, []).append((v, s))
        nbr.setdefault(v, []).append((u, s))
    spur = None
    for leaf in np.flatnonzero(degree == 1):
        if net.component[leaf] != net.main_component:
            continue
        ((p, s_lp),) = nbr[leaf]
        if degree[p] == 2 and net.seg_len_m[s_lp] > 30:
            ((q, s_pq),) = [(n, s) for n, s in nbr[p] if n != leaf]
            if net.seg_len_m[s_pq] > 30 and degree[q] >= 2:
                spur = (leaf, p, q, s_lp, s_pq)
                break
    assert spur is not None
    leaf, p, q, s_lp, s_pq = spur
    mid_pq = ((net.x[p] + net.x[q]) / 2, (net.y[p] + net.y[q]) / 2)
    cut = shapely.Point(to_ll.transform(*mid_pq)).buffer(1e-6)  # ~0.1 m: touches P-Q only
    cl = make_closures([*areas, cut], condition="冬季积雪")
    effect = apply_conditions(net, cl)

    # the oracle: every segment tested with shapely, the graph built without the closed ones
    polys = [
        shapely.Polygon(
            [
                pyproj.Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(*c)
                for c in g.exterior.coords
            ]
        )
        for g in cl.geometry
    ]
    G = nx.Graph()
    closed_ref = []
    for s, (u, v) in enumerate(zip(net.seg_u, net.seg_v, strict=True)):
        seg = shapely.LineString([(net.x[u], net.y[u]), (net.x[v], net.y[v])])
        if any(seg.intersects(poly) for poly in polys):
            closed_ref.append(s)
            continue
        a, b = int(net.node_id[u]), int(net.node_id[v])
        if a != b and (not G.has_edge(a, b) or G[a][b]["weight"] > net.seg_len_m[s]):
            G.add_edge(a, b, weight=float(net.seg_len_m[s]))
    assert sorted(effect.closed.tolist()) == closed_ref
    assert len(closed_ref) >= 10

    new = effect.network
    sources = rng.choice(main, 4, replace=False)
    ours = dijkstra(new.graph_len, directed=False, indices=sources)
    targets = main[:: max(1, len(main) // 500)]
    for k, s in enumerate(sources):
        ref = nx.single_source_dijkstra_path_length(G, int(net.node_id[s]))
        for t in targets:
            assert ours[k, t] == pytest.approx(ref.get(int(net.node_id[t]), np.inf), abs=1e-3)

    # the village on the spur is cut off, and its sentence names the condition
    mid_lp = ((net.x[leaf] + net.x[p]) / 2, (net.y[leaf] + net.y[p]) / 2)
    vil = villages({"V": (0, 0)}, ["山村"])
    vil = vil.set_geometry([shapely.Point(to_ll.transform(*mid_lp))], crs="EPSG:4326")
    svc_pt = shapely.Point(to_ll.transform(net.x[sources[0]], net.y[sources[0]]))
    svc = services({"K": ("kindergarten", 0, 0)}).set_geometry([svc_pt], crs="EPSG:4326")
    sc = Scenario(
        roads=extract.roads,
        villages=vil,
        households=empty_households(),
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )
    open_a = run_analysis(sc, WALK, network=net)
    assert np.isfinite(open_a.villages.loc["V", "dist_kindergarten_m"])
    closed, _ = apply_conditions_to_analysis(open_a, cl)
    v = closed.villages.loc["V"]
    assert v["unreachable_kindergarten"] == "not_connected" and v["cut_off_kindergarten"]
    assert "冬季积雪" in v["reason_kindergarten_zh"] and "冬季积雪" in v["reason_kindergarten_en"]


def test_the_demo_winter_closure_cuts_off_xiletu():
    from layers.tracks import read_closures
    from mapping.scenario import DEMO_DIR, load_demo

    base = run_analysis(load_demo())
    closures = read_closures(DEMO_DIR / "winter_closure.geojson")
    assert condition_names(closures) == ["冬季积雪"]
    cmp = compare_conditions(base, closures)
    winter = cmp.analyses["冬季积雪"].villages.set_index("village_name").loc["希乐图村"]
    assert winter["unreachable_kindergarten"] == "not_connected"
    assert winter["reason_kindergarten_zh"].startswith("希乐图村：冬季积雪封路后")
    row = cmp.summary.set_index("kind").loc["kindergarten"]
    assert row["n_cut_off"] >= 1
    assert "冬季积雪" in row["sentence_en"]
    # the slow-down changes travel times of villages beyond the drift, not their distances
    base_v = base.villages.set_index("village_name")
    other = cmp.analyses["冬季积雪"].villages.set_index("village_name").drop(index="希乐图村")
    assert np.allclose(
        other["dist_kindergarten_m"], base_v.loc[other.index, "dist_kindergarten_m"], atol=1e-6
    )
