"""The workshop app (Streamlit). UI only: every computation lives in ``layers`` and ``mapping``.

Run with ``streamlit run app.py``: it opens on the built-in demo Banner, in Chinese, and works
with no internet (the map's scripts are embedded; the roads are the basemap).

The session's work (layers with their origins, proposals, settings and the undo history) is a
:class:`mapping.app_state.History`; this file draws it and turns clicks into its changes.
Widgets hold stable codes (``"demo"``, ``"gcj02"``) and translate only in ``format_func``.

Tests and scripts drive the app by widget keys. The sections below the map (``exp_edit``,
``exp_roads``, ``exp_health``, ``exp_plan``, ``exp_export``, ``exp_summary``) and the
sidebar's own-layers section (``exp_layers``: ``coords``, ``up_<layer>``,
``layer_path_<layer>``, ``how_<layer>``, ``apply_layers``) are worked out only while open:
open one first, as a person does (``at.session_state["exp_layers"] = True`` with AppTest).
Their choices are kept while they are closed. Of a kind's two thresholds only the one in use
is drawn (``threshold_km_<kind>`` or ``threshold_min_<kind>``, by
``threshold_unit_<kind>``). What the map's tools store: a click or a drawn point
``last_click`` (lon, lat), a drawn line or area ``drawn_shape`` (a shapely geometry, lon/lat).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import folium
import pandas as pd
import shapely
import streamlit as st

from layers import i18n
from layers.coords import AUTO, COORD_SYSTEMS
from layers.errors import GapMapperError
from layers.tracks import ROAD_CLASSES, road_class_label
from mapping.analysis import Analysis, apply_proposals, rethreshold, run_analysis
from mapping.app_state import (
    DEFAULT_HOW,
    DEMO,
    FILE_LAYERS,
    HOW,
    USUAL,
    History,
    Work,
    condition_from_extra,
    digest_settings,
    distance_km_shown,
    line_length_m,
    origins_from_extra,
    step_add_closure,
    step_add_road,
    step_condition,
    step_delete_closure,
    step_delete_road,
    step_edit,
    step_edit_roads,
    step_files,
    step_load_demo,
    step_load_source,
    step_open_project,
    step_proposals,
    step_read_closures,
    step_read_roads,
    step_restore,
    step_settings,
)
from mapping.community import add_community_roads
from mapping.conditions import apply_conditions_to_analysis, mark_cut_off
from mapping.corrections import CorrectedRun
from mapping.export import household_table, summarize, village_table
from mapping.maps import add_place_picker, draw_map, render_map_html, use_embedded_assets
from mapping.netcache import build_network_cached
from mapping.network import build_network
from mapping.privacy import displacement_key_for
from mapping.project import (
    autosave_path,
    is_project,
    open_corrections,
    open_project,
    open_settings,
    save_project,
    save_project_later,
    save_settings,
)
from mapping.scenario import Scenario, load_demo, load_scenario
from mapping.settings import CAR_SPEEDS_KMH, MOTORBIKE_SPEEDS_KMH, AnalysisSettings
from mapping.whatif import compare_gaps, make_proposal, move_proposal, remove_proposal

# Session-state keys (widgets are addressed by these keys in tests and benchmarks too).
KEY_LANG = "lang"
KEY_SOURCE = "source"
KEY_HISTORY = "history"  # the session's work and its undo history (mapping.app_state)
KEY_SCENARIO = "scenario"  # the current layers (a copy of the history's, for tests and scripts)
KEY_PROPOSALS = "proposals"  # the current proposals (likewise)
KEY_MODE = "mode"
KEY_WALK_SPEED = "walk_speed_kmh"
KEY_SPEEDS = "vehicle_speeds"
KEY_THRESHOLD = "threshold_km_{kind}"
KEY_THRESHOLD_MIN = "threshold_min_{kind}"
KEY_THRESHOLD_UNIT = "threshold_unit_{kind}"
#: A travel-time threshold to start from when a kind is switched to minutes (workshop
#: starting points, like the distance defaults in mapping.settings: set your own).
MINUTES_START = {"kindergarten": 30.0, "school": 45.0}
KEY_MAP_KIND = "map_kind"
KEY_CLICK = "last_click"  # the chosen place (lon, lat): a map click, a drawn point or a village
KEY_MAP_NEW = "map_answered"  # the map sent a new answer since the last run
KEY_COORDS = "coords"
KEY_OSM_PATH = "osm_path"
KEY_LAYER_PATH = "layer_path_{layer}"
KEY_LAYER_HOW = "how_{layer}"
KEY_UPLOADS = "upload_round"  # the file pickers' generation: a new one is empty
KEY_PLACE = "place"
KEY_BBOX = "bbox"
KEY_MESSAGES = "messages"
KEY_EXPORT = "export_html"
KEY_SAVED = "saved_project"
KEY_PRINT = "printed_map"
KEY_REPORT = "report_pack"  # (report file name, its bytes, cards zip name, its bytes, n cards)
#: Which villages get a card.
CARDS_WHICH = ("flagged", "all", "none")
KEY_AUTOSAVED = "autosaved_state"
KEY_RESTORE_OFFER = "restore_offer"  # the autosave offered back (its path), or None
KEY_WORKSPACE = "ws"  # this tab's workspace: its autosave, kept in the address for a reload
KEY_PENDING = "pending_settings"
KEY_SITES = "suggested_sites"
KEY_PROPOSAL_VILLAGE = "proposal_village"
KEY_EXPORT_WHICH = "export_which"
KEY_DRAWN = "drawn_shape"  # a line or area drawn on the map (lon/lat), not yet used
KEY_MAP_SEEN = "map_seen"  # the map's last answer, to tell a new drawing from an old one
KEY_CONDITION = "condition"  # the road condition the page shows
KEY_ROUTES = "show_routes"
KEY_ROADS_ROUND = "roads_round"  # the roads and closures pickers' generation
#: The speed a slow-down starts from (km/h): snow or mud on a dirt road, a workshop's guess.
SLOW_START_KMH = 20.0
KEY_COLUMNS_STEP = "columns_step"  # the "which column is ..." step: the file it asks about
KEY_COLUMNS_READY = "columns_ready"  # mappings the user gave: read with the files next run
KEY_COLUMN_ROLE = "colmap_{role}"
#: Readers' messages for headers they did not recognise (and what was not recognised): the
#: app asks which column is which.
UNRECOGNISED = {
    "error.tables.no_lon_lat": "position",
    "error.villages.no_name_column": "name",
    "error.services.no_kind": "kind",
}
#: Roles a layer cannot be read without (besides positions), as layers.columns says.
REQUIRED_ROLES = {"households": (), "villages": ("name",), "services": ("kind",)}
KINDS = ("kindergarten", "school")
#: The coordinate-system choice: detect from the roads (the default), or a system.
COORD_OPTIONS = (AUTO, *COORD_SYSTEMS)
LANG_LABELS = {"zh": "中文", "en": "English"}
SOURCES = ("demo", "osm", "download", "project")
MODES = ("motorbike", "walk", "car")
#: Widgets whose options are codes shown through a translation: on a language switch their
#: values are stored again, so that the page shows them in the new language (Streamlit keeps
#: a choice as the text that was shown, which the other language does not have).
CHOICE_KEYS = (
    KEY_SOURCE,
    KEY_COORDS,
    KEY_MAP_KIND,
    KEY_MODE,
    KEY_PROPOSAL_VILLAGE,
    KEY_EXPORT_WHICH,
    KEY_CONDITION,
    "edit_layer",
    "edit_kind",
    "road_class",
    "road_pick",
    "closure_effect",
    "closure_pick",
    "edit_pick",
    "plan_objective",
    "plan_weight",
    "export_privacy",
    "cards_which",
    *(KEY_LAYER_HOW.format(layer=layer) for layer in FILE_LAYERS),
    *(KEY_THRESHOLD_UNIT.format(kind=kind) for kind in KINDS),
)
#: Expanders whose open state the page keeps (Streamlit forgets it when their title changes
#: with the language, unless it is stored again, as the choices are).
EXPANDER_KEYS = (
    "exp_layers",
    "exp_speeds",
    "exp_edit",
    "exp_plan",
    "exp_summary",
    "exp_export",
    "exp_roads",
    "exp_health",
)
#: Query parameters that keep a tab's choices across a reload of the page.
REMEMBERED = (KEY_LANG, KEY_COORDS)

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
        "app.load_demo": {
            "zh": "载入示例旗县（替换现在的全部图层，可以撤销）",
            "en": "Load the demo Banner (replaces every layer; can be undone)",
        },
        "app.osm_upload": {"zh": "上传 OSM 文件（.osm/.pbf/.gz/.bz2）", "en": "Upload an OSM file"},
        "app.osm_path": {"zh": "或输入文件路径", "en": "or type its path"},
        "app.load": {"zh": "载入", "en": "Load"},
        "app.place": {"zh": "地名（如 察哈尔右翼后旗）", "en": "Place name"},
        "app.bbox": {"zh": "或范围 西,南,东,北", "en": "or bounding box W,S,E,N"},
        "app.download": {"zh": "下载（需要联网）", "en": "Download (needs internet)"},
        "app.project_upload": {"zh": "项目文件（.gpkg）", "en": "Project file (.gpkg)"},
        "app.layers": {"zh": "自己的图层（可选）", "en": "Your own layers (optional)"},
        "app.layer.households": {"zh": "农户", "en": "Households"},
        "app.layer.villages": {"zh": "村庄", "en": "Villages"},
        "app.layer.services": {"zh": "幼儿园 / 学校", "en": "Kindergartens / schools"},
        "app.layer_path": {"zh": "{layer}：或输入文件路径", "en": "{layer}: or type a path"},
        "app.how": {"zh": "{layer}：读入后", "en": "{layer}: the file's rows"},
        "app.how.add": {"zh": "加入现有的", "en": "are added"},
        "app.how.replace": {"zh": "替换现有的", "en": "replace the layer"},
        "app.coords": {"zh": "表格经纬度的坐标系", "en": "Coordinate system of lon/lat tables"},
        "app.coords.wgs84": {"zh": "WGS84（GPS、OSM）", "en": "WGS84 (GPS, OSM)"},
        "app.coords.gcj02": {"zh": "GCJ-02（高德、腾讯）", "en": "GCJ-02 (Amap, Tencent)"},
        "app.coords.bd09": {"zh": "BD-09（百度）", "en": "BD-09 (Baidu)"},
        "app.coords.auto": {
            "zh": "自动判断（按哪种读取离道路最近）",
            "en": "Detect (the reading that sits nearest the roads)",
        },
        "app.apply_layers": {"zh": "读入图层", "en": "Read layers"},
        "app.colmap.title": {"zh": "{file}：哪一列是……", "en": "{file}: which column is …"},
        "app.colmap.why": {
            "zh": "没有认出这个文件里的{missing}。请在下面说明每一列是什么（文件的前几行在上面）。"
            "选好后会记住：以后同样表头的文件会直接读取。",
            "en": "The {missing} of this file were not recognised. Say below which column is "
            "which (the file's first rows are above). The choice is remembered: files with "
            "the same headers are read directly next time.",
        },
        "app.colmap.missing.position": {"zh": "经纬度", "en": "positions"},
        "app.colmap.missing.name": {"zh": "村名", "en": "village names"},
        "app.colmap.missing.kind": {"zh": "设施类型", "en": "kinds of service"},
        "app.colmap.rows": {"zh": "{file} 的前 {n} 行", "en": "The first {n} rows of {file}"},
        "app.colmap.none": {"zh": "（没有这一列）", "en": "(no such column)"},
        "app.colmap.apply": {"zh": "按这样读入", "en": "Read it this way"},
        "app.colmap.cancel": {"zh": "取消", "en": "Cancel"},
        "app.colmap.need_position": {
            "zh": "请选出经度和纬度两列，或者一个同时写着纬度和经度的“位置”列。",
            "en": "Choose the longitude and the latitude columns, or one position column "
            "holding both.",
        },
        "app.colmap.need_role": {
            "zh": "请选出“{role}”是哪一列。",
            "en": "Choose the {role} column.",
        },
        "app.colmap.twice": {
            "zh": "“{header}”一列被选了两次。每一列只能有一个用途。",
            "en": "The column '{header}' was chosen twice; each column has one role.",
        },
        "app.colmap.remembered": {
            "zh": "{file}：按上次为同样表头记住的列读取（{pairs}）。",
            "en": "{file}: read with the columns remembered for these headers ({pairs}).",
        },
        "app.uploader.button": {"zh": "选择文件", "en": "Choose a file"},
        "app.uploader.limit": {
            "zh": "每个文件最大 200MB · {types}",
            "en": "200MB per file at most · {types}",
        },
        "app.uploader.help": {
            "zh": "拖放文件到这里，或点“选择文件”（每个文件最大 200MB）",
            "en": "Drop a file here, or press 'Choose a file' (200MB per file at most)",
        },
        "app.loaded": {"zh": "已载入：{what}", "en": "Loaded: {what}"},
        "app.undo": {"zh": "↶ 撤销：{step}", "en": "↶ Undo {step}"},
        "app.redo": {"zh": "↷ 重做：{step}", "en": "↷ Redo {step}"},
        "app.undo.none": {"zh": "↶ 撤销（没有可撤销的操作）", "en": "↶ Undo (nothing to undo)"},
        "app.undone": {"zh": "已撤销：{step}", "en": "Undone: {step}"},
        "app.redone": {"zh": "已重做：{step}", "en": "Redone: {step}"},
        "app.travel": {"zh": "2. 出行方式", "en": "2. Travel"},
        "app.mode": {"zh": "出行方式", "en": "Travel mode"},
        "app.walk_speed": {"zh": "步行速度（公里/小时）", "en": "Walking speed (km/h)"},
        "app.speeds": {"zh": "各类道路车速（公里/小时）", "en": "Speeds per road class (km/h)"},
        "app.road_class": {"zh": "道路类型", "en": "Road class"},
        "app.speed": {"zh": "车速", "en": "Speed"},
        "app.thresholds": {"zh": "3. 距离标准", "en": "3. Thresholds"},
        "app.threshold": {"zh": "{kind}（公里）", "en": "{kind} (km)"},
        "app.map_kind": {"zh": "地图显示", "en": "Map shows"},
        "app.metric.flagged": {"zh": "超标村庄", "en": "Villages beyond"},
        "app.metric.households": {"zh": "超标农户", "en": "Households beyond"},
        "app.metric.children": {"zh": "涉及儿童", "en": "Children beyond"},
        "app.metric.median": {
            "zh": "农户距离中位数（公里）",
            "en": "Median household distance (km)",
        },
        "app.before_after": {
            "zh": "拟建前 → 拟建后：超过 {limit} 的农户 {before} → {after} 户，村庄 {vb} → {va} 个。",
            "en": "Before → after the proposals: households beyond {limit} {before} → {after}, "
            "villages {vb} → {va}.",
        },
        "app.limit.km": {"zh": "{n} 公里", "en": "{n} km"},
        "app.limit.min": {"zh": "{n} 分钟", "en": "{n} min"},
        "app.threshold.unit": {"zh": "{kind}的标准按", "en": "{kind}: threshold by"},
        "app.threshold.by.km": {"zh": "距离（公里）", "en": "distance (km)"},
        "app.threshold.by.min": {"zh": "时间（分钟）", "en": "travel time (min)"},
        "app.threshold.min": {"zh": "{kind}（分钟）", "en": "{kind} (minutes)"},
        "app.table": {"zh": "村庄一览（超标的在前）", "en": "Villages (flagged first)"},
        "app.chart": {
            "zh": "各村到最近{kind}的道路距离（公里）",
            "en": "Road distance from each village to the nearest {kind} (km)",
        },
        "app.chart.limit": {"zh": "标准", "en": "threshold"},
        "app.col.village": {"zh": "村庄", "en": "Village"},
        "app.col.dist": {"zh": "距离（公里）", "en": "Distance (km)"},
        "app.col.time": {"zh": "时间（分钟）", "en": "Time (min)"},
        "app.col.flag": {"zh": "超标", "en": "Beyond"},
        "app.col.households": {"zh": "农户", "en": "Households"},
        "app.col.reason": {"zh": "说明", "en": "Why"},
        "app.whatif": {"zh": "假如在这里建……", "en": "What if we build here…"},
        "app.whatif.help": {
            "zh": "在地图上点一下（或用地图左上角的选点工具放一个点）选位置，或选一个村，"
            "然后添加拟建的幼儿园或学校。以最后一次选择为准。",
            "en": "Click the map (or drop a point with the tool at its top left) to choose a "
            "place, or pick a village, then add a proposed kindergarten or school. The latest "
            "choice counts.",
        },
        "app.whatif.clicked": {
            "zh": "已选位置：经度 {lon}，纬度 {lat}",
            "en": "Chosen place: lon {lon}, lat {lat}",
        },
        "app.whatif.at_village": {
            "zh": "已选位置：{village}（经度 {lon}，纬度 {lat}）",
            "en": "Chosen place: {village} (lon {lon}, lat {lat})",
        },
        "app.whatif.none": {"zh": "还没有选位置。", "en": "No place chosen yet."},
        "app.whatif.no_village": {
            "zh": "（不选村，用地图上点的位置）",
            "en": "(none: use the clicked place)",
        },
        "app.whatif.marker": {"zh": "所选位置", "en": "Chosen place"},
        "app.map.full_detail": {
            "zh": "本页地图显示农户位置，仅供工作团队使用；要分享请导出“村委会版地图”。",
            "en": "This map shows household positions, for the team only; to share, export "
            "the committee map.",
        },
        "app.map.routes": {
            "zh": "显示路线（点一个村，画出它到最近设施的道路路线）",
            "en": "Show routes (click a village to draw its road route to the nearest service)",
        },
        "app.map.drawn.line": {
            "zh": "你在地图上画了一条线（{km} 公里）。打开下面的“社区补充的道路 / 路况”，"
            "把它存为社区道路，或封闭它经过的道路。",
            "en": "You drew a line on the map ({km} km). Open 'Community roads / road "
            "conditions' below to save it as a community road, or to close the roads along it.",
        },
        "app.map.drawn.area": {
            "zh": "你在地图上画了一个范围。打开下面的“社区补充的道路 / 路况”，封闭或限速其中的道路。",
            "en": "You drew an area on the map. Open 'Community roads / road conditions' below "
            "to close or slow the roads in it.",
        },
        "app.map.located": {
            "zh": "{n} 户没有坐标，按所在村计算；地图上没有画出它们。",
            "en": "{n} households have no coordinates and are counted at their village; the "
            "map does not draw them.",
        },
        "app.roads": {
            "zh": "社区补充的道路 / 路况",
            "en": "Community roads / road conditions",
        },
        "app.roads.help": {
            "zh": "OSM 里缺的路由社区来补：用地图左上角的画线工具画出来，或读入手机记录的轨迹。"
            "社区道路在两端、交叉处和离已有道路 {join} 米以内的点接入路网；沿着已有道路的部分不重复计算。",
            "en": "The community adds the roads OSM lacks: draw them with the line tool at the "
            "map's top left, or read tracks recorded with a phone. A community road joins the "
            "roads at its ends, where it crosses them and wherever it comes within {join} m of "
            "them; stretches along an existing road are not counted twice.",
        },
        "app.roads.community": {"zh": "社区补充的道路", "en": "Community roads"},
        "app.roads.drawn": {
            "zh": "地图上画好的线：{km} 公里。",
            "en": "The line drawn on the map: {km} km.",
        },
        "app.roads.draw_first": {
            "zh": "先用地图左上角的画线工具（第一个按钮）画出道路：逐点点击，最后再点一下最后一个点。",
            "en": "Draw the road with the line tool at the map's top left (the first button): "
            "click point by point, then click the last point again.",
        },
        "app.roads.class": {"zh": "道路类型", "en": "Road class"},
        "app.roads.name": {"zh": "名称（可空）", "en": "Name (optional)"},
        "app.roads.by": {"zh": "谁添加的（可空）", "en": "Added by (optional)"},
        "app.roads.add": {
            "zh": "把画好的线存为社区道路",
            "en": "Save the line as a community road",
        },
        "app.roads.added": {
            "zh": "已添加社区道路“{name}”（{cls}）。",
            "en": "Community road '{name}' added ({cls}).",
        },
        "app.roads.file": {
            "zh": "道路文件（GPX 轨迹、KML/KMZ、GeoJSON、GPKG、打包的 Shapefile）",
            "en": "Road files (GPX tracks, KML/KMZ, GeoJSON, GPKG, zipped Shapefile)",
        },
        "app.roads.file_coords": {
            "zh": "GPX 总是 WGS84；其他文件按左边“表格经纬度的坐标系”读取（选“自动判断”时按 WGS84；"
            "奥维导出的文件是 GCJ-02）。",
            "en": "GPX is always WGS84; other files are read in the coordinate system chosen on "
            "the left ('Detect' reads them as WGS84; Ovital exports are GCJ-02).",
        },
        "app.roads.load": {"zh": "读入道路文件", "en": "Read the road file"},
        "app.roads.loaded": {
            "zh": "已读入 {file}：{n} 条道路。",
            "en": "Read {file}: {n} road(s).",
        },
        "app.roads.table": {
            "zh": "社区道路（可以改类型、名称和添加人，然后保存）",
            "en": "Community roads (change the class, name or who added it, then apply)",
        },
        "app.roads.col.id": {"zh": "编号", "en": "Id"},
        "app.roads.col.road_class": {"zh": "类型", "en": "Class"},
        "app.roads.col.name": {"zh": "名称", "en": "Name"},
        "app.roads.col.added_by": {"zh": "添加人", "en": "Added by"},
        "app.roads.col.source": {"zh": "来源", "en": "From"},
        "app.roads.drawn_source": {"zh": "在地图上画的", "en": "drawn on the map"},
        "app.roads.apply": {"zh": "保存表格修改", "en": "Apply the table edits"},
        "app.roads.saved": {
            "zh": "社区道路的修改已保存。",
            "en": "The community roads are updated.",
        },
        "app.roads.pick": {"zh": "选择道路", "en": "Road"},
        "app.roads.delete": {"zh": "删除这条道路", "en": "Delete this road"},
        "app.roads.deleted": {
            "zh": "已删除社区道路“{name}”。",
            "en": "Community road '{name}' deleted.",
        },
        "app.roads.download": {
            "zh": "下载社区道路（{fmt}）",
            "en": "Download the community roads ({fmt})",
        },
        "app.roads.changed": {
            "zh": "社区道路带来的变化（到最近的{kind}）",
            "en": "What the community roads changed (to the nearest {kind})",
        },
        "app.roads.unchanged": {
            "zh": "社区道路没有改变任何村庄到{kind}的距离。",
            "en": "The community roads change no village's distance to a {kind}.",
        },
        "app.roads.col.village": {"zh": "村庄", "en": "Village"},
        "app.roads.col.before": {"zh": "之前（公里）", "en": "Before (km)"},
        "app.roads.col.after": {"zh": "之后（公里）", "en": "After (km)"},
        "app.roads.col.change": {"zh": "变化（公里）", "en": "Change (km)"},
        "app.roads.col.why": {"zh": "说明", "en": "What changed"},
        "app.roads.demo": {
            "zh": "载入示例：一条记录的轨迹和“冬季积雪”的封路",
            "en": "Load the demo's recorded track and its winter closures",
        },
        "app.closures": {"zh": "封路和限速", "en": "Closures and slow-downs"},
        "app.closures.help": {
            "zh": "路况是一组封路或限速，例如“冬季积雪”“雨季”。在地图上画一个范围或一条线，"
            "或者点一下某段路，再按下面的按钮。",
            "en": "A road condition is a set of closures or slow-downs, such as 'winter snow' "
            "or 'rainy season'. Draw an area or a line on the map, or click a road, then "
            "press a button below.",
        },
        "app.closures.condition": {"zh": "路况名称", "en": "Condition"},
        "app.closures.placeholder": {"zh": "例如：冬季积雪", "en": "e.g. winter snow"},
        "app.closures.effect": {"zh": "作用", "en": "Effect"},
        "app.closures.effect.closed": {"zh": "封路（不能通行）", "en": "closed"},
        "app.closures.effect.slowed": {"zh": "限速", "en": "slowed"},
        "app.closures.speed": {"zh": "限速（公里/小时）", "en": "Speed (km/h)"},
        "app.closures.drawn": {
            "zh": "对地图上画好的线或范围里的道路",
            "en": "To the roads along the line or in the area drawn",
        },
        "app.closures.click": {
            "zh": "对所选位置最近的那段路",
            "en": "To the road nearest the chosen place",
        },
        "app.closures.added": {
            "zh": "已在“{condition}”下加上{effect}。地图现在显示这种路况。",
            "en": "Added to '{condition}': {effect}. The map now shows this condition.",
        },
        "app.closures.no_road": {
            "zh": "所选位置 150 米以内没有道路。请在地图上点在要封的那段路上。",
            "en": "There is no road within 150 m of the chosen place. Click on the road to close.",
        },
        "app.closures.file": {
            "zh": "封路文件（范围或线；可有 condition 和 speed_kmh 列）",
            "en": "Closure files (areas or lines; optional condition and speed_kmh columns)",
        },
        "app.closures.load": {"zh": "读入封路文件", "en": "Read the closure file"},
        "app.closures.loaded": {
            "zh": "已读入 {file}：{n} 处封路或限速（路况：{conditions}）。",
            "en": "Read {file}: {n} closure(s) or slow-down(s) (conditions: {conditions}).",
        },
        "app.closures.col.id": {"zh": "编号", "en": "Id"},
        "app.closures.col.condition": {"zh": "路况", "en": "Condition"},
        "app.closures.col.effect": {"zh": "作用", "en": "Effect"},
        "app.closures.col.name": {"zh": "名称", "en": "Name"},
        "app.closures.col.source": {"zh": "来源", "en": "From"},
        "app.closures.slowed_to": {"zh": "限速 {speed} 公里/小时", "en": "slowed to {speed} km/h"},
        "app.closures.pick": {"zh": "选择封路", "en": "Closure"},
        "app.closures.delete": {"zh": "删除这处封路", "en": "Delete this closure"},
        "app.closures.deleted": {"zh": "已删除封路 {name}。", "en": "Closure {name} deleted."},
        "app.compare": {"zh": "各种路况对比", "en": "Conditions side by side"},
        "app.compare.usual": {"zh": "平时（公里）", "en": "Usual (km)"},
        "app.compare.under": {"zh": "{condition}（公里）", "en": "{condition} (km)"},
        "app.compare.cut": {"zh": "无法到达", "en": "cut off"},
        "app.compare.flag": {"zh": "{km}（超标）", "en": "{km} (beyond)"},
        "app.health": {
            "zh": "数据体检：哪里缺路、哪些点离路太远",
            "en": "Data health: missing roads, points far from any road",
        },
        "app.health.help": {
            "zh": "“建议补路”列出社区道路最能改变结果的村：请派人带手机去记录那里的路。",
            "en": "'Map this road' lists the villages where a community road would change the "
            "answer most: send someone with a phone to record the tracks there.",
        },
        "app.health.none": {"zh": "没有发现问题。", "en": "No problems found."},
        "app.health.issue.map_this_road": {"zh": "建议补路", "en": "Map this road"},
        "app.health.issue.long_offroad": {"zh": "离路太远", "en": "Far from a road"},
        "app.health.issue.small_piece": {"zh": "断开的小段路", "en": "Disconnected road"},
        "app.health.issue.service_unreachable": {
            "zh": "没人能到的设施",
            "en": "Service no one reaches",
        },
        "app.health.col.issue": {"zh": "问题", "en": "Issue"},
        "app.health.col.name": {"zh": "名称", "en": "Name"},
        "app.health.col.detail": {"zh": "说明", "en": "Details"},
        "app.condition": {"zh": "路况", "en": "Road condition"},
        "app.condition.usual": {"zh": "平时（无封路）", "en": "Usual (no closures)"},
        "app.condition.shown": {
            "zh": "现在显示的是“{condition}”的路况：封路和限速已经计入距离、时间和标记。",
            "en": "Shown under '{condition}': its closures and slow-downs are in the "
            "distances, times and flags.",
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
        "app.edit.added": {
            "zh": "已添加{layer}“{name}”（经度 {lon}，纬度 {lat}）。",
            "en": "Added to the {layer}: '{name}' (lon {lon}, lat {lat}).",
        },
        "app.edit.moved": {"zh": "已移动“{name}”。", "en": "Moved '{name}'."},
        "app.edit.deleted": {"zh": "已删除“{name}”。", "en": "Deleted '{name}'."},
        "app.edit.saved": {"zh": "表格修改已保存。", "en": "The table edits are applied."},
        "app.edit.col.id": {"zh": "编号", "en": "Id"},
        "app.edit.col.village_name": {"zh": "村庄", "en": "Village"},
        "app.edit.col.children": {"zh": "儿童数", "en": "Children"},
        "app.edit.col.name": {"zh": "名称", "en": "Name"},
        "app.edit.col.kind": {"zh": "类型", "en": "Kind"},
        "app.edit.col.capacity": {"zh": "学位数", "en": "Places"},
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
        "app.export.which": {"zh": "导出哪种情况", "en": "Export which situation"},
        "app.export.which.now": {
            "zh": "现状（不含拟建点）",
            "en": "Today (without the proposals)",
        },
        "app.export.which.after": {
            "zh": "拟建后（含 {n} 个尚未建成的拟建点）",
            "en": "After the proposals ({n} not built yet)",
        },
        "app.export.title.now": {"zh": "现状", "en": "today"},
        "app.export.title.after": {
            "zh": "拟建后（含 {n} 个拟建点）",
            "en": "after {n} proposal(s)",
        },
        "app.export.shows": {
            "zh": "下面的文件显示：{which}。",
            "en": "The files below show: {which}.",
        },
        "app.restore.offer": {
            "zh": "发现上次未保存的工作（自动保存于 {when}）。要恢复吗？",
            "en": "Unsaved work from last time was found (autosaved at {when}). Restore it?",
        },
        "app.autosave.failed": {
            "zh": "自动保存没有成功（{reason}）。请用“保存项目”把工作保存到自己的文件里。",
            "en": "The autosave did not work ({reason}). Use 'Save project' to keep the work "
            "in a file of your own.",
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
        "app.plan.accepted": {
            "zh": "已把 {n} 个建议地点加为拟建点。",
            "en": "{n} suggested site(s) added as proposals.",
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
        "app.col.band": {"zh": "道路距离以内（公里）", "en": "Within (km by road)"},
        "app.col.within_before": {"zh": "农户（拟建前）", "en": "Households (before)"},
        "app.col.within_after": {"zh": "农户（拟建后）", "en": "Households (after)"},
        "app.col.share_before": {"zh": "占比（拟建前）", "en": "Share (before)"},
        "app.col.share_after": {"zh": "占比（拟建后）", "en": "Share (after)"},
        "app.col.children_before": {"zh": "儿童（拟建前）", "en": "Children (before)"},
        "app.col.children_after": {"zh": "儿童（拟建后）", "en": "Children (after)"},
        "app.print.paper": {"zh": "打印纸张", "en": "Paper"},
        "app.print.format": {"zh": "文件格式", "en": "Format"},
        "app.print.make": {"zh": "生成打印版地图", "en": "Make the printable map"},
        "app.report": {
            "zh": "报告 PDF 和村卡片（可以发微信）",
            "en": "Report PDF and village cards (for WeChat)",
        },
        "app.report.author": {
            "zh": "制作人（印在报告封面上，可空）",
            "en": "Made by (printed on the report's cover; optional)",
        },
        "app.report.cards": {"zh": "村卡片", "en": "Village cards"},
        "app.report.cards.flagged": {"zh": "超标的村", "en": "villages beyond"},
        "app.report.cards.all": {"zh": "所有村", "en": "every village"},
        "app.report.cards.none": {"zh": "不要卡片", "en": "no cards"},
        "app.report.make": {"zh": "生成报告和村卡片", "en": "Make the report and the cards"},
        "app.report.page": {
            "zh": "正在画报告：第 {done}/{total} 页",
            "en": "Drawing the report: page {done} of {total}",
        },
        "app.report.card": {
            "zh": "正在画村卡片：{done}/{total}",
            "en": "Drawing the village cards: {done} of {total}",
        },
        "app.report.done": {
            "zh": "报告和 {n} 张村卡片已经做好。",
            "en": "The report and {n} village card(s) are ready.",
        },
        "app.save": {
            "zh": "保存项目（全部图层、拟建点和设置）",
            "en": "Save project (all layers, proposals, settings)",
        },
        "app.tables": {"zh": "下载表格", "en": "Download tables"},
        "app.yes": {"zh": "是", "en": "yes"},
        "app.no": {"zh": "否", "en": "no"},
        "app.error": {"zh": "无法完成：{message}", "en": "Could not do that: {message}"},
        "app.kept": {
            "zh": "之前的数据和设置保持不变。",
            "en": "The previous data and settings are kept.",
        },
        "app.bug": {
            "zh": "程序出了错（{kind}），这一步没有完成；之前的数据和设置保持不变。"
            "详细信息已写入日志：{log}",
            "en": "The program hit an error ({kind}) and did not finish this step; the "
            "previous data and settings are kept. The details are in the log: {log}",
        },
        "app.bug.nolog": {"zh": "（日志无法写入）", "en": "(the log could not be written)"},
        "csv.village_id": {"zh": "村编号", "en": "village id"},
        "csv.village_name": {"zh": "村庄", "en": "village"},
        "csv.household_id": {"zh": "农户编号", "en": "household id"},
        "csv.village_rule": {"zh": "归村方式", "en": "placed in village by"},
        "csv.children": {"zh": "儿童数", "en": "children"},
        "csv.n_households": {"zh": "农户数", "en": "households"},
        "csv.n_children": {"zh": "儿童数", "en": "children"},
        "csv.offroad_m": {"zh": "离道路（米）", "en": "off the road (m)"},
        "csv.lon": {"zh": "经度", "en": "longitude"},
        "csv.lat": {"zh": "纬度", "en": "latitude"},
        "csv.dist_m": {"zh": "到{kind}道路距离（米）", "en": "road distance to {kind} (m)"},
        "csv.time_min": {"zh": "到{kind}时间（分钟）", "en": "time to {kind} (min)"},
        "csv.nearest": {"zh": "最近的{kind}", "en": "nearest {kind}"},
        "csv.straight_m": {
            "zh": "到{kind}直线距离（米）",
            "en": "straight-line distance to {kind} (m)",
        },
        "csv.median_hh_dist_m": {
            "zh": "农户到{kind}距离中位数（米）",
            "en": "median household distance to {kind} (m)",
        },
        "csv.max_hh_dist_m": {
            "zh": "农户到{kind}最远距离（米）",
            "en": "farthest household distance to {kind} (m)",
        },
        "csv.n_hh_beyond": {"zh": "超标农户（{kind}）", "en": "households beyond ({kind})"},
        "csv.share_hh_beyond": {
            "zh": "超标农户占比（{kind}）",
            "en": "share of households beyond ({kind})",
        },
        "csv.n_children_beyond": {"zh": "涉及儿童（{kind}）", "en": "children beyond ({kind})"},
        "csv.flag": {"zh": "超标（{kind}）", "en": "beyond ({kind})"},
        "csv.warn": {"zh": "部分农户超标（{kind}）", "en": "some households beyond ({kind})"},
        "csv.reason": {"zh": "说明（{kind}）", "en": "why ({kind})"},
        "csv.unreachable": {"zh": "无法到达（{kind}）", "en": "unreachable ({kind})"},
    }
)

#: Columns of the download tables per kind (``{k}`` is the kind), in the tables' order.
_KIND_COLUMNS = {
    "dist_{k}_m": "csv.dist_m",
    "time_{k}_min": "csv.time_min",
    "nearest_{k}": "csv.nearest",
    "straight_{k}_m": "csv.straight_m",
    "median_hh_dist_{k}_m": "csv.median_hh_dist_m",
    "max_hh_dist_{k}_m": "csv.max_hh_dist_m",
    "n_hh_beyond_{k}": "csv.n_hh_beyond",
    "share_hh_beyond_{k}": "csv.share_hh_beyond",
    "n_children_beyond_{k}": "csv.n_children_beyond",
    "flag_{k}": "csv.flag",
    "warn_{k}": "csv.warn",
    "reason_{k}": "csv.reason",
    "unreachable_{k}": "csv.unreachable",
}


# --------------------------------------------------------------------------------------------
# Caches: the demo and networks are read-only resources; arguments starting with "_" are not
# hashed by Streamlit: the content keys (mapping.app_state) stand for them.


@st.cache_resource(show_spinner=False)
def cached_demo() -> Scenario:
    return load_demo()


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_network(roads_key: str, mode: str, speeds: tuple, walk: float, _scenario: Scenario):
    settings = AnalysisSettings(mode=mode, speeds_kmh=dict(speeds) or None, walk_speed_kmh=walk)
    if _scenario.osm_source is not None:  # reopen from the disk cache when it is there
        path, clip, childcare = _scenario.osm_source
        return build_network_cached(
            path, _scenario.roads, settings, clip=clip, include_childcare=childcare
        )
    return build_network(_scenario.roads, settings)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_distances(layers_key: str, settings_key: tuple, _scenario, _settings, _network):
    return run_analysis(_scenario, _settings, network=_network)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_community(layers_key: str, dist_key: tuple, community_key: str, _distances, _roads):
    """The distances with the community roads joined in (:func:`add_community_roads`: the
    network patched, only what the roads reach searched again); (analysis, join)."""
    return add_community_roads(_distances, _roads)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_condition(
    layers_key: str, dist_key: tuple, community_key: str, closures_key: str, _open, _closures,
    condition: str,
):  # fmt: skip
    """The distances under a road condition (its closures and slow-downs); (analysis,
    :class:`~mapping.conditions.ConditionNetwork`)."""
    return apply_conditions_to_analysis(_open, _closures, condition)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_gaps(
    analysis_key: str, settings_key: str, _distances: Analysis, _settings, conditions: tuple
):
    """The gaps under the session's thresholds (shared by the sessions holding the same
    layers and settings: a new laptop's first page reuses them); villages cut off by the
    ``conditions``' closures say so, naming them."""
    gaps = rethreshold(_distances, _settings)
    return mark_cut_off(gaps, conditions) if conditions else gaps


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_after(layers_key: str, settings_key: str, proposals_key: str, _base, _proposals):
    """The analysis with the proposals (shared like :func:`cached_gaps`)."""
    return apply_proposals(_base, _proposals)


