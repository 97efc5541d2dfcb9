"""Road edges as plain arrays: the contract between the OSM readers and the routing network.

A :class:`RoadEdges` holds every road *segment* (two consecutive nodes of an OSM highway way)
that at least one travel mode may use, in lon/lat (EPSG:4326). Readers fill it; the routing
network (:mod:`mapping.network`) projects it, drops the segments a mode may not use, and turns
it into a sparse graph.

Arrays (``N`` nodes, ``E`` segments):

==============  ===========  ===================================================================
array           dtype        meaning
==============  ===========  ===================================================================
``node_id``     int64[N]     OSM node id (unique)
``lon, lat``    float64[N]   node position, degrees, WGS84
``u, v``        int64[E]     indices into the node arrays, in the way's drawing direction
``way_id``      int64[E]     OSM way id of the segment
``highway``     int16[E]     index into :data:`HIGHWAY_CLASSES` (unknown values: ``road``)
``oneway``      int8[E]      for vehicles: 0 both ways, 1 only u->v, -1 only v->u
``modes``       uint8[E]     bit mask of :data:`MODE_BITS`: which modes may use the segment
==============  ===========  ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Travel modes. Walking ignores one-way restrictions; motorbike and car respect them.
MODES = ("walk", "motorbike", "car")
MODE_BITS = {"walk": 1, "motorbike": 2, "car": 4}

#: OSM ``highway`` values we keep, in a fixed order (the codes in ``RoadEdges.highway``).
HIGHWAY_CLASSES = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "track",
    "road",
    "busway",
    "pedestrian",
    "footway",
    "path",
    "steps",
    "bridleway",
    "cycleway",
    "corridor",
    "elevator",
    "escalator",
    "sidewalk",
    "crossing",
    "other",
)
HIGHWAY_CODE = {name: i for i, name in enumerate(HIGHWAY_CLASSES)}


def highway_code(value: str) -> int:
    """The code of an OSM ``highway`` value (``other`` for values we do not list)."""
    return HIGHWAY_CODE.get(value, HIGHWAY_CODE["other"])


@dataclass(frozen=True)
class RoadEdges:
    """Road segments as arrays (see the module docstring for the fields)."""

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    way_id: np.ndarray
    highway: np.ndarray
    oneway: np.ndarray
    modes: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.node_id)
        if not (len(self.lon) == len(self.lat) == n):
            raise TypeError("node arrays differ in length")
        e = len(self.u)
        for name in ("v", "way_id", "highway", "oneway", "modes"):
            if len(getattr(self, name)) != e:
                raise TypeError(f"edge array {name} has length {len(getattr(self, name))}, not {e}")
        if e and (min(self.u.min(), self.v.min()) < 0 or max(self.u.max(), self.v.max()) >= n):
            raise TypeError("edge endpoints index outside the node arrays")

    @property
    def n_nodes(self) -> int:
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        return len(self.u)

    @classmethod
    def from_lists(
        cls,
        nodes: dict[int, tuple[float, float]],
        segments: list[tuple[int, int, int, str, int, int]],
    ) -> RoadEdges:
        """Build from ``{node_id: (lon, lat)}`` and ``(u_id, v_id, way_id, highway, oneway,
        modes)`` tuples -- handy for small hand-built networks in tests and the demo."""
        ids = np.array(sorted(nodes), dtype=np.int64)
        pos = {nid: i for i, nid in enumerate(ids)}
        lon = np.array([nodes[i][0] for i in ids], dtype=np.float64)
        lat = np.array([nodes[i][1] for i in ids], dtype=np.float64)
        seg = list(segments)
        return cls(
            node_id=ids,
            lon=lon,
            lat=lat,
            u=np.array([pos[s[0]] for s in seg], dtype=np.int64),
            v=np.array([pos[s[1]] for s in seg], dtype=np.int64),
            way_id=np.array([s[2] for s in seg], dtype=np.int64),
            highway=np.array([highway_code(s[3]) for s in seg], dtype=np.int16),
            oneway=np.array([s[4] for s in seg], dtype=np.int8),
            modes=np.array([s[5] for s in seg], dtype=np.uint8),
        )

    def subset(self, keep: np.ndarray) -> RoadEdges:
        """The segments where ``keep`` is true, with unused nodes dropped."""
        u, v = self.u[keep], self.v[keep]
        used = np.zeros(self.n_nodes, dtype=bool)
        used[u] = True
        used[v] = True
        new_index = np.cumsum(used) - 1
        return RoadEdges(
            node_id=self.node_id[used],
            lon=self.lon[used],
            lat=self.lat[used],
            u=new_index[u],
            v=new_index[v],
            way_id=self.way_id[keep],
            highway=self.highway[keep],
            oneway=self.oneway[keep],
            modes=self.modes[keep],
        )
