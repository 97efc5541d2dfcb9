"""The Overpass download, replayed from recorded answers served on 127.0.0.1.

A tiny HTTP server in a thread plays Overpass and Nominatim (``osmnx.settings.overpass_url``
and ``nominatim_url`` point at it), so the real HTTP client runs and every request is counted.
The answers are hand-written in the shape of real ones (``tests/fixtures/overpass``).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import osmnx
import pytest
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from layers import i18n, overpass
from layers.errors import DownloadError, InputError, NetworkAccessError, SettingsError

from .conftest import FIXTURES

RECORDED = FIXTURES / "overpass"
SMALL = (RECORDED / "interpreter_small.osm").read_bytes()
#: The area of the recorded answer: (west, south, east, north), degrees, WGS84.
BBOX = (111.6, 41.5, 111.7, 41.56)

EXPECTED_BBOX_QUERY = """[out:xml][timeout:180];
(
  way["highway"](41.5,111.6,41.56,111.7);
  nwr["amenity"~"^(kindergarten|school)$"](41.5,111.6,41.56,111.7);
  node["place"~"^(village|hamlet|isolated_dwelling|town)$"](41.5,111.6,41.56,111.7);
  relation["boundary"="administrative"]["admin_level"~"^(8|9|10)$"](41.5,111.6,41.56,111.7);
);
(._;>;);
out body;
"""


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: str

    @property
    def query(self) -> str:
        """The Overpass QL text of a POST (form field ``data``)."""
        return parse_qs(self.body)["data"][0]


class FakeServer:
    """Overpass (``/api/interpreter``) and Nominatim (``/nominatim/search``) on loopback."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: dict[str, deque[tuple[int, dict[str, str], bytes]]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                path, _, qs = self.path.partition("?")
                fake.requests.append(
                    Request(self.command, path, parse_qs(qs), dict(self.headers), body)
                )
                queue = fake.replies.get(path)
                status, headers, payload = (
                    queue.popleft() if queue else (500, {}, b"no recorded reply")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)

    def reply(self, path: str, status: int, payload: bytes, **headers: str) -> None:
        self.replies.setdefault(path, deque()).append((status, headers, payload))

    def overpass(self, status: int, payload: bytes, **headers: str) -> None:
        headers.setdefault("Content-Type", "application/osm3s+xml")
        self.reply("/api/interpreter", status, payload, **headers)

    def nominatim(self, results: list) -> None:
        payload = json.dumps(results).encode("utf-8")
        self.reply("/nominatim/search", 200, payload, **{"Content-Type": "application/json"})


