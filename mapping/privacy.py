"""Household positions moved at random, for maps that show households without pinning them.

The ``displaced`` privacy mode of :func:`mapping.maps.draw_map` and
:func:`mapping.printmap.draw_print_map` draws every household, but not where it is: each point
is moved by a random distance between :data:`DISPLACE_MIN_M` and :data:`DISPLACE_MAX_M`
metres in a random direction, and it carries only what the map needs (its village, its road
distance to the service rounded to 0.1 km and that distance's class) -- no id, name, phone or
row number (:data:`layers.households.SENSITIVE_COLUMNS` and the file's order are gone).

Displacement is computed in a local metric CRS (the analysis network's UTM zone, or the UTM
zone of the points' centre), so the distances are true metres; the result is in EPSG:4326.

Where a point moves must not be guessable, and must not change from one map to the next:

- *Not guessable*: the offsets come from a secret. With a fixed seed, anyone holding the
  published code could draw the same offsets and move every point back.
- *The same every time*: if each map moved the households anew, many maps of the same data,
  averaged, would drift back toward the true positions.

So the app and the command line pass a *key* (:func:`displacement_key`): 32 random bytes made
once on this computer and kept beside the autosave, readable only by its user. Each point's
offset is a keyed hash (BLAKE2b) of its own true position, so a household moves the same way
on every map made on this computer -- whatever else changed in the data, and in whatever order
the rows come -- and no one without the key can compute it. Anyone who has the key has the
computer, and with it the households file itself. Without a key (tests, or a caller's choice),
the offsets come from a random generator seeded from the operating system.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from layers import i18n
from layers.coords import utm_crs
from layers.errors import InputError, SettingsError
from layers.households import SENSITIVE_COLUMNS
from layers.schema import WGS84

#: Smallest displacement (metres). A village's houses lie within a few hundred metres of each
#: other (a gacha centre, a row of farmsteads along a track): moved by at least 300 m, a
#: household lands among -- or beyond -- its neighbours, and no single home can be pinned.
DISPLACE_MIN_M = 300.0
#: Largest displacement (metres). The analysis reads distances at the 5-10 km scale of the
#: kindergarten and school thresholds, and the map shows classes 1-3-5-10 km wide: 600 m at
#: most keeps a far household visibly far and a near one near, and keeps it by its village.
DISPLACE_MAX_M = 600.0

i18n.register(
    {
        "error.privacy.displacement": {
            "zh": "位置随机移动的距离范围无效：最小 {min_m} 米，最大 {max_m} 米。"
            "两者都必须是不小于 0 的数，且最小值不大于最大值（默认 300–600 米）。",
            "en": "Invalid range for moving positions at random: at least {min_m} m, at most "
            "{max_m} m. Both must be numbers of 0 or more, the first not larger than the "
            "second (the default is 300-600 m).",
        },
        "error.privacy.no_crs": {
            "zh": "无法随机移动这些点：图层没有坐标系。请先设定坐标系（通常为 EPSG:4326 经纬度）。",
            "en": "Cannot move these points at random: the layer has no coordinate system. Set "
            "it first (usually EPSG:4326, longitude/latitude).",
        },
        "error.privacy.key_damaged": {
            "zh": "用于随机移动住户位置的密钥文件已损坏：{path}（应为 32 字节，实为 {size} 字节）。"
            "删除这个文件后重试，程序会生成新的密钥；之后导出的地图里，住户会被移到与以前不同的位置。",
            "en": "The key file for moving household positions is damaged: {path} (it should "
            "hold 32 bytes, it holds {size}). Delete that file and try again: a new key is "
            "made, and maps exported from then on move the households differently than before.",
        },
        "error.privacy.key_unavailable": {
            "zh": "无法读取或创建用于随机移动住户位置的密钥文件：{path}（{detail}）。"
            "请确认该文件夹可以写入，或设置环境变量 GAPMAPPER_AUTOSAVE_DIR 指向一个可写入的文件夹。",
            "en": "Cannot read or create the key file for moving household positions: {path} "
            "({detail}). Make sure that folder is writable, or set GAPMAPPER_AUTOSAVE_DIR to a "
            "writable folder.",
        },
        "error.privacy.not_points": {
            "zh": "只能随机移动点，但图层里有 {found}（第 {rows} 个要素，从 1 数起）。"
            "请只传入点图层（例如住户）。",
            "en": "Only points can be moved at random, but the layer holds {found} (features "
            "{rows}, counted from 1). Pass a layer of points (such as the households).",
        },
    }
)


def _check_range(min_m: float, max_m: float) -> tuple[float, float]:
    """The displacement range as floats, or ``error.privacy.displacement``."""
    try:
        lo, hi = float(min_m), float(max_m)
    except (TypeError, ValueError):
        raise SettingsError("error.privacy.displacement", min_m=min_m, max_m=max_m) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
        raise SettingsError("error.privacy.displacement", min_m=min_m, max_m=max_m)
    return lo, hi


#: The key file's name, in the app's data folder (beside the autosave).
KEY_FILE = "displacement.key"
KEY_BYTES = 32


def displacement_key(folder: str | Path | None = None) -> bytes:
    """This computer's secret key for displacing households, made on first use.

    Parameters
    ----------
    folder
        Where the key lives. Default: the app's data folder
        (:func:`mapping.project.autosave_path`: ``$GAPMAPPER_AUTOSAVE_DIR``, else
        ``~/.local/share/service-gap-mapper``, ``%LOCALAPPDATA%\\service-gap-mapper`` on
        Windows).

    Notes
    -----
    Only the user can read the key: on Linux and macOS the file is made with mode 0600; on
    Windows, which ignores that mode, the default folder is inside the user's profile, whose
    permissions admit only that user, administrators and the system (see the README's
    Windows section). A ``folder`` elsewhere has that folder's permissions.

    Raises
    ------
    SettingsError
        ``error.privacy.key_damaged`` when the file is not 32 bytes (it is never replaced
        silently: that would move every household somewhere new), and
        ``error.privacy.key_unavailable`` when it can be neither read nor created.
    """
    from mapping.project import autosave_path

    path = (Path(folder) if folder is not None else autosave_path().parent) / KEY_FILE
    try:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_EXCL: never over a key another process made meanwhile; 0o600: only the
                # user may read it
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(KEY_BYTES))
                    f.flush()
                    os.fsync(f.fileno())
            data = path.read_bytes()
    except OSError as err:
        raise SettingsError(
            "error.privacy.key_unavailable", path=str(path), detail=err.strerror or str(err)
        ) from None
    if len(data) != KEY_BYTES:
        raise SettingsError("error.privacy.key_damaged", path=str(path), size=len(data))
    return data


def displacement_key_for(privacy: str) -> bytes | None:
    """The key a map of this privacy mode needs: :func:`displacement_key` for
    ``displaced`` (every export then moves each household the same way), None otherwise."""
    return displacement_key() if privacy == "displaced" else None


def _keyed_uniform(key: bytes, lonlat: np.ndarray, person: bytes) -> np.ndarray:
    """Two numbers in [0, 1) per point, from a keyed hash (BLAKE2b) of its true position.

    The position is taken to 1e-7 degrees (1 cm, OpenStreetMap's precision), so the same
    household gets the same numbers whatever its row, id or neighbours; ``person`` keeps the
    uses apart. Missing or empty points get numbers from their row number.
    """
    out = np.empty((len(lonlat), 2), dtype=np.uint64)
    present = ~(shapely.is_missing(lonlat) | shapely.is_empty(lonlat))
    xy = np.zeros((len(lonlat), 2), dtype=np.int64)
    xy[present] = np.round(shapely.get_coordinates(lonlat[present]) * 1e7).astype(np.int64)
    for i, (x, y) in enumerate(xy.tolist()):
        text = f"{x} {y}" if present[i] else f"row {i}"
        digest = hashlib.blake2b(text.encode(), key=key, digest_size=16, person=person).digest()
        out[i] = np.frombuffer(digest, dtype="<u8")
    return (out >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _keyed_offsets(
    key: bytes, lonlat: np.ndarray, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Angle and distance of each point's move (see :func:`_keyed_uniform`)."""
    u = _keyed_uniform(key, lonlat, b"gapmapper-move")
    return 2.0 * math.pi * u[:, 0], lo + (hi - lo) * u[:, 1]


def displace_points(
    gdf: gpd.GeoDataFrame,
    *,
    min_m: float = DISPLACE_MIN_M,
    max_m: float = DISPLACE_MAX_M,
    rng: np.random.Generator | None = None,
    crs: pyproj.CRS | str | None = None,
    key: bytes | None = None,
) -> gpd.GeoDataFrame:
    """Move every point by a random distance in a random direction; drop what identifies it.

    Each point moves by a distance drawn uniformly from ``[min_m, max_m)`` metres, in a
    direction drawn uniformly from the full circle, both independently per point. The move is
    made in ``crs`` (metres), so the straight-line distance between a point and its moved
    copy, measured in that CRS, is the drawn distance.

    Parameters
    ----------
    gdf
        Points in any CRS (households are EPSG:4326). Missing or empty geometries stay so.
    min_m, max_m
        The range of the displacement, metres (defaults: :data:`DISPLACE_MIN_M`,
        :data:`DISPLACE_MAX_M`, and why those values).
    rng
        The random generator, when no ``key`` is given. Default: a new one seeded from the
        operating system, so the offsets cannot be drawn again by anyone (see the module
        docstring). Tests pass their own; exports must not use a fixed seed.
    crs
        The metric CRS to move the points in, e.g. ``analysis.network.crs``. Default: the UTM
        zone of the centre of the points' lon/lat bounds (:func:`layers.coords.utm_crs`).
    key
        A secret (:func:`displacement_key`): each point's offset is then a keyed hash of its
        own position, the same on every call with this key; ``rng`` is not used.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame in EPSG:4326, rows in the input's order, with a fresh ``0..n-1`` index
        (the input's index is dropped: for households it is the household id), without the
        columns :data:`layers.households.SENSITIVE_COLUMNS`; other columns are kept.

    Raises
    ------
    SettingsError
        ``error.privacy.displacement`` when the range is not ``0 <= min_m <= max_m``.
    InputError
        ``error.privacy.no_crs`` without a CRS, ``error.privacy.not_points`` when a geometry
        is not a point.
    """
    lo, hi = _check_range(min_m, max_m)
    if gdf.crs is None:
        raise InputError("error.privacy.no_crs")
    geoms = gdf.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bad = present & (shapely.get_type_id(geoms) != shapely.GeometryType.POINT)
    if bad.any():
        found = sorted({g.geom_type for g in geoms[bad]})
        rows = np.flatnonzero(bad) + 1
        shown = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
        raise InputError(
            "error.privacy.not_points",
            found=", ".join(found),
            rows=shown,
        )
    if key is None and rng is None:
        rng = np.random.default_rng()

    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).drop(
        columns=[c for c in SENSITIVE_COLUMNS if c in gdf.columns]
    )
    out = out.reset_index(drop=True)
    lonlat = gpd.GeoSeries(geoms, crs=gdf.crs).to_crs(WGS84).to_numpy()
    moved = lonlat.copy()
    if present.any():
        if crs is None:
            west, south, east, north = shapely.total_bounds(lonlat[present])
            crs = utm_crs((west + east) / 2, (south + north) / 2)
        metric = gpd.GeoSeries(lonlat[present], crs=WGS84).to_crs(crs)
        n = int(present.sum())
        if key is not None:
            angle, dist_m = _keyed_offsets(key, lonlat[present], lo, hi)
        else:
            # one draw of all angles, then all distances: the same generator state gives the
            # same points, whatever the platform
            angle = rng.uniform(0.0, 2.0 * math.pi, n)
            dist_m = rng.uniform(lo, hi, n) if hi > lo else np.full(n, lo)
        x = metric.x.to_numpy() + dist_m * np.cos(angle)
        y = metric.y.to_numpy() + dist_m * np.sin(angle)
        moved[present] = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=crs).to_crs(WGS84).to_numpy()
    return gpd.GeoDataFrame(out, geometry=moved, crs=WGS84)


