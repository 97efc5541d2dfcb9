"""Download OpenStreetMap data for an area from the Overpass API into a local ``.osm`` file.

This is the **only** module of the project that talks to the network (a test scans the
sources to keep it so). It does not parse OSM data itself: it saves Overpass's XML answer as a
file in a cache folder, and :func:`read_osm_online` hands that file to the same offline reader
that reads users' ``.osm``/``.pbf`` extracts (:func:`layers.osm.read_osm`). So online and
offline data go through exactly one parser, and the second time an area is needed it comes
from the cache without any network.

The area is one of

- ``place``: a name, geocoded by Nominatim (through :func:`osmnx.geocoder.geocode_to_gdf`) to
  its boundary polygon; the polygon is cached too, so the name works offline the second time;
- ``bbox``: ``(west, south, east, north)`` in degrees, WGS84 (EPSG:4326);
- ``polygon``: a shapely ``Polygon``/``MultiPolygon`` in lon/lat degrees, WGS84 (EPSG:4326).

What is downloaded (one Overpass QL query, XML output, see :func:`build_query`): every way
with a ``highway`` tag and its nodes; ``amenity=kindergarten|school`` (and ``childcare`` when
asked for) as nodes, ways and relations with their members and nodes; ``place=village|hamlet|
isolated_dwelling|town`` nodes; ``boundary=administrative`` relations of ``admin_level``
8, 9 or 10 with their member ways and nodes.

Cache: ``<cache_dir>/<sha256 of the query>.osm`` and ``<cache_dir>/place-<sha256>.geojson``.
The folder is the ``cache_dir`` argument, else the ``GAPMAPPER_CACHE_DIR`` environment
variable, else ``osm`` in the user's cache folder (``~/.cache/service-gap-mapper/osm``; on
Windows ``%LOCALAPPDATA%\\service-gap-mapper\\Cache\\osm``, see
:func:`layers.files.user_folder`). Files are written through :mod:`layers.files` (a temporary
name in the same folder, then renamed), so a cache file is either complete or absent.

Offline switch: with ``GAPMAPPER_OFFLINE=1`` in the environment (or :data:`OFFLINE` set to
``True``) anything that would reach the network raises
:class:`~layers.errors.NetworkAccessError` first; cached areas are still served.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from layers import i18n
from layers.errors import DownloadError, InputError, NetworkAccessError, SettingsError
from layers.files import atomic_path, user_folder, write_bytes

if TYPE_CHECKING:
    from layers.osm import OSMExtract

#: Set to ``True`` to forbid network access from Python (same effect as ``GAPMAPPER_OFFLINE=1``).
OFFLINE: bool = False
OFFLINE_ENV = "GAPMAPPER_OFFLINE"
CACHE_DIR_ENV = "GAPMAPPER_CACHE_DIR"

#: Attempts per download when Overpass answers 429 (too many requests) or 504 (overloaded).
MAX_ATTEMPTS = 3
#: Pause before a retry when the server sends no ``Retry-After``, seconds (times the attempt).
RETRY_PAUSE_S = 15.0
#: Never wait longer than this between attempts, seconds, whatever ``Retry-After`` says.
MAX_RETRY_PAUSE_S = 120.0
#: Seconds to wait for the TCP connection; a slow or absent network fails fast.
CONNECT_TIMEOUT_S = 20.0
#: Added to the Overpass ``[timeout:]`` for the read timeout, seconds: the server's timeout
#: covers only the query, and the transfer of a large answer comes on top.
READ_MARGIN_S = 60.0
USER_AGENT = "service-gap-mapper/0.1 (community service-gap mapper; python-requests)"

PLACE_VALUES = ("village", "hamlet", "isolated_dwelling", "town")
ADMIN_LEVELS = ("8", "9", "10")

#: ``progress(key, params)``: called with a translation key under ``progress.overpass.*`` and
#: its placeholder values, so a caller can show ``i18n.t(key, lang, **params)``.
Progress = Callable[[str, dict[str, Any]], None]

# Tests replace this to record the pauses instead of sleeping.
_sleep = time.sleep
# osmnx's settings are global; only one geocoding call at a time may switch its cache off.
_GEOCODE_LOCK = threading.Lock()
_CHUNK = 1 << 20

i18n.register(
    {
        "error.overpass.offline": {
            "zh": "当前为离线模式（GAPMAPPER_OFFLINE=1），不能联网下载 OpenStreetMap 数据"
            "（{what}）。请改用本地的 .osm 或 .pbf 文件，或在有网络时关闭离线模式后再下载。",
            "en": "Offline mode is on (GAPMAPPER_OFFLINE=1), so OpenStreetMap data cannot be "
            "downloaded ({what}). Use a local .osm or .pbf file instead, or switch offline "
            "mode off while you have internet access.",
        },
        "error.overpass.no_network": {
            "zh": "无法连接 {url}：下载 OpenStreetMap 数据需要联网（{reason}）。请检查网络，"
            "或改用离线的 .osm/.pbf 文件（例如从 Geofabrik 等网站下载的地区数据）。",
            "en": "Could not connect to {url}: downloading OpenStreetMap data needs internet "
            "access ({reason}). Check the connection, or use an offline .osm/.pbf file instead "
            "(for example a regional extract from Geofabrik).",
        },
        "error.overpass.interrupted": {
            "zh": "从 {url} 下载时连接中断，数据不完整，未保存（{reason}）。请稍后重试，"
            "或改用离线的 .osm/.pbf 文件。",
            "en": "The download from {url} broke off; the data was incomplete and was not "
            "saved ({reason}). Try again later, or use an offline .osm/.pbf file.",
        },
        "error.overpass.request_failed": {
            "zh": "无法向 {url} 发送下载请求：{reason}。请检查 Overpass 服务地址设置"
            "（osmnx.settings.overpass_url）。",
            "en": "Could not send the download request to {url}: {reason}. Check the Overpass "
            "address setting (osmnx.settings.overpass_url).",
        },
        "error.overpass.http": {
            "zh": "Overpass 服务器（{url}）拒绝了请求：HTTP {status}，说明：{remark}。"
            "请稍后重试；若仍失败，请改用离线的 .osm/.pbf 文件。",
            "en": "The Overpass server ({url}) refused the request: HTTP {status}, remark: "
            "{remark}. Try again later; if it keeps failing, use an offline .osm/.pbf file.",
        },
        "error.overpass.busy": {
            "zh": "Overpass 服务器（{url}）繁忙，尝试 {attempts} 次后仍返回 HTTP {status}。"
            "请过几分钟再试，或改用离线的 .osm/.pbf 文件。",
            "en": "The Overpass server ({url}) is busy: still HTTP {status} after {attempts} "
            "attempts. Try again in a few minutes, or use an offline .osm/.pbf file.",
        },
        "error.overpass.too_large": {
            "zh": "Overpass 服务器未能在限定时间（{timeout_s} 秒）或内存内完成查询，区域可能太大"
            "（服务器说明：{remark}）。请选择更小的区域，或改用离线的 .osm/.pbf 地区数据。",
            "en": "The Overpass server could not finish the query within its time limit "
            "({timeout_s} s) or memory; the area is probably too large (server remark: "
            "{remark}). Choose a smaller area, or use an offline .osm/.pbf regional extract.",
        },
        "error.overpass.timeout": {
            "zh": "等待 {url} 的回复超过 {wait_s} 秒仍未完成，区域可能太大或网络太慢。"
            "请选择更小的区域，或改用离线的 .osm/.pbf 文件。",
            "en": "No complete answer from {url} after waiting {wait_s} s; the area may be too "
            "large or the connection too slow. Choose a smaller area, or use an offline "
            ".osm/.pbf file.",
        },
        "error.overpass.remark": {
            "zh": "Overpass 服务器报告错误，数据未保存：{remark}。请稍后重试，"
            "或改用离线的 .osm/.pbf 文件。",
            "en": "The Overpass server reported an error and the data was not saved: {remark}. "
            "Try again later, or use an offline .osm/.pbf file.",
        },
        "error.overpass.not_osm": {
            "zh": "{url} 返回的不是 OpenStreetMap XML 数据（开头为：{start}），未保存。"
            "网络可能需要先登录，或服务地址设置有误。",
            "en": "{url} did not answer with OpenStreetMap XML data (it starts with: {start}); "
            "nothing was saved. The network may require a login page first, or the server "
            "address is wrong.",
        },
        "error.overpass.area_choice": {
            "zh": "请只指定一种下载区域：地名（place）、经纬度范围（bbox）或多边形（polygon）"
            "三者之一；实际给出了：{given}。",
            "en": "Give exactly one download area: a place name (place), a bounding box "
            "(bbox) or a polygon (polygon); given: {given}.",
        },
        "error.overpass.bad_bbox": {
            "zh": "经纬度范围 bbox 应为（西经度, 南纬度, 东经度, 北纬度），WGS84 度，且满足 "
            "-180 ≤ 西 < 东 ≤ 180、-90 ≤ 南 < 北 ≤ 90；实际为 {bbox}。经度和纬度是否写反了？",
            "en": "The bbox must be (west, south, east, north) in WGS84 degrees with "
            "-180 <= west < east <= 180 and -90 <= south < north <= 90; got {bbox}. "
            "Are longitude and latitude swapped?",
        },
        "error.overpass.bad_polygon": {
            "zh": "下载区域多边形应为非空的 Polygon 或 MultiPolygon，坐标为 WGS84 经纬度；"
            "实际为 {found}。如果坐标是投影坐标（米），请先转换为 EPSG:4326。",
            "en": "The download polygon must be a non-empty Polygon or MultiPolygon in WGS84 "
            "lon/lat degrees; got {found}. If its coordinates are projected (metres), convert "
            "it to EPSG:4326 first.",
        },
        "error.overpass.bad_timeout": {
            "zh": "Overpass 超时时间应为 1 到 3600 秒之间的整数；实际为 {timeout_s}。",
            "en": "The Overpass timeout must be a whole number of seconds from 1 to 3600; "
            "got {timeout_s}.",
        },
        "error.overpass.place_not_found": {
            "zh": "地名“{place}”未能在 Nominatim 地名库中找到。请检查拼写，换用更完整的名称"
            "（如加上旗县或盟市名），或改用经纬度范围（bbox）。",
            "en": "The place name '{place}' was not found by the Nominatim geocoder. Check the "
            "spelling, try a fuller name (add the county or league), or give a bounding box "
            "(bbox) instead.",
        },
        "error.overpass.place_not_polygon": {
            "zh": "地名“{place}”在 Nominatim 中只找到点或线，没有边界多边形，无法确定下载范围。"
            "请换用有边界的行政区名称，或改用经纬度范围（bbox）。",
            "en": "Nominatim knows '{place}' only as a point or line, without a boundary "
            "polygon, so it cannot define the download area. Use the name of an area with a "
            "boundary, or give a bounding box (bbox) instead.",
        },
        "error.overpass.geocode_failed": {
            "zh": "查询地名“{place}”失败：{reason}。请稍后重试，或改用经纬度范围（bbox）。",
            "en": "Looking up the place name '{place}' failed: {reason}. Try again later, or "
            "give a bounding box (bbox) instead.",
        },
        "error.overpass.cache_dir": {
            "zh": "无法写入缓存文件夹 {folder}：{reason}。请换一个可写的文件夹"
            "（参数 cache_dir 或环境变量 GAPMAPPER_CACHE_DIR）。",
            "en": "Cannot write to the cache folder {folder}: {reason}. Choose a writable "
            "folder (argument cache_dir or environment variable GAPMAPPER_CACHE_DIR).",
        },
        "progress.overpass.geocoding": {
            "zh": "正在通过 Nominatim 查询地名“{place}”的边界……",
            "en": "Looking up the boundary of '{place}' with Nominatim...",
        },
        "progress.overpass.cached": {
            "zh": "使用已缓存的数据：{file}",
            "en": "Using cached data: {file}",
        },
        "progress.overpass.downloading": {
            "zh": "正在从 {url} 下载 OpenStreetMap 数据，可能需要几分钟……",
            "en": "Downloading OpenStreetMap data from {url}; this may take a few minutes...",
        },
        "progress.overpass.retry": {
            "zh": "服务器繁忙（HTTP {status}），{pause_s} 秒后重试（第 {attempt}/{attempts} 次）……",
            "en": "Server busy (HTTP {status}); retrying in {pause_s} s "
            "(attempt {attempt} of {attempts})...",
        },
        "progress.overpass.saved": {
            "zh": "已下载 {size_mb} MB，保存为 {file}",
            "en": "Downloaded {size_mb} MB, saved as {file}",
        },
    }
)


# --- switches and folders -------------------------------------------------------------------


def is_offline() -> bool:
    """Whether network access is forbidden (:data:`OFFLINE` or ``GAPMAPPER_OFFLINE`` set)."""
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    return OFFLINE or value in {"1", "true", "yes", "on"}


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$GAPMAPPER_CACHE_DIR``, else the default.

    The folder is not created here (see :func:`download_osm`).
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else user_folder("cache") / "osm"


def _ensure_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            "error.overpass.cache_dir", folder=str(folder), reason=exc.strerror or str(exc)
        ) from exc


def _forbid_if_offline(what: str) -> None:
    if is_offline():
        raise NetworkAccessError("error.overpass.offline", what=what)


def _report(progress: Progress | None, key: str, **params: Any) -> None:
    if progress is not None:
        progress(key, params)


# --- the area ----------------------------------------------------------------------------------


def _check_bbox(bbox: object) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in bbox)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise InputError("error.overpass.bad_bbox", bbox=repr(bbox)) from exc
    values = (west, south, east, north)
    ok = (
        all(math.isfinite(v) for v in values)
        and -180.0 <= west < east <= 180.0
        and -90.0 <= south < north <= 90.0
    )
    if not ok:
        raise InputError("error.overpass.bad_bbox", bbox=repr(tuple(bbox)))  # type: ignore[arg-type]
    return values


def _check_polygon(polygon: object) -> Polygon | MultiPolygon:
    if not isinstance(polygon, Polygon | MultiPolygon):
        raise InputError("error.overpass.bad_polygon", found=type(polygon).__name__)
    if polygon.is_empty:
        raise InputError("error.overpass.bad_polygon", found=f"empty {polygon.geom_type}")
    west, south, east, north = polygon.bounds
    if not (-180.0 <= west and east <= 180.0 and -90.0 <= south and north <= 90.0):
        bounds = f"{polygon.geom_type} with bounds {tuple(round(v, 3) for v in polygon.bounds)}"
        raise InputError("error.overpass.bad_polygon", found=bounds)
    return polygon


def _choose_area(
    place: str | None, bbox: object, polygon: object
) -> tuple[str, str | tuple[float, float, float, float] | Polygon | MultiPolygon]:
    """Which of the three area arguments was given (exactly one), checked."""
    given = []
    if place is not None and str(place).strip():
        given.append("place")
    if bbox is not None:
        given.append("bbox")
    if polygon is not None:
        given.append("polygon")
    if len(given) != 1:
        raise SettingsError("error.overpass.area_choice", given=", ".join(given) or "-")
    if given[0] == "place":
        return "place", str(place).strip()
    if given[0] == "bbox":
        return "bbox", _check_bbox(bbox)
    return "polygon", _check_polygon(polygon)


def _check_timeout(timeout_s: object) -> int:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
        raise SettingsError("error.overpass.bad_timeout", timeout_s=repr(timeout_s))
    if not (math.isfinite(timeout_s) and timeout_s == int(timeout_s) and 1 <= timeout_s <= 3600):
        raise SettingsError("error.overpass.bad_timeout", timeout_s=repr(timeout_s))
    return int(timeout_s)


# --- the query ---------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    # 7 decimals is about 1 cm: stable text (so stable cache keys) without moving the area.
    text = f"{value:.7f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _area_filters(
    bbox: tuple[float, float, float, float] | None, polygon: Polygon | MultiPolygon | None
) -> list[str]:
    if bbox is not None:
        west, south, east, north = bbox
        return [f"({_fmt(south)},{_fmt(west)},{_fmt(north)},{_fmt(east)})"]
    assert polygon is not None
    parts = polygon.geoms if isinstance(polygon, MultiPolygon) else [polygon]
    filters = []
    for part in parts:
        # Overpass's poly filter takes one ring of "lat lon" pairs and no holes: the outer
        # ring is downloaded and the reader clips to the exact polygon afterwards.
        coords = list(part.exterior.coords)[:-1]
        filters.append('(poly:"' + " ".join(f"{_fmt(y)} {_fmt(x)}" for x, y in coords) + '")')
    return filters


def build_query(
    *,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Polygon | MultiPolygon | None = None,
    timeout_s: int = 180,
    include_childcare: bool = False,
) -> str:
    """The Overpass QL query for an area (exactly one of ``bbox`` or ``polygon``).

    Parameters
    ----------
    bbox
        ``(west, south, east, north)``, degrees, WGS84 (EPSG:4326).
    polygon
        The area in lon/lat degrees, WGS84 (EPSG:4326). A ``MultiPolygon`` gives one filter
        per part; holes are ignored (Overpass cannot express them).
    timeout_s
        The server-side time limit, seconds.
    include_childcare
        Also fetch ``amenity=childcare``.

    Returns
    -------
    str
        The query text, XML output, ending with ``out body;``. The same area and options
        always give the same text (it is the cache key).
    """
    if (bbox is None) == (polygon is None):
        given = ", ".join(name for name, v in (("bbox", bbox), ("polygon", polygon)) if v)
        raise SettingsError("error.overpass.area_choice", given=given or "-")
    area = _area_filters(
        _check_bbox(bbox) if bbox is not None else None,
        _check_polygon(polygon) if polygon is not None else None,
    )
    amenities = "kindergarten|school" + ("|childcare" if include_childcare else "")
    selectors = [
        'way["highway"]',
        f'nwr["amenity"~"^({amenities})$"]',
        f'node["place"~"^({"|".join(PLACE_VALUES)})$"]',
        f'relation["boundary"="administrative"]["admin_level"~"^({"|".join(ADMIN_LEVELS)})$"]',
    ]
    lines = [f"[out:xml][timeout:{_check_timeout(timeout_s)}];", "("]
    lines += [f"  {selector}{a};" for selector in selectors for a in area]
    # ">" adds the nodes of ways and the member ways/nodes of relations (and their nodes).
    lines += [");", "(._;>;);", "out body;"]
    return "\n".join(lines) + "\n"


def cache_path_for(query: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the answer to ``query`` is cached: ``<cache_dir>/<sha256 of query>.osm``."""
    digest = hashlib.sha256(query.encode("utf-8")).hexdigest()
    return resolve_cache_dir(cache_dir) / f"{digest}.osm"


