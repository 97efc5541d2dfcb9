"""The report for the township: one PDF with the finding, the method and the evidence.

What a township official or a funder reads, on paper or on a phone (WeChat opens PDFs):

1. a cover: the area, the date, who made it, the data sources and OpenStreetMap's attribution,
   the privacy of the report, and the headline numbers;
2. the method in plain words: roads, snapping and off-road legs, thresholds, travel modes,
   what the community added;
3. an overview map (the printable map, :mod:`mapping.printmap`);
4. the table of the villages beyond the threshold, then one page per such village (the
   village card's content, :mod:`mapping.cards`, on A4), the farthest first;
5. the proposals and what they change, kindergarten capacity (two-step floating catchment,
   :mod:`mapping.capacity`) and the households within 1, 3, 5 and 10 km (before and after) as
   charts;
6. the caveats: long off-road legs, households placed by their village, missing roads,
   demo data.

Text is real text (searchable and copyable: matplotlib writes each font as an embedded Type 3
font with a ToUnicode map), never a picture of text. In ``committee`` mode the report holds no
household name, id, phone or position, only counts (``tests/test_report.py`` searches the
PDF's text for them). Villages beyond :data:`MAX_VILLAGE_PAGES` keep their row in the table;
their cards are in the cards folder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from layers import i18n
from layers.errors import GapMapperError
from layers.files import atomic_path
from mapping.cards import A4_PAGE, cards_for, draw_village_card
from mapping.gaps import km_text
from mapping.mapmodel import OSM_ATTRIBUTION, SERVICE_COLORS, MapModel, is_missing
from mapping.printmap import _font_families, _missing_glyphs_allowed, _text_width_pt, _wrap

matplotlib.use("Agg")

#: At most this many villages get a page of their own (the farthest first).
MAX_VILLAGE_PAGES = 60
#: Off-road legs longer than this (m) are listed among the caveats.
LONG_OFFROAD_M = 500.0

A4_MM = (210.0, 297.0)
_MARGIN_MM = 18.0
_INK = "#1b1b1b"
_GREY = "#555555"

i18n.register(
    {
        "report.subtitle": {
            "zh": "服务缺口报告：{kind}（标准 {limit} 公里）",
            "en": "Service-gap report: {kind} (threshold {limit} km)",
        },
        "report.made_by": {"zh": "制作：{who}", "en": "Made by {who}"},
        "report.date": {"zh": "日期：{date}", "en": "Date: {date}"},
        "report.sources": {"zh": "数据来源", "en": "Data sources"},
        "report.osm": {
            "zh": "道路与设施数据 © OpenStreetMap 贡献者，以开放数据库许可（ODbL）发布。",
            "en": "Road and facility data © OpenStreetMap contributors, available under the "
            "Open Database License (ODbL).",
        },
        "report.privacy.committee": {
            "zh": "本报告供村委会和乡镇使用：不含农户姓名、编号、电话或位置，农户只按村汇总。",
            "en": "For village committees and the township: no household name, id, phone or "
            "position; households count only in their village's totals.",
        },
        "report.privacy.displaced": {
            "zh": "本报告不含农户姓名、编号或电话；图上农户位置向随机方向移动了 300–600 米。",
            "en": "No household name, id or phone; households on maps are moved 300–600 m in "
            "a random direction.",
        },
        "report.privacy.full": {
            "zh": "本报告含农户详细信息，仅供工作团队内部使用，请勿外传。",
            "en": "This report holds household details: for the team's own use, do not share.",
        },
        "report.fictional": {
            "zh": "注意：示例数据是虚构的。",
            "en": "Note: the demo data is fictional.",
        },
        "report.headline": {"zh": "主要发现", "en": "What we found"},
        "report.headline.counts": {
            "zh": "村庄 {villages} 个，农户 {households} 户，儿童 {children} 名。",
            "en": "{villages} villages, {households} households, {children} children.",
        },
        "report.headline.flagged": {
            "zh": "{n} 个村到最近的{kind}超过 {limit} 公里（或无法到达），涉及 {hh} 户、{kids} 名儿童。",
            "en": "{n} villages are more than {limit} km from the nearest {kind} (or cannot "
            "reach one), with {hh} households and {kids} children.",
        },
        "report.headline.none": {
            "zh": "没有村庄到最近的{kind}超过 {limit} 公里。",
            "en": "No village is more than {limit} km from the nearest {kind}.",
        },
        "report.method": {"zh": "方法", "en": "How it was measured"},
        "report.method.roads": {
            "zh": "道路：{source}中可供{mode}通行的道路，共 {n} 段、{km} 公里。",
            "en": "Roads: the roads of {source} usable by {mode}: {n} segments, {km} km.",
        },
        "report.method.roads_source_osm": {"zh": "OpenStreetMap", "en": "OpenStreetMap"},
        "report.method.roads_source_demo": {
            "zh": "示例数据（虚构）",
            "en": "the demo data (fictional)",
        },
        "report.method.snap": {
            "zh": "连接道路：每个农户、村庄和{kind}都连接到离它最近的道路上。从所在位置到道路的直线"
            "（离路段）计入距离，按步行速度 {walk} 公里/小时计时。",
            "en": "Joining the roads: every household, village and {kind} is joined to the "
            "nearest road. The straight leg from where it is to that road (the off-road leg) "
            "counts in the distance and is timed at walking speed, {walk} km/h.",
        },
        "report.method.route": {
            "zh": "距离：沿道路到最近的{kind}的最短路线（单行道对机动车有效），不是直线距离。",
            "en": "Distance: the shortest way along the roads to the nearest {kind} (one-way "
            "streets count for vehicles), not a straight line.",
        },
        "report.method.threshold": {
            "zh": "标准：{kind} {limit} 公里。村庄中心点超过标准或无法到达，记为缺口（红色）；"
            "村庄本身在标准内但有农户超过标准的，记为橙色。",
            "en": "Threshold: {kind} {limit} km. A village whose point is beyond it, or cannot "
            "reach a {kind}, has a gap (red); a village within it but with some households "
            "beyond it is orange.",
        },
        "report.method.mode": {
            "zh": "出行方式：{mode}。时间按各类道路的车速计算（公里/小时）：{speeds}。",
            "en": "Travel mode: {mode}. Times use these speeds per road class (km/h): {speeds}.",
        },
        "report.method.community": {
            "zh": "社区补充：本次分析没有社区补充的道路或封路。",
            "en": "Community additions: this analysis has no roads or closures added by the "
            "community.",
        },
        "report.class.primary": {"zh": "一级道路", "en": "primary"},
        "report.class.secondary": {"zh": "二级道路", "en": "secondary"},
        "report.class.tertiary": {"zh": "三级道路", "en": "tertiary"},
        "report.class.unclassified": {"zh": "乡村道路", "en": "unclassified"},
        "report.class.residential": {"zh": "村内道路", "en": "residential"},
        "report.class.track": {"zh": "土路", "en": "track"},
        "report.method.community_roads": {
            "zh": "社区补充的道路：{n} 条，共 {km} 公里（用手机记录的轨迹或在地图上画的线），"
            "在与已有道路相交或相距 {join} 米以内处连入路网；沿已有道路重复的部分不计。",
            "en": "Roads added by the community: {n}, {km} km in all (tracks recorded with a "
            "phone or lines drawn on the map), joined to the roads where they meet them or "
            "come within {join} m; stretches along existing roads are left out.",
        },
        "report.method.conditions": {
            "zh": "路况：按“{names}”计算，{closed} 段道路封闭，{slowed} 段限速。",
            "en": "Road conditions: computed for '{names}': {closed} road segments closed, "
            "{slowed} slowed.",
        },
        "report.table": {
            "zh": "超过标准的村庄（{n} 个）",
            "en": "Villages beyond the threshold ({n})",
        },
        "report.table.name": {"zh": "村庄", "en": "Village"},
        "report.table.dist": {"zh": "距离（公里）", "en": "Distance (km)"},
        "report.table.time": {"zh": "时间（分钟）", "en": "Time (min)"},
        "report.table.households": {"zh": "超标农户", "en": "Households beyond"},
        "report.table.children": {"zh": "儿童", "en": "Children"},
        "report.table.nearest": {"zh": "最近的{kind}", "en": "Nearest {kind}"},
        "report.table.more_pages": {
            "zh": "下面有其中 {shown} 个村的单页；其余 {rest} 个村见村庄卡片。",
            "en": "Pages for {shown} of them follow; the other {rest} are in the village cards.",
        },
        "report.unreachable": {"zh": "无法到达", "en": "unreachable"},
        "report.proposals": {"zh": "拟建方案的效果", "en": "What the proposals change"},
        "report.proposals.none": {
            "zh": "本报告没有拟建方案。",
            "en": "This report has no proposals.",
        },
        "report.proposals.item": {
            "zh": "{name}（{kind}）：经度 {lon}，纬度 {lat}",
            "en": "{name} ({kind}): lon {lon}, lat {lat}",
        },
        "report.proposals.effect": {
            "zh": "超标村庄 {vb} → {va} 个；超标农户 {hb} → {ha} 户；涉及儿童 {cb} → {ca} 名。",
            "en": "Villages beyond: {vb} → {va}; households beyond: {hb} → {ha}; children: "
            "{cb} → {ca}.",
        },
        "report.capacity": {
            "zh": "{kind}学位是否够用（两步移动搜索法）",
            "en": "Are there enough places? ({kind}, two-step floating catchment)",
        },
        "report.capacity.axis": {
            "zh": "每名儿童的学位（{limit} 公里以内）",
            "en": "Places per child within {limit} km",
        },
        "report.capacity.none": {
            "zh": "没有{kind}的学位数，无法计算是否够用。",
            "en": "No {kind} has a known number of places, so capacity cannot be assessed.",
        },
        "report.capacity.note": {
            "zh": "数值小于 1 表示附近的儿童比学位多（红色）。",
            "en": "Below 1, more children live around it than it has places (red).",
        },
        "report.coverage": {
            "zh": "到最近的{kind}的距离：各距离以内的农户",
            "en": "Households within each distance of the nearest {kind}",
        },
        "report.coverage.axis": {"zh": "农户占比", "en": "Share of households"},
        "report.coverage.band": {"zh": "{km} 公里以内", "en": "within {km} km"},
        "report.coverage.before": {"zh": "现状", "en": "now"},
        "report.coverage.after": {"zh": "建成拟建后", "en": "with the proposals"},
        "report.caveats": {"zh": "需要注意的地方", "en": "Caveats"},
        "report.caveats.offroad": {
            "zh": "{hh} 户、{villages} 个村离最近的道路超过 {m} 米（可能缺少道路）：{names}。"
            "这些地方值得用手机记录实际走的路。",
            "en": "{hh} households and {villages} villages are more than {m} m from the nearest "
            "road (a road may be missing): {names}. These are the places to record the way "
            "people actually go with a phone.",
        },
        "report.caveats.offroad_none": {
            "zh": "所有农户和村庄离道路都不超过 {m} 米。",
            "en": "Every household and village is within {m} m of a road.",
        },
        "report.caveats.located": {
            "zh": "{n} 户没有坐标，按所在村的位置计算。",
            "en": "{n} households had no coordinates and were placed at their village.",
        },
        "report.caveats.roads": {
            "zh": "距离按地图上已有的道路计算；地图上缺少的土路会让距离偏长，季节性封路会让实际距离更长。",
            "en": "Distances follow the roads on the map: a dirt track missing from it makes "
            "a distance too long, and a road closed in some seasons makes the real way longer.",
        },
        "report.page": {"zh": "第 {n} 页", "en": "Page {n}"},
    }
)


class _Pages:
    """A4 pages of text and charts, written one by one into a PDF."""

    def __init__(self, pdf: PdfPages, model: MapModel, families: list[str]) -> None:
        self.pdf = pdf
        self.model = model
        self.families = families
        self.fig: Figure | None = None
        self.y = 0.0  # mm from the top
        self.n = 0

    # -- pages

    def new(self) -> Figure:
        self.finish()
        self.fig = Figure(figsize=(A4_MM[0] / 25.4, A4_MM[1] / 25.4))
        FigureCanvasAgg(self.fig)
        self.y = _MARGIN_MM
        return self.fig

    def finish(self) -> None:
        if self.fig is not None:
            self.footer(self.fig)
            self.save(self.fig)
            self.fig = None

    def save(self, fig: Figure) -> None:
        with _missing_glyphs_allowed():
            self.pdf.savefig(fig)
        self.n += 1

    def footer(self, fig: Figure) -> None:
        text = f"{self.model.title} · {self.model.t('report.page', n=self.n + 1)}"
        fig.text(0.5, 8 / A4_MM[1], text, ha="center", va="bottom", fontsize=8, color=_GREY,
                 fontfamily=self.families, parse_math=False)  # fmt: skip

    def room(self, mm: float) -> None:
        """Start a new page unless ``mm`` more fit on this one."""
        if self.fig is None or self.y + mm > A4_MM[1] - _MARGIN_MM - 6:
            self.new()

    # -- text

    def text(self, s: str, size: float, **kw) -> None:
        """One line at the cursor."""
        self.fig.text(
            _MARGIN_MM / A4_MM[0], 1 - self.y / A4_MM[1], s, fontsize=size, va="top",
            fontfamily=self.families, parse_math=False, color=kw.pop("color", _INK), **kw,
        )  # fmt: skip

    def heading(self, s: str, size: float = 16) -> None:
        self.room(size * 0.6 + 20)
        self.y += 2
        self.paragraph(s, size, weight="bold", after=3)

    def paragraph(
        self, s: str, size: float = 10.5, *, after: float = 2.5, indent: float = 0.0, **kw
    ) -> None:
        width_pt = (A4_MM[0] - 2 * _MARGIN_MM - indent) / 25.4 * 72
        line_mm = size * 1.45 / 72 * 25.4
        for line in _wrap(s, width_pt, size).split("\n"):
            self.room(line_mm)
            self.fig.text(
                (_MARGIN_MM + indent) / A4_MM[0], 1 - self.y / A4_MM[1], line, fontsize=size,
                va="top", fontfamily=self.families, parse_math=False,
                color=kw.get("color", _INK), weight=kw.get("weight", "normal"),
            )  # fmt: skip
            self.y += line_mm
        self.y += after

    def table(self, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        """A table (column widths in mm); the header repeats on every page.

        Each column of a page is one text of many lines (a text per cell made a 500-village
        table take 15 s): rows are one line each, cut to their column, so the lines line up.
        """
        size, line_mm = 9.0, 5.6
        spacing = line_mm / (size / 72 * 25.4)  # line height as a multiple of the font size
        cut = [[_cut(c, w / 25.4 * 72 - 4, size) for c, w in zip(r, widths, strict=True)]
               for r in rows]  # fmt: skip

        def block(cells: list[list[str]], bold: bool) -> None:
            x = _MARGIN_MM
            for col, w in enumerate(widths):
                self.fig.text(
                    x / A4_MM[0], 1 - self.y / A4_MM[1], "\n".join(r[col] for r in cells),
                    fontsize=size, va="top", fontfamily=self.families, parse_math=False,
                    weight="bold" if bold else "normal", color=_INK, linespacing=spacing,
                )  # fmt: skip
                x += w
            self.y += line_mm * len(cells)

        self.room(line_mm * 3)
        start = 0
        while start < len(cut):
            block([header], True)
            fit = max(1, int((A4_MM[1] - _MARGIN_MM - 6 - self.y) // line_mm))
            block(cut[start : start + fit], False)
            start += fit
            if start < len(cut):
                self.new()
        self.y += 3

    def chart(self, height_mm: float, left_mm: float = 14.0):
        """Axes ``height_mm`` high across the text width, at the cursor (``left_mm`` kept
        for the labels of the y axis)."""
        self.room(height_mm + 8)
        left = (_MARGIN_MM + left_mm) / A4_MM[0]
        width = (A4_MM[0] - 2 * _MARGIN_MM - left_mm - 4) / A4_MM[0]
        bottom = 1 - (self.y + height_mm) / A4_MM[1]
        ax = self.fig.add_axes([left, bottom, width, height_mm / A4_MM[1]])
        self.y += height_mm + 12
        return ax


def _cut(text: str, width_pt: float, size: float) -> str:
    if _text_width_pt(text, size) <= width_pt:
        return text
    while text and _text_width_pt(text + "…", size) > width_pt:
        text = text[:-1]
    return text + "…"


def _km(metres: object, limit_m: float | None = None) -> str:
    if is_missing(metres) or not math.isfinite(float(metres)):
        return ""
    return km_text(float(metres), limit_m)


def flagged_villages(model: MapModel) -> pd.DataFrame:
    """The villages beyond the threshold, the farthest first (unreachable ones first of all)."""
    return model.analysis.villages.loc[cards_for(model, "flagged")]


def write_report(
    model: MapModel,
    path: str | Path,
    *,
    after: MapModel | None = None,
    author: str = "",
    max_village_pages: int = MAX_VILLAGE_PAGES,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the report PDF (see the module docstring), all-or-nothing.

    Parameters
    ----------
    model
        The map model of the analysis as it is now (:func:`mapping.mapmodel.build_map_model`):
        its kind, language and privacy mode are the report's.
    path
        The ``.pdf`` to write.
    after
        The same with proposals applied, for the proposals' pages and the before/after charts.
    author
        Who made the report (a name, a team), printed on the cover when given.
    max_village_pages
        At most this many villages get a page (the farthest first).
    progress
        Called with (pages done, pages planned) as pages are drawn.

    Raises
    ------
    SettingsError
        ``error.print.no_cjk_font`` when the report needs Chinese and no Chinese font is
        installed (the message names the package to install).
    """
    path = Path(path)
    v = model.analysis.villages
    families = _font_families(
        model.lang, [model.title, *[str(n) for n in v["village_name"].dropna()]]
    )
    flagged = flagged_villages(model)
    paged = list(flagged.index[:max_village_pages])
    planned = 6 + len(paged)
    with atomic_path(path) as tmp, PdfPages(tmp, metadata=_metadata(model, author)) as pdf:
        pages = _Pages(pdf, model, families)
        for done, _ in enumerate(_draw(pages, model, after, author, flagged, paged), start=1):
            if progress is not None:
                progress(min(done, planned), planned)
        pages.finish()
    return path