@st.cache_resource(show_spinner=False)
def cached_demo_work() -> Work:
    """The untouched demo as a session's first work (its content digests made once)."""
    return Work.start(cached_demo(), DEMO)


def t(key: str, **params) -> str:
    """Translate into the session's language."""
    return i18n.t(key, lang(), **params)


def lang() -> str:
    return st.session_state.get(KEY_LANG, "zh")


def labels(prefix: str, **params):
    """A widget's ``format_func``: the code's label (``{prefix}.{code}``) in the language of
    the run that draws the widget (the function may be called later, outside the run)."""
    lg = lang()
    return lambda code: i18n.t(f"{prefix}.{code}", lg, **params)


def history() -> History:
    return st.session_state[KEY_HISTORY]


def work() -> Work:
    return history().work


# --------------------------------------------------------------------------------------------
# Messages, errors and bugs


def say(level: str, key: str, **params) -> None:
    """Keep a message (both languages) for the top of the page on the next run."""
    text = {lg: i18n.t(key, lg, **params) for lg in i18n.LANGUAGES}
    st.session_state.setdefault(KEY_MESSAGES, []).append((level, text))


def say_step(key: str, step) -> None:
    """Keep a message about an undone or redone step, in both languages."""
    text = {lg: i18n.t(key, lg, step=step.label(lg)) for lg in i18n.LANGUAGES}
    st.session_state.setdefault(KEY_MESSAGES, []).append(("info", text))


