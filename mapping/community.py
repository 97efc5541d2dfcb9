"""Community roads joined into the OSM road segments: the network the workshop corrected.

:func:`join_community_roads` is a pure function: OSM road segments (:class:`RoadEdges`) and
the community roads layer (:mod:`layers.tracks`) in, new road segments out, with what is
needed to draw the community roads distinctly and to say what they changed. The result goes
to :func:`mapping.network.build_network` like any other roads; an analysis already made can
take them without a rebuild through :func:`mapping.roadupdate.update_analysis` (the network
is patched, only the affected part of each search is redone).

How a community road joins the roads (``join_m``, 20 m by default)
------------------------------------------------------------------
Everything is measured in metres in a projected CRS (the UTM zone of the roads).

1. **Near a road: joined there.** Each vertex of a community road within ``join_m`` of a road
   segment is moved onto the nearest point of that segment, and the segment is split there
   (a junction). A road's end (a GPS track starts where the rider left the road) or a vertex
   clicked next to a road on the map joins the road this way. A vertex farther than
   ``join_m`` stays where it is; an end that far from every road is a dead end (a track to
   a village).
2. **Crossing or touching a road: joined there.** Wherever a stretch of a community road
   (between its vertices) crosses or touches a road segment, both are split at the exact
   crossing point: tracks meet roads at grade in the countryside.
3. **Running along a road: dropped.** A stretch between two vertices that were both moved
   onto the same road (the same OSM way, or two segments that share a node) runs along that
   road: it is dropped, so GPS noise beside a road never becomes a parallel duplicate that
   shortens distances. When the two vertices land on different roads that do not meet
   there, the stretch links them and is kept. A short wobble off the road (the vertices
   between two such landings all stay within ``2 x join_m`` of the road) is dropped too.
4. **Community roads among themselves.** Roads are taken in the layer's order. A vertex of a
   later community road within ``join_m`` of an earlier one (and not already joined to an
   OSM road) is moved onto it, stretches running along an earlier community road are
   dropped (a track recorded twice adds nothing the second time), and community roads
   that cross each other, or cross themselves, are joined at the crossing.
5. **Travel.** A community road may be used by the modes its ``modes`` says (every mode by
   default), in both directions, at the speed of its class (``track``, ``unclassified`` or
   ``secondary`` in :mod:`mapping.settings`). Its length is its own: the straight pieces
   between its (moved) vertices.
6. **Outside the area.** A community road with no vertex inside the study area is left out
   with a warning; when all are outside, the coordinates are probably wrong (GCJ-02 read as
   WGS84 shifts by only ~500 m, so this is a different mistake) and it is an error.

Points within 1 cm of each other (a vertex landing on an existing node, two crossings at one
spot) are one node.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from layers import i18n
from layers.coords import utm_crs
from layers.errors import InputError
from layers.roads import RoadEdges, highway_code
from layers.schema import WGS84, Note
from layers.tracks import modes_mask, validate_community_roads
from mapping.network import BRUTE_FORCE_PAIRS
from mapping.snapgrid import build_grid, nearest_segments, nearest_segments_brute

#: Default join distance (m): how near a road a community road's vertex must be to join it.
#: Phone GPS in the open is within 5-10 m most of the time; 20 m also takes a vertex clicked
#: beside a road on a zoomed-out map.
JOIN_M = 20.0

#: Points nearer than this (m) are the same node.
SAME_POINT_M = 0.01

#: A wobble (rule 3) stays within this many join distances of the road.
WOBBLE_JOINS = 2.0

i18n.register(
    {
        "warning.community.outside": {
            "zh": "{count} 条社区道路完全在研究区以外，未使用：{roads}。请检查它们的坐标。",
            "en": "{count} community road(s) lie entirely outside the study area and were "
            "left out: {roads}. Check their coordinates.",
        },
        "error.community.all_outside": {
            "zh": "所有社区道路（{count} 条，来自 {sources}）都在研究区以外。坐标可能有误："
            "请检查文件是否属于这个研究区，以及经纬度是否写反。",
            "en": "All {count} community road(s) (from {sources}) lie outside the study area. "
            "The coordinates are probably wrong: check that the file is of this area and that "
            "longitude and latitude are not swapped.",
        },
        "note.community.all_along": {
            "zh": "{count} 条社区道路全程沿着已有道路，没有新增路段：{roads}。",
            "en": "{count} community road(s) run along existing roads all the way and add "
            "nothing new: {roads}.",
        },
        "change.shorter": {
            "zh": "{village}：到最近的{kind}缩短了 {km} 公里（{before} → {after} 公里）。",
            "en": "{village}: {km} km shorter to the nearest {kind} ({before} -> {after} km).",
        },
        "change.longer": {
            "zh": "{village}：到最近的{kind}增加了 {km} 公里（{before} → {after} 公里）。",
            "en": "{village}: {km} km longer to the nearest {kind} ({before} -> {after} km).",
        },
        "change.connected": {
            "zh": "{village}：现在可以沿道路到达{kind}（{after} 公里），之前无法到达。",
            "en": "{village}: can now reach a {kind} by road ({after} km); it could not before.",
        },
        "change.cut_off": {
            "zh": "{village}：无法再沿道路到达任何{kind}（之前 {before} 公里）。",
            "en": "{village}: can no longer reach any {kind} by road (before: {before} km).",
        },
    }
)


@dataclass(frozen=True, eq=False)
class CommunityJoin:
    """The roads with community roads joined in, and what drawing and reporting need.

    Layout of ``roads``: the base nodes first, in their order, then the new nodes; the base
    segments that were not split (in their order), then the pieces of the split ones, then
    the community road segments.

    Attributes
    ----------
    roads
        The joined road segments (lon/lat), for :func:`mapping.network.build_network`.
    n_base_nodes
        How many of ``roads``' nodes are the base roads' nodes (the first ones).
    base_kept
        Per base segment: True when it is in ``roads`` unchanged (False: split).
    segment_base
        Per segment of ``roads``: the base segment it is (or is a piece of), -1 for
        community road segments.
    segment_road
        Per segment of ``roads``: the row (position) of the community road it belongs to,
        -1 for OSM segments.
    lines
        The community roads as joined, for maps: one row per community road that added
        something (``road_id``, ``road_class``, ``name``, ``added_by``, ``length_m``: the
        length added, ``n_joins``: where it meets roads), MultiLineString, EPSG:4326.
    dropped
        The stretches left out because they run along a road (``road_id``,
        ``length_m``), MultiLineString, EPSG:4326 (empty when none).
    joins
        The points where community roads meet roads (``road_id``), EPSG:4326.
    notes
        Warnings for the user (roads outside the area, roads that add nothing).
    crs
        The projected CRS the join worked in.
    join_m
        The join distance used (m).
    """

    roads: RoadEdges
    n_base_nodes: int
    base_kept: np.ndarray
    segment_base: np.ndarray
    segment_road: np.ndarray
    notes: tuple[Note, ...] = field(default=())
    crs: pyproj.CRS | None = None
    join_m: float = JOIN_M
    _draw: Callable[[], tuple[gpd.GeoDataFrame, ...]] | None = field(default=None, repr=False)

    # the frames for maps are made when first asked for: adding one road to an analysis
    # (mapping.roadupdate) does not wait for them
    @functools.cached_property
    def _drawing(self) -> tuple[gpd.GeoDataFrame, ...]:
        if self._draw is not None:
            return self._draw()
        empty = gpd.GeoDataFrame(
            {"road_id": pd.Series([], dtype="str")}, geometry=gpd.GeoSeries([], crs=WGS84)
        )
        with_len = empty.assign(length_m=pd.Series([], dtype=float))
        return with_len.assign(n_joins=pd.Series([], dtype="int64")), with_len, empty

    @property
    def lines(self) -> gpd.GeoDataFrame:
        """The community roads as joined (see the class docstring)."""
        return self._drawing[0]

    @property
    def dropped(self) -> gpd.GeoDataFrame:
        """The stretches left out (see the class docstring)."""
        return self._drawing[1]

    @property
    def joins(self) -> gpd.GeoDataFrame:
        """Where community roads meet roads (see the class docstring)."""
        return self._drawing[2]

    @property
    def is_community(self) -> np.ndarray:
        """Per segment of ``roads``: True for community road segments."""
        return self.segment_road >= 0


def join_community_roads(
    roads: RoadEdges,
    community: gpd.GeoDataFrame,
    join_m: float = JOIN_M,
    *,
    crs: pyproj.CRS | str | None = None,
    area: shapely.Geometry | None = None,
) -> CommunityJoin:
    """Join community roads into the road segments (rules in the module docstring).

    Parameters
    ----------
    roads
        The OSM road segments (lon/lat), e.g. ``scenario.roads``.
    community
        The community roads layer (:mod:`layers.tracks`), EPSG:4326.
    join_m
        Join distance (m): vertices this near a road join it.
    crs
        Projected CRS to measure in (default: the UTM zone of the roads' centre).
    area
        The study area (WGS84); community roads entirely outside it are left out.

    Returns
    -------
    CommunityJoin
        New segments and metadata; the inputs are not modified.

    Raises
    ------
    InputError
        When every community road lies outside ``area``.
    """
    if not join_m > 0:
        raise ValueError(f"join_m must be > 0, not {join_m!r}")
    community = validate_community_roads(community)
    if crs is None:
        if roads.n_nodes:
            crs = utm_crs(float(np.mean(roads.lon)), float(np.mean(roads.lat)))
        elif len(community):
            c = community.geometry.union_all().centroid
            crs = utm_crs(c.x, c.y)
        else:
            crs = "EPSG:3857"
    crs = pyproj.CRS.from_user_input(crs)
    notes: list[Note] = []

    if area is not None and len(community):
        inside = community.geometry.intersects(area).to_numpy()
        if not inside.any():
            raise InputError(
                "error.community.all_outside",
                count=len(community),
                sources=", ".join(sorted(set(community["source"].astype(str))))[:200],
            )
        if not inside.all():
            out_ids = community.index[~inside].tolist()
            notes.append(
                Note(
                    "warning.community.outside",
                    {"count": len(out_ids), "roads": _ids_text(community.loc[out_ids])},
                )
            )
        community = community[inside]
    return _Joiner(roads, community, float(join_m), crs, notes).run()


def _ids_text(rows: gpd.GeoDataFrame, limit: int = 5) -> str:
    """``R3 (file.gpx #2), ...`` for messages."""
    items = [
        f"{rid} ({src} #{row})"
        for rid, src, row in zip(rows.index, rows["source"], rows["source_row"], strict=True)
    ]
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")


class _Joiner:
    """One run of the join (a class only to share its many arrays between the steps)."""

    def __init__(self, roads, community, join_m, crs, notes):
        self.roads = roads
        self.community = community
        self.join_m = join_m
        self.crs = crs
        self.notes = notes
        self.to_xy = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
        self.to_ll = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)

    # ---------------------------------------------------------------------------------------
    def run(self) -> CommunityJoin:
        self._vertices()
        if len(self.vx) == 0:
            return self._result_without_lines()
        self._road_candidates()
        self._near_roads()
        self._drop_along_roads()
        self._community_among_themselves()
        self._crossings_with_roads()
        return self._assemble()

    # ---------------------------------------------------------------------------------------
    def _vertices(self) -> None:
        """Vertices of every community road in metres, consecutive repeats removed."""
        geoms = self.community.geometry.to_numpy()
        xy, line = shapely.get_coordinates(geoms, return_index=True)
        self.lonlat_bounds = (*xy.min(axis=0), *xy.max(axis=0)) if len(xy) else None
        x, y = self.to_xy.transform(xy[:, 0], xy[:, 1]) if len(xy) else (xy[:, 0], xy[:, 1])
        x, y = np.asarray(x, float), np.asarray(y, float)
        keep = np.ones(len(x), dtype=bool)
        if len(x) > 1:
            same_line = line[1:] == line[:-1]
            tiny = np.hypot(np.diff(x), np.diff(y)) < SAME_POINT_M
            keep[1:] = ~(same_line & tiny)
        x, y, line = x[keep], y[keep], line[keep]
        self.vx, self.vy, self.vline = x, y, line.astype(np.int64)
        n = len(x)
        #: an edge starts at vertex i when vertex i + 1 is on the same line
        self.has_edge = np.zeros(n, dtype=bool)
        if n > 1:
            self.has_edge[:-1] = line[1:] == line[:-1]
        self.edge_start = np.flatnonzero(self.has_edge)  # edge k goes edge_start[k] -> +1
        # what each vertex joins: 0 nothing, 1 an OSM segment, 2 a community edge
        self.t_kind = np.zeros(n, dtype=np.int8)
        self.t_seg = np.full(n, -1, dtype=np.int64)
        self.t_pos = np.zeros(n)
        self.mx, self.my = x.copy(), y.copy()  # positions after moving onto roads
        self.edge_kept = np.ones(len(self.edge_start), dtype=bool)
        self.road_dist = np.full(n, np.inf)

    # ---------------------------------------------------------------------------------------
    def _road_candidates(self) -> None:
        """The road segments near the community roads, in an STRtree.

        Only the nodes of segments in the community roads' box (lon/lat, with a generous
        margin) are projected: adding one road to a county projects a few hundred nodes,
        not all of them.
        """
        r = self.roads
        pad = WOBBLE_JOINS * self.join_m + 1.0
        w, s, e, n = self.lonlat_bounds
        # degrees of the margin, doubled: a box in lon/lat is not one in metres
        dlat = 2.0 * pad / 110_000.0
        dlon = dlat / max(np.cos(np.radians(max(abs(s), abs(n)))), 0.05)
        lon_u, lon_v, lat_u, lat_v = r.lon[r.u], r.lon[r.v], r.lat[r.u], r.lat[r.v]
        ok = r.u != r.v
        ok &= (np.maximum(lon_u, lon_v) >= w - dlon) & (np.minimum(lon_u, lon_v) <= e + dlon)
        ok &= (np.maximum(lat_u, lat_v) >= s - dlat) & (np.minimum(lat_u, lat_v) <= n + dlat)
        near = np.flatnonzero(ok)
        nodes = np.unique(np.concatenate([r.u[near], r.v[near]]))
        self.rx = np.full(r.n_nodes, np.nan)
        self.ry = np.full(r.n_nodes, np.nan)
        if len(nodes):
            px, py = self.to_xy.transform(r.lon[nodes], r.lat[nodes])
            self.rx[nodes], self.ry[nodes] = px, py
        ax, ay = self.rx[r.u[near]], self.ry[r.u[near]]
        bx, by = self.rx[r.v[near]], self.ry[r.v[near]]
        x0, x1 = self.vx.min() - pad, self.vx.max() + pad
        y0, y1 = self.vy.min() - pad, self.vy.max() + pad
        ok = (np.maximum(ax, bx) >= x0) & (np.minimum(ax, bx) <= x1)
        ok &= (np.maximum(ay, by) >= y0) & (np.minimum(ay, by) <= y1)
        self.cand = near[ok]
        self.cax, self.cay, self.cbx, self.cby = ax[ok], ay[ok], bx[ok], by[ok]
        c = self.cand
        coords = np.stack(
            [np.column_stack([self.cax, self.cay]), np.column_stack([self.cbx, self.cby])],
            axis=1,
        )
        self.road_tree = shapely.STRtree(shapely.linestrings(coords)) if len(c) else None

    def _near_roads(self) -> None:
        """Rule 1: vertices within join_m of a road move onto its nearest point."""
        if self.road_tree is None:
            return
        # the nearest segment of every vertex: the snapping grid of mapping.snapgrid (exact,
        # ties to the lowest segment), or every pair for a few vertices
        ends = (self.cax, self.cay, self.cbx, self.cby)
        idx = np.arange(len(self.cand))
        if len(self.vx) * len(idx) <= BRUTE_FORCE_PAIRS:
            cj, _, dist, _, _ = nearest_segments_brute(*ends, idx, self.vx, self.vy)
        else:
            cj, _, dist, _, _ = nearest_segments(build_grid(*ends, idx), self.vx, self.vy)
        close = dist <= WOBBLE_JOINS * self.join_m
        pi = np.flatnonzero(close)
        cj, dist = cj[close], dist[close]
        self.road_dist[pi] = dist
        near = dist <= self.join_m
        pi, cj = pi[near], cj[near]
        t, px, py = _project(
            self.vx[pi], self.vy[pi], self.cax[cj], self.cay[cj], self.cbx[cj], self.cby[cj]
        )
        self.t_kind[pi] = 1
        self.t_seg[pi] = self.cand[cj]
        self.t_pos[pi] = t
        self.mx[pi], self.my[pi] = px, py

    def _same_road(self, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
        """Whether OSM segments s1 and s2 are one road here: same way, or sharing a node."""
        r = self.roads
        return (
            (r.way_id[s1] == r.way_id[s2])
            | (r.u[s1] == r.u[s2])
            | (r.u[s1] == r.v[s2])
            | (r.v[s1] == r.u[s2])
            | (r.v[s1] == r.v[s2])
        )

    def _drop_along_roads(self) -> None:
        """Rule 3: stretches between two landings on one road, and wobbles, are dropped."""
        a = self.edge_start
        b = a + 1
        both = (self.t_kind[a] == 1) & (self.t_kind[b] == 1)
        along = np.zeros(len(a), dtype=bool)
        along[both] = self._same_road(self.t_seg[a[both]], self.t_seg[b[both]])
        self.edge_kept &= ~along

        # wobbles: runs of free vertices between two landings on one road, all close to it
        landed = np.flatnonzero(self.t_kind == 1)
        if len(landed) < 2:
            return
        i, j = landed[:-1], landed[1:]
        run = (j - i > 1) & (self.vline[i] == self.vline[j])
        i, j = i[run], j[run]
        if len(i) == 0:
            return
        same = self._same_road(self.t_seg[i], self.t_seg[j])
        # farthest free vertex of each run from the roads (inf beyond 2 x join_m)
        close = self.road_dist <= WOBBLE_JOINS * self.join_m
        bad = np.concatenate([[0], np.cumsum(~close)])
        all_close = (bad[j] - bad[i + 1]) == 0
        edge_of_vertex = np.full(len(self.vx), -1, dtype=np.int64)
        edge_of_vertex[self.edge_start] = np.arange(len(self.edge_start))
        for s, e in zip(i[same & all_close], j[same & all_close], strict=True):
            self.edge_kept[edge_of_vertex[s:e]] = False

    # ---------------------------------------------------------------------------------------
    def _edge_lines(self, edges: np.ndarray) -> np.ndarray:
        a = self.edge_start[edges]
        coords = np.stack(
            [
                np.column_stack([self.mx[a], self.my[a]]),
                np.column_stack([self.mx[a + 1], self.my[a + 1]]),
            ],
            axis=1,
        )
        return shapely.linestrings(coords)

    def _community_among_themselves(self) -> None:
        """Rule 4: later community roads join, and drop their stretches along, earlier ones;
        crossings between kept community stretches are recorded for splitting."""
        self.comm_records: list[tuple[int, float, int]] = []  # (edge, t, partner key)
        self.comm_cross: list[tuple[int, float, int, float]] = []  # (edge a, t_a, edge b, t_b)
        kept = np.flatnonzero(self.edge_kept)
        if len(kept) == 0:
            return
        lines = self._edge_lines(kept)
        tree = shapely.STRtree(lines)
        eline = self.vline[self.edge_start]
        multi = len(self.community) > 1

        # (a) vertices near earlier community roads: free ones land there, the ones that
        # landed on an OSM road remember it (a stretch along both is dropped)
        vtx_pairs = {}
        near_line = np.full(len(self.vx), -1, dtype=np.int64)
        if multi:
            free = np.arange(len(self.vx))
            vi, ek = tree.query(
                shapely.points(self.vx[free], self.vy[free]),
                predicate="dwithin",
                distance=self.join_m,
            )
            v, e = free[vi], kept[ek]
            earlier = eline[e] < self.vline[v]
            v, e = v[earlier], e[earlier]
            vtx_pairs = _group_by(self.vline[v], v, e)

        # (b) crossings between kept community edges (self-crossings included)
        ea, eb = tree.query(lines, predicate="intersects")
        a, b = kept[ea], kept[eb]
        la, lb = eline[a], eline[b]
        sa, sb = self.edge_start[a], self.edge_start[b]
        # other lines: the earlier one is b; same line: not neighbours, each pair once
        ok = (lb < la) | ((lb == la) & (sb < sa - 1))
        a, b = a[ok], b[ok]
        cross_pairs = _group_by(eline[a], a, b)
        # the edges of each line are consecutive: their range, for the loop below
        line_first = np.searchsorted(eline, np.arange(len(self.community)), side="left")
        line_end = np.searchsorted(eline, np.arange(len(self.community)), side="right")

        for line in sorted(set(vtx_pairs) | set(cross_pairs)):
            if line in vtx_pairs:
                v, e = vtx_pairs[line]
                e_ok = self.edge_kept[e]
                v, e = v[e_ok], e[e_ok]
                if len(v):
                    s = self.edge_start[e]
                    t, px, py = _project(
                        self.vx[v],
                        self.vy[v],
                        self.mx[s],
                        self.my[s],
                        self.mx[s + 1],
                        self.my[s + 1],
                    )
                    d = np.hypot(px - self.vx[v], py - self.vy[v])
                    order = np.lexsort((e, d, v))
                    first = order[np.concatenate([[True], v[order][1:] != v[order][:-1]])]
                    v, e, t = v[first], e[first], t[first]
                    near_line[v] = eline[e]
                    free_v = self.t_kind[v] == 0
                    v, e, t = v[free_v], e[free_v], t[free_v]
                    self.t_kind[v] = 2
                    self.t_seg[v] = e
                    self.t_pos[v] = t
                    self.mx[v], self.my[v] = px[first][free_v], py[first][free_v]
                    # stretches of this line between two vertices on one earlier community road
                    mine = np.arange(line_first[line], line_end[line])
                    sa_ = self.edge_start[mine]
                    j0, j1 = near_line[sa_], near_line[sa_ + 1]
                    self.edge_kept[mine[(j0 >= 0) & (j0 == j1)]] = False
            if line in cross_pairs:
                a, b = cross_pairs[line]
                ok = self.edge_kept[a] & self.edge_kept[b]
                a, b = a[ok], b[ok]
                if len(a):
                    pa, pb = self.edge_start[a], self.edge_start[b]
                    ta, tb, hit = _intersect(
                        self.mx[pa], self.my[pa], self.mx[pa + 1], self.my[pa + 1],
                        self.mx[pb], self.my[pb], self.mx[pb + 1], self.my[pb + 1],
                    )  # fmt: skip
                    for k in np.flatnonzero(hit):
                        self.comm_cross.append((int(a[k]), float(ta[k]), int(b[k]), float(tb[k])))
        # a vertex moved onto a community edge after that edge crossed: geometry of an edge
        # changes only through its own vertices, which are decided before any later line, so
        # the crossings found above (with the moved positions of their lines) stay exact

    def _crossings_with_roads(self) -> None:
        """Rule 2: kept community stretches crossing or touching a road segment."""
        self.road_cross = (np.array([], np.int64),) * 2 + (np.array([]),) * 2
        kept = np.flatnonzero(self.edge_kept)
        if len(kept) == 0 or self.road_tree is None:
            return
        ei, cj = self.road_tree.query(self._edge_lines(kept), predicate="intersects")
        e = kept[ei]
        s = self.edge_start[e]
        te, tr, hit = _intersect(
            self.mx[s], self.my[s], self.mx[s + 1], self.my[s + 1],
            self.cax[cj], self.cay[cj], self.cbx[cj], self.cby[cj],
        )  # fmt: skip
        self.road_cross = (e[hit], self.cand[cj[hit]], te[hit], tr[hit])

    # ---------------------------------------------------------------------------------------
    def _assemble(self) -> CommunityJoin:
        """Nodes (merged within SAME_POINT_M) and segments of the joined roads."""
        roads = self.roads
        n_base = roads.n_nodes
        rx, ry = self.rx, self.ry
        kept = np.flatnonzero(self.edge_kept)
        nv = len(self.vx)

        # used vertices: ends of kept edges
        used = np.zeros(nv, dtype=bool)
        used[self.edge_start[kept]] = True
        used[self.edge_start[kept] + 1] = True
        # vertices that other vertices or crossings land on are split records of edges
        cross_e, cross_s, cross_te, cross_tr = self.road_cross

        # provisional ids: base nodes | road records | vertices | community records
        road_rec_seg = np.concatenate([self.t_seg[used & (self.t_kind == 1)], cross_s])
        road_rec_t = np.concatenate([self.t_pos[used & (self.t_kind == 1)], cross_tr])
        n_rr = len(road_rec_seg)
        rr_id = n_base + np.arange(n_rr)
        v_id = n_base + n_rr + np.arange(nv)
        landed_vertices = np.flatnonzero(used & (self.t_kind == 1))
        n_cross_r = len(cross_e)

        comm_v = np.flatnonzero(used & (self.t_kind == 2))
        cc = self.comm_cross
        # community records: vertices landing on edges, road crossings on edges, crossings
        # between community edges (one record on each edge)
        cr_edge = np.concatenate(
            [
                self.t_seg[comm_v],
                cross_e,
                np.array([c[0] for c in cc], np.int64),
                np.array([c[2] for c in cc], np.int64),
            ]
        ).astype(np.int64)
        cr_t = np.concatenate(
            [
                self.t_pos[comm_v],
                cross_te,
                np.array([c[1] for c in cc], float),
                np.array([c[3] for c in cc], float),
            ]
        )
        n_cr = len(cr_edge)
        cr_id = n_base + n_rr + nv + np.arange(n_cr)
        total = n_base + n_rr + nv + n_cr

        # positions of every provisional node
        px = np.empty(total)
        py = np.empty(total)
        px[:n_base], py[:n_base] = rx, ry
        ru, rv = roads.u[road_rec_seg], roads.v[road_rec_seg]
        px[rr_id] = rx[ru] + road_rec_t * (rx[rv] - rx[ru])
        py[rr_id] = ry[ru] + road_rec_t * (ry[rv] - ry[ru])
        px[v_id], py[v_id] = self.mx, self.my
        es = self.edge_start[cr_edge]
        px[cr_id] = self.mx[es] + cr_t * (self.mx[es + 1] - self.mx[es])
        py[cr_id] = self.my[es] + cr_t * (self.my[es + 1] - self.my[es])

        # unions: which provisional nodes are one node
        pairs_a: list[np.ndarray] = []
        pairs_b: list[np.ndarray] = []

        def union(a, b):
            pairs_a.append(np.asarray(a, np.int64))
            pairs_b.append(np.asarray(b, np.int64))

        # a vertex landed on a road is its road record
        union(v_id[landed_vertices], rr_id[: len(landed_vertices)])
        # a road crossing's record on the community edge is its road record
        n_lv = len(comm_v)
        union(cr_id[n_lv : n_lv + n_cross_r], rr_id[len(landed_vertices) :])
        # a vertex landed on a community edge is its record there
        union(v_id[comm_v], cr_id[:n_lv])
        # the two records of a crossing between community edges
        k = len(cc)
        union(cr_id[n_lv + n_cross_r : n_lv + n_cross_r + k], cr_id[n_lv + n_cross_r + k :])

        # records along each split road segment, with its two end nodes
        r_seg, r_a, r_b = _split_pairs(
            road_rec_seg, road_rec_t, rr_id, roads.u, roads.v, px, py, union
        )
        # records along each community edge that has some, with its two end vertices; the
        # other kept edges go straight from vertex to vertex
        on_kept = np.isin(cr_edge, kept)
        c_seg, c_a, c_b = _split_pairs(
            cr_edge[on_kept],
            cr_t[on_kept],
            cr_id[on_kept],
            v_id[self.edge_start],
            v_id[self.edge_start + 1],
            px,
            py,
            union,
        )

        # each set of provisional nodes becomes its smallest id (a base node when it holds one)
        node_of = _components(total, pairs_a, pairs_b)

        # road pieces: a segment whose records all fell on its end nodes stays whole
        pa, pb = node_of[r_a], node_of[r_b]
        real = pa != pb
        n_real = np.bincount(r_seg[real], minlength=roads.n_edges)
        split = np.zeros(roads.n_edges, dtype=bool)
        split[r_seg[real]] = True
        split &= n_real > 1
        take = real & split[r_seg]
        piece_u, piece_v, piece_base = pa[take], pb[take], r_seg[take]

        line_of_edge = self.vline[self.edge_start]
        has_rec = np.zeros(len(self.edge_start), dtype=bool)
        has_rec[c_seg] = True
        plain = kept[~has_rec[kept]]
        cu = np.concatenate([node_of[v_id[self.edge_start[plain]]], node_of[c_a]])
        cv = np.concatenate([node_of[v_id[self.edge_start[plain] + 1]], node_of[c_b]])
        cedge = np.concatenate([plain, c_seg]).astype(np.int64)
        cline = line_of_edge[cedge]
        keep_c = cu != cv
        # a stretch drawn exactly over another community road (collinear, between vertices
        # far from it) would repeat its segments: one copy of each node pair is enough
        lo, hi = np.minimum(cu, cv), np.maximum(cu, cv)
        key = lo * (int(hi.max(initial=0)) + 1) + hi
        first = np.zeros(len(key), dtype=bool)
        first[np.unique(np.where(keep_c, key, -1), return_index=True)[1]] = True
        keep_c &= first
        # in the order of the community roads and their vertices (stable ids for drawing)
        order = np.argsort(cedge[keep_c], kind="stable")
        cu, cv, cline = cu[keep_c][order], cv[keep_c][order], cline[keep_c][order]

        # nodes: the base ones, then every other root used by a segment
        used_new = np.unique(np.concatenate([piece_u, piece_v, cu, cv]))
        used_new = used_new[used_new >= n_base]
        new_index = np.full(total, -1, dtype=np.int64)
        new_index[:n_base] = np.arange(n_base)
        new_index[used_new] = n_base + np.arange(len(used_new))
        lon_new, lat_new = self.to_ll.transform(px[used_new], py[used_new])
        first_id = min(int(roads.node_id.min(initial=0)), 0) - 1
        new_ids = first_id - np.arange(len(used_new), dtype=np.int64)

        com = self.community
        codes = np.array([highway_code(c) for c in com["road_class"]], dtype=np.int16)
        masks = np.array([modes_mask(m) for m in com["modes"]], dtype=np.uint8)
        first_way = min(int(roads.way_id.min(initial=0)), 0) - 1
        way_of_line = first_way - np.arange(len(com), dtype=np.int64)

        kept_base = np.flatnonzero(~split)
        pb = piece_base.astype(np.int64)
        joined = RoadEdges(
            node_id=np.concatenate([roads.node_id, new_ids]),
            lon=np.concatenate([roads.lon, np.asarray(lon_new, float)]),
            lat=np.concatenate([roads.lat, np.asarray(lat_new, float)]),
            u=np.concatenate([roads.u[kept_base], new_index[piece_u], new_index[cu]]),
            v=np.concatenate([roads.v[kept_base], new_index[piece_v], new_index[cv]]),
            way_id=np.concatenate([roads.way_id[kept_base], roads.way_id[pb], way_of_line[cline]]),
            highway=np.concatenate([roads.highway[kept_base], roads.highway[pb], codes[cline]]),
            oneway=np.concatenate(
                [roads.oneway[kept_base], roads.oneway[pb], np.zeros(len(cu), np.int8)]
            ),
            modes=np.concatenate([roads.modes[kept_base], roads.modes[pb], masks[cline]]),
        )
        segment_base = np.concatenate([kept_base, pb, np.full(len(cu), -1)]).astype(np.int64)
        segment_road = np.concatenate([np.full(len(kept_base) + len(pb), -1), cline]).astype(
            np.int64
        )

        # for maps and reports
        self._note_all_along(cline)

        def draw():
            return (
                self._drawn_lines(joined, cline, segment_road),
                self._dropped_lines(),
                self._join_points(joined, n_base, segment_road),
            )

        return CommunityJoin(
            roads=joined,
            n_base_nodes=n_base,
            base_kept=~split,
            segment_base=segment_base,
            segment_road=segment_road,
            _draw=draw,
            notes=tuple(self.notes),
            crs=self.crs,
            join_m=self.join_m,
        )

    # ---------------------------------------------------------------------------------------
    def _drawn_lines(self, joined, cline, segment_road) -> gpd.GeoDataFrame:
        """The kept stretches of each community road (moved vertices), for maps."""
        com = self.community
        kept = np.flatnonzero(self.edge_kept)
        rows, geoms, lengths = self._runs(kept, self.mx, self.my)
        joins = self._joins_per_line(joined, segment_road)
        base = com.iloc[rows]
        gdf = gpd.GeoDataFrame(
            {
                "road_id": base.index.to_numpy(dtype=object),
                "road_class": base["road_class"].to_numpy(dtype=object),
                "name": base["name"].to_numpy(dtype=object),
                "added_by": base["added_by"].to_numpy(dtype=object),
                "length_m": lengths,
                "n_joins": [joins.get(int(r), 0) for r in rows],
            },
            geometry=geoms,
            crs=WGS84,
        )
        return gdf.astype({"road_id": "str", "road_class": "str", "name": "str", "added_by": "str"})

    def _runs(self, edges: np.ndarray, xs: np.ndarray, ys: np.ndarray):
        """Runs of consecutive ``edges`` as lines: ``(line rows, MultiLineStrings in lon/lat,
        lengths in m)``, one per community road that has any."""
        if len(edges) == 0:
            return np.array([], np.int64), np.array([], dtype=object), np.array([])
        line = self.vline[self.edge_start[edges]]
        new_run = np.concatenate([[True], (np.diff(edges) != 1) | (line[1:] != line[:-1])])
        run = np.cumsum(new_run) - 1
        first_edge = edges[new_run]
        n_edges = np.bincount(run)
        # vertices of a run: its first edge's start, then every edge's end
        starts = self.edge_start[first_edge]
        n_vtx = n_edges + 1
        vtx = np.repeat(starts, n_vtx) + (
            np.arange(n_vtx.sum()) - np.repeat(np.cumsum(n_vtx) - n_vtx, n_vtx)
        )
        lon, lat = self.to_ll.transform(xs[vtx], ys[vtx])
        runs = shapely.linestrings(
            np.column_stack([lon, lat]), indices=np.repeat(np.arange(len(starts)), n_vtx)
        )
        run_line = line[new_run]
        rows, owner = np.unique(run_line, return_inverse=True)
        multi = shapely.multilinestrings(runs, indices=owner)
        s = self.edge_start[edges]
        seg_len = np.hypot(xs[s + 1] - xs[s], ys[s + 1] - ys[s])
        lengths = np.bincount(np.searchsorted(rows, line), weights=seg_len, minlength=len(rows))
        return rows, multi, lengths

    @staticmethod
    def _joins_per_line(joined, segment_road) -> dict[int, int]:
        """How many nodes each community road shares with other roads (OSM or community).

        Only the community segments' nodes are looked at (a few, on a county's roads).
        """
        is_c = segment_road >= 0
        cu, cv, cr = joined.u[is_c], joined.v[is_c], segment_road[is_c]
        if len(cu) == 0:
            return {}
        on_osm = _osm_touch(joined, is_c)
        n_lines_all = int(cr.max()) + 1
        key = np.unique(np.concatenate([cu, cv]) * n_lines_all + np.concatenate([cr, cr]))
        pairs = np.column_stack([key // n_lines_all, key % n_lines_all])
        nodes, n_lines = np.unique(pairs[:, 0], return_counts=True)
        shared_node = np.zeros(joined.n_nodes, dtype=bool)
        shared_node[nodes[n_lines > 1]] = True
        shared_node |= on_osm
        shared = pairs[shared_node[pairs[:, 0]]]
        lines, counts = np.unique(shared[:, 1], return_counts=True)
        return dict(zip(lines.tolist(), counts.tolist(), strict=True))

    def _dropped_lines(self) -> gpd.GeoDataFrame:
        """The stretches left out, where the track was recorded (its own positions)."""
        rows, geoms, lengths = self._runs(np.flatnonzero(~self.edge_kept), self.vx, self.vy)
        return gpd.GeoDataFrame(
            {
                "road_id": pd.array(self.community.index.to_numpy()[rows], dtype="str"),
                "length_m": np.asarray(lengths, dtype=float),
            },
            geometry=gpd.GeoSeries(geoms, crs=WGS84),
            crs=WGS84,
        )

    def _join_points(self, joined, n_base, segment_road) -> gpd.GeoDataFrame:
        """Nodes where a community segment meets an OSM segment."""
        is_c = segment_road >= 0
        both = np.flatnonzero(_osm_touch(joined, is_c))
        # the community road of each join (the first segment touching it)
        owner = np.full(joined.n_nodes, -1, dtype=np.int64)
        cu, cv, cr = joined.u[is_c], joined.v[is_c], segment_road[is_c]
        owner[cv[::-1]] = cr[::-1]
        owner[cu[::-1]] = cr[::-1]
        ids = self.community.index.to_numpy()
        return gpd.GeoDataFrame(
            {"road_id": pd.array(ids[owner[both]] if len(both) else [], dtype="str")},
            geometry=shapely.points(joined.lon[both], joined.lat[both]),
            crs=WGS84,
        )

    def _note_all_along(self, cline) -> None:
        added = set(int(c) for c in np.unique(cline))
        idle = [i for i in range(len(self.community)) if i not in added]
        if idle:
            rows = self.community.iloc[idle]
            self.notes.append(
                Note("note.community.all_along", {"count": len(idle), "roads": _ids_text(rows)})
            )

    def _result_without_lines(self) -> CommunityJoin:
        r = self.roads
        return CommunityJoin(
            roads=r,
            n_base_nodes=r.n_nodes,
            base_kept=np.ones(r.n_edges, dtype=bool),
            segment_base=np.arange(r.n_edges, dtype=np.int64),
            segment_road=np.full(r.n_edges, -1, dtype=np.int64),
            notes=tuple(self.notes),
            crs=self.crs,
            join_m=self.join_m,
        )


# --------------------------------------------------------------------------------------------
# geometry helpers (numpy, vectorised over pairs)


def _project(x, y, ax, ay, bx, by):
    """Nearest point of segments a-b to points (x, y): ``(t, px, py)``, t in [0, 1]."""
    dx, dy = bx - ax, by - ay
    l2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(l2 > 0, ((x - ax) * dx + (y - ay) * dy) / l2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return t, ax + t * dx, ay + t * dy


def _intersect(ax, ay, bx, by, cx, cy, dx, dy):
    """Where segments a-b and c-d cross or touch: ``(t_ab, t_cd, hit)``.

    Parallel segments (overlapping ones included) are not crossings here: a stretch that
    overlaps a road runs along it (rule 3 and the landings of rule 1 handle it).
    """
    rx, ry = bx - ax, by - ay
    sx, sy = dx - cx, dy - cy
    denom = rx * sy - ry * sx
    qx, qy = cx - ax, cy - ay
    scale = np.hypot(rx, ry) * np.hypot(sx, sy)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (qx * sy - qy * sx) / denom
        u = (qx * ry - qy * rx) / denom
    eps = 1e-9
    hit = (np.abs(denom) > 1e-12 * np.maximum(scale, 1e-30)) & (t >= -eps) & (t <= 1 + eps)
    hit &= (u >= -eps) & (u <= 1 + eps)
    return np.clip(np.nan_to_num(t), 0, 1), np.clip(np.nan_to_num(u), 0, 1), hit


def _group_by(key: np.ndarray, *arrays: np.ndarray) -> dict[int, tuple[np.ndarray, ...]]:
    """``{key value: (arrays restricted to it)}``, by one sort (not a pass per value)."""
    if len(key) == 0:
        return {}
    order = np.argsort(key, kind="stable")
    k = key[order]
    cuts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1], [True]]))
    out = {}
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        out[int(k[a])] = tuple(arr[order[a:b]] for arr in arrays)
    return out


def _split_pairs(rec_seg, rec_t, rec_id, end_u, end_v, px, py, union):
    """The consecutive node pairs along each segment that has records on it.

    A segment (u, v) with records r1..rk (in order of their position t) gives the pairs
    (u, r1), (r1, r2) ... (rk, v), as provisional ids; neighbours within SAME_POINT_M are
    unioned (one node). Returns ``(segment, a, b)`` arrays, in order along each segment.
    """
    empty = np.array([], dtype=np.int64)
    if len(rec_seg) == 0:
        return empty, empty, empty
    order = np.lexsort((rec_t, rec_seg))
    seg, ids = rec_seg[order].astype(np.int64), rec_id[order].astype(np.int64)
    first = np.concatenate([[True], seg[1:] != seg[:-1]])
    last = np.concatenate([seg[1:] != seg[:-1], [True]])
    prev = np.where(first, end_u[seg], np.concatenate([[0], ids[:-1]]))
    # every record's pair with the one before it, and the last record's pair with v
    a = np.concatenate([prev, ids[last]])
    b = np.concatenate([ids, end_v[seg[last]]])
    s = np.concatenate([seg, seg[last]])
    rank = np.concatenate([np.arange(len(seg)), np.flatnonzero(last) + 0.5])
    o = np.lexsort((rank, s))
    a, b, s = a[o], b[o], s[o]
    close = np.hypot(px[b] - px[a], py[b] - py[a]) < SAME_POINT_M
    if close.any():
        union(a[close], b[close])
    return s, a, b


def _osm_touch(joined: RoadEdges, is_c: np.ndarray) -> np.ndarray:
    """Per node: True where a community segment and an OSM segment meet."""
    c_node = np.zeros(joined.n_nodes, dtype=bool)
    c_node[joined.u[is_c]] = True
    c_node[joined.v[is_c]] = True
    ou, ov = joined.u[~is_c], joined.v[~is_c]
    out = np.zeros(joined.n_nodes, dtype=bool)
    out[ou[c_node[ou]]] = True
    out[ov[c_node[ov]]] = True
    return out


def _components(total: int, pairs_a: list[np.ndarray], pairs_b: list[np.ndarray]) -> np.ndarray:
    """Per provisional node: the smallest id of its merged set (the union of the pairs)."""
    a = np.concatenate(pairs_a) if pairs_a else np.array([], np.int64)
    b = np.concatenate(pairs_b) if pairs_b else np.array([], np.int64)
    labels = np.arange(total)
    if len(a) == 0:
        return labels
    # only the ids in some pair can merge: label those (a few) and leave the rest alone
    ids, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = len(ids)
    graph = coo_matrix((np.ones(len(a)), (inv[: len(a)], inv[len(a) :])), shape=(k, k))
    _, lab = connected_components(graph.tocsr(), directed=False)
    # each merged set takes the id of one member (its smallest, see the caller's roots)
    first = np.full(k, total, dtype=np.int64)
    np.minimum.at(first, lab, ids)
    labels[ids] = first[lab]
    return labels


def _dedupe(nodes: np.ndarray) -> np.ndarray:
    """A node sequence without consecutive repeats."""
    if len(nodes) < 2:
        return nodes
    keep = np.concatenate([[True], nodes[1:] != nodes[:-1]])
    return nodes[keep]


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.array([], dtype=np.int64)


def _as_multi(geom: shapely.Geometry) -> shapely.MultiLineString:
    if geom.geom_type == "MultiLineString":
        return geom
    return shapely.MultiLineString([geom]) if not geom.is_empty else shapely.MultiLineString()


# --------------------------------------------------------------------------------------------
# what changed


def compare_villages(
    before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, kinds, *, min_change_m: float = 1.0
) -> pd.DataFrame:
    """The villages whose road distance to a service kind changed between two analyses.

    "What the community roads changed" (or a condition): both tables are
    :func:`mapping.gaps.compute_village_gaps` results (``analysis.villages``) on the same
    villages.

    Parameters
    ----------
    before, after
        Village tables of the two analyses.
    kinds
        The service kinds to compare.
    min_change_m
        Smaller changes are left out (projection round-off, a node moved by a split).

    Returns
    -------
    pandas.DataFrame
        One row per changed village and kind: ``village_id``, ``village_name``, ``kind``,
        ``dist_before_m``, ``dist_after_m``, ``change_m`` (after - before; NaN when one side
        is unreachable), ``flag_before``, ``flag_after``, ``sentence_zh``, ``sentence_en``;
        sorted by the largest change first.
    """
    rows = []
    for kind in kinds:
        d0 = before[f"dist_{kind}_m"]
        d1 = after[f"dist_{kind}_m"].reindex(d0.index)
        f0 = before[f"flag_{kind}"]
        f1 = after[f"flag_{kind}"].reindex(d0.index)
        reach0, reach1 = d0.notna(), d1.notna()
        changed = (reach0 != reach1) | ((d1 - d0).abs() >= min_change_m)
        for vid in d0.index[changed.to_numpy()]:
            a, b = d0[vid], d1[vid]
            name = before.at[vid, "village_name"]
            sentences = {lang: _change_sentence(name, kind, a, b, lang) for lang in ("zh", "en")}
            rows.append(
                {
                    "village_id": vid,
                    "village_name": name,
                    "kind": kind,
                    "dist_before_m": a,
                    "dist_after_m": b,
                    "change_m": b - a,
                    "flag_before": bool(f0[vid]),
                    "flag_after": bool(f1[vid]),
                    "sentence_zh": sentences["zh"],
                    "sentence_en": sentences["en"],
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "village_id",
            "village_name",
            "kind",
            "dist_before_m",
            "dist_after_m",
            "change_m",
            "flag_before",
            "flag_after",
            "sentence_zh",
            "sentence_en",
        ],
    )
    key = out["change_m"].abs().fillna(np.inf)
    return (
        out.assign(_k=key)
        .sort_values("_k", ascending=False)
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def _change_sentence(village, kind, before, after, lang) -> str:
    kind_name = i18n.t(f"kind.{kind}", lang)

    def km(m):
        return f"{m / 1000:.1f}"

    if pd.isna(before):
        return i18n.t("change.connected", lang, village=village, kind=kind_name, after=km(after))
    if pd.isna(after):
        return i18n.t("change.cut_off", lang, village=village, kind=kind_name, before=km(before))
    key = "change.shorter" if after < before else "change.longer"
    return i18n.t(
        key,
        lang,
        village=village,
        kind=kind_name,
        km=km(abs(after - before)),
        before=km(before),
        after=km(after),
    )


# --------------------------------------------------------------------------------------------
# an analysis with community roads added, without a rebuild


def network_with_join(net, base: RoadEdges, join: CommunityJoin, settings):
    """The routing network of ``join.roads``, patched from ``net`` (the network of ``base``).

    Equal in its answers to ``build_network(join.roads, settings, crs=net.crs)``; the old
    network's node indices stay valid (for :func:`mapping.roadupdate.update_analysis`).

    Returns
    -------
    (RoadNetwork, RoadChange)
    """
    from layers.roads import HIGHWAY_CLASSES, MODE_BITS
    from mapping.roadupdate import patch_network

    bit = MODE_BITS[net.mode]
    keep0 = ((base.modes & bit) != 0) & (base.u != base.v)
    old_of_base = np.flatnonzero(keep0)
    if len(old_of_base) != net.n_segments:
        raise ValueError("the network was not built from these roads for its travel mode")
    used0 = np.zeros(base.n_nodes, dtype=bool)
    used0[base.u[keep0]] = True
    used0[base.v[keep0]] = True
    base_to_old = np.where(used0, np.cumsum(used0) - 1, -1)
    if not np.array_equal(net.node_id, base.node_id[used0]):
        raise ValueError("the network was not built from these roads")
    oldseg_of_base = np.full(base.n_edges, -1, dtype=np.int64)
    oldseg_of_base[old_of_base] = np.arange(len(old_of_base))

    remove = oldseg_of_base[~join.base_kept]
    remove = remove[remove >= 0]

    roads = join.roads
    n_kept = int(join.base_kept.sum())
    extra = np.arange(n_kept, roads.n_edges)
    extra = extra[((roads.modes[extra] & bit) != 0) & (roads.u[extra] != roads.v[extra])]
    ju, jv = roads.u[extra], roads.v[extra]
    node_map = np.full(roads.n_nodes, -1, dtype=np.int64)
    node_map[: join.n_base_nodes] = base_to_old
    need = np.unique(np.concatenate([ju, jv]))
    need = need[node_map[need] < 0]
    node_map[need] = net.n_nodes + np.arange(len(need))
    nx_, ny_ = net.to_projected(roads.lon[need], roads.lat[need])
    x = np.concatenate([net.x, nx_])
    y = np.concatenate([net.y, ny_])
    u, v = node_map[ju], node_map[jv]
    length = np.hypot(x[v] - x[u], y[v] - y[u])
    speeds = settings.class_speeds_kmh()
    per_code = np.array([speeds[h] for h in HIGHWAY_CLASSES], dtype=float) / 3.6
    time_s = length / per_code[roads.highway[extra]]
    if net.mode == "walk":
        fwd = np.ones(len(extra), dtype=bool)
        bwd = fwd.copy()
    else:
        fwd = roads.oneway[extra] >= 0
        bwd = roads.oneway[extra] <= 0

    # pieces of split segments: which part of the old segment each covers
    base_seg = join.segment_base[extra]
    pieces_of = np.where(base_seg >= 0, oldseg_of_base[np.maximum(base_seg, 0)], -1)
    ok = pieces_of >= 0
    t0 = np.zeros(len(extra))
    t1 = np.ones(len(extra))
    if ok.any():
        s = pieces_of[ok]
        ax, ay = net.x[net.seg_u[s]], net.y[net.seg_u[s]]
        dx, dy = net.x[net.seg_v[s]] - ax, net.y[net.seg_v[s]] - ay
        l2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t0[ok] = np.where(l2 > 0, ((x[u[ok]] - ax) * dx + (y[u[ok]] - ay) * dy) / l2, 0)
            t1[ok] = np.where(l2 > 0, ((x[v[ok]] - ax) * dx + (y[v[ok]] - ay) * dy) / l2, 1)
    return patch_network(
        net,
        remove=remove,
        add={
            "u": u,
            "v": v,
            "len_m": length,
            "time_s": time_s,
            "fwd": fwd,
            "bwd": bwd,
            "highway": roads.highway[extra],
            "way_id": roads.way_id[extra],
        },
        new_nodes=(roads.node_id[need], nx_, ny_),
        pieces_of=pieces_of,
        pieces_t=(np.minimum(t0, t1), np.maximum(t0, t1)),
    )


def study_area(scenario) -> shapely.Geometry:
    """Where community roads may lie: the scenario's study area, or else the box of its
    roads grown by about 2 km (the box, not :meth:`Scenario.outline`'s convex hull, which
    takes most of a second on a county's 100,000 road nodes)."""
    if scenario.study_area is not None:
        return scenario.study_area
    r = scenario.roads
    if r.n_nodes == 0:
        return shapely.box(-180, -90, 180, 90)
    return shapely.box(r.lon.min(), r.lat.min(), r.lon.max(), r.lat.max()).buffer(0.02)


def add_community_roads(analysis, community: gpd.GeoDataFrame, join_m: float = JOIN_M):
    """The analysis with community roads added to its roads, updated rather than redone.

    The roads are joined into ``analysis.scenario.roads`` (which may hold community roads
    already: a later road joins earlier ones as rule 4 says), the network is patched and
    only what the new roads can change is computed again
    (:func:`mapping.roadupdate.update_analysis`).

    Returns
    -------
    (Analysis, CommunityJoin)
        The new analysis (its scenario holds the joined roads) and the join.
    """
    from mapping.roadupdate import update_analysis

    scenario = analysis.scenario
    join = join_community_roads(
        scenario.roads, community, join_m, crs=analysis.network.crs, area=study_area(scenario)
    )
    net, change = network_with_join(analysis.network, scenario.roads, join, analysis.settings)
    updated = update_analysis(analysis, net, change, scenario=scenario.replace(roads=join.roads))
    return updated, join
