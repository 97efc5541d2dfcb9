"""Village cards: one phone-sized picture per village, for WeChat.

A village committee reads the finding on a phone, in WeChat, which opens pictures and PDFs but
not a local ``.html`` file. A card is a portrait PNG 1080 pixels wide (what WeChat keeps
without shrinking it): the village's name, the sentence that says why it is flagged, the
numbers (households and children beyond the threshold, the road distance and the time), a small
sketch map with the village, its road route to the nearest service and that service, the
proposal that would close the gap if one was tried (before -> after), the date, the data
sources and the words "示意图" (a sketch map: public maps in China must not be taken for
surveyed maps, and a card shows no administrative border).

Every text on a card is at least :data:`MIN_TEXT_PX` pixels high at 1080 pixels wide, which
reads on a phone without zooming; ``tests/test_cards.py`` measures it. Cards are committee-safe
by default (no household name, id, phone or position: only counts); with full detail the
village's households are drawn as dots, still without names.

Names from files are text, never markup or mathtext (``parse_math=False`` everywhere).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pyproj
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from layers import i18n
from layers.files import atomic_path
from layers.roads import HIGHWAY_CLASSES
from mapping.gaps import km_text
from mapping.mapmodel import (
    ROAD_GROUP_OF,
    ROAD_GROUPS,
    SERVICE_COLORS,
    STATUS_COLORS,
    MapModel,
    household_bins,
    household_class,
    is_missing,
)
from mapping.printmap import (
    _PROPOSED_STAR,
    _STAR_COLOR,
    _STAR_EDGE,
    SCALEBAR_LENGTHS_M,
    SERVICE_MARKERS,
    _font_families,
    _missing_glyphs_allowed,
    _text_width_pt,
    _wrap,
    segments_patch,
)

matplotlib.use("Agg")  # cards are drawn off screen, on any computer

#: Card size in pixels (portrait, as a phone shows it) and the resolution it is drawn at.
CARD_WIDTH_PX = 1080
CARD_HEIGHT_PX = 1920
CARD_DPI = 100
#: The smallest text on a card, in pixels at 1080 px wide (about 13 px on a 390 px phone).
MIN_TEXT_PX = 28


@dataclass(frozen=True)
class Layout:
    """A page a card is drawn on: its size in layout pixels and the resolution of a pixel.

    Positions and text sizes are given in layout pixels; :data:`CARD` is the phone card
    (1080 x 1920 at 100 dpi), :data:`A4_PAGE` the same content on an A4 page of the report
    (1543 x 2182 layout pixels on 8.27 x 11.69 inches: a 28 px text prints at 10.8 pt).
    """

    width_px: float
    height_px: float
    dpi: float
    max_map_px: float
    bottom_px: float = 0.0  # kept free at the foot (a report page prints its number there)

    def pt(self, px: float) -> float:
        """Points for a size in layout pixels."""
        return px * 72.0 / self.dpi


CARD = Layout(CARD_WIDTH_PX, CARD_HEIGHT_PX, CARD_DPI, 760)
A4_PAGE = Layout(1543.0, 1543.0 * 297.0 / 210.0, 1543.0 / (210.0 / 25.4), 1000, 70.0)

#: Longest village name kept in a card's file name (characters); longer names are cut.
MAX_NAME_IN_FILE = 60

_ROUTE_COLOR = "#6a3d9a"
_INK = "#1b1b1b"
_GREY = "#555555"
_BACKGROUND = "#f7f5f0"

i18n.register(
    {
        "card.sketch": {"zh": "示意图", "en": "Sketch map"},
        "card.sketch_note": {
            "zh": "示意图，不表示行政边界",
            "en": "Sketch map; it does not show administrative borders",
        },
        "card.distance": {"zh": "{km} 公里", "en": "{km} km"},
        "card.distance_label": {
            "zh": "沿道路到最近的{kind}",
            "en": "by road to the nearest {kind}",
        },
        "card.time": {"zh": "约 {min} 分钟", "en": "about {min} min"},
        "card.time_label": {"zh": "{mode}出行", "en": "by {mode}"},
        "card.households": {"zh": "{n} 户", "en": "{n} households"},
        "card.households_label": {
            "zh": "超过 {limit} 公里的农户",
            "en": "households beyond {limit} km",
        },
        "card.children": {"zh": "{n} 名", "en": "{n} children"},
        "card.children_label": {"zh": "其中的儿童", "en": "children in them"},
        "card.unknown": {"zh": "—", "en": "—"},
        "card.unreachable": {"zh": "无法到达", "en": "unreachable"},
        "card.proposal": {
            "zh": "若建{name}：{before} → {after} 公里",
            "en": "With {name}: {before} → {after} km",
        },
        "card.proposal_closes": {
            "zh": "建成后本村不再超过 {limit} 公里的标准。",
            "en": "The village would then be within the {limit} km threshold.",
        },
        "card.proposal_helps": {
            "zh": "超标农户 {before} → {after} 户。",
            "en": "Households beyond: {before} → {after}.",
        },
        "card.sources": {"zh": "数据：{sources}", "en": "Data: {sources}"},
        "card.fictional": {"zh": "示例数据，虚构", "en": "demo data, fictional"},
        "card.footer": {
            "zh": "{date} · 社区服务缺口地图",
            "en": "{date} · Community service-gap mapper",
        },
        "card.route_legend": {"zh": "道路路线", "en": "route by road"},
    }
)


class _Card:
    """Lays text out from the top of the card down, in pixels."""

    def __init__(self, fig: Figure, families: list[str], layout: Layout) -> None:
        self.fig = fig
        self.families = families
        self.layout = layout
        self.W, self.H = layout.width_px, layout.height_px
        self.y = 0.0  # pixels from the top
        self.margin = 60.0

    def pt(self, px: float) -> float:
        return self.layout.pt(px)

    def width_pt(self, text: str, size_px: float) -> float:
        """The width of ``text`` at ``size_px``, in layout pixels."""
        return _text_width_pt(text, self.pt(size_px)) * self.layout.dpi / 72.0

    def text(self, x_px: float, y_px: float, s: str, size_px: float, **kw):
        return self.fig.text(
            x_px / self.W, 1 - y_px / self.H, s, fontsize=self.pt(size_px),
            fontfamily=self.families, parse_math=False, va="top", **kw,
        )  # fmt: skip

    def wrapped(
        self, s: str, size_px: float, *, max_lines: int, width_px: float | None = None, **kw
    ) -> None:
        """Text wrapped to the card's width (at most ``max_lines``, the last cut with …)."""
        width = self.pt(width_px or self.W - 2 * self.margin)
        lines = _wrap(s, width, self.pt(size_px)).split("\n")
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            last = lines[-1]
            while last and _text_width_pt(last + "…", self.pt(size_px)) > width:
                last = last[:-1]
            lines[-1] = last + "…"
        for line in lines:
            self.text(self.margin, self.y, line, size_px, **kw)
            self.y += size_px * 1.35
        self.y += size_px * 0.3