def show_error(err: GapMapperError, hide: tuple[Path, ...] = ()) -> None:
    """Keep the library's message for the next run, without the private folders ``hide``
    (an uploaded file is named as the user called it, never by its temporary path)."""
    text = {}
    for lg in i18n.LANGUAGES:
        message = err.message(lg)
        for folder in hide:
            for shown in {str(folder), str(folder.resolve())}:
                message = message.replace(shown + os.sep, "").replace(shown, "")
        text[lg] = i18n.t("app.error", lg, message=message) + " " + i18n.t("app.kept", lg)
    st.session_state.setdefault(KEY_MESSAGES, []).append(("error", text))


def show_bug(exc: Exception, context: str) -> None:
    """An internal error: a short message and where the log is; the traceback goes to the log."""
    from layers.files import write_error_log

    log = write_error_log(exc, f"app: {context}")
    text = {
        lg: i18n.t(
            "app.bug",
            lg,
            kind=type(exc).__name__,
            log=str(log) if log else i18n.t("app.bug.nolog", lg),
        )
        for lg in i18n.LANGUAGES
    }
    st.session_state.setdefault(KEY_MESSAGES, []).append(("error", text))


@contextlib.contextmanager
def guarded(context: str, hide: tuple[Path, ...] = (), *, rerun: bool = True):
    """Run one step of the user's: the project's errors become messages, a bug becomes a
    short message plus the log's place; either way the step stops, the work is as it was
    (every change is made at the end of a step, by one ``History.change``) and the page is
    drawn again with the message at its top (in a widget's callback, ``rerun=False``: the
    page is drawn after it anyway)."""
    try:
        yield
    except GapMapperError as err:
        show_error(err, hide)
    except Exception as exc:  # a bug: never a traceback on the page, never a half-done step
        show_bug(exc, context)
    else:
        return
    if rerun:
        st.rerun()  # the message is shown at the top of the page


#: Characters Streamlit's Markdown gives a meaning (links, images, HTML, emphasis, code,
#: tables, maths, colour directives, headings): a file name or a village name holding them
#: is shown as the characters it holds.
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>$|~#"})


def md(text: str) -> str:
    """``text`` (which may hold a file name, a village or condition name: data) for an
    element that renders Markdown (st.info, st.subheader, ...), its characters escaped."""
    return str(text).translate(_MARKDOWN)


def render_messages() -> None:
    for level, text in st.session_state.pop(KEY_MESSAGES, []):
        getattr(st, level)(md(text.get(lang()) or text["en"]))


# --------------------------------------------------------------------------------------------
# The work: changes, undo, and what tests and scripts read


def change(new: Work, step) -> None:
    """Make ``new`` the session's work (one undoable step)."""
    history().change(new, step)
    mirror()


def mirror() -> None:
    """Copy the current layers and proposals to the session keys tests and scripts read, and
    forget what was made from the previous ones."""
    w = work()
    if st.session_state.get(KEY_SCENARIO) is not w.scenario:
        st.session_state[KEY_SCENARIO] = w.scenario
    if st.session_state.get(KEY_PROPOSALS) is not w.proposals:
        st.session_state[KEY_PROPOSALS] = w.proposals
    made = (w.analysis_key, w.proposals_key)
    if st.session_state.get("made_from") != made:
        st.session_state["made_from"] = made
        for key in (KEY_EXPORT, KEY_SAVED, KEY_PRINT, KEY_REPORT):
            st.session_state.pop(key, None)


def sync_widgets() -> None:
    """Put the work's settings into the widgets on the next run (after undo, a restore or an
    opened project): Streamlit lets a widget's value be set only before it is drawn."""
    st.session_state[KEY_PENDING] = work().settings


def apply_pending_settings() -> None:
    settings = st.session_state.pop(KEY_PENDING, None)
    if settings is None:
        return
    st.session_state[KEY_MODE] = settings.mode
    st.session_state[KEY_WALK_SPEED] = settings.walk_speed_kmh
    for kind in KINDS:
        st.session_state[KEY_THRESHOLD.format(kind=kind)] = settings.threshold_m(kind) / 1000
        minutes = settings.threshold_min(kind)
        st.session_state[KEY_THRESHOLD_UNIT.format(kind=kind)] = "km" if minutes is None else "min"
        st.session_state[KEY_THRESHOLD_MIN.format(kind=kind)] = minutes or MINUTES_START[kind]


def undo_or_redo(redo: bool) -> None:
    """The undo and redo buttons' callback (run before the page is drawn)."""
    done = history().redo() if redo else history().undo()
    if done is None:
        return
    mirror()
    sync_widgets()
    say_step("app.redone" if redo else "app.undone", done)


def render_undo() -> None:
    h = history()
    step = h.undo_step
    st.button(
        t("app.undo", step=step.label(lang())) if step else t("app.undo.none"),
        key="undo",
        disabled=step is None,
        width="stretch",
        on_click=undo_or_redo,
        args=(False,),
    )
    step = h.redo_step
    if step is not None:
        st.button(
            t("app.redo", step=step.label(lang())),
            key="redo",
            width="stretch",
            on_click=undo_or_redo,
            args=(True,),
        )


# --------------------------------------------------------------------------------------------
# Uploads: read, then deleted at once (household files hold families' names and phones)


