"""What a map shows, whatever draws it: one model for every renderer.

The offline HTML map (:mod:`mapping.maps`, folium), the printable map (:mod:`mapping.printmap`,
matplotlib), the village cards (:mod:`mapping.cards`) and the report's pages
(:mod:`mapping.report`) all draw the same things: the roads by style group, the villages
coloured by their gap status, the services (proposals apart), optionally service areas, and the
households as the privacy mode allows. :func:`build_map_model` checks the options once,
applies the privacy mode once (committee: no household; displaced: households moved by
:func:`mapping.privacy.displaced_households`; full: where they are) and works out the texts and
the lists (kinds present, proposed kinds, area bands) that every renderer shows; the renderers
only draw it.

The colours, style groups and class edges below are shared by every renderer, so a village is
the same red on the screen, on paper and on a phone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
from layers.errors import InputError, SettingsError
from layers.services import SERVICE_KINDS
from mapping.privacy import DISPLACE_MAX_M, DISPLACE_MIN_M, displaced_households

if TYPE_CHECKING:
    from mapping.analysis import Analysis

#: Privacy modes of :func:`draw_map`, from the least detail to the most: ``committee`` (village
#: totals only), ``displaced`` (households moved 300-600 m at random, nothing personal) -- both
#: for sharing -- and ``full`` (the team's own use).
PRIVACY_MODES = ("committee", "displaced", "full")
#: Household distance classes (metres): <1, 1-3, 3-5, 5-10, >10 km. Fixed rather than relative
#: to the threshold so that maps of different kinds and settings read the same way; 5 and
#: 10 km are also the default kindergarten and school thresholds.
HOUSEHOLD_BINS_M = (1_000.0, 3_000.0, 5_000.0, 10_000.0)
#: Fill colour of each household distance class, nearest first (ColorBrewer RdYlGn, reversed).
HOUSEHOLD_COLORS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")

UNREACHABLE_COLOR = "#7f7f7f"

#: Village gap status colours: flagged (the village point is beyond the threshold or cannot
#: reach the service), warned (some households are beyond it), fine.
STATUS_COLORS = {"flag": "#d7191c", "warn": "#fd8d3c", "ok": "#1a9641"}

#: Leaflet attribution for the road vectors (OSM's licence asks for it on every map).
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

#: The ``source`` of proposed services (:mod:`mapping.whatif`, :mod:`mapping.planning`).
PROPOSED_SOURCE = "proposed"

#: Fill colour of each kind's symbol (the inline SVGs above; the printable map uses the same).
SERVICE_COLORS = {"kindergarten": "#7b3294", "school": "#2166ac", "childcare": "#01665e"}

#: Fill colours of the service-area bands, nearest band first (ColorBrewer Blues: apart from
#: the red-to-green gap colours); bands beyond the fifth take the last colour.
SERVICE_AREA_COLORS = ("#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef")

#: Community roads (recorded tracks, drawn lines): orange, which no road style uses; closed
#: roads dark red and dashed, slowed ones amber and dotted.
COMMUNITY_COLOR = "#e66101"
CLOSED_COLOR = "#b2182b"
SLOWED_COLOR = "#f1a340"

#: Ring around households a proposal would newly bring within the threshold (``full`` only):
#: cyan, which no distance class, gap status or service uses.
HIGHLIGHT_COLOR = "#00bcd4"

# Road styles by group: (colour, width px, dash pattern). Greys so the coloured villages and
# services stand out; tracks (the usual dirt roads on the steppe) brown and dashed.
ROAD_GROUPS: dict[str, tuple[str, float, str | None]] = {
    "major": ("#4d4d4d", 5.0, None),
    "primary": ("#5c5c5c", 4.0, None),
    "secondary": ("#6b6b6b", 3.5, None),
    "tertiary": ("#7a7a7a", 3.0, None),
    "minor": ("#8c8c8c", 2.0, None),
    "service": ("#9e9e9e", 1.5, None),
    "track": ("#a0522d", 1.8, "5 3"),
    "path": ("#9e9e9e", 1.0, "2 3"),
}

ROAD_GROUP_OF = {
    "motorway": "major",
    "motorway_link": "major",
    "trunk": "major",
    "trunk_link": "major",
    "primary": "primary",
    "primary_link": "primary",
    "secondary": "secondary",
    "secondary_link": "secondary",
    "tertiary": "tertiary",
    "tertiary_link": "tertiary",
    "unclassified": "minor",
    "residential": "minor",
    "living_street": "minor",
    "road": "minor",
    "busway": "minor",
    "service": "service",
    "track": "track",
}

i18n.register(
    {
        "map.default_title": {"zh": "服务可达性地图", "en": "Service access map"},
        "map.subtitle": {
            "zh": "{kind}：村庄与道路距离（标准 {limit} 公里）",
            "en": "{kind}: villages and road distance (threshold {limit} km)",
        },
        "map.made_on": {
            "zh": "制图日期 {date} · 语言：中文",
            "en": "Made on {date} · Language: English",
        },
        "map.fictional": {
            "zh": "注意：示例数据是虚构的，不代表真实情况。",
            "en": "Note: the demo data is fictional; it does not describe real places or people.",
        },
        "map.full_banner": {
            "zh": "完整信息：仅供工作团队内部使用，请勿外传",
            "en": "Full detail: for the team's own use, do not share",
        },
        "map.layer.roads": {"zh": "道路", "en": "Roads"},
        "map.draw.button": {"zh": "在地图上选一个位置", "en": "Choose a place on the map"},
        "map.draw.start": {"zh": "点击地图放下位置点", "en": "Click the map to drop the point"},
        "map.draw.cancel": {"zh": "取消", "en": "Cancel"},
        "map.layer.boundaries": {"zh": "村界", "en": "Village boundaries"},
        "map.layer.villages": {"zh": "村庄", "en": "Villages"},
        "map.layer.households": {"zh": "住户", "en": "Households"},
        "map.layer.study_area": {"zh": "研究区范围", "en": "Study area"},
        "map.layer.services": {"zh": "{kind}", "en": "{kind}"},
        "map.layer.osm_tiles": {
            "zh": "OpenStreetMap 底图（需联网）",
            "en": "OpenStreetMap tiles (needs internet)",
        },
        "map.legend.title": {"zh": "图例", "en": "Legend"},
        "map.legend.villages": {"zh": "村庄（到{kind}）", "en": "Villages (to {kind})"},
        "map.legend.households": {
            "zh": "住户到{kind}的道路距离",
            "en": "Households: road distance to {kind}",
        },
        "map.legend.services": {"zh": "服务设施", "en": "Services"},
        "map.legend.roads": {"zh": "道路", "en": "Roads"},
        "map.legend.road_major": {"zh": "主要道路", "en": "Main roads"},
        "map.legend.road_minor": {"zh": "乡村道路", "en": "Minor roads"},
        "map.legend.road_track": {"zh": "土路 / 机耕路", "en": "Tracks"},
        "map.legend.boundary": {"zh": "村界", "en": "Village boundary"},
        "map.legend.committee": {
            "zh": "住户只按村汇总显示（点击村庄查看）。",
            "en": "Households are shown only as village totals (click a village).",
        },
        "map.legend.displaced": {
            "zh": "为保护住户家庭，图上每户的位置都向随机方向移动了 {min_m}–{max_m} 米；"
            "距离按真实位置沿道路计算。",
            "en": "To protect families, every household is drawn {min_m}–{max_m} m from its "
            "true position, in a random direction; distances are by road from the true "
            "positions.",
        },
        "map.layer.households_displaced": {
            "zh": "住户（位置已随机移动）",
            "en": "Households (positions moved)",
        },
        "map.status.flag": {
            "zh": "缺口：超过 {limit} 公里或无法到达",
            "en": "Gap: beyond {limit} km or unreachable",
        },
        "map.status.warn": {
            "zh": "部分住户超过 {limit} 公里",
            "en": "Some households beyond {limit} km",
        },
        "map.status.ok": {"zh": "在 {limit} 公里以内", "en": "Within {limit} km"},
        "map.bin.below": {"zh": "< {hi} 公里", "en": "< {hi} km"},
        "map.bin.between": {"zh": "{lo}–{hi} 公里", "en": "{lo}–{hi} km"},
        "map.bin.above": {"zh": "> {lo} 公里", "en": "> {lo} km"},
        "map.bin.unreachable": {"zh": "沿道路无法到达", "en": "Not reachable by road"},
        "map.popup.households": {"zh": "住户", "en": "Households"},
        "map.popup.children": {"zh": "儿童", "en": "Children"},
        "map.popup.median": {
            "zh": "住户到{kind}距离（中位数）",
            "en": "Household distance to {kind} (median)",
        },
        "map.popup.max": {"zh": "最远住户", "en": "Farthest household"},
        "map.popup.beyond": {"zh": "超过 {limit} 公里的住户", "en": "Households beyond {limit} km"},
        "map.popup.beyond_value": {
            "zh": "{n} 户（{children} 名儿童）",
            "en": "{n} ({children} children)",
        },
        "map.popup.km": {"zh": "{km} 公里", "en": "{km} km"},
        "map.popup.unknown": {"zh": "—", "en": "—"},
        "map.popup.household_id": {"zh": "住户编号", "en": "Household id"},
        "map.popup.name": {"zh": "户主", "en": "Name"},
        "map.popup.phone": {"zh": "电话", "en": "Phone"},
        "map.popup.village": {"zh": "所属村", "en": "Village"},
        "map.popup.distance": {"zh": "到{kind}的道路距离", "en": "Road distance to {kind}"},
        "map.popup.time": {"zh": "到{kind}的时间", "en": "Travel time to {kind}"},
        "map.popup.minutes": {"zh": "约 {min} 分钟（{mode}）", "en": "about {min} min ({mode})"},
        "map.popup.nearest": {"zh": "最近的{kind}", "en": "Nearest {kind}"},
        "map.layer.community": {"zh": "社区补充的道路", "en": "Roads added by the community"},
        "map.legend.community": {"zh": "社区补充的道路", "en": "Road added by the community"},
        "map.layer.closed": {"zh": "封路（{names}）", "en": "Closed roads ({names})"},
        "map.legend.closed": {"zh": "封路（{names}）", "en": "Closed ({names})"},
        "map.legend.slowed": {"zh": "限速（{names}）", "en": "Slowed ({names})"},
        "map.popup.community": {
            "zh": "社区补充的道路：{name}（{cls}，{km} 公里）",
            "en": "Road added by the community: {name} ({cls}, {km} km)",
        },
        "map.popup.community_by": {"zh": "记录/绘制：{who}", "en": "Added by {who}"},
        "map.popup.closed": {"zh": "封路：{condition}", "en": "Closed: {condition}"},
        "map.popup.slowed": {
            "zh": "限速 {speed} 公里/小时：{condition}",
            "en": "Slowed to {speed} km/h: {condition}",
        },
        "map.placed": {
            "zh": "{village}：{n} 户没有坐标，按村的位置计算",
            "en": "{village}: {n} households without coordinates, counted at the village",
        },
        "map.layer.placed": {
            "zh": "没有坐标的农户（按村计）",
            "en": "Households without coordinates (at their village)",
        },
        "map.popup.route": {
            "zh": "沿道路 {km} 公里到{name}（路线已画在图上）",
            "en": "{km} km by road to {name} (the route is drawn on the map)",
        },
        "map.popup.capacity": {"zh": "学位", "en": "Places"},
        "map.layer.proposed": {"zh": "拟建{kind}", "en": "Proposed {kind}"},
        "map.legend.proposed": {"zh": "拟建{kind}", "en": "Proposed {kind}"},
        "map.tip.proposed": {"zh": "{name}（拟建）", "en": "{name} (proposed)"},
        "map.popup.proposed": {
            "zh": "拟建{kind}（规划方案，尚未建成）",
            "en": "Proposed {kind} (a plan, not built yet)",
        },
        "map.layer.service_areas": {"zh": "服务范围（沿道路）", "en": "Service areas (by road)"},
        "map.legend.service_areas": {
            "zh": "服务范围：沿道路到服务设施",
            "en": "Service areas: road distance to a service",
        },
        "map.area.band": {"zh": "{km} 公里以内", "en": "Within {km} km"},
        "map.layer.highlight": {"zh": "新覆盖的住户", "en": "Newly covered households"},
        "map.legend.highlight": {
            "zh": "拟建点新覆盖的住户（{n} 户）",
            "en": "Households a proposal would newly cover ({n})",
        },
        "error.map.privacy": {
            "zh": "未知的隐私模式“{privacy}”。可选：{choices}（committee 为可对外分享的汇总版，"
            "displaced 可对外分享、住户位置随机移动，full 仅供工作团队内部使用）。",
            "en": "Unknown privacy mode '{privacy}'. Choose one of: {choices} (committee is the "
            "shareable, aggregated one; displaced is shareable, with household positions moved "
            "at random; full is for the team's own use).",
        },
        "error.map.language": {
            "zh": "未知的语言“{lang}”。可选：{choices}。",
            "en": "Unknown language '{lang}'. Choose one of: {choices}.",
        },
        "error.map.highlight": {
            "zh": "要突出显示的住户中有 {n} 个编号在本次分析的住户表里找不到：{ids}。"
            "请使用同一次分析的住户编号（住户表改过后请重新计算建议点）。",
            "en": "{n} of the households to highlight are not in this analysis' households "
            "table: {ids}. Use the household ids of the same analysis (after editing the "
            "households, compute the suggestions again).",
        },
        "error.map.service_areas": {
            "zh": "服务范围图层缺少以下列：{columns}，无法画出。"
            "请使用 mapping.coverage.service_areas 的结果（含 band_m 和 geometry 列）。",
            "en": "The service areas layer lacks the column(s) {columns}, so it cannot be "
            "drawn. Use the result of mapping.coverage.service_areas (with the columns band_m "
            "and geometry).",
        },
        "error.map.service_areas_crs": {
            "zh": "服务范围图层没有坐标系，无法确定位置。请使用 mapping.coverage.service_areas "
            "的结果（EPSG:4326），或先用 set_crs 设定坐标系。",
            "en": "The service areas layer has no coordinate system, so its shapes cannot be "
            "placed. Use the result of mapping.coverage.service_areas (EPSG:4326), or set its "
            "CRS first (set_crs).",
        },
        "error.map.no_folder": {
            "zh": "无法保存地图 {file}：文件夹 {folder} 不存在。请先创建该文件夹或选择其他位置。",
            "en": "Cannot save the map {file}: the folder {folder} does not exist. Create it "
            "first or choose another place.",
        },
    }
)


def is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def has_shape(geom: object) -> bool:
    return isinstance(geom, shapely.Geometry) and not geom.is_empty


def limit_km(limit_m: float) -> str:
    return f"{limit_m / 1000:g}"


def village_status(row: pd.Series, kind: str) -> str:
    if bool(row[f"flag_{kind}"]):
        return "flag"
    if bool(row.get(f"warn_{kind}", False)):
        return "warn"
    return "ok"


def household_class(dist_m: object) -> str:
    if is_missing(dist_m):
        return "u"
    return str(int(np.searchsorted(HOUSEHOLD_BINS_M, float(dist_m), side="right")))


def household_bins(lang: str) -> list[tuple[str, str, str]]:
    """(class key, colour, label) of each household distance class."""
    edges = [b / 1000 for b in HOUSEHOLD_BINS_M]
    out = []
    for i in range(len(edges) + 1):
        color = HOUSEHOLD_COLORS[i]
        if i == 0:
            label = i18n.t("map.bin.below", lang, hi=f"{edges[0]:g}")
        elif i == len(edges):
            label = i18n.t("map.bin.above", lang, lo=f"{edges[-1]:g}")
        else:
            label = i18n.t("map.bin.between", lang, lo=f"{edges[i - 1]:g}", hi=f"{edges[i]:g}")
        out.append((str(i), color, label))
    out.append(("u", UNREACHABLE_COLOR, i18n.t("map.bin.unreachable", lang)))
    return out


def proposed_mask(services: pd.DataFrame) -> np.ndarray:
    """Which services are proposals (``source == "proposed"``), as a boolean array."""
    if "source" not in services:
        return np.zeros(len(services), dtype=bool)
    return services["source"].eq(PROPOSED_SOURCE).fillna(False).to_numpy(dtype=bool)


def check_service_areas(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The service areas in EPSG:4326, checked for what the maps need.

    Raises
    ------
    InputError
        ``error.map.service_areas`` without a ``band_m`` column or a geometry,
        ``error.map.service_areas_crs`` without a CRS.
    """
    missing = [c for c in ("band_m",) if c not in areas.columns]
    if not isinstance(areas, gpd.GeoDataFrame) or areas.active_geometry_name is None:
        missing.append("geometry")
    if missing:
        raise InputError("error.map.service_areas", columns=", ".join(missing))
    if areas.crs is None:
        raise InputError("error.map.service_areas_crs")
    return areas.to_crs("EPSG:4326")