def _km(metres: object, limit_m: float | None = None) -> str:
    if is_missing(metres) or not math.isfinite(float(metres)):
        return ""
    return km_text(float(metres), limit_m)


def _facts(model: MapModel, vid) -> dict:
    v = model.analysis.villages.loc[vid]
    kind = model.kind
    return {
        "name": str(v["village_name"]),
        "status": model.status.loc[vid],
        "reason": str(v[f"reason_{kind}_{model.lang}"]),
        "dist_m": v[f"dist_{kind}_m"],
        "time_min": v.get(f"time_{kind}_min"),
        "n_beyond": int(v[f"n_hh_beyond_{kind}"]),
        "kids_beyond": v[f"n_children_beyond_{kind}"],
        "n_households": int(v["n_households"]),
        "nearest_id": v.get(f"nearest_{kind}_id"),
    }


def draw_village_card(
    model: MapModel, village_id, *, after: MapModel | None = None, layout: Layout = CARD
) -> Figure:
    """Draw one village's card (see the module docstring).

    Parameters
    ----------
    model
        What the maps show now (:func:`mapping.mapmodel.build_map_model`): its kind, language
        and privacy mode are the card's.
    village_id
        The village (an index value of ``model.analysis.villages``).
    after
        The same map with proposals applied (:func:`mapping.analysis.apply_proposals`): when
        it changes this village's distance, the card says so (before -> after) and draws the
        proposal and the route to it.
    layout
        :data:`CARD` (the phone card) or :data:`A4_PAGE` (a page of the report).

    Returns
    -------
    matplotlib.figure.Figure
        1080 x 1920 pixels at :data:`CARD_DPI` for a card; save it with :func:`write_card`.
    """
    lang = model.lang
    facts = _facts(model, village_id)
    later = _facts(after, village_id) if after is not None else None
    changed = later is not None and not _same_distance(facts["dist_m"], later["dist_m"])
    families = _font_families(lang, [facts["name"], facts["reason"], model.title])
    fig = Figure(
        figsize=(layout.width_px / layout.dpi, layout.height_px / layout.dpi), dpi=layout.dpi
    )
    fig.set_label(facts["name"])
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    card = _Card(fig, families, layout)

    # the top line: what this is, and that it is a sketch
    card.y = 40
    sketch = model.t("card.sketch")
    room = card.W - 2 * card.margin - card.width_pt(sketch, 30) - 30
    card.text(card.margin, card.y, _fit(card, model.title, 30, room), 30, color=_GREY)
    card.text(card.W - card.margin, card.y, sketch, 30, color=_GREY, ha="right",
              weight="bold")  # fmt: skip
    card.y = 100
    card.wrapped(facts["name"], 76, max_lines=2, weight="bold", color=_INK)

    # the status, in its colour
    status = facts["status"]
    label = model.t(f"map.status.{status}", limit=model.limit_text)
    width_px = card.width_pt(label, 36) + 40
    fig.add_artist(
        FancyBboxPatch(
            (card.margin / card.W, 1 - (card.y + 58) / card.H),
            width_px / card.W, 58 / card.H,
            boxstyle="round,pad=0,rounding_size=0.01", transform=fig.transFigure,
            facecolor=STATUS_COLORS[status], edgecolor="none",
        )
    )  # fmt: skip
    card.text(card.margin + 20, card.y + 9, label, 36, color="white", weight="bold")
    card.y += 90

    card.wrapped(facts["reason"], 36, max_lines=5, color=_INK)
    card.y += 10
    _numbers(card, model, facts)

    # the sketch map
    top = card.y + 10
    height = min(layout.max_map_px, card.H - layout.bottom_px - top - 190 - (170 if changed else 0))
    ax = fig.add_axes(
        [card.margin / card.W, 1 - (top + height) / card.H,
         (card.W - 2 * card.margin) / card.W, height / card.H],
        gid="card-map",
    )  # fmt: skip
    _inset(ax, card, model, village_id, after if changed else None)
    card.y = top + height + 30

    if changed:
        _proposal(card, model, after, facts, later)

    # sources and date at the foot
    sources = [s for s in model.analysis.scenario.sources if s and len(s) <= 60]
    if model.fictional:
        sources.append(model.t("card.fictional"))
    card.y = max(card.y, card.H - layout.bottom_px - 150)
    card.wrapped(model.t("card.sources", sources="；".join(sources) if lang == "zh"
                         else "; ".join(sources)), 28, max_lines=2, color=_GREY)  # fmt: skip
    card.text(card.margin, card.H - layout.bottom_px - 60, model.t("card.footer",
              date=model.made_on.isoformat()), 28, color=_GREY)  # fmt: skip
    return fig


