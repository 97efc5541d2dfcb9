"""Routing and nearest-service distances on hand-built networks, checked to the millimetre."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.errors import NoDataError
from layers.roads import MODE_BITS
from mapping import network
from mapping.access import compute_service_access
from mapping.network import build_network, snap_points
from mapping.settings import AnalysisSettings
from tests.netbuild import UTM, X0, Y0, points, roads, services

MM = 1e-3  # millimetre tolerance: the answers are exact up to projection round-off


def line5():
    """A straight road of 5 nodes, 100 m apart, along x: 0, 100, 200, 300, 400."""
    return roads({i: (100.0 * i, 0.0) for i in range(5)}, [(1, [0, 1, 2, 3, 4], "tertiary")])


def net_of(r, mode="walk", **kw):
    return build_network(r, AnalysisSettings(mode=mode, **kw), crs=UTM)


def test_network_lengths_are_metres():
    net = net_of(line5())
    assert net.n_nodes == 5 and net.n_segments == 4
    np.testing.assert_allclose(net.seg_len_m, 100.0, atol=MM)
    np.testing.assert_allclose(net.x - X0, [0, 100, 200, 300, 400], atol=MM)
    np.testing.assert_allclose(net.y - Y0, 0, atol=MM)


def test_line_distance_includes_both_offroad_legs():
    net = net_of(line5())
    hh = points({"h1": (150.0, 30.0), "h2": (0.0, 0.0)})
    svc = services({"k1": ("kindergarten", 400.0, -20.0)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    # h1: 30 m to the road at x=150, 250 m along it, 20 m from the road to the kindergarten
    assert out.loc["h1", "dist_kindergarten_m"] == pytest.approx(300.0, abs=MM)
    assert out.loc["h2", "dist_kindergarten_m"] == pytest.approx(420.0, abs=MM)
    assert out.loc["h1", "nearest_kindergarten_id"] == "k1"
    assert out.loc["h1", "nearest_kindergarten"] == "name-k1"
    assert out.loc["h1", "straight_kindergarten_m"] == pytest.approx(np.hypot(250, 50), abs=MM)
    # walking 300 m at 4.5 km/h = 4 minutes
    assert out.loc["h1", "time_kindergarten_min"] == pytest.approx(4.0, abs=1e-6)
    assert out["reachable_kindergarten"].all()
    assert out["unreachable_kindergarten"].isna().all()
    assert list(out.index) == ["h1", "h2"]


def test_nearest_of_several_services_and_ids():
    net = net_of(line5())
    hh = points({"a": (50.0, 0.0), "b": (350.0, 0.0), "c": (210.0, 0.0)})
    svc = services({"left": ("kindergarten", 0.0, 0.0), "right": ("kindergarten", 400.0, 0.0)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    assert out["nearest_kindergarten_id"].tolist() == ["left", "right", "right"]
    np.testing.assert_allclose(out["dist_kindergarten_m"], [50.0, 50.0, 190.0], atol=MM)


def test_service_on_the_same_segment_is_reached_directly():
    r = roads({0: (0.0, 0.0), 1: (1000.0, 0.0)}, [(1, [0, 1], "unclassified")])
    net = net_of(r)
    hh = points({"h": (200.0, 0.0)})
    svc = services({"k": ("kindergarten", 700.0, 0.0)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    # via a segment end it would be 900 m or 1100 m
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(500.0, abs=MM)


def square_with_oneway():
    """A 100 m square A(0,0) B(100,0) C(100,100) D(0,100); A->B is one-way."""
    nodes = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (100.0, 100.0), 4: (0.0, 100.0)}
    ways = [
        (10, [1, 2], "residential", 1),
        (11, [2, 3, 4, 1], "residential", 0),
    ]
    return roads(nodes, ways)


def test_oneway_forces_a_detour_for_vehicles_but_not_walkers():
    hh = points({"at_b": (100.0, 0.0)})
    svc = services({"k": ("kindergarten", 0.0, 0.0)})
    car = compute_service_access(net_of(square_with_oneway(), "car"), hh, svc, "kindergarten")
    walk = compute_service_access(net_of(square_with_oneway(), "walk"), hh, svc, "kindergarten")
    assert car.loc["at_b", "dist_kindergarten_m"] == pytest.approx(300.0, abs=MM)
    assert walk.loc["at_b", "dist_kindergarten_m"] == pytest.approx(100.0, abs=MM)


def test_reverse_oneway_on_the_same_segment():
    # one-way 0 -> 1 drawn the other way (oneway=-1): travel only from x=1000 towards x=0
    r = roads({0: (0.0, 0.0), 1: (1000.0, 0.0)}, [(1, [0, 1], "unclassified", -1)])
    hh = points({"west": (200.0, 0.0), "east": (900.0, 0.0)})
    svc = services({"k": ("kindergarten", 500.0, 0.0)})
    out = compute_service_access(net_of(r, "car"), hh, svc, "kindergarten")
    assert out.loc["east", "dist_kindergarten_m"] == pytest.approx(400.0, abs=MM)
    assert np.isnan(out.loc["west", "dist_kindergarten_m"])
    assert out.loc["west", "unreachable_kindergarten"] == "not_connected"
    assert not out.loc["west", "reachable_kindergarten"]
    assert out.loc["west", "straight_kindergarten_m"] == pytest.approx(300.0, abs=MM)


def test_parallel_segments_keep_the_minimum_not_the_sum():
    nodes = {1: (0.0, 0.0), 2: (600.0, 0.0)}
    # the same stretch mapped twice: as a track and as a primary road
    r = roads(nodes, [(1, [1, 2], "track"), (2, [1, 2], "primary")])
    net = net_of(r, "motorbike")
    assert net.graph_len.nnz == 2  # one arc each way, not four
    assert net.graph_len[0, 1] == pytest.approx(600.0, abs=MM)  # not 1200
    hh = points({"h": (0.0, 0.0)})
    svc = services({"k": ("kindergarten", 600.0, 0.0)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(600.0, abs=MM)
    # the faster class wins for time: 600 m at 60 km/h (motorbike, primary) = 0.6 min
    assert out.loc["h", "time_kindergarten_min"] == pytest.approx(0.6, abs=1e-6)


def test_motorbike_time_uses_class_speed_and_walks_offroad():
    r = roads({0: (0.0, 0.0), 1: (600.0, 0.0)}, [(1, [0, 1], "primary")])
    hh = points({"h": (0.0, 45.0)})
    svc = services({"k": ("kindergarten", 600.0, 0.0)})
    out = compute_service_access(net_of(r, "motorbike"), hh, svc, "kindergarten")
    # 45 m off-road at 4.5 km/h = 36 s; 600 m at 60 km/h = 36 s
    assert out.loc["h", "time_kindergarten_min"] == pytest.approx(1.2, abs=1e-6)
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(645.0, abs=MM)


def grid3_missing_edge():
    """3x3 grid, 100 m spacing, ids r*3+c; the edge (1,1)-(1,2) is missing."""
    nodes = {r * 3 + c: (100.0 * c, 100.0 * r) for r in range(3) for c in range(3)}
    ways = []
    wid = 0
    for r in range(3):
        for c in range(3):
            here = r * 3 + c
            if c < 2 and not (r == 1 and c == 1):
                ways.append((wid := wid + 1, [here, here + 1], "residential"))
            if r < 2:
                ways.append((wid := wid + 1, [here, here + 3], "residential"))
    return roads(nodes, ways)


def test_grid_with_a_missing_edge():
    net = net_of(grid3_missing_edge())
    assert net.n_segments == 11
    svc = services({"k": ("school", 200.0, 100.0)})  # node (1,2)
    hh = points({"centre": (100.0, 100.0), "corner": (0.0, 0.0), "mid": (50.0, 100.0)})
    out = compute_service_access(net, hh, svc, "school")
    # centre must go around the missing edge: up/down 100, across 100, back 100
    np.testing.assert_allclose(out["dist_school_m"].to_numpy(), [300.0, 300.0, 350.0], atol=MM)


def two_pieces():
    """A 400 m road with a kindergarten, and a separate 100 m road 1 km away."""
    nodes = {0: (0.0, 0.0), 1: (400.0, 0.0), 10: (0.0, 1000.0), 11: (100.0, 1000.0)}
    return roads(nodes, [(1, [0, 1], "unclassified"), (2, [10, 11], "track")])


def test_disconnected_piece_is_unreachable_when_snapping_to_any_road():
    net = net_of(two_pieces(), snap_to="any")
    hh = points({"island": (50.0, 1010.0), "main": (100.0, 0.0)})
    svc = services({"k": ("kindergarten", 0.0, 0.0)})
    out = compute_service_access(net, hh, svc, "kindergarten", snap_to="any")
    assert np.isnan(out.loc["island", "dist_kindergarten_m"])
    assert np.isnan(out.loc["island", "time_kindergarten_min"])
    assert out.loc["island", "unreachable_kindergarten"] == "not_connected"
    assert pd.isna(out.loc["island", "nearest_kindergarten_id"])
    assert out.loc["island", "straight_kindergarten_m"] == pytest.approx(np.hypot(50, 1010), abs=MM)
    assert out.loc["main", "dist_kindergarten_m"] == pytest.approx(100.0, abs=MM)


def test_disconnected_piece_snaps_to_the_main_network_by_default():
    net = net_of(two_pieces())
    assert net.main_component == net.component[0]
    hh = points({"island": (50.0, 1010.0)})
    snap = snap_points(net, *net.to_projected(*lonlat_of(hh)))
    assert snap.offroad_m[0] == pytest.approx(1010.0, abs=MM)
    svc = services({"k": ("kindergarten", 0.0, 0.0)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    assert out.loc["island", "dist_kindergarten_m"] == pytest.approx(1060.0, abs=MM)


def lonlat_of(gdf):
    return gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()


def test_absent_service_kind_gives_nan_and_a_reason():
    net = net_of(line5())
    hh = points({"h": (100.0, 0.0)})
    svc = services({"k": ("kindergarten", 0.0, 0.0)})
    out = compute_service_access(net, hh, svc, "school")
    assert np.isnan(out.loc["h", "dist_school_m"])
    assert np.isnan(out.loc["h", "straight_school_m"])
    assert out.loc["h", "unreachable_school"] == "no_service"
    assert not out.loc["h", "reachable_school"]


def test_inputs_are_not_mutated():
    net = net_of(line5())
    hh = points({"h": (150.0, 30.0)})
    svc = services({"k": ("kindergarten", 400.0, 0.0)})
    before_hh, before_svc = hh.copy(), svc.copy()
    compute_service_access(net, hh, svc, "kindergarten")
    pd.testing.assert_frame_equal(hh, before_hh)
    pd.testing.assert_frame_equal(svc, before_svc)


def test_mode_filter_drops_segments_and_no_roads_is_an_error():
    walk_only = MODE_BITS["walk"]
    r = roads({0: (0.0, 0.0), 1: (100.0, 0.0)}, [(1, [0, 1], "footway", 0, walk_only)])
    assert net_of(r, "walk").n_segments == 1
    with pytest.raises(NoDataError) as err:
        net_of(r, "car")
    assert "no roads usable for 'car'" in str(err.value)
    assert "出行方式" in err.value.message("zh")


@pytest.fixture(params=["pruned", "scipy"])
def either_search(request, monkeypatch):
    """add_services both ways: the pruned search (large networks) and one scipy search
    from the new services (small networks)."""
    from mapping import access

    limit = -1 if request.param == "pruned" else 10**9
    monkeypatch.setattr(access, "PRUNED_SEARCH_MIN_NODES", limit)
    return request.param


def test_adding_a_proposed_service_equals_a_full_recompute(either_search):
    from mapping.access import access_table, add_services, prepare_access

    net = net_of(grid3_missing_edge(), "car")
    hh = points({"a": (0.0, 0.0), "b": (100.0, 100.0), "c": (200.0, 200.0), "d": (0.0, 200.0)})
    snap = snap_points(net, *net.project_points(hh))
    existing = services({"k1": ("kindergarten", 200.0, 0.0)})
    proposal = services({"P1": ("kindergarten", 0.0, 150.0)})
    before = access_table(net, prepare_access(net, existing, "kindergarten"), hh, snap)
    incremental = add_services(net, prepare_access(net, existing, "kindergarten"), proposal)
    after = access_table(net, incremental, hh, snap)
    full = access_table(
        net, prepare_access(net, pd.concat([existing, proposal]), "kindergarten"), hh, snap
    )
    pd.testing.assert_frame_equal(after, full)
    # b reaches P1 in 100 + 50 m, k1 in 200 m; c keeps k1 (200 m, P1 would be 250 m)
    assert after["nearest_kindergarten_id"].tolist() == ["P1", "P1", "k1", "P1"]
    np.testing.assert_allclose(after["dist_kindergarten_m"], [150.0, 150.0, 200.0, 50.0], atol=MM)
    assert (after["dist_kindergarten_m"] <= before["dist_kindergarten_m"]).all()


def test_adding_a_service_on_a_disconnected_piece_reaches_only_that_piece(either_search):
    from mapping.access import access_table, add_services, prepare_access

    net = net_of(two_pieces(), snap_to="any")
    hh = points({"island": (50.0, 1000.0), "main": (400.0, 0.0)})
    snap = snap_points(net, *net.project_points(hh), snap_to="any")
    base = prepare_access(
        net, services({"k": ("kindergarten", 0.0, 0.0)}), "kindergarten", snap_to="any"
    )
    added = add_services(net, base, services({"P": ("kindergarten", 100.0, 1000.0)}), snap_to="any")
    out = access_table(net, added, hh, snap)
    np.testing.assert_allclose(out["dist_kindergarten_m"], [50.0, 400.0], atol=MM)
    assert out["nearest_kindergarten_id"].tolist() == ["P", "k"]


def test_points_and_services_at_the_start_of_a_oneway_segment():
    """A point snapped to t=0 of a one-way A->B stands on A and may leave A by any road."""
    from mapping.access import point_costs, search_services
    from mapping.network import Snap

    # A(0,0) -> B(100,0) one-way; A - D(0,-100) two-way; a service on D
    r = roads(
        {0: (0.0, 0.0), 1: (100.0, 0.0), 3: (0.0, -100.0)},
        [(1, [0, 1], "residential", 1), (3, [3, 0], "residential")],
    )
    net = net_of(r, "car")
    ab = int(np.flatnonzero(net.seg_way_id == 1)[0])
    da = int(np.flatnonzero(net.seg_way_id == 3)[0])
    at_a = Snap(np.array([ab]), np.array([0.0]), np.array([0.0]), net.x[:1], net.y[:1])
    on_d = Snap(np.array([da]), np.array([0.0]), np.array([0.0]), net.x[:1], net.y[:1])
    cost, who = point_costs(net, search_services(net, on_d), at_a)
    assert cost[0] == pytest.approx(100.0, abs=MM) and who[0] == 0
    # the other way round: a service standing on A (t=0 of A->B) reached from D
    cost, _ = point_costs(net, search_services(net, at_a), on_d)
    assert cost[0] == pytest.approx(100.0, abs=MM)
    # and a service at t=1 of A->B stands on B: from B's other side it is reachable at 0
    at_b = Snap(np.array([ab]), np.array([1.0]), np.array([0.0]), net.x[:1], net.y[:1])
    cost, _ = point_costs(net, search_services(net, at_b), at_b)
    assert cost[0] == pytest.approx(0.0, abs=MM)


@pytest.mark.parametrize("pairs", [0, 10**9], ids=["grid", "every-segment"])
def test_snapping_finds_the_exactly_nearest_segment(pairs, monkeypatch):
    monkeypatch.setattr(network, "BRUTE_FORCE_PAIRS", pairs)
    # long and short segments mixed: a 5 km road with a comb of 30 m spurs, and a diagonal
    nodes = {0: (0.0, 0.0), 1: (5000.0, 0.0), 2: (0.0, 800.0), 3: (5000.0, 2000.0)}
    ways = [(1, [0, 1], "primary"), (2, [2, 3], "track")]
    for i in range(40):
        nodes[100 + i] = (120.0 * i, 0.0 + 30.0)
        nodes[200 + i] = (120.0 * i, 0.0 + 60.0)
        ways.append((10 + i, [100 + i, 200 + i], "service"))
    net = net_of(roads(nodes, ways), snap_to="any")
    rng = np.random.default_rng(5)
    x = X0 + rng.uniform(-500, 5500, 2000)
    y = Y0 + rng.uniform(-500, 2500, 2000)
    snap = snap_points(net, x, y, snap_to="any")
    # brute force over every segment
    ax, ay = net.x[net.seg_u], net.y[net.seg_u]
    dx, dy = net.x[net.seg_v] - ax, net.y[net.seg_v] - ay
    t = np.clip(((x[:, None] - ax) * dx + (y[:, None] - ay) * dy) / (dx * dx + dy * dy), 0, 1)
    brute = np.hypot(x[:, None] - (ax + t * dx), y[:, None] - (ay + t * dy)).min(axis=1)
    np.testing.assert_allclose(snap.offroad_m, brute, atol=1e-6)
    # the snapped point lies on the chosen segment, at the reported distance
    np.testing.assert_allclose(np.hypot(x - snap.x, y - snap.y), snap.offroad_m, atol=1e-6)


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_incremental_search_equals_full_recompute_on_random_grids(mode, either_search):
    from mapping.access import access_table, add_services, prepare_access

    rng = np.random.default_rng(11 if mode == "walk" else 12)
    side = 15
    nodes = {
        r * side + c: (150.0 * c + rng.uniform(-20, 20), 150.0 * r + rng.uniform(-20, 20))
        for r in range(side)
        for c in range(side)
    }
    ways, wid = [], 0
    for r in range(side):
        for c in range(side):
            here = r * side + c
            for nxt in ([here + 1] if c < side - 1 else []) + (
                [here + side] if r < side - 1 else []
            ):
                if rng.random() < 0.15:
                    continue
                wid += 1
                oneway = int(rng.choice([0, 0, 0, 1, -1]))
                hw = str(rng.choice(["residential", "track", "primary"]))
                ways.append((wid, [here, nxt], hw, oneway))
    net = net_of(roads(nodes, ways), mode)
    hh = points({f"h{i}": (rng.uniform(0, 2100), rng.uniform(0, 2100)) for i in range(300)})
    snap = snap_points(net, *net.project_points(hh))
    existing = services(
        {f"k{i}": ("kindergarten", rng.uniform(0, 2100), rng.uniform(0, 2100)) for i in range(3)}
    )
    base = prepare_access(net, existing, "kindergarten")
    for trial in range(8):
        new = services(
            {
                f"P{trial}{j}": ("kindergarten", rng.uniform(0, 2100), rng.uniform(0, 2100))
                for j in range(1 + trial % 3)
            }
        )
        inc = access_table(net, add_services(net, base, new), hh, snap)
        full = access_table(
            net, prepare_access(net, pd.concat([existing, new]), "kindergarten"), hh, snap
        )
        pd.testing.assert_frame_equal(inc, full)


# --------------------------------------------------------------------------------------------
# issue 12, bug 2: a point a hair inside a one-way segment is not trapped by its direction


def junction_with_oneway(towards_j: bool = True):
    """Households come along a two-way road H(-1000,0) - J(0,0). A one-way road joins J and
    K(0,2000) (traffic K -> J, or J -> K when not ``towards_j``), and a two-way loop J -
    A(2100,0) - B(2100,2000) - K joins K back: going the wrong way along J-K means going
    round the loop (6,200 m)."""
    nodes = {0: (-1000.0, 0.0), 1: (0.0, 0.0), 2: (0.0, 2000.0), 3: (2100.0, 0.0)}
    nodes[4] = (2100.0, 2000.0)
    ways = [
        (1, [0, 1], "residential"),
        (2, [2, 1] if towards_j else [1, 2], "residential", 1),
        (3, [1, 3, 4, 2], "residential"),
    ]
    return roads(nodes, ways)


@pytest.mark.parametrize("mode", ["car", "motorbike"])
def test_a_service_1cm_along_a_oneway_from_a_junction_is_reached_from_the_junction(mode):
    net = net_of(junction_with_oneway(towards_j=True), mode)
    hh = points({"h": (-1000.0, 0.0)})
    # 1 cm up the one-way K -> J from J: a car at J may not drive the 1 cm against the
    # traffic, but the 1 cm is walked, as an off-road leg is (before: 1000 + 6200 + 1999.99)
    svc = services({"k": ("kindergarten", 0.0, 0.01)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(1000.01, abs=MM)
    # 1000 m on a residential road at the mode's speed, plus 1 cm at walking speed
    speed = AnalysisSettings(mode=mode).class_speeds_kmh()["residential"] / 3.6
    walk = AnalysisSettings(mode=mode).walk_speed_kmh / 3.6
    want_min = (1000.0 / speed + 0.01 / walk) / 60.0
    assert out.loc["h", "time_kindergarten_min"] == pytest.approx(want_min, abs=1e-6)


def test_a_household_1cm_along_a_oneway_from_a_junction_may_leave_by_the_junction():
    # the mirror case: traffic J -> K, the household 1 cm up it from J, the kindergarten at H
    net = net_of(junction_with_oneway(towards_j=False), "car")
    hh = points({"near_j": (0.0, 0.01), "near_k": (0.0, 1999.99)})
    svc = services({"k": ("kindergarten", -1000.0, 0.0)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    # before: 1999.99 up to K, 6200 round the loop, 1000 to H
    assert out.loc["near_j", "dist_kindergarten_m"] == pytest.approx(1000.01, abs=MM)
    # 1 cm from K: on with the traffic to K, then round the loop
    assert out.loc["near_k", "dist_kindergarten_m"] == pytest.approx(7200.01, abs=MM)


def test_the_oneway_rule_still_holds_beyond_the_tolerance():
    from mapping.network import END_TOLERANCE_M

    net = net_of(junction_with_oneway(), "car")
    hh = points({"h": (-1000.0, 0.0)})
    inside = 5.0 * END_TOLERANCE_M  # metres up the one-way from J: too far to walk back
    svc = services({"k": ("kindergarten", 0.0, inside)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    # H -> J 1000, round the loop J -> A -> B -> K 6200, then K -> J down to the service
    want = 1000.0 + 6200.0 + (2000.0 - inside)
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(want, abs=MM)
    # walkers use the one-way both ways
    walk = compute_service_access(net_of(junction_with_oneway()), hh, svc, "kindergarten")
    assert walk.loc["h", "dist_kindergarten_m"] == pytest.approx(1000.0 + inside, abs=MM)


def test_same_segment_within_the_tolerance_against_the_oneway():
    from mapping.network import END_TOLERANCE_M

    # one-way 0 -> 1 along x; the service 0.4 m *behind* the household, and another far behind
    r = roads({0: (0.0, 0.0), 1: (1000.0, 0.0)}, [(1, [0, 1], "unclassified", 1)])
    assert 0.4 < END_TOLERANCE_M
    hh = points({"h": (500.4, 0.0), "g": (700.0, 0.0)})
    svc = services({"k": ("kindergarten", 500.0, 0.0)})
    out = compute_service_access(net_of(r, "car", snap_to="any"), hh, svc, "kindergarten")
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(0.4, abs=MM)
    assert out.loc["g", "unreachable_kindergarten"] == "not_connected"


# --------------------------------------------------------------------------------------------
# issue 12, bug 3: vehicles snap to the largest *strongly* connected piece


def loop_with_oneway_spur():
    """A two-way square loop A(0,0) J(500,0) B(1000,0) C(1000,1000) D(0,1000), and a one-way
    dead-end spur J -> S(500,-400): a car can drive into the spur but never out."""
    nodes = {1: (0.0, 0.0), 2: (500.0, 0.0), 3: (1000.0, 0.0), 4: (1000.0, 1000.0)}
    nodes |= {5: (0.0, 1000.0), 6: (500.0, -400.0)}
    ways = [(1, [1, 2, 3, 4, 5, 1], "residential"), (2, [2, 6], "residential", 1)]
    return roads(nodes, ways)


@pytest.mark.parametrize("mode", ["car", "motorbike"])
def test_vehicles_do_not_snap_onto_a_oneway_dead_end_spur(mode):
    net = net_of(loop_with_oneway_spur(), mode)
    spur = int(np.flatnonzero(net.seg_way_id == 2)[0])
    # the household is 20 m from the spur, 300 m from the loop's road A-J-B
    hh = points({"h": (520.0, -300.0)})
    svc = services({"k": ("kindergarten", 0.0, 0.0)})
    snap = snap_points(net, *net.project_points(hh))
    assert snap.seg[0] != spur
    assert snap.offroad_m[0] == pytest.approx(300.0, abs=MM)
    out = compute_service_access(net, hh, svc, "kindergarten")
    assert out.loc["h", "reachable_kindergarten"]
    # 300 m to the road at x=520, 520 m along it to A
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(820.0, abs=MM)
    # the dead end is outside the main piece, the loop inside
    s_node = int(np.flatnonzero(net.node_id == 6)[0])
    assert net.component[s_node] != net.main_component
    assert (np.delete(net.component, s_node) == net.main_component).all()


def test_walkers_still_snap_onto_the_spur():
    net = net_of(loop_with_oneway_spur(), "walk")
    hh = points({"h": (520.0, -300.0)})
    svc = services({"k": ("kindergarten", 0.0, 0.0)})
    out = compute_service_access(net, hh, svc, "kindergarten")
    # 20 m to the spur, 300 m up it to J, 500 m to A
    assert out.loc["h", "dist_kindergarten_m"] == pytest.approx(820.0, abs=MM)
    snap = snap_points(net, *net.project_points(hh))
    assert snap.offroad_m[0] == pytest.approx(20.0, abs=MM)


def test_a_network_without_any_cycle_keeps_its_largest_weak_piece():
    # a single one-way road has no strongly connected piece with a road in it: the points
    # still snap to it (and what cannot be reached says so)
    r = roads({0: (0.0, 0.0), 1: (1000.0, 0.0)}, [(1, [0, 1], "unclassified", 1)])
    net = net_of(r, "car")
    assert len(net.snap_candidates("largest")) == 1


def test_along_cost_is_the_one_rule_for_legs_on_a_segment():
    """Legs along a 1 km one-way segment 0 -> 1 (car), by hand: with the traffic any leg, its
    share of the segment; against it only up to END_TOLERANCE_M, walked; nothing is free."""
    from mapping.network import END_TOLERANCE_M, Snap

    r = roads({0: (0.0, 0.0), 1: (1000.0, 0.0)}, [(1, [0, 1], "unclassified", 1)])
    net = net_of(r, "car")
    seg = np.zeros(6, dtype=np.int64)
    t_from = np.array([0.2, 0.7, 0.5, 0.5, 0.0, 1.0])
    t_to = np.array([0.7, 0.2, 0.5 - 0.9e-3, 0.5 - 1.1e-3, 0.0, 1.0])
    metres = net.along_cost(seg, t_from, t_to, "len")
    np.testing.assert_allclose(metres, [500.0, np.inf, 0.9, np.inf, 0.0, 0.0], atol=1e-9)
    assert END_TOLERANCE_M == pytest.approx(1.0)
    car_mps = AnalysisSettings(mode="car").class_speeds_kmh()["unclassified"] / 3.6
    walk_mps = AnalysisSettings(mode="car").walk_speed_kmh / 3.6
    secs = net.along_cost(seg, t_from, t_to, "time")
    np.testing.assert_allclose(
        secs, [500.0 / car_mps, np.inf, 0.9 / walk_mps, np.inf, 0.0, 0.0], rtol=1e-12
    )
    # a point 0.4 m from the start: it may leave by the start (walked) or the end (driven),
    # and be entered from the start (driven) or the end only if it were within 1 m of it
    snap = Snap(np.array([0]), np.array([4e-4]), np.array([0.0]), net.x[:1], net.y[:1])
    to_u, to_v = snap.exit_costs(net, "len")
    from_u, from_v = snap.entry_costs(net, "len")
    np.testing.assert_allclose([to_u[0], to_v[0], from_u[0]], [0.4, 999.6, 0.4], atol=1e-9)
    assert np.isinf(from_v[0])
    # the legs to and from the ends are along_cost's, read for many points at once
    rng = np.random.default_rng(0)
    big = net_of(junction_with_oneway(towards_j=False), "car")
    segs = rng.integers(0, big.n_segments, 500)
    t = np.concatenate([rng.random(494), [0.0, 1.0, 1e-6, 1 - 1e-6, 1e-3, 1 - 1e-3]])
    many = Snap(segs, t, np.zeros(500), np.zeros(500), np.zeros(500))
    for metric in ("len", "time"):
        to_u, to_v = many.exit_costs(big, metric)
        from_u, from_v = many.entry_costs(big, metric)
        np.testing.assert_array_equal(to_u, big.along_cost(segs, t, 0.0, metric))
        np.testing.assert_array_equal(to_v, big.along_cost(segs, t, 1.0, metric))
        np.testing.assert_array_equal(from_u, big.along_cost(segs, 0.0, t, metric))
        np.testing.assert_array_equal(from_v, big.along_cost(segs, 1.0, t, metric))
        assert np.isinf(to_u).any() and np.isinf(from_v).any()
    # walkers use every leg both ways
    walk = net_of(r, "walk")
    np.testing.assert_allclose(
        walk.along_cost(seg, t_from, t_to, "len"), np.abs(t_to - t_from) * 1000.0, atol=1e-9
    )
    np.testing.assert_allclose(
        net.along_reach_m(seg[:2], np.array([True, False])), [1000.0, 1.0], atol=1e-9
    )
