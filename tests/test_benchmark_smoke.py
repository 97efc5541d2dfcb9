"""The benchmark's rows at tiny sizes: their correctness checks must pass (timings are not
asserted, ever: they depend on the machine and its load)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import run as bench
from benchmarks import synthetic

pytestmark = pytest.mark.slow


def test_synthetic_roads_are_road_like_and_deterministic():
    a = synthetic.make_roads(5_000, seed=3)
    b = synthetic.make_roads(5_000, seed=3)
    r = a.roads
    for f in ("node_id", "lon", "lat", "u", "v", "way_id", "highway", "oneway"):
        np.testing.assert_array_equal(getattr(r, f), getattr(b.roads, f))
    assert abs(r.n_nodes - 5_000) < 250
    assert 2.3 < 2 * r.n_edges / r.n_nodes < 3.0
    assert 0.002 < (r.oneway != 0).mean() < 0.05
    assert 112.9 < r.lon.min() and r.lat.min() > 41.4
    # the ways list exactly the segments
    segs = set()
    for w in range(len(a.way_id)):
        nodes = a.way_nodes[a.way_start[w] : a.way_start[w + 1]]
        segs.update(
            zip(
                nodes[:-1].tolist(),
                nodes[1:].tolist(),
                [int(a.way_id[w])] * (len(nodes) - 1),
                strict=True,
            )
        )
    assert segs == set(zip(r.u.tolist(), r.v.tolist(), r.way_id.tolist(), strict=True))


def test_synthetic_osm_file_reads_back_as_the_same_roads(tmp_path):
    from layers.osm import read_osm

    syn = synthetic.make_roads(2_000, seed=4)
    path = synthetic.write_osm_xml(syn, tmp_path / "syn.osm", n_amenities=6)
    extract = read_osm(path)
    r = extract.roads
    np.testing.assert_array_equal(r.node_id, syn.roads.node_id)
    np.testing.assert_allclose(r.lon, syn.roads.lon, atol=1e-9)
    assert set(zip(r.u.tolist(), r.v.tolist(), strict=True)) == set(
        zip(syn.roads.u.tolist(), syn.roads.v.tolist(), strict=True)
    )
    assert sorted(extract.services["kind"]) == ["kindergarten"] * 3 + ["school"] * 3


def test_distance_rows_agree_with_bare_scipy_and_networkx():
    # with one-way segments: points at a one-way segment's end node stand on that node
    rows = bench.row_distances(3_000, 400, 10, repeats=1)
    assert [r.max_abs_diff_m <= bench.TOL_M for r in rows] == [True, True, True]


def test_distance_rows_agree_where_no_segment_is_one_way(monkeypatch):
    real = synthetic._generate

    def two_way(side, seed):
        syn = real(side, seed)
        syn.roads.oneway[:] = 0
        return syn

    monkeypatch.setattr(synthetic, "_generate", two_way)
    rows = bench.row_distances(3_000, 400, 10, repeats=1)
    assert len(rows) == 3
    assert all(r.max_abs_diff_m <= bench.TOL_M for r in rows), [r.max_abs_diff_m for r in rows]


def test_whatif_row_gives_identical_costs():
    (row,) = bench.row_whatif(2_000, n_facilities=5, repeats=1)
    assert row.max_abs_diff_m == 0.0


def test_cache_row_reopens_an_equal_network(tmp_path):
    path = synthetic.write_osm_xml(synthetic.make_roads(2_000, seed=5), tmp_path / "c.osm")
    (row,) = bench.row_cache(path, "tiny", repeats=1)
    assert row.max_abs_diff_m == 0.0
    assert "arrays equal: True" in row.note


def test_osm_row_distances_match_osmnx(tmp_path):
    path = synthetic.write_osm_xml(synthetic.make_roads(2_000, seed=6), tmp_path / "o.osm")
    rows = bench.row_osm(path, "tiny")
    assert len(rows) == 2
    assert rows[0].max_abs_diff_m <= bench.TOL_M
    assert rows[0].ours > 0 and rows[0].alt > 0 and rows[1].alt > 0


def test_html_row_measures_a_map():
    (row,) = bench.row_html(200)
    if row.ours is None:
        assert row.note == "not measured (mapping.maps missing)"
    else:
        assert 0 < row.ours < 50


def test_app_row_runs_without_errors():
    rows = bench.row_app()
    assert [r.note for r in rows] == ["no errors shown"] * 2


def test_county_app_row_drives_the_app_without_errors():
    """The app on a (tiny) county, driven by its widget keys as a user would: a key the app
    no longer draws where the row expects it fails here, not in the full benchmark."""
    rows = bench.row_app_county(2_000, 200)
    assert len(rows) == 4
    assert all(r.ok is not False for r in rows), [r.note for r in rows]
    assert all("no errors shown" in r.note for r in rows)


def test_memory_row_reaches_every_household():
    (row,) = bench.row_memory(2_000, 300)
    # households sit on nodes of the largest weakly connected piece; a few one-way dead ends
    # may still not reach a facility by car
    reached = int(row.note.split("; ")[-1].split()[0].replace(",", ""))
    assert 290 <= reached <= 300
    assert row.ours > 0


def test_max_diff_flags_disagreement_on_reachability():
    assert bench.max_diff(np.array([1.0, np.inf]), np.array([1.0, np.inf])) == 0.0
    assert bench.max_diff(np.array([1.0, np.inf]), np.array([1.0, 5.0])) == np.inf
    assert bench.max_diff(np.array([1.0, 2.0]), np.array([1.5, 2.0])) == 0.5


def test_planning_row_runs_and_suggests_sites():
    rows = bench.row_planning(3_000, 600, 80)
    assert [r.row.rsplit(", ", 1)[1] for r in rows] == ["coverage", "distance"]
    for r in rows:
        assert r.ours is not None and r.ours > 0
        assert "newly covered" in r.note


# --------------------------------------------------------------------------------------------
# Windows has no ``resource`` module, no ``/proc`` and no ``os.getloadavg`` (issue 12): the
# benchmark must still import and run the rows that do not need them.


@pytest.fixture
def bench_on_windows(monkeypatch, tmp_path):
    """benchmarks.run imported as on Windows: ``import resource`` fails, ``/proc`` is
    absent, ``os.getloadavg`` is missing; the child processes run in this process (so they
    see the same)."""
    import importlib
    import os
    import sys

    import benchmarks

    monkeypatch.setitem(sys.modules, "resource", None)  # `import resource` raises ImportError
    monkeypatch.delitem(sys.modules, "benchmarks.run", raising=False)
    monkeypatch.setattr(benchmarks, "run", bench)  # put back after the test
    monkeypatch.delattr(os, "getloadavg")
    win = importlib.import_module("benchmarks.run")
    assert win is not bench
    monkeypatch.setattr(win, "PROC", tmp_path / "no-proc")
    children = {"ours": win.child_ours, "osmnx": win.child_osmnx, "memory": win.child_memory}
    monkeypatch.setattr(win, "_run_child", lambda name, *args: children[name](*args))
    return win


def test_the_benchmark_imports_and_describes_the_machine_without_resource_or_proc(
    bench_on_windows,
):
    win = bench_on_windows
    assert win.resource is None
    info = win.machine()
    assert info["load_avg"] is None and info["nproc"] >= 1
    assert win._peak_mb() is None and win._start_peak() is None


def test_rows_that_need_peak_memory_say_not_measured_on_windows(bench_on_windows, tmp_path):
    win = bench_on_windows
    (row,) = win.row_memory(2_000, 300)
    assert row.ours is None and row.ok is None
    assert "not measured" in row.note
    win.format_row(row)  # prints with '-' for what was not measured
    path = synthetic.write_osm_xml(synthetic.make_roads(2_000, seed=6), tmp_path / "o.osm")
    time_row, mem_row = win.row_osm(path, "tiny")
    assert time_row.ours > 0 and time_row.max_abs_diff_m <= win.TOL_M  # time still measured
    assert mem_row.ours is None and mem_row.ok is None and "not measured" in mem_row.note


def test_rows_without_memory_run_unchanged_on_windows(bench_on_windows):
    win = bench_on_windows
    (row,) = win.row_whatif(2_000, n_facilities=5, repeats=1)
    assert row.max_abs_diff_m == 0.0
