"""The workshop app (Streamlit). UI only: every computation lives in ``layers`` and ``mapping``.

Run with ``streamlit run app.py``: it opens on the built-in demo Banner, in Chinese, and works
with no internet (the map's scripts are embedded; the roads are the basemap).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from layers import i18n
from layers.coords import COORD_SYSTEMS
from layers.errors import GapMapperError
from mapping.analysis import Analysis, apply_proposals, rethreshold, run_analysis
from mapping.export import household_table, summarize, village_table
from mapping.maps import add_place_picker, draw_map, render_map_html, use_embedded_assets
from mapping.netcache import build_network_cached
from mapping.network import build_network
from mapping.privacy import displacement_key_for
from mapping.project import (
    autosave_path,
    is_project,
    open_project,
    open_settings,
    save_project,
    save_project_later,
    save_settings,
)
from mapping.scenario import Scenario, load_demo, load_scenario
from mapping.settings import CAR_SPEEDS_KMH, MOTORBIKE_SPEEDS_KMH, AnalysisSettings
from mapping.whatif import compare_gaps, make_proposal, move_proposal, remove_proposal

# Session-state keys (widgets are addressed by these keys in tests too).
KEY_LANG = "lang"
KEY_SOURCE = "source"
KEY_SCENARIO = "scenario"
KEY_TOKEN = "scenario_token"  # changes with any layer
KEY_ROADS_TOKEN = "roads_token"  # changes only with the roads (the network cache key)
KEY_EDIT_COUNT = "edit_count"
KEY_PROPOSALS = "proposals"
KEY_MODE = "mode"
KEY_WALK_SPEED = "walk_speed_kmh"
KEY_SPEEDS = "vehicle_speeds"
KEY_THRESHOLD = "threshold_km_{kind}"
KEY_MAP_KIND = "map_kind"
KEY_CLICK = "last_click"
KEY_COORDS = "coords"
KEY_OSM_PATH = "osm_path"
KEY_LAYER_PATH = "layer_path_{layer}"
KEY_PLACE = "place"
KEY_BBOX = "bbox"
KEY_MESSAGE = "message"
KEY_EXPORT = "export_html"
KEY_SAVED = "saved_project"
KEY_PRINT = "printed_map"
KEY_AUTOSAVED = "autosaved_state"
KEY_RESTORE_OFFER = "restore_offer"
KEY_PENDING = "pending_settings"
KEY_SITES = "suggested_sites"
KEY_WARNING = "load_warning"
KEY_PROPOSAL_VILLAGE = "proposal_village"
KINDS = ("kindergarten", "school")
LANG_LABELS = {"zh": "中文", "en": "English"}
SOURCES = ("demo", "osm", "download", "project")

i18n.register(
    {
        "app.title": {"zh": "社区服务缺口地图", "en": "Community service-gap mapper"},
        "app.language": {"zh": "语言 / Language", "en": "Language / 语言"},
        "app.data": {"zh": "1. 数据", "en": "1. Data"},
        "app.source": {"zh": "道路与基础数据", "en": "Roads and base data"},
        "app.source.demo": {"zh": "示例旗县（虚构）", "en": "Demo Banner (fictional)"},
        "app.source.osm": {"zh": "本地 OSM 文件", "en": "Local OSM file"},
        "app.source.download": {"zh": "联网下载区域", "en": "Download an area (online)"},
        "app.source.project": {"zh": "打开已保存的项目", "en": "Open a saved project"},
        "app.osm_upload": {"zh": "上传 OSM 文件（.osm/.pbf/.gz/.bz2）", "en": "Upload an OSM file"},
        "app.osm_path": {"zh": "或输入文件路径", "en": "or type its path"},
        "app.load": {"zh": "载入", "en": "Load"},
        "app.place": {"zh": "地名（如 察哈尔右翼后旗）", "en": "Place name"},
        "app.bbox": {"zh": "或范围 西,南,东,北", "en": "or bounding box W,S,E,N"},
        "app.download": {"zh": "下载（需要联网）", "en": "Download (needs internet)"},
        "app.project_upload": {"zh": "项目文件（.gpkg）", "en": "Project file (.gpkg)"},
        "app.layers": {
            "zh": "自己的图层（可选，替换对应图层）",
            "en": "Your own layers (optional)",
        },
        "app.layer.households": {"zh": "农户", "en": "Households"},
        "app.layer.villages": {"zh": "村庄", "en": "Villages"},
        "app.layer.services": {"zh": "幼儿园 / 学校", "en": "Kindergartens / schools"},
        "app.layer_path": {"zh": "{layer}：或输入文件路径", "en": "{layer}: or type a path"},
        "app.coords": {"zh": "表格经纬度的坐标系", "en": "Coordinate system of lon/lat tables"},
        "app.coords.wgs84": {"zh": "WGS84（GPS、OSM）", "en": "WGS84 (GPS, OSM)"},
        "app.coords.gcj02": {"zh": "GCJ-02（高德、腾讯）", "en": "GCJ-02 (Amap, Tencent)"},
        "app.coords.bd09": {"zh": "BD-09（百度）", "en": "BD-09 (Baidu)"},
        "app.apply_layers": {"zh": "读入图层", "en": "Read layers"},
        "app.loaded": {"zh": "已载入：{what}", "en": "Loaded: {what}"},
        "app.travel": {"zh": "2. 出行方式", "en": "2. Travel"},
        "app.mode": {"zh": "出行方式", "en": "Travel mode"},
        "app.walk_speed": {"zh": "步行速度（公里/小时）", "en": "Walking speed (km/h)"},
        "app.speeds": {"zh": "各类道路车速（公里/小时）", "en": "Speeds per road class (km/h)"},
        "app.road_class": {"zh": "道路类型", "en": "Road class"},
        "app.speed": {"zh": "车速", "en": "Speed"},
        "app.thresholds": {"zh": "3. 距离标准", "en": "3. Thresholds"},
        "app.threshold": {"zh": "{kind}（公里）", "en": "{kind} (km)"},
        "app.map_kind": {"zh": "地图显示", "en": "Map shows"},
        "app.fictional": {
            "zh": "示例数据：旗县边界和村名真实，道路、农户、幼儿园和学校均为虚构。",
            "en": "Demo data: the Banner outline and village names are real; roads, households, "
            "kindergartens and schools are fictional.",
        },
        "app.metric.flagged": {"zh": "超标村庄", "en": "Villages beyond"},
        "app.metric.households": {"zh": "超标农户", "en": "Households beyond"},
        "app.metric.children": {"zh": "涉及儿童", "en": "Children beyond"},
        "app.metric.median": {
            "zh": "农户距离中位数（公里）",
            "en": "Median household distance (km)",
        },
        "app.before_after": {
            "zh": "拟建前 → 拟建后：超过 {limit} 公里的农户 {before} → {after} 户，村庄 {vb} → {va} 个。",
            "en": "Before → after the proposals: households beyond {limit} km {before} → {after}, "
            "villages {vb} → {va}.",
        },
        "app.table": {"zh": "村庄一览（超标的在前）", "en": "Villages (flagged first)"},
        "app.chart": {
            "zh": "各村到最近{kind}的道路距离（公里）",
            "en": "Road distance from each village to the nearest {kind} (km)",
        },
        "app.col.village": {"zh": "村庄", "en": "Village"},
        "app.col.dist": {"zh": "距离（公里）", "en": "Distance (km)"},
        "app.col.flag": {"zh": "超标", "en": "Beyond"},
        "app.col.households": {"zh": "农户", "en": "Households"},
        "app.col.reason": {"zh": "说明", "en": "Why"},
        "app.whatif": {"zh": "假如在这里建……", "en": "What if we build here…"},
        "app.whatif.help": {
            "zh": "在地图上点一下（或用地图左上角的选点工具放一个点）选位置，或选一个村，"
            "然后添加拟建的幼儿园或学校。",
            "en": "Click the map (or drop a point with the tool at its top left) to choose a "
            "place, or pick a village, then add a proposed kindergarten or school.",
        },
        "app.whatif.clicked": {
            "zh": "已选位置：经度 {lon}，纬度 {lat}",
            "en": "Chosen place: lon {lon}, lat {lat}",
        },
        "app.whatif.none": {"zh": "还没有选位置。", "en": "No place chosen yet."},
        "app.whatif.no_village": {
            "zh": "（不选村，用地图上点的位置）",
            "en": "(none: use the clicked place)",
        },
        "app.map.full_detail": {
            "zh": "本页地图显示农户位置，仅供工作团队使用；要分享请导出“村委会版地图”。",
            "en": "This map shows household positions, for the team only; to share, export "
            "the committee map.",
        },
        "app.map.areas": {
            "zh": "显示服务范围（沿道路在标准距离以内的区域）",
            "en": "Show service areas (land within the threshold along the roads)",
        },
        "app.summary": {"zh": "文字摘要", "en": "Summary in words"},
        "app.whatif.village": {"zh": "或选一个村", "en": "or pick a village"},
        "app.whatif.add": {"zh": "添加拟建{kind}", "en": "Add a proposed {kind}"},
        "app.whatif.list": {"zh": "拟建点", "en": "Proposals"},
        "app.whatif.move": {
            "zh": "把 {name} 移到所选位置",
            "en": "Move {name} to the chosen place",
        },
        "app.whatif.remove": {"zh": "删除 {name}", "en": "Remove {name}"},
        "app.kind": {"zh": "类型", "en": "Kind"},
        "app.edit": {"zh": "编辑农户与设施", "en": "Edit households and services"},
        "app.edit.layer": {"zh": "图层", "en": "Layer"},
        "app.edit.id": {"zh": "新农户编号（可空）", "en": "New household id (optional)"},
        "app.edit.children": {"zh": "儿童数", "en": "Children"},
        "app.edit.name": {"zh": "名称", "en": "Name"},
        "app.edit.capacity": {"zh": "学位数（0 = 不知道）", "en": "Places (0 = unknown)"},
        "app.edit.add": {"zh": "在所选位置添加", "en": "Add at the chosen place"},
        "app.edit.pick": {"zh": "选择要素", "en": "Feature"},
        "app.edit.move": {"zh": "移到所选位置", "en": "Move to the chosen place"},
        "app.edit.delete": {"zh": "删除", "en": "Delete"},
        "app.edit.apply": {"zh": "保存表格修改", "en": "Apply table edits"},
        "app.export": {"zh": "导出与保存", "en": "Export and save"},
        "app.export.committee": {
            "zh": "村委会版地图（不含农户位置和姓名，可以分享）",
            "en": "Committee map (no household positions or names: safe to share)",
        },
        "app.export.displaced": {
            "zh": "对外分享（住户位置随机移动 300–600 米，不含个人信息）",
            "en": "Shareable, households moved 300–600 m at random (nothing personal)",
        },
        "app.export.full": {
            "zh": "完整版地图（含农户位置，仅限工作团队）",
            "en": "Full-detail map (household positions: for the team only)",
        },
        "app.export.make": {"zh": "生成地图文件", "en": "Make the map file"},
        "app.export.download": {"zh": "下载 {file}", "en": "Download {file}"},
        "app.export.mode": {"zh": "导出模式", "en": "Export mode"},
        "app.restore.offer": {
            "zh": "发现上次未保存的工作（自动保存于 {when}）。要恢复吗？",
            "en": "Unsaved work from last time was found (autosaved at {when}). Restore it?",
        },
        "app.restore.yes": {"zh": "恢复上次的工作", "en": "Restore it"},
        "app.restore.no": {"zh": "不用，重新开始", "en": "No, start afresh"},
        "app.plan": {
            "zh": "规划：新址建议、学位与覆盖",
            "en": "Planning: new sites, places, coverage",
        },
        "app.plan.k": {"zh": "建议几个新址", "en": "How many new sites"},
        "app.plan.objective": {"zh": "目标", "en": "Objective"},
        "app.plan.obj.coverage": {"zh": "覆盖最多农户", "en": "Cover the most households"},
        "app.plan.coverage": {
            "zh": "各距离范围内的农户（拟建前后）",
            "en": "Households within each distance (before / after)",
        },
        "app.plan.obj.distance": {"zh": "总距离最短", "en": "Shortest total distance"},
        "app.plan.weight": {"zh": "按……计", "en": "Count"},
        "app.plan.w.households": {"zh": "农户", "en": "households"},
        "app.plan.w.children": {"zh": "儿童", "en": "children"},
        "app.plan.grid": {
            "zh": "另加道路网格候选点，间距（公里，0 = 只用村点）",
            "en": "Also road grid candidates every (km, 0 = village points only)",
        },
        "app.plan.run": {"zh": "计算{kind}新址建议", "en": "Suggest sites for a {kind}"},
        "app.plan.running": {"zh": "正在计算……", "en": "Working…"},
        "app.plan.preview": {
            "zh": "地图上带星号的是尚未采纳的建议地点，蓝圈是它们新覆盖的农户。",
            "en": "Starred sites on the map are suggestions not yet accepted; the rings are the "
            "households they would newly cover.",
        },
        "app.plan.accept": {
            "zh": "采纳这些建议为拟建点",
            "en": "Accept these suggestions as proposals",
        },
        "app.plan.site_name": {"zh": "建议{kind}（{place}）", "en": "Suggested {kind} ({place})"},
        "app.plan.capacity": {
            "zh": "学位是否够用（两步移动搜索法）",
            "en": "Are there enough places (2SFCA)",
        },
        "app.col.site": {"zh": "建议地点", "en": "Suggested site"},
        "app.col.newly": {"zh": "新覆盖农户", "en": "Newly covered households"},
        "app.col.service": {"zh": "设施", "en": "Service"},
        "app.col.capacity": {"zh": "学位", "en": "Places"},
        "app.col.demand": {"zh": "范围内需求", "en": "Demand in reach"},
        "app.col.over": {"zh": "超员", "en": "Over-subscribed"},
        "app.print.paper": {"zh": "打印纸张", "en": "Paper"},
        "app.print.format": {"zh": "文件格式", "en": "Format"},
        "app.print.make": {"zh": "生成打印版地图", "en": "Make the printable map"},
        "app.save": {
            "zh": "保存项目（全部图层、拟建点和设置）",
            "en": "Save project (all layers, proposals, settings)",
        },
        "app.tables": {"zh": "下载表格", "en": "Download tables"},
        "app.error": {"zh": "无法完成：{message}", "en": "Could not do that: {message}"},
        "app.kept": {
            "zh": "之前的数据和设置保持不变。",
            "en": "The previous data and settings are kept.",
        },
    }
)


# --------------------------------------------------------------------------------------------
# Caches: the demo and networks are read-only resources; arguments starting with "_" are not
# hashed by Streamlit, the token and settings key stand for them.


@st.cache_resource(show_spinner=False)
def cached_demo() -> Scenario:
    return load_demo()


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_network(token: str, mode: str, speeds: tuple, walk: float, _scenario: Scenario):
    settings = AnalysisSettings(mode=mode, speeds_kmh=dict(speeds), walk_speed_kmh=walk)
    if _scenario.osm_source is not None:  # reopen from the disk cache when it is there
        path, clip, childcare = _scenario.osm_source
        return build_network_cached(
            path, _scenario.roads, settings, clip=clip, include_childcare=childcare
        )
    return build_network(_scenario.roads, settings)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_distances(token: str, settings_key: tuple, _scenario: Scenario, _settings, _network):
    return run_analysis(_scenario, _settings, network=_network)


def t(key: str, **params) -> str:
    """Translate into the session's language."""
    return i18n.t(key, st.session_state.get(KEY_LANG, "zh"), **params)


