"""Deterministic road-like networks, households, facilities and OSM XML files for the benchmark.

Everything here is fictional and generated from a seed. The roads are a jittered grid around
113 E, 41.5 N (central Inner Mongolia, UTM zone 49N) made to look like a rural road network:

* grid spacing mostly 300 m (village streets), with about one row/column in ten 1.5-4 km
  away (long rural segments between settlements);
* about 15 % of grid edges removed (dead ends, missing links);
* intermediate shape nodes (degree 2) on most edges, more on long ones, as OSM draws curves;
* a maximal run of kept edges along a grid row or column is one way (as an OSM way), with one
  highway class (mostly ``residential``/``unclassified``/``track``) and about 2 % of the
  non-track ways one-way (``oneway=yes`` or ``-1``), which matters for the car mode.

Average node degree comes out at about 2.6-2.8. :func:`make_roads` returns
:class:`layers.roads.RoadEdges` in lon/lat so the network goes through
:func:`mapping.network.build_network` like real data; :func:`write_osm_xml` writes the same
roads (plus some amenity nodes and areas) as an OSM XML file, streaming.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from layers.roads import MODE_BITS, RoadEdges, highway_code

#: Projected CRS of the generator (metres), and the lon/lat of its origin.
UTM = "EPSG:32649"
ORIGIN_LONLAT = (113.0, 41.5)
ALL_MODES = MODE_BITS["walk"] | MODE_BITS["motorbike"] | MODE_BITS["car"]

_HIGHWAYS = np.array(["residential", "unclassified", "track", "tertiary"])
_HIGHWAY_P = np.array([0.45, 0.25, 0.25, 0.05])


@dataclass(frozen=True)
class SyntheticRoads:
    """A generated road network.

    Attributes
    ----------
    roads
        The segments, lon/lat (EPSG:4326), as an OSM reader would return them.
    x, y
        Node positions in :data:`UTM` (metres), same order as ``roads.node_id``.
    way_nodes
        Per way, the node indices in drawing order (for the OSM XML writer): a flat array
        and the offsets of each way in it (``way_start[i]:way_start[i+1]``).
    way_id, way_highway, way_oneway
        Per way: OSM id, highway value (str) and oneway (0, 1, -1).
    """

    roads: RoadEdges
    x: np.ndarray
    y: np.ndarray
    way_nodes: np.ndarray
    way_start: np.ndarray
    way_id: np.ndarray
    way_highway: np.ndarray
    way_oneway: np.ndarray


def _generate(side: int, seed: int) -> SyntheticRoads:
    rng = np.random.default_rng(seed)
    tr = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    x0, y0 = tr.transform(*ORIGIN_LONLAT)

    def spacing(k: int) -> np.ndarray:
        far = rng.random(k) < 0.1
        return np.where(far, rng.uniform(1500.0, 4000.0, k), rng.uniform(250.0, 350.0, k))

    xs = np.concatenate([[0.0], np.cumsum(spacing(side - 1))])
    ys = np.concatenate([[0.0], np.cumsum(spacing(side - 1))])
    gx = (xs[None, :] + rng.uniform(-60, 60, (side, side))).ravel()
    gy = (ys[:, None] + rng.uniform(-60, 60, (side, side))).ravel()
    idx = np.arange(side * side).reshape(side, side)

    # Grid edges, ordered so that a row's (column's) edges are consecutive: runs become ways.
    h_a, h_b = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    v_a, v_b = idx[:-1, :].T.ravel(), idx[1:, :].T.ravel()
    a = np.concatenate([h_a, v_a])
    b = np.concatenate([h_b, v_b])
    line = np.concatenate(
        [np.repeat(np.arange(side), side - 1), side + np.repeat(np.arange(side), side - 1)]
    )
    kept = rng.random(len(a)) >= 0.15
    a, b, line = a[kept], b[kept], line[kept]
    # A new way starts where the line changes or the previous grid edge was removed.
    prev_b = np.concatenate([[-1], b[:-1]])
    starts = (a != prev_b) | (np.concatenate([[-1], line[:-1]]) != line)
    edge_way = np.cumsum(starts) - 1
    n_ways = int(edge_way[-1]) + 1

    # Shape nodes: mostly 0-2 per edge, one every ~400 m on long rural edges.
    length = np.hypot(gx[b] - gx[a], gy[b] - gy[a])
    k = rng.choice([0, 1, 2], size=len(a), p=[0.6, 0.3, 0.1]) + (length // 400).astype(np.int64)
    k = np.where(length > 1000, k, np.minimum(k, 2))
    n_grid = side * side
    n_new = int(k.sum())
    edge_of_new = np.repeat(np.arange(len(a)), k)
    first_new = np.concatenate([[0], np.cumsum(k)[:-1]])
    r = np.arange(n_new) - first_new[edge_of_new]
    t = (r + 1) / (k[edge_of_new] + 1)
    ea, eb = a[edge_of_new], b[edge_of_new]
    dx, dy = gx[eb] - gx[ea], gy[eb] - gy[ea]
    norm = np.hypot(dx, dy)
    wiggle = rng.uniform(-25, 25, n_new)
    sx = gx[ea] + t * dx - wiggle * dy / norm
    sy = gy[ea] + t * dy + wiggle * dx / norm
    x = np.concatenate([gx, sx]) + x0
    y = np.concatenate([gy, sy]) + y0

    # Node sequence of each edge: a, its shape nodes, b.
    seq_len = k + 2
    seq_start = np.concatenate([[0], np.cumsum(seq_len)[:-1]])
    flat = np.empty(int(seq_len.sum()), dtype=np.int64)
    flat[seq_start] = a
    flat[seq_start + seq_len - 1] = b
    inner = np.ones(len(flat), dtype=bool)
    inner[seq_start] = False
    inner[seq_start + seq_len - 1] = False
    flat[inner] = n_grid + np.arange(n_new)
    last = np.zeros(len(flat), dtype=bool)
    last[seq_start + seq_len - 1] = True
    seg_a = np.flatnonzero(~last)
    seg_u, seg_v = flat[seg_a], flat[seg_a + 1]
    seg_edge = np.repeat(np.arange(len(a)), k + 1)

    # Per-way attributes; long ways in the open are tracks.
    hw = rng.choice(len(_HIGHWAYS), size=n_ways, p=_HIGHWAY_P)
    way_len = np.bincount(edge_way, weights=length, minlength=n_ways)
    hw = np.where((way_len > 3000) & (rng.random(n_ways) < 0.5), 2, hw)
    ow_draw = rng.random(n_ways)
    oneway = np.where(ow_draw < 0.015, 1, np.where(ow_draw < 0.02, -1, 0)).astype(np.int8)
    oneway[hw == 2] = 0
    way_ids = np.arange(1, n_ways + 1, dtype=np.int64) + 10_000_000
    seg_way = edge_way[seg_edge]

    # Drop nodes no edge uses (grid nodes whose edges were all removed).
    used = np.zeros(len(x), dtype=bool)
    used[seg_u] = True
    used[seg_v] = True
    new_index = np.cumsum(used) - 1
    x, y = x[used], y[used]
    seg_u, seg_v = new_index[seg_u], new_index[seg_v]
    flat = new_index[flat]

    to_ll = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(x, y)
    # Round to OSM's 1e-7 degree precision so the XML file holds exactly these positions.
    lon, lat = np.round(lon, 7), np.round(lat, 7)
    codes = np.array([highway_code(h) for h in _HIGHWAYS], dtype=np.int16)
    roads = RoadEdges(
        node_id=np.arange(1, len(x) + 1, dtype=np.int64),
        lon=lon,
        lat=lat,
        u=seg_u,
        v=seg_v,
        way_id=way_ids[seg_way],
        highway=codes[hw[seg_way]],
        oneway=oneway[seg_way],
        modes=np.full(len(seg_u), ALL_MODES, dtype=np.uint8),
    )
    # Way node lists: the edge sequences of a way joined on their shared ends.
    drop = np.zeros(len(flat), dtype=bool)
    drop[seq_start[~starts]] = True  # the first node of a continuing edge repeats the last one
    way_nodes = flat[~drop]
    way_first_edge = np.flatnonzero(starts)
    way_start = np.concatenate(
        [np.cumsum(~drop)[seq_start[way_first_edge]] - 1, [len(way_nodes)]]
    ).astype(np.int64)
    return SyntheticRoads(
        roads=roads,
        x=x,
        y=y,
        way_nodes=way_nodes,
        way_start=way_start,
        way_id=way_ids,
        way_highway=_HIGHWAYS[hw],
        way_oneway=oneway,
    )


def make_roads(n_nodes: int, seed: int = 1) -> SyntheticRoads:
    """A road-like network of about ``n_nodes`` nodes (within a few per cent).

    Parameters
    ----------
    n_nodes
        Wanted number of nodes.
    seed
        Random seed; the same seed and size give the same network.
    """
    side = max(3, int(np.sqrt(n_nodes / 1.9)))
    best = _generate(side, seed)
    for _ in range(3):  # the share of long rural edges varies with the size: refine the side
        side = max(3, int(round(side * np.sqrt(n_nodes / best.roads.n_nodes))))
        syn = _generate(side, seed)
        if abs(syn.roads.n_nodes - n_nodes) < abs(best.roads.n_nodes - n_nodes):
            best = syn
    return best


def place_points(
    syn: SyntheticRoads,
    n: int,
    *,
    seed: int,
    at_nodes: bool = False,
    offroad_m: float = 150.0,
    among: np.ndarray | None = None,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Random points near the roads (EPSG:4326), and the node each was placed at or near.

    Parameters
    ----------
    syn
        The network.
    n
        Number of points.
    seed
        Random seed.
    at_nodes
        Put each point exactly on a node (to compare with bare node-to-node searches).
    offroad_m
        Otherwise: up to this far (m) from a random point of a random segment.
    among
        Node indices to choose from (default: all).

    Returns
    -------
    (GeoDataFrame, ndarray)
        Points indexed ``P0..``, and the node index each one is at (``at_nodes``) or the
        ``u`` node of its segment.
    """
    rng = np.random.default_rng(seed)
    pool = np.arange(syn.roads.n_nodes) if among is None else among
    if at_nodes:
        nodes = rng.choice(pool, n, replace=len(pool) < n)
        lon, lat = syn.roads.lon[nodes], syn.roads.lat[nodes]
    else:
        seg = rng.integers(0, syn.roads.n_edges, n)
        nodes = syn.roads.u[seg]
        t = rng.random(n)
        u, v = syn.roads.u[seg], syn.roads.v[seg]
        px = syn.x[u] + t * (syn.x[v] - syn.x[u]) + rng.uniform(-offroad_m, offroad_m, n)
        py = syn.y[u] + t * (syn.y[v] - syn.y[u]) + rng.uniform(-offroad_m, offroad_m, n)
        lon, lat = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(px, py)
    gdf = gpd.GeoDataFrame(
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
        index=pd.Index([f"P{i}" for i in range(n)], dtype="str"),
    )
    return gdf, nodes


