"""Site suggestions: optima known by hand, exact vs greedy vs brute force, costs equal access."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from layers.errors import InputError
from layers.households import validate_households
from layers.villages import validate_villages
from mapping.access import compute_service_access
from mapping.analysis import apply_proposals, run_analysis
from mapping.network import build_network, snap_points
from mapping.planning import (
    build_candidates,
    sites_to_proposals,
    solve_mclp,
    solve_pmedian,
    suggest_sites,
)
from mapping.routing import CostPairs, compute_cost_pairs
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests.netbuild import UTM, points, roads, services

MM = 1e-3


def line_roads(length_m: float = 10_000.0, step_m: float = 1000.0):
    """One straight road along x from 0 to ``length_m``, a node every ``step_m``."""
    n = int(length_m // step_m) + 1
    return roads({i: (step_m * i, 0.0) for i in range(n)}, [(1, list(range(n)), "tertiary")])


def tiny_analysis(
    road_edges,
    villages: dict[str, tuple[float, float]],
    households: dict[str, tuple[float, float, int | None]],
    svc,
    *,
    thresholds: dict[str, float] | None = None,
    mode: str = "walk",
    study_area=None,
):
    """An analysis of a hand-built scenario; positions in metres (see tests.netbuild)."""
    vil = points(villages)
    vil["village_id"] = vil.index
    vil["village_name"] = "v-" + pd.Series(vil.index, index=vil.index)
    vil["boundary"] = gpd.GeoSeries([None] * len(vil), crs="EPSG:4326", index=vil.index)
    vil["source"] = "file"
    hh = points({k: (x, y) for k, (x, y, _) in households.items()})
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array([pd.NA] * len(hh), dtype="str")
    hh["name"] = pd.array([pd.NA] * len(hh), dtype="str")
    hh["phone"] = pd.array([pd.NA] * len(hh), dtype="str")
    hh["children"] = pd.array([c for _, _, c in households.values()], dtype="Int64")
    hh["source_row"] = pd.array(range(2, len(hh) + 2), dtype="Int64")
    sc = Scenario(
        roads=road_edges,
        villages=validate_villages(vil),
        households=validate_households(hh),
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        study_area=study_area,
    )
    settings = AnalysisSettings(
        mode=mode, kinds=("kindergarten",), thresholds_m=thresholds or {"kindergarten": 1500.0}
    )
    net = build_network(road_edges, settings, crs=UTM)
    return run_analysis(sc, settings, network=net)


def line_case():
    """Existing kindergarten at x=0; 1 household at 500 (covered), 3 at 5000, 2 at 9000."""
    return tiny_analysis(
        line_roads(),
        {"V0": (500.0, 0.0), "VA": (5000.0, 0.0), "VB": (9000.0, 0.0)},
        {
            "h0": (500.0, 0.0, 1),
            "a1": (5000.0, 0.0, 1),
            "a2": (5100.0, 0.0, 1),
            "a3": (4900.0, 0.0, 1),
            "b1": (9000.0, 0.0, 4),
            "b2": (9200.0, 0.0, 4),
        },
        services({"k0": ("kindergarten", 0.0, 0.0)}),
    )


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_coverage_picks_the_village_covering_most_households(method):
    a = line_case()
    one = suggest_sites(a, "kindergarten", 1, method=method)
    assert one["candidate"].tolist() == ["VA"]
    assert one["newly_covered_households"].tolist() == [3]
    assert one["newly_covered_children"].tolist() == [3]
    assert one["method"].iloc[0] == ("spopt-cbc" if method == "exact" else "greedy")
    # the village already within reach (V0) never attracts a site: 3 sites asked, 2 useful
    three = suggest_sites(a, "kindergarten", 3, method=method)
    assert three["candidate"].tolist() == ["VA", "VB"]
    assert three["newly_covered_households"].tolist() == [3, 2]
    assert three["order"].tolist() == [1, 2]
    assert three.index.tolist() == ["S1", "S2"]
    assert three.crs == "EPSG:4326"
    np.testing.assert_allclose(three["lon"], three.geometry.x)


def test_children_weight_changes_the_choice():
    a = line_case()
    sites = suggest_sites(a, "kindergarten", 1, weight="children")
    # VB's two households have 8 children, VA's three have 3
    assert sites["candidate"].tolist() == ["VB"]
    assert sites["newly_covered_children"].tolist() == [8]
    assert sites["newly_covered_households"].tolist() == [2]


def test_threshold_option_overrides_the_analysis_threshold():
    a = line_case()
    # at 4100 m one site at VB (9000) reaches 4900..5100 too: all five households
    sites = suggest_sites(a, "kindergarten", 1, threshold_m=4100.0)
    assert sites["candidate"].tolist() == ["VB"]
    assert sites["newly_covered_households"].tolist() == [5]
    assert sites["threshold_m"].tolist() == [4100.0]


def path_case():
    """Path 0..4000 m; one household at each km; the existing kindergarten at 0."""
    return tiny_analysis(
        line_roads(4000.0),
        {f"V{i}": (1000.0 * i, 0.0) for i in range(1, 5)},
        {f"h{i}": (1000.0 * i, 0.0, 1) for i in range(5)},
        services({"k0": ("kindergarten", 0.0, 0.0)}),
    )


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_pmedian_on_a_path(method):
    a = path_case()
    # before: 0+1+2+3+4 km; a site at 3 km: 0+1+1+0+1 = 3 km (2 km: 4, 4 km: 4)
    one = suggest_sites(a, "kindergarten", 1, objective="distance", method=method)
    assert one["candidate"].tolist() == ["V3"]
    assert one["total_dist_before_m"].iloc[0] == pytest.approx(10_000.0, abs=MM)
    assert one["total_dist_after_m"].iloc[0] == pytest.approx(3000.0, abs=MM)
    # two sites: best total 2 km (several pairs tie, e.g. {1, 3}, {2, 4})
    two = suggest_sites(a, "kindergarten", 2, objective="distance", method=method)
    assert len(two) == 2
    assert two["total_dist_after_m"].iloc[-1] == pytest.approx(2000.0, abs=MM)
    assert two["newly_reached_households"].tolist() == [0, 0]


def brute_mclp(cover: np.ndarray, w: np.ndarray, k: int) -> float:
    return max(
        w[cover[:, list(c)].any(axis=1)].sum()
        for c in itertools.combinations(range(cover.shape[1]), k)
    )


def test_greedy_is_suboptimal_where_the_exact_solver_is_not():
    # items a b c d (3 each) and e (1); cand0 = {b, c, e} (7), cand1 = {a, b}, cand2 = {c, d}
    cover = np.array([[0, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1], [1, 0, 0]], dtype=bool)
    w = np.array([3.0, 3.0, 3.0, 3.0, 1.0])
    exact, used = solve_mclp(sp.csr_matrix(cover), w, 2, method="exact")
    greedy, _ = solve_mclp(sp.csr_matrix(cover), w, 2, method="greedy")
    assert used == "spopt-cbc"
    assert sorted(exact) == [1, 2]  # 12
    assert greedy[0] == 0 and w[cover[:, greedy].any(axis=1)].sum() == 10.0
    assert brute_mclp(cover, w, 2) == 12.0


@pytest.mark.parametrize("seed", range(4))
def test_exact_equals_brute_force_on_random_instances(seed):
    rng = np.random.default_rng(seed)
    n_dem, n_cand, k = 12, 7, 3
    cover = rng.random((n_dem, n_cand)) < 0.3
    w = rng.integers(1, 6, n_dem).astype(float)
    chosen, _ = solve_mclp(sp.csr_matrix(cover), w, k, method="exact")
    greedy, _ = solve_mclp(sp.csr_matrix(cover), w, k, method="greedy")
    best = brute_mclp(cover, w, k)
    assert w[cover[:, chosen].any(axis=1)].sum() == best
    assert w[cover[:, greedy].any(axis=1)].sum() <= best

    cost = rng.uniform(0, 100, (n_dem, n_cand))
    current = rng.uniform(20, 120, n_dem)
    p, s = np.nonzero(cost < current[:, None])
    pairs = CostPairs(p, s, cost[p, s], n_dem, n_cand)

    def total(c):
        return (w * np.minimum(current, cost[:, list(c)].min(axis=1))).sum()

    best_pm = min(total(c) for c in itertools.combinations(range(n_cand), k))
    exact_pm, _ = solve_pmedian(pairs, current, w, k, method="exact")
    greedy_pm, _ = solve_pmedian(pairs, current, w, k, method="greedy")
    assert total(exact_pm) == pytest.approx(best_pm, rel=1e-9)
    assert total(greedy_pm) >= best_pm - 1e-9


def square_case_network():
    """A 100 m square A(0,0) B(100,0) C(100,100) D(0,100); A->B one-way; car mode."""
    nodes = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (100.0, 100.0), 4: (0.0, 100.0)}
    ways = [(10, [1, 2], "residential", 1), (11, [2, 3, 4, 1], "residential", 0)]
    return build_network(roads(nodes, ways), AnalysisSettings(mode="car"), crs=UTM)


def test_cost_pairs_equal_the_nearest_service_search_for_each_source():
    net = square_case_network()
    hh = points({"p1": (30.0, 5.0), "p2": (80.0, -10.0), "p3": (100.0, 40.0), "p4": (0.0, 0.0)})
    src = {
        "s1": ("kindergarten", 60.0, 3.0),  # on the one-way segment, ahead of p1, behind p2
        "s2": ("kindergarten", 50.0, 100.0),
        "s3": ("kindergarten", 100.0, 0.0),  # at a segment end
    }
    svc = services(src)
    hs = snap_points(net, *net.project_points(hh))
    ss = snap_points(net, *net.project_points(svc))
    pairs = compute_cost_pairs(net, ss, hs)
    full = np.full((len(hh), len(svc)), np.nan)
    full[pairs.point, pairs.source] = pairs.cost
    for j, sid in enumerate(svc.index):
        want = compute_service_access(net, hh, svc.loc[[sid]], "kindergarten")
        np.testing.assert_allclose(full[:, j], want["dist_kindergarten_m"], atol=1e-9)
    # by hand: p1 -> s1 straight along the one-way: 3 + 30 + 5
    assert full[0, 0] == pytest.approx(38.0, abs=MM)
    # p2 is past s1 on a one-way road: round the square (20 + 300 + 60) + 10 + 3
    assert full[1, 0] == pytest.approx(393.0, abs=MM)


def test_cost_pairs_equal_access_on_the_demo(demo_analysis):
    a = demo_analysis
    net = a.network
    vil = a.scenario.villages.iloc[::9]
    pairs = compute_cost_pairs(net, a.vil_snap.take(np.arange(0, len(a.villages), 9)), a.hh_snap)
    full = np.full((len(a.households), len(vil)), np.nan)
    full[pairs.point, pairs.source] = pairs.cost
    for j, (vid, row) in enumerate(vil.iterrows()):
        one = gpd.GeoDataFrame(
            {"kind": ["kindergarten"], "name": [vid], "capacity": pd.array([pd.NA], "Int64")},
            geometry=[row.geometry],
            crs="EPSG:4326",
            index=[vid],
        )
        want = compute_service_access(net, a.scenario.households, one, "kindergarten")
        np.testing.assert_allclose(full[:, j], want["dist_kindergarten_m"], rtol=1e-12)


@pytest.fixture(scope="module")
def demo_analysis():
    from mapping.scenario import load_demo

    return run_analysis(load_demo())


def test_demo_sites_close_the_far_village_gap(demo_analysis):
    a = demo_analysis
    sites = suggest_sites(a, "kindergarten", 2)
    assert len(sites) >= 1
    after = apply_proposals(a, sites_to_proposals(sites, "kindergarten", "en"))
    thr = a.settings.threshold_m("kindergarten")

    def within(x):
        d = x.households["dist_kindergarten_m"]
        return int((d.round(3) <= thr).sum())

    assert within(after) - within(a) == sites["newly_covered_households"].sum() > 0
    assert not after.villages["flag_kindergarten"].sum() > a.villages["flag_kindergarten"].sum()


def test_grid_candidates_are_road_points_without_duplicates():
    a = line_case()
    cand = build_candidates(a, "villages+grid", 700.0)
    grid = cand.source == "grid"
    assert grid.sum() > 0 and (cand.snap.offroad_m[grid] == 0).all()
    # every grid point snaps onto the y=0 road; x positions are distinct to the metre
    np.testing.assert_allclose(cand.y[grid] - cand.y[grid][0], 0.0, atol=MM)
    xs = np.round(cand.x[grid])
    assert len(np.unique(xs)) == len(xs)
    sites = suggest_sites(a, "kindergarten", 2, candidates="villages+grid", grid_m=700.0)
    assert sites["newly_covered_households"].sum() == 5


def test_bad_input_says_what_to_do():
    a = line_case()
    with pytest.raises(InputError) as err:
        suggest_sites(a, "school", 1)
    assert err.value.key == "error.planning.kind"
    assert "no distances for 'school'" in err.value.message("en")
    with pytest.raises(InputError, match="positive whole number; got 0"):
        suggest_sites(a, "kindergarten", 0)
    with pytest.raises(InputError, match="not a valid objective; choose one of: coverage"):
        suggest_sites(a, "kindergarten", 1, objective="nearest")
    with pytest.raises(InputError, match="need a grid spacing in metres greater than 0; got None"):
        suggest_sites(a, "kindergarten", 1, candidates="villages+grid")
    no_kids = tiny_analysis(
        line_roads(),
        {"V": (5000.0, 0.0)},
        {"h": (5000.0, 0.0, None)},
        services({"k0": ("kindergarten", 0.0, 0.0)}),
    )
    with pytest.raises(InputError) as err:
        suggest_sites(no_kids, "kindergarten", 1, weight="children")
    assert "weight by households" in err.value.message("en")
    assert "儿童数" in err.value.message("zh")
    # without children data the children column is NA, not 0
    assert suggest_sites(no_kids, "kindergarten", 1)["newly_covered_children"].isna().all()


def test_cli_plan_on_the_demo(tmp_path, capsys):
    from mapping.cli import main

    out = tmp_path / "plan"
    code = main(["plan", "--demo", "--add", "2", "--out", str(out), "--lang", "en"])
    assert code == 0
    sites = pd.read_csv(out / "sites.csv", encoding="utf-8-sig")
    for col in ("site_id", "lon", "lat", "candidate", "newly_covered_households", "order"):
        assert col in sites.columns
    assert sites["lon"].between(-180, 180).all() and sites["lat"].between(-90, 90).all()
    cov = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    row = cov[(cov["scope"] == "overall") & (cov["band_m"] == 5000.0)].iloc[0]
    gained = row["hh_within_after"] - row["hh_within_before"]
    assert gained == sites["newly_covered_households"].sum() > 0
    assert (cov["scope"] == "village").sum() > 0
    text = capsys.readouterr().out
    assert f"go from {row['hh_within_before']} to {row['hh_within_after']}" in text
    assert "S1:" in text


def test_cli_plan_bad_input_writes_nothing(tmp_path, capsys):
    from mapping.cli import main

    out = tmp_path / "plan"
    assert main(["plan", "--demo", "--add", "0", "--out", str(out), "--lang", "en"]) == 2
    assert "positive whole number; got 0" in capsys.readouterr().err
    assert not out.exists()
    code = main(["plan", "--demo", "--add", "1", "--threshold", "far", "--out", str(out)])
    assert code == 2
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# local searches (compute_cost_pairs confines each tile's search): exactly one whole search


def synthetic_analysis(
    seed: int,
    n_nodes: int = 3000,
    n_households: int = 600,
    n_villages: int = 60,
    n_services: int = 3,
    threshold_m: float = 1500.0,
):
    """A small synthetic county (benchmarks.synthetic), motorbike mode: one-way streets."""
    from benchmarks.synthetic import make_scenario

    syn, sc = make_scenario(n_nodes, n_households, n_villages, n_services, seed)
    settings = AnalysisSettings(
        mode="motorbike", kinds=("kindergarten",), thresholds_m={"kindergarten": threshold_m}
    )
    return run_analysis(sc, settings, network=build_network(syn.roads, settings, crs=UTM))


def whole_network_costs(net, src_snap, point_snap) -> np.ndarray:
    """Points x sources costs from one unbounded search per source over the whole network,
    written out as plainly as possible (the reference for the local searches)."""
    from mapping.routing import iter_source_searches, same_segment_pairs

    u, v = net.seg_u[point_snap.seg], net.seg_v[point_snap.seg]
    exit_u, exit_v = point_snap.exit_costs(net, "len")
    same_p, same_s, same_c = same_segment_pairs(net, src_snap, point_snap, "len")
    full = np.full((len(point_snap), len(src_snap)), np.inf)
    for idx, node_cost in iter_source_searches(net, src_snap):
        full[:, idx] = np.minimum(exit_u + node_cost[:, u], exit_v + node_cost[:, v]).T
    np.minimum.at(full, (same_p, same_s), same_c)
    return full + point_snap.offroad_m[:, None]


@pytest.fixture(scope="module")
def synthetic_pairs_case():
    a = synthetic_analysis(5)
    cand = build_candidates(a, "villages+grid", 400.0)
    full = whole_network_costs(a.network, cand.snap, a.hh_snap)
    return a, cand, full


def assert_pairs_are(pairs, full: np.ndarray, keep: np.ndarray) -> None:
    """``pairs`` hold exactly the cells of ``full`` where ``keep``, with equal costs (to the
    last bit), ordered by source then point."""
    want_p, want_s = np.nonzero(keep)
    order = np.lexsort((want_p, want_s))
    np.testing.assert_array_equal(pairs.source, want_s[order])
    np.testing.assert_array_equal(pairs.point, want_p[order])
    np.testing.assert_array_equal(pairs.cost, full[want_p[order], want_s[order]])


@pytest.mark.parametrize("tile_m", [300.0, 2000.0])
def test_local_searches_give_the_pairs_of_one_whole_search(
    synthetic_pairs_case, tile_m, monkeypatch
):
    import mapping.planning as planning
    import mapping.routing as routing

    a, cand, full = synthetic_pairs_case
    net = a.network
    monkeypatch.setattr(routing, "TILE_M", tile_m)
    local_sizes = []
    real_subgraph = routing._subgraph

    def spy(net, w_nodes, *args):
        local_sizes.append(len(w_nodes))
        return real_subgraph(net, w_nodes, *args)

    monkeypatch.setattr(routing, "_subgraph", spy)
    cur = a.households["dist_kindergarten_m"].to_numpy(dtype=float)
    below = np.where(np.isfinite(cur), cur, planning.UNREACHED_PENALTY_M)
    assert len(cand) > 300 and np.isfinite(full).mean() > 0.9

    # distance: the pairs better than the current distance, searches confined by node_bound
    pairs = compute_cost_pairs(
        net,
        cand.snap,
        a.hh_snap,
        below=below,
        node_bound=a.access["kindergarten"].dist.node_cost,
    )
    assert_pairs_are(pairs, full, full < below[:, None])
    assert 0 < len(pairs.cost) < 0.5 * full.size
    # the searches were local: most tiles searched less than half of the network
    assert local_sizes and np.median(local_sizes) < net.n_nodes / 2

    # coverage: all pairs within the threshold
    local_sizes.clear()
    pairs = compute_cost_pairs(net, cand.snap, a.hh_snap, limit=1500.0)
    assert_pairs_are(pairs, full, full <= 1500.0)
    assert local_sizes and max(local_sizes) < net.n_nodes / 3

    # a node bound that does not match the households' distances is ignored, not trusted
    pairs = compute_cost_pairs(
        net,
        cand.snap,
        a.hh_snap,
        below=below,
        node_bound=a.access["kindergarten"].dist.node_cost * 0.5,
    )
    assert_pairs_are(pairs, full, full < below[:, None])


def reference_greedy_pmedian(pairs, current, weight, k):
    """The greedy p-median summing every saving again in each round (as before)."""
    cur = np.asarray(current, dtype=float).copy()
    allowed = np.ones(pairs.n_sources, dtype=bool)
    out = []
    for _ in range(k):
        saving = np.bincount(
            pairs.source,
            weights=weight[pairs.point] * np.maximum(cur[pairs.point] - pairs.cost, 0.0),
            minlength=pairs.n_sources,
        )
        saving[~allowed] = -1.0
        j = int(np.argmax(saving))
        if saving[j] <= 0:
            break
        out.append(j)
        allowed[j] = False
        sel = pairs.source == j
        np.minimum.at(cur, pairs.point[sel], pairs.cost[sel])
    return out


@pytest.mark.parametrize("seed", range(6))
def test_incremental_greedy_equals_summing_everything_each_round(seed):
    rng = np.random.default_rng(seed)
    n_dem, n_cand = 300, 80
    # whole metres and weights: many exact ties, which must go to the same (first) candidate
    cost = rng.integers(0, 40, (n_dem, n_cand)).astype(float)
    current = rng.integers(5, 45, n_dem).astype(float)
    w = rng.integers(0, 3, n_dem).astype(float)
    p, s = np.nonzero((cost < current[:, None]) & (rng.random((n_dem, n_cand)) < 0.2))
    pairs = CostPairs(p, s, cost[p, s], n_dem, n_cand)
    chosen, used = solve_pmedian(pairs, current, w, 25, method="greedy")
    assert used == "greedy"
    assert chosen == reference_greedy_pmedian(pairs, current, w, 25)
    assert len(chosen) >= 10


# Chosen sites before the local searches (the implementation that searched the whole network
# from every candidate and summed every saving each round), recorded on the same inputs with
# k=4: the suggestions must not change. (The demo's exact distance runs with the grid take
# ~25 s in spopt and are left out.)
SITES_BEFORE = {
    ("demo", "coverage", "villages", "auto", "children"): ["osm-n900000002412"],
    ("demo", "coverage", "villages", "auto", "households"): ["osm-n900000002412"],
    ("demo", "coverage", "villages", "greedy", "children"): ["osm-n900000002412"],
    ("demo", "coverage", "villages", "greedy", "households"): ["osm-n900000002412"],
    ("demo", "coverage", "villages+grid", "auto", "children"): ["G3135"],
    ("demo", "coverage", "villages+grid", "auto", "households"): ["G3135"],
    ("demo", "coverage", "villages+grid", "greedy", "children"): ["osm-n900000002412"],
    ("demo", "coverage", "villages+grid", "greedy", "households"): ["osm-n900000002412"],
    ("demo", "distance", "villages", "auto", "children"): [
        "osm-n900000002412",
        "osm-n900000002437",
    ],
    ("demo", "distance", "villages", "auto", "households"): [
        "osm-n900000002412",
        "osm-n900000002437",
    ],
    ("demo", "distance", "villages", "greedy", "children"): [
        "osm-n900000002412",
        "osm-n900000002437",
    ],
    ("demo", "distance", "villages", "greedy", "households"): [
        "osm-n900000002412",
        "osm-n900000002437",
    ],
    ("demo", "distance", "villages+grid", "greedy", "children"): [
        "osm-n900000002412",
        "osm-n900000002437",
        "G3184",
        "G3175",
    ],
    ("demo", "distance", "villages+grid", "greedy", "households"): [
        "G3175",
        "osm-n900000002437",
        "G3184",
        "G2941",
    ],
    ("synth", "coverage", "villages", "auto", "children"): ["P100", "P127", "P149", "P191"],
    ("synth", "coverage", "villages", "auto", "households"): ["P194", "P127", "P160", "P11"],
    ("synth", "coverage", "villages", "greedy", "children"): ["P194", "P127", "P191", "P149"],
    ("synth", "coverage", "villages", "greedy", "households"): ["P194", "P127", "P160", "P11"],
    ("synth", "coverage", "villages+grid", "auto", "children"): ["P194", "G71", "G468", "G114"],
    ("synth", "coverage", "villages+grid", "auto", "households"): ["G71", "P194", "G114", "G639"],
    ("synth", "coverage", "villages+grid", "greedy", "children"): ["P194", "G71", "G468", "G114"],
    ("synth", "coverage", "villages+grid", "greedy", "households"): ["G71", "P194", "G114", "G639"],
    ("synth", "distance", "villages", "auto", "children"): ["P6", "P127", "P58", "P35"],
    ("synth", "distance", "villages", "auto", "households"): ["P6", "P127", "P58", "P35"],
    ("synth", "distance", "villages", "greedy", "children"): ["P6", "P127", "P58", "P35"],
    ("synth", "distance", "villages", "greedy", "households"): ["P6", "P127", "P58", "P35"],
    ("synth", "distance", "villages+grid", "auto", "children"): ["P6", "G71", "G430", "G84"],
    ("synth", "distance", "villages+grid", "auto", "households"): ["P6", "G71", "G430", "G114"],
    ("synth", "distance", "villages+grid", "greedy", "children"): ["P6", "G71", "G430", "G84"],
    ("synth", "distance", "villages+grid", "greedy", "households"): ["P6", "G71", "G430", "G114"],
}


@pytest.fixture(scope="module")
def synthetic_county():
    return synthetic_analysis(11, 8000, 3000, 200, 4, 3000.0)


@pytest.mark.parametrize("key", sorted(SITES_BEFORE))
def test_suggestions_are_those_of_the_whole_network_searches(key, request):
    case, objective, candidates, method, weight = key
    a = request.getfixturevalue("demo_analysis" if case == "demo" else "synthetic_county")
    grid = {"villages": None, "villages+grid": 700.0 if case == "demo" else 1000.0}
    sites = suggest_sites(
        a,
        "kindergarten",
        4,
        objective=objective,
        candidates=candidates,
        grid_m=grid[candidates],
        method=method,
        weight=weight,
    )
    assert sites["candidate"].tolist() == SITES_BEFORE[key]


# --------------------------------------------------------------------------------------------
# issue 10: a grid or candidate count beyond what fits is refused before the work


def square_area_case():
    """The line case inside a 10 km x 10 km study area (so a grid covers 100 km2)."""
    from tests.netbuild import box

    return tiny_analysis(
        line_roads(),
        {"V0": (500.0, 0.0), "VA": (5000.0, 0.0), "VB": (9000.0, 0.0)},
        {"h0": (500.0, 0.0, 1), "a1": (5000.0, 0.0, 1), "b1": (9000.0, 0.0, 4)},
        services({"k0": ("kindergarten", 0.0, 0.0)}),
        study_area=box(0.0, -5000.0, 10_000.0, 5000.0),
    )


def grid_points_over(a, grid_m: float) -> int:
    """Points of a grid over the study area's box, counted by making the two axes."""
    net = a.network
    area = gpd.GeoSeries([a.scenario.study_area], crs="EPSG:4326").to_crs(net.crs).iloc[0]
    x0, y0, x1, y1 = area.bounds
    nx_ = len(np.arange(np.floor(x0 / grid_m) * grid_m, x1 + grid_m, grid_m))
    ny_ = len(np.arange(np.floor(y0 / grid_m) * grid_m, y1 + grid_m, grid_m))
    return nx_ * ny_