def show_error(err: GapMapperError) -> None:
    """Keep the library's message for the next rerun (the app never shows a traceback)."""
    st.session_state[KEY_MESSAGE] = ("error", err)


def set_scenario(scenario: Scenario, token: str, proposals=None, *, roads_token=None) -> None:
    st.session_state[KEY_SCENARIO] = scenario
    st.session_state[KEY_TOKEN] = token
    st.session_state[KEY_ROADS_TOKEN] = roads_token or token
    st.session_state[KEY_PROPOSALS] = proposals
    st.session_state.pop(KEY_EXPORT, None)
    st.session_state.pop(KEY_SAVED, None)
    st.session_state.pop(KEY_PRINT, None)
    st.session_state.pop(KEY_SITES, None)


def saved_upload(uploaded) -> Path:
    """Write an uploaded file to a private temporary folder, keeping its name."""
    folder = Path(tempfile.mkdtemp(prefix="gapmapper-"))
    path = folder / Path(uploaded.name).name
    path.write_bytes(uploaded.getvalue())
    return path


def file_token(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Sidebar


def render_language() -> str:
    return st.sidebar.radio(
        i18n.t("app.language", "zh"),
        options=list(LANG_LABELS),
        format_func=LANG_LABELS.get,
        key=KEY_LANG,
        horizontal=True,
    )


def render_data_source() -> None:
    sb = st.sidebar
    sb.header(t("app.data"))
    source = sb.radio(
        t("app.source"), SOURCES, format_func=lambda s: t(f"app.source.{s}"), key=KEY_SOURCE
    )
    if source == "demo" and st.session_state.get(KEY_TOKEN, "demo").split("+")[0] != "demo":
        set_scenario(cached_demo(), "demo")
    if source == "osm":
        up = sb.file_uploader(t("app.osm_upload"), type=["osm", "pbf", "gz", "bz2"])
        typed = sb.text_input(t("app.osm_path"), key=KEY_OSM_PATH)
        if sb.button(t("app.load"), key="load_osm"):
            path = saved_upload(up) if up is not None else Path(typed.strip())
            with st.spinner(t("app.load")):
                try:
                    set_scenario(load_scenario(osm=path), f"osm:{file_token(path)}")
                except GapMapperError as err:
                    show_error(err)
    elif source == "download":
        place = sb.text_input(t("app.place"), key=KEY_PLACE)
        bbox = sb.text_input(t("app.bbox"), key=KEY_BBOX)
        if sb.button(t("app.download"), key="download"):
            from mapping.cli import parse_bbox

            try:
                box = parse_bbox(bbox) if bbox.strip() else None
                with st.spinner(t("app.download")):
                    sc = load_scenario(place=place.strip() or None, bbox=box)
                set_scenario(sc, f"download:{place or bbox}")
            except GapMapperError as err:
                show_error(err)
    elif source == "project":
        up = sb.file_uploader(t("app.project_upload"), type=["gpkg"])
        if up is not None and sb.button(t("app.load"), key="load_project"):
            path = saved_upload(up)
            try:
                scenario, settings, proposals, extra = open_project(path)
            except GapMapperError as err:
                show_error(err)
            else:
                set_scenario(scenario, f"project:{file_token(path)}", proposals)
                restore_settings(settings, extra)
                st.rerun()

    with sb.expander(t("app.layers")):
        st.radio(
            t("app.coords"),
            COORD_SYSTEMS,
            format_func=lambda c: t(f"app.coords.{c}"),
            key=KEY_COORDS,
            horizontal=False,
        )
        files = {}
        for layer in ("households", "villages", "services"):
            name = t(f"app.layer.{layer}")
            up = st.file_uploader(
                name,
                type=["csv", "xlsx", "geojson", "json", "gpkg", "zip", "kml"],
                key=f"up_{layer}",
            )
            typed = st.text_input(
                t("app.layer_path", layer=name), key=KEY_LAYER_PATH.format(layer=layer)
            )
            if up is not None:
                files[layer] = (saved_upload(up), up.name)
            elif typed.strip():
                files[layer] = (Path(typed.strip()), Path(typed.strip()).name)
        if st.button(t("app.apply_layers"), key="apply_layers", disabled=not files):
            apply_layer_files(files)


def apply_layer_files(files: dict[str, tuple[Path, str]]) -> None:
    """Replace layers of the current scenario; on any error keep everything as it was."""
    from layers.households import read_households
    from layers.services import read_services
    from layers.villages import read_villages

    readers = {"households": read_households, "villages": read_villages, "services": read_services}
    coords = st.session_state.get(KEY_COORDS, "wgs84")
    changes = {}
    try:
        for layer, (path, label) in files.items():
            changes[layer] = readers[layer](path, coords=coords, layer_label=label)
    except GapMapperError as err:
        show_error(err)
        return
    scenario = st.session_state[KEY_SCENARIO].replace(**changes)
    token = (
        st.session_state[KEY_TOKEN]
        + "+"
        + "+".join(f"{layer}:{file_token(path)}" for layer, (path, _) in files.items())
    )
    set_scenario(
        scenario,
        token,
        st.session_state.get(KEY_PROPOSALS),
        roads_token=st.session_state[KEY_ROADS_TOKEN],
    )
    st.session_state[KEY_MESSAGE] = ("ok", ", ".join(label for _, label in files.values()))
    if "households" in changes:
        lang = st.session_state.get(KEY_LANG, "zh")
        st.session_state[KEY_WARNING] = scenario.outside_warning(lang)


def restore_settings(settings: AnalysisSettings, extra: dict) -> None:
    """Ask for a project's settings to be put into the widgets on the next run.

    Streamlit forbids changing a widget's value once it is drawn in a run, so the values
    wait in the session and :func:`apply_pending_settings` sets them before any widget.
    """
    st.session_state[KEY_PENDING] = (settings, extra)


def apply_pending_settings() -> None:
    pending = st.session_state.pop(KEY_PENDING, None)
    if pending is None:
        return
    settings, extra = pending
    st.session_state[KEY_MODE] = settings.mode
    st.session_state[KEY_WALK_SPEED] = settings.walk_speed_kmh
    for kind in KINDS:
        st.session_state[KEY_THRESHOLD.format(kind=kind)] = settings.threshold_m(kind) / 1000
    if extra.get("lang") in LANG_LABELS:
        st.session_state[KEY_LANG] = extra["lang"]


def render_settings() -> AnalysisSettings:
    sb = st.sidebar
    sb.header(t("app.travel"))
    mode = sb.selectbox(
        t("app.mode"),
        ("motorbike", "walk", "car"),
        format_func=lambda m: t(f"mode.{m}"),
        key=KEY_MODE,
    )
    walk = sb.number_input(
        t("app.walk_speed"), min_value=1.0, max_value=10.0, value=4.5, step=0.5, key=KEY_WALK_SPEED
    )
    speeds = None
    if mode != "walk":
        base = CAR_SPEEDS_KMH if mode == "car" else MOTORBIKE_SPEEDS_KMH
        with sb.expander(t("app.speeds")):
            table = pd.DataFrame(
                {t("app.road_class"): list(base), t("app.speed"): list(base.values())}
            )
            edited = st.data_editor(
                table, hide_index=True, disabled=[t("app.road_class")], key=f"{KEY_SPEEDS}_{mode}"
            )
            speeds = {
                cls: float(v)
                for cls, v in zip(edited[t("app.road_class")], edited[t("app.speed")], strict=True)
                if pd.notna(v) and float(v) > 0
            }
    sb.header(t("app.thresholds"))
    thresholds = {}
    defaults = AnalysisSettings()
    for kind in KINDS:
        km = sb.number_input(
            t("app.threshold", kind=t(f"kind.{kind}")),
            min_value=0.5,
            max_value=200.0,
            value=defaults.threshold_m(kind) / 1000,
            step=0.5,
            key=KEY_THRESHOLD.format(kind=kind),
        )
        thresholds[kind] = km * 1000
    return AnalysisSettings(
        mode=mode, thresholds_m=thresholds, kinds=KINDS, walk_speed_kmh=walk, speeds_kmh=speeds
    )


# --------------------------------------------------------------------------------------------
# Main area


def current_analysis(settings: AnalysisSettings) -> tuple[Analysis, Analysis]:
    """(without proposals, with proposals), reusing cached networks and distances."""
    scenario = st.session_state[KEY_SCENARIO]
    token = st.session_state[KEY_TOKEN]
    speeds = tuple(sorted((settings.speeds_kmh or {}).items()))
    roads = st.session_state[KEY_ROADS_TOKEN]
    net = cached_network(roads, settings.mode, speeds, settings.walk_speed_kmh, scenario)
    dist_key = (settings.mode, speeds, settings.walk_speed_kmh, settings.kinds, settings.snap_to)
    dist_settings = settings.with_(thresholds_m=AnalysisSettings().thresholds_m)
    distances = cached_distances(token, dist_key, scenario, dist_settings, net)
    base = session_memo(
        "rethreshold", distances, settings, lambda: rethreshold(distances, settings)
    )
    proposals = st.session_state.get(KEY_PROPOSALS)
    if proposals is None or not len(proposals):
        return base, base
    after = session_memo(
        "proposals", base, proposals.to_json(), lambda: apply_proposals(base, proposals)
    )
    return base, after


def session_memo(name: str, source, key, make):
    """``make()``, or its value from an earlier rerun when ``source`` is the same object and
    ``key`` is equal: a rerun that changes nothing then gets the very same analysis back, so
    everything keyed on it (the map's household layer, the downloads) is reused."""
    slot = f"memo_{name}"
    made = st.session_state.get(slot)
    if made is None or made[0] is not source or made[1] != key:
        made = (source, key, make())
        st.session_state[slot] = made
    return made[2]


def render_message() -> None:
    message = st.session_state.pop(KEY_MESSAGE, None)
    if message is None:
        return
    kind, payload = message
    lang = st.session_state.get(KEY_LANG, "zh")
    if kind == "error":
        st.error(t("app.error", message=payload.message(lang)) + " " + t("app.kept"))
    else:
        st.success(t("app.loaded", what=payload))
    warning = st.session_state.pop(KEY_WARNING, None)
    if warning:
        st.warning(warning)


def render_metrics(base: Analysis, after: Analysis, kind: str) -> None:
    numbers = compare_gaps(base, after, kind)
    cols = st.columns(4)
    for col, (key, label) in zip(
        cols,
        (
            ("villages_flagged", "app.metric.flagged"),
            ("households_beyond", "app.metric.households"),
            ("children_beyond", "app.metric.children"),
            ("median_household_dist_m", "app.metric.median"),
        ),
        strict=True,
    ):
        before, now = numbers[key]
        if key.endswith("_m"):
            before, now = before / 1000, now / 1000
            value = "—" if pd.isna(now) else f"{now:.1f}"
            delta = None if pd.isna(now) or before == now else f"{now - before:+.1f}"
        else:
            value, delta = str(now), (None if before == now else f"{now - before:+d}")
        col.metric(t(label), value, delta, delta_color="inverse")
    if after is not base:
        hb, ha = numbers["households_beyond"]
        vb, va = numbers["villages_flagged"]
        limit = f"{after.settings.threshold_m(kind) / 1000:g}"
        st.info(t("app.before_after", limit=limit, before=hb, after=ha, vb=vb, va=va))


def render_map(base: Analysis, analysis: Analysis, kind: str) -> None:
    from streamlit_folium import st_folium

    from mapping.coverage import service_areas
    from mapping.whatif import newly_covered_households

    lang = st.session_state.get(KEY_LANG, "zh")
    areas = None
    if st.checkbox(t("app.map.areas"), key="show_areas"):
        with st.spinner(t("app.map.areas")):
            areas = service_areas(analysis, kind, (analysis.settings.threshold_m(kind),))
    newly = newly_covered_households(base, analysis, kind) if analysis is not base else None
    m = draw_map(
        analysis,
        lang=lang,
        kind=kind,
        privacy="full",
        compact=True,
        service_areas=areas,
        highlight_households=newly or None,
    )
    m = use_embedded_assets(add_place_picker(m, lang))
    out = st_folium(
        m,
        height=620,
        use_container_width=True,
        key="map",
        returned_objects=["last_clicked", "last_active_drawing"],
    )
    st.caption(t("app.map.full_detail"))
    st.session_state[KEY_CLICK] = chosen_place(out) or st.session_state.get(KEY_CLICK)


def chosen_place(out: dict | None) -> tuple[float, float] | None:
    """The place the user chose on the map: a point drawn with the tool, else the last click."""
    drawn = (out or {}).get("last_active_drawing") or {}
    geometry = drawn.get("geometry") or {}
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return float(lon), float(lat)
    clicked = (out or {}).get("last_clicked")
    if clicked:
        return float(clicked["lng"]), float(clicked["lat"])
    return None


def render_whatif(analysis: Analysis) -> None:
    st.subheader(t("app.whatif"))
    st.caption(t("app.whatif.help"))
    lang = st.session_state.get(KEY_LANG, "zh")
    click = st.session_state.get(KEY_CLICK)
    st.write(
        t("app.whatif.clicked", lon=f"{click[0]:.5f}", lat=f"{click[1]:.5f}")
        if click
        else t("app.whatif.none")
    )
    villages = analysis.villages
    options = [""] + list(villages.index)
    vid = st.selectbox(
        t("app.whatif.village"),
        options,
        format_func=lambda v: (
            t("app.whatif.no_village") if v == "" else str(villages.loc[v, "village_name"])
        ),
        key=KEY_PROPOSAL_VILLAGE,
    )
    where = None
    if vid:
        pt = villages.loc[vid].geometry
        where = (pt.x, pt.y)
    elif click:
        where = click
    cols = st.columns(len(KINDS))
    for col, kind in zip(cols, KINDS, strict=True):
        if col.button(
            t("app.whatif.add", kind=t(f"kind.{kind}")), key=f"add_{kind}", disabled=where is None
        ):
            st.session_state[KEY_PROPOSALS] = make_proposal(
                st.session_state.get(KEY_PROPOSALS), kind, where[0], where[1], lang=lang
            )
            st.rerun()
    proposals = st.session_state.get(KEY_PROPOSALS)
    if proposals is not None and len(proposals):
        st.write(t("app.whatif.list"))
        for pid, row in proposals.iterrows():
            left, right = st.columns(2)
            if left.button(
                t("app.whatif.move", name=row["name"]), key=f"move_{pid}", disabled=where is None
            ):
                st.session_state[KEY_PROPOSALS] = move_proposal(proposals, pid, *where)
                st.rerun()
            if right.button(t("app.whatif.remove", name=row["name"]), key=f"remove_{pid}"):
                st.session_state[KEY_PROPOSALS] = remove_proposal(proposals, pid)
                st.rerun()


def commit_edit(layer: str, new_layer) -> None:
    """Replace one layer after an edit; the roads (and so the network cache) stay."""
    n = st.session_state.get(KEY_EDIT_COUNT, 0) + 1
    st.session_state[KEY_EDIT_COUNT] = n
    scenario = st.session_state[KEY_SCENARIO].replace(**{layer: new_layer})
    set_scenario(
        scenario,
        f"{st.session_state[KEY_TOKEN]}+edit{n}",
        st.session_state.get(KEY_PROPOSALS),
        roads_token=st.session_state[KEY_ROADS_TOKEN],
    )


def render_editing() -> None:
    """Add, move, delete households and services, and edit their attributes."""
    from layers.editing import (
        add_household,
        add_service,
        delete_feature,
        move_feature,
        update_attributes,
    )

    scenario = st.session_state[KEY_SCENARIO]
    click = st.session_state.get(KEY_CLICK)
    with st.expander(t("app.edit")):
        layer = st.radio(
            t("app.edit.layer"),
            ("households", "services"),
            format_func=lambda x: t(f"app.layer.{x}"),
            key="edit_layer",
            horizontal=True,
        )
        gdf = getattr(scenario, layer)
        st.caption(
            t("app.whatif.clicked", lon=f"{click[0]:.5f}", lat=f"{click[1]:.5f}")
            if click
            else t("app.whatif.none")
        )
        try:
            if layer == "households":
                c1, c2 = st.columns(2)
                new_id = c1.text_input(t("app.edit.id"), key="edit_new_id")
                kids = c2.number_input(t("app.edit.children"), 0, 20, 1, key="edit_children")
                if st.button(t("app.edit.add"), key="edit_add", disabled=click is None):
                    commit_edit(
                        layer, add_household(gdf, *click, household_id=new_id, children=kids)
                    )
                    st.rerun()
                columns = ["village_name", "children"]
            else:
                c1, c2, c3 = st.columns(3)
                new_kind = c1.selectbox(
                    t("app.kind"), KINDS, format_func=lambda k: t(f"kind.{k}"), key="edit_kind"
                )
                new_name = c2.text_input(t("app.edit.name"), key="edit_name")
                cap = c3.number_input(t("app.edit.capacity"), 0, 5000, 0, key="edit_capacity")
                if st.button(t("app.edit.add"), key="edit_add", disabled=click is None):
                    commit_edit(
                        layer,
                        add_service(
                            gdf, *click, kind=new_kind, name=new_name, capacity=cap or None
                        ),
                    )
                    st.rerun()
                columns = ["name", "kind", "capacity"]
            if len(gdf):
                fid = st.selectbox(t("app.edit.pick"), list(gdf.index), key="edit_pick")
                c1, c2 = st.columns(2)
                if c1.button(t("app.edit.move"), key="edit_move", disabled=click is None):
                    commit_edit(layer, move_feature(gdf, fid, *click))
                    st.rerun()
                if c2.button(t("app.edit.delete"), key="edit_delete"):
                    commit_edit(layer, delete_feature(gdf, fid))
                    st.rerun()
                edited = st.data_editor(
                    pd.DataFrame(gdf[columns]), key=f"edit_table_{layer}", disabled=False
                )
                if st.button(t("app.edit.apply"), key="edit_apply"):
                    commit_edit(layer, update_attributes(gdf, edited))
                    st.rerun()
        except GapMapperError as err:
            show_error(err)
            st.rerun()


def suggestion_preview(after: Analysis, kind: str) -> Analysis | None:
    """The analysis with the suggested (not yet accepted) sites added, for the map only."""
    from mapping.planning import sites_to_proposals

    made = st.session_state.get(KEY_SITES)
    if not made or made[0] != kind or len(made[1]) == 0:
        return None
    props = sites_to_proposals(made[1], kind, st.session_state.get(KEY_LANG, "zh"))
    props.index = [f"S{i}" for i in range(1, len(props) + 1)]  # not to clash with P1, P2...
    props["service_id"] = props.index
    return apply_proposals(after, props)


def render_planning(base: Analysis, after: Analysis, kind: str) -> None:
    """Suggest new sites, show capacity and coverage, and accept suggestions as proposals."""
    from mapping.capacity import compute_2sfca
    from mapping.coverage import coverage_table
    from mapping.planning import OBJECTIVES, WEIGHTS, suggest_sites

    lang = st.session_state.get(KEY_LANG, "zh")
    with st.expander(t("app.plan")):
        c1, c2, c3 = st.columns(3)
        k = c1.number_input(t("app.plan.k"), 1, 20, 1, key="plan_k")
        objective = c2.radio(
            t("app.plan.objective"),
            OBJECTIVES,
            format_func=lambda o: t(f"app.plan.obj.{o}"),
            key="plan_objective",
        )
        weight = c3.radio(
            t("app.plan.weight"),
            WEIGHTS,
            format_func=lambda w: t(f"app.plan.w.{w}"),
            key="plan_weight",
        )
        grid_km = st.number_input(t("app.plan.grid"), 0.0, 20.0, 0.0, 0.5, key="plan_grid")
        if st.button(t("app.plan.run", kind=t(f"kind.{kind}")), key="plan_run"):
            with st.status(t("app.plan.running")) as status:
                try:
                    sites = suggest_sites(
                        after,
                        kind,
                        int(k),
                        objective=objective,
                        weight=weight,
                        candidates="villages+grid" if grid_km > 0 else "villages",
                        grid_m=grid_km * 1000 if grid_km > 0 else None,
                        progress=status.write,
                    )
                except GapMapperError as err:
                    show_error(err)
                    st.rerun()
                st.session_state[KEY_SITES] = (kind, sites)
                status.update(state="complete")
            st.rerun()  # the map above shows the suggestions
        made = st.session_state.get(KEY_SITES)
        if made and made[0] == kind and len(made[1]):
            sites = made[1]
            shown = pd.DataFrame(
                {
                    t("app.col.site"): sites["name"],
                    t("app.col.newly"): sites["newly_covered_households"],
                }
            )
            st.dataframe(shown, hide_index=True, key="sites_table")
            if st.button(t("app.plan.accept"), key="plan_accept"):
                props = st.session_state.get(KEY_PROPOSALS)
                for _, site in sites.sort_values("order").iterrows():
                    props = make_proposal(
                        props,
                        kind,
                        site["lon"],
                        site["lat"],
                        name=i18n.t(
                            "app.plan.site_name", lang, kind=t(f"kind.{kind}"), place=site["name"]
                        ),
                        lang=lang,
                    )
                st.session_state[KEY_PROPOSALS] = props
                st.session_state.pop(KEY_SITES, None)
                st.rerun()
        st.write(t("app.plan.capacity"))
        try:
            _, per_service = session_memo(
                f"capacity_{kind}", after, kind, lambda: compute_2sfca(after, kind)
            )
            table = pd.DataFrame(
                {
                    t("app.col.service"): after.services.loc[per_service.index, "name"],
                    t("app.col.capacity"): per_service["capacity"],
                    t("app.col.demand"): per_service["demand_in_catchment"].round(0),
                    t("app.col.over"): per_service["over_subscribed"],
                }
            )
            st.dataframe(table, hide_index=True, key="capacity_table")
        except GapMapperError as err:
            st.info(err.message(lang))
        st.write(t("app.plan.coverage"))
        # ``after`` is made from ``base`` (both reused across reruns that change nothing)
        cov = session_memo(
            f"coverage_{kind}",
            after,
            kind,
            lambda: coverage_table(
                base, kind, by="overall", after=after if after is not base else None
            ),
        )
        st.dataframe(cov, hide_index=True, key="coverage_table")


def render_table(analysis: Analysis, kind: str) -> None:
    lang = st.session_state.get(KEY_LANG, "zh")
    st.subheader(t("app.table"))
    table = village_table(analysis, lang)
    shown = pd.DataFrame(
        {
            t("app.col.village"): table["village_name"],
            t("app.col.dist"): (table[f"dist_{kind}_m"] / 1000).round(1),
            t("app.col.flag"): table[f"flag_{kind}"],
            t("app.col.households"): table["n_households"],
            t("app.col.reason"): table[f"reason_{kind}"],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        key="village_table",
        height=380,
        column_config={
            t("app.col.village"): st.column_config.TextColumn(width="small"),
            t("app.col.dist"): st.column_config.NumberColumn(width="small", format="%.1f"),
            t("app.col.flag"): st.column_config.CheckboxColumn(width="small"),
            t("app.col.households"): st.column_config.NumberColumn(width="small"),
            t("app.col.reason"): st.column_config.TextColumn(width="large"),
        },
    )
    render_chart(shown, analysis.settings.threshold_m(kind) / 1000, kind)


def render_chart(shown: pd.DataFrame, limit_km: float, kind: str) -> None:
    """The farthest villages as horizontal bars, with the threshold as a line."""
    import altair as alt

    st.caption(t("app.chart", kind=t(f"kind.{kind}")))
    name, dist, flag = t("app.col.village"), t("app.col.dist"), t("app.col.flag")
    top = shown.dropna(subset=[dist]).nlargest(15, dist)
    bars = (
        alt.Chart(top)
        .mark_bar()
        .encode(
            x=alt.X(f"{dist}:Q", title=dist),
            y=alt.Y(f"{name}:N", sort="-x", title=None),
            color=alt.Color(
                f"{flag}:N",
                scale=alt.Scale(domain=[True, False], range=["#d7191c", "#1a9641"]),
                legend=None,
            ),
            tooltip=[name, dist],
        )
    )
    rule = alt.Chart(pd.DataFrame({"x": [limit_km]})).mark_rule(strokeDash=[4, 3]).encode(x="x:Q")
    st.altair_chart(bars + rule, width="stretch")


def render_exports(analysis: Analysis, kind: str) -> None:
    lang = st.session_state.get(KEY_LANG, "zh")
    with st.expander(t("app.export")):
        privacy = st.radio(
            t("app.export.mode"),
            ("committee", "displaced", "full"),
            format_func=lambda p: t(f"app.export.{p}"),
            key="export_privacy",
        )
        if st.button(t("app.export.make"), key="make_export"):
            try:
                m = draw_map(
                    analysis,
                    lang=lang,
                    kind=kind,
                    privacy=privacy,
                    key=displacement_key_for(privacy),
                )
                st.session_state[KEY_EXPORT] = (privacy, render_map_html(m))
            except GapMapperError as err:
                show_error(err)
        made = st.session_state.get(KEY_EXPORT)
        if made:
            name = f"map-{made[0]}-{lang}.html"
            st.download_button(
                t("app.export.download", file=name),
                made[1],
                file_name=name,
                mime="text/html",
                key="download_map",
            )
        c1, c2 = st.columns(2)
        paper = c1.selectbox(t("app.print.paper"), ("A4", "A3"), key="print_paper")
        fmt = c2.selectbox(t("app.print.format"), ("pdf", "png"), key="print_format")
        if st.button(t("app.print.make"), key="make_print"):
            from mapping.printmap import draw_print_map, write_print_map

            try:
                fig = draw_print_map(
                    analysis,
                    lang=lang,
                    kind=kind,
                    paper=paper,
                    privacy=privacy,
                    key=displacement_key_for(privacy),
                )
                with tempfile.TemporaryDirectory() as tmp:
                    path = write_print_map(fig, Path(tmp) / f"map-{paper}.{fmt}")
                    st.session_state[KEY_PRINT] = (path.name, path.read_bytes())
            except GapMapperError as err:
                show_error(err)
                st.rerun()
        printed = st.session_state.get(KEY_PRINT)
        if printed:
            st.download_button(
                t("app.export.download", file=printed[0]),
                printed[1],
                file_name=printed[0],
                key="download_print",
            )
        if st.button(t("app.save"), key="save_project"):
            with tempfile.TemporaryDirectory() as tmp:
                path = save_project(
                    Path(tmp) / "project.gpkg",
                    analysis.scenario,
                    analysis.settings,
                    st.session_state.get(KEY_PROPOSALS),
                    extra={"lang": lang},
                )
                st.session_state[KEY_SAVED] = path.read_bytes()
        if st.session_state.get(KEY_SAVED):
            st.download_button(
                t("app.export.download", file="project.gpkg"),
                st.session_state[KEY_SAVED],
                file_name="project.gpkg",
                key="download_project",
            )
        st.write(t("app.tables"))
        st.download_button(
            "villages.csv",
            table_csv(analysis.villages, lang, "villages", lambda: village_table(analysis, lang)),
            file_name="villages.csv",
            mime="text/csv",
            key="download_villages",
        )
        st.download_button(
            "households.csv",
            table_csv(analysis.households, "", "households", lambda: household_table(analysis)),
            file_name="households.csv",
            mime="text/csv",
            key="download_households",
        )


def table_csv(source, lang: str, name: str, make) -> bytes:
    """A download's CSV bytes, made again only when ``source`` (the frame the table comes
    from) or the language changed: a county's 20,000 households took 0.3 s to write out on
    every rerun."""
    return session_memo(
        f"csv_{name}", source, lang, lambda: make().to_csv(index=False).encode("utf-8-sig")
    )


def autosave(settings: AnalysisSettings) -> None:
    """Keep the workshop's own work (uploads, edits, proposals) in the autosave file.

    Only when there is work of the user's in it (not for the untouched demo), and only when
    it changed since the last autosave. The layers are written in the background
    (:func:`mapping.project.save_project_later`), atomically, so a crash mid-save keeps the
    previous autosave; a change of settings only rewrites the small settings file beside it.
    """
    proposals = st.session_state.get(KEY_PROPOSALS)
    n_props = 0 if proposals is None else len(proposals)
    token = st.session_state[KEY_TOKEN]
    if token == "demo" and n_props == 0:
        return
    extra = {"lang": st.session_state.get(KEY_LANG, "zh"), "token": token}
    data = (token, None if proposals is None else proposals.to_json())
    state = (data, repr(settings), extra["lang"])
    saved = st.session_state.get(KEY_AUTOSAVED)
    if saved == state:
        return
    try:
        if saved is None or saved[0] != data:
            # in the background: a county's layers take a second or two to write
            save_project_later(
                autosave_path(), st.session_state[KEY_SCENARIO], settings, proposals, extra=extra
            )
        # the settings alone, beside it: a threshold change must not rewrite a county's layers
        save_settings(autosave_path(), settings, extra)
    except OSError:
        return  # a read-only home folder must not stop the workshop; nothing else is lost
    st.session_state[KEY_AUTOSAVED] = state


def render_restore_offer() -> None:
    """After a crash (a new session finding an autosave), offer to bring the work back."""
    if not st.session_state.get(KEY_RESTORE_OFFER):
        return
    path = autosave_path()
    import datetime as dt

    when = dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    st.warning(t("app.restore.offer", when=when))
    c1, c2 = st.columns(2)
    if c1.button(t("app.restore.yes"), key="restore_yes"):
        try:
            scenario, settings, proposals, extra = open_project(path)
        except GapMapperError as err:
            show_error(err)
        else:
            later = open_settings(path)  # settings changed after the layers were saved
            if later is not None and later[1].get("token") == extra.get("token"):
                settings, extra = later
            token = extra.get("token") or f"autosave:{when}"
            set_scenario(scenario, token, proposals, roads_token=token.split("+")[0])
            restore_settings(settings, extra)
        st.session_state[KEY_RESTORE_OFFER] = False
        st.rerun()
    if c2.button(t("app.restore.no"), key="restore_no"):
        st.session_state[KEY_RESTORE_OFFER] = False
        st.rerun()


def main() -> None:
    st.set_page_config(page_title="服务缺口地图 / Service-gap mapper", layout="wide")
    if KEY_SCENARIO not in st.session_state:
        set_scenario(cached_demo(), "demo")
        st.session_state[KEY_RESTORE_OFFER] = is_project(autosave_path())
    apply_pending_settings()
    render_language()
    render_data_source()
    settings = render_settings()
    kind = st.sidebar.radio(
        t("app.map_kind"),
        KINDS,
        format_func=lambda k: t(f"kind.{k}"),
        key=KEY_MAP_KIND,
        horizontal=True,
    )
    render_message()
    render_restore_offer()
    try:
        with st.spinner(t("app.load")):
            base, after = current_analysis(settings)
    except GapMapperError as err:
        lang = st.session_state.get(KEY_LANG, "zh")
        st.error(t("app.error", message=err.message(lang)))
        st.stop()
    scenario = after.scenario
    lang = st.session_state.get(KEY_LANG, "zh")
    st.title(scenario.title.get(lang) or t("app.title"))
    if scenario.fictional:
        st.info(t("app.fictional"))
    render_metrics(base, after, kind)
    col_map, col_side = st.columns([2, 1])
    with col_map:
        preview = suggestion_preview(after, kind)
        if preview is not None:
            st.info(t("app.plan.preview"))
            render_map(after, preview, kind)
        else:
            render_map(base, after, kind)
        render_whatif(after)
        render_editing()
        render_planning(base, after, kind)
    with col_side:
        render_table(after, kind)
        with st.expander(t("app.summary")):
            st.text(summarize(after, lang))
    render_exports(after, kind)
    autosave(settings)


main()