def _metadata(model: MapModel, author: str) -> dict:
    return {
        "Title": f"{model.title} · {model.t('report.subtitle', kind=model.kind_name, limit=model.limit_text)}",
        "Author": author or "",
        "Subject": model.t("report.headline"),
        "Creator": "Community service-gap mapper",
    }


def _draw(pages: _Pages, model, after, author, flagged, paged) -> Iterator[None]:
    _cover(pages, model, author, flagged)
    yield
    _method(pages, model)
    yield
    pages.finish()
    yield from _overview(pages, model)
    _table(pages, model, flagged, paged)
    yield
    for vid in paged:
        pages.finish()
        fig = draw_village_card(model, vid, after=after, layout=A4_PAGE)
        pages.footer(fig)
        pages.save(fig)
        yield
    pages.new()
    _proposals(pages, model, after)
    _capacity(pages, model, after)
    _coverage(pages, model, after)
    yield
    _caveats(pages, model)
    yield


def _cover(pages: _Pages, model: MapModel, author: str, flagged: pd.DataFrame) -> None:
    a = model.analysis
    pages.new()
    pages.y = 60
    pages.paragraph(model.title, 24, weight="bold", after=4)
    pages.paragraph(
        model.t("report.subtitle", kind=model.kind_name, limit=model.limit_text), 15, after=10
    )
    if author:
        pages.paragraph(model.t("report.made_by", who=author), 11)
    pages.paragraph(model.t("report.date", date=model.made_on.isoformat()), 11, after=8)
    pages.heading(model.t("report.headline"), 14)
    hh = a.households
    kids = int(hh["children"].fillna(0).sum()) if "children" in hh else 0
    pages.paragraph(
        model.t("report.headline.counts", villages=len(a.villages), households=len(hh),
                children=kids), 11,
    )  # fmt: skip
    k = model.kind
    if len(flagged):
        pages.paragraph(
            model.t(
                "report.headline.flagged", n=len(flagged), kind=model.kind_name,
                limit=model.limit_text, hh=int(a.villages[f"n_hh_beyond_{k}"].sum()),
                kids=int(a.villages[f"n_children_beyond_{k}"].fillna(0).sum()),
            ),
            11, weight="bold",
        )  # fmt: skip
        for sentence in flagged[f"reason_{k}_{model.lang}"].head(3):
            pages.paragraph("· " + str(sentence), 10.5, indent=3)
    else:
        pages.paragraph(
            model.t("report.headline.none", kind=model.kind_name, limit=model.limit_text), 11
        )
    pages.y += 4
    pages.heading(model.t("report.sources"), 12)
    for source in a.scenario.sources:
        if source:
            pages.paragraph("· " + str(source), 9.5, indent=3)
    pages.paragraph(model.t("report.osm"), 9.5)
    pages.paragraph(model.t(f"report.privacy.{model.privacy}"), 9.5, weight="bold")
    if model.fictional:
        pages.paragraph(model.t("report.fictional"), 9.5, color="#7a4b00")


