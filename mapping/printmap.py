"""A printable map of an analysis (A4 or A3, PNG or PDF), drawn with matplotlib.

:func:`draw_print_map` draws what the interactive map (:mod:`mapping.maps`) shows -- roads,
the study area, village boundaries and points coloured by their gap, services (proposals as a
pale dashed symbol with a gold star), optionally service areas and households (in ``full``
privacy mode where they are, in ``displaced`` mode moved at random) -- on a page of exact paper
size, with a title, a legend, the list of villages beyond the threshold, a scale bar, a north
arrow and the notes a printed map needs (OpenStreetMap attribution, "demo data is fictional",
"for the team's own use", "household positions are moved"). :func:`write_print_map` saves it
as PNG or PDF.

The map is drawn in the road network's projected CRS (a local UTM zone, metres), at a round
scale (1:N with N rounded up to two significant figures) that is true when the page is printed
at its paper size; the scale bar is true at any size. UTM's scale error inside a zone is below
0.1 %, far below what a printed map shows.

Privacy follows :func:`mapping.maps.draw_map`: in ``committee`` mode no household position is
drawn, and households do not even set the map's extent; ``displaced`` mode draws every
household 300-600 m from where it is (:func:`mapping.privacy.displaced_households`), says so on
the page, and does not let households set the extent either; ``full`` mode draws them where
they are and says on the page that it is for the team's own use.

No pyplot: every figure is a :class:`matplotlib.figure.Figure` of its own, so nothing leaks
between calls (or between the app's users), and no global setting (rcParams) is changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from matplotlib import font_manager, patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Polygon, Rectangle
from matplotlib.path import Path as MplPath

from layers import i18n
from layers.errors import InputError, SettingsError
from layers.files import atomic_path
from layers.roads import HIGHWAY_CLASSES
from layers.services import SERVICE_KINDS
from mapping.export import road_lines
from mapping.gaps import km_text
from mapping.mapmodel import (
    CLOSED_COLOR,
    COMMUNITY_COLOR,
    OSM_ATTRIBUTION,
    ROAD_GROUP_OF,
    ROAD_GROUPS,
    SERVICE_COLORS,
    SLOWED_COLOR,
    STATUS_COLORS,
    MapModel,
    build_map_model,
    displaced_note,
)
from mapping.mapmodel import area_color as _area_color
from mapping.mapmodel import area_label as _area_label
from mapping.mapmodel import household_bins as _household_bins
from mapping.mapmodel import household_class as _household_class
from mapping.mapmodel import limit_km as _limit_km

if TYPE_CHECKING:
    from mapping.analysis import Analysis

#: Paper sizes in millimetres, (long side, short side).
PAPER_SIZES_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
ORIENTATIONS = ("landscape", "portrait")

#: Output formats of :func:`write_print_map`, by file suffix.
PRINT_FORMATS = {".png": "png", ".pdf": "pdf"}

#: Chinese-capable font families, best first: Noto Sans CJK (Debian's ``fonts-noto-cjk``, also
#: installed in CI), Adobe's identical Source Han Sans, then what Linux desktops, Windows and
#: macOS ship. The Japanese/Traditional faces come last: they cover every character but draw
#: some of them the way Japan or Taiwan writes them.
CJK_FONT_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Hiragino Sans GB",
    "STHeiti",
    "Droid Sans Fallback",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Source Han Sans",
    "Arial Unicode MS",
)
# Font files that may hold one of the families above: matplotlib's font cache is built once,
# so a font installed after that (the usual "apt install fonts-noto-cjk" after pip install)
# is only found by looking at the files again.
_CJK_FILE = re.compile(
    r"notosanscjk|notosanssc|sourcehansans|wqy|msyh|simhei|pingfang|stheiti|hiragino"
    r"|droidsansfallback|arialuni",
    re.IGNORECASE,
)
_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
_LATIN_FONT = "DejaVu Sans"  # matplotlib's own font: always there

# A house for kindergartens (as on the interactive map), a square for schools, a diamond for
# childcare centres: told apart in black-and-white copies too.
_HOUSE = MplPath(
    [(0.0, 1.0), (1.0, 0.1), (0.65, 0.1), (0.65, -1.0), (-0.65, -1.0), (-0.65, 0.1), (-1.0, 0.1),
     (0.0, 1.0)],
    [MplPath.MOVETO] + [MplPath.LINETO] * 6 + [MplPath.CLOSEPOLY],
)  # fmt: skip
SERVICE_MARKERS = {"kindergarten": _HOUSE, "school": "s", "childcare": "D"}


def _star_path(cx: float, cy: float, outer: float, inner: float) -> MplPath:
    angles = np.pi / 2 - np.arange(10) * np.pi / 5
    radius = np.where(np.arange(10) % 2 == 0, outer, inner)
    xy = np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
    return MplPath(
        np.vstack([xy, xy[:1]]), [MplPath.MOVETO] + [MplPath.LINETO] * 9 + [MplPath.CLOSEPOLY]
    )


# A proposed service: its kind's symbol, pale with a dashed edge, and this gold star at the
# symbol's upper right. Markers are scaled by their largest coordinate, 1 for the house and
# the star alike, so drawn at the same size the star sits on the symbol's corner.
_PROPOSED_STAR = _star_path(0.55, 0.55, 0.45, 0.19)
_STAR_COLOR, _STAR_EDGE = "#ffd700", "#5a4500"

# Road line widths on paper (points); colours and dashes come from the interactive map.
_ROAD_WIDTH_PT = {
    "major": 1.7,
    "primary": 1.5,
    "secondary": 1.2,
    "tertiary": 1.0,
    "minor": 0.6,
    "service": 0.4,
    "track": 0.7,
    "path": 0.4,
}
_STUDY_AREA_COLOR = "#3f007d"
_BACKGROUND = "#f7f5f0"

#: Scale bar lengths to choose from (metres); the bar takes at most a quarter of the map width.
SCALEBAR_LENGTHS_M = (
    100.0,
    200.0,
    500.0,
    1_000.0,
    2_000.0,
    5_000.0,
    10_000.0,
    20_000.0,
    50_000.0,
    100_000.0,
    200_000.0,
)

#: How far out (multiples of the first distance) a flagged village's label may move, with a
#: leader line, to find room; no label ever covers another.
_LABEL_RINGS = (1.0, 2.2, 3.6, 5.2, 7.0)

#: ``gid`` of the artists a test or a caller may want to find in the figure.
GID_SCALEBAR = "scalebar"  # Rectangle: its width in data units (metres) is the bar's length
GID_SCALEBAR_LABEL = "scalebar-label"
GID_SCALE_RATIO = "scale-ratio"  # "1:620 000 ..."
GID_HOUSEHOLDS = "households"  # exact (full) or moved (displaced) positions
GID_FULL_BANNER = "full-banner"
GID_ATTRIBUTION = "attribution"
GID_NORTH = "north-arrow"
GID_MAP = "map"  # the map axes

i18n.register(
    {
        "print.subtitle": {
            "zh": "{kind}：沿道路距离，标准 {limit} 公里 · 出行方式：{mode}",
            "en": "{kind}: distance by road, threshold {limit} km · travel mode: {mode}",
        },
        "print.made_on": {"zh": "制图日期：{date}", "en": "Made on {date}"},
        "print.legend.study_area": {"zh": "研究区范围", "en": "Study area"},
        "print.committee_note": {
            "zh": "为保护隐私，图上不显示住户位置；住户只按村汇总。",
            "en": "To protect privacy, households are not shown; they count only in the "
            "village totals.",
        },
        "print.gap_list": {
            "zh": "超过标准的村庄（{n} 个）",
            "en": "Villages beyond the threshold ({n})",
        },
        "print.gap_none": {
            "zh": "没有村庄超过 {limit} 公里的标准。",
            "en": "No village is beyond the {limit} km threshold.",
        },
        "print.gap_more": {"zh": "……另有 {n} 个村庄", "en": "… and {n} more villages"},
        "print.unreachable": {"zh": "无法到达", "en": "unreachable"},
        "print.scale": {
            "zh": "比例尺 1:{denominator}（按 {paper} 原大打印）",
            "en": "Scale 1:{denominator} (printed at {paper})",
        },
        "print.scale_m": {"zh": "{n} 米", "en": "{n} m"},
        "print.north": {"zh": "北", "en": "N"},
        "print.crs": {"zh": "投影：{crs}（单位：米）", "en": "Projection: {crs} (metres)"},
        "error.print.no_cjk_font": {
            "zh": "找不到能显示中文的字体，地图上的汉字会变成方框，因此没有制图。"
            "请安装中文字体：Debian/Ubuntu 上运行 sudo apt install fonts-noto-cjk；"
            "Windows 和 macOS 自带的中文字体（微软雅黑、苹方等）可以直接使用。"
            "安装后请重新启动本程序。（需要中文的文字：{sample}）",
            "en": "No font that can show Chinese was found, so the map was not drawn (its "
            "Chinese text would print as boxes). Install a Chinese font: on Debian/Ubuntu run "
            "sudo apt install fonts-noto-cjk; on Windows and macOS the system fonts (Microsoft "
            "YaHei, PingFang...) work as they are. Then restart the program. (Text that needs "
            "Chinese: {sample})",
        },
        "error.print.paper": {
            "zh": "未知的纸张大小“{paper}”。可选：{choices}。",
            "en": "Unknown paper size '{paper}'. Choose one of: {choices}.",
        },
        "error.print.orientation": {
            "zh": "未知的纸张方向“{orientation}”。可选：{choices}（横向 / 纵向）。",
            "en": "Unknown orientation '{orientation}'. Choose one of: {choices}.",
        },
        "error.print.suffix": {
            "zh": "无法保存地图 {file}：不支持的文件类型“{suffix}”。请使用以下扩展名之一：{choices}。",
            "en": "Cannot save the map {file}: the file type '{suffix}' is not supported. Use "
            "one of these suffixes: {choices}.",
        },
    }
)


# --------------------------------------------------------------------------------------------
# Fonts

_scanned_font_files = False


def find_cjk_font() -> str | None:
    """The family name of an installed font that can draw Simplified Chinese, or None.

    Looks for :data:`CJK_FONT_FAMILIES` (in that order) among matplotlib's fonts. When none
    is known, the system's font files are looked at once more (matplotlib caches its font
    list, and a font installed after the cache was made is not in it); the ones that match are
    added to matplotlib's font manager for this process.
    """
    global _scanned_font_files
    name = _first_known_family()
    if name is None and not _scanned_font_files:
        _scanned_font_files = True
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # an unreadable font file is not ours to report
        name = _first_known_family()
    return name


def _first_known_family() -> str | None:
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONT_FAMILIES if name in known), None)


def _has_cjk(text: str) -> bool:
    return bool(_CJK_CHAR.search(text))


# --------------------------------------------------------------------------------------------
# Page layout (millimetres from the page's lower left corner)


class _Page:
    """Sizes and boxes of one page; converts millimetres to figure fractions and points."""

    MARGIN = 8.0
    GAP = 5.0

    def __init__(self, paper: str, orientation: str, full: bool, title: str = "") -> None:
        long_mm, short_mm = PAPER_SIZES_MM[paper]
        self.paper = paper
        self.landscape = orientation == "landscape"
        self.w, self.h = (long_mm, short_mm) if self.landscape else (short_mm, long_mm)
        # A3 is a wall or table sheet: text a little larger, not twice as large
        self.s = 1.0 if paper == "A4" else 1.25
        m, s = self.MARGIN, self.s
        # the title: one line at 15 pt, or smaller down to 11 pt, or wrapped
        room_pt = _mm_to_pt(self.w - 2 * m - 40.0 * s)  # the date stands at the right
        self.title_size = 15.0 * s
        width = _text_width_pt(title, self.title_size)
        if width > room_pt:
            self.title_size = max(11.0 * s, self.title_size * room_pt / width)
        self.title = _wrap(title, room_pt, self.title_size)
        self.title_step_mm = self.title_size * 1.3 / 72.0 * 25.4  # one title line
        n_lines = self.title.count("\n") + 1
        self.header_h = n_lines * self.title_step_mm + 9.5 * s * 1.5 / 72.0 * 25.4 + 3.0
        self.banner_h = 7.5 * s if full else 0.0
        self.top = self.h - m - self.header_h - self.banner_h - (2.0 * s if full else 0.0)
        if self.landscape:
            self.map_box = (m, m, self.w - m - self.PANEL_MM * s - self.GAP, self.top)
        else:
            self.map_box = (m, m + self.PANEL_MM * s + self.GAP, self.w - m, self.top)
        self.panel_boxes = self._panels()
        self.denominator = 1
        self.center = (0.0, 0.0)

    PANEL_MM = 64.0  # the side (landscape) or bottom (portrait) panel, at least
    MIN_MAP_MM = 100.0

    def _panels(self) -> list[tuple[float, float, float, float]]:
        """The panel's boxes beside or below the map box: one column, or two when wide."""
        m, g = self.MARGIN, self.GAP
        if self.landscape:
            x0, y0, x1, y1 = self.map_box[2] + g, m, self.w - m, self.top
        else:
            x0, y0, x1, y1 = m, m, self.w - m, self.map_box[1] - g
        if x1 - x0 < 2 * self.PANEL_MM * self.s + g:
            return [(x0, y0, x1, y1)]
        mid = x0 + (x1 - x0) * 0.52
        return [(x0, y0, mid - g / 2, y1), (mid + g / 2, y0, x1, y1)]

    def fit_map(self, extent: tuple[float, float, float, float] | None) -> int:
        """Choose the map's scale and centre for ``extent`` (metres); return the denominator.

        The scale is the largest round one (1:N, N rounded up to two significant figures) at
        which ``extent`` and a 4 % margin fit the map box. A box much wider (landscape) or
        taller (portrait) than the map needs is narrowed, and the panel gets the room: empty
        map background helps no one.
        """
        x0, y0, x1, y1 = self.map_box
        if extent is None:
            extent = (0.0, 0.0, 1000.0, 1000.0)
        minx, miny, maxx, maxy = extent
        # room so that edge villages and their labels stay inside the frame; 1 km at least
        dx = max(maxx - minx, 1000.0) * 1.08
        dy = max(maxy - miny, 1000.0) * 1.08
        denominator = _nice_denominator(max(dx / (x1 - x0), dy / (y1 - y0)) * 1000.0)
        need_w, need_h = dx / denominator * 1000.0, dy / denominator * 1000.0
        if self.landscape and x1 - x0 - need_w > 15.0:
            self.map_box = (x0, y0, x0 + max(need_w + 4.0, self.MIN_MAP_MM), y1)
        elif not self.landscape and y1 - y0 - need_h > 15.0:
            self.map_box = (x0, y1 - max(need_h + 4.0, self.MIN_MAP_MM), x1, y1)
        self.panel_boxes = self._panels()
        self.denominator = denominator
        self.center = ((minx + maxx) / 2, (miny + maxy) / 2)
        return denominator

    def frac(self, box: tuple[float, float, float, float]) -> list[float]:
        """``[left, bottom, width, height]`` in figure fractions of a ``(x0, y0, x1, y1)`` box."""
        x0, y0, x1, y1 = box
        return [x0 / self.w, y0 / self.h, (x1 - x0) / self.w, (y1 - y0) / self.h]

    def fs(self, points: float) -> float:
        """A font or marker size (points), scaled for the paper."""
        return points * self.s