def area_bands(areas: gpd.GeoDataFrame) -> list[float]:
    """The distinct bands (m) of service areas with a shape, nearest first."""
    usable = np.array([has_shape(g) for g in areas.geometry], dtype=bool)
    if not usable.any():
        return []
    return sorted({float(b) for b in areas["band_m"].to_numpy()[usable]})


def area_color(rank: int) -> str:
    return SERVICE_AREA_COLORS[min(rank, len(SERVICE_AREA_COLORS) - 1)]


def area_label(band_m: float, lang: str) -> str:
    return i18n.t("map.area.band", lang, km=f"{band_m / 1000:g}")


def check_highlight(households: pd.DataFrame, ids: Sequence[str]) -> list[str]:
    """The ids to highlight, each once, in order; all must be households of the analysis.

    Raises
    ------
    InputError
        ``error.map.highlight`` naming (up to five of) the unknown ids.
    """
    if isinstance(ids, str):  # one id, not a sequence of its characters
        ids = [ids]
    wanted = list(dict.fromkeys(str(i) for i in ids))
    known = set(households.index.astype(str))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise InputError("error.map.highlight", n=len(unknown), ids=shown)
    return wanted


def displaced_note(lang: str) -> str:
    """The note a ``displaced`` map carries: positions moved by 300-600 m, to protect families."""
    return i18n.t(
        "map.legend.displaced", lang, min_m=f"{DISPLACE_MIN_M:g}", max_m=f"{DISPLACE_MAX_M:g}"
    )