def _same_distance(a: object, b: object) -> bool:
    if is_missing(a) and is_missing(b):
        return True
    if is_missing(a) or is_missing(b):
        return False
    return abs(float(a) - float(b)) < 0.5


def _numbers(card: _Card, model: MapModel, facts: dict) -> None:
    """Four numbers in two rows: distance, time; households and children beyond."""
    kind_name = model.kind_name
    dist = _km(facts["dist_m"], model.limit_m)
    minutes = facts["time_min"]
    cells = [
        (
            model.t("card.distance", km=dist) if dist else model.t("card.unreachable"),
            model.t("card.distance_label", kind=kind_name),
        ),
        (
            model.t("card.time", min=f"{float(minutes):.0f}")
            if not is_missing(minutes)
            else model.t("card.unknown"),
            model.t("card.time_label", mode=model.t(f"mode.{model.analysis.settings.mode}")),
        ),
        (
            model.t("card.households", n=facts["n_beyond"]),
            model.t("card.households_label", limit=model.limit_text),
        ),
        (
            model.t("card.children", n=int(facts["kids_beyond"]))
            if not is_missing(facts["kids_beyond"])
            else model.t("card.unknown"),
            model.t("card.children_label"),
        ),
    ]
    col_w = (card.W - 2 * card.margin) / 2
    for row in range(2):
        for col in range(2):
            value, label = cells[2 * row + col]
            x = card.margin + col * col_w
            card.text(x, card.y, _fit(card, value, 60, col_w - 20), 60, weight="bold", color=_INK)
            lines = _wrap(label, card.pt(col_w - 20), card.pt(28)).split("\n")
            if len(lines) > 2:
                lines = [lines[0], _fit(card, "".join(lines[1:]), 28, col_w - 20)]
            for k, line in enumerate(lines):
                card.text(x, card.y + 80 + 36 * k, line, 28, color=_GREY)
        card.y += 160