def _method(pages: _Pages, model: MapModel) -> None:
    a, s = model.analysis, model.analysis.settings
    net = a.network
    mode = model.t(f"mode.{s.mode}")
    source = model.t(
        "report.method.roads_source_demo" if model.fictional else "report.method.roads_source_osm"
    )
    speeds = s.class_speeds_kmh()
    shown = ("，" if model.lang == "zh" else ", ").join(
        f"{model.t(f'report.class.{cls}')} {speeds[cls]:g}"
        for cls in ("primary", "secondary", "tertiary", "unclassified", "residential", "track")
        if cls in speeds
    )
    pages.new()
    pages.heading(model.t("report.method"))
    for text in (
        model.t("report.method.roads", source=source, mode=mode, n=f"{net.n_segments:,}",
                km=f"{float(net.seg_len_m.sum()) / 1000:,.0f}"),
        model.t("report.method.snap", kind=model.kind_name, walk=f"{s.walk_speed_kmh:g}"),
        model.t("report.method.route", kind=model.kind_name),
        model.t("report.method.threshold", kind=model.kind_name, limit=model.limit_text),
        model.t("report.method.mode", mode=mode, speeds=shown),
        *_community_method(model),
    ):  # fmt: skip
        pages.paragraph(text, 10.5, after=4)


