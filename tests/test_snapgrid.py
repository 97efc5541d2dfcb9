"""The segment grid answers exactly what a brute-force search over every segment answers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping.snapgrid import (
    MAX_CELLS_PER_SEGMENT,
    build_grid,
    nearest_segments,
    nearest_segments_brute,
)


def brute_force(ax, ay, bx, by, cand, x, y):
    """Nearest candidate (lowest index on ties) and its distance, one point at a time."""
    seg = np.full(len(x), -1)
    dist = np.full(len(x), np.inf)
    for p in range(len(x)):
        for s in sorted(cand):
            dx, dy = bx[s] - ax[s], by[s] - ay[s]
            l2 = dx * dx + dy * dy
            t = (
                0.0
                if l2 == 0
                else min(1.0, max(0.0, ((x[p] - ax[s]) * dx + (y[p] - ay[s]) * dy) / l2))
            )
            ex, ey = x[p] - (ax[s] + t * dx), y[p] - (ay[s] + t * dy)
            d = np.sqrt(ex * ex + ey * ey)
            if d < dist[p]:
                seg[p], dist[p] = s, d
    return seg, dist


def random_roads(rng, n, spread=3000.0):
    """Short town segments, long rural tracks and a few zero-length ones."""
    ax, ay = rng.uniform(0, spread, n), rng.uniform(0, spread, n)
    length = np.where(rng.random(n) < 0.2, rng.uniform(500, 4000, n), rng.uniform(5, 80, n))
    length[rng.random(n) < 0.05] = 0.0
    ang = rng.uniform(0, 2 * np.pi, n)
    return ax, ay, ax + length * np.cos(ang), ay + length * np.sin(ang)


@pytest.mark.parametrize("seed", range(4))
def test_grid_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    ax, ay, bx, by = random_roads(rng, 300)
    cand = np.sort(rng.choice(300, 240, replace=False))  # some segments may not be snapped to
    # points on the roads, beside them, and far outside the area
    x = np.concatenate([rng.uniform(-500, 3500, 400), [1e6, -2e5], ax[:20]])
    y = np.concatenate([rng.uniform(-500, 3500, 400), [-3e5, 4e4], ay[:20]])
    grid = build_grid(ax, ay, bx, by, cand)
    seg, t, dist, sx, sy = nearest_segments(grid, x, y)
    ref_seg, ref_dist = brute_force(ax, ay, bx, by, cand, x, y)
    np.testing.assert_allclose(dist, ref_dist, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(seg, ref_seg)
    assert set(np.unique(seg)) <= set(cand)
    # the nearest point lies on that segment, at that distance
    np.testing.assert_allclose(sx, ax[seg] + t * (bx[seg] - ax[seg]), atol=1e-9)
    np.testing.assert_allclose(sy, ay[seg] + t * (by[seg] - ay[seg]), atol=1e-9)
    np.testing.assert_allclose(np.hypot(x - sx, y - sy), dist, atol=1e-9)
    assert ((t >= 0) & (t <= 1)).all()
    # the numpy way for few points gives the very same numbers, in small chunks or large
    for chunk in (1_000, 10_000_000):
        brute = nearest_segments_brute(ax, ay, bx, by, cand[::-1], x, y, chunk_pairs=chunk)
        for got, want in zip(brute, (seg, t, dist, sx, sy), strict=True):
            np.testing.assert_array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(*[st.floats(-2000, 2000, allow_nan=False, width=32)] * 4),
        min_size=1,
        max_size=25,
    ),
    st.lists(
        st.tuples(st.floats(-1e5, 1e5, allow_nan=False), st.floats(-1e5, 1e5, allow_nan=False)),
        min_size=1,
        max_size=20,
    ),
)
def test_grid_matches_brute_force_on_any_layout(segments, points):
    ax, ay, bx, by = (np.array(c, dtype=float) for c in zip(*segments, strict=True))
    x, y = (np.array(c, dtype=float) for c in zip(*points, strict=True))
    cand = np.arange(len(ax))
    seg, _, dist, _, _ = nearest_segments(build_grid(ax, ay, bx, by, cand), x, y)
    ref_seg, ref_dist = brute_force(ax, ay, bx, by, cand, x, y)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12, atol=1e-9)
    # a different segment only where two are equally near (to rounding)
    differ = seg != ref_seg
    if differ.any():
        alt = brute_force(ax, ay, bx, by, seg[differ], x[differ], y[differ])[1]
        np.testing.assert_allclose(alt, ref_dist[differ], rtol=1e-12, atol=1e-9)


def test_ties_go_to_the_lowest_segment_index():
    # a point at a crossing is 0 m from all four arms: the answer is the lowest index
    ax = np.array([0.0, 0.0, 0.0, 0.0])
    ay = np.zeros(4)
    bx = np.array([100.0, -100.0, 0.0, 0.0])
    by = np.array([0.0, 0.0, 100.0, -100.0])
    for cand in (np.arange(4), np.array([3, 1, 2])):
        seg, _, dist, _, _ = nearest_segments(build_grid(ax, ay, bx, by, cand), [0.0], [0.0])
        assert seg[0] == cand.min() and dist[0] == 0.0
        seg, _, dist, _, _ = nearest_segments_brute(ax, ay, bx, by, cand, [0.0], [0.0])
        assert seg[0] == cand.min() and dist[0] == 0.0


def test_empty_grid_and_missing_coordinates_give_no_segment():
    ax = ay = np.zeros(1)
    bx, by = np.ones(1), np.ones(1)
    none = np.array([], dtype=int)
    for seg, _, dist, _, _ in (
        nearest_segments(build_grid(ax, ay, bx, by, none), [0.0], [0.0]),
        nearest_segments_brute(ax, ay, bx, by, none, [0.0], [0.0]),
    ):
        assert seg[0] == -1 and np.isinf(dist[0])
    one = np.array([0])
    for seg, _, dist, _, _ in (
        nearest_segments(build_grid(ax, ay, bx, by, one), [np.nan, 0.5], [0.0, 0.5]),
        nearest_segments_brute(ax, ay, bx, by, one, [np.nan, 0.5], [0.0, 0.5]),
    ):
        assert seg.tolist() == [-1, 0] and np.isinf(dist[0]) and dist[1] == 0.0


def test_a_wide_sparse_area_keeps_the_grid_small():
    # two short roads 500 km apart: the cell grows instead of allocating millions of cells
    ax = np.array([0.0, 5e5])
    ay = np.array([0.0, 5e5])
    grid = build_grid(ax, ay, ax + 10.0, ay, np.arange(2))
    assert grid.nx * grid.ny <= MAX_CELLS_PER_SEGMENT * 2 + 1024
    seg = nearest_segments(grid, [4.9e5, 1.0], [4.9e5, 1.0])[0]
    assert seg.tolist() == [1, 0]


def test_concurrent_callers_get_their_own_answers():
    """Streamlit serves each browser tab from its own thread; parallel kernels must not clash."""
    rng = np.random.default_rng(9)
    ax, ay, bx, by = random_roads(rng, 2000, spread=20000.0)
    grid = build_grid(ax, ay, bx, by, np.arange(2000))
    pts = [rng.uniform(0, 20000, (2, 20000)) for _ in range(6)]
    expected = [nearest_segments(grid, *p)[0] for p in pts]
    got: dict[int, np.ndarray] = {}

    def work(i):
        for _ in range(5):
            got[i] = nearest_segments(grid, *pts[i])[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i in range(6):
        np.testing.assert_array_equal(got[i], expected[i])
