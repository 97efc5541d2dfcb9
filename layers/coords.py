"""Coordinate systems: WGS84, the Chinese GCJ-02 and BD-09 systems, and the local UTM zone.

Web maps in China (Amap/高德, Tencent, and most Chinese map exports) give coordinates in
**GCJ-02**, WGS84 shifted by a published obfuscation formula; Baidu maps use **BD-09**, a further
shift of GCJ-02. In Inner Mongolia the GCJ-02 shift is a few hundred metres, enough to put a
household on the wrong side of a river, so user files say which system they use and everything
is converted to WGS84 (what OpenStreetMap and GPS use) as it comes in.

All functions take longitudes and latitudes in degrees (numpy arrays or scalars, broadcast
together) and return a ``(lon, lat)`` pair of float64 arrays (0-d arrays for scalar input).
NaN in, NaN out.

Outside mainland China the shift is not applied: points outside the box
lon 72.004..137.8347, lat 0.8293..55.8271 (the ``out_of_china`` test used by the published
implementations, e.g. github.com/wandergis/coordtransform and github.com/googollee/eviltransform)
are returned unchanged by every conversion here. The box is coarse (it includes parts of
Mongolia, Korea and South-East Asia), which does not matter for Inner Mongolia.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray

from layers import i18n
from layers.errors import SettingsError

#: The coordinate systems a user file may be in.
COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")

#: The choice that asks for the system to be found from the data (:mod:`mapping.coorddetect`:
#: the one whose points sit closest to the roads). Readers take it as "the file's default".
AUTO = "auto"

#: What a user may choose: a system, or :data:`AUTO`.
COORD_CHOICES = (*COORD_SYSTEMS, AUTO)

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09's constant: pi * 3000 / 180.
_X_PI = math.pi * 3000.0 / 180.0

#: The GCJ-02 -> WGS84 iteration stops when the forward transform of the estimate is within
#: this many degrees of the input (1e-10 degrees is about 0.01 mm).
GCJ_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30
# The box of the published ``out_of_china`` test (degrees).
_BOX_LON = (72.004, 137.8347)
_BOX_LAT = (0.8293, 55.8271)
# An inverse this close outside the box's edge (rounding, 1e-9 degrees is 0.1 mm) is put on it.
_EDGE_SNAP_DEG = 1e-9

i18n.register(
    {
        "error.coords.unknown_system": {
            "zh": "不认识的坐标系“{system}”。可用的坐标系：{accepted}"
            "（wgs84 = GPS/OpenStreetMap，gcj02 = 高德/腾讯地图，bd09 = 百度地图）。",
            "en": "Unknown coordinate system '{system}'. Use one of: {accepted} "
            "(wgs84 = GPS/OpenStreetMap, gcj02 = Amap/Tencent maps, bd09 = Baidu maps).",
        },
        "warning.coords.gcj02_edge": {
            "zh": "{count} 个按 GCJ-02 给出的点（例如经度 {lon}、纬度 {lat}）位于 GCJ-02 适用范围"
            "边缘的一条窄带里，没有任何 WGS84 点会偏移到那里：已按公式的偏移量直接扣除换算，"
            "误差可能达数百米。请核对这些点的坐标和坐标系。",
            "en": "{count} point(s) given in GCJ-02 (e.g. longitude {lon}, latitude {lat}) lie "
            "in the narrow strip along the edge of the area where GCJ-02 applies that no WGS84 "
            "point shifts to: they were converted by subtracting the formula's shift, which may "
            "be off by a few hundred metres. Check these points and their coordinate system.",
        },
        # a system's name in text (a layers.schema.Phrase in notes)
        "coords.system.wgs84": {"zh": "WGS84（GPS）", "en": "WGS84 (GPS)"},
        "coords.system.gcj02": {"zh": "GCJ-02（高德/腾讯）", "en": "GCJ-02 (Amap/Tencent)"},
        "coords.system.bd09": {"zh": "BD-09（百度）", "en": "BD-09 (Baidu)"},
        "error.coords.bad_point": {
            "zh": "无法为经度 {lon}、纬度 {lat} 选择 UTM 投影带：需要经度在 -180..180、"
            "纬度在 -80..84 之间的十进制度数。",
            "en": "Cannot choose a UTM zone for longitude {lon}, latitude {lat}: expected "
            "decimal degrees with longitude in -180..180 and latitude in -80..84.",
        },
    }
)


class GCJEdgeWarning(UserWarning):
    """GCJ-02 points that no WGS84 point maps to were converted approximately.

    Carries a translation key and its parameters like the project's errors, so a reader can
    show it in the user's language (``warning.message("zh")``); ``str()`` is the English text.
    """

    def __init__(self, key: str, /, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        """The text in ``lang`` ("zh" or "en")."""
        return i18n.t(self.key, lang, **self.params)


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.array(x), np.array(y)


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where a point is outside the box in which GCJ-02/BD-09 shift coordinates.

    Parameters
    ----------
    lon, lat
        Degrees. NaN counts as outside (and stays NaN in every conversion).
    """
    x, y = _arrays(lon, lat)
    inside = (x >= _BOX_LON[0]) & (x <= _BOX_LON[1]) & (y >= _BOX_LAT[0]) & (y <= _BOX_LAT[1])
    return ~inside