def _community_method(model: MapModel) -> list[str]:
    """What the community added, in words (or that it added nothing)."""
    out = []
    if model.community is not None:
        out.append(
            model.t(
                "report.method.community_roads", n=len(model.community),
                km=f"{float(model.community['length_m'].sum()) / 1000:.1f}",
                join=f"{model.community_join_m:g}",
            )
        )  # fmt: skip
    if model.conditions is not None:
        effect = model.conditions["effect"]
        out.append(
            model.t(
                "report.method.conditions",
                names=("、" if model.lang == "zh" else ", ").join(model.condition_names),
                closed=int((effect == "closed").sum()), slowed=int((effect == "slowed").sum()),
            )
        )  # fmt: skip
    return out or [model.t("report.method.community")]


def _overview(pages: _Pages, model: MapModel) -> Iterator[None]:
    import matplotlib.pyplot as plt

    from mapping.printmap import draw_print_model

    fig = draw_print_model(model, paper="A4", orientation="portrait")
    try:
        pages.footer(fig)
        pages.save(fig)
    finally:
        plt.close(fig)
    yield


def _table(pages: _Pages, model: MapModel, flagged: pd.DataFrame, paged: list) -> None:
    k = model.kind
    pages.new()
    pages.heading(model.t("report.table", n=len(flagged)))
    if not len(flagged):
        pages.paragraph(
            model.t("report.headline.none", kind=model.kind_name, limit=model.limit_text), 11
        )
        return
    if len(paged) < len(flagged):
        pages.paragraph(
            model.t("report.table.more_pages", shown=len(paged), rest=len(flagged) - len(paged)),
            9.5,
        )
    header = [
        model.t("report.table.name"),
        model.t("report.table.dist"),
        model.t("report.table.time"),
        model.t("report.table.households"),
        model.t("report.table.children"),
        model.t("report.table.nearest", kind=model.kind_name),
    ]
    rows = []
    for _, v in flagged.iterrows():
        minutes = v.get(f"time_{k}_min")
        kids = v[f"n_children_beyond_{k}"]
        rows.append(
            [
                str(v["village_name"]),
                _km(v[f"dist_{k}_m"], model.limit_m) or model.t("report.unreachable"),
                "" if is_missing(minutes) else f"{float(minutes):.0f}",
                str(int(v[f"n_hh_beyond_{k}"])),
                "" if is_missing(kids) else str(int(kids)),
                "" if is_missing(v.get(f"nearest_{k}")) else str(v[f"nearest_{k}"]),
            ]
        )
    pages.table(header, rows, [40, 21, 21, 22, 14, 56])