@pytest.mark.parametrize("grid_m", [1.0, 1e-3, 1e-300])
def test_a_grid_too_fine_is_refused_before_the_work(grid_m):
    import tracemalloc

    import mapping.planning as planning

    a = square_area_case()
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as err:
            suggest_sites(a, "kindergarten", 1, candidates="villages+grid", grid_m=grid_m)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # refused before making the grid: a 1 m grid over 100 km2 is 10^8 points (1.6 GB of
    # coordinates alone), a 1 mm grid 10^14
    assert peak < 20e6
    assert err.value.key == "error.planning.grid_too_fine"
    en, zh = err.value.message("en"), err.value.message("zh")
    smallest = int(en.split("at least ")[1].split(" m")[0].replace(",", ""))
    assert f"至少 {smallest:,} 米" in zh
    assert "10.0 x 10.0 km" in en and "20,000 candidate sites" in en and "3 villages" in en
    # the spacing the message gives is the smallest whole metre that fits (3 villages + grid)
    room = planning.MAX_CANDIDATES - 3
    assert grid_points_over(a, float(smallest)) <= room < grid_points_over(a, smallest - 1.0)
    cand = build_candidates(a, "villages+grid", float(smallest))
    assert 3 < len(cand) <= planning.MAX_CANDIDATES
    with pytest.raises(InputError, match="at least"):
        build_candidates(a, "villages+grid", smallest - 1.0)