def as_services(points: gpd.GeoDataFrame, kind: str = "kindergarten") -> gpd.GeoDataFrame:
    """A services layer (see :mod:`layers.services`) at the given points."""
    ids = [f"S{i}" for i in range(len(points))]
    out = gpd.GeoDataFrame(
        {
            "service_id": ids,
            "kind": kind,
            "name": [f"{kind} {i}" for i in ids],
            "capacity": pd.array([pd.NA] * len(points), dtype="Int64"),
            "source": "file",
        },
        geometry=points.geometry.to_numpy(),
        crs="EPSG:4326",
        index=pd.Index(ids, dtype="str", name="service_id"),
    )
    return out


def write_osm_xml(syn: SyntheticRoads, path: str | Path, *, n_amenities: int = 40) -> Path:
    """Write the network as an OSM XML file, plus amenity nodes and areas.

    Half the amenities are ``amenity=kindergarten``/``school`` nodes, half closed building
    ways (40 m squares) tagged with the amenity. Written in chunks: memory stays small.

    Parameters
    ----------
    syn
        The network.
    path
        Output ``.osm`` file.
    n_amenities
        Number of amenities.
    """
    path = Path(path)
    rng = np.random.default_rng(99)
    roads = syn.roads
    n = roads.n_nodes
    pick = rng.choice(n, n_amenities, replace=False)
    n_nodes_amen = n_amenities // 2
    next_node = int(roads.node_id.max()) + 1
    next_way = int(syn.way_id.max()) + 1
    chunk = 200_000
    with open(path, "w", encoding="utf-8") as f:
        f.write("<?xml version='1.0' encoding='UTF-8'?>\n")
        f.write('<osm version="0.6" generator="service-gap-mapper benchmark">\n')
        lon_s = np.char.mod("%.7f", roads.lon)
        lat_s = np.char.mod("%.7f", roads.lat)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            ids = roads.node_id[s:e]
            f.write(
                "".join(
                    f'<node id="{i}" version="1" lat="{la}" lon="{lo}"/>\n'
                    for i, la, lo in zip(
                        ids.tolist(), lat_s[s:e].tolist(), lon_s[s:e].tolist(), strict=True
                    )
                )
            )
        amen_ways = []
        for j, node in enumerate(pick.tolist()):
            kind = "kindergarten" if j % 2 == 0 else "school"
            lon0, lat0 = float(roads.lon[node]) + 0.0008, float(roads.lat[node]) + 0.0005
            if j < n_nodes_amen:
                f.write(
                    f'<node id="{next_node}" version="1" lat="{lat0:.7f}" lon="{lon0:.7f}">'
                    f'<tag k="amenity" v="{kind}"/><tag k="name" v="{kind} {j}"/></node>\n'
                )
                next_node += 1
                continue
            d = 0.0004
            corners = []
            for dlon, dlat in ((0, 0), (d, 0), (d, d), (0, d)):
                f.write(
                    f'<node id="{next_node}" version="1" lat="{lat0 + dlat:.7f}" '
                    f'lon="{lon0 + dlon:.7f}"/>\n'
                )
                corners.append(next_node)
                next_node += 1
            amen_ways.append((next_way, [*corners, corners[0]], kind, j))
            next_way += 1
        node_ids = roads.node_id[syn.way_nodes].tolist()
        starts = syn.way_start.tolist()
        buf: list[str] = []
        for w in range(len(syn.way_id)):
            refs = node_ids[starts[w] : starts[w + 1]]
            tags = f'<tag k="highway" v="{syn.way_highway[w]}"/>'
            if syn.way_oneway[w] == 1:
                tags += '<tag k="oneway" v="yes"/>'
            elif syn.way_oneway[w] == -1:
                tags += '<tag k="oneway" v="-1"/>'
            buf.append(
                f'<way id="{syn.way_id[w]}" version="1">'
                + "".join(f'<nd ref="{r}"/>' for r in refs)
                + tags
                + "</way>\n"
            )
            if len(buf) >= 20_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
        for wid, refs, kind, j in amen_ways:
            f.write(
                f'<way id="{wid}" version="1">'
                + "".join(f'<nd ref="{r}"/>' for r in refs)
                + f'<tag k="amenity" v="{kind}"/><tag k="building" v="yes"/>'
                f'<tag k="name" v="{kind} {j}"/></way>\n'
            )
        f.write("</osm>\n")
    return path