def _fit(card: _Card, text: str, size_px: float, width_px: float) -> str:
    """``text`` cut with … to fit ``width_px`` on one line."""
    width = card.pt(width_px)
    if _text_width_pt(text, card.pt(size_px)) <= width:
        return text
    while text and _text_width_pt(text + "…", card.pt(size_px)) > width:
        text = text[:-1]
    return text + "…"


def _proposal(card: _Card, model: MapModel, after: MapModel, facts: dict, later: dict) -> None:
    proposed = after.analysis.services
    name = None
    if not is_missing(later["nearest_id"]) and str(later["nearest_id"]) in set(
        proposed.index.astype(str)
    ):
        name = str(proposed.loc[str(later["nearest_id"]), "name"])
    name = name or model.t(f"kind.{model.kind}")
    before = _km(facts["dist_m"], model.limit_m) or model.t("card.unreachable")
    now = _km(later["dist_m"], model.limit_m) or model.t("card.unreachable")
    card.wrapped(
        model.t("card.proposal", name=name, before=before, after=now), 40, max_lines=2,
        weight="bold", color=_ROUTE_COLOR,
    )  # fmt: skip
    if later["status"] != "flag" and facts["status"] == "flag":
        card.wrapped(model.t("card.proposal_closes", limit=model.limit_text), 32, max_lines=2)
    elif later["n_beyond"] != facts["n_beyond"]:
        card.wrapped(
            model.t("card.proposal_helps", before=facts["n_beyond"], after=later["n_beyond"]),
            32,
            max_lines=2,
        )