def _mm_to_pt(mm: float) -> float:
    return mm / 25.4 * 72.0


def _text_width_pt(text: str, size: float) -> float:
    """Rough printed width of one line: CJK characters are square, Latin ones about half."""
    return sum(size if _has_cjk(c) else 0.56 * size for c in text)


_NO_LINE_START = set("，。、；：！？）」』》〉,.;:!?)%")


def _wrap(text: str, width_pt: float, size: float) -> str:
    """Break ``text`` into lines no wider than ``width_pt`` (at spaces for Latin text)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in re.findall(r"[^\s\u2e80-\u9fff\uff00-\uffef]+\s*|\S\s*|\s+", paragraph):
            # closing punctuation never starts a line (Chinese typesetting rule)
            too_wide = _text_width_pt((line + token).rstrip(), size) > width_pt
            if line and too_wide and token[0] not in _NO_LINE_START:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        lines.append(line.rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Geometry helpers


def _polygon_path(geom: shapely.Geometry) -> MplPath | None:
    """A matplotlib path of a (multi)polygon's rings, holes included; None for other shapes."""
    polys = [
        g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon) and not g.is_empty
    ]
    if not polys:
        return None
    verts, codes = [], []
    for poly in polys:
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            verts.append(xy)
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
    return MplPath(np.concatenate(verts), codes)