@contextlib.contextmanager
def uploaded(files):
    """Write uploaded files to one private temporary folder under their own names; yield
    ``(paths, folder)``; delete the folder when the block ends, whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="gapmapper-"))
    try:
        paths = []
        for up in files:
            path = folder / f"{len(paths)}" / Path(up.name).name
            path.parent.mkdir()
            path.write_bytes(up.getvalue())
            paths.append(path)
        yield paths, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def upload_key(name: str) -> str:
    """The key of a file picker; a new round (after its file was read) gives an empty one."""
    n = st.session_state.get(KEY_UPLOADS, 0)
    return name if n == 0 else f"{name}_{n}"


def clear_pickers() -> None:
    """Empty the file pickers and typed paths after their files were read (so pressing the
    button again does not add the same file twice)."""
    st.session_state[KEY_UPLOADS] = st.session_state.get(KEY_UPLOADS, 0) + 1
    st.session_state["clear_paths"] = True


def file_picker(container, label: str, types: list[str], key: str):
    return container.file_uploader(
        label, type=types, key=upload_key(key), help=t("app.uploader.help")
    )


#: The file types each file picker takes (keys without their round).
PICKER_TYPES = {
    "up_osm": ["osm", "pbf", "gz", "bz2"],
    "up_project": ["gpkg"],
    "up_roads": ["gpx", "kml", "kmz", "geojson", "json", "gpkg", "zip"],
    "up_closures": ["gpx", "kml", "kmz", "geojson", "json", "gpkg", "zip"],
    **{
        f"up_{layer}": ["csv", "xlsx", "geojson", "json", "gpkg", "zip", "kml"]
        for layer in FILE_LAYERS
    },
}


def css_text(text: str) -> str:
    """``text`` as a CSS string literal."""
    return (
        '"'
        + "".join(c if c.isalnum() or c in " .,:;·、（）()/-" else f"\\{ord(c):x} " for c in text)
        + '"'
    )


def render_picker_texts() -> None:
    """The file pickers' own texts ("Upload", "200MB per file • CSV, ...") in the page's
    language. Streamlit offers no way to set them, so a style sheet of ours hides its words
    and shows ours in their place (our own translations: no user text reaches it)."""
    rules = [
        '[class*="st-key-up_"] [data-testid=stFileUploaderDropzone] button p '
        "{font-size: 0 !important;}",
        '[class*="st-key-up_"] [data-testid=stFileUploaderDropzone] button p::after '
        f"{{content: {css_text(t('app.uploader.button'))}; font-size: 0.875rem;}}",
        '[class*="st-key-up_"] [data-testid=stFileUploaderDropzoneInstructions] span '
        "{font-size: 0 !important;}",
    ]
    for key, types in PICKER_TYPES.items():
        limit = t("app.uploader.limit", types=", ".join(x.upper() for x in types))
        rules.append(
            f'[class*="st-key-{key}"] [data-testid=stFileUploaderDropzoneInstructions] span::after '
            f"{{content: {css_text(limit)}; font-size: 0.75rem; display: block; "
            "white-space: normal;}"
        )
    st.html("<style>" + "\n".join(rules) + "</style>")


# --------------------------------------------------------------------------------------------
# Sidebar


def keep_choices() -> None:
    """On a language switch: store every choice again as its code (see :data:`CHOICE_KEYS`),
    and whether each expander is open."""
    for key in (*CHOICE_KEYS, *EXPANDER_KEYS):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    st.query_params[KEY_LANG] = st.session_state[KEY_LANG]


def remember_coords() -> None:
    st.query_params[KEY_COORDS] = st.session_state[KEY_COORDS]


def render_language() -> str:
    return st.sidebar.radio(
        i18n.t("app.language", "zh"),
        options=list(LANG_LABELS),
        format_func=LANG_LABELS.get,
        key=KEY_LANG,
        horizontal=True,
        on_change=keep_choices,
    )


def render_data_source() -> None:
    sb = st.sidebar
    sb.header(t("app.data"))
    source = sb.radio(t("app.source"), SOURCES, format_func=labels("app.source"), key=KEY_SOURCE)
    if source == "demo":
        if not work().is_untouched_demo() and sb.button(t("app.load_demo"), key="load_demo"):
            with guarded("load_demo"):
                change(cached_demo_work().with_settings(work().settings), step_load_demo())
                st.rerun()
    elif source == "osm":
        up = file_picker(sb, t("app.osm_upload"), PICKER_TYPES["up_osm"], "up_osm")
        typed = sb.text_input(t("app.osm_path"), key=KEY_OSM_PATH)
        if sb.button(t("app.load"), key="load_osm", disabled=up is None and not typed.strip()):
            load_osm(up, typed.strip())
    elif source == "download":
        place = sb.text_input(t("app.place"), key=KEY_PLACE)
        bbox = sb.text_input(t("app.bbox"), key=KEY_BBOX)
        if sb.button(t("app.download"), key="download"):
            from mapping.cli import parse_bbox

            with guarded("download"):
                box = parse_bbox(bbox) if bbox.strip() else None
                with st.spinner(t("app.download")):
                    sc = load_scenario(place=place.strip() or None, bbox=box)
                name = place.strip() or bbox.strip()
                change(Work.start(sc, name, work().settings), step_load_source(name))
                st.rerun()
    elif source == "project":
        up = file_picker(sb, t("app.project_upload"), PICKER_TYPES["up_project"], "up_project")
        if up is not None and sb.button(t("app.load"), key="load_project"):
            load_project(up)

    section = sb.expander(t("app.layers"), key="exp_layers", on_change="rerun")
    with section:
        # a closed section is not drawn (three file pickers and four choices): a new
        # session's first map comes sooner; its choices are kept meanwhile (keep_closed_choices)
        if section.open:
            render_layer_files()


def render_layer_files() -> None:
    """The "your own layers" section: the coordinate system, a file (or path) per layer and
    whether it adds to or replaces the layer, and the button that reads them."""
    st.radio(
        t("app.coords"),
        COORD_OPTIONS,
        format_func=labels("app.coords"),
        key=KEY_COORDS,
        horizontal=False,
        on_change=remember_coords,
    )
    chosen = {}
    for layer in FILE_LAYERS:
        name = t(f"app.layer.{layer}")
        up = file_picker(st, name, PICKER_TYPES[f"up_{layer}"], f"up_{layer}")
        typed = st.text_input(
            t("app.layer_path", layer=name), key=KEY_LAYER_PATH.format(layer=layer)
        )
        how_key = KEY_LAYER_HOW.format(layer=layer)
        how = st.radio(
            t("app.how", layer=name),
            HOW,
            format_func=labels("app.how"),
            key=how_key,
            horizontal=True,
        )
        if up is not None:
            chosen[layer] = (up, None, how)
        elif typed.strip():
            chosen[layer] = (None, Path(typed.strip()), how)
    if st.button(t("app.apply_layers"), key="apply_layers", disabled=not chosen):
        st.session_state.pop(KEY_COLUMNS_STEP, None)
        apply_layer_files(chosen)
    ready = st.session_state.pop(KEY_COLUMNS_READY, None)
    if ready is not None and chosen:  # the "which column is ..." step was answered
        apply_layer_files(chosen, ready)


def load_osm(up, typed: str) -> None:
    """Load a local OSM file (uploaded, or by its path) as the study area's roads and layers."""
    with contextlib.ExitStack() as stack:
        hide: tuple[Path, ...] = ()
        if up is not None:
            (path,), folder = stack.enter_context(uploaded([up]))
            hide, name = (folder,), up.name
        else:
            path, name = Path(typed), Path(typed).name
        with guarded("load_osm", hide), st.spinner(t("app.load")):
            sc = load_scenario(osm=path)
            if up is not None:  # the uploaded copy is deleted next: never reopen it
                sc = sc.replace(osm_source=None)
            change(Work.start(sc, name, work().settings), step_load_source(name))
            clear_pickers()
    st.rerun()


def load_project(up) -> None:
    """Open a saved project: its layers (with their origins), proposals and settings; the
    page keeps the user's language."""
    with uploaded([up]) as ((path,), folder), guarded("open_project", (folder,)):
        scenario, settings, proposals, extra = open_project(path)
        community, closures = open_corrections(path)
        new = Work.start(
            scenario, up.name, app_settings(settings), proposals, origins=origins_from_extra(extra)
        ).with_corrections(community, closures, condition_from_extra(extra))
        check_corrections(new)
        change(new, step_open_project(up.name))
        sync_widgets()
        clear_pickers()
    st.rerun()


def column_memory() -> Path:
    """The folder where column mappings are remembered per header set (beside the
    autosave, :func:`layers.columns.remember_columns`)."""
    return autosave_path().parent


def apply_layer_files(chosen: dict, mappings: dict | None = None) -> None:
    """Read the chosen files into their layers (added or replacing, as chosen): one step.

    Files are read as the command line reads them (:func:`mapping.scenario.replace_layers`:
    villages first, households without coordinates placed at their village, each file's
    coordinate system checked against the roads, detected with "auto"). A file whose
    headers the readers do not recognise is read with the columns remembered for its
    headers, else the page asks which column is which (:func:`render_column_step`) and
    reads nothing until then. ``mappings``: ``{layer: {role: header}}`` the user gave.
    """
    from layers.columns import ColumnChoice, inspect_file
    from layers.errors import InputError
    from mapping.scenario import replace_layers

    coords = st.session_state.get(KEY_COORDS, AUTO)
    mappings = dict(mappings or {})
    uploads = [up for up, _, _ in chosen.values() if up is not None]
    with uploaded(uploads) as (paths, folder), guarded("read_layers", (folder,)):
        saved = iter(paths)
        files = {}
        for layer, (up, typed, how) in chosen.items():
            path, name = (next(saved), up.name) if up is not None else (typed, typed.name)
            files[layer] = (path, name, how)
        remembered = []
        while True:
            try:
                read = replace_layers(
                    work().scenario,
                    **{layer: path for layer, (path, _, _) in files.items()},
                    coords=coords,
                    columns=ColumnChoice(by_layer=mappings),
                )
                break
            except InputError as err:
                layer = next(
                    (
                        layer
                        for layer, (_, name, _) in files.items()
                        if err.key in UNRECOGNISED and err.params.get("file") == name
                    ),
                    None,
                )
                if layer is None or layer in mappings:
                    raise
                path, name, _ = files[layer]
                preview = inspect_file(path, layer, layer_label=name, memory_folder=column_memory())
                if preview.remembered and not preview.missing:
                    mappings[layer] = dict(preview.guess)
                    remembered.append((name, preview.guess))
                    continue
                start_column_step(layer, name, preview, mappings, UNRECOGNISED[err.key])
                st.rerun()  # nothing is read until the user says which column is which
        new = work()
        loaded = []
        for layer, (_, name, how) in files.items():
            frame = getattr(read, layer)
            new = new.with_file(layer, frame, name, how)
            loaded.append((layer, name, how))
        change(new, step_files(loaded))
        say("success", "app.loaded", what=", ".join(name for _, name, _ in loaded))
        for name, pairs in remembered:
            say("info", "app.colmap.remembered", file=name, pairs=pairs_text(pairs))
        for layer in files:
            say_notes(getattr(read, layer))
        if "households" in chosen:
            outside = {lg: new.scenario.outside_warning(lg) for lg in i18n.LANGUAGES}
            if outside["en"]:
                st.session_state.setdefault(KEY_MESSAGES, []).append(("warning", outside))
        clear_pickers()
        st.rerun()


def pairs_text(pairs: dict) -> str:
    """``经度=东经度数, 纬度=北纬度数`` in the page's language."""
    from layers.columns import role_label

    return ", ".join(f"{role_label(r, lang())}={h}" for r, h in pairs.items())


def say_notes(frame) -> None:
    """Keep what a reader noted about a file for the top of the page (both languages):
    ``note.*`` as information, ``warning.*`` as a warning."""
    from layers.schema import notes_of

    for note in notes_of(frame):
        text = {lg: note.message(lg) for lg in i18n.LANGUAGES}
        level = "warning" if note.is_warning else "info"
        st.session_state.setdefault(KEY_MESSAGES, []).append((level, text))


def start_column_step(layer: str, name: str, preview, settled: dict, unknown: str) -> None:
    """Ask which column of ``name`` is which (the first rows shown, the guess chosen);
    ``unknown``: what the reader did not find (``position``, ``name``, ``kind``)."""
    st.session_state[KEY_COLUMNS_STEP] = {
        "layer": layer,
        "file": name,
        "headers": list(preview.headers),
        "rows": [list(r) for r in preview.rows],
        "roles": list(preview.roles),
        "missing": list(dict.fromkeys([unknown, *preview.missing])),
        "geodata": bool(preview.geodata),
        "settled": dict(settled),
    }
    for role in preview.roles:
        st.session_state[KEY_COLUMN_ROLE.format(role=role)] = preview.guess.get(role, "")


def render_column_step() -> None:
    """The "which column is ..." step: the file's first rows and a choice per role."""
    from layers.columns import role_label

    step = st.session_state.get(KEY_COLUMNS_STEP)
    if not step:
        return
    headers = step["headers"]
    with st.container(border=True, key="colmap"):
        st.subheader(md(t("app.colmap.title", file=step["file"])))
        missing = [m for m in step["missing"] if m in ("position", "name", "kind")]
        words = t("state.list.sep").join(t(f"app.colmap.missing.{m}") for m in missing)
        st.write(t("app.colmap.why", missing=words))
        st.caption(md(t("app.colmap.rows", file=step["file"], n=len(step["rows"]))))
        st.dataframe(
            pd.DataFrame(step["rows"], columns=headers, dtype="str"),
            hide_index=True,
            key="colmap_rows",
        )
        cols = st.columns(3)
        none = t("app.colmap.none")
        for i, role in enumerate(step["roles"]):
            key = KEY_COLUMN_ROLE.format(role=role)
            if st.session_state.get(key) not in ("", *headers):
                st.session_state[key] = ""
            cols[i % 3].selectbox(
                role_label(role, lang()),
                ["", *headers],
                format_func=lambda h: none if h == "" else h,
                key=key,
            )
        c1, c2 = st.columns(2)
        c1.button(
            t("app.colmap.apply"), key="colmap_apply", type="primary", on_click=accept_columns
        )
        c2.button(t("app.colmap.cancel"), key="colmap_cancel", on_click=cancel_columns)


def accept_columns() -> None:
    """The step's button: check the choice, remember it for these headers, and read the
    files with it in this run (:func:`render_data_source`)."""
    from layers.columns import remember_columns, role_label

    step = st.session_state.get(KEY_COLUMNS_STEP)
    if not step:
        return
    mapping = {}
    for role in step["roles"]:
        header = st.session_state.get(KEY_COLUMN_ROLE.format(role=role)) or ""
        if header:
            mapping[role] = header
    twice = [h for h in mapping.values() if list(mapping.values()).count(h) > 1]
    if twice:
        say("error", "app.colmap.twice", header=twice[0])
        return
    if not step["geodata"] and not ("point" in mapping or {"lon", "lat"} <= set(mapping)):
        say("error", "app.colmap.need_position")
        return
    for role in REQUIRED_ROLES[step["layer"]]:
        if role not in mapping:
            text = {
                lg: i18n.t("app.colmap.need_role", lg, role=role_label(role, lg))
                for lg in i18n.LANGUAGES
            }
            st.session_state.setdefault(KEY_MESSAGES, []).append(("error", text))
            return
    with guarded("remember_columns", rerun=False):
        remember_columns(step["headers"], mapping, folder=column_memory())
    st.session_state[KEY_COLUMNS_READY] = {**step["settled"], step["layer"]: mapping}
    st.session_state.pop(KEY_COLUMNS_STEP, None)


def cancel_columns() -> None:
    st.session_state.pop(KEY_COLUMNS_STEP, None)


def speeds_table(mode: str, overrides: dict | None) -> pd.DataFrame:
    base = CAR_SPEEDS_KMH if mode == "car" else MOTORBIKE_SPEEDS_KMH
    merged = {**base, **(overrides or {})}
    return pd.DataFrame({"road_class": list(merged), "kmh": list(merged.values())})


def render_condition() -> None:
    """The road condition the page shows (when the closures name any): a change is a step."""
    w = work()
    if not w.conditions:
        return
    st.session_state[KEY_CONDITION] = w.condition  # the work's, also after undo or a restore
    st.sidebar.selectbox(
        t("app.condition"),
        [USUAL, *w.conditions],
        format_func=lambda c: t("app.condition.usual") if c == USUAL else c,
        key=KEY_CONDITION,
        on_change=choose_condition,
    )


def choose_condition() -> None:
    """The condition picker's callback (one step)."""
    chosen = st.session_state.get(KEY_CONDITION, USUAL)
    with guarded("condition", rerun=False):
        if chosen != work().condition:
            change(work().with_condition(chosen), step_condition())