@pytest.fixture
def clean_env(monkeypatch):
    """No offline switch, no cache folder from the environment, no pauses."""
    monkeypatch.delenv(overpass.OFFLINE_ENV, raising=False)
    monkeypatch.delenv(overpass.CACHE_DIR_ENV, raising=False)
    monkeypatch.setattr(overpass, "OFFLINE", False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    sleeps: list[float] = []
    monkeypatch.setattr(overpass, "_sleep", sleeps.append)
    return sleeps


@pytest.fixture
def server(monkeypatch, clean_env):
    fake = FakeServer()
    fake.thread.start()
    monkeypatch.setattr(osmnx.settings, "overpass_url", f"http://127.0.0.1:{fake.port}/api")
    monkeypatch.setattr(osmnx.settings, "nominatim_url", f"http://127.0.0.1:{fake.port}/nominatim/")
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the query ---------------------------------------------------------------------------------


def test_build_query_for_a_bbox_is_exact():
    assert overpass.build_query(bbox=BBOX) == EXPECTED_BBOX_QUERY


def test_build_query_polygon_parts_and_childcare():
    triangle = Polygon([(111.6, 41.5), (111.7, 41.5), (111.65, 41.56)])
    query = overpass.build_query(polygon=triangle, timeout_s=60, include_childcare=True)
    poly = '(poly:"41.5 111.6 41.5 111.7 41.56 111.65")'
    assert query.startswith("[out:xml][timeout:60];\n")
    assert f'  way["highway"]{poly};' in query
    assert f'  nwr["amenity"~"^(kindergarten|school|childcare)$"]{poly};' in query
    assert query.endswith(");\n(._;>;);\nout body;\n")

    # Overpass's poly filter has no multipolygons: one statement per part and selector.
    two = MultiPolygon([box(111.6, 41.5, 111.62, 41.52), box(111.68, 41.54, 111.7, 41.56)])
    query = overpass.build_query(polygon=two)
    assert query.count("(poly:") == 8
    assert query.count('way["highway"](poly:') == 2
    assert '"41.54 111.7 41.56 111.7 41.56 111.68 41.54 111.68"' in query


# --- download and cache ------------------------------------------------------------------------


def test_download_saves_answer_in_cache(server, cache):
    server.overpass(200, SMALL)
    events: list[tuple[str, dict]] = []

    path = overpass.download_osm(
        bbox=BBOX, cache_dir=cache, progress=lambda k, p: events.append((k, p))
    )

    assert path == cache / f"{sha(EXPECTED_BBOX_QUERY)}.osm"
    assert path.read_bytes() == SMALL
    assert files_in(cache) == [path.name]  # no temporary file left behind
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/api/interpreter")
    assert request.query == EXPECTED_BBOX_QUERY
    assert request.headers["User-Agent"].startswith("service-gap-mapper/")
    assert [key for key, _ in events] == [
        "progress.overpass.downloading",
        "progress.overpass.saved",
    ]
    assert events[1][1] == {"file": str(path), "size_mb": round(len(SMALL) / 1e6, 1)}


def test_second_call_makes_no_request(server, cache, monkeypatch):
    server.overpass(200, SMALL)
    first = overpass.download_osm(bbox=BBOX, cache_dir=cache)
    second = overpass.download_osm(bbox=list(BBOX), cache_dir=cache)
    assert second == first
    assert len(server.requests) == 1

    # A cached area is served in offline mode too: that is what the workshop relies on.
    monkeypatch.setenv(overpass.OFFLINE_ENV, "1")
    assert overpass.download_osm(bbox=BBOX, cache_dir=cache) == first
    assert len(server.requests) == 1


def test_cache_key_follows_area_and_options(server, cache):
    for _ in range(3):
        server.overpass(200, SMALL)
    a = overpass.download_osm(bbox=BBOX, cache_dir=cache)
    b = overpass.download_osm(bbox=(111.6, 41.5, 111.7, 41.57), cache_dir=cache)
    c = overpass.download_osm(bbox=BBOX, cache_dir=cache, include_childcare=True)
    assert len({a, b, c}) == 3
    assert len(server.requests) == 3
    assert "(41.5,111.6,41.57,111.7)" in server.requests[1].query
    assert "kindergarten|school|childcare" in server.requests[2].query
    assert files_in(cache) == sorted(p.name for p in (a, b, c))


def test_cache_dir_from_environment_and_argument(monkeypatch, tmp_path, clean_env):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert overpass.resolve_cache_dir() == tmp_path / "home/.cache/service-gap-mapper/osm"
    monkeypatch.setenv(overpass.CACHE_DIR_ENV, str(tmp_path / "env"))
    assert overpass.resolve_cache_dir() == tmp_path / "env"
    assert overpass.resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    query = overpass.build_query(bbox=BBOX)
    assert overpass.cache_path_for(query) == tmp_path / "env" / f"{sha(query)}.osm"


def test_429_then_200_retries_after_the_servers_pause(server, cache, clean_env):
    server.overpass(429, (RECORDED / "interpreter_429.html").read_bytes(), **{"Retry-After": "7"})
    server.overpass(200, SMALL)
    events: list[tuple[str, dict]] = []

    path = overpass.download_osm(
        bbox=BBOX, cache_dir=cache, progress=lambda k, p: events.append((k, p))
    )

    assert path.read_bytes() == SMALL
    assert len(server.requests) == 2
    assert server.requests[0].query == server.requests[1].query == EXPECTED_BBOX_QUERY
    assert clean_env == [7.0]
    assert (
        "progress.overpass.retry",
        {"status": 429, "pause_s": 7, "attempt": 2, "attempts": 3},
    ) in events


def test_busy_server_gives_up_after_bounded_attempts(server, cache, clean_env):
    for _ in range(overpass.MAX_ATTEMPTS + 1):
        server.overpass(
            504, b"<html><body>Gateway Timeout</body></html>", **{"Content-Type": "text/html"}
        )

    with pytest.raises(DownloadError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)

    assert info.value.key == "error.overpass.busy"
    assert len(server.requests) == 3
    # No Retry-After: 15 s, then 30 s (RETRY_PAUSE_S times the attempt).
    assert clean_env == [15.0, 30.0]
    assert "still HTTP 504 after 3 attempts" in str(info.value)
    assert "仍返回 HTTP 504" in info.value.message("zh")
    assert files_in(cache) == []


def test_http_400_reports_overpass_remark(server, cache):
    server.overpass(
        400, (RECORDED / "interpreter_400.html").read_bytes(), **{"Content-Type": "text/html"}
    )

    with pytest.raises(DownloadError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)

    error = info.value
    assert error.key == "error.overpass.http"
    assert error.params["status"] == 400
    assert error.params["remark"] == 'line 3: parse error: Unknown type "wya"'
    assert 'HTTP 400, remark: line 3: parse error: Unknown type "wya"' in str(error)
    assert 'HTTP 400，说明：line 3: parse error: Unknown type "wya"' in error.message("zh")
    assert len(server.requests) == 1
    assert files_in(cache) == []


def test_overpass_timeout_remark_says_area_too_large(server, cache):
    # Overpass reports a query timeout as HTTP 200 with a <remark> and no elements.
    server.overpass(200, (RECORDED / "interpreter_timeout.osm").read_bytes())

    with pytest.raises(DownloadError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)

    error = info.value
    assert error.key == "error.overpass.too_large"
    remark = 'runtime error: Query timed out in "query" at line 3 after 181 seconds.'
    assert error.params == {"remark": remark, "timeout_s": 180}
    assert "Choose a smaller area, or use an offline .osm/.pbf regional extract" in str(error)
    assert "请选择更小的区域" in error.message("zh")
    assert files_in(cache) == []


@pytest.mark.parametrize(
    ("remark", "key"),
    [
        ("runtime error: Query run out of memory using about 2048 MB of RAM.", "too_large"),
        ("runtime error: open64: 0 Success /osm3s_osm_base Dispatcher_Client", "remark"),
    ],
)
def test_runtime_error_remarks(server, cache, remark, key):
    body = SMALL.replace(b"</osm>", f"<remark> {remark} </remark>\n</osm>".encode())
    server.overpass(200, body)
    with pytest.raises(DownloadError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)
    assert info.value.key == f"error.overpass.{key}"
    assert info.value.params["remark"] == remark
    assert remark in str(info.value) and remark in info.value.message("zh")
    assert files_in(cache) == []


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (b"<!DOCTYPE html><html><body><h1>WLAN login</h1></body></html>", "error.overpass.not_osm"),
        (SMALL[: SMALL.rindex(b"</way>")], "error.overpass.interrupted"),
        (b"", "error.overpass.not_osm"),
    ],
    ids=["captive-portal", "truncated", "empty"],
)
def test_unusable_200_answer_is_not_cached(server, cache, payload, key):
    server.overpass(200, payload)
    with pytest.raises(DownloadError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)
    assert info.value.key == key
    assert files_in(cache) == []