def segments_patch(segs: np.ndarray, **style) -> PathPatch:
    """Line segments (an (N, 2, 2) array) as one unfilled path: drawn in one call.

    A LineCollection draws (and writes into a PDF) each segment on its own: a county page's
    200,000 road segments took most of a minute to save; one path with a move-to per segment
    draws the same lines in a fraction of that.
    """
    n = len(segs)
    codes = np.tile([MplPath.MOVETO, MplPath.LINETO], n).astype(MplPath.code_type)
    return PathPatch(MplPath(segs.reshape(-1, 2), codes), fill=False, **style)


def _line_parts(lines: gpd.GeoSeries) -> list[np.ndarray]:
    """The vertices (x, y) of every part of (multi)lines."""
    parts = shapely.get_parts(lines.values)
    return [np.asarray(p.coords) for p in parts if not p.is_empty]


def _project(geoms: gpd.GeoSeries | list, crs: pyproj.CRS) -> gpd.GeoSeries:
    """WGS84 geometries in ``crs`` (missing ones stay missing)."""
    series = geoms if isinstance(geoms, gpd.GeoSeries) else gpd.GeoSeries(geoms, crs="EPSG:4326")
    if series.crs is None:
        series = series.set_crs("EPSG:4326")
    return series.to_crs(crs)


def _usable(geom: object) -> bool:
    return isinstance(geom, shapely.Geometry) and not geom.is_empty


def _nice_denominator(needed: float) -> int:
    """``needed`` rounded up to two significant figures (1:263 412 -> 1:270 000)."""
    if needed <= 0:
        return 1
    step = 10 ** max(0, math.floor(math.log10(needed)) - 1)
    return int(math.ceil(needed / step - 1e-9) * step)


def _scalebar_length_m(map_width_m: float) -> float:
    """The longest of :data:`SCALEBAR_LENGTHS_M` that fits in a quarter of the map's width."""
    fitting = [length for length in SCALEBAR_LENGTHS_M if length <= map_width_m / 4]
    return fitting[-1] if fitting else SCALEBAR_LENGTHS_M[0]


def _length_label(length_m: float, lang: str) -> str:
    if length_m < 1000:
        return i18n.t("print.scale_m", lang, n=f"{length_m:g}")
    return i18n.t("map.popup.km", lang, km=f"{length_m / 1000:g}")


# --------------------------------------------------------------------------------------------
# The map


def draw_print_map(
    analysis: Analysis,
    *,
    lang: str = "zh",
    kind: str = "kindergarten",
    paper: str = "A4",
    orientation: str = "landscape",
    privacy: str = "committee",
    made_on: dt.date | None = None,
    service_areas: gpd.GeoDataFrame | None = None,
    rng: np.random.Generator | None = None,
    key: bytes | None = None,
    corrections=None,
) -> Figure:
    """Draw an analysis as a printable map of exact paper size.

    Parameters
    ----------
    analysis
        The result of :func:`mapping.analysis.run_analysis`.
    lang
        ``zh`` or ``en``: every text on the page.
    kind
        The service kind whose gaps colour the villages (one of ``analysis.settings.kinds``).
    paper
        ``A4`` (297 x 210 mm) or ``A3`` (420 x 297 mm).
    orientation
        ``landscape`` or ``portrait``.
    privacy
        ``committee`` (default): no household is drawn, and households do not set the map's
        extent. ``displaced``: households coloured by their road distance, each drawn
        300-600 m from where it is in a random direction (:mod:`mapping.privacy`), a note
        saying so (``gid="note-displaced"``); households do not set the extent, and no id,
        name or phone is on the page. ``full``: households where they are, coloured by
        their road distance, and a visible "for the team's own use, do not share" line.
    made_on
        The date printed under the title (default: today).
    service_areas
        Optional service areas from :func:`mapping.coverage.service_areas` (per service and
        band, or dissolved; any CRS): translucent fills by band (``band_m``, metres by road),
        under the roads and villages, and a legend entry per band. They do not set the
        map's extent.
    rng
        The random generator of the ``displaced`` mode (unused otherwise). Default: a new one
        seeded from the operating system (see :func:`mapping.maps.draw_map`).
    key
        The secret of the ``displaced`` mode (see :func:`mapping.maps.draw_map`).
    corrections
        The :class:`mapping.corrections.CorrectedRun` of the analysis: community roads and
        closed or slowed roads are drawn and in the legend (see :func:`mapping.maps.draw_map`).

    Returns
    -------
    matplotlib.figure.Figure
        A figure of the paper's size in inches. The map axes (``gid="map"``) is in
        ``analysis.network.crs`` (metres) at a round scale; the scale bar is the
        :class:`~matplotlib.patches.Rectangle` with ``gid="scalebar"`` (its width is its length
        in metres) and the households, in ``full`` and ``displaced`` modes, the collection
        with ``gid="households"``. Proposed services (``source == "proposed"``) are the
        collections ``gid="proposed-<kind>"`` (pale symbol, dashed edge) and
        ``gid="proposed-star"``; service areas are patches with ``gid="service-area"``.
        Save it with :func:`write_print_map`.

    Raises
    ------
    SettingsError
        ``error.map.language``, ``error.settings.kind``, ``error.map.privacy``,
        ``error.print.paper``, ``error.print.orientation``; ``error.print.no_cjk_font`` when
        the page holds Chinese text and no Chinese font is installed.
    InputError
        ``error.map.service_areas`` when ``service_areas`` has no ``band_m`` or geometry,
        ``error.map.service_areas_crs`` when it has no CRS.
    """
    paper_key = paper.upper() if isinstance(paper, str) else paper
    if paper_key not in PAPER_SIZES_MM:
        raise SettingsError("error.print.paper", paper=paper, choices=", ".join(PAPER_SIZES_MM))
    if orientation not in ORIENTATIONS:
        raise SettingsError(
            "error.print.orientation", orientation=orientation, choices=", ".join(ORIENTATIONS)
        )
    model = build_map_model(
        analysis,
        lang=lang,
        kind=kind,
        privacy=privacy,
        made_on=made_on,
        service_areas=service_areas,
        rng=rng,
        key=key,
        corrections=corrections,
    )
    return draw_print_model(model, paper=paper_key, orientation=orientation)


def draw_print_model(
    model: MapModel, *, paper: str = "A4", orientation: str = "landscape"
) -> Figure:
    """Draw a :class:`~mapping.mapmodel.MapModel` as a printable page (see
    :func:`draw_print_map`; ``paper`` and ``orientation`` are checked there)."""
    analysis, kind, lang = model.analysis, model.kind, model.lang
    village_names = [str(n) for n in analysis.villages["village_name"].dropna()]
    families = _font_families(lang, [model.title, *village_names])

    page = _Page(paper, orientation, model.full, model.title)
    fig = Figure(figsize=(page.w / 25.4, page.h / 25.4))
    fig.set_label(model.title)
    canvas = FigureCanvasAgg(fig)  # text sizes are measured to place the labels
    deco = _Decorations(fig, page, families, lang)
    ink = _MapInk(fig, page, families, lang)

    subtitle = i18n.t(
        "print.subtitle",
        lang,
        kind=model.kind_name,
        limit=model.limit_text,
        mode=i18n.t(f"mode.{analysis.settings.mode}", lang),
    )
    deco.header(
        model.title, subtitle, i18n.t("print.made_on", lang, date=model.made_on.isoformat())
    )
    if model.banner:
        deco.banner(model.banner)

    crs = pyproj.CRS.from_user_input(analysis.network.crs)
    layers = _MapLayers.build(model, crs)
    denominator = page.fit_map(layers.extent(model.full))
    ax = fig.add_axes(page.frac(page.map_box), gid=GID_MAP)
    _set_extent(ax, page)
    ax.set_facecolor(_BACKGROUND)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
        spine.set_color("#333333")

    ink.service_areas(ax, layers.areas)
    ink.roads(ax, layers.roads)
    ink.study_area(ax, layers.study_area)
    ink.corrections(ax, layers)
    ink.boundaries(ax, layers.boundaries, layers.boundary_status)
    ink.households(ax, layers.hh_xy, layers.hh_class)  # none in committee mode
    ink.services(ax, layers.services, kind)
    ink.proposed(ax, layers.proposed, kind)
    ink.villages(ax, layers.vil_xy, layers.vil_status)
    fixed = [
        deco.scalebar(ax, canvas.get_renderer(), denominator, lang),
        deco.north_arrow(ax, crs, i18n.t("print.north", lang)),
        deco.attribution(ax),
    ]
    _LabelPlacer(fig, page, families, lang).village_labels(
        ax, canvas, analysis.villages, layers, kind, lang, fixed, model.limit_m
    )
    _PanelInk(fig, page, families, lang).panel(canvas, _Panel(model), crs)
    return fig