def render_settings() -> AnalysisSettings:
    """The travel and threshold widgets; the settings they show (each change is a step)."""
    sb = st.sidebar
    current = work().settings
    sb.header(t("app.travel"))
    mode = sb.selectbox(t("app.mode"), MODES, format_func=labels("mode"), key=KEY_MODE)
    # the values come from the work (sync_widgets): no defaults here
    walk = sb.number_input(
        t("app.walk_speed"), min_value=1.0, max_value=10.0, step=0.5, key=KEY_WALK_SPEED
    )
    speeds = None
    if mode != "walk":
        base = CAR_SPEEDS_KMH if mode == "car" else MOTORBIKE_SPEEDS_KMH
        overrides = current.speeds_kmh if current.mode == mode else None
        section = sb.expander(t("app.speeds"), key="exp_speeds", on_change="rerun")
        speeds = overrides
        with section:
            if section.open:  # closed, the speeds are the work's (the table is not drawn)
                edited = st.data_editor(
                    speeds_table(mode, overrides),
                    hide_index=True,
                    disabled=["road_class"],
                    key=f"{KEY_SPEEDS}_{mode}",
                    column_config={
                        "road_class": st.column_config.TextColumn(t("app.road_class")),
                        "kmh": st.column_config.NumberColumn(t("app.speed"), min_value=1.0),
                    },
                )
                speeds = {
                    cls: float(v)
                    for cls, v in zip(edited["road_class"], edited["kmh"], strict=True)
                    if pd.notna(v) and float(v) > 0 and float(v) != base.get(cls)
                } or None
    sb.header(t("app.thresholds"))
    thresholds, minutes = {}, {}
    for kind in KINDS:
        name = t(f"kind.{kind}")
        unit = sb.radio(
            t("app.threshold.unit", kind=name),
            ("km", "min"),
            format_func=labels("app.threshold.by"),
            key=KEY_THRESHOLD_UNIT.format(kind=kind),
            horizontal=True,
        )
        # only the one in use is drawn (a lighter page); the other keeps its value
        # (keep_closed_choices) for when the unit is switched back
        km_key, min_key = KEY_THRESHOLD.format(kind=kind), KEY_THRESHOLD_MIN.format(kind=kind)
        if unit == "km":
            sb.number_input(
                t("app.threshold", kind=name), min_value=0.5, max_value=200.0, step=0.5,
                key=km_key,
            )  # fmt: skip
        else:
            sb.number_input(
                t("app.threshold.min", kind=name), min_value=1.0, max_value=600.0, step=5.0,
                key=min_key,
            )  # fmt: skip
            minutes[kind] = float(st.session_state[min_key])
        # the work's value when the widget was never drawn nor set (sync_widgets sets it)
        km = st.session_state.get(km_key, current.threshold_m(kind) / 1000)
        thresholds[kind] = float(km) * 1000
    settings = AnalysisSettings(
        mode=mode,
        thresholds_m=thresholds,
        kinds=KINDS,
        walk_speed_kmh=walk,
        speeds_kmh=speeds,
        time_thresholds_min=minutes,
    )
    if shown_settings(settings) == shown_settings(current):
        return current
    change(work().with_settings(settings), step_settings())
    return settings


def shown_settings(settings: AnalysisSettings) -> tuple:
    """What the widgets show of ``settings`` (a change of anything else is not the user's)."""
    return (
        settings.mode,
        settings.walk_speed_kmh,
        tuple(sorted((settings.speeds_kmh or {}).items())),
        tuple(settings.threshold_m(k) for k in KINDS),
        tuple(settings.threshold_min(k) for k in KINDS),
        tuple(settings.kinds),
    )


def app_settings(settings: AnalysisSettings) -> AnalysisSettings:
    """Settings from a project or an autosave, for the app's widgets (which show both kinds)."""
    return settings.with_(kinds=KINDS)


# --------------------------------------------------------------------------------------------
# Main area


def corrected_distances(w: Work, settings: AnalysisSettings) -> CorrectedRun:
    """The distances of ``w`` on the roads as the workshop corrected them, each step
    reusing the one before (as :func:`mapping.corrections.run_corrected` does, cached per
    step): OSM, plus the community roads, under the condition shown. Thresholds are not
    applied yet (:func:`current_analysis` does)."""
    scenario = w.labelled_scenario()
    speeds = tuple(sorted((settings.speeds_kmh or {}).items()))
    net = cached_network(w.roads_key, settings.mode, speeds, settings.walk_speed_kmh, scenario)
    dist_key = (settings.mode, speeds, settings.walk_speed_kmh, settings.kinds, settings.snap_to)
    dist_settings = settings.with_(thresholds_m=AnalysisSettings().thresholds_m)
    osm = cached_distances(w.layers_key, dist_key, scenario, dist_settings, net)
    opened, join = osm, None
    if len(w.community):
        opened, join = cached_community(w.layers_key, dist_key, w.community_key, osm, w.community)
    analysis, effect = opened, None
    if w.condition != USUAL:
        analysis, effect = cached_condition(
            w.layers_key, dist_key, w.community_key, w.closures_key, opened, w.closures,
            w.condition,
        )  # fmt: skip
    return CorrectedRun(
        analysis=analysis,
        osm=osm,
        open=opened,
        join=join,
        conditions=effect,
        community=w.community if len(w.community) else None,
        closures=w.closures if len(w.closures) else None,
    )


def current_analysis(settings: AnalysisSettings) -> tuple[Analysis, Analysis, CorrectedRun]:
    """(without proposals, with proposals, the corrected run they come from), reusing cached
    networks and distances. The run's ``analysis`` is the one without proposals; its
    ``osm`` and ``open`` are distances without thresholds."""
    w = work()
    run = corrected_distances(w, settings)
    settings_key = digest_settings(settings)
    conditions = run.conditions.conditions if run.conditions is not None else ()
    base = cached_gaps(w.analysis_key, settings_key, run.analysis, settings, tuple(conditions))
    run = dataclasses.replace(run, analysis=base)
    if not len(w.proposals):
        return base, base, run
    after = cached_after(w.analysis_key, settings_key, w.proposals_key, base, w.proposals)
    return base, after, run


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
        limit = limit_text(after.settings, kind, lang())
        st.info(t("app.before_after", limit=limit, before=hb, after=ha, vb=vb, va=va))


def limit_text(settings: AnalysisSettings, kind: str, lg: str) -> str:
    """The threshold of ``kind`` in words: "5 公里" or "30 分钟" (whichever flags)."""
    minutes = settings.threshold_min(kind)
    if minutes is not None:
        return i18n.t("app.limit.min", lg, n=f"{minutes:g}")
    return i18n.t("app.limit.km", lg, n=f"{settings.threshold_m(kind) / 1000:g}")


def render_map(base: Analysis, analysis: Analysis, kind: str, run: CorrectedRun) -> None:
    from streamlit_folium import st_folium

    from mapping.coverage import service_areas
    from mapping.whatif import newly_covered_households

    show_areas = st.checkbox(t("app.map.areas"), key="show_areas")
    routes = st.checkbox(t("app.map.routes"), key=KEY_ROUTES)
    newly = newly_covered_households(base, analysis, kind) if analysis is not base else None
    drawn, placed = without_placed_households(analysis)
    highlight = tuple(h for h in newly or () if h in drawn.households.index)

    areas = None
    if show_areas:
        with st.spinner(t("app.map.areas")):
            areas = service_areas(analysis, kind, (analysis.settings.threshold_m(kind),))
    m = draw_map(
        drawn,
        lang=lang(),
        kind=kind,
        privacy="full",
        compact=True,
        service_areas=areas,
        highlight_households=list(highlight) or None,
        routes=routes,
        corrections=corrections_of(run),
    )
    # drawn anew on every run: streamlit-folium renames the map's parts as it renders them,
    # so a map kept from the run before would be sent as a broken script
    m = use_embedded_assets(add_place_picker(m, lang(), shapes=True))
    out = st_folium(
        m,
        height=620,
        use_container_width=True,
        key="map",
        returned_objects=["last_clicked", "last_active_drawing"],
        feature_group_to_add=chosen_marker(),
        on_change=note_map_answer,
    )
    st.caption(t("app.map.full_detail"))
    if placed:
        st.caption(t("app.map.located", n=placed))
    if run.conditions is not None:
        st.info(md(t("app.condition.shown", condition=work().condition)))
    shape = st.session_state.get(KEY_DRAWN)
    if shape is not None:
        if shape.geom_type == "LineString":
            st.info(t("app.map.drawn.line", km=f"{line_length_m(shape) / 1000:.2f}"))
        else:
            st.info(t("app.map.drawn.area"))
    del out  # its answer is taken at the start of the next run (take_map_choice)


def without_placed_households(analysis: Analysis) -> tuple[Analysis, int]:
    """The analysis to draw: households placed at their village's point (no coordinates of
    their own, ``located = village``) are left off the map, they would all stand on that
    one point as if surveyed there; (analysis, how many were left off). The frame is made
    once per analysis (the map's household layer is reused while it stays the same)."""
    hh = analysis.households
    if "located" not in hh or not (hh["located"] == "village").any():
        return analysis, 0

    def make():
        own = hh[hh["located"] != "village"]
        return dataclasses.replace(analysis, households=own), int(len(hh) - len(own))

    return session_memo("map_households", analysis, None, make)


def chosen_marker() -> folium.FeatureGroup:
    """A ring on the chosen place, and the line or area drawn and not yet used (dashed),
    added to the map without redrawing it."""
    group = folium.FeatureGroup(name=t("app.whatif.marker"), control=False)
    shape = st.session_state.get(KEY_DRAWN)
    if shape is not None:
        style = {"color": "#6a1b9a", "weight": 3, "dashArray": "6 4", "fill": False}
        if shape.geom_type == "LineString":
            folium.PolyLine([(y, x) for x, y in shape.coords], interactive=False, **style).add_to(
                group
            )
        else:
            ring = [(y, x) for x, y in shape.exterior.coords]
            folium.Polygon(ring, interactive=False, **style).add_to(group)
    click = st.session_state.get(KEY_CLICK)
    if click:
        folium.CircleMarker(
            location=[click[1], click[0]],
            radius=11,
            color="#6a1b9a",
            weight=3,
            fill=False,
            class_name="gm-chosen",
            interactive=False,
        ).add_to(group)
    return group


def note_map_answer() -> None:
    """The map sent a new answer (a click, a drawn point): taken by :func:`take_map_choice`."""
    st.session_state[KEY_MAP_NEW] = True


def take_map_choice() -> None:
    """A new click or drawn point on the map is the chosen place (the latest choice wins).

    Called before anything is drawn: streamlit-folium puts the map's answer under the map's
    key before the run, so the ring and the village list show the new choice at once. A
    click on the very spot clicked before counts too (after a village was picked there).
    """
    if not st.session_state.pop(KEY_MAP_NEW, False):
        return
    out = st.session_state.get("map") or {}
    geometry = (out.get("last_active_drawing") or {}).get("geometry") or {}
    seen = st.session_state.get(KEY_MAP_SEEN) or {}
    st.session_state[KEY_MAP_SEEN] = {"drawing": geometry}
    if geometry.get("type") in ("LineString", "Polygon"):
        if geometry != seen.get("drawing"):  # a new line or area: kept for the roads section
            shape = drawn_shape(geometry)
            if shape is not None:
                st.session_state[KEY_DRAWN] = shape
            return
        out = {"last_clicked": out.get("last_clicked")}  # the drawing is old: a click is new
    answer = chosen_place(out)
    if answer is None:
        return
    st.session_state[KEY_CLICK] = answer
    st.session_state[KEY_PROPOSAL_VILLAGE] = ""  # the picked village no longer counts
    st.session_state.pop("chosen_village", None)


def drawn_shape(geometry: dict) -> shapely.Geometry | None:
    """A line or area from the map's draw tool (GeoJSON, lon/lat), or None when it is not
    one (fewer than two points, an empty ring)."""
    try:
        shape = shapely.geometry.shape(geometry)
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError):
        return None
    if shape.is_empty or shape.geom_type not in ("LineString", "Polygon"):
        return None
    return shapely.force_2d(shape)


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


def pick_village() -> None:
    """A village picked in the list is the chosen place (the latest choice wins)."""
    vid = st.session_state.get(KEY_PROPOSAL_VILLAGE)
    villages = work().scenario.villages
    if vid and vid in villages.index:
        pt = villages.loc[vid].geometry
        st.session_state[KEY_CLICK] = (float(pt.x), float(pt.y))
        st.session_state["chosen_village"] = vid


def village_order(analysis: Analysis, kind: str) -> list[str]:
    """Villages for the picker: flagged first (most households beyond first), then by name."""
    v = analysis.villages
    order = pd.DataFrame(
        {
            "flag": ~v[f"flag_{kind}"].astype(bool),
            "beyond": -v[f"n_hh_beyond_{kind}"],
            "name": v["village_name"].astype(str),
        },
        index=v.index,
    )
    return list(order.sort_values(["flag", "beyond", "name"]).index)


def chosen_text() -> str:
    click = st.session_state.get(KEY_CLICK)
    if not click:
        return t("app.whatif.none")
    lon, lat = f"{click[0]:.5f}", f"{click[1]:.5f}"
    vid = st.session_state.get("chosen_village")
    villages = work().scenario.villages
    if vid and vid in villages.index:
        name = str(villages.loc[vid, "village_name"])
        return t("app.whatif.at_village", village=name, lon=lon, lat=lat)
    return t("app.whatif.clicked", lon=lon, lat=lat)


def render_whatif(analysis: Analysis, kind: str) -> None:
    st.subheader(t("app.whatif"))
    st.caption(t("app.whatif.help"))
    st.write(md(chosen_text()))
    villages = analysis.villages
    none = t("app.whatif.no_village")
    options = ["", *village_order(analysis, kind)]
    if st.session_state.get(KEY_PROPOSAL_VILLAGE) not in options:
        st.session_state[KEY_PROPOSAL_VILLAGE] = ""
    st.selectbox(
        t("app.whatif.village"),
        options,
        format_func=lambda v: none if v == "" else str(villages.loc[v, "village_name"]),
        key=KEY_PROPOSAL_VILLAGE,
        on_change=pick_village,
    )
    where = st.session_state.get(KEY_CLICK)
    cols = st.columns(len(KINDS))
    for col, k in zip(cols, KINDS, strict=True):
        col.button(
            t("app.whatif.add", kind=t(f"kind.{k}")),
            key=f"add_{k}",
            disabled=where is None,
            on_click=change_proposals,
            args=("add", k),
        )
    proposals = work().proposals
    if len(proposals):
        st.write(t("app.whatif.list"))
        for pid, row in proposals.iterrows():
            left, right = st.columns(2)
            left.button(
                t("app.whatif.move", name=row["name"]),
                key=f"move_{pid}",
                disabled=where is None,
                on_click=change_proposals,
                args=("move", pid),
            )
            right.button(
                t("app.whatif.remove", name=row["name"]),
                key=f"remove_{pid}",
                on_click=change_proposals,
                args=("remove", pid),
            )


def change_proposals(action: str, what: str) -> None:
    """The proposal buttons' callback: add a proposal of kind ``what`` at the chosen place,
    or move or remove the proposal ``what`` (one step each; run before the page is drawn)."""
    where = st.session_state.get(KEY_CLICK)
    proposals = work().proposals
    with guarded(f"{action}_proposal", rerun=False):
        if action == "add":
            new = make_proposal(proposals, what, where[0], where[1], lang=lang())
        elif action == "move":
            new = move_proposal(proposals, what, *where)
        else:
            new = remove_proposal(proposals, what)
        change(work().with_proposals(new), step_proposals())


