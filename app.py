"""The workshop app (Streamlit). UI only: every computation lives in ``layers`` and ``mapping``.

Run with ``streamlit run app.py``; it opens on the built-in demo Banner, in Chinese.
"""

from __future__ import annotations

import streamlit as st
import streamlit.components.v1 as components

from layers import i18n
from layers.errors import GapMapperError
from mapping.analysis import run_analysis
from mapping.export import summarize, village_table
from mapping.network import build_network
from mapping.scenario import load_demo
from mapping.settings import AnalysisSettings

# session-state keys
KEY_LANG = "lang"
KEY_MODE = "mode"
KEY_KIND = "kind"
KEY_THRESHOLD_KM = "threshold_km"

i18n.register(
    {
        "app.title": {"zh": "社区服务缺口地图", "en": "Community service-gap mapper"},
        "app.language": {"zh": "语言 / Language", "en": "Language / 语言"},
        "app.mode": {"zh": "出行方式", "en": "Travel mode"},
        "app.kind": {"zh": "服务类型", "en": "Service"},
        "app.threshold": {"zh": "距离标准（公里）", "en": "Threshold (km)"},
        "app.fictional": {
            "zh": "示例数据：旗县边界和村名真实，道路、农户、幼儿园和学校均为虚构。",
            "en": "Demo data: the Banner outline and village names are real; roads, households, "
            "kindergartens and schools are fictional.",
        },
        "app.table": {"zh": "村庄一览（超标的在前）", "en": "Villages (flagged first)"},
        "app.chart": {
            "zh": "各村到最近{kind}的道路距离（公里）",
            "en": "Road distance from each village to the nearest {kind} (km)",
        },
        "app.error": {"zh": "出错了：{message}", "en": "Something went wrong: {message}"},
    }
)

LANG_LABELS = {"zh": "中文", "en": "English"}


@st.cache_resource(show_spinner=False)
def _demo():
    return load_demo()


@st.cache_resource(show_spinner=False)
def _network(mode: str):
    return build_network(_demo().roads, AnalysisSettings(mode=mode))


def render_sidebar() -> tuple[str, AnalysisSettings, str]:
    """The settings a workshop chooses, in the order it works."""
    lang = st.sidebar.radio(
        i18n.t("app.language", "zh"),
        options=list(LANG_LABELS),
        format_func=LANG_LABELS.get,
        key=KEY_LANG,
        horizontal=True,
    )
    mode = st.sidebar.selectbox(
        i18n.t("app.mode", lang),
        options=["motorbike", "walk", "car"],
        format_func=lambda m: i18n.t(f"mode.{m}", lang),
        key=KEY_MODE,
    )
    kind = st.sidebar.selectbox(
        i18n.t("app.kind", lang),
        options=["kindergarten", "school"],
        format_func=lambda k: i18n.t(f"kind.{k}", lang),
        key=KEY_KIND,
    )
    default_km = AnalysisSettings().threshold_m(kind) / 1000
    km = st.sidebar.number_input(
        i18n.t("app.threshold", lang),
        min_value=0.5,
        max_value=100.0,
        value=default_km,
        step=0.5,
        key=f"{KEY_THRESHOLD_KM}_{kind}",
    )
    thresholds = dict(AnalysisSettings().thresholds_m)
    thresholds[kind] = km * 1000
    return lang, AnalysisSettings(mode=mode, thresholds_m=thresholds), kind


def render_results(lang: str, settings: AnalysisSettings, kind: str) -> None:
    """Map, table and chart of the demo analysis."""
    from mapping.maps import draw_map, render_map_html

    scenario = _demo()
    analysis = run_analysis(scenario, settings, network=_network(settings.mode))
    st.title(scenario.title.get(lang) or i18n.t("app.title", lang))
    if scenario.fictional:
        st.info(i18n.t("app.fictional", lang))
    st.text(summarize(analysis, lang))
    col_map, col_side = st.columns([3, 2])
    with col_map:
        m = draw_map(analysis, lang=lang, kind=kind)
        components.html(render_map_html(m), height=620)
    with col_side:
        st.subheader(i18n.t("app.table", lang))
        table = village_table(analysis, lang)
        cols = ["village_name", f"dist_{kind}_m", f"flag_{kind}", "n_households", f"reason_{kind}"]
        st.dataframe(table[cols], hide_index=True, key="village_table")
        st.caption(i18n.t("app.chart", lang, kind=i18n.t(f"kind.{kind}", lang)))
        chart = table.set_index("village_name")[f"dist_{kind}_m"] / 1000
        st.bar_chart(chart)


def main() -> None:
    st.set_page_config(page_title="服务缺口地图 / Service-gap mapper", layout="wide")
    lang, settings, kind = render_sidebar()
    try:
        render_results(lang, settings, kind)
    except GapMapperError as err:
        st.error(i18n.t("app.error", lang, message=err.message(lang)))
        st.stop()


main()