def _font_families(lang: str, texts: list[str]) -> list[str]:
    """Font families for the page: a Chinese font first when any text needs one."""
    cjk = find_cjk_font()
    if cjk is not None:
        return [cjk, _LATIN_FONT]
    needs = [t for t in texts if _has_cjk(t)]
    if lang == "zh" or needs:
        sample = needs[0] if needs else i18n.t("map.default_title", "zh")
        raise SettingsError("error.print.no_cjk_font", sample=sample[:40])
    return [_LATIN_FONT]


class _MapLayers:
    """Everything the map draws, in the network's CRS (metres)."""

    def __init__(self) -> None:
        self.roads: dict[str, np.ndarray] = {}
        self.study_area: MplPath | None = None
        self.study_area_bounds: tuple[float, float, float, float] | None = None
        self.boundaries: list[MplPath] = []
        self.boundary_status: list[str] = []
        self.boundary_bounds: list[tuple[float, float, float, float]] = []
        self.vil_xy = np.empty((0, 2))
        self.vil_status: list[str] = []
        self.vil_index: list[object] = []
        self.services: dict[str, np.ndarray] = {}
        self.kinds_present: list[str] = []
        self.proposed: dict[str, np.ndarray] = {}
        self.proposed_kinds: list[str] = []
        self.areas: list[tuple[MplPath, int]] = []  # (shape, band rank), farthest band first
        self.area_bands: list[float] = []
        self.hh_xy = np.empty((0, 2))
        self.hh_class: list[str] = []
        self.road_bounds: tuple[float, float, float, float] | None = None
        # community roads and the segments a condition closes or slows: (N, 2) arrays of
        # line vertices (metres), one per line part
        self.community: list[np.ndarray] = []
        self.closed: list[np.ndarray] = []
        self.slowed: list[np.ndarray] = []

    @classmethod
    def build(cls, model: MapModel, crs: pyproj.CRS) -> _MapLayers:
        analysis, kind = model.analysis, model.kind
        out = cls()
        net = analysis.network
        if net.n_segments:
            lines = road_lines(analysis).to_crs(crs)
            segs = shapely.get_coordinates(lines.geometry.values).reshape(-1, 2, 2)
            groups = np.array(
                [ROAD_GROUP_OF.get(h, "path") for h in HIGHWAY_CLASSES], dtype=object
            )[net.seg_highway]
            for group in ROAD_GROUPS:
                sel = groups == group
                if sel.any():
                    out.roads[group] = segs[sel]
            out.road_bounds = (
                float(segs[..., 0].min()),
                float(segs[..., 1].min()),
                float(segs[..., 0].max()),
                float(segs[..., 1].max()),
            )
        area = analysis.scenario.study_area
        if _usable(area):
            projected = _project([area], crs).iloc[0]
            out.study_area = _polygon_path(projected)
            out.study_area_bounds = projected.bounds

        v = analysis.villages
        if len(v):
            status = list(model.status.loc[v.index])
            points = _project(gpd.GeoSeries(v.geometry.values, crs=v.crs), crs)
            keep = np.array([_usable(g) for g in points])
            if keep.any():
                out.vil_xy = shapely.get_coordinates(points[keep].values)
            out.vil_status = [s for s, k in zip(status, keep, strict=True) if k]
            out.vil_index = list(v.index[keep])
            has_area = np.array([_usable(b) for b in v["boundary"]])
            if has_area.any():
                areas = _project(list(v["boundary"][has_area]), crs)
                for geom, s in zip(
                    areas, [s for s, k in zip(status, has_area, strict=True) if k], strict=True
                ):
                    path = _polygon_path(geom)
                    if path is not None:
                        out.boundaries.append(path)
                        out.boundary_status.append(s)
                        out.boundary_bounds.append(geom.bounds)

        svc = analysis.services
        if len(svc):
            xy = shapely.get_coordinates(_project(gpd.GeoSeries(svc.geometry.values), crs).values)
            proposed = model.proposed
            for k in SERVICE_KINDS:
                sel = (svc["kind"] == k).to_numpy()
                if (sel & ~proposed).any():
                    out.services[k] = xy[sel & ~proposed]
                    out.kinds_present.append(k)
                if (sel & proposed).any():
                    out.proposed[k] = xy[sel & proposed]
                    out.proposed_kinds.append(k)

        sa = model.service_areas
        if sa is not None and len(sa):
            out.area_bands = list(model.area_bands)
            rank = {b: i for i, b in enumerate(out.area_bands)}
            shapes = _project(gpd.GeoSeries(sa.geometry.values, crs=sa.crs), crs)
            rows = sorted(zip(sa["band_m"].astype(float), shapes, strict=True), key=lambda r: -r[0])
            for band, geom in rows:
                path = _polygon_path(geom) if _usable(geom) else None
                if path is not None:
                    out.areas.append((path, rank[band]))

        if model.community is not None:
            out.community = _line_parts(_project(model.community.geometry, crs))
        if model.conditions is not None:
            segs = model.conditions
            closed = (segs["effect"] == "closed").to_numpy()
            out.closed = _line_parts(_project(segs.geometry[closed], crs))
            out.slowed = _line_parts(_project(segs.geometry[~closed], crs))
        hh = model.households
        if model.full and len(hh):
            x, y = net.project_points(hh)
            out.hh_xy = np.column_stack([x, y])
            out.hh_class = [_household_class(d) for d in hh[f"dist_{kind}_m"]]
        elif model.displaced and len(hh):
            x, y = net.project_points(hh)
            out.hh_xy = np.column_stack([x, y])
            out.hh_class = [
                "u" if pd.isna(c) else str(int(c)) for c in hh[f"dist_{kind}_class"].astype(object)
            ]
        return out

    def extent(self, full: bool) -> tuple[float, float, float, float] | None:
        """The area to show: study area, villages, services (households in ``full`` only).

        Shared maps (committee, displaced) must not reveal a household's position, not even
        as the map's edge.
        Roads set it only when nothing else does (an extract's roads may run far beyond).
        """
        boxes = [b for b in (self.study_area_bounds,) if b is not None] + self.boundary_bounds
        points = [self.vil_xy, *self.services.values(), *self.proposed.values()]
        if full:
            points.append(self.hh_xy)
        for xy in points:
            if len(xy):
                boxes.append((xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()))
        if not boxes and self.road_bounds is not None:
            boxes.append(self.road_bounds)
        if not boxes:
            return None
        arr = np.array(boxes, dtype=float)
        return arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()


def _set_extent(ax, page: _Page) -> None:
    """Set the axes limits to the page's scale and centre (see :meth:`_Page.fit_map`)."""
    x0, y0, x1, y1 = page.map_box
    half_w = page.denominator * (x1 - x0) / 1000.0 / 2
    half_h = page.denominator * (y1 - y0) / 1000.0 / 2
    cx, cy = page.center
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_autoscale_on(False)


class _Panel:
    """The side panel's content: legend entries, the list of villages with a gap, notes."""

    def __init__(self, model: MapModel) -> None:
        analysis, kind, lang, privacy = model.analysis, model.kind, model.lang, model.privacy
        v = analysis.villages
        self.lang = lang
        self.privacy = privacy
        self.full = model.full
        self.households_drawn = privacy in ("full", "displaced")
        self.kind = kind
        self.kinds_present = list(model.kinds_present)
        self.proposed_kinds = list(model.proposed_kinds)
        self.area_bands = list(model.area_bands)
        self.limit = _limit_km(analysis.settings.threshold_m(kind))
        flagged = v[v[f"flag_{kind}"].astype(bool)]
        dist = flagged[f"dist_{kind}_m"].astype(float)
        # unreachable first, then the farthest
        order = pd.DataFrame({"u": dist.notna(), "d": -dist.fillna(0.0)}, index=flagged.index)
        self.gaps = [
            (
                str(flagged.at[i, "village_name"]),
                _distance_text(dist.at[i], lang, model.limit_m),
                _without_name(
                    str(flagged.at[i, f"reason_{kind}_{lang}"]), flagged.at[i, "village_name"]
                ),
            )
            for i in order.sort_values(["u", "d"]).index
        ]
        self.fictional = analysis.scenario.fictional
        self.community = model.community is not None
        self.conditions = (
            ("、" if lang == "zh" else ", ").join(model.condition_names),
            set(model.conditions["effect"]) if model.conditions is not None else set(),
        )