def _proposals(pages: _Pages, model: MapModel, after: MapModel | None) -> None:
    from mapping.whatif import compare_gaps

    pages.heading(model.t("report.proposals"))
    if after is None or not after.proposed.any():
        pages.paragraph(model.t("report.proposals.none"), 10.5)
        return
    svc = after.analysis.services[after.proposed]
    for _, row in svc.iterrows():
        pages.paragraph(
            "· " + model.t(
                "report.proposals.item", name=str(row["name"]),
                kind=model.t(f"kind.{row['kind']}"), lon=f"{row.geometry.x:.5f}",
                lat=f"{row.geometry.y:.5f}",
            ),
            10.5, indent=3,
        )  # fmt: skip
    n = compare_gaps(model.analysis, after.analysis, model.kind)
    (vb, va), (hb, ha), (cb, ca) = (
        n["villages_flagged"],
        n["households_beyond"],
        n["children_beyond"],
    )
    pages.paragraph(
        model.t("report.proposals.effect", vb=vb, va=va, hb=hb, ha=ha, cb=cb, ca=ca),
        11, weight="bold",
    )  # fmt: skip


def _capacity(pages: _Pages, model: MapModel, after: MapModel | None) -> None:
    from mapping.capacity import compute_2sfca

    if model.kind not in ("kindergarten", "childcare"):
        return
    analysis = (after or model).analysis
    pages.heading(model.t("report.capacity", kind=model.kind_name), 13)
    try:
        _, svc = compute_2sfca(analysis, model.kind)
    except GapMapperError:
        svc = pd.DataFrame(columns=["supply_demand_ratio"])
    svc = svc[svc["supply_demand_ratio"].notna()] if len(svc) else svc
    if not len(svc):
        pages.paragraph(model.t("report.capacity.none", kind=model.kind_name), 10.5)
        return
    svc = svc.sort_values("supply_demand_ratio").head(25)
    ratio = svc["supply_demand_ratio"].astype(float).to_numpy()
    height = 8 + 6 * len(svc)
    names = [_cut(str(n), 150, 8) for n in svc["name"]]
    label_mm = max(_text_width_pt(n, 8) for n in names) / 72 * 25.4 + 4
    ax = pages.chart(height, left_mm=label_mm)
    colors = ["#d7191c" if r < 1 else SERVICE_COLORS.get(model.kind, "#555555") for r in ratio]
    ax.barh(np.arange(len(svc)), ratio, color=colors)
    ax.set_yticks(np.arange(len(svc)), names, fontsize=8, fontfamily=pages.families)
    ax.axvline(1.0, color=_INK, lw=0.8, ls="--")
    ax.set_xlabel(model.t("report.capacity.axis", limit=model.limit_text),
                  fontsize=9, fontfamily=pages.families)  # fmt: skip
    ax.tick_params(axis="x", labelsize=8)
    _text_only(ax)
    pages.paragraph(model.t("report.capacity.note"), 9.5)


