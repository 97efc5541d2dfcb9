"""The pruned search from new sources equals scipy's full search with all sources."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from mapping.pruned import improved_costs


def min_arcs_csr(rows, cols, data, size) -> sp.csr_matrix:
    """A CSR of the arcs keeping the minimum of parallel ones (a csr_matrix from triplets
    would add them up)."""
    order = np.lexsort((data, cols, rows))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (rows[order][1:] != rows[order][:-1]) | (cols[order][1:] != cols[order][:-1])
    keep = order[first]
    return sp.csr_matrix((data[keep], (rows[keep], cols[keep])), shape=(size, size))


def with_sources(graph: sp.csr_matrix, node, cost, label, n_labels) -> sp.csr_matrix:
    """``graph`` plus one virtual node per label with arcs to its entry nodes (scipy's way)."""
    n = graph.shape[0]
    coo = graph.tocoo()
    rows = np.concatenate([coo.row, n + np.asarray(label)])
    cols = np.concatenate([coo.col, node])
    data = np.concatenate([coo.data, cost])
    return min_arcs_csr(rows, cols, data, n + n_labels)


def search_all(graph, node, cost, label, n_labels):
    g = with_sources(graph, node, cost, label, n_labels)
    n = graph.shape[0]
    dist = dijkstra(g, directed=True, indices=np.arange(n, n + n_labels), min_only=True)
    return dist[:n]


def random_graph(rng, n, m):
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.choice([0.0, 1.0, 2.5, 10.0, 100.0], m) + rng.random(m) * (rng.random(m) < 0.5)
    keep = u != v
    return min_arcs_csr(u[keep], v[keep], w[keep], n)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 60),
    density=st.floats(0.5, 4.0),
    n_old=st.integers(0, 4),
    n_new=st.integers(1, 3),
)
def test_pruned_search_matches_a_full_search(seed, n, density, n_old, n_new):
    rng = np.random.default_rng(seed)
    graph = random_graph(rng, n, int(n * density) + 1)
    old_node = rng.integers(0, n, 2 * n_old)
    old_cost = rng.choice([0.0, 3.0, 7.5], len(old_node))
    old_label = np.repeat(np.arange(n_old), 2)
    if n_old:
        old = search_all(graph, old_node, old_cost, old_label, n_old)
    else:
        old = np.full(n, np.inf)
    new_node = rng.integers(0, n, 2 * n_new)
    new_cost = rng.choice([0.0, 1.0, 4.0], len(new_node)) + rng.random(len(new_node))
    new_label = np.repeat(np.arange(n_new), 2)

    cost, label = improved_costs(graph, new_node, new_cost, new_label, old)

    only_new = search_all(graph, new_node, new_cost, new_label, n_new)
    both = np.minimum(old, only_new)
    improved = only_new < old
    # exactly the nodes the new sources improve get a cost, and it is scipy's to the bit
    np.testing.assert_array_equal(np.isfinite(cost), improved)
    np.testing.assert_array_equal(cost[improved], only_new[improved])
    np.testing.assert_array_equal(np.where(improved, cost, old), both)
    assert (label[~improved] == -1).all()
    # each improved node's label is a new source that indeed reaches it at that cost
    for lab in np.unique(label[improved]):
        own = search_all(graph, new_node[new_label == lab], new_cost[new_label == lab],
                         np.zeros((new_label == lab).sum(), dtype=int), 1)  # fmt: skip
        at = improved & (label == lab)
        np.testing.assert_array_equal(own[at], cost[at])


def test_a_source_worse_than_the_old_costs_explores_nothing():
    graph = random_graph(np.random.default_rng(1), 200, 600)
    old = np.zeros(200)
    cost, label = improved_costs(graph, np.array([5]), np.array([1.0]), np.array([0]), old)
    assert np.isinf(cost).all() and (label == -1).all()


@pytest.mark.parametrize("n_sources", [1, 40, 500])
def test_many_entries_grow_the_heap(n_sources):
    """More entries than the heap's first size (the heap grows instead of overflowing)."""
    rng = np.random.default_rng(n_sources)
    graph = random_graph(rng, 3000, 9000)
    node = rng.integers(0, 3000, n_sources)
    cost = rng.random(n_sources)
    label = np.arange(n_sources)
    got, _ = improved_costs(graph, node, cost, label, np.full(3000, np.inf))
    np.testing.assert_array_equal(got, search_all(graph, node, cost, label, n_sources))