def _without_name(reason: str, name: object) -> str:
    """A gap sentence without its leading "village:" (the list names the village already)."""
    for sep in ("：", ": "):
        if reason.startswith(f"{name}{sep}"):
            return reason[len(f"{name}{sep}") :]
    return reason


def _distance_text(dist_m: float, lang: str, limit_m: float | None = None) -> str:
    """A village's distance, with the decimals that agree with its flag (3.004, not 3.0,
    against 3 km: :func:`mapping.gaps.km_text`)."""
    if dist_m is None or (isinstance(dist_m, float) and math.isnan(dist_m)):
        return i18n.t("print.unreachable", lang)
    return i18n.t("map.popup.km", lang, km=km_text(float(dist_m), limit_m))


class _Ink:
    """What every part of a page draws with: the figure, the page, its fonts and the
    white halo behind map text (one instance per figure: nothing global)."""

    def __init__(self, fig: Figure, page: _Page, families: list[str], lang: str) -> None:
        self.fig = fig
        self.page = page
        self.families = families
        self.lang = lang
        self.halo = [patheffects.withStroke(linewidth=2.2 * page.s, foreground="white")]

    def text(self, target, x: float, y: float, s: str, size: float, **kw):
        """A text in the page's fonts; never parsed as mathtext (names may hold ``$``)."""
        return target.text(
            x, y, s, fontsize=self.page.fs(size), fontfamily=self.families, parse_math=False, **kw
        )


class _Decorations(_Ink):
    """The page around the map: title, banner, scale bar, north arrow, attribution."""

    def header(self, title: str, subtitle: str, made_on: str) -> None:
        p = self.page
        top = (p.h - p.MARGIN) / p.h
        left, right = p.MARGIN / p.w, (p.w - p.MARGIN) / p.w
        n_lines = p.title.count("\n") + 1
        # the page sized and wrapped the title; its size is already scaled for the paper
        self.fig.text(
            left, top, p.title, fontsize=p.title_size, fontfamily=self.families, weight="bold",
            va="top", ha="left", color="#111111", parse_math=False, linespacing=1.1,
        )  # fmt: skip
        self.text(
            self.fig, left, top - (n_lines * p.title_step_mm + 1.0) / p.h, subtitle, 9.5,
            va="top", ha="left", color="#333333",
        )  # fmt: skip
        self.text(self.fig, right, top, made_on, 8, va="top", ha="right", color="#444444")

    def banner(self, text: str) -> None:
        p = self.page
        y0 = p.h - p.MARGIN - p.header_h - p.banner_h
        box = (p.MARGIN, y0, p.w - p.MARGIN, y0 + p.banner_h)
        left, bottom, width, height = p.frac(box)
        self.fig.patches.append(
            Rectangle(
                (left, bottom), width, height, transform=self.fig.transFigure,
                facecolor="#b2182b", edgecolor="none", gid=GID_FULL_BANNER,
            )
        )  # fmt: skip
        self.text(
            self.fig, left + width / 2, bottom + height / 2, text, 10, color="white",
            weight="bold", ha="center", va="center", gid=GID_FULL_BANNER,
        )  # fmt: skip

    def scalebar(self, ax, renderer, denominator: int, lang: str):
        """Draw the scale bar at the lower left; return its background box (an obstacle).

        The bar is the Rectangle with ``gid="scalebar"``: it is ``length`` metres wide in the
        map's data coordinates, which are metres.
        """
        (xmin, xmax), (ymin, _) = ax.get_xlim(), ax.get_ylim()
        mm = denominator / 1000.0 * self.page.s  # ground metres per (scaled) paper millimetre
        length = _scalebar_length_m(xmax - xmin)
        x0, y0 = xmin + 7 * mm, ymin + 10 * mm
        bar_h = 1.6 * mm
        half = length / 2
        ax.add_patch(Rectangle((x0, y0), half, bar_h, facecolor="#222222", lw=0, zorder=10))
        ax.add_patch(Rectangle((x0 + half, y0), half, bar_h, facecolor="white", lw=0, zorder=10))
        ax.add_patch(
            Rectangle(
                (x0, y0), length, bar_h, fill=False, edgecolor="#222222", linewidth=0.7,
                zorder=11, gid=GID_SCALEBAR,
            )
        )  # fmt: skip
        above = y0 + bar_h + 0.8 * mm
        texts = [
            self.text(ax, x0, above, "0", 7, ha="center", va="bottom", zorder=11),
            self.text(
                ax, x0 + length, above, _length_label(length, lang), 7, ha="center",
                va="bottom", zorder=11, gid=GID_SCALEBAR_LABEL,
            ),
        ]  # fmt: skip
        ratio = i18n.t(
            "print.scale",
            lang,
            denominator=f"{denominator:,}".replace(",", " "),
            paper=self.page.paper,
        )
        texts.append(
            self.text(
                ax,
                x0,
                y0 - 1.2 * mm,
                ratio,
                6,
                ha="left",
                va="top",
                color="#333333",
                zorder=11,
                gid=GID_SCALE_RATIO,
            )  # fmt: skip
        )
        # a white box behind the bar and its texts, however long they are
        to_data = ax.transData.inverted()
        boxes = [t.get_window_extent(renderer).transformed(to_data) for t in texts]
        left = min(x0, *(b.x0 for b in boxes)) - 2.5 * mm
        right = max(x0 + length, *(b.x1 for b in boxes)) + 2.5 * mm
        bottom = min(b.y0 for b in boxes) - 2.0 * mm
        top = max(b.y1 for b in boxes) + 2.0 * mm
        backdrop = Rectangle(
            (left, bottom), right - left, top - bottom, facecolor="white", edgecolor="#999999",
            linewidth=0.4, alpha=0.88, zorder=9,
        )  # fmt: skip
        ax.add_patch(backdrop)
        return backdrop

    def north_arrow(self, ax, crs: pyproj.CRS, label: str):
        """Draw an arrow to true north at the upper right; return its box (an obstacle).

        UTM's grid north differs from true north away from the zone's central meridian (by
        up to 3 degrees at these latitudes), so the direction is measured at the map centre.
        """
        (xmin, xmax), (ymin, ymax) = ax.get_xlim(), ax.get_ylim()
        to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        to_xy = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        lon, lat = to_ll.transform(cx, cy)
        nx, ny = to_xy.transform(lon, min(lat + 0.05, 89.9))
        angle = math.atan2(nx - cx, ny - cy)  # clockwise from grid north
        per_mm = (xmax - xmin) / (self.page.map_box[2] - self.page.map_box[0])
        size = 9.0 * per_mm * self.page.s
        ox, oy = xmax - 9 * per_mm * self.page.s, ymax - 17 * per_mm * self.page.s
        shape = np.array([(0.0, 0.5), (0.28, -0.5), (0.0, -0.25), (-0.28, -0.5)]) * size
        rot = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
        arrow = Polygon(
            shape @ rot.T + (ox, oy), closed=True, facecolor="#222222", edgecolor="white",
            linewidth=0.8, zorder=11, gid=GID_NORTH,
        )  # fmt: skip
        ax.add_patch(arrow)
        self.text(
            ax, ox + math.sin(angle) * 0.62 * size, oy + math.cos(angle) * 0.62 * size, label,
            9, weight="bold", ha="center", va="bottom", zorder=11, path_effects=self.halo,
        )  # fmt: skip
        return Rectangle((ox - size / 2, oy - size / 2), size, size * 1.6)

    def attribution(self, ax):
        """OpenStreetMap's credit in the lower right corner of the map (its licence asks)."""
        return self.text(
            ax, 0.995, 0.006, OSM_ATTRIBUTION, 6, transform=ax.transAxes, ha="right",
            va="bottom", color="#333333", zorder=11, gid=GID_ATTRIBUTION,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
        )  # fmt: skip