def displaced_households(
    households: gpd.GeoDataFrame,
    kind: str,
    *,
    bins_m: Sequence[float],
    min_m: float = DISPLACE_MIN_M,
    max_m: float = DISPLACE_MAX_M,
    rng: np.random.Generator | None = None,
    crs: pyproj.CRS | str | None = None,
    key: bytes | None = None,
) -> gpd.GeoDataFrame:
    """The households as a ``displaced`` map shows them: moved, shuffled, nothing personal.

    Parameters
    ----------
    households
        ``analysis.households`` (EPSG:4326) with ``village_name`` and ``dist_<kind>_m``.
    kind
        The service kind whose road distance the map shows.
    bins_m
        Upper edges of the distance classes, metres, increasing (the maps use
        :data:`mapping.maps.HOUSEHOLD_BINS_M`).
    min_m, max_m, rng, crs, key
        As for :func:`displace_points`; the generator also shuffles the rows. With a ``key``
        (and no generator) the order comes from the key too, so the same households give
        the same file every time.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per household, in random order (so a point's place in the file does not say
        which row of the households table it was), index ``0..n-1``, EPSG:4326, with only:

        ``village_name`` (str / NA)
            the village the analysis assigned it to;
        ``dist_<kind>_km`` (float)
            road distance to the nearest service of ``kind``, rounded to 0.1 km; NaN when
            unreachable;
        ``dist_<kind>_class`` (Int64)
            the class of the exact distance: the number of ``bins_m`` edges at or below it
            (0 below the first edge); NA when unreachable;
        ``reachable_<kind>`` (bool)
            whether a road leads to such a service;
        ``geometry``
            the displaced point.

    Raises
    ------
    SettingsError, InputError
        As :func:`displace_points`.
    """
    lo, hi = _check_range(min_m, max_m)
    if key is None and rng is None:
        rng = np.random.default_rng()
    dist_m = households[f"dist_{kind}_m"].to_numpy(dtype=float)
    reachable = np.isfinite(dist_m)
    classes = np.searchsorted(np.asarray(bins_m, dtype=float), np.nan_to_num(dist_m), side="right")
    villages = households["village_name"] if "village_name" in households else None
    table = pd.DataFrame(
        {
            "village_name": pd.array(
                [pd.NA] * len(households) if villages is None else villages.to_numpy(),
                dtype="str",
            ),
            f"dist_{kind}_km": np.where(reachable, np.round(dist_m / 1000.0, 1), np.nan),
            f"dist_{kind}_class": pd.array(
                [int(c) if r else pd.NA for c, r in zip(classes, reachable, strict=True)],
                dtype="Int64",
            ),
            f"reachable_{kind}": reachable,
        }
    )
    if key is not None and rng is None:
        # the order from the key as well: the same households give the same file every time
        lonlat = gpd.GeoSeries(households.geometry.to_numpy(), crs=households.crs)
        u = _keyed_uniform(key, lonlat.to_crs(WGS84).to_numpy(), b"gapmapper-order")
        order = np.lexsort((u[:, 1], u[:, 0]))
    else:
        order = rng.permutation(len(households))
    table = table.iloc[order].reset_index(drop=True)
    geoms = households.geometry.to_numpy()[order]
    shuffled = gpd.GeoDataFrame(table, geometry=geoms, crs=households.crs)
    return displace_points(shuffled, min_m=lo, max_m=hi, rng=rng, crs=crs, key=key)
