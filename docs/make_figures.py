"""Draw the README's picture of how community roads join the roads.

``python docs/make_figures.py`` writes ``docs/community-join.png``. The picture is the real
join (:func:`mapping.community.join_community_roads`) of a hand-made example, so it shows what
the code does, not what we meant it to do.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pyproj  # noqa: E402
import shapely  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from layers.roads import MODE_BITS, RoadEdges  # noqa: E402
from layers.tracks import make_community_roads  # noqa: E402
from mapping.community import join_community_roads  # noqa: E402

UTM = "EPSG:32649"
X0, Y0 = 500_000.0, 4_600_000.0
_TO_LL = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
_TO_M = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
ALL = MODE_BITS["walk"] | MODE_BITS["motorbike"] | MODE_BITS["car"]


def ll(x: float, y: float) -> tuple[float, float]:
    lon, lat = _TO_LL.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def main() -> Path:
    # an OSM road along y = 0 and one up x = 1200
    nodes = {0: (0, 0), 1: (600, 0), 2: (1200, 0), 3: (1800, 0), 4: (1200, 600)}
    segs = [(0, 1, 1, "unclassified", 0, ALL), (1, 2, 1, "unclassified", 0, ALL),
            (2, 3, 1, "unclassified", 0, ALL), (2, 4, 2, "unclassified", 0, ALL)]  # fmt: skip
    roads = RoadEdges.from_lists({k: ll(*v) for k, v in nodes.items()}, segs)
    rng = np.random.default_rng(3)
    # a recorded track: 8 m off the road for 500 m (GPS noise), then away to a village
    along = [(x, 8 + rng.uniform(-4, 4)) for x in np.linspace(100, 600, 6)]
    away = [(700, 120), (800, 300), (780, 520), (650, 700)]
    # a drawn line that crosses the road up x = 1200, and ends 15 m from the main road
    cross = [(900, 450), (1500, 380), (1650, 15)]
    com = make_community_roads(
        [shapely.LineString([ll(*p) for p in along + away]),
         shapely.LineString([ll(*p) for p in cross])],
        name="社区道路",
    )  # fmt: skip
    join = join_community_roads(roads, com, 20.0, crs=UTM)

    fig = Figure(figsize=(8, 4.2), dpi=110)
    ax = fig.add_axes([0.02, 0.02, 0.96, 0.9])
    ax.set_aspect("equal")
    ax.axis("off")

    def xy(geom):
        out = []
        for part in shapely.get_parts(geom):
            x, y = _TO_M.transform(*np.asarray(part.coords).T)
            out.append((np.asarray(x) - X0, np.asarray(y) - Y0))
        return out

    for a, b, *_ in segs:
        (x0, y0), (x1, y1) = nodes[a], nodes[b]
        ax.plot([x0, x1], [y0, y1], color="#6b6b6b", lw=4, zorder=1)
    for line in com.geometry:
        for x, y in xy(line):
            ax.plot(x, y, color="#999999", lw=1, ls=":", zorder=2)
    for line in join.lines.geometry:
        for x, y in xy(line):
            ax.plot(x, y, color="#e66101", lw=3, zorder=3)
    for line in join.dropped.geometry:
        for x, y in xy(line):
            ax.plot(x, y, color="#e66101", lw=1.5, ls="--", alpha=0.6, zorder=3)
    for p in join.joins.geometry:
        (x,), (y,) = (np.atleast_1d(v) for v in _TO_M.transform(p.x, p.y))
        ax.scatter([x - X0], [y - Y0], s=60, c="white", edgecolors="#222222", zorder=4)
    texts = [
        ((120, -70), "① 沿已有道路的一段（GPS 噪声）不计 · along a road: dropped"),
        ((820, 560), "③ 终点离路远：到村的断头路 · far end: a dead end"),
        ((1230, 470), "② 与道路相交处连接 · crossing: joined"),
        ((1300, -70), "④ 离路 20 米以内：连到路上 · within 20 m: joined"),
    ]
    for (x, y), t in texts:
        ax.text(x, y, t, fontsize=8, fontfamily=["Noto Sans CJK SC", "DejaVu Sans"],
                va="center")  # fmt: skip
    ax.set_title("社区补充的道路如何连入路网 · How community roads join the roads",
                 fontsize=10, fontfamily=["Noto Sans CJK SC", "DejaVu Sans"])  # fmt: skip
    ax.set_xlim(-50, 2300)
    ax.set_ylim(-150, 760)
    out = Path(__file__).resolve().parent / "community-join.png"
    fig.savefig(out)
    return out


if __name__ == "__main__":
    print(main())