class _MapInk(_Ink):
    """The map's layers, from the :class:`_MapLayers` in metres."""

    def roads(self, ax, roads: dict[str, np.ndarray]) -> None:
        # minor roads first, so that main roads are drawn over them at crossings
        for group in sorted(roads, key=lambda g: _ROAD_WIDTH_PT[g]):
            color, _, dash = ROAD_GROUPS[group]
            style = "solid" if dash is None else (0, tuple(float(d) for d in dash.split()))
            ax.add_patch(
                segments_patch(
                    roads[group], edgecolor=color, linewidth=self.page.fs(_ROAD_WIDTH_PT[group]),
                    linestyle=style, capstyle="round", zorder=1, gid=f"roads-{group}",
                )
            )  # fmt: skip

    def study_area(self, ax, path: MplPath | None) -> None:
        if path is not None:
            ax.add_patch(
                PathPatch(
                    path, fill=False, edgecolor=_STUDY_AREA_COLOR, linewidth=self.page.fs(1.3),
                    linestyle=(0, (6, 3)), zorder=2, gid="study-area",
                )
            )  # fmt: skip

    def boundaries(self, ax, paths: list[MplPath], status: list[str]) -> None:
        for path, s in zip(paths, status, strict=True):
            color = STATUS_COLORS[s]
            ax.add_patch(
                PathPatch(
                    # the fill's own alpha: alpha on the patch would fade its edge too
                    path, facecolor=(*_rgb(color), 0.14 if s == "flag" else 0.05),
                    edgecolor=color, linewidth=self.page.fs(1.3 if s == "flag" else 0.6),
                    zorder=2, gid=f"boundary-{s}",
                )
            )  # fmt: skip

    def households(self, ax, xy: np.ndarray, classes: list[str]) -> None:
        if not len(xy):
            return
        colors = dict((key, color) for key, color, _ in _household_bins(self.lang))
        ax.scatter(
            xy[:, 0], xy[:, 1], s=self.page.fs(11), c=[colors[c] for c in classes],
            edgecolors="#333333", linewidths=0.3, zorder=6.8, gid=GID_HOUSEHOLDS,
        )  # fmt: skip

    def services(self, ax, services: dict[str, np.ndarray], focus: str) -> None:
        # the focus kind on top: kindergartens often share a town centre with a school
        for k in sorted(services, key=lambda k: k == focus):
            xy = services[k]
            ax.scatter(
                xy[:, 0], xy[:, 1], marker=SERVICE_MARKERS[k],
                s=self.page.fs(70 if k == focus else 42), c=SERVICE_COLORS[k],
                edgecolors="white", linewidths=0.8, zorder=6 if k == focus else 5,
                gid=f"services-{k}",
            )  # fmt: skip

    def proposed(self, ax, proposed: dict[str, np.ndarray], focus: str) -> None:
        """Proposals over the existing services: pale symbol, dashed edge, a gold star."""
        for k in sorted(proposed, key=lambda k: k == focus):
            xy = proposed[k]
            # larger than an existing service's symbol: the dashes and the star must show
            size = self.page.fs(1.6 * (70 if k == focus else 42))
            ax.scatter(
                xy[:, 0], xy[:, 1], marker=SERVICE_MARKERS[k], s=size,
                facecolors=[(*_rgb(SERVICE_COLORS[k]), 0.35)], edgecolors=SERVICE_COLORS[k],
                linewidths=self.page.fs(1.2), linestyles=(0, (2.5, 1.2)), zorder=6.2,
                gid=f"proposed-{k}",
            )  # fmt: skip
            ax.scatter(
                xy[:, 0], xy[:, 1], marker=_PROPOSED_STAR, s=size, c=_STAR_COLOR,
                edgecolors=_STAR_EDGE, linewidths=0.5, zorder=6.3, gid="proposed-star",
            )  # fmt: skip

    def service_areas(self, ax, areas: list[tuple[MplPath, int]]) -> None:
        """Service areas under everything else (farthest band first, so nearer ones show)."""
        for path, rank in areas:
            color = _area_color(rank)
            ax.add_patch(
                PathPatch(
                    path, facecolor=(*_rgb(color), 0.2), edgecolor=(*_rgb(color), 0.6),
                    linewidth=self.page.fs(0.4), zorder=0.5, gid="service-area",
                )
            )  # fmt: skip

    def corrections(self, ax, layers: _MapLayers) -> None:
        """Community roads (orange), closed roads (dark red dashes), slowed (amber dots)."""

        for parts, color, width, style, gid in (
            (layers.community, COMMUNITY_COLOR, 1.6, "solid", "community-roads"),
            (layers.closed, CLOSED_COLOR, 2.0, (0, (3, 2)), "closed-roads"),
            (layers.slowed, SLOWED_COLOR, 2.0, (0, (1, 2)), "slowed-roads"),
        ):
            if parts:
                ax.add_collection(
                    LineCollection(
                        parts, colors=color, linewidths=width * self.page.s, linestyles=style,
                        zorder=3.5, gid=gid,
                    )
                )  # fmt: skip

    def villages(self, ax, xy: np.ndarray, status: list[str]) -> None:
        arr = np.array(status, dtype=object)
        for s in ("ok", "warn", "flag"):
            sel = arr == s
            if not sel.any():
                continue
            ax.scatter(
                xy[sel, 0], xy[sel, 1], s=self.page.fs(_VILLAGE_SIZE[s]),
                c=STATUS_COLORS[s], edgecolors="#222222",
                linewidths=self.page.fs(1.2 if s == "flag" else 0.6),
                zorder=7 if s == "flag" else 6.5, gid=f"villages-{s}",
            )  # fmt: skip


class _LabelPlacer(_Ink):
    """Village names where they fit (see :meth:`village_labels`)."""

    def village_labels(
        self, ax, canvas, villages: pd.DataFrame, layers: _MapLayers, kind: str, lang: str,
        fixed: list, limit_m: float | None = None,
    ) -> None:  # fmt: skip
        """Label villages where their label fits: every flagged one, others if room is left.

        Each label tries eight places around its point and takes the first that overlaps no
        point, symbol or label already there; a flagged village gets its first place anyway.
        """
        renderer = canvas.get_renderer()
        v = villages
        if not len(layers.vil_xy):
            return
        frame = ax.get_window_extent(renderer)
        # boxes already on the map (x0, y0, x1, y1, pixels), grown as labels are placed:
        # checked all at once with numpy (a loop over Bbox.overlaps took a minute for 500
        # villages, and grows with the square of their number)
        taken = np.array([a.get_window_extent(renderer).extents for a in fixed], dtype=float)
        taken = taken.reshape(-1, 4)
        to_px = ax.transData
        pts = [to_px.transform(layers.vil_xy)]
        pts += [to_px.transform(xy) for xy in layers.services.values()]
        pts += [to_px.transform(xy) for xy in layers.proposed.values()]
        if len(layers.hh_xy):
            pts.append(to_px.transform(layers.hh_xy))
        r = 4.5 * self.page.s * self.fig.dpi / 72.0  # a symbol's half size, pixels
        obstacles = np.concatenate(pts) if pts else np.empty((0, 2))

        status = np.array(layers.vil_status, dtype=object)
        # flagged villages first, the farthest first (unreachable ones before them all)
        dist = np.array(
            [float(v.at[vid, f"dist_{kind}_m"]) for vid in layers.vil_index], dtype=float
        )
        far = np.where(np.isnan(dist), np.inf, dist)
        flagged_first = sorted(range(len(status)), key=lambda i: (status[i] != "flag", -far[i], i))
        off = 4.0 * self.page.s
        spots = [
            ((off, off * 0.6), "left", "bottom"),
            ((off, -off * 0.6), "left", "top"),
            ((-off, off * 0.6), "right", "bottom"),
            ((-off, -off * 0.6), "right", "top"),
            ((off * 1.4, 0), "left", "center"),
            ((-off * 1.4, 0), "right", "center"),
            ((0, off * 1.5), "center", "bottom"),
            ((0, -off * 1.5), "center", "top"),
        ]
        for i in flagged_first:
            row = v.loc[layers.vil_index[i]]
            name = str(row["village_name"])
            flag = status[i] == "flag"
            if flag:
                dist_text = _distance_text(float(row[f"dist_{kind}_m"]), lang, limit_m)
                label = f"{name}\n{dist_text}"
                style = {"color": "#8b0000", "weight": "bold", "size": 7.5, "zorder": 12}
            else:
                label = name
                style = {"color": "#3a3a3a", "weight": "normal", "size": 5.8, "zorder": 8}
            x, y = layers.vil_xy[i]
            own = to_px.transform([(x, y)])[0]
            near = obstacles[np.hypot(*(obstacles - own).T) > 0.5]  # not its own point
            # one text, measured once: its box at each of the places follows from its size
            # (matplotlib aligns a text's box to its anchor); measuring it at every place
            # made a county's printout take minutes
            t = self.text(
                ax, x, y, label, style["size"], color=style["color"], weight=style["weight"],
                ha="left", va="bottom", zorder=style["zorder"], path_effects=self.halo,
                linespacing=1.1,
            )  # fmt: skip
            t.set_transform(ax.transData)
            first = t.get_window_extent(renderer)
            w, h = first.width, first.height
            px_per_pt = self.fig.dpi / 72.0
            chosen = None
            # flagged villages may move out in rings, with a leader line back to the point,
            # until their name fits without covering another; others take the first ring only
            candidates = [
                ((dx * k, dy * k), ha, va, k) for k in (_LABEL_RINGS if flag else (1.0,))
                for (dx, dy), ha, va in spots
            ]  # fmt: skip
            for (dx, dy), ha, va, ring in candidates:
                ax_, ay_ = own[0] + dx * px_per_pt, own[1] + dy * px_per_pt
                x0 = ax_ - {"left": 0.0, "right": w, "center": w / 2}[ha]
                y0 = ay_ - {"bottom": 0.0, "top": h, "center": h / 2}[va]
                x1, y1 = x0 + w, y0 + h
                inside = (
                    x0 >= frame.x0 + 2
                    and x1 <= frame.x1 - 2
                    and y0 >= frame.y0 + 2
                    and y1 <= frame.y1 - 2
                )
                hit_point = (
                    (near[:, 0] > x0 - r)
                    & (near[:, 0] < x1 + r)
                    & (near[:, 1] > y0 - r)
                    & (near[:, 1] < y1 + r)
                ).any()
                # as Bbox.padded(2).overlaps: edges touching count as overlapping
                hit_label = (
                    (x0 - 2.0 <= taken[:, 2])
                    & (taken[:, 0] <= x1 + 2.0)
                    & (y0 - 2.0 <= taken[:, 3])
                    & (taken[:, 1] <= y1 + 2.0)
                ).any()
                if inside and not hit_point and not hit_label:
                    chosen = ((dx, dy), ha, va, ring)
                    break
            if chosen is None:
                # no place anywhere: the village stays unnamed on the map (a name on top of
                # another names neither); a flagged one is in the side panel's list
                t.remove()
                placed = None
            else:
                (dx, dy), ha, va, ring = chosen
                t.set_horizontalalignment(ha)
                t.set_verticalalignment(va)
                t.set_transform(ax.transData + _offset(dx, dy, self.fig))  # points from it
                placed = (t, t.get_window_extent(renderer))
                if ring > 1:
                    box = placed[1]
                    end = to_px.inverted().transform(
                        [(min(max(own[0], box.x0), box.x1), min(max(own[1], box.y0), box.y1))]
                    )[0]
                    ax.plot([x, end[0]], [y, end[1]], color="#8b0000" if flag else "#555555",
                            lw=0.5 * self.page.s, zorder=style["zorder"] - 0.1,
                            gid="label-leader")  # fmt: skip
            if placed is not None:
                placed[0].set_gid(f"label-{'flag' if flag else 'village'}")
                taken = np.vstack([taken, [placed[1].extents]])