@pytest.mark.parametrize("grid_m", [float("inf"), float("nan"), -5.0, 0.0, "700", True])
def test_a_grid_spacing_must_be_a_finite_positive_number(grid_m):
    a = line_case()
    with pytest.raises(InputError) as err:
        suggest_sites(a, "kindergarten", 1, candidates="villages+grid", grid_m=grid_m)
    assert err.value.key == "error.planning.grid"
    with pytest.raises(InputError):
        build_candidates(a, "villages+grid", grid_m)


def test_too_many_candidates_are_refused(monkeypatch):
    import mapping.planning as planning

    a = line_case()  # 3 villages
    monkeypatch.setattr(planning, "MAX_CANDIDATES", 2)
    with pytest.raises(InputError) as err:
        suggest_sites(a, "kindergarten", 1)
    assert err.value.key == "error.planning.too_many_candidates"
    assert "3 village points, and at most 2 candidates" in err.value.message("en")
    assert "3 个村庄点，最多只能比较 2 个候选点" in err.value.message("zh")
    # the villages fit, but leave no room for a grid
    monkeypatch.setattr(planning, "MAX_CANDIDATES", 10)
    assert len(build_candidates(a, "villages")) == 3
    with pytest.raises(InputError) as err:
        build_candidates(a, "villages+grid", 5000.0)
    assert err.value.key == "error.planning.no_room_for_grid"
    # a grid over the roads' extent: it fits exactly when the villages and its points do
    net = a.network
    n_grid = len(np.arange(np.floor(net.x.min() / 2500) * 2500, net.x.max() + 2500, 2500))
    n_grid *= len(np.arange(np.floor(net.y.min() / 2500) * 2500, net.y.max() + 2500, 2500))
    monkeypatch.setattr(planning, "MAX_CANDIDATES", 3 + n_grid)
    assert 3 < len(build_candidates(a, "villages+grid", 2500.0)) <= 3 + n_grid
    monkeypatch.setattr(planning, "MAX_CANDIDATES", 3 + n_grid - 1)
    with pytest.raises(InputError) as err:
        build_candidates(a, "villages+grid", 2500.0)
    assert err.value.key == "error.planning.grid_too_fine"


def test_cli_plan_with_a_1m_grid_stops_with_a_message(tmp_path, capsys):
    from mapping.cli import main

    out = tmp_path / "plan"
    code = main(["plan", "--demo", "--add", "2", "--grid", "1m", "--out", str(out), "--lang", "en"])
    assert code == 2
    err = capsys.readouterr().err
    assert "A grid of 1 m is too fine" in err and "Use a grid spacing of at least" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_too_many_new_sites_are_refused():
    import mapping.planning as planning

    a = line_case()
    with pytest.raises(InputError) as err:
        suggest_sites(a, "kindergarten", planning.MAX_NEW_SITES + 1)
    assert err.value.key == "error.planning.k_too_many"
    assert f"At most {planning.MAX_NEW_SITES} new sites" in err.value.message("en")
    assert f"最多建议 {planning.MAX_NEW_SITES} 个" in err.value.message("zh")
    # up to the limit it runs (fewer rows when more sites add nothing)
    assert len(suggest_sites(a, "kindergarten", planning.MAX_NEW_SITES)) == 2