def _inset(ax, card: _Card, model: MapModel, vid, after: MapModel | None) -> None:
    """The sketch map: roads around, the village, its route and the service it leads to."""
    shown = after or model
    analysis = shown.analysis
    net = analysis.network
    crs = pyproj.CRS.from_user_input(net.crs)
    ax.set_facecolor(_BACKGROUND)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#999999")
    village = analysis.villages.loc[vid]
    vx, vy = net.project_points(analysis.villages.loc[[vid]])
    routes = shown.village_routes()
    route = routes[routes["from_id"] == str(vid)]
    pts = [(float(vx[0]), float(vy[0]))]
    route_xy = old_xy = None
    if len(route):
        route_xy = np.asarray(route.to_crs(crs).geometry.iloc[0].coords)
        pts.extend(map(tuple, route_xy))
    if after is not None:  # the way the village goes today, to compare
        old = model.village_routes()
        old = old[old["from_id"] == str(vid)]
        if len(old):
            old_xy = np.asarray(old.to_crs(crs).geometry.iloc[0].coords)
            pts.extend(map(tuple, old_xy))
    boundary = village["boundary"]
    if isinstance(boundary, shapely.Geometry) and not boundary.is_empty:
        import geopandas as gpd

        b = gpd.GeoSeries([boundary], crs=4326).to_crs(crs).iloc[0]
        x0, y0, x1, y1 = b.bounds
        pts += [(x0, y0), (x1, y1)]
    xy = np.array(pts)
    box = _box(xy, ax)
    xmin, ymin, xmax, ymax = box
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal", adjustable="box")
    ax.set_autoscale_on(False)

    # roads inside the box, by style group
    u, v = net.seg_u, net.seg_v
    sx0, sx1 = net.x[u], net.x[v]
    sy0, sy1 = net.y[u], net.y[v]
    inside = (
        (np.maximum(sx0, sx1) >= xmin) & (np.minimum(sx0, sx1) <= xmax)
        & (np.maximum(sy0, sy1) >= ymin) & (np.minimum(sy0, sy1) <= ymax)
    )  # fmt: skip
    groups = np.array([ROAD_GROUP_OF.get(h, "path") for h in HIGHWAY_CLASSES], dtype=object)
    seg_group = groups[net.seg_highway]
    for group, (color, width, dash) in ROAD_GROUPS.items():
        sel = inside & (seg_group == group)
        if not sel.any():
            continue
        segs = np.stack(
            [np.column_stack([sx0[sel], sy0[sel]]), np.column_stack([sx1[sel], sy1[sel]])], axis=1
        )
        ax.add_patch(
            segments_patch(
                segs, edgecolor=color, linewidth=width * 0.9,
                linestyle=(0, (4, 2)) if dash else "solid", zorder=2,
            )
        )  # fmt: skip

    if old_xy is not None:
        ax.plot(old_xy[:, 0], old_xy[:, 1], color="#777777", lw=4, ls=(0, (3, 2)), zorder=2.9,
                gid="card-route-before")  # fmt: skip
    if route_xy is not None:
        ax.plot(route_xy[:, 0], route_xy[:, 1], color="white", lw=11, zorder=3,
                solid_capstyle="round")  # fmt: skip
        ax.plot(route_xy[:, 0], route_xy[:, 1], color=_ROUTE_COLOR, lw=6.5, zorder=3.1,
                solid_capstyle="round", gid="card-route")  # fmt: skip

    # the village's households (full detail, or moved in displaced mode): dots, no names
    hh = shown.households
    if hh is not None and len(hh) and "village_name" in hh:
        mine = hh[hh["village_name"].astype(object) == village["village_name"]]
        if len(mine):
            hx, hy = net.project_points(mine)
            colors = {k: c for k, c, _ in household_bins(model.lang)}
            if f"dist_{model.kind}_m" in mine:
                classes = [household_class(d) for d in mine[f"dist_{model.kind}_m"]]
            else:
                classes = [
                    "u" if is_missing(c) else str(int(c))
                    for c in mine[f"dist_{model.kind}_class"].astype(object)
                ]
            ax.scatter(hx, hy, s=60, c=[colors[c] for c in classes], edgecolors="#333333",
                       linewidths=0.6, zorder=4, gid="card-households")  # fmt: skip

    # the service the route leads to (and any proposal in view)
    svc = analysis.services
    sxy = np.column_stack(net.project_points(svc)) if len(svc) else np.empty((0, 2))
    in_box = (
        (sxy[:, 0] >= xmin) & (sxy[:, 0] <= xmax) & (sxy[:, 1] >= ymin) & (sxy[:, 1] <= ymax)
        if len(sxy)
        else np.zeros(0, dtype=bool)
    )
    kinds = svc["kind"].to_numpy() if len(svc) else np.array([])
    for j in np.flatnonzero(in_box & (kinds == model.kind)):
        proposal = bool(shown.proposed[j])
        color = SERVICE_COLORS[model.kind]
        ax.scatter(
            [sxy[j, 0]], [sxy[j, 1]], marker=SERVICE_MARKERS[model.kind], s=900 if proposal else 700,
            facecolors=[color] if not proposal else "none", edgecolors=color if proposal else "white",
            linewidths=3 if proposal else 1.5, linestyles="--" if proposal else "solid", zorder=5,
        )  # fmt: skip
        if proposal:
            ax.scatter([sxy[j, 0]], [sxy[j, 1]], marker=_PROPOSED_STAR, s=900, c=_STAR_COLOR,
                       edgecolors=_STAR_EDGE, linewidths=1, zorder=5.1)  # fmt: skip
    if len(route):
        j = np.flatnonzero(svc.index.astype(str) == route["service_id"].iloc[0])
        if len(j):
            card.fig.canvas  # noqa: B018 (the canvas measures the labels)
            name = _fit(card, str(svc["name"].iloc[j[0]]), 30, 420)
            ax.annotate(
                name, (sxy[j[0], 0], sxy[j[0], 1]), xytext=(0, -32), textcoords="offset points",
                ha="center", va="top", fontsize=card.pt(30), fontfamily=card.families,
                annotation_clip=False, parse_math=False, color=_INK, zorder=6,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
            )  # fmt: skip
    ax.scatter([vx[0]], [vy[0]], s=700, c=STATUS_COLORS[model.status.loc[vid]],
               edgecolors=_INK, linewidths=3, zorder=7, gid="card-village")  # fmt: skip
    ax.annotate(
        _fit(card, str(village["village_name"]), 34, 460), (vx[0], vy[0]), xytext=(0, 26),
        textcoords="offset points", ha="center", va="bottom", fontsize=card.pt(34), weight="bold",
        fontfamily=card.families, parse_math=False, color=_INK, zorder=8,
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
    )  # fmt: skip
    _scalebar(ax, card, model.lang)
    ax.text(0.98, 0.98, model.t("card.sketch_note"), transform=ax.transAxes, ha="right",
            va="top", fontsize=card.pt(28), fontfamily=card.families, parse_math=False,
            color=_GREY, zorder=9,
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "none", "alpha": 0.8})  # fmt: skip


