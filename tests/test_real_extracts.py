"""Distances on real OpenStreetMap extracts equal an independent networkx computation.

The independent side builds its graph with osmnx's own XML reader (``graph_from_xml``, which
also applies osmnx's one-way rules), keeps the ways our network kept, and runs networkx's
multi-source Dijkstra. Both sides measure edges as straight lines in the same UTM zone, so
the answers must agree to the millimetre. Skipped when ``../shared/data`` is absent.
"""

from __future__ import annotations

import gzip
import shutil

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pyproj
import pytest
import shapely

from layers.osm import read_osm
from mapping.access import compute_service_access
from mapping.network import build_network
from mapping.settings import AnalysisSettings
from tests.conftest import shared_file

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def _as_xml(path, tmp_path):
    out = tmp_path / "extract.osm"
    if path.name.endswith(".osm.gz"):
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:  # PBF -> XML with pyosmium, for osmnx's XML-only reader
        with osmium.SimpleWriter(str(out)) as writer:
            for obj in osmium.FileProcessor(str(path)):
                writer.add(obj)
    return out


def _networkx_distances(xml, net, sources, targets, directed):
    """Distances target -> nearest source over osmnx's graph of the ways ``net`` kept."""
    import osmnx as ox

    G = ox.graph_from_xml(xml, simplify=False, retain_all=True, bidirectional=not directed)
    kept_ways = set(net.seg_way_id.tolist())
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", net.crs, always_xy=True)
    xy = {n: to_utm.transform(d["x"], d["y"]) for n, d in G.nodes(data=True)}
    H = nx.DiGraph()
    for u, v, d in G.edges(data=True):
        osmid = d["osmid"]
        if (osmid if isinstance(osmid, int) else osmid[0]) not in kept_ways or u == v:
            continue
        w = float(np.hypot(xy[u][0] - xy[v][0], xy[u][1] - xy[v][1]))
        if not H.has_edge(u, v) or H[u][v]["weight"] > w:
            H.add_edge(u, v, weight=w)
    # distance *to* the nearest source: search from the sources on the reversed graph
    dist = nx.multi_source_dijkstra_path_length(H.reverse(copy=False), set(sources))
    return np.array([dist.get(t, np.inf) for t in targets])


def _compare(path, tmp_path, mode, n_sources=4, n_targets=300, seed=7):
    extract = read_osm(path)
    net = build_network(extract.roads, AnalysisSettings(mode=mode))
    rng = np.random.default_rng(seed)
    main = np.flatnonzero(net.component == net.main_component)
    src_idx = rng.choice(main, n_sources, replace=False)
    tgt_idx = rng.choice(main, n_targets, replace=False)
    lon, lat = net.to_lonlat(net.x, net.y)

    def layer(idx, **cols):
        return gpd.GeoDataFrame(
            cols,
            geometry=shapely.points(lon[idx], lat[idx]),
            crs="EPSG:4326",
            index=[f"n{net.node_id[i]}" for i in idx],
        )

    svc = layer(src_idx, kind="kindergarten", name="k")
    pts = layer(tgt_idx)
    ours = compute_service_access(net, pts, svc, "kindergarten")["dist_kindergarten_m"]
    theirs = _networkx_distances(
        _as_xml(path, tmp_path),
        net,
        [int(net.node_id[i]) for i in src_idx],
        [int(net.node_id[i]) for i in tgt_idx],
        directed=mode != "walk",
    )
    ours = ours.to_numpy()
    finite = np.isfinite(theirs)
    assert finite.sum() > n_targets * 0.5, "too few reachable targets to compare"
    np.testing.assert_allclose(ours[finite], theirs[finite], atol=1e-3, rtol=0)
    assert np.isnan(ours[~finite]).all()
    return ours


def test_walk_distances_north_bayreuth_match_networkx(tmp_path):
    _compare(shared_file("osm", "north-bayreuth.osm.gz"), tmp_path, "walk")


def test_car_distances_liechtenstein_match_networkx_with_oneways(tmp_path):
    ours = _compare(shared_file("osm", "liechtenstein-2013.osm.pbf"), tmp_path, "car")
    assert pd.notna(ours).sum() > 100


def test_andorra_has_no_kindergarten_so_every_village_is_unreachable():
    extract = read_osm(shared_file("osm", "andorra.osm.pbf"))
    net = build_network(extract.roads, AnalysisSettings(mode="car"))
    out = compute_service_access(net, extract.villages, extract.services, "kindergarten")
    assert out["dist_kindergarten_m"].isna().all()
    assert (out["unreachable_kindergarten"] == "no_service").all()
    school = compute_service_access(net, extract.villages, extract.services, "school")
    assert school["dist_school_m"].notna().sum() > len(extract.villages) * 0.5