# --------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class MapModel:
    """What one map shows (see :func:`build_map_model`); renderers only draw it.

    Attributes
    ----------
    analysis
        The analysis drawn (its network, villages, services, settings and scenario).
    kind, lang, privacy
        The service kind whose gaps colour the villages, the language of every text, and the
        privacy mode (one of :data:`PRIVACY_MODES`).
    made_on
        The date the map says it was made.
    title, kind_name, limit_m
        The map's title (the scenario's, or a default), the kind's name in ``lang`` and its
        threshold in metres.
    banner
        The "team's own use" line of ``full`` maps, else None.
    fictional
        The note that the data is made up (demo scenarios), else None.
    status
        Each village's gap status (``flag``, ``warn`` or ``ok``), on the villages' index.
    proposed
        Which services are proposals (a boolean per row of ``analysis.services``).
    kinds_present, proposed_kinds
        The kinds with existing services, and with proposals, in :data:`SERVICE_KINDS` order.
    households
        The households to draw, EPSG:4326: None in ``committee`` mode; in ``displaced`` mode
        the moved points of :func:`mapping.privacy.displaced_households` (village, distance
        and its class only); in ``full`` mode ``analysis.households`` as they are.
    highlight
        Household ids to ring (``full`` mode only; empty otherwise).
    placed_at_village
        Households without coordinates placed at their village (``located == "village"``),
        counted per village id; they are not among ``households`` (a dot on the village's
        point would pass for a surveyed position). Empty in ``committee`` mode.
    service_areas, area_bands
        Service areas in EPSG:4326 (or None) and their distinct bands, metres, nearest first.
    community
        The community roads as joined (:attr:`mapping.community.CommunityJoin.lines`), or
        None.
    conditions, condition_names
        The road segments closed or slowed under the conditions applied
        (:attr:`mapping.conditions.ConditionNetwork.segments`: ``effect``, ``condition``,
        ``speed_kmh``), or None; and the conditions' names.
    """

    analysis: Analysis
    kind: str
    lang: str
    privacy: str
    made_on: dt.date
    title: str
    kind_name: str
    limit_m: float
    banner: str | None
    fictional: str | None
    status: pd.Series
    proposed: np.ndarray
    kinds_present: tuple[str, ...]
    proposed_kinds: tuple[str, ...]
    households: gpd.GeoDataFrame | None
    highlight: tuple[str, ...]
    service_areas: gpd.GeoDataFrame | None
    area_bands: tuple[float, ...]
    placed_at_village: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    community: gpd.GeoDataFrame | None = None
    community_join_m: float = 20.0
    conditions: gpd.GeoDataFrame | None = None
    condition_names: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def village_routes(self) -> gpd.GeoDataFrame:
        """Each village's road route to its nearest service of the kind (EPSG:4326, see
        :func:`mapping.routes.trace_routes`), worked out once per model."""
        if "routes" not in self._cache:
            from mapping.routes import trace_routes

            self._cache["routes"] = trace_routes(self.analysis, self.kind, "villages")
        return self._cache["routes"]

    @property
    def full(self) -> bool:
        """True for the team's own maps (households where they are, names and ids)."""
        return self.privacy == "full"

    @property
    def displaced(self) -> bool:
        """True when the households drawn were moved (``displaced`` mode)."""
        return self.privacy == "displaced"

    @property
    def limit_text(self) -> str:
        """The threshold in km as the maps print it (``5``, ``2.5``)."""
        return limit_km(self.limit_m)

    def t(self, key: str, /, **params: object) -> str:
        """A text of the translation table in the map's language."""
        return i18n.t(key, self.lang, **params)