class _PanelInk(_Ink):
    """The side panel: notes, the list of villages with a gap, the legend."""

    def panel(self, canvas, panel: _Panel, crs: pyproj.CRS) -> None:
        p, lang = self.page, panel.lang
        renderer = canvas.get_renderer()
        axes = []
        for box in p.panel_boxes:
            a = self.fig.add_axes(p.frac(box))
            a.set_axis_off()
            axes.append(a)
        legend_ax, gaps_ax = axes[0], axes[-1]
        two = len(axes) == 1 and not p.landscape
        legend = self._legend(legend_ax, panel, two_columns=two)
        to_axes = legend_ax.transAxes.inverted()
        legend_bottom = legend.get_window_extent(renderer).transformed(to_axes).y0
        if legend_bottom < 0 and not two:  # too long for the panel: two columns
            legend.remove()
            legend = self._legend(legend_ax, panel, two_columns=True)
            legend_bottom = legend.get_window_extent(renderer).transformed(to_axes).y0
        notes = []
        if panel.fictional:
            notes.append((i18n.t("map.fictional", lang), "#7a4b00", "bold", "note-fictional"))
        if panel.privacy == "committee":
            notes.append(
                (i18n.t("print.committee_note", lang), "#444444", "normal", "note-committee")
            )
        elif panel.privacy == "displaced":
            notes.append((displaced_note(lang), "#444444", "bold", "note-displaced"))
        notes.append(
            (i18n.t("print.crs", lang, crs=_crs_name(crs)), "#666666", "normal", "note-crs")
        )
        # the notes go under the legend when they fit there, else under the list of gaps
        drawn, notes_top = self._notes(legend_ax, renderer, notes)
        if legend_ax is not gaps_ax and notes_top > legend_bottom - 0.02:
            for t in drawn:
                t.remove()
            notes_top = self._notes(gaps_ax, renderer, notes)[1]
            bottom = notes_top
        else:
            bottom = notes_top if legend_ax is gaps_ax else 0.0
        top = legend_bottom - 0.03 if legend_ax is gaps_ax else 1.0
        self._gap_list(gaps_ax, renderer, panel, top, bottom, self._width_pt(gaps_ax))

    def _width_pt(self, ax) -> float:
        """The width of an axes in points, at the page's text scale."""
        return ax.get_position().width * self.fig.get_figwidth() * 72.0 / self.page.s - 4

    def _notes(self, ax, renderer, notes: list[tuple[str, ...]]) -> tuple[list, float]:
        """Draw the notes from the bottom of ``ax`` up; return them and their top (axes)."""
        y, drawn, width_pt = 0.0, [], self._width_pt(ax)
        for text, color, weight, gid in reversed(notes):
            t = self.text(
                ax, 0.0, y, _wrap(text, width_pt, 6.5), 6.5, color=color, weight=weight,
                ha="left", va="bottom", transform=ax.transAxes, linespacing=1.25, gid=gid,
            )  # fmt: skip
            drawn.append(t)
            y = t.get_window_extent(renderer).transformed(ax.transAxes.inverted()).y1 + 0.012
        return drawn, y

    def _gap_list(self, ax, renderer, panel: _Panel, top: float, bottom: float, width_pt):
        """The villages with a gap, farthest first, from ``top`` down to ``bottom`` (axes
        fractions): with the sentence that says why when they all fit, else one line each."""
        lang = panel.lang
        if not panel.gaps:
            self.text(
                ax, 0.0, top, _wrap(i18n.t("print.gap_none", lang, limit=panel.limit), width_pt,
                8), 8, ha="left", va="top", transform=ax.transAxes, color="#1a7a35",
                weight="bold",
            )  # fmt: skip
            return
        head = self.text(
            ax, 0.0, top, i18n.t("print.gap_list", lang, n=len(panel.gaps)), 8, weight="bold",
            ha="left", va="top", transform=ax.transAxes, color=STATUS_COLORS["flag"],
        )  # fmt: skip
        to_axes = ax.transAxes.inverted()
        start = head.get_window_extent(renderer).transformed(to_axes).y0
        line = self.page.fs(7) / 72.0 / (ax.get_position().height * self.fig.get_figheight())
        for detailed in (True, False):
            drawn, y = [], start - 0.5 * line
            for n, (name, dist, reason) in enumerate(panel.gaps, start=1):
                row = [
                    self.text(
                        ax, 0.0, y, f"{n}. {name}", 7, ha="left", va="top", color="#222222",
                        transform=ax.transAxes, weight="bold" if detailed else "normal",
                        gid="gap-name",
                    ),
                    self.text(
                        ax, 1.0, y, dist, 7, ha="right", va="top", transform=ax.transAxes,
                        color="#8b0000", weight="bold" if detailed else "normal", gid="gap-dist",
                    ),
                ]  # fmt: skip
                y -= 1.5 * line
                if detailed:
                    row.append(
                        self.text(
                            ax, 0.09, y + 0.2 * line, _wrap(reason, width_pt * 0.9, 6.3), 6.3,
                            ha="left", va="top", transform=ax.transAxes, color="#444444",
                            linespacing=1.25,
                        )
                    )  # fmt: skip
                    y = row[-1].get_window_extent(renderer).transformed(to_axes).y0 - 0.6 * line
                drawn.append(row)
                if y < bottom:
                    break
            if y >= bottom or not detailed:
                break
            for row in drawn:  # too long with the sentences: one line per village
                for t in row:
                    t.remove()
        if y < bottom or len(drawn) < len(panel.gaps):
            # make room for "... and n more" at the bottom
            while drawn and y < bottom + 1.5 * line:
                for t in drawn.pop():
                    t.remove()
                y += 1.5 * line
            y = (
                drawn[-1][0].get_window_extent(renderer).transformed(to_axes).y0 - 0.5 * line
                if drawn
                else start - 0.5 * line
            )
            self.text(
                ax, 0.0, y, i18n.t("print.gap_more", lang, n=len(panel.gaps) - len(drawn)), 7,
                ha="left", va="top", transform=ax.transAxes, color="#444444",
            )  # fmt: skip

    def _legend(self, ax, panel: _Panel, *, two_columns: bool):
        lang, s = panel.lang, self.page.s
        kind_name = i18n.t(f"kind.{panel.kind}", lang)
        handles: list = []
        labels: list[str] = []
        headers: list[int] = []

        def header(text: str) -> None:
            headers.append(len(labels))
            handles.append(Line2D([], [], linestyle="none"))
            labels.append(text)

        header(i18n.t("map.legend.villages", lang, kind=kind_name))
        for status in ("flag", "warn", "ok"):
            handles.append(
                Line2D(
                    [], [], linestyle="none", marker="o", markerfacecolor=STATUS_COLORS[status],
                    markeredgecolor="#222222", markersize=math.sqrt(_VILLAGE_SIZE[status]) * s,
                    markeredgewidth=(1.2 if status == "flag" else 0.6) * s,
                )
            )  # fmt: skip
            labels.append(i18n.t(f"map.status.{status}", lang, limit=panel.limit))
        handles.append(
            Patch(
                facecolor=(*_rgb(STATUS_COLORS["flag"]), 0.14), edgecolor=STATUS_COLORS["flag"],
                linewidth=1.3 * s,
            )
        )  # fmt: skip
        labels.append(i18n.t("map.legend.boundary", lang))
        handles.append(
            Line2D([], [], color=_STUDY_AREA_COLOR, linewidth=1.3 * s, linestyle=(0, (6, 3)))
        )
        labels.append(i18n.t("print.legend.study_area", lang))
        if panel.households_drawn:
            header(i18n.t("map.legend.households", lang, kind=kind_name))
            for _, color, label in _household_bins(lang):
                handles.append(
                    Line2D(
                        [], [], linestyle="none", marker="o", markerfacecolor=color,
                        markeredgecolor="#333333", markersize=math.sqrt(11) * s,
                        markeredgewidth=0.3,
                    )
                )  # fmt: skip
                labels.append(label)
        if panel.kinds_present or panel.proposed_kinds:
            header(i18n.t("map.legend.services", lang))
            for k in panel.kinds_present:
                handles.append(
                    Line2D(
                        [], [], linestyle="none", marker=SERVICE_MARKERS[k],
                        markerfacecolor=SERVICE_COLORS[k], markeredgecolor="white",
                        markersize=math.sqrt(70 if k == panel.kind else 42) * s,
                    )
                )  # fmt: skip
                labels.append(i18n.t(f"kind.{k}", lang))
            for k in panel.proposed_kinds:
                size = math.sqrt(1.6 * (70 if k == panel.kind else 42)) * s
                # a tuple is drawn as its artists on top of each other: symbol, then star
                handles.append(
                    (
                        Line2D(
                            [], [], linestyle="none", marker=SERVICE_MARKERS[k],
                            markerfacecolor=(*_rgb(SERVICE_COLORS[k]), 0.35),
                            markeredgecolor=SERVICE_COLORS[k], markeredgewidth=1.1 * s,
                            markersize=size,
                        ),
                        Line2D(
                            [], [], linestyle="none", marker=_PROPOSED_STAR,
                            markerfacecolor=_STAR_COLOR, markeredgecolor=_STAR_EDGE,
                            markeredgewidth=0.4, markersize=size,
                        ),
                    )
                )  # fmt: skip
                labels.append(i18n.t("map.legend.proposed", lang, kind=i18n.t(f"kind.{k}", lang)))
        if panel.area_bands:
            header(i18n.t("map.legend.service_areas", lang))
            for i, band in enumerate(panel.area_bands):
                color = _area_color(i)
                handles.append(
                    Patch(
                        facecolor=(*_rgb(color), 0.35), edgecolor=(*_rgb(color), 0.6),
                        linewidth=0.4 * s,
                    )
                )  # fmt: skip
                labels.append(_area_label(band, lang))
        header(i18n.t("map.legend.roads", lang))
        for group, key in (
            ("major", "map.legend.road_major"),
            ("minor", "map.legend.road_minor"),
            ("track", "map.legend.road_track"),
        ):
            color, _, dash = ROAD_GROUPS[group]
            style = "solid" if dash is None else (0, tuple(float(d) for d in dash.split()))
            handles.append(
                Line2D([], [], color=color, linewidth=_ROAD_WIDTH_PT[group] * s, linestyle=style)
            )
            labels.append(i18n.t(key, lang))

        names, effects = panel.conditions
        for show, color, width, style, key in (
            (panel.community, COMMUNITY_COLOR, 1.6, "solid", "map.legend.community"),
            ("closed" in effects, CLOSED_COLOR, 2.0, (0, (3, 2)), "map.legend.closed"),
            ("slowed" in effects, SLOWED_COLOR, 2.0, (0, (1, 2)), "map.legend.slowed"),
        ):
            if show:
                handles.append(Line2D([], [], color=color, linewidth=width * s, linestyle=style))
                labels.append(i18n.t(key, lang, names=names))

        width_pt = self._width_pt(ax)
        col_pt = width_pt / (2 if two_columns else 1) - 40
        labels = [lab if i in headers else _wrap(lab, col_pt, 7) for i, lab in enumerate(labels)]
        legend = ax.legend(
            handles, labels, loc="upper left", bbox_to_anchor=(0.0, 1.0), frameon=False,
            title=i18n.t("map.legend.title", lang), alignment="left",
            ncols=2 if two_columns else 1, borderaxespad=0.0, handlelength=2.2,
            handletextpad=0.6, labelspacing=0.45, columnspacing=1.2,
            prop=font_manager.FontProperties(family=self.families, size=7 * s),
            title_fontproperties=font_manager.FontProperties(
                family=self.families, size=9 * s, weight="bold"
            ),
        )  # fmt: skip
        for i, text in enumerate(legend.get_texts()):
            if i in headers:
                text.set_fontweight("bold")
                text.set_color("#222222")
        for i, handle in enumerate(legend.legend_handles):
            if i in headers and handle is not None:
                handle.set_visible(False)
        return legend