def test_connection_refused_says_internet_needed(monkeypatch, cache, clean_env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed now: connecting to it is refused at once.
    url = f"http://127.0.0.1:{port}/api"
    monkeypatch.setattr(osmnx.settings, "overpass_url", url)

    with pytest.raises(DownloadError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)

    error = info.value
    assert isinstance(error, ConnectionError)
    assert error.key == "error.overpass.no_network"
    assert error.params["url"] == url + "/interpreter"
    assert "Connection refused" in error.params["reason"]
    en, zh = error.message("en"), error.message("zh")
    assert f"Could not connect to {url}/interpreter" in en
    assert "downloading OpenStreetMap data needs internet access" in en
    assert "use an offline .osm/.pbf file instead" in en
    assert f"无法连接 {url}/interpreter" in zh
    assert "下载 OpenStreetMap 数据需要联网" in zh
    assert "改用离线的 .osm/.pbf 文件" in zh
    assert files_in(cache) == []  # the folder may exist, but holds nothing


@pytest.mark.parametrize("switch", ["env", "attribute"])
def test_offline_mode_refuses_before_any_request(server, cache, monkeypatch, switch):
    if switch == "env":
        monkeypatch.setenv(overpass.OFFLINE_ENV, "1")
    else:
        monkeypatch.setattr(overpass, "OFFLINE", True)
    server.overpass(200, SMALL)

    with pytest.raises(NetworkAccessError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)

    assert info.value.key == "error.overpass.offline"
    assert "Offline mode is on (GAPMAPPER_OFFLINE=1)" in str(info.value)
    assert "Use a local .osm or .pbf file instead" in str(info.value)
    assert "当前为离线模式" in info.value.message("zh")
    assert server.requests == []
    assert not cache.exists()


# --- place names -------------------------------------------------------------------------------


def test_place_name_is_geocoded_once_then_cached(server, cache, monkeypatch, tmp_path):
    monkeypatch.setattr(osmnx.settings, "cache_folder", str(tmp_path / "osmnx-cache"))
    server.nominatim(json.loads((RECORDED / "nominatim_search.json").read_text("utf-8")))
    server.overpass(200, SMALL)
    use_cache = osmnx.settings.use_cache

    path = overpass.download_osm(place="四子王旗", cache_dir=cache)

    search, interpreter = server.requests
    assert (search.method, search.path) == ("GET", "/nominatim/search")
    assert search.params["q"] == ["四子王旗"]
    assert search.params["polygon_geojson"] == ["1"]
    # The boundary (not the town's point) becomes the Overpass polygon, as "lat lon" pairs.
    poly = '(poly:"41.5 111.6 41.5 111.7 41.56 111.7 41.56 111.6")'
    assert f'way["highway"]{poly};' in interpreter.query
    assert path == cache / f"{sha(interpreter.query)}.osm"
    place_file = cache / f"place-{sha('四子王旗')}.geojson"
    assert files_in(cache) == sorted([path.name, place_file.name])
    feature = json.loads(place_file.read_text("utf-8"))
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["display_name"] == "四子王旗, 乌兰察布市, 内蒙古自治区, 中国"
    assert feature["properties"]["osm_id"] == 3176410
    assert osmnx.settings.use_cache == use_cache  # osmnx's own cache was only paused
    assert not (tmp_path / "osmnx-cache").exists()

    # Offline, with different spacing: served from both caches, nothing reaches the server.
    monkeypatch.setenv(overpass.OFFLINE_ENV, "1")
    assert overpass.download_osm(place="  四子王旗 ", cache_dir=cache) == path
    geometry = overpass.geocode_place("四子王旗", cache_dir=cache)
    assert geometry.equals(box(111.6, 41.5, 111.7, 41.56))
    assert len(server.requests) == 2


def test_unknown_place_name(server, cache):
    server.nominatim([])
    with pytest.raises(InputError) as info:
        overpass.download_osm(place="Atlantis Banner", cache_dir=cache)
    assert info.value.key == "error.overpass.place_not_found"
    assert "The place name 'Atlantis Banner' was not found" in str(info.value)
    assert "地名“Atlantis Banner”未能在 Nominatim 地名库中找到" in info.value.message("zh")
    assert [r.path for r in server.requests] == ["/nominatim/search"]
    assert files_in(cache) == []


def test_place_known_only_as_a_point(server, cache):
    results = json.loads((RECORDED / "nominatim_search.json").read_text("utf-8"))
    server.nominatim([results[1]])
    with pytest.raises(InputError) as info:
        overpass.download_osm(place="四子王旗", cache_dir=cache)
    assert info.value.key == "error.overpass.place_not_polygon"
    assert "'四子王旗' only as a point or line" in str(info.value)
    assert [r.path for r in server.requests] == ["/nominatim/search"]
    assert files_in(cache) == []


def test_geocoder_unreachable(server, cache, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(osmnx.settings, "nominatim_url", f"http://127.0.0.1:{port}/")
    with pytest.raises(DownloadError) as info:
        overpass.download_osm(place="四子王旗", cache_dir=cache)
    assert info.value.key == "error.overpass.no_network"
    assert info.value.params["url"] == f"http://127.0.0.1:{port}/"
    assert "Connection refused" in info.value.params["reason"]
    assert "下载 OpenStreetMap 数据需要联网" in info.value.message("zh")
    assert server.requests == []
    assert files_in(cache) == []


def test_offline_place_not_cached(server, cache, monkeypatch):
    monkeypatch.setenv(overpass.OFFLINE_ENV, "yes")
    with pytest.raises(NetworkAccessError) as info:
        overpass.download_osm(place="四子王旗", cache_dir=cache)
    assert info.value.params == {"what": "Nominatim: 四子王旗"}
    assert server.requests == []
    assert not cache.exists()


# --- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "given"),
    [
        ({}, "-"),
        ({"place": "   "}, "-"),
        ({"place": "四子王旗", "bbox": BBOX}, "place, bbox"),
        ({"bbox": BBOX, "polygon": box(*BBOX)}, "bbox, polygon"),
    ],
)
def test_exactly_one_area(server, cache, kwargs, given):
    with pytest.raises(SettingsError) as info:
        overpass.download_osm(cache_dir=cache, **kwargs)
    assert info.value.key == "error.overpass.area_choice"
    assert info.value.params == {"given": given}
    assert "Give exactly one download area" in str(info.value)
    assert f"实际给出了：{given}。" in info.value.message("zh")
    assert server.requests == []
    assert not cache.exists()


@pytest.mark.parametrize(
    "bbox",
    [
        (111.7, 41.5, 111.6, 41.56),  # west > east
        (111.6, 41.5, 111.6, 41.56),  # west == east
        (111.6, 41.56, 111.7, 41.5),  # south > north
        (41.5, 111.6, 41.56, 111.7),  # lat/lon swapped: north 111.7 > 90
        (-181.0, 41.5, 111.7, 41.56),
        (111.6, 41.5, 111.7, float("nan")),
        (111.6, 41.5, 111.7),
        "111.6,41.5,111.7,41.56",
    ],
)
def test_invalid_bbox(server, cache, bbox):
    with pytest.raises(InputError) as info:
        overpass.download_osm(bbox=bbox, cache_dir=cache)
    assert info.value.key == "error.overpass.bad_bbox"
    assert info.value.params == {"bbox": repr(bbox)}
    assert "(west, south, east, north) in WGS84 degrees" in str(info.value)
    assert "Are longitude and latitude swapped?" in str(info.value)
    assert "经度和纬度是否写反了" in info.value.message("zh")
    assert server.requests == []
    assert not cache.exists()


@pytest.mark.parametrize(
    ("polygon", "found"),
    [
        (
            box(500_000, 4_590_000, 510_000, 4_600_000),
            "Polygon with bounds (500000.0, 4590000.0, 510000.0, 4600000.0)",
        ),
        (LineString([(111.6, 41.5), (111.7, 41.56)]), "LineString"),
        (Polygon(), "empty Polygon"),
    ],
    ids=["projected-metres", "line", "empty"],
)
def test_invalid_polygon(server, cache, polygon, found):
    with pytest.raises(InputError) as info:
        overpass.download_osm(polygon=polygon, cache_dir=cache)
    assert info.value.key == "error.overpass.bad_polygon"
    assert info.value.params == {"found": found}
    assert "convert it to EPSG:4326 first" in str(info.value)
    assert server.requests == []
    assert not cache.exists()


@pytest.mark.parametrize("timeout_s", [0, -5, 3601, 12.5, "180", True])
def test_invalid_timeout(server, cache, timeout_s):
    with pytest.raises(SettingsError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache, timeout_s=timeout_s)
    assert info.value.key == "error.overpass.bad_timeout"
    assert info.value.params == {"timeout_s": repr(timeout_s)}
    assert server.requests == []


def test_messages_have_same_placeholders_in_both_languages():
    keys = [k for k in i18n.all_keys() if ".overpass." in k]
    assert len(keys) == 23  # 18 errors, 5 progress messages
    for key in keys:
        texts = i18n.texts_for(key)
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


# --- through the offline reader ----------------------------------------------------------------


def test_read_osm_online_reads_cached_file_with_offline_reader(server, cache):
    osm = pytest.importorskip("layers.osm", reason="layers.osm (the offline reader) not available")
    server.overpass(200, SMALL)

    extract = overpass.read_osm_online(bbox=BBOX, cache_dir=cache)

    assert extract.source == str(cache / f"{sha(EXPECTED_BBOX_QUERY)}.osm")
    direct = osm.read_osm(extract.source, clip=BBOX)
    assert extract.roads.n_edges == direct.roads.n_edges == 7  # 3 + 2 + 2 segments
    assert sorted(extract.services["kind"]) == ["kindergarten", "school"]
    assert sorted(extract.services["name"]) == ["乌兰花镇第二幼儿园", "四子王旗第一小学"]
    assert len(server.requests) == 1


# --- writing the cache -------------------------------------------------------------------------


def test_a_download_that_cannot_be_written_is_a_message_and_leaves_no_partial_file(
    server, cache, monkeypatch
):
    import errno

    from layers import files
    from layers.errors import OutputError

    server.overpass(200, SMALL)
    real_replace = files.os.replace

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)  # every cache write goes through it
    with pytest.raises(OutputError) as info:
        overpass.download_osm(bbox=BBOX, cache_dir=cache)
    assert info.value.key == "error.output.disk_full"
    assert "磁盘已满" in info.value.message("zh")
    assert files_in(cache) == []  # neither the answer nor a temporary file
    monkeypatch.setattr(files.os, "replace", real_replace)
    server.overpass(200, SMALL)
    path = overpass.download_osm(bbox=BBOX, cache_dir=cache)
    assert path.read_bytes() == SMALL and files_in(cache) == [path.name]