def _transform_lat(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_shift(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The published formula's shift (dlon, dlat) in degrees at a WGS84 point, with no box.

    The formula is smooth everywhere; only the box test makes the transform jump at the
    box's edge. The inverse iterates on this smooth shift (see :func:`gcj02_to_wgs84`).
    """
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _gcj_delta(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The GCJ-02 shift (dlon, dlat) in degrees at a WGS84 point (zero outside China)."""
    dlon, dlat = _gcj_shift(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _result(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 -> GCJ-02 with the published formula (exact by definition).

    Parameters
    ----------
    lon, lat
        WGS84 degrees.

    Returns
    -------
    lon, lat
        GCJ-02 degrees (unchanged outside China, see the module docstring).
    """
    x, y = _arrays(lon, lat)
    dlon, dlat = _gcj_delta(x, y)
    return _result(x + dlon, y + dlat)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 -> WGS84 by fixed-point iteration on the forward formula.

    The formula has no closed-form inverse. The common one-step inverse (subtract the shift
    computed at the GCJ-02 point) is off by up to a few metres; here the estimate ``w`` is
    improved with ``w = gcj - shift(w)`` until the forward transform of ``w`` is within
    :data:`GCJ_TOLERANCE_DEG` (1e-10 degrees, about 0.01 mm) of the input, which takes
    3-5 iterations (the shift changes by well under 1 % per degree, so each step gains
    two or more digits). ``wgs84_to_gcj02(gcj02_to_wgs84(p))`` therefore reproduces ``p`` to
    better than a millimetre; the tests check a round trip below 1 cm over Inner Mongolia
    and below 1 mm on lines across every edge of the box.

    The iteration uses the formula's shift without the box test: with the box, an estimate
    a hair outside the edge has no shift, the next one jumps back by the whole shift, and
    the iteration oscillates across the edge (hundreds of metres off at 72.0045 E).

    Edges of the box. Points whose GCJ-02 coordinates are outside the box are returned
    unchanged (they are their own preimage). Along the west and south edges the shift
    points into the box, so a strip inside the box (about 470 m wide at 39 N on the west
    edge) is the image of no WGS84 point: there the smooth shift is subtracted (the answer
    lies just outside the box, within a few metres of the one-step inverse) and a
    :class:`GCJEdgeWarning` counts those points. Inner Mongolia is far from every edge.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    lon, lat
        WGS84 degrees.

    Warns
    -----
    GCJEdgeWarning
        Once per call when some points lie in a strip that no WGS84 point maps to.
    """
    gx, gy = _arrays(lon, lat)
    outside = out_of_china(gx, gy)
    dlon, dlat = _gcj_shift(gx, gy)
    wx, wy = gx - dlon, gy - dlat
    for _ in range(_MAX_ITERATIONS):
        dlon, dlat = _gcj_shift(wx, wy)
        nx, ny = gx - dlon, gy - dlat
        err = np.maximum(np.abs(nx - wx), np.abs(ny - wy))
        wx, wy = nx, ny
        if not np.any(err[~outside] > GCJ_TOLERANCE_DEG):  # NaN compares False
            break
    # an inverse a rounding error outside the edge is the point on the edge
    cx, cy = np.clip(wx, *_BOX_LON), np.clip(wy, *_BOX_LAT)
    near = ~outside & (np.abs(cx - wx) <= _EDGE_SNAP_DEG) & (np.abs(cy - wy) <= _EDGE_SNAP_DEG)
    wx, wy = np.where(near, cx, wx), np.where(near, cy, wy)
    # the smooth inverse left the box: no WGS84 point maps to this GCJ-02 point
    strip = ~outside & out_of_china(wx, wy) & np.isfinite(wx) & np.isfinite(wy)
    if strip.any():
        first = np.flatnonzero(strip.ravel())[0]
        warnings.warn(
            GCJEdgeWarning(
                "warning.coords.gcj02_edge",
                count=int(strip.sum()),
                lon=f"{gx.ravel()[first]:.7g}",
                lat=f"{gy.ravel()[first]:.7g}",
            ),
            stacklevel=2,
        )
    return _result(np.where(outside, gx, wx), np.where(outside, gy, wy))


def gcj02_to_bd09(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 -> BD-09 with Baidu's published formula (unchanged outside China)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    bx = z * np.cos(theta) + 0.0065
    by = z * np.sin(theta) + 0.006
    outside = out_of_china(x, y)
    return _result(np.where(outside, x, bx), np.where(outside, y, by))


def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BD-09 -> GCJ-02 with the published inverse formula (unchanged outside China).

    This inverse is not exact either, but its error is about 1e-6 degrees (a few
    centimetres to decimetres), far below what the BD-09 shift (about 1 km) or phone GPS
    (metres) matter, so the widely used formula is kept; results match the published
    reference values (github.com/wandergis/coordtransform) to the last digit.
    """
    x0, y0 = _arrays(lon, lat)
    x = x0 - 0.0065
    y = y0 - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gx = z * np.cos(theta)
    gy = z * np.sin(theta)
    outside = out_of_china(x0, y0)
    return _result(np.where(outside, x0, gx), np.where(outside, y0, gy))


def bd09_to_wgs84(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BD-09 -> WGS84 (via GCJ-02, with the iterative GCJ-02 inverse)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 -> BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def normalize_system(system: str) -> str:
    """The canonical name (one of :data:`COORD_SYSTEMS`) of a coordinate system name.

    Case, spaces, ``-`` and ``_`` are ignored ("WGS-84", "GCJ_02", "bd09" all work).

    Raises
    ------
    SettingsError
        ``error.coords.unknown_system`` for anything else.
    """
    key = "".join(ch for ch in str(system).lower() if ch not in " -_")
    if key not in COORD_SYSTEMS:
        raise SettingsError(
            "error.coords.unknown_system", system=system, accepted=", ".join(COORD_SYSTEMS)
        )
    return key


def normalize_choice(choice: str | None, default: str = "wgs84") -> str:
    """A coordinate choice as one of :data:`COORD_CHOICES`; ``None`` is ``default``.

    Raises
    ------
    SettingsError
        ``error.coords.unknown_system`` for anything else.
    """
    if choice is None:
        return default
    if str(choice).strip().lower() in (AUTO, "detect"):
        return AUTO
    return normalize_system(choice)


def from_wgs84(
    lon: ArrayLike, lat: ArrayLike, system: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert WGS84 degrees into ``system`` (the inverse of :func:`to_wgs84`).

    With :func:`to_wgs84` this re-reads positions in another system: positions read as
    ``a`` and converted to WGS84 are the file's own numbers again after
    ``from_wgs84(..., a)`` (to better than a millimetre for GCJ-02, a few centimetres for
    BD-09; see :func:`gcj02_to_wgs84` and :func:`bd09_to_gcj02`).
    """
    name = normalize_system(system)
    if name == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if name == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _result(*_arrays(lon, lat))


def convert_system(
    lon: ArrayLike, lat: ArrayLike, read_as: str, system: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 degrees that were read from a file as ``read_as``, re-read as ``system``.

    ``convert_system(lon, lat, "wgs84", "gcj02")`` is the position a GCJ-02 file's numbers
    stand for when they were first taken as WGS84 (no shift): ``to_wgs84(from_wgs84(...))``.
    """
    if normalize_system(read_as) == normalize_system(system):
        return _result(*_arrays(lon, lat))
    return to_wgs84(*from_wgs84(lon, lat, read_as), system)


def to_wgs84(
    lon: ArrayLike, lat: ArrayLike, system: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert degrees in ``system`` (one of :data:`COORD_SYSTEMS`) to WGS84 degrees.

    Raises
    ------
    SettingsError
        ``error.coords.unknown_system`` when ``system`` is not a known system.
    """
    name = normalize_system(system)
    if name == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _result(*_arrays(lon, lat))


def convert_geometries(geoms: ArrayLike, read_as: str, system: str) -> NDArray[np.object_]:
    """Shapely geometries (WGS84 degrees) read as ``read_as``, re-read as ``system``.

    Any geometry type; ``None`` stays ``None``. See :func:`convert_system`.
    """
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    if normalize_system(read_as) == normalize_system(system):
        return geoms.copy()

    def convert(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = convert_system(xy[:, 0], xy[:, 1], read_as, system)
        return np.column_stack([x, y])

    return shapely.transform(geoms, convert)


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 / UTM zone CRS (EPSG:326xx north, 327xx south) that contains a point.

    Use it for metric work around a study area, e.g. at the centre of its bounding box;
    Inner Mongolia spans zones 46 to 53. Zones are the regular 6-degree bands (the Norway
    and Svalbard exceptions are ignored: irrelevant here).

    Parameters
    ----------
    lon, lat
        WGS84 degrees; latitude within UTM's -80..84.

    Raises
    ------
    SettingsError
        ``error.coords.bad_point`` for a point outside those ranges or not a number.
    """
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise SettingsError("error.coords.bad_point", lon=lon, lat=lat) from None
    if not (-180.0 <= x <= 180.0 and -80.0 <= y <= 84.0):
        raise SettingsError("error.coords.bad_point", lon=lon, lat=lat)
    zone = min(int((x + 180.0) // 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if y >= 0 else 32700) + zone)