_VILLAGE_SIZE = {"flag": 52.0, "warn": 30.0, "ok": 22.0}  # marker area, points squared


def _rgb(color: str) -> tuple[float, float, float]:
    color = color.lstrip("#")
    return tuple(int(color[i : i + 2], 16) / 255.0 for i in (0, 2, 4))


def _offset(dx_pt: float, dy_pt: float, fig: Figure):
    from matplotlib.transforms import ScaledTranslation

    return ScaledTranslation(dx_pt / 72.0, dy_pt / 72.0, fig.dpi_scale_trans)


def _crs_name(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"{crs.name} (EPSG:{epsg})" if epsg else crs.name


# --------------------------------------------------------------------------------------------
# Writing


def write_print_map(fig: Figure, path: str | Path, *, dpi: int = 200) -> Path:
    """Save a printable map as PNG or PDF (by the file's suffix), atomically.

    Parameters
    ----------
    fig
        A figure from :func:`draw_print_map`; saved at its exact paper size (no cropping).
    path
        ``*.png`` or ``*.pdf``. An existing file is replaced only once the new one is complete.
    dpi
        Resolution of the PNG (dots per inch; 200 prints sharply, 300 for fine print). A PDF
        is vector and only uses it for nothing in our figures.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        ``error.print.suffix`` for any other suffix; nothing is written then.
    """
    path = Path(path)
    fmt = PRINT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            "error.print.suffix",
            file=path.name,
            suffix=path.suffix or "-",
            choices=", ".join(PRINT_FORMATS),
        )
    title = fig.get_label() or ""
    metadata = (
        {"Title": title, "Creator": "service-gap-mapper"}
        if fmt == "pdf"
        else {"Title": title, "Software": "service-gap-mapper"}
    )
    with atomic_path(path) as tmp, _missing_glyphs_allowed():
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
    return path


@contextlib.contextmanager
def _missing_glyphs_allowed() -> Iterator[None]:
    """Characters no installed font has (emoji in a name, say) print as empty boxes.

    matplotlib warns for each; the name is still whole in the tables and the HTML map, so a
    printout is not refused for it.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        yield