def feature_label(gdf, fid: str) -> str:
    name = gdf.loc[fid, "name"] if "name" in gdf.columns else None
    return f"{name}（{fid}）" if isinstance(name, str) and name and name != fid else str(fid)


def render_editing() -> None:
    """Add, move, delete households and services, and edit their attributes."""
    from layers.editing import update_attributes

    scenario = work().scenario
    click = st.session_state.get(KEY_CLICK)
    section = st.expander(t("app.edit"), key="exp_edit", on_change="rerun")
    with section:
        if not section.open:  # a closed section is not worked out (its widgets neither)
            return
        layer = st.radio(
            t("app.edit.layer"),
            ("households", "services"),
            format_func=labels("app.layer"),
            key="edit_layer",
            horizontal=True,
        )
        gdf = getattr(scenario, layer)
        st.caption(md(chosen_text()))
        if layer == "households":
            c1, c2 = st.columns(2)
            c1.text_input(t("app.edit.id"), key="edit_new_id")
            c2.number_input(t("app.edit.children"), 0, 20, 1, key="edit_children")
            columns = ["village_name", "children"]
        else:
            c1, c2, c3 = st.columns(3)
            c1.selectbox(t("app.kind"), KINDS, format_func=labels("kind"), key="edit_kind")
            c2.text_input(t("app.edit.name"), key="edit_name")
            c3.number_input(t("app.edit.capacity"), 0, 5000, 0, key="edit_capacity")
            columns = ["name", "kind", "capacity"]
        st.button(
            t("app.edit.add"),
            key="edit_add",
            disabled=click is None,
            on_click=edit_feature,
            args=(layer, "add"),
        )
        if not len(gdf):
            return
        st.selectbox(
            t("app.edit.pick"),
            list(gdf.index),
            format_func=lambda f: feature_label(gdf, f) if f in gdf.index else str(f),
            key="edit_pick",
        )
        c1, c2 = st.columns(2)
        c1.button(
            t("app.edit.move"),
            key="edit_move",
            disabled=click is None,
            on_click=edit_feature,
            args=(layer, "move"),
        )
        c2.button(
            t("app.edit.delete"), key="edit_delete", on_click=edit_feature, args=(layer, "delete")
        )
        kind_label = {k: t(f"kind.{k}") for k in KINDS + ("childcare",)}
        table = pd.DataFrame(gdf[columns])
        config = {c: t(f"app.edit.col.{c}") for c in columns}
        if "kind" in table:
            table["kind"] = table["kind"].map(kind_label)
            config["kind"] = st.column_config.SelectboxColumn(
                t("app.edit.col.kind"), options=list(kind_label.values()), required=True
            )
        config["_index"] = t("app.edit.col.id")
        edited = st.data_editor(table, key=f"edit_table_{layer}", column_config=config)
        if st.button(t("app.edit.apply"), key="edit_apply"):
            with guarded("edit_apply"):
                if "kind" in edited:
                    back = {v: k for k, v in kind_label.items()}
                    edited = edited.assign(kind=edited["kind"].map(lambda v: back.get(v, v)))
                change(work().with_edit(layer, update_attributes(gdf, edited)), step_edit(layer))
                say("success", "app.edit.saved")
                st.rerun()


def edit_feature(layer: str, action: str) -> None:
    """The edit buttons' callback: add a feature at the chosen place from the fields above,
    or move or delete the picked one (one step each, with a confirmation)."""
    from layers.editing import add_household, add_service, delete_feature, move_feature

    ss = st.session_state
    click = ss.get(KEY_CLICK)
    gdf = getattr(work().scenario, layer)
    with guarded(f"edit_{action}", rerun=False):
        if action == "add":
            if layer == "households":
                new = add_household(
                    gdf,
                    *click,
                    household_id=ss.get("edit_new_id"),
                    children=ss.get("edit_children"),
                )
                name = str(new.index[-1])
            else:
                new = add_service(
                    gdf,
                    *click,
                    kind=ss.get("edit_kind", KINDS[0]),
                    name=ss.get("edit_name"),
                    capacity=ss.get("edit_capacity") or None,
                )
                name = str(new["name"].iloc[-1])
            params = {"name": name, "lon": f"{click[0]:.5f}", "lat": f"{click[1]:.5f}"}
            key = "app.edit.added"
        else:
            fid = ss.get("edit_pick")
            name = feature_label(gdf, fid) if fid in gdf.index else str(fid)
            if action == "move":
                new, key = move_feature(gdf, fid, *click), "app.edit.moved"
            else:
                new, key = delete_feature(gdf, fid), "app.edit.deleted"
            params = {"name": name}
        change(work().with_edit(layer, new), step_edit(layer))
        text = {
            lg: i18n.t(key, lg, layer=i18n.t(f"app.layer.{layer}", lg), **params)
            for lg in i18n.LANGUAGES
        }
        ss.setdefault(KEY_MESSAGES, []).append(("success", text))


# --------------------------------------------------------------------------------------------
# Community roads and road conditions (issue 13)


def check_corrections(new: Work) -> None:
    """Work out ``new``'s distances before it becomes the session's work, so that a road
    or closure the analysis refuses (every road outside the area) is a message at the step
    that made it, with nothing changed (and the result is cached for the next run)."""
    corrected_distances(new, new.settings)


def line_coords() -> str:
    """The coordinate system of road and closure files other than GPX: the one chosen, or
    WGS84 for "detect" (what ``python -m mapping --coords auto`` does for lines)."""
    chosen = st.session_state.get(KEY_COORDS, AUTO)
    return chosen if chosen in COORD_SYSTEMS else "wgs84"


def roads_picker_key(name: str) -> str:
    n = st.session_state.get(KEY_ROADS_ROUND, 0)
    return f"{name}_{n}" if n else name


def render_corrections(run: CorrectedRun, settings: AnalysisSettings, kind: str) -> None:
    """Community roads (drawn, read, edited, deleted), closures under conditions, what the
    roads changed and the conditions side by side."""
    from mapping.community import JOIN_M

    section = st.expander(t("app.roads"), key="exp_roads", on_change="rerun")
    with section:
        if not section.open:  # a closed section is not worked out
            return
        w = work()
        st.caption(t("app.roads.help", join=f"{JOIN_M:g}"))
        for note in run.notes:
            getattr(st, "warning" if note.is_warning else "info")(md(note.message(lang())))
        if w.origins["roads"] == (DEMO,) and not len(w.community) and not len(w.closures):
            st.button(t("app.roads.demo"), key="roads_demo", on_click=load_demo_corrections)
        st.subheader(t("app.roads.community"))
        render_drawn_road()
        line_file_picker("roads")
        if len(w.community):
            render_road_table(w)
            render_changes(run, settings, kind)
        st.subheader(t("app.closures"))
        render_closure_tools()
        line_file_picker("closures")
        if len(w.closures):
            render_closure_table(w)
            render_comparison(run, settings, kind)


def render_drawn_road() -> None:
    shape = st.session_state.get(KEY_DRAWN)
    if shape is None or shape.geom_type != "LineString":
        st.caption(t("app.roads.draw_first"))
        return
    st.write(t("app.roads.drawn", km=f"{line_length_m(shape) / 1000:.2f}"))
    c1, c2, c3 = st.columns(3)
    c1.selectbox(
        t("app.roads.class"),
        ROAD_CLASSES,
        format_func=lambda c: road_class_label(c, lang()),
        key="road_class",
    )
    c2.text_input(t("app.roads.name"), key="road_name")
    c3.text_input(t("app.roads.by"), key="road_by")
    st.button(t("app.roads.add"), key="road_add", type="primary", on_click=add_drawn_road)


def add_drawn_road() -> None:
    """The save button's callback: the drawn line becomes a community road (one step)."""
    ss = st.session_state
    shape = ss.get(KEY_DRAWN)
    if shape is None:
        return
    with guarded("add_road", rerun=False):
        road_class = ss.get("road_class") or ROAD_CLASSES[0]
        new = work().with_drawn_road(
            shape, road_class=road_class, name=ss.get("road_name"), added_by=ss.get("road_by")
        )
        check_corrections(new)
        road = new.community.iloc[-1]
        name = road["name"] if isinstance(road["name"], str) else str(road["road_id"])
        change(new, step_add_road(name))
        ss.pop(KEY_DRAWN, None)
        ss["road_name"] = ""
        text = {
            lg: i18n.t("app.roads.added", lg, name=name, cls=road_class_label(road_class, lg))
            for lg in i18n.LANGUAGES
        }
        ss.setdefault(KEY_MESSAGES, []).append(("success", text))


def line_file_picker(what: str) -> None:
    """A file picker and its button for community roads (``what = "roads"``) or road
    conditions (``"closures"``)."""
    up = st.file_uploader(
        t(f"app.{what}.file"),
        type=PICKER_TYPES[f"up_{what}"],
        key=roads_picker_key(f"up_{what}"),
        help=t("app.roads.file_coords"),
    )
    if st.button(t(f"app.{what}.load"), key=f"{what}_load", disabled=up is None):
        load_line_file(up, what)


def load_line_file(up, what: str) -> None:
    """Read a road file (``what`` = ``roads``) or a closure file (``closures``), uploaded:
    added to the layer (one step), the upload deleted at once."""
    from layers.tracks import read_closures, read_community_roads

    with uploaded([up]) as ((path,), folder), guarded(f"load_{what}", (folder,)):
        if what == "roads":
            frame = read_community_roads(path, coords=line_coords(), layer_label=up.name)
            new = work().with_road_file(frame)
            step = step_read_roads(up.name)
        else:
            frame = read_closures(path, coords=line_coords(), layer_label=up.name)
            new = work().with_closure_file(frame)
            step = step_read_closures(up.name)
        check_corrections(new)
        change(new, step)
        if what == "roads":
            say("success", "app.roads.loaded", file=up.name, n=len(frame))
        else:
            names = "、".join(dict.fromkeys(frame["condition"].astype(str)))
            say("success", "app.closures.loaded", file=up.name, n=len(frame), conditions=names)
        say_notes(frame)
        st.session_state[KEY_ROADS_ROUND] = st.session_state.get(KEY_ROADS_ROUND, 0) + 1
    st.rerun()


def load_demo_corrections() -> None:
    """The demo's recorded track and its winter closures (data/demo), as a workshop would
    read them: one step."""
    from layers.tracks import read_closures, read_community_roads
    from mapping.scenario import DEMO_DIR

    with guarded("load_demo_roads", rerun=False):
        roads = read_community_roads(DEMO_DIR / "community_track.gpx")
        closures = read_closures(DEMO_DIR / "winter_closure.geojson")
        new = work().with_road_file(roads).with_closure_file(closures)
        check_corrections(new)
        change(new, step_read_roads("community_track.gpx, winter_closure.geojson"))
        say("success", "app.roads.loaded", file="community_track.gpx", n=len(roads))
        names = "、".join(dict.fromkeys(closures["condition"].astype(str)))
        say("success", "app.closures.loaded", file="winter_closure.geojson", n=len(closures),
            conditions=names)  # fmt: skip


def source_label(source: object) -> str:
    return t("app.roads.drawn_source") if source == "drawn" else str(source)


def render_road_table(w: Work) -> None:
    """The community roads as a table whose class, name and author can be changed."""
    roads = w.community
    labels_of = {c: road_class_label(c, lang()) for c in ROAD_CLASSES}
    table = pd.DataFrame(
        {
            "road_class": roads["road_class"].map(labels_of),
            "name": roads["name"].astype(object),
            "added_by": roads["added_by"].astype(object),
            "source": roads["source"].map(source_label),
        },
        index=roads.index,
    )
    st.caption(t("app.roads.table"))
    edited = st.data_editor(
        table,
        key=f"road_table_{w.community_key[:8]}",
        disabled=["source"],
        column_config={
            "_index": t("app.roads.col.id"),
            "road_class": st.column_config.SelectboxColumn(
                t("app.roads.col.road_class"), options=list(labels_of.values()), required=True
            ),
            "name": t("app.roads.col.name"),
            "added_by": t("app.roads.col.added_by"),
            "source": t("app.roads.col.source"),
        },
    )
    if st.button(t("app.roads.apply"), key="roads_apply"):
        with guarded("edit_roads"):
            back = {v: k for k, v in labels_of.items()}
            edits = edited.assign(road_class=edited["road_class"].map(lambda v: back.get(v, v)))
            new = w.with_road_edits(edits)
            if new is not w:
                check_corrections(new)
                change(new, step_edit_roads())
                say("success", "app.roads.saved")
            st.rerun()
    c1, c2 = st.columns(2)
    c1.selectbox(
        t("app.roads.pick"),
        list(roads.index),
        format_func=lambda r: road_label(roads, r),
        key="road_pick",
    )
    c2.button(t("app.roads.delete"), key="road_delete", on_click=delete_road)
    c1, c2 = st.columns(2)
    for col, fmt in ((c1, "geojson"), (c2, "gpx")):
        col.download_button(
            t("app.roads.download", fmt=fmt.upper() if fmt == "gpx" else "GeoJSON"),
            roads_file(w, fmt),
            file_name=f"community_roads.{fmt}",
            mime="application/geo+json" if fmt == "geojson" else "application/gpx+xml",
            key=f"download_roads_{fmt}",
        )


def road_label(roads, road_id: str) -> str:
    if road_id not in roads.index:
        return str(road_id)
    name = roads.loc[road_id, "name"]
    return f"{name}（{road_id}）" if isinstance(name, str) and name else str(road_id)


def delete_road() -> None:
    road_id = st.session_state.get("road_pick")
    roads = work().community
    if road_id not in roads.index:
        return
    name = road_label(roads, road_id)
    with guarded("delete_road", rerun=False):
        new = work().without_road(road_id)
        check_corrections(new)
        change(new, step_delete_road(name))
        say("success", "app.roads.deleted", name=name)


def roads_file(w: Work, fmt: str) -> bytes:
    """The community roads as a GeoJSON or GPX file's bytes (made again only when they
    change), written through :func:`layers.tracks.write_community_roads` (all-or-nothing)
    in a temporary folder deleted after."""
    from layers.tracks import write_community_roads

    def make() -> bytes:
        with tempfile.TemporaryDirectory(prefix="gapmapper-") as tmp:
            path = write_community_roads(w.community, Path(tmp) / f"community_roads.{fmt}")
            return path.read_bytes()

    return session_memo(f"roads_{fmt}", w.community, w.community_key, make)


def render_changes(run: CorrectedRun, settings: AnalysisSettings, kind: str) -> None:
    """What the community roads changed: the villages whose distance to the nearest
    service of ``kind`` changed, by how much (on the usual roads, no condition)."""
    from mapping.community import compare_villages

    if run.join is None:
        return
    changes = session_memo(
        "community_changes",
        run.open,
        (digest_settings(settings), kind),
        lambda: compare_villages(
            rethreshold(run.osm, settings).villages,
            rethreshold(run.open, settings).villages,
            [kind],
        ),
    )
    st.write(t("app.roads.changed", kind=t(f"kind.{kind}")))
    if not len(changes):
        st.caption(t("app.roads.unchanged", kind=t(f"kind.{kind}")))
        return
    st.dataframe(
        pd.DataFrame(
            {
                t("app.roads.col.village"): changes["village_name"],
                t("app.roads.col.before"): (changes["dist_before_m"] / 1000).round(2),
                t("app.roads.col.after"): (changes["dist_after_m"] / 1000).round(2),
                t("app.roads.col.change"): (changes["change_m"] / 1000).round(2),
                t("app.roads.col.why"): changes[f"sentence_{lang()}"],
            }
        ),
        hide_index=True,
        key="community_changes",
    )