def _coverage(pages: _Pages, model: MapModel, after: MapModel | None) -> None:
    from mapping.coverage import DEFAULT_BANDS_M, coverage_table

    a = model.analysis
    if not len(a.households):
        return
    table = coverage_table(
        a, model.kind, DEFAULT_BANDS_M, by="overall", after=after.analysis if after else None
    )
    pages.heading(model.t("report.coverage", kind=model.kind_name), 13)
    ax = pages.chart(60)
    x = np.arange(len(table))
    if after is None:
        ax.bar(x, table["share_hh_within"].astype(float), color="#3182bd",
               label=model.t("report.coverage.before"))  # fmt: skip
    else:
        ax.bar(x - 0.2, table["share_hh_within_before"].astype(float), width=0.4,
               color="#9ecae1", label=model.t("report.coverage.before"))  # fmt: skip
        ax.bar(x + 0.2, table["share_hh_within_after"].astype(float), width=0.4,
               color="#08519c", label=model.t("report.coverage.after"))  # fmt: skip
    labels = [model.t("report.coverage.band", km=f"{b / 1000:g}") for b in table["band_m"]]
    ax.set_xticks(x, labels, fontsize=9, fontfamily=pages.families)
    ax.set_ylim(0, 1)
    ax.set_ylabel(model.t("report.coverage.axis"), fontsize=9, fontfamily=pages.families)
    ax.legend(prop={"family": pages.families, "size": 9}, loc="upper left")
    _text_only(ax)