def _box(xy: np.ndarray, ax) -> tuple[float, float, float, float]:
    """A box around the points with a margin, in the axes' aspect ratio, at least 2 km wide."""
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bbox = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    aspect = (bbox.height * fig_h) / (bbox.width * fig_w)
    w = max((x1 - x0) * 1.3, 2000.0)
    h = max((y1 - y0) * 1.45, 2000.0 * aspect)
    if h / w > aspect:
        w = h / aspect
    else:
        h = w * aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _scalebar(ax, card: _Card, lang: str) -> None:
    (xmin, xmax), (ymin, ymax) = ax.get_xlim(), ax.get_ylim()
    fitting = [s for s in SCALEBAR_LENGTHS_M if s <= (xmax - xmin) / 3]
    length = fitting[-1] if fitting else SCALEBAR_LENGTHS_M[0]
    x0 = xmin + (xmax - xmin) * 0.05
    y0 = ymax - (ymax - ymin) * 0.09  # top left: labels of places hang below their symbols
    h = (ymax - ymin) * 0.012
    ax.add_patch(Rectangle((x0, y0), length, h, facecolor=_INK, edgecolor="white", lw=1,
                           zorder=9, gid="card-scalebar"))  # fmt: skip
    label = (
        i18n.t("print.scale_m", lang, n=f"{length:g}")
        if length < 1000
        else i18n.t("map.popup.km", lang, km=f"{length / 1000:g}")
    )
    ax.text(x0, y0 + 2.5 * h, label, fontsize=card.pt(30), fontfamily=card.families,
            parse_math=False, zorder=9, color=_INK,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})  # fmt: skip


# --------------------------------------------------------------------------------------------
# Files

#: Characters Windows does not allow in file names, and the names it reserves.
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}  # fmt: skip


def card_file_name(village_name: str, village_id: object, taken: set[str] | None = None) -> str:
    """A file name for a village's card that works on Windows, macOS and Linux.

    The village name comes first (people find their village by it), characters no file system
    allows become ``_``, a long name is cut, and the village id follows when two villages
    share a name (``taken``: names already used, compared without case, as Windows does).
    """
    name = unicodedata.normalize("NFC", str(village_name))
    name = _FORBIDDEN.sub("_", name)
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cf", "Cc"))
    name = name.strip(" .")[:MAX_NAME_IN_FILE].strip(" .") or "village"
    if name.upper().split(".")[0] in _RESERVED:
        name = f"_{name}"
    out = f"{name}.png"
    if taken is not None:
        if out.casefold() in taken:
            safe_id = _FORBIDDEN.sub("_", str(village_id))[:40]
            out = f"{name}-{safe_id}.png"
            n = 2
            while out.casefold() in taken:
                out = f"{name}-{safe_id}-{n}.png"
                n += 1
        taken.add(out.casefold())
    return out


def write_card(fig: Figure, path: str | Path) -> Path:
    """Save a card as PNG (1080 px wide), all-or-nothing."""
    from PIL import Image

    path = Path(path)
    with _missing_glyphs_allowed():
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    # RGB at zlib level 1: the card is opaque, and level 6 (matplotlib's) took longer than
    # drawing the card for a file only 7 % smaller
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG", compress_level=1)
    return path


def cards_for(model: MapModel, which: str = "flagged") -> list:
    """The villages to make cards for: the flagged ones (farthest first), or ``all``."""
    v = model.analysis.villages
    if which == "all":
        return list(v.index)
    flagged = v[v[f"flag_{model.kind}"].astype(bool)]
    order = flagged[f"dist_{model.kind}_m"].fillna(np.inf).sort_values(ascending=False)
    return list(order.index)


def write_cards(
    model: MapModel,
    folder: str | Path,
    *,
    which: str | Sequence = "flagged",
    after: MapModel | None = None,
    progress=None,
) -> list[Path]:
    """Write a card for each village of ``which`` into ``folder`` (see :func:`cards_for`).

    ``which`` may also be a list of village ids. Returns the written paths, in order.
    """
    import matplotlib.pyplot as plt

    folder = Path(folder)
    ids = cards_for(model, which) if isinstance(which, str) else list(which)
    taken: set[str] = set()
    written = []
    for i, vid in enumerate(ids):
        name = str(model.analysis.villages.at[vid, "village_name"])
        fig = draw_village_card(model, vid, after=after)
        try:
            written.append(write_card(fig, folder / card_file_name(name, vid, taken)))
        finally:
            plt.close(fig)
        if progress is not None:
            progress(i + 1, len(ids))
    return written
