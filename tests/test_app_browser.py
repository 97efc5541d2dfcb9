"""The running workshop app in headless Chromium, with the internet cut.

The real app is started with ``python -m streamlit run app.py`` (so the project's
``.streamlit/config.toml`` applies) on a free loopback port, and opened in Chromium driven over
the DevTools protocol (:class:`tests.browser.DevTools`). Chromium cannot resolve any host name
but ``localhost``/``127.0.0.1`` and sends everything else to a dead proxy, and every URL the
page, its frames and its workers ask for is recorded: the test proves both that the app draws
its map with no internet and that it does not even try to reach it.

One app run serves all the browser tests of this module (start-up and the first analysis take
most of the time); the tests then read what that run recorded.

Set ``GAPMAPPER_SCREENSHOTS=<folder>`` to keep the screenshots (``app.png``: the first
1400x1000 pixels a workshop user sees; ``app-full.png``: the whole page).
"""

from __future__ import annotations

import os
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests import browser
from tests.browser import AppServer
from tests.conftest import ROOT

#: Real-time limits, seconds: the server answering its health check, and the first page render
#: (loading the demo, building the road network, the analysis, the map).
STARTUP_S = 60.0
RENDER_S = 60.0
VIEWPORT = (1400, 1000)
FAR = "希乐图村"  # the demo's far village: flagged for kindergartens at the default 5 km
FOLIUM_FRAME = 'iframe[title="streamlit_folium.st_folium"]'

# What the app shows, read in the page once it has rendered. The map lives in the
# streamlit-folium component iframe (same origin, so its document is reachable from the page);
# the village features are read from the Leaflet map, which streamlit-folium keeps in that
# frame's window.map.
READ_PAGE = """
(() => {
  const h1 = document.querySelector("h1");
  const frame = document.querySelector('FOLIUM_FRAME');
  const doc = frame && frame.contentDocument;
  const win = frame && frame.contentWindow;
  const out = {
    title: h1 ? h1.innerText : null,
    text: document.body ? document.body.innerText : "",
    running: !!document.querySelector('[data-testid="stSpinner"]'),
    chart: Array.from(document.querySelectorAll('.gm-bars .gm-bar-name'))
      .map(function (name) { return name.textContent; }).join(" "),
    frame: !!doc, leaflet: !!(win && win.L), containers: 0, markers: 0, villages: [],
  };
  if (!doc || !win || !win.L) { return out; }
  out.containers = doc.querySelectorAll(".leaflet-container").length;
  out.markers = doc.querySelectorAll(".gm-village").length;
  out.frameText = doc.body.innerText;
  if (win.map instanceof win.L.Map) {
    win.map.eachLayer(function (layer) {
      const cls = (layer.options && layer.options.className) || "";
      if (layer.feature && cls.split(" ").indexOf("gm-village") >= 0) {
        out.villages.push({tip: layer.feature.properties.tip, status: layer.feature.properties.s});
      }
    });
  }
  return out;
})()
""".replace("FOLIUM_FRAME", FOLIUM_FRAME)

# True once the title, the map's village markers and the bar chart's labels are on the page
# and no spinner is showing (the map and the chart draw independently, in either order).
RENDERED = f"""
(() => {{
  const p = {READ_PAGE.strip()};
  return !!(p.title && p.markers > 0 && p.chart && !p.running);
}})()
"""


@dataclass(frozen=True)
class AppRun:
    """What one visit of the app (at ``url``) produced in the browser."""

    url: str
    page: dict
    requests: list[str]
    failed: list[tuple[str, str]]
    console_errors: list[str]
    server_log: str
    screenshots: tuple[Path, Path]
    expected_villages: int


@pytest.fixture(scope="module")
def app_server(tmp_path_factory) -> Iterator[AppServer]:
    browser.require_chromium()  # skip (or fail, in CI) before starting anything
    try:
        with browser.serve_app(ROOT, tmp_path_factory.mktemp("app-server"), STARTUP_S) as server:
            yield server
    except browser.ServerError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="module")