# --- geocoding -----------------------------------------------------------------------------------


def _place_cache_path(place: str, folder: Path) -> Path:
    # Nominatim ignores case and repeated spaces, so the cache does too.
    normal = place.casefold()
    return folder / f"place-{hashlib.sha256(normal.encode('utf-8')).hexdigest()}.geojson"


def geocode_place(
    place: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> Polygon | MultiPolygon:
    """The boundary polygon of a place name, from the cache or from Nominatim.

    Parameters
    ----------
    place
        A place name ("Liechtenstein", "四子王旗"), as one would type it into openstreetmap.org.
    cache_dir
        The cache folder (see :func:`resolve_cache_dir`).
    progress
        Optional ``progress(key, params)`` callback.

    Returns
    -------
    Polygon | MultiPolygon
        The place's boundary in lon/lat degrees, WGS84 (EPSG:4326).

    Raises
    ------
    InputError
        Nominatim does not know the name, or knows it only as a point or line.
    DownloadError
        No network, or Nominatim failed.
    NetworkAccessError
        Offline mode is on and the name is not cached.
    """
    from osmnx import geocoder, settings
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    place = " ".join(str(place).split())
    if not place:
        raise SettingsError("error.overpass.area_choice", given="-")
    folder = resolve_cache_dir(cache_dir)
    cached = _place_cache_path(place, folder)
    if cached.is_file():
        _report(progress, "progress.overpass.cached", file=str(cached))
        feature = json.loads(cached.read_text(encoding="utf-8"))
        return shape(feature["geometry"])

    _forbid_if_offline(f"Nominatim: {place}")
    _ensure_dir(folder)
    _report(progress, "progress.overpass.geocoding", place=place)
    url = settings.nominatim_url
    with _GEOCODE_LOCK:
        # Our own cache replaces osmnx's, which would otherwise write ./cache into the
        # current working folder.
        use_cache = settings.use_cache
        settings.use_cache = False
        try:
            gdf = geocoder.geocode_to_gdf(place)
        except InsufficientResponseError as exc:
            if "0 results" in str(exc):
                raise InputError("error.overpass.place_not_found", place=place) from exc
            raise DownloadError(
                "error.overpass.geocode_failed", place=place, reason=str(exc)
            ) from exc
        except TypeError as exc:
            # osmnx raises TypeError when no result has a (Multi)Polygon geometry.
            raise InputError("error.overpass.place_not_polygon", place=place) from exc
        except ResponseStatusCodeError as exc:
            raise DownloadError(
                "error.overpass.geocode_failed", place=place, reason=str(exc)
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise DownloadError(
                "error.overpass.no_network", url=url, reason=_connection_reason(exc)
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise DownloadError(
                "error.overpass.geocode_failed", place=place, reason=str(exc)
            ) from exc
        finally:
            settings.use_cache = use_cache

    row = gdf.iloc[0]
    geometry = row.geometry
    if not isinstance(geometry, Polygon | MultiPolygon):
        raise InputError("error.overpass.place_not_polygon", place=place)
    properties = {"query": place, "nominatim_url": url}
    for name in ("display_name", "osm_type", "osm_id"):
        if name in gdf.columns:
            value = row[name]
            properties[name] = value.item() if hasattr(value, "item") else value
    feature = {"type": "Feature", "geometry": mapping(geometry), "properties": properties}
    write_bytes(cached, json.dumps(feature, ensure_ascii=False).encode("utf-8"))
    return geometry


# --- the download ------------------------------------------------------------------------------


def _first_line(text: str, limit: int = 300) -> str:
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line[:limit]
    return ""


def _remark_from_text(text: str) -> str:
    """The first line of Overpass's explanation in an XML ``<remark>`` or an HTML error page."""
    match = re.search(r"<remark[^>]*>(.*?)</remark>", text, re.S) or re.search(
        r"<strong[^>]*>\s*Error\s*</strong>\s*:?(.*?)</p>", text, re.S
    )
    raw = match.group(1) if match else re.sub(r"<[^>]+>", "\n", text)
    return _first_line(html.unescape(re.sub(r"<[^>]+>", " ", raw)))


def _scan_remark(path: Path) -> str | None:
    """The first ``<remark>`` of a saved answer (Overpass reports runtime errors there)."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = tail + chunk
            start = data.find(b"<remark")
            if start >= 0:
                text = (data[start:] + fh.read(8192)).decode("utf-8", "replace")
                return _remark_from_text(text) or "remark"
            tail = data[-16:]
    return None


def _check_answer(path: Path, url: str, timeout_s: int) -> None:
    """Raise if the saved answer is not complete OSM XML without errors."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4096).decode("utf-8", "replace")
        fh.seek(max(0, size - 256))
        end = fh.read().decode("utf-8", "replace").rstrip()
    if "<osm" not in head or "<html" in head.lower():
        start = _first_line(re.sub(r"<\?xml[^>]*\?>", "", head), 80) or "(empty)"
        raise DownloadError("error.overpass.not_osm", url=url, start=start)
    remark = _scan_remark(path)
    if remark is not None:
        low = remark.lower()
        if "timed out" in low or "memory" in low:
            raise DownloadError("error.overpass.too_large", remark=remark, timeout_s=timeout_s)
        raise DownloadError("error.overpass.remark", remark=remark)
    if not end.endswith("</osm>"):
        raise DownloadError("error.overpass.interrupted", url=url, reason="no closing </osm>")


def _connection_reason(exc: requests.exceptions.ConnectionError) -> str:
    """The short cause of a failed connection ("[Errno 111] Connection refused")."""
    # requests wraps urllib3's wrapping of the socket error; the OS text is the useful part.
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if match:
        return match.group(0).strip()
    if "NameResolution" in text or "getaddrinfo" in text:
        return "DNS lookup failed"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    return type(exc).__name__


def _retry_pause(response: requests.Response, attempt: int) -> float:
    header = response.headers.get("Retry-After", "")
    try:
        pause = float(header)
    except ValueError:
        pause = RETRY_PAUSE_S * attempt
    return min(max(pause, 0.0), MAX_RETRY_PAUSE_S)


def _fetch(query: str, target: Path, timeout_s: int, progress: Progress | None) -> None:
    """POST ``query`` to Overpass and save the answer atomically as ``target``."""
    from osmnx import settings

    url = settings.overpass_url.rstrip("/") + "/interpreter"
    headers = {"User-Agent": USER_AGENT, "Accept": "application/osm3s+xml, application/xml"}
    wait_s = CONNECT_TIMEOUT_S + timeout_s + READ_MARGIN_S
    _report(progress, "progress.overpass.downloading", url=url)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            response = requests.post(
                url,
                data={"data": query},
                headers=headers,
                timeout=(CONNECT_TIMEOUT_S, timeout_s + READ_MARGIN_S),
                stream=True,
                **settings.requests_kwargs,
            )
        except requests.exceptions.ReadTimeout as exc:
            raise DownloadError("error.overpass.timeout", url=url, wait_s=int(wait_s)) from exc
        except requests.exceptions.ConnectionError as exc:
            # Also covers refused connections, failed DNS and ConnectTimeout.
            raise DownloadError(
                "error.overpass.no_network", url=url, reason=_connection_reason(exc)
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise DownloadError("error.overpass.request_failed", url=url, reason=str(exc)) from exc

        with response:
            status = response.status_code
            if status in (429, 504):
                if attempt == MAX_ATTEMPTS:
                    raise DownloadError(
                        "error.overpass.busy", url=url, status=status, attempts=MAX_ATTEMPTS
                    )
                pause = _retry_pause(response, attempt)
                _report(
                    progress,
                    "progress.overpass.retry",
                    status=status,
                    pause_s=round(pause),
                    attempt=attempt + 1,
                    attempts=MAX_ATTEMPTS,
                )
                _sleep(pause)
                continue
            if status != 200:
                try:
                    remark = _remark_from_text(response.text[:65536]) or response.reason
                except requests.exceptions.RequestException:
                    remark = response.reason
                raise DownloadError("error.overpass.http", url=url, status=status, remark=remark)
            _save_stream(response, target, url, timeout_s)
            size_mb = round(target.stat().st_size / 1e6, 1)
            _report(progress, "progress.overpass.saved", file=str(target), size_mb=size_mb)
            return


def _save_stream(response: requests.Response, target: Path, url: str, timeout_s: int) -> None:
    with atomic_path(target) as tmp:
        try:
            with open(tmp, "wb") as fh:
                for chunk in response.iter_content(_CHUNK):
                    fh.write(chunk)
        except requests.exceptions.RequestException as exc:
            raise DownloadError(
                "error.overpass.interrupted", url=url, reason=type(exc).__name__
            ) from exc
        _check_answer(tmp, url, timeout_s)


def _area_and_query(
    place: str | None,
    bbox: tuple[float, float, float, float] | None,
    polygon: Polygon | MultiPolygon | None,
    cache_dir: str | os.PathLike[str] | None,
    timeout_s: int,
    include_childcare: bool,
    progress: Progress | None,
) -> tuple[tuple[float, float, float, float] | Polygon | MultiPolygon, str]:
    kind, area = _choose_area(place, bbox, polygon)
    timeout_s = _check_timeout(timeout_s)
    if kind == "place":
        area = geocode_place(area, cache_dir=cache_dir, progress=progress)  # type: ignore[arg-type]
    if isinstance(area, tuple):
        query = build_query(bbox=area, timeout_s=timeout_s, include_childcare=include_childcare)
    else:
        query = build_query(polygon=area, timeout_s=timeout_s, include_childcare=include_childcare)
    return area, query


def _download(
    query: str,
    cache_dir: str | os.PathLike[str] | None,
    timeout_s: int,
    progress: Progress | None,
) -> Path:
    """The cached answer to ``query``, fetched first when it is not cached."""
    from osmnx import settings

    target = cache_path_for(query, cache_dir)
    if target.is_file():
        _report(progress, "progress.overpass.cached", file=str(target))
        return target
    _forbid_if_offline(f"Overpass: {settings.overpass_url}")
    _ensure_dir(target.parent)
    _fetch(query, target, timeout_s, progress)
    return target


def download_osm(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Polygon | MultiPolygon | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout_s: int = 180,
    include_childcare: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Download roads, services, places and boundaries of an area as a local ``.osm`` file.

    Exactly one of ``place``, ``bbox`` and ``polygon`` gives the area. A cached answer is
    returned without any network access (also in offline mode).

    Parameters
    ----------
    place
        A place name, geocoded to its boundary polygon by Nominatim (cached).
    bbox
        ``(west, south, east, north)``, degrees, WGS84 (EPSG:4326).
    polygon
        The area, lon/lat degrees, WGS84 (EPSG:4326).
    cache_dir
        The cache folder (see :func:`resolve_cache_dir`); created when missing.
    timeout_s
        The Overpass server's time limit for the query, seconds (1 to 3600).
    include_childcare
        Also fetch ``amenity=childcare``.
    progress
        Optional ``progress(key, params)`` callback (keys ``progress.overpass.*``).

    Returns
    -------
    pathlib.Path
        The cached OSM XML file, ``<cache_dir>/<sha256 of the query>.osm``.

    Raises
    ------
    SettingsError
        Not exactly one area argument, or a bad ``timeout_s``.
    InputError
        A bad bbox or polygon, an unknown place name, an unwritable cache folder.
    DownloadError
        No network, an HTTP error, a server timeout / too large area, a broken download.
    NetworkAccessError
        Offline mode is on and the area is not cached.
    """
    _, query = _area_and_query(
        place, bbox, polygon, cache_dir, timeout_s, include_childcare, progress
    )
    return _download(query, cache_dir, _check_timeout(timeout_s), progress)


def read_osm_online(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Polygon | MultiPolygon | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout_s: int = 180,
    include_childcare: bool = False,
    progress: Progress | None = None,
    clip: bool = True,
) -> OSMExtract:
    """Download an area (or take it from the cache) and read it with the offline reader.

    Parameters are those of :func:`download_osm`, plus

    clip
        Clip the result to the area (the place's or given polygon, or the bbox); boundary
        relations otherwise reach beyond it.

    Returns
    -------
    layers.osm.OSMExtract
        What :func:`layers.osm.read_osm` returns for the downloaded file.
    """
    # Imported here so this module works (and is testable) without the reader.
    from layers.osm import read_osm

    area, query = _area_and_query(
        place, bbox, polygon, cache_dir, timeout_s, include_childcare, progress
    )
    path = _download(query, cache_dir, _check_timeout(timeout_s), progress)
    return read_osm(path, clip=area if clip else None, include_childcare=include_childcare)


__all__ = [
    "OFFLINE",
    "build_query",
    "cache_path_for",
    "download_osm",
    "geocode_place",
    "is_offline",
    "read_osm_online",
    "resolve_cache_dir",
]
