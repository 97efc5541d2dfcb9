"""Community roads joined into the road network: pencil cases, a networkx oracle on real
OpenStreetMap extracts, and the update of an analysis against a full rebuild.

The oracle never calls the join: it splits the roads and the track itself with shapely
(``intersection``, ``project``), in a plain loop over the segments, and measures with
networkx.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from layers.errors import InputError
from layers.tracks import make_community_roads
from mapping.access import compute_service_access
from mapping.analysis import run_analysis
from mapping.community import (
    JOIN_M,
    add_community_roads,
    compare_villages,
    join_community_roads,
    network_with_join,
)
from mapping.network import build_network
from mapping.settings import AnalysisSettings
from tests.conftest import shared_file
from tests.netbuild import UTM, X0, Y0, box, lonlat, points, roads, services

WALK = AnalysisSettings(mode="walk", kinds=("kindergarten",))
CAR = AnalysisSettings(mode="car", kinds=("kindergarten",))


def track(*xy, **kwargs) -> gpd.GeoDataFrame:
    """Community roads from lines given in metres (one tuple of points per road)."""
    lines = [shapely.LineString([lonlat(*p) for p in pts]) for pts in xy]
    return make_community_roads(lines, **kwargs)


def distance(r, com, village_xy, service_xy, settings=WALK, join_m=JOIN_M):
    """Road distance (m) from a village point to the nearest kindergarten after the join."""
    joined = join_community_roads(r, com, join_m, crs=UTM) if com is not None else None
    net = build_network(joined.roads if joined else r, settings, crs=UTM)
    svc = services({f"K{i}": ("kindergarten", *p) for i, p in enumerate(service_xy)})
    out = compute_service_access(net, points({"V": village_xy}), svc, "kindergarten")
    return float(out["dist_kindergarten_m"].iloc[0]), joined


def segments_m(joined):
    """The joined segments as ((x0, y0), (x1, y1), way) in metres relative to the origin."""
    tr = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    x, y = tr.transform(joined.roads.lon, joined.roads.lat)
    x, y = np.round(np.asarray(x) - X0, 3), np.round(np.asarray(y) - Y0, 3)
    r = joined.roads
    return sorted(
        ((x[u], y[u]), (x[v], y[v]), int(w)) for u, v, w in zip(r.u, r.v, r.way_id, strict=True)
    )


# --------------------------------------------------------------------------------------------
# pencil cases (metres)


def test_a_track_near_a_road_joins_it_and_splits_the_segment():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    # starts 15 m off the road: moved onto (300, 0); ends at the village
    com = track([(300, 15), (1500, 800)])
    d, joined = distance(r, com, (1500, 800), [(0, 0)])
    # 300 m of road, then the track from (300, 0): sqrt(1200^2 + 800^2) = 400 sqrt(13)
    assert d == pytest.approx(300 + 400 * np.sqrt(13), abs=1e-6)
    assert segments_m(joined) == [
        ((0.0, 0.0), (300.0, 0.0), 10),
        ((300.0, 0.0), (1500.0, 800.0), -1),
        ((300.0, 0.0), (2000.0, 0.0), 10),
    ]
    assert joined.base_kept.tolist() == [False]
    assert joined.lines["length_m"].iloc[0] == pytest.approx(400 * np.sqrt(13), abs=1e-6)
    assert joined.lines["n_joins"].iloc[0] == 1
    assert len(joined.joins) == 1
    # without the track the village walks 800 m off-road
    d0, _ = distance(r, None, (1500, 800), [(0, 0)])
    assert d0 == pytest.approx(1500 + 800, abs=1e-6)


def test_a_vertex_farther_than_the_join_distance_stays_a_dead_end():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    com = track([(300, 25), (300, 800)])
    joined = join_community_roads(r, com, 20.0, crs=UTM)
    assert joined.base_kept.all() and len(joined.joins) == 0
    joined = join_community_roads(r, com, 30.0, crs=UTM)
    assert not joined.base_kept.all() and len(joined.joins) == 1


def test_a_track_crossing_a_road_joins_it_at_the_crossing():
    r = roads(
        {1: (0, 0), 2: (1000, 0), 3: (2000, 0), 4: (1000, 1500)},
        [(10, [1, 2, 3], "primary"), (11, [2, 4], "secondary")],
    )
    com = track([(300, 15), (1500, 800)])
    # from the village back along the track to the crossing at (1000, 1400/3), then up
    d, joined = distance(r, com, (1500, 800), [(1000, 1500)])
    assert d == pytest.approx(np.hypot(500, 1000 / 3) + (1500 - 1400 / 3), abs=1e-6)
    assert joined.lines["n_joins"].iloc[0] == 2
    assert (~joined.base_kept).sum() == 2  # (0,0)-(1000,0) and the vertical road


def test_gps_noise_along_a_road_adds_no_parallel_road():
    nodes = {i + 1: (i * 100.0, 0.0) for i in range(21)}
    r = roads(nodes, [(10, list(nodes), "primary")])
    along = [(x, 12.0 * np.sin(x / 37.0)) for x in np.arange(100.0, 1500.1, 10.0)]
    up = [(1500.0, y) for y in np.arange(30.0, 600.1, 10.0)]
    com = track(along + up)
    d, joined = distance(r, com, (1500, 600), [(0, 0)])
    assert d == pytest.approx(1500 + 600, abs=1e-6)  # road to the turn, then the track
    # the road itself is unchanged: from end to end still 2000 m, no shortcut anywhere
    d_road, _ = distance(r, com, (2000, 0), [(0, 0)])
    assert d_road == pytest.approx(2000, abs=1e-6)
    seg = joined.roads
    community = joined.segment_road >= 0
    assert community.sum() == len(up)  # (1500,0)->(1500,30) and the 10 m steps up
    assert joined.dropped["length_m"].iloc[0] == pytest.approx(
        sum(np.hypot(np.diff([p[0] for p in along]), np.diff([p[1] for p in along]))),
        rel=1e-9,
    )
    assert (seg.highway[community] == seg.highway[community][0]).all()


def test_a_wobble_off_the_road_is_dropped_too():
    nodes = {i + 1: (i * 100.0, 0.0) for i in range(11)}
    r = roads(nodes, [(10, list(nodes), "primary")])
    wobble = [(100, 5), (200, 5), (250, 32), (300, 5), (400, 5)]  # 32 m out: < 2 x 20 m
    joined = join_community_roads(r, track(wobble), crs=UTM)
    assert not joined.is_community.any()
    assert [n.key for n in joined.notes] == ["note.community.all_along"]
    far = [(100, 5), (200, 5), (250, 45), (300, 5), (400, 5)]  # 45 m out: a real detour
    joined = join_community_roads(r, track(far), crs=UTM)
    assert joined.is_community.sum() == 2


def test_a_track_links_two_parallel_roads_30_m_apart():
    r = roads(
        {1: (0, 0), 2: (1000, 0), 3: (0, 30), 4: (1000, 30)},
        [(10, [1, 2], "primary"), (11, [3, 4], "primary")],
    )
    dense = [(500, y) for y in np.arange(-40.0, 71.0, 10.0)]
    d, joined = distance(r, track(dense), (0, 30), [(0, 0)])
    assert d == pytest.approx(500 + 30 + 500, abs=1e-6)
    drawn = track([(500, -100), (500, 130)])  # two clicks, crossing both roads
    d, joined = distance(r, drawn, (0, 30), [(0, 0)])
    assert d == pytest.approx(500 + 30 + 500, abs=1e-6)


def test_community_roads_cross_each_other_and_themselves():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    first = [(300, 15), (300, 1000)]
    second = [(0, 500), (600, 500)]  # crosses the first at (300, 500), no road near
    d, _ = distance(r, track(first, second), (600, 500), [(0, 0)])
    assert d == pytest.approx(300 + 500 + 300, abs=1e-6)
    # a loop crossing itself at (500, 300)
    loop = [(500, 15), (500, 600), (800, 300), (200, 300)]
    d, _ = distance(r, track(loop), (200, 300), [(0, 0)])
    assert d == pytest.approx(300 + 300 + 500, abs=1e-6)


def test_a_track_recorded_twice_adds_nothing_the_second_time():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    path = [(300, 15), (300, 400), (700, 800)]
    once = join_community_roads(r, track(path), crs=UTM)
    noisy = [(x + 3.0, y - 4.0) for x, y in path]
    twice = join_community_roads(r, track(path, noisy), crs=UTM)
    assert segments_m(once) == segments_m(twice)
    assert [n.key for n in twice.notes] == ["note.community.all_along"]
    assert "R2" in twice.notes[0].message("en")


def test_out_and_back_recording_keeps_one_way_there():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    out = [(300, y) for y in np.arange(10.0, 801.0, 10.0)]
    back = [(305, y) for y in np.arange(790.0, 9.0, -10.0)]
    com = track(out, back)
    joined = join_community_roads(r, com, crs=UTM)
    assert joined.lines["road_id"].tolist() == ["R1"]
    d, _ = distance(r, com, (300, 800), [(0, 0)])
    assert d == pytest.approx(300 + 800, abs=1e-6)


def test_one_way_roads_keep_their_direction_when_split():
    r = roads(
        {1: (0, 0), 2: (1000, 0), 3: (1000, -300), 4: (0, -300)},
        [(10, [1, 2], "primary", 1), (11, [2, 3, 4, 1], "secondary")],
    )
    com = track([(300, 10), (300, 500)])
    d_east, joined = distance(r, com, (300, 500), [(1000, 0)], settings=CAR)
    assert d_east == pytest.approx(500 + 700, abs=1e-6)
    # west is against the one-way: east to its end and round the loop
    d_west, _ = distance(r, com, (300, 500), [(0, 0)], settings=CAR)
    assert d_west == pytest.approx(500 + 700 + 300 + 1000 + 300, abs=1e-6)
    d_walk, _ = distance(r, com, (300, 500), [(0, 0)])
    assert d_walk == pytest.approx(500 + 300, abs=1e-6)
    pieces = joined.segment_base == 0
    assert joined.roads.oneway[pieces].tolist() == [1, 1]
    assert [s[:2] for s in segments_m(joined) if s[2] == 10] == [
        ((0.0, 0.0), (300.0, 0.0)),
        ((300.0, 0.0), (1000.0, 0.0)),
    ]


def test_modes_and_class_of_a_community_road():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    foot = track([(300, 15), (300, 800)], modes="walk")
    d_walk, joined = distance(r, foot, (300, 800), [(0, 0)])
    assert d_walk == pytest.approx(1100, abs=1e-6)
    d_car, _ = distance(r, foot, (300, 800), [(0, 0)], settings=CAR)
    assert d_car == pytest.approx(300 + 800, abs=1e-6)  # the same, off-road on foot
    net = build_network(joined.roads, CAR, crs=UTM)
    assert (net.seg_way_id >= 0).all()  # the footpath is not in the car network
    main = track([(300, 15), (300, 800)], road_class="secondary")
    joined = join_community_roads(r, main, crs=UTM)
    net = build_network(joined.roads, CAR, crs=UTM)
    c = net.seg_way_id < 0
    assert net.seg_time_s[c][0] == pytest.approx(800 / (60 / 3.6), rel=1e-9)  # secondary: 60


def test_roads_outside_the_area():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    area = box(-100, -100, 2100, 1000)
    inside = [(300, 15), (300, 800)]
    outside = [(50_000, 0), (51_000, 0)]
    joined = join_community_roads(r, track(inside, outside), crs=UTM, area=area)
    (note,) = joined.notes
    assert note.key == "warning.community.outside" and "R2" in note.message("zh")
    assert joined.lines["road_id"].tolist() == ["R1"]
    with pytest.raises(InputError) as info:
        join_community_roads(r, track(outside), crs=UTM, area=area)
    assert info.value.key == "error.community.all_outside"
    assert "drawn" in info.value.message("en")


def test_no_community_roads_changes_nothing():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    joined = join_community_roads(r, make_community_roads([]), crs=UTM)
    assert joined.roads is r and not joined.is_community.any()


def test_compare_villages_says_what_changed():
    r = roads({1: (0, 0), 2: (2000, 0)}, [(10, [1, 2], "primary")])
    from mapping.scenario import Scenario
    from tests.netbuild import villages

    vil = villages({"V1": (1500, 800), "V2": (100, 50)}, ["远村", "近村"])
    svc = services({"K": ("kindergarten", 0, 0)})
    from layers.households import empty_households

    sc = Scenario(
        roads=r,
        villages=vil,
        households=empty_households(),
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )
    before = run_analysis(sc, WALK, network=build_network(r, WALK, crs=UTM))
    after, join = add_community_roads(before, track([(300, 15), (1500, 800)]))
    table = compare_villages(before.villages, after.villages, ["kindergarten"])
    assert table["village_id"].tolist() == ["V1"]
    row = table.iloc[0]
    assert row["change_m"] == pytest.approx(300 + 400 * np.sqrt(13) - 2300, abs=1e-6)
    assert "0.6 km shorter" in row["sentence_en"] and "缩短了 0.6 公里" in row["sentence_zh"]


# --------------------------------------------------------------------------------------------
# an analysis updated with a new road equals a full rebuild


@pytest.fixture(scope="module")
def county():
    from benchmarks.synthetic import make_scenario

    syn, sc = make_scenario(12_000, 3_000, 300, 8, seed=11)
    return syn, sc


def _assert_same(a, b):
    for frame in ("villages", "households"):
        x, y = getattr(a, frame), getattr(b, frame).loc[getattr(a, frame).index]
        for col in ("dist_kindergarten_m", "time_kindergarten_min", "offroad_m"):
            np.testing.assert_allclose(x[col], y[col], atol=1e-6, rtol=0, err_msg=col)
        assert (
            x["unreachable_kindergarten"].fillna("") == y["unreachable_kindergarten"].fillna("")
        ).all()
    for col in ("flag_kindergarten", "n_hh_beyond_kindergarten", "reason_kindergarten_en"):
        assert a.villages[col].tolist() == b.villages.loc[a.villages.index, col].tolist(), col


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_adding_roads_to_an_analysis_equals_a_full_rebuild(county, mode):
    syn, sc = county
    settings = AnalysisSettings(mode=mode, kinds=("kindergarten",))
    base = run_analysis(sc, settings, network=build_network(sc.roads, settings, crs=UTM))
    to_ll = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    rng = np.random.default_rng(5)
    cx, cy = np.median(syn.x), np.median(syn.y)
    analysis, changed = base, 0
    for _ in range(4):
        x0, y0 = cx + rng.uniform(-2500, 2500), cy + rng.uniform(-2500, 2500)
        pts = [(x0, y0)] + [(x0 + rng.uniform(-1500, 1500), y0 + rng.uniform(-1500, 1500))]
        pts += [(pts[-1][0] + rng.uniform(-800, 800), pts[-1][1] + rng.uniform(-800, 800))]
        com = make_community_roads([shapely.LineString([to_ll.transform(*p) for p in pts])])
        updated, join = add_community_roads(analysis, com)
        full = run_analysis(
            updated.scenario, settings, network=build_network(join.roads, settings, crs=UTM)
        )
        _assert_same(updated, full)
        changed += int(
            (
                (updated.villages["dist_kindergarten_m"] - analysis.villages["dist_kindergarten_m"])
                .abs()
                .gt(1e-6)
            ).sum()
        )
        analysis = updated  # roads keep adding up
    assert changed > 0, "the random roads changed nothing: the test would not test"


def test_network_with_join_equals_build_network(county):
    syn, sc = county
    net = build_network(sc.roads, CAR, crs=UTM)
    com = track([(0, 0), (1, 1)])  # placeholder replaced below with a road in the county
    to_ll = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    cx, cy = float(np.median(syn.x)), float(np.median(syn.y))
    line = shapely.LineString([to_ll.transform(cx, cy), to_ll.transform(cx + 1700, cy + 900)])
    com = make_community_roads([line])
    join = join_community_roads(sc.roads, com, crs=UTM)
    patched, _ = network_with_join(net, sc.roads, join, CAR)
    full = build_network(join.roads, CAR, crs=UTM)
    assert patched.n_segments == full.n_segments and patched.n_nodes == full.n_nodes
    ids = np.intersect1d(full.node_id, patched.node_id)
    pos_full = {n: i for i, n in enumerate(full.node_id)}
    pos_patch = {n: i for i, n in enumerate(patched.node_id)}
    src = [pos_full[ids[0]], pos_full[ids[len(ids) // 2]]]
    d_full = dijkstra(full.graph_time, indices=src)
    d_patch = dijkstra(patched.graph_time, indices=[pos_patch[full.node_id[s]] for s in src])
    order = [pos_patch[n] for n in full.node_id]
    np.testing.assert_allclose(d_patch[:, order], d_full, atol=1e-6, rtol=0)
    assert (full.component == full.main_component).sum() == (
        patched.component == patched.main_component
    ).sum()


# --------------------------------------------------------------------------------------------
# real extracts against an independent networkx oracle


def _oracle_graph(net, track_xy_list):
    """networkx graph of the network's segments with the tracks noded in by shapely.

    Road segments are split where a track crosses or touches them (a track's vertex within
    a micrometre of a segment touches it); tracks are split there, where they cross each
    other, and at their vertices. Nodes: road node ids, or positions rounded to 1 cm for new
    points (the join makes points within 1 cm one node).
    """
    G = nx.Graph()
    xy = np.column_stack([net.x, net.y])
    tracks_geom = [shapely.LineString(t) for t in track_xy_list]
    cuts = [[] for _ in tracks_geom]  # (distance along the track, node)

    def key(p, seg=None):
        if seg is not None:
            for end in (net.seg_u[seg], net.seg_v[seg]):
                if np.hypot(p[0] - xy[end][0], p[1] - xy[end][1]) < 0.01:
                    return int(net.node_id[end])
        return (round(float(p[0]), 2), round(float(p[1]), 2))

    def add(a, b, w):
        if a != b and (not G.has_edge(a, b) or G[a][b]["weight"] > w):
            G.add_edge(a, b, weight=w)

    for s, (u, v) in enumerate(zip(net.seg_u, net.seg_v, strict=True)):
        line = shapely.LineString([xy[u], xy[v]])
        stops = []
        for k, t in enumerate(tracks_geom):
            if line.distance(t) > 1e-6:
                continue
            found = [(p.x, p.y) for p in _points(line.intersection(t))]
            found += [c for c in t.coords if line.distance(shapely.Point(c)) < 1e-6]
            for p in found:
                node = key(p, s)
                stops.append((line.project(shapely.Point(p)), node))
                cuts[k].append((t.project(shapely.Point(p)), node))
        seq = [(0.0, int(net.node_id[u]))] + sorted(stops) + [(line.length, int(net.node_id[v]))]
        for (d0, a), (d1, b) in zip(seq[:-1], seq[1:], strict=True):
            add(a, b, d1 - d0)
    for k, t in enumerate(tracks_geom):
        for m in range(k + 1, len(tracks_geom)):
            for p in _points(t.intersection(tracks_geom[m])):
                node = key((p.x, p.y))
                cuts[k].append((t.project(p), node))
                cuts[m].append((tracks_geom[m].project(p), node))
        # a track crossing itself
        for i in range(len(t.coords) - 1):
            for j in range(i + 2, len(t.coords) - 1):
                a = shapely.LineString(t.coords[i : i + 2])
                b = shapely.LineString(t.coords[j : j + 2])
                for p in _points(a.intersection(b)):
                    cuts[k].append((t.project(p), key((p.x, p.y))))
    for k, t in enumerate(tracks_geom):
        stops = [(t.project(shapely.Point(c)), key(c)) for c in t.coords] + cuts[k]
        stops.sort(key=lambda a: a[0])
        for (d0, a), (d1, b) in zip(stops[:-1], stops[1:], strict=True):
            add(a, b, d1 - d0)
    return G


def _points(geom):
    """The points of an intersection (the oracle handles crossings, not overlaps)."""
    parts = [p for p in shapely.get_parts(geom) if not p.is_empty]
    assert all(p.geom_type == "Point" for p in parts), "an overlap, not a crossing"
    return parts


def _segment_distances(net, x, y):
    """Distance from (x, y) to every segment (plain numpy)."""
    ax, ay, bx, by = net.segment_ends()
    dx, dy = bx - ax, by - ay
    l2 = dx * dx + dy * dy
    t = ((x - ax) * dx + (y - ay) * dy) / np.maximum(l2, 1e-12)
    t = np.clip(np.where(l2 > 0, t, 0.0), 0.0, 1.0)
    return np.hypot(ax + t * dx - x, ay + t * dy - y), t


def _pick_tracks(net, rng, n, join_m):
    """Tracks on the extract: half start on a road node, half 12 m off a segment (the oracle
    moves that start onto the segment's nearest point itself); their other vertices are far
    from every road and from the other tracks, so that only the starts and the crossings
    join. Returns ``[(track as given, track as the oracle expects it), ...]``."""
    main = np.flatnonzero(net.component == net.main_component)
    long_segs = np.flatnonzero(net.seg_len_m > 60)
    out = []
    for _ in range(5000):
        if len(out) == n:
            break
        length = rng.uniform(400, 1500)
        turn = rng.uniform(-1.5, 1.5)
        if len(out) % 2 == 0:
            a = rng.choice(main)
            start = (net.x[a], net.y[a])
            ang = rng.uniform(0, 2 * np.pi)
            direction = np.array([np.cos(ang), np.sin(ang)])
            landed = start
        else:
            s = rng.choice(long_segs)
            u, v = net.seg_u[s], net.seg_v[s]
            normal = np.array([-(net.y[v] - net.y[u]), net.x[v] - net.x[u]])
            direction = normal / np.hypot(*normal)
            mid = np.array([(net.x[u] + net.x[v]) / 2, (net.y[u] + net.y[v]) / 2])
            start = tuple(mid + 12.0 * direction)
            d, t = _segment_distances(net, *start)
            best = int(np.argmin(d))
            if best != s or abs(d[best] - 12.0) > 1e-6 or np.sort(d)[1] < join_m + 5:
                continue  # another road is near: not the case this track is for
            landed = tuple(mid)
        b = np.array(start) + length * direction
        rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        c = b + 300.0 * rot @ direction
        far = [np.min(_segment_distances(net, *p)[0]) for p in (b, c)]
        if min(far) < 3 * join_m:
            continue
        line = shapely.LineString([landed, tuple(b), tuple(c)])
        # tracks may cross each other, but no vertex comes near another track (rule 4)
        near = any(
            min(shapely.LineString(o).distance(shapely.Point(p)) for p in line.coords) < 3 * join_m
            or min(line.distance(shapely.Point(p)) for p in o) < 3 * join_m
            for _, o in out
        )
        if near:
            continue
        out.append(([start, tuple(b), tuple(c)], [landed, tuple(b), tuple(c)]))
    assert len(out) == n, "could not place the tracks"
    return out


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "bbox"),
    [
        ("liechtenstein-2013.osm.pbf", (9.50, 47.12, 9.56, 47.17)),
        ("north-bayreuth.osm.gz", None),
    ],
)
def test_join_on_real_extracts_matches_a_networkx_oracle(name, bbox):
    from layers.osm import read_osm

    extract = read_osm(shared_file("osm", name), clip=bbox)
    net0 = build_network(extract.roads, WALK)
    rng = np.random.default_rng(2)
    picked = _pick_tracks(net0, rng, 6, JOIN_M)
    to_ll = pyproj.Transformer.from_crs(net0.crs, "EPSG:4326", always_xy=True)
    com = make_community_roads(
        [shapely.LineString([to_ll.transform(*p) for p in pts]) for pts, _ in picked]
    )
    joined = join_community_roads(extract.roads, com, JOIN_M, crs=net0.crs)
    net = build_network(joined.roads, WALK, crs=net0.crs)
    G = _oracle_graph(net0, [o for _, o in picked])
    # every track joined at its start, and some cross roads on the way
    assert joined.lines["n_joins"].min() >= 1
    assert joined.lines["n_joins"].sum() > len(picked)

    main = np.flatnonzero(net0.component == net0.main_component)
    sources = rng.choice(main, 4, replace=False)
    pos = {int(nid): i for i, nid in enumerate(net.node_id)}
    ours = dijkstra(
        net.graph_len, directed=False, indices=[pos[int(net0.node_id[s])] for s in sources]
    )
    ends = [p for _, o in picked for p in o[1:]]
    end_idx = [int(np.argmin(np.hypot(net.x - p[0], net.y - p[1]))) for p in ends]
    for i, p in zip(end_idx, ends, strict=True):
        assert np.hypot(net.x[i] - p[0], net.y[i] - p[1]) < 1e-3
    targets = net0.node_id[main[:: max(1, len(main) // 500)]]
    changed = 0
    for k, s in enumerate(sources):
        ref = nx.single_source_dijkstra_path_length(G, int(net0.node_id[s]))
        base = nx.single_source_dijkstra_path_length(_oracle_graph(net0, []), int(net0.node_id[s]))
        for nid in targets:
            want = ref.get(int(nid), np.inf)
            assert ours[k, pos[int(nid)]] == pytest.approx(want, abs=1e-3)
            changed += want < base.get(int(nid), np.inf) - 1e-3
        for i, p in zip(end_idx, ends, strict=True):
            want = ref.get((round(p[0], 2), round(p[1], 2)), np.inf)
            assert np.isfinite(want)
            assert ours[k, i] == pytest.approx(want, abs=1e-3)
    assert changed > 0, "the tracks shortened no route: the comparison would prove little"


def test_benchmark_rows_agree_with_the_full_rebuild_at_a_small_size():
    """The benchmark's own correctness checks (never its timings), at a tiny size."""
    from benchmarks import community as bench

    syn, sc, base = bench.county(4_000, 600, 60)
    for row in bench.row_add_road(syn, sc, base, 1) + bench.row_closures(syn, sc, base, 1):
        assert row.max_abs_diff_m is not None and row.max_abs_diff_m <= 1e-3, row
    (row,) = bench.row_many_tracks(syn, sc, 20, 2_000, 1)
    assert "community segments kept" in row.note


def test_the_demo_track_brings_its_village_a_kilometre_closer():
    from layers.tracks import read_community_roads
    from mapping.scenario import DEMO_DIR, load_demo

    base = run_analysis(load_demo())
    roads = read_community_roads(DEMO_DIR / "community_track.gpx")
    assert roads["road_class"].tolist() == ["track"] and roads["added_by"].notna().all()
    after, join = add_community_roads(base, roads)
    table = compare_villages(base.villages, after.villages, ["kindergarten", "school"])
    row = table[(table["village_name"] == "巨井泉村二组") & (table["kind"] == "kindergarten")]
    assert len(row) == 1
    assert row["dist_before_m"].iloc[0] == pytest.approx(4325.1, abs=1.0)
    assert row["change_m"].iloc[0] < -800.0
    assert join.dropped["length_m"].sum() > 150.0  # recorded along the road into town
    full = run_analysis(after.scenario, base.settings)
    np.testing.assert_allclose(
        after.villages["dist_kindergarten_m"],
        full.villages.loc[after.villages.index, "dist_kindergarten_m"],
        atol=1e-6,
    )