def build_map_model(
    analysis: Analysis,
    *,
    lang: str = "zh",
    kind: str = "kindergarten",
    privacy: str = "committee",
    made_on: dt.date | None = None,
    service_areas: gpd.GeoDataFrame | None = None,
    highlight_households: Sequence[str] | None = None,
    rng: np.random.Generator | None = None,
    key: bytes | None = None,
    corrections=None,
) -> MapModel:
    """Check a map's options and work out what it shows (see :class:`MapModel`).

    Parameters are those of :func:`mapping.maps.draw_map` (which documents them).
    ``corrections`` (:class:`mapping.corrections.CorrectedRun`) adds the community roads and
    the road conditions of the run.

    Raises
    ------
    SettingsError
        ``error.map.language``, ``error.settings.kind`` (a kind the analysis did not compute)
        or ``error.map.privacy``.
    InputError
        ``error.map.service_areas`` (no ``band_m`` or geometry),
        ``error.map.service_areas_crs`` (no CRS) or ``error.map.highlight`` (ids that are
        not households of the analysis).
    """
    if lang not in i18n.LANGUAGES:
        raise SettingsError("error.map.language", lang=lang, choices=", ".join(i18n.LANGUAGES))
    if kind not in analysis.settings.kinds or f"flag_{kind}" not in analysis.villages:
        raise SettingsError(
            "error.settings.kind", kind=kind, choices=", ".join(analysis.settings.kinds)
        )
    if privacy not in PRIVACY_MODES:
        raise SettingsError("error.map.privacy", privacy=privacy, choices=", ".join(PRIVACY_MODES))
    areas = None if service_areas is None else check_service_areas(service_areas)
    highlight = (
        []
        if highlight_households is None
        else check_highlight(analysis.households, highlight_households)
    )
    households: gpd.GeoDataFrame | None = None
    drawn = analysis.households
    placed = pd.Series(dtype="int64")
    if "located" in drawn and len(drawn):
        # households without coordinates sit on their village's point: a dot there would
        # look like a surveyed position; they are counted at the village instead
        at_village = (drawn["located"] == "village").to_numpy(dtype=bool)
        if at_village.any():  # else the same frame: the map's household layer is reused
            placed = drawn.loc[at_village, "village_id"].astype(str).value_counts()
            drawn = drawn[~at_village]
    if privacy == "full":
        households = drawn
    else:
        # a ring at a moved point would say which moved point is which household's
        highlight = []
        if privacy == "displaced":
            households = displaced_households(
                drawn,
                kind,
                bins_m=HOUSEHOLD_BINS_M,
                rng=rng,
                crs=analysis.network.crs,
                key=key,
            )
    v = analysis.villages
    status = pd.Series(
        [village_status(row, kind) for _, row in v.iterrows()], index=v.index, dtype=object
    )
    svc_kind = analysis.services["kind"].to_numpy()
    proposed = proposed_mask(analysis.services)
    return MapModel(
        analysis=analysis,
        kind=kind,
        lang=lang,
        privacy=privacy,
        made_on=made_on or dt.date.today(),
        title=analysis.scenario.title.get(lang) or i18n.t("map.default_title", lang),
        kind_name=i18n.t(f"kind.{kind}", lang),
        limit_m=analysis.settings.threshold_m(kind),
        banner=i18n.t("map.full_banner", lang) if privacy == "full" else None,
        fictional=i18n.t("map.fictional", lang) if analysis.scenario.fictional else None,
        status=status,
        proposed=proposed,
        kinds_present=tuple(k for k in SERVICE_KINDS if ((svc_kind == k) & ~proposed).any()),
        proposed_kinds=tuple(k for k in SERVICE_KINDS if ((svc_kind == k) & proposed).any()),
        households=households,
        highlight=tuple(highlight),
        service_areas=areas,
        area_bands=tuple(area_bands(areas)) if areas is not None else (),
        placed_at_village=placed if privacy != "committee" else pd.Series(dtype="int64"),
        community=(
            corrections.join.lines
            if corrections is not None
            and corrections.join is not None
            and len(corrections.join.lines)
            else None
        ),
        community_join_m=(
            corrections.join.join_m
            if corrections is not None and corrections.join is not None
            else 20.0
        ),
        conditions=(
            corrections.conditions.segments
            if corrections is not None
            and corrections.conditions is not None
            and len(corrections.conditions.segments)
            else None
        ),
        condition_names=(
            tuple(corrections.conditions.conditions)
            if corrections is not None and corrections.conditions is not None
            else ()
        ),
    )