def render_closure_tools() -> None:
    """Close or slow the roads in the drawn area (or along the drawn line), or the road
    nearest the chosen place, under a named condition."""
    st.caption(t("app.closures.help"))
    c1, c2, c3 = st.columns(3)
    c1.text_input(
        t("app.closures.condition"),
        key="closure_condition",
        placeholder=t("app.closures.placeholder"),
    )
    effect = c2.radio(
        t("app.closures.effect"),
        ("closed", "slowed"),
        format_func=labels("app.closures.effect"),
        key="closure_effect",
        horizontal=True,
    )
    c3.number_input(
        t("app.closures.speed"),
        min_value=1.0,
        max_value=120.0,
        value=SLOW_START_KMH,
        step=5.0,
        key="closure_speed",
        disabled=effect != "slowed",
    )
    c1, c2 = st.columns(2)
    c1.button(
        t("app.closures.drawn"),
        key="closure_drawn",
        disabled=st.session_state.get(KEY_DRAWN) is None,
        on_click=add_closure,
        args=("drawn",),
    )
    c2.button(
        t("app.closures.click"),
        key="closure_click",
        disabled=st.session_state.get(KEY_CLICK) is None,
        on_click=add_closure,
        args=("click",),
    )


def add_closure(where: str) -> None:
    """The closure buttons' callback: close (or slow) the roads in the drawn area or along
    the drawn line, or the road stretch nearest the chosen place, under the condition
    named; the page then shows that condition (one step)."""
    from mapping.app_state import road_stretch_near

    ss = st.session_state
    with guarded("add_closure", rerun=False):
        if where == "drawn":
            shape = ss.get(KEY_DRAWN)
        else:
            lon, lat = ss[KEY_CLICK]
            shape = road_stretch_near(corrected_distances(work(), work().settings).open.network,
                                      lon, lat)  # fmt: skip
            if shape is None:
                say("error", "app.closures.no_road")
                return
        slowed = ss.get("closure_effect") == "slowed"
        speed = float(ss.get("closure_speed") or SLOW_START_KMH) if slowed else None
        condition = (ss.get("closure_condition") or "").strip()
        new = work().with_closure(shape, condition=condition, speed_kmh=speed)
        new = new.with_condition(condition)
        check_corrections(new)
        change(new, step_add_closure(condition))
        if where == "drawn":
            ss.pop(KEY_DRAWN, None)
        text = {
            lg: i18n.t(
                "app.closures.added",
                lg,
                condition=condition,
                effect=closure_effect_text(speed, lg),
            )
            for lg in i18n.LANGUAGES
        }
        ss.setdefault(KEY_MESSAGES, []).append(("success", text))


def closure_effect_text(speed_kmh, lg: str) -> str:
    if speed_kmh is None or pd.isna(speed_kmh):
        return i18n.t("app.closures.effect.closed", lg)
    return i18n.t("app.closures.slowed_to", lg, speed=f"{float(speed_kmh):g}")


def render_closure_table(w: Work) -> None:
    closures = w.closures
    st.dataframe(
        pd.DataFrame(
            {
                t("app.closures.col.id"): closures.index,
                t("app.closures.col.condition"): closures["condition"],
                t("app.closures.col.effect"): [
                    closure_effect_text(v, lang()) for v in closures["speed_kmh"]
                ],
                t("app.closures.col.name"): closures["name"],
                t("app.closures.col.source"): closures["source"].map(source_label),
            }
        ),
        hide_index=True,
        key="closure_table",
    )
    c1, c2 = st.columns(2)
    c1.selectbox(t("app.closures.pick"), list(closures.index), key="closure_pick")
    c2.button(t("app.closures.delete"), key="closure_delete", on_click=delete_closure)


def delete_closure() -> None:
    closure_id = st.session_state.get("closure_pick")
    if closure_id not in work().closures.index:
        return
    with guarded("delete_closure", rerun=False):
        new = work().without_closure(closure_id)
        check_corrections(new)
        change(new, step_delete_closure(closure_id))
        say("success", "app.closures.deleted", name=closure_id)


def render_comparison(run: CorrectedRun, settings: AnalysisSettings, kind: str) -> None:
    """The conditions side by side: a sentence per condition ("冬季积雪：7 个村庄到幼儿园超过
    5 公里，比平时多 1 个"), and the villages beyond the threshold under any of them."""
    from mapping.conditions import compare_conditions

    w = work()
    comparison = session_memo(
        "conditions",
        run.open,
        (w.digests["closures"], digest_settings(settings)),
        lambda: compare_conditions(rethreshold(run.open, settings), w.closures),
    )
    st.write(t("app.compare"))
    summary = comparison.summary
    for sentence in summary.loc[summary["kind"] == kind, f"sentence_{lang()}"]:
        st.markdown(f"- {md(sentence)}")
    table = comparison.villages
    names = ["", *w.conditions]
    flags = table[[f"flag_{kind}|{n}" for n in names]].to_numpy(bool)
    rows = table[flags.any(axis=1)]
    if not len(rows):
        return

    def cell(row, name):
        if row[f"cut_off_{kind}|{name}"]:
            return t("app.compare.cut")
        d = row[f"dist_{kind}_m|{name}"]
        km = "—" if pd.isna(d) else f"{d / 1000:.1f}"
        return t("app.compare.flag", km=km) if row[f"flag_{kind}|{name}"] else km

    shown = {t("app.roads.col.village"): rows["village_name"].astype(str)}
    for name in names:
        header = t("app.compare.usual") if name == "" else t("app.compare.under", condition=name)
        shown[header] = [cell(r, name) for _, r in rows.iterrows()]
    st.dataframe(pd.DataFrame(shown), hide_index=True, key="conditions_table")


def render_health(base: Analysis) -> None:
    """Data health (:func:`mapping.health.compute_health`): where a road is missing, points
    far from any road, disconnected pieces, services no one reaches."""
    from mapping.health import compute_health

    section = st.expander(t("app.health"), key="exp_health", on_change="rerun")
    with section:
        if not section.open:
            return
        st.caption(t("app.health.help"))
        health = session_memo("health", base, None, lambda: compute_health(base))
        if not len(health):
            st.success(t("app.health.none"))
            return
        st.dataframe(
            pd.DataFrame(
                {
                    t("app.health.col.issue"): [
                        t(f"app.health.issue.{i}") for i in health["issue"]
                    ],
                    t("app.health.col.name"): health["name"].astype(str),
                    t("app.health.col.detail"): health[f"detail_{lang()}"],
                }
            ),
            hide_index=True,
            key="health_table",
            column_config={t("app.health.col.detail"): st.column_config.TextColumn(width="large")},
        )


def suggestion_preview(after: Analysis, kind: str) -> Analysis | None:
    """The analysis with the suggested (not yet accepted) sites added, for the map only."""
    from mapping.planning import sites_to_proposals

    made = st.session_state.get(KEY_SITES)
    if not made or made[0] != kind or len(made[1]) == 0 or made[2] != work().layers_key:
        return None
    props = sites_to_proposals(made[1], kind, lang())
    props.index = [f"S{i}" for i in range(1, len(props) + 1)]  # not to clash with P1, P2...
    props["service_id"] = props.index
    return apply_proposals(after, props)


def coverage_shown(cov: pd.DataFrame) -> pd.DataFrame:
    """The coverage table in words: the distance bands in km, before and after."""
    shown = {t("app.col.band"): (cov["band_m"] / 1000).round(1).to_numpy()}
    for col, label in (
        ("hh_within", "within"),
        ("share_hh_within", "share"),
        ("children_within", "children"),
    ):
        for when in ("before", "after"):
            # without proposals the table has one plain column per count
            name = f"{col}_{when}" if f"{col}_before" in cov else (col if when == "before" else "")
            if name not in cov:
                continue
            values = cov[name]
            if col.startswith("share"):
                values = (values * 100).round(0).astype("Int64").astype(str) + "%"
            shown[t(f"app.col.{label}_{when}")] = values.to_numpy()
    return pd.DataFrame(shown)


def render_planning(base: Analysis, after: Analysis, kind: str) -> None:
    """Suggest new sites, show capacity and coverage, and accept suggestions as proposals."""
    from mapping.capacity import compute_2sfca
    from mapping.coverage import coverage_table
    from mapping.planning import OBJECTIVES, WEIGHTS, suggest_sites

    section = st.expander(t("app.plan"), key="exp_plan", on_change="rerun")
    with section:
        if not section.open:  # a closed section is not worked out (its tables neither)
            return
        c1, c2, c3 = st.columns(3)
        k = c1.number_input(t("app.plan.k"), 1, 20, 1, key="plan_k")
        objective = c2.radio(
            t("app.plan.objective"),
            OBJECTIVES,
            format_func=labels("app.plan.obj"),
            key="plan_objective",
        )
        weight = c3.radio(
            t("app.plan.weight"),
            WEIGHTS,
            format_func=labels("app.plan.w"),
            key="plan_weight",
        )
        grid_km = st.number_input(t("app.plan.grid"), 0.0, 20.0, 0.0, 0.5, key="plan_grid")
        if st.button(t("app.plan.run", kind=t(f"kind.{kind}")), key="plan_run"):
            with guarded("plan_run"), st.status(t("app.plan.running")) as status:
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
                st.session_state[KEY_SITES] = (kind, sites, work().layers_key)
                status.update(state="complete")
            st.rerun()  # the map above shows the suggestions
        made = st.session_state.get(KEY_SITES)
        if made and made[0] == kind and len(made[1]) and made[2] == work().layers_key:
            sites = made[1]
            shown = pd.DataFrame(
                {
                    t("app.col.site"): sites["name"],
                    t("app.col.newly"): sites["newly_covered_households"],
                }
            )
            st.dataframe(shown, hide_index=True, key="sites_table")
            st.button(t("app.plan.accept"), key="plan_accept", on_click=accept_sites, args=(kind,))
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
            st.info(err.message(lang()))
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
        st.dataframe(coverage_shown(cov), hide_index=True, key="coverage_table")


def accept_sites(kind: str) -> None:
    """The accept button's callback: the suggested sites become proposals (one step)."""
    _, sites, _ = st.session_state[KEY_SITES]
    with guarded("plan_accept", rerun=False):
        props = work().proposals
        for _, site in sites.sort_values("order").iterrows():
            props = make_proposal(
                props,
                kind,
                site["lon"],
                site["lat"],
                name=t("app.plan.site_name", kind=t(f"kind.{kind}"), place=site["name"]),
                lang=lang(),
            )
        change(work().with_proposals(props), step_proposals())
        st.session_state.pop(KEY_SITES, None)
        say("success", "app.plan.accepted", n=len(sites))


def village_rows_shown(analysis: Analysis, kind: str) -> pd.DataFrame:
    """The village table as the page shows it (the chart draws from it too)."""

    def make() -> pd.DataFrame:
        table = village_table(analysis, lang())
        by_time = analysis.settings.threshold_min(kind) is not None
        limit_m = float("inf") if by_time else analysis.settings.threshold_m(kind)
        return pd.DataFrame(
            {
                t("app.col.village"): table["village_name"],
                t("app.col.dist"): distance_km_shown(table[f"dist_{kind}_m"], limit_m),
                t("app.col.time"): table[f"time_{kind}_min"].round(0),
                t("app.col.flag"): table[f"flag_{kind}"],
                t("app.col.households"): table["n_households"],
                t("app.col.reason"): table[f"reason_{kind}"],
            }
        )

    return session_memo("village_table", analysis, (lang(), kind), make)


def render_table(shown: pd.DataFrame) -> None:
    """The village table, across the page (the sentence that says why needs the width):
    plain HTML (:func:`mapping.barchart.table_html` says why not ``st.dataframe``), in the
    page's order (flagged first); the CSV is in the export section."""
    from mapping.barchart import table_html

    st.subheader(t("app.table"))
    flag = t("app.col.flag")

    def make() -> str:
        return table_html(
            shown,
            decimals={
                t("app.col.dist"): (1, 3),  # as many as agree with the flag
                t("app.col.time"): 0,
                t("app.col.households"): 0,
            },
            flags=(flag,),
            wrap=(t("app.col.reason"),),
            highlight=flag,
        )

    # made once per table (``shown`` is itself made once per analysis and language)
    st.html(session_memo("village_table_html", shown, None, make))


def render_chart(shown: pd.DataFrame, limit_km: float | None, kind: str) -> None:
    """The farthest villages as horizontal bars, with the distance threshold as a line (none
    when the kind is flagged by travel time): plain HTML (:mod:`mapping.barchart` says why
    not a chart library)."""
    from mapping.barchart import bar_chart_html

    st.caption(t("app.chart", kind=t(f"kind.{kind}")))
    name, dist, flag = t("app.col.village"), t("app.col.dist"), t("app.col.flag")
    top = shown.dropna(subset=[dist]).nlargest(15, dist)
    st.html(
        bar_chart_html(
            top[name].astype(str).tolist(),
            top[dist].tolist(),
            top[flag].astype(bool).tolist(),
            limit=limit_km,
            value_label=dist,
            limit_label=t("app.chart.limit"),
        )
    )


def export_analysis(
    base: Analysis, after: Analysis, which: str, *, title_only: bool = False
) -> Analysis:
    """The analysis an export shows (today's, or after the proposals), its title saying
    which; with ``title_only`` today's analysis under the title of ``which`` (the report
    shows today's gaps and, after the proposals, what they change)."""
    chosen = after if which == "after" and not title_only else base
    n = len(work().proposals)
    sc = chosen.scenario
    title = {
        lg: f"{sc.title.get(lg) or ''} · {i18n.t(f'app.export.title.{which}', lg, n=n)}"
        for lg in i18n.LANGUAGES
    }
    return dataclasses.replace(chosen, scenario=sc.replace(title=title))