def _text_only(ax) -> None:
    """Charts' tick labels as plain text (names may hold ``$``)."""
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        label.set_parse_math(False)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)


def _caveats(pages: _Pages, model: MapModel) -> None:
    a = model.analysis
    pages.heading(model.t("report.caveats"))
    hh_far = int((a.households["offroad_m"] > LONG_OFFROAD_M).sum())
    vil_far = a.villages[a.villages["offroad_m"] > LONG_OFFROAD_M]
    if hh_far or len(vil_far):
        names = (
            "、".join(map(str, vil_far["village_name"].head(8)))
            if model.lang == "zh"
            else (", ".join(map(str, vil_far["village_name"].head(8))))
        )
        pages.paragraph(
            model.t("report.caveats.offroad", hh=hh_far, villages=len(vil_far),
                    m=f"{LONG_OFFROAD_M:g}", names=names or "—"), 10.5,
        )  # fmt: skip
    else:
        pages.paragraph(model.t("report.caveats.offroad_none", m=f"{LONG_OFFROAD_M:g}"), 10.5)
    if "located" in a.households:
        n = int((a.households["located"] == "village").sum())
        if n:
            pages.paragraph(model.t("report.caveats.located", n=n), 10.5)
    pages.paragraph(model.t("report.caveats.roads"), 10.5)
    if model.fictional:
        pages.paragraph(model.t("report.fictional"), 10.5, color="#7a4b00")
    pages.paragraph(OSM_ATTRIBUTION, 9, color=_GREY)