def app_run(app_server, tmp_path_factory) -> AppRun:
    from mapping.scenario import load_demo

    expected = len(load_demo().villages)
    shots = Path(os.environ.get("GAPMAPPER_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with browser.DevTools(size=VIEWPORT, timeout_s=30) as chromium:
        chromium.navigate(app_server.url)
        try:
            chromium.wait_for(RENDERED, RENDER_S)
        except TimeoutError:
            chromium.screenshot(shots / "app-timeout.png")
            page = chromium.evaluate(READ_PAGE)
            seen = {k: page[k] for k in ("title", "running", "frame", "leaflet", "markers")}
            pytest.fail(
                f"the app did not render in {RENDER_S:g} s: {seen}, chart text "
                f"{page['chart'][:200]!r}\nconsole: {chromium.console_errors()}\n"
                f"server output:\n{app_server.log()[-4000:]}"
            )
        chromium.pump(1.0)  # late requests (fonts, chart data) are recorded too
        page = chromium.evaluate(READ_PAGE)
        first = chromium.screenshot(shots / "app.png")
        # Streamlit scrolls inside its main area, so "the whole page" is a taller viewport
        height = chromium.evaluate(
            "document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
        )
        chromium.set_viewport(VIEWPORT[0], min(int(height), 6000))
        chromium.pump(1.0)
        full = chromium.screenshot(shots / "app-full.png")
        return AppRun(
            url=app_server.url,
            page=page,
            requests=list(chromium.requests),
            failed=list(chromium.failed),
            console_errors=chromium.console_errors(),
            server_log=app_server.log(),
            screenshots=(first, full),
            expected_villages=expected,
        )


# --------------------------------------------------------------------------------------------
# In the browser


@pytest.mark.browser
@pytest.mark.slow
def test_the_app_opens_on_the_demo_in_chinese(app_run):
    from mapping.scenario import load_demo

    page = app_run.page
    assert page["title"] == load_demo().title["zh"]
    assert page["title"].startswith("示例：")
    assert FAR in page["chart"] and FAR in page["text"]  # the chart's bars name it
    assert "超标村庄" in page["text"] and "示例数据：旗县边界和村名真实" in page["text"]


@pytest.mark.browser
@pytest.mark.slow
def test_the_map_draws_in_its_frame_with_every_village(app_run):
    page = app_run.page
    assert page["frame"] and page["leaflet"]
    assert page["containers"] == 1
    assert page["markers"] == app_run.expected_villages
    assert len(page["villages"]) == app_run.expected_villages
    far = [v for v in page["villages"] if v["tip"].startswith(f"<b>{FAR}</b>")]
    assert [v["status"] for v in far] == ["flag"]
    assert "© OpenStreetMap contributors" in page["frameText"]
    # the app's map shows households (full detail): the page says so beside it
    assert "本页地图显示农户位置，仅供工作团队使用" in page["text"]
    assert "图例" in page["frameText"]  # the folded legend's summary


@pytest.mark.browser
@pytest.mark.slow
def test_no_request_leaves_the_machine(app_run):
    outside = [url for url in app_run.requests if not browser.is_local_url(url)]
    assert outside == []
    assert app_run.failed == []
    # the recording saw the page, its websocket, the map's frame and Leaflet as a data: URI
    assert app_run.requests[0] == app_run.url
    assert app_run.url.replace("http", "ws", 1) + "_stcore/stream" in app_run.requests
    assert any("/component/streamlit_folium.st_folium/" in url for url in app_run.requests)
    assert any(url.startswith("data:text/javascript;base64,") for url in app_run.requests)


@pytest.mark.browser
@pytest.mark.slow
def test_no_console_errors_and_no_server_traceback(app_run):
    assert app_run.console_errors == []
    assert "Traceback" not in app_run.server_log
    assert "checkip.amazonaws.com" not in app_run.server_log  # no public-IP lookup


@pytest.mark.browser
@pytest.mark.slow
def test_screenshots_are_taken(app_run):
    first, full = app_run.screenshots
    for png in (first, full):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.stat().st_size > 50_000  # a blank 1400x1000 page compresses to a few kB


# --------------------------------------------------------------------------------------------
# Without a browser: the server defaults


def test_streamlit_config_keeps_the_app_local_and_quiet():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "localhost"
    assert config["server"]["maxUploadSize"] == 200
    assert config["server"]["showEmailPrompt"] is False
    assert config["browser"]["gatherUsageStats"] is False
    assert config["browser"]["serverAddress"] == "localhost"
    assert config["client"]["toolbarMode"] == "minimal"
    assert config["global"]["developmentMode"] is False


def test_every_streamlit_config_key_is_a_real_option():
    from streamlit import config as st_config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    keys = {f"{section}.{name}" for section, values in config.items() for name in values}
    unknown = keys - set(st_config._config_options_template)
    assert unknown == set()


# Where, in page pixels, the draw tool's button and the middle of the map are.
LOCATE_DRAW = """
(() => {
  const frame = document.querySelector('FOLIUM_FRAME');
  const f = frame.getBoundingClientRect();
  const doc = frame.contentDocument;
  const button = doc.querySelector(".leaflet-draw-draw-circlemarker");
  const map = doc.querySelector(".leaflet-container").getBoundingClientRect();
  if (!button) { return null; }
  const b = button.getBoundingClientRect();
  return {
    title: button.title,
    button: [f.left + b.left + b.width / 2, f.top + b.top + b.height / 2],
    target: [f.left + map.left + map.width * 0.6, f.top + map.top + map.height * 0.55],
  };
})()
""".replace("FOLIUM_FRAME", FOLIUM_FRAME)


def _click(chromium, x: float, y: float) -> None:
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        chromium.send(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
        )
        chromium.pump(0.1)


@pytest.mark.browser
@pytest.mark.slow
def test_the_draw_tool_chooses_a_place_offline(app_server):
    """Drop a point with the map's draw tool (real mouse events): the app takes it as the
    chosen place, so 'add a proposed kindergarten here' becomes possible."""
    with browser.DevTools(size=VIEWPORT, timeout_s=30) as chromium:
        chromium.navigate(app_server.url)
        chromium.wait_for(RENDERED, RENDER_S)
        assert "还没有选位置" in chromium.evaluate("document.body.innerText")
        spot = chromium.wait_for(LOCATE_DRAW, 20)
        assert spot["title"] == "在地图上选一个位置"  # the toolbar speaks the app's language
        _click(chromium, *spot["button"])
        _click(chromium, *spot["target"])
        text = chromium.wait_for(
            "document.body.innerText.includes('已选位置') && document.body.innerText", 30
        )
        assert "经度 11" in text and "纬度 4" in text  # somewhere in the Banner (lon 11x, lat 4x)
        assert [u for u in chromium.requests if not browser.is_local_url(u)] == []


# --------------------------------------------------------------------------------------------
# Workshop flows, as a participant does them: real clicks, key presses and file choices in
# fresh sessions of the running app (issue 11)

# Where (lat, lon) is on the app's map, in page pixels (the map is scrolled into view first).
MAP_POINT = """
((lat, lon) => {
  const frame = document.querySelector('FOLIUM_FRAME');
  frame.scrollIntoView({block: 'center'});
  const f = frame.getBoundingClientRect();
  const c = frame.contentDocument.querySelector('.leaflet-container').getBoundingClientRect();
  const p = frame.contentWindow.map.latLngToContainerPoint([lat, lon]);
  return [f.left + c.left + p.x, f.top + c.top + p.y];
})
""".replace("FOLIUM_FRAME", FOLIUM_FRAME)

# What the demo says of itself: none of it may be said of a participant's own households.
DEMO_CLAIMS = (
    "虚构的道路、幼儿园与农户",
    "道路、农户、幼儿园和学校均为虚构",
    "fictional roads, kindergartens and households",
    "roads, households, kindergartens and schools are fictional",
)
EDIT = "编辑农户与设施"
OWN_LAYERS = "自己的图层"
SIDEBAR_UPLOADERS = "[data-testid=stSidebar] [data-testid=stFileUploader] input[type=file]"


def open_app(chromium: browser.DevTools, url: str) -> browser.StreamlitPage:
    """A new session of the app (a new tab), once its first map has drawn."""
    page = browser.StreamlitPage(chromium)
    chromium.navigate(url)
    chromium.wait_for(RENDERED, RENDER_S)
    page.install()
    page.wait_idle()
    return page


def reload_app(chromium: browser.DevTools) -> browser.StreamlitPage:
    """Reload the page, as a participant does (F5): a new session at the same address."""
    chromium.send("Page.reload", {"ignoreCache": False})
    chromium.pump(1.0)
    page = browser.StreamlitPage(chromium)
    chromium.wait_for(RENDERED, RENDER_S)
    page.install()
    page.wait_idle()
    return page


@pytest.fixture
def page(app_server) -> Iterator[browser.StreamlitPage]:
    with browser.DevTools(size=VIEWPORT, timeout_s=30) as chromium:
        yield open_app(chromium, app_server.url)


@pytest.fixture(autouse=True)
def server_log_on_failure(request):
    """After a failed browser test, print what the server said (shown with the failure)."""
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed and "app_server" in request.fixturenames:
        log = request.getfixturevalue("app_server").log()
        print("server output (last 6000 characters):\n" + log[-6000:])


def demo_place(name: str) -> tuple[float, float]:
    """(lon, lat) of a demo village."""
    from mapping.scenario import load_demo

    villages = load_demo().villages
    point = villages[villages["village_name"] == name].geometry.iloc[0]
    return point.x, point.y


def click_map(page: browser.StreamlitPage, lon: float, lat: float) -> None:
    """Click the app's map at (lon, lat); the page then says which place is chosen."""
    x, y = page.chromium.evaluate(f"{MAP_POINT}({lat}, {lon})")
    page.act(lambda: page.click_at(x, y))
    chosen = f"{lon:.3f}"[:-1]  # the click lands within a pixel: a few metres
    assert chosen in page.text(), f"the map click at {lon}, {lat} was not taken"


def beyond(page: browser.StreamlitPage) -> int:
    metrics = page.metrics()
    return int(metrics.get("超标农户", metrics.get("Households beyond")))


def flagged(page: browser.StreamlitPage) -> int:
    metrics = page.metrics()
    return int(metrics.get("超标村庄", metrics.get("Villages beyond")))


def households_csv(path: Path, lon: float, lat: float, n: int = 3) -> Path:
    rows = [f"U{i},{lon + 0.001 * i:.6f},{lat:.6f},1" for i in range(1, n + 1)]
    path.write_text("户编号,经度,纬度,儿童数\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def load_own_layer(page: browser.StreamlitPage, layer: str, path: Path) -> None:
    page.open_expander(OWN_LAYERS)
    page.act(lambda: page.upload(f"up_{layer}", path))
    page.act(lambda: page.click_key("apply_layers"))


@pytest.mark.browser
@pytest.mark.slow
def test_two_sessions_never_share_results(app_server):
    """Item 1: a second laptop's first edit is not shown the first laptop's results."""
    far = demo_place(FAR)
    with (
        browser.DevTools(size=VIEWPORT, timeout_s=30) as one,
        browser.DevTools(size=VIEWPORT, timeout_s=30) as two,
    ):
        a, b = open_app(one, app_server.url), open_app(two, app_server.url)
        start = beyond(a)
        assert beyond(b) == start >= 15
        # laptop A: an existing kindergarten at the far village closes its 15 households' gap
        click_map(a, *far)
        a.open_expander(EDIT)
        a.act(lambda: a.choose("edit_layer", 1))
        a.act(lambda: a.type("edit_name", "甲的幼儿园"))
        a.act(lambda: a.click_key("edit_add"))
        assert beyond(a) == start - 15
        # laptop B: one more household at the far village, beyond the 5 km like its neighbours
        click_map(b, *far)
        b.open_expander(EDIT)
        b.act(lambda: b.type("edit_new_id", "乙户1"))
        b.act(lambda: b.click_key("edit_add"))
        assert beyond(b) == start + 1
        assert beyond(a) == start - 15


@pytest.mark.browser
@pytest.mark.slow
def test_a_language_switch_changes_labels_never_choices_or_data(page, tmp_path):
    """Item 2: after 中文 -> English every choice is still made and the user's data stays."""
    lon, lat = demo_place(FAR)
    page.open_expander(OWN_LAYERS)
    page.act(lambda: page.choose("coords", 2))  # GCJ-02 (after "detect" and WGS84)
    load_own_layer(page, "households", households_csv(tmp_path / "户.csv", lon, lat))
    assert beyond(page) == 3
    page.act(lambda: page.select("mode", "步行"))
    for section in (EDIT, "规划", "导出与保存"):
        page.open_expander(section)
    page.act(lambda: page.choose("export_privacy", 1))
    page.act(lambda: page.choose("lang", 1))
    assert page.chromium.evaluate("document.querySelector('h1').innerText")
    for section in ("Edit households", "Planning", "Export and save"):  # still open
        assert page.expander_open(section), section
    assert [label for label, on in page.radio("export_privacy") if on][0].startswith("Shareable")
    keys = ("source", "coords", "map_kind", "edit_layer", "plan_objective", "plan_weight")
    for key in (*keys, "export_privacy"):
        chosen = [label for label, on in page.radio(key) if on]
        assert len(chosen) == 1, (key, page.radio(key))
    assert [label for label, on in page.radio("coords") if on] == ["GCJ-02 (Amap, Tencent)"]
    assert page.select_value("mode") == "walking"
    page.act(lambda: page.type("threshold_km_kindergarten", "6"))
    assert beyond(page) == 3  # still the user's three households, not the demo's
    assert picker_texts(page) == ("Choose a file", "200MB per file at most")  # item 7
    page.act(lambda: page.choose("lang", 0))
    assert [label for label, on in page.radio("coords") if on] == ["GCJ-02（高德、腾讯）"]
    assert page.select_value("mode") == "步行"
    assert picker_texts(page) == ("选择文件", "每个文件最大 200MB")


def picker_texts(page: browser.StreamlitPage) -> tuple[str, str]:
    """What the households file picker's button and its note say (Streamlit's own English
    words are covered by ours, drawn by the style sheet)."""
    base = "[class*=st-key-up_households] [data-testid=stFileUploaderDropzone]"
    button, note = (
        page.chromium.evaluate(
            f"getComputedStyle(document.querySelector('{base} {part}'), '::after').content"
        )
        for part in ("button p", "[data-testid=stFileUploaderDropzoneInstructions] span")
    )
    return button.strip('"'), note.strip('"').split(" · ")[0]


@pytest.mark.browser
@pytest.mark.slow
def test_the_village_table_shows_every_column_at_1400_pixels(page):
    """Item 14: at 1400 px the table runs across the page, and no column is off-screen."""
    width, scroll, client, headers, cut = page.chromium.evaluate(
        """(() => {
          const box = document.querySelector('[data-testid=stMain] .gm-table-wrap');
          const heads = Array.from(box.querySelectorAll('th'));
          const names = Array.from(box.querySelectorAll('tbody tr td:first-child'));
          return [box.getBoundingClientRect().width, box.scrollWidth, box.clientWidth,
                  heads.map(h => h.scrollWidth <= h.clientWidth + 1),
                  names.filter(n => n.scrollWidth > n.clientWidth + 1).length];
        })()"""
    )
    assert width >= 900
    assert scroll <= client + 1  # no column off-screen
    assert all(headers) and cut == 0  # no header and no village name cut


def wait_for_autosave(server: AppServer, holds, chromium, timeout_s: float = 30.0) -> None:
    """Wait until the server's autosave holds a scenario for which ``holds(scenario)``."""
    from layers.errors import GapMapperError
    from mapping.project import open_project

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if any(holds(open_project(p)[0]) for p in server.autosave_dir.rglob("autosave.gpkg")):
                return
        except GapMapperError:
            pass  # not written yet
        assert time.monotonic() < deadline, "the work was not autosaved"
        chromium.pump(0.3)


@pytest.mark.browser
@pytest.mark.slow
def test_restore_after_a_reload_brings_back_an_opened_projects_layers(app_server, tmp_path):
    """Item 3: work that came from an opened project comes back whole after a reload."""
    from layers.households import read_households
    from mapping.project import save_project
    from mapping.scenario import load_demo
    from mapping.settings import AnalysisSettings

    lon, lat = demo_place(FAR)
    households = read_households(households_csv(tmp_path / "hh.csv", lon, lat, n=2))
    project = tmp_path / "我们的项目.gpkg"
    save_project(project, load_demo().replace(households=households), AnalysisSettings())
    with browser.DevTools(size=VIEWPORT, timeout_s=30) as chromium:
        page = open_app(chromium, app_server.url)
        page.act(lambda: page.choose("source", 3))
        page.act(lambda: page.upload_to(SIDEBAR_UPLOADERS, project))
        page.act(lambda: page.click_key("load_project"))
        assert beyond(page) == 2
        wait_for_autosave(app_server, lambda sc: len(sc.households) == 2, chromium)
        # the reload (a new session; the address keeps this tab's workspace)
        page = reload_app(chromium)
        assert "自动保存" in page.text()
        page.act(lambda: page.click_key("restore_yes"))
        assert beyond(page) == 2, page.text()[:3000]
        page.act(lambda: page.type("threshold_km_kindergarten", "6"))
        assert beyond(page) == 2


@pytest.mark.browser
@pytest.mark.slow
def test_the_most_recent_choice_of_place_wins_and_is_marked(page):
    """Item 4: a village picked earlier does not beat a later click on the map, and the
    chosen spot has a marker."""
    from mapping.scenario import load_demo

    names = load_demo().villages["village_name"]
    town = sorted(n for n in names if str(n).endswith("镇"))[0]
    start = beyond(page)
    page.act(lambda: page.select("proposal_village", town))
    click_map(page, *demo_place(FAR))  # later than the pick: the click wins
    page.act(lambda: page.click_key("add_kindergarten"))
    assert beyond(page) == start - 15
    marked = page.chromium.evaluate(
        f"document.querySelector('{FOLIUM_FRAME}').contentDocument"
        ".querySelectorAll('.gm-chosen').length"
    )
    assert marked == 1
    page.act(lambda: page.select("proposal_village", town))  # now the pick is the latest
    page.act(lambda: page.click_key("move_P1"))
    assert beyond(page) == start
    click_map(page, *demo_place(FAR))
    page.act(lambda: page.click_key("move_P1"))
    assert beyond(page) == start - 15


@pytest.mark.browser
@pytest.mark.slow
def test_a_services_file_is_added_to_the_services_and_can_be_undone(page, tmp_path):
    """Item 5: one new kindergarten file adds to the services (schools stay), and undo
    takes it back."""
    lon, lat = demo_place(FAR)
    start = beyond(page)
    page.act(lambda: page.choose("map_kind", 1))
    schools = (flagged(page), beyond(page))
    page.act(lambda: page.choose("map_kind", 0))
    csv = tmp_path / "新幼儿园.csv"
    csv.write_text(f"名称,类型,经度,纬度\n希乐图幼儿园,幼儿园,{lon},{lat}\n", encoding="utf-8")
    load_own_layer(page, "services", csv)
    assert beyond(page) == start - 15
    page.act(lambda: page.choose("map_kind", 1))
    assert (flagged(page), beyond(page)) == schools
    page.act(lambda: page.choose("map_kind", 0))
    page.act(lambda: page.click_key("undo"))
    assert beyond(page) == start


@pytest.mark.browser
@pytest.mark.slow
def test_the_users_households_are_never_called_fictional(page, tmp_path):
    """Item 6: with the user's households loaded, the page, the summary and the committee
    map (both languages) say which layers are the demo's, and never that the households are
    made up."""
    lon, lat = demo_place(FAR)
    load_own_layer(page, "households", households_csv(tmp_path / "our_households.csv", lon, lat))
    page.act(lambda: page.type("threshold_km_kindergarten", "6"))  # the load message is gone
    page.open_expander("文字摘要")
    text = page.text()
    assert not [claim for claim in DEMO_CLAIMS if claim in text]
    assert "our_households.csv" in text  # where the households came from
    page.open_expander("导出与保存")
    page.act(lambda: page.click_key("make_export"))
    html = page.download("download_map", tmp_path / "zh").read_text(encoding="utf-8")
    assert not [claim for claim in DEMO_CLAIMS if claim in html]
    assert "our_households.csv" in html
    page.act(lambda: page.choose("lang", 1))
    page.open_expander("Export and save")
    page.act(lambda: page.click_key("make_export"))
    html = page.download("download_map", tmp_path / "en").read_text(encoding="utf-8")
    assert not [claim for claim in DEMO_CLAIMS if claim in html]
    assert "our_households.csv" in html


@pytest.mark.browser
@pytest.mark.slow
def test_sections_stay_open_after_their_buttons(page):
    """Item 11: the result and the next button are still there after 计算新址建议 and
    生成地图文件."""
    page.open_expander("规划")
    page.act(lambda: page.click_key("plan_run"))
    assert page.expander_open("规划")
    assert page.key_text("plan_accept")
    page.act(lambda: page.click_key("plan_accept"))
    assert page.expander_open("规划")
    page.open_expander("导出与保存")
    page.act(lambda: page.click_key("make_export"))
    assert page.expander_open("导出与保存")
    assert page.key_text("download_map")


# --------------------------------------------------------------------------------------------
# Issues 13, 14, 15 in the browser: the column step, a road drawn with the draw tool, closed
# roads and routes on the map

IN_FRAME = """
((selector) => {
  const doc = document.querySelector('FOLIUM_FRAME').contentDocument;
  return doc ? doc.querySelectorAll(selector).length : 0;
})
""".replace("FOLIUM_FRAME", FOLIUM_FRAME)

# Where, in page pixels, a draw-tool button and the action link titled ``title`` are.
DRAW_BUTTON = """
((selector) => {
  const frame = document.querySelector('FOLIUM_FRAME');
  frame.scrollIntoView({block: 'center'});
  const f = frame.getBoundingClientRect();
  const el = Array.from(frame.contentDocument.querySelectorAll(selector))
    .find(e => e.getBoundingClientRect().width > 0);
  if (!el) { return null; }
  const b = el.getBoundingClientRect();
  return {title: el.title, at: [f.left + b.left + b.width / 2, f.top + b.top + b.height / 2]};
})
""".replace("FOLIUM_FRAME", FOLIUM_FRAME)


# The popups of the map's villages (their HTML, as the map holds it).
VILLAGE_POPUPS = """
(() => {
  const win = document.querySelector('FOLIUM_FRAME').contentWindow;
  const out = [];
  win.map.eachLayer(function (layer) {
    const cls = (layer.options && layer.options.className) || "";
    if (layer.feature && cls.split(" ").indexOf("gm-village") >= 0) {
      out.push(layer.feature.properties.popup || "");
    }
  });
  return out;
})()
""".replace("FOLIUM_FRAME", FOLIUM_FRAME)


def in_frame(page: browser.StreamlitPage, selector: str) -> int:
    return page.chromium.evaluate(f"{IN_FRAME}({browser._js(selector)})")


def map_pixel(page: browser.StreamlitPage, lon: float, lat: float) -> tuple[float, float]:
    return tuple(page.chromium.evaluate(f"{MAP_POINT}({lat}, {lon})"))


@pytest.mark.browser
@pytest.mark.slow
def test_unrecognised_headers_are_mapped_in_the_page(page, tmp_path):
    """Issue 14: a survey table with headers the readers do not know: the page shows its
    first rows and asks which column is which; the answer reads the file."""
    lon, lat = demo_place(FAR)
    rows = [f"U{i},{lon + 0.001 * i:.6f},{lat:.6f},{FAR},1" for i in range(1, 4)]
    csv = tmp_path / "调查表.csv"
    csv.write_text("编码,东经度数,北纬度数,所在嘎查,孩子\n" + "\n".join(rows) + "\n", "utf-8")
    start = beyond(page)
    load_own_layer(page, "households", csv)
    text = page.text()
    assert "调查表.csv：哪一列是……" in text and "没有认出这个文件里的经纬度" in text
    assert page.exists(".st-key-colmap [data-testid=stDataFrame]")  # the first rows
    assert beyond(page) == start  # nothing read yet
    assert page.select_value("colmap_lon") == "东经度数"  # guessed from the numbers
    page.act(lambda: page.select("colmap_id", "编码"))
    page.act(lambda: page.select("colmap_village", "所在嘎查"))
    page.act(lambda: page.click_key("colmap_apply"))
    assert "已载入：调查表.csv" in page.text()
    assert "哪一列是" not in page.text()
    assert beyond(page) == 3  # the three households, beyond 5 km like their village


def zoom_to(page: browser.StreamlitPage, points: list[tuple[float, float]]) -> None:
    """Zoom the map in on ``points`` (lon, lat), as a person zooms in before drawing."""
    bounds = [[min(y for _, y in points), min(x for x, _ in points)],
              [max(y for _, y in points), max(x for x, _ in points)]]  # fmt: skip
    page.chromium.evaluate(
        f"document.querySelector('{FOLIUM_FRAME}').contentWindow.map"
        f".fitBounds({bounds}, {{padding: [40, 40], animate: false}}) && true"
    )
    page.chromium.pump(0.5)


def draw_line(page: browser.StreamlitPage, points: list[tuple[float, float]]) -> None:
    """Draw a line through ``points`` (lon, lat) with the map's line tool, as a person does:
    the tool's button, a click per point, then 完成."""
    zoom_to(page, points)
    tool = page.chromium.wait_for(f"{DRAW_BUTTON}('.leaflet-draw-draw-polyline')", 20)
    assert tool["title"] == "画一条路（存为社区道路，或封路）"
    _click(page.chromium, *tool["at"])
    for lon, lat in points:
        _click(page.chromium, *map_pixel(page, lon, lat))
        page.chromium.pump(0.3)
    finish = page.chromium.evaluate(f"{DRAW_BUTTON}('.leaflet-draw-actions a[title=\"完成\"]')")
    page.act(lambda: _click(page.chromium, *finish["at"]))


@pytest.mark.browser
@pytest.mark.slow
def test_a_line_drawn_on_the_map_is_saved_as_a_community_road(page):
    """Issue 13: the line tool draws a road; saved with a name, it is on the map in its own
    layer and in the legend, and the table says what it changed; undo takes it away."""
    from layers.tracks import read_community_roads
    from tests.conftest import ROOT

    track = read_community_roads(ROOT / "data" / "demo" / "community_track.gpx")
    coords = list(track.geometry.iloc[0].coords)
    # a few of the recorded track's points: the same road, drawn by hand
    points = [coords[i] for i in np.linspace(0, len(coords) - 1, 6).astype(int)]
    assert in_frame(page, ".gm-community") == 0
    draw_line(page, points)
    assert "你在地图上画了一条线" in page.text()
    page.open_expander("社区补充的道路")
    page.act(lambda: page.type("road_name", "手画的近路"))
    page.act(lambda: page.click_key("road_add"), ready=RENDERED)
    text = page.text()
    assert "已添加社区道路“手画的近路”（土路）。" in text
    # what it changed: a table (its cells are drawn on a canvas), not "nothing changed"
    assert "社区道路带来的变化（到最近的幼儿园）" in text
    assert "社区道路没有改变任何村庄" not in text
    page.chromium.wait_for(f"{IN_FRAME}('.gm-community') > 0", 30)
    frame_text = page.chromium.evaluate(
        f"document.querySelector('{FOLIUM_FRAME}').contentDocument.body.textContent"
    )
    assert "社区补充的道路" in frame_text  # the folded legend's entry
    page.act(lambda: page.click_key("undo"), ready=RENDERED)
    page.chromium.wait_for(f"{IN_FRAME}('.gm-community') === 0", 30)
    assert [u for u in page.chromium.requests if not browser.is_local_url(u)] == []


@pytest.mark.browser
@pytest.mark.slow
def test_closed_roads_and_a_villages_route_are_drawn(page):
    """Issue 13: under the demo's winter condition the closed roads are drawn and the far
    village is cut off, in words naming the condition. Issue 15: with routes on, opening a
    village's popup draws its route."""
    page.open_expander("社区补充的道路")
    page.act(lambda: page.click_key("roads_demo"), ready=RENDERED)
    page.act(lambda: page.select("condition", "冬季积雪"), ready=RENDERED)
    page.chromium.wait_for(f"{IN_FRAME}('.gm-closed') > 0", 30)
    popups = page.chromium.evaluate(VILLAGE_POPUPS)
    far = [p for p in popups if f'<b class="gm-name">{FAR}</b>' in p]
    assert len(far) == 1 and f"{FAR}：冬季积雪封路后，沿道路无法到达任何幼儿园" in far[0]
    assert "（其中 1 个无法沿道路到达）" in page.text()  # the conditions side by side
    page.act(lambda: page.select("condition", "平时（无封路）"), ready=RENDERED)
    page.act(lambda: page.click("[class*=st-key-show_routes] label"), ready=RENDERED)
    x, y = map_pixel(page, *demo_place("光明村"))  # no household drawn over its point
    page.act(lambda: page.click_at(x, y))
    page.chromium.wait_for(f"{IN_FRAME}('.gm-route') > 0", 20)