def render_exports(base: Analysis, after: Analysis, kind: str, run: CorrectedRun) -> None:
    lg = lang()
    section = st.expander(t("app.export"), key="exp_export", on_change="rerun")
    with section:
        if not section.open:  # a closed section is not worked out (its downloads neither)
            return
        n = len(work().proposals)
        which = "now"
        if n:
            which = st.radio(
                t("app.export.which"),
                ("now", "after"),
                format_func=labels("app.export.which", n=n),
                key=KEY_EXPORT_WHICH,
                horizontal=True,
            )
        st.caption(t("app.export.shows", which=t(f"app.export.which.{which}", n=n)))
        analysis = session_memo(
            f"export_{which}", after if which == "after" else base, (lg, n),
            lambda: export_analysis(base, after, which),
        )  # fmt: skip
        privacy = st.radio(
            t("app.export.mode"),
            ("committee", "displaced", "full"),
            format_func=labels("app.export"),
            key="export_privacy",
        )
        if st.button(t("app.export.make"), key="make_export"):
            with guarded("make_export"):
                m = draw_map(
                    analysis,
                    lang=lg,
                    kind=kind,
                    privacy=privacy,
                    key=displacement_key_for(privacy),
                    corrections=corrections_of(run),
                )
                st.session_state[KEY_EXPORT] = (privacy, render_map_html(m))
                st.session_state["export_name"] = f"map-{privacy}-{which}-{lg}.html"
        made = st.session_state.get(KEY_EXPORT)
        if made:
            name = st.session_state["export_name"]
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

            with guarded("make_print"), tempfile.TemporaryDirectory() as tmp:
                fig = draw_print_map(
                    analysis,
                    lang=lg,
                    kind=kind,
                    paper=paper,
                    privacy=privacy,
                    key=displacement_key_for(privacy),
                    corrections=corrections_of(run),
                )
                path = write_print_map(fig, Path(tmp) / f"map-{paper}.{fmt}")
                st.session_state[KEY_PRINT] = (path.name, path.read_bytes())
        printed = st.session_state.get(KEY_PRINT)
        if printed:
            st.download_button(
                t("app.export.download", file=printed[0]),
                printed[1],
                file_name=printed[0],
                key="download_print",
            )
        render_report(base, after, kind, run, which, privacy)
        if st.button(t("app.save"), key="save_project"):
            with guarded("save_project"), tempfile.TemporaryDirectory() as tmp:
                w = work()
                path = save_project(
                    Path(tmp) / "project.gpkg",
                    w.scenario,
                    w.settings,
                    w.proposals,
                    extra={"lang": lg, **w.project_extra()},
                    community=w.community,
                    closures=w.closures,
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
        suffix = "" if not n else f"-{which}"
        st.download_button(
            f"villages{suffix}.csv",
            table_csv(analysis.villages, lg, "villages", lambda: village_table(analysis, lg)),
            file_name=f"villages{suffix}.csv",
            mime="text/csv",
            key="download_villages",
        )
        st.download_button(
            f"households{suffix}.csv",
            table_csv(analysis.households, lg, "households", lambda: household_table(analysis)),
            file_name=f"households{suffix}.csv",
            mime="text/csv",
            key="download_households",
        )


def corrections_of(run: CorrectedRun) -> CorrectedRun | None:
    """The run for a map to draw its community roads and closed roads (None without)."""
    return run if run.join is not None or run.conditions is not None else None


def render_report(
    base: Analysis, after: Analysis, kind: str, run: CorrectedRun, which: str, privacy: str
) -> None:
    """The report PDF and the village cards (a zip), in the privacy mode chosen, of today or
    after the proposals, with a progress bar; written all-or-nothing
    (:func:`layers.files.output_folder`) in a temporary folder deleted after."""
    st.write(t("app.report"))
    c1, c2 = st.columns(2)
    c1.text_input(t("app.report.author"), key="report_author")
    cards = c2.radio(
        t("app.report.cards"),
        CARDS_WHICH,
        format_func=labels("app.report.cards"),
        key="cards_which",
        horizontal=True,
    )
    if st.button(t("app.report.make"), key="make_report"):
        bar = st.progress(0.0, text=t("app.report.page", done=0, total="…"))
        with guarded("make_report"):
            made = make_report(base, after, kind, run, which, privacy, cards, bar)
            st.session_state[KEY_REPORT] = made
            bar.progress(1.0, text=t("app.report.done", n=made[4]))
    made = st.session_state.get(KEY_REPORT)
    if made:
        c1, c2 = st.columns(2)
        c1.download_button(
            t("app.export.download", file=made[0]),
            made[1],
            file_name=made[0],
            mime="application/pdf",
            key="download_report",
        )
        if made[3] is not None:
            c2.download_button(
                t("app.export.download", file=made[2]),
                made[3],
                file_name=made[2],
                mime="application/zip",
                key="download_cards",
            )


def make_report(base, after, kind, run, which, privacy, cards, bar) -> tuple:
    """Write the report and the cards (see :func:`render_report`); their names and bytes."""
    import zipfile

    import matplotlib.pyplot as plt

    from layers.files import output_folder
    from mapping.cards import card_file_name, cards_for, draw_village_card, write_card
    from mapping.mapmodel import build_map_model
    from mapping.report import write_report

    lg = lang()
    key = displacement_key_for(privacy)
    # the report shows today's gaps; "after" adds what the proposals would change
    now = export_analysis(base, after, which if which == "now" else "after", title_only=True)
    model = build_map_model(
        now, lang=lg, kind=kind, privacy=privacy, key=key, corrections=corrections_of(run)
    )
    later = None
    if which == "after" and after is not base:
        later = build_map_model(
            after, lang=lg, kind=kind, privacy=privacy, key=key, corrections=corrections_of(run)
        )
    ids = [] if cards == "none" else cards_for(model, cards)
    # pages and cards share the bar by count (a card takes about as long as a page)
    pages_total = [1]

    def on_page(done: int, total: int) -> None:
        pages_total[0] = total
        share = done / (total + len(ids))
        bar.progress(min(share, 1.0), text=t("app.report.page", done=done, total=total))

    suffix = f"{privacy}-{which}-{lg}"
    names = (f"report-{suffix}.pdf", f"cards-{suffix}.zip")
    with tempfile.TemporaryDirectory(prefix="gapmapper-") as tmp:
        with output_folder(Path(tmp) / "pack") as out:
            write_report(model, out.path(names[0]), after=later,
                         author=st.session_state.get("report_author") or "", progress=on_page)  # fmt: skip
            taken: set[str] = set()
            files = []
            for i, vid in enumerate(ids, start=1):
                village = str(now.villages.at[vid, "village_name"])
                name = card_file_name(village, vid, taken)
                fig = draw_village_card(model, vid, after=later)
                try:
                    write_card(fig, out.path(f"cards/{name}"))
                finally:
                    plt.close(fig)
                files.append(name)
                done = pages_total[0] + i
                bar.progress(
                    min(done / (pages_total[0] + len(ids)), 1.0),
                    text=t("app.report.card", done=i, total=len(ids)),
                )
            if files:
                # one file to send: WeChat and e-mail take a zip of the cards
                with zipfile.ZipFile(out.path(names[1]), "w", zipfile.ZIP_STORED) as z:
                    for name in files:
                        z.write(out.path(f"cards/{name}"), arcname=name)
        pdf = (Path(tmp) / "pack" / names[0]).read_bytes()
        zipped = (Path(tmp) / "pack" / names[1]).read_bytes() if files else None
    return names[0], pdf, names[1], zipped, len(files)


def readable_table(table: pd.DataFrame, lg: str) -> pd.DataFrame:
    """A results table for people: column names in ``lg``, yes/no for flags, metres to the
    decimetre (the tables' stable English schema is what ``python -m mapping`` writes)."""
    names = {}
    for col in table.columns:
        for pattern, key in _KIND_COLUMNS.items():
            prefix, suffix = pattern.split("{k}")
            if col.startswith(prefix) and col.endswith(suffix):
                kind = col[len(prefix) : len(col) - len(suffix)] if suffix else col[len(prefix) :]
                if f"kind.{kind}" in i18n.all_keys():
                    names[col] = i18n.t(key, lg, kind=i18n.t(f"kind.{kind}", lg))
                    break
        else:
            if f"csv.{col}" in i18n.all_keys():
                names[col] = i18n.t(f"csv.{col}", lg)
    out = table.copy()
    yes, no = i18n.t("app.yes", lg), i18n.t("app.no", lg)
    for col in out.columns:
        values = out[col]
        if values.dtype == bool:
            out[col] = values.map({True: yes, False: no})
        elif col.endswith("_m") and pd.api.types.is_float_dtype(values):
            out[col] = values.round(1)
        elif col.endswith("_min") and pd.api.types.is_float_dtype(values):
            out[col] = values.round(1)
        elif col.startswith("share_") and pd.api.types.is_float_dtype(values):
            out[col] = values.round(3)
    return out.rename(columns=names)


def table_csv(source, lg: str, name: str, make) -> bytes:
    """A download's CSV bytes (UTF-8 with BOM, for Excel), made again only when ``source``
    (the frame the table comes from) or the language changed: a county's 20,000 households
    took 0.3 s to write out on every rerun."""
    return session_memo(
        f"csv_{name}",
        source,
        lg,
        lambda: readable_table(make(), lg).to_csv(index=False).encode("utf-8-sig"),
    )


def autosave(settings: AnalysisSettings) -> None:
    """Keep the workshop's own work (uploads, edits, proposals, community roads, closures)
    in the autosave file.

    Only when there is work of the user's in it (not for the untouched demo), and only when
    it changed since the last autosave. The layers are written in the background
    (:func:`mapping.project.save_project_later`), atomically, so a crash mid-save keeps the
    previous autosave; a change of settings (or of the road condition shown) only rewrites
    the small settings file beside it. The layers' origins go with them, so a restore says
    the same about them.
    """
    w = work()
    if w.is_untouched_demo():
        return
    data = (w.layers_key, w.proposals_key, w.community_key, w.digests["closures"])
    extra = {"lang": lang(), "token": "+".join(data), **w.project_extra()}
    state = (data, repr(settings), w.condition)
    saved = st.session_state.get(KEY_AUTOSAVED)
    if saved == state:
        return
    path = workspace_autosave(st.session_state[KEY_WORKSPACE])
    try:
        if saved is None or saved[0] != data:
            # in the background: a county's layers take a second or two to write
            save_project_later(
                path,
                w.scenario,
                settings,
                w.proposals,
                extra=extra,
                community=w.community,
                closures=w.closures,
            )
        # the settings alone, beside it: a threshold change must not rewrite a county's layers
        save_settings(path, settings, extra)
    except (OSError, GapMapperError) as err:
        # a read-only or full disk must not stop the workshop, but the user must know that
        # nothing is being kept (once, not on every click)
        if not st.session_state.get("autosave_warned"):
            st.session_state["autosave_warned"] = True
            reason = err.message(lang()) if isinstance(err, GapMapperError) else str(err)
            st.warning(md(t("app.autosave.failed", reason=reason)))
        return
    st.session_state[KEY_AUTOSAVED] = state


def workspace_autosave(ws: str) -> Path:
    """The autosave of the workspace ``ws`` (one per browser tab: two laptops, or two tabs,
    never overwrite each other's autosave)."""
    return autosave_path(autosave_path().parent / "workspaces" / ws)


def latest_autosave(ws: str) -> Path | None:
    """The autosave to offer a new session: this tab's own (after a reload), else the most
    recent one of any tab (after a crash, the address may be lost), else None."""
    own = workspace_autosave(ws)
    if is_project(own):
        return own
    found = [p for p in autosave_path().parent.glob("workspaces/*/autosave.gpkg") if is_project(p)]
    legacy = autosave_path()  # the one autosave of earlier versions
    if is_project(legacy):
        found.append(legacy)
    if not found:
        return None
    return max(found, key=lambda p: p.stat().st_mtime)


def render_restore_offer() -> None:
    """After a crash or a reload (a new session finding an autosave), offer the work back."""
    path = st.session_state.get(KEY_RESTORE_OFFER)
    if not path:
        return
    import datetime as dt

    try:
        when = dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    except OSError:
        st.session_state[KEY_RESTORE_OFFER] = None
        return
    st.warning(t("app.restore.offer", when=when))
    c1, c2 = st.columns(2)
    if c1.button(t("app.restore.yes"), key="restore_yes"):
        st.session_state[KEY_RESTORE_OFFER] = None
        with guarded("restore"):
            scenario, settings, proposals, extra = open_project(path)
            community, closures = open_corrections(path)
            later = open_settings(path)  # settings changed after the layers were saved
            if later is not None and later[1].get("token") == extra.get("token"):
                settings, extra = later
            origins = origins_from_extra(extra)
            new = Work.start(
                scenario, path.name, app_settings(settings), proposals, origins=origins
            ).with_corrections(community, closures, condition_from_extra(extra))
            change(new, step_restore())
            sync_widgets()
        st.rerun()
    if c2.button(t("app.restore.no"), key="restore_no"):
        st.session_state[KEY_RESTORE_OFFER] = None
        st.rerun()


def start_session() -> None:
    """A new session: the demo, the choices this tab remembers, and the autosave offer."""
    if KEY_HISTORY in st.session_state:
        return
    st.session_state[KEY_HISTORY] = History(cached_demo_work())
    mirror()
    sync_widgets()
    for layer in FILE_LAYERS:
        st.session_state.setdefault(KEY_LAYER_HOW.format(layer=layer), DEFAULT_HOW[layer])
    ws = st.query_params.get(KEY_WORKSPACE, "")
    if not (len(ws) == 12 and all(c in "0123456789abcdef" for c in ws)):
        ws = secrets.token_hex(6)
        st.query_params[KEY_WORKSPACE] = ws
    st.session_state[KEY_WORKSPACE] = ws
    st.session_state[KEY_RESTORE_OFFER] = latest_autosave(ws)
    remembered = {
        KEY_LANG: tuple(LANG_LABELS),
        KEY_COORDS: COORD_OPTIONS,
    }
    for key, allowed in remembered.items():
        value = st.query_params.get(key)
        if value in allowed and key not in st.session_state:
            st.session_state[key] = value


def start_run() -> None:
    """Before any widget is drawn: settings to put into widgets, inputs to empty."""
    keep_closed_choices()
    apply_pending_settings()
    take_map_choice()
    if st.session_state.pop("clear_paths", False):
        for layer in FILE_LAYERS:
            st.session_state[KEY_LAYER_PATH.format(layer=layer)] = ""
        st.session_state[KEY_OSM_PATH] = ""


#: Choices made in a section that may be closed, or a threshold in the unit not in use (then
#: not drawn): Streamlit forgets the value of a widget that a run does not draw, so each run
#: stores them again.
KEPT_CHOICES = (
    KEY_COORDS,
    *(KEY_THRESHOLD.format(kind=kind) for kind in KINDS),
    *(KEY_THRESHOLD_MIN.format(kind=kind) for kind in KINDS),
    *(KEY_LAYER_HOW.format(layer=layer) for layer in FILE_LAYERS),
    *(KEY_LAYER_PATH.format(layer=layer) for layer in FILE_LAYERS),
)


def keep_closed_choices() -> None:
    for key in KEPT_CHOICES:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def render_page() -> None:
    start_session()
    start_run()
    render_language()
    render_picker_texts()
    undo_place = st.sidebar.container()  # filled last: it names the run's own change
    render_data_source()
    settings = render_settings()
    kind = st.sidebar.radio(
        t("app.map_kind"),
        KINDS,
        format_func=labels("kind"),
        key=KEY_MAP_KIND,
        horizontal=True,
    )
    render_condition()
    render_messages()
    render_restore_offer()
    render_column_step()
    try:
        with st.spinner(t("app.load")):
            base, after, run = current_analysis(settings)
    except GapMapperError as err:
        st.error(md(t("app.error", message=err.message(lang()))))
        with undo_place:  # a change that cannot be worked out can still be undone
            render_undo()
        st.stop()
    scenario = after.scenario
    w = work()
    st.title(md(scenario.title.get(lang()) or t("app.title")))
    banner = w.banner(lang())
    if banner:
        st.info(md(banner))
    render_metrics(base, after, kind)
    col_map, col_side = st.columns([2, 1])
    with col_map:
        preview = suggestion_preview(after, kind)
        if preview is not None:
            st.info(t("app.plan.preview"))
            render_map(after, preview, kind, run)
        else:
            render_map(base, after, kind, run)
        render_whatif(after, kind)
        render_editing()
        render_corrections(run, settings, kind)
        render_health(base)
        render_planning(base, after, kind)
    shown = village_rows_shown(after, kind)
    with col_side:
        by_time = after.settings.threshold_min(kind) is not None
        render_chart(shown, None if by_time else after.settings.threshold_m(kind) / 1000, kind)
        section = st.expander(t("app.summary"), key="exp_summary", on_change="rerun")
        with section:
            if section.open:
                st.text(summarize(after, lang()))
    render_table(shown)
    render_exports(base, after, kind, run)
    with undo_place:
        render_undo()
    autosave(settings)


def main() -> None:
    st.set_page_config(page_title="服务缺口地图 / Service-gap mapper", layout="wide")
    try:
        render_page()
    except Exception as exc:  # a bug: a short message and the log's place, never a traceback
        show_bug(exc, "page")
        render_messages()


main()