def make_scenario(
    n_nodes: int, n_households: int, n_villages: int, n_services: int, seed: int
) -> tuple[SyntheticRoads, object]:
    """A synthetic county as a :class:`mapping.scenario.Scenario`: roads, village points,
    households (children 0-2 each) and kindergartens, all fictional and deterministic."""
    from layers.households import validate_households
    from layers.villages import validate_villages
    from mapping.scenario import Scenario

    syn = make_roads(n_nodes, seed)
    hh, _ = place_points(syn, n_households, seed=seed + 1)
    vil, _ = place_points(syn, n_villages, seed=seed + 2, offroad_m=50.0)
    svc, _ = place_points(syn, n_services, seed=seed + 3)
    vil = vil.assign(
        village_id=vil.index,
        village_name=vil.index,
        boundary=gpd.GeoSeries([None] * len(vil), crs="EPSG:4326", index=vil.index),
        source="file",
    )
    hh = hh.assign(
        household_id=hh.index,
        village_name=pd.array([pd.NA] * len(hh), dtype="str"),
        name=pd.array([pd.NA] * len(hh), dtype="str"),
        phone=pd.array([pd.NA] * len(hh), dtype="str"),
        children=pd.array((hh.index.str[1:].astype(int) % 3).to_numpy(), dtype="Int64"),
        source_row=pd.array(range(2, len(hh) + 2), dtype="Int64"),
    )
    scenario = Scenario(
        roads=syn.roads,
        villages=validate_villages(vil),
        households=validate_households(hh),
        services=as_services(svc),
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )
    return syn, scenario
