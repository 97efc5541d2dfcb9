"""A disk cache of read OSM extracts and built routing networks, per file, area and mode.

Reading a county's OSM file and building its network takes seconds to a minute; reopening
both from this cache takes a small fraction of that (see ``benchmarks/README.md``). The app
and the CLI can call :func:`load_network_cached` instead of
:func:`layers.osm.read_osm` + :func:`mapping.network.build_network`.

Where
-----
``<cache_dir>`` when given, else ``$GAPMAPPER_CACHE_DIR/networks``, else
``~/.cache/service-gap-mapper/networks`` (on Windows
``%LOCALAPPDATA%\\service-gap-mapper\\Cache\\networks``). Nothing is written anywhere else.

What
----
Two files per entry, both plain numpy ``.npz`` archives read with ``allow_pickle=False`` (a
cache file from elsewhere can hold only arrays and text, never code):

* ``<path-hash>-<state-hash>-<options-hash>.extract.npz``: the :class:`~layers.roads.RoadEdges`
  arrays and the services, villages and boundaries frames (text columns as unicode arrays with
  a missing-value mask, geometries as WKB bytes with offsets);
* ``...-<mode-hash>.<mode>.network.npz``: the :class:`~mapping.network.RoadNetwork` arrays
  (node and segment arrays, the four CSR matrices as indptr/indices/data, components) and its
  CRS as WKT.

Keys
----
An entry is used only when all of these equal what was stored: the source file's absolute
path, size, ``mtime_ns`` and the SHA-256 of its first and last MiB; the clip; whether
childcare was read; for networks the mode, the speed of every highway class and the walking
speed; :data:`CACHE_FORMAT`; and a fingerprint of the source of ``layers/osm.py``,
``layers/roads.py`` and ``mapping/network.py`` (a change in the reading or building rules
invalidates every entry). When the source file changes, entries of its older states are
deleted at the next write.

Files are written through :mod:`layers.files` (a temporary name in the cache folder, renamed
into place), so an entry is complete or absent. An unreadable, truncated or foreign
entry is ignored and rebuilt, never an error; a cache folder that cannot be written only
means nothing is cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from shapely.geometry.base import BaseGeometry

from layers.files import atomic_path, user_folder
from layers.osm import Clip, OSMExtract, read_osm
from layers.roads import RoadEdges
from layers.schema import WGS84, Note, add_notes
from layers.services import validate_services
from layers.villages import validate_villages
from mapping.network import RoadNetwork, build_network
from mapping.settings import AnalysisSettings

#: Bump when the layout of the cache files changes.
CACHE_FORMAT = 2  # 2: the reader's notes are kept
CACHE_DIR_ENV = "GAPMAPPER_CACHE_DIR"

_EDGE_SAMPLE = 1 << 20  # bytes hashed at each end of the source file
_ROAD_FIELDS = ("node_id", "lon", "lat", "u", "v", "way_id", "highway", "oneway", "modes")
_NET_ARRAYS = (
    "node_id", "x", "y", "seg_u", "seg_v", "seg_len_m", "seg_time_s", "seg_fwd", "seg_bwd",
    "seg_highway", "seg_way_id", "component",
)  # fmt: skip
_NET_GRAPHS = ("graph_len", "graph_time", "rgraph_len", "rgraph_time")
_CODE_FILES = (
    Path(__file__).resolve().parents[1] / "layers" / "osm.py",
    Path(__file__).resolve().parents[1] / "layers" / "roads.py",
    Path(__file__).resolve().parents[1] / "mapping" / "network.py",
)
# What a damaged or foreign cache file can raise while being read.
_BAD_CACHE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


def resolve_cache_dir(cache_dir: str | PathLike[str] | None = None) -> Path:
    """The network cache folder: ``cache_dir``, else ``$GAPMAPPER_CACHE_DIR/networks``, else
    ``networks`` in the user's cache folder (:func:`layers.files.user_folder`:
    ``~/.cache/service-gap-mapper``, ``%LOCALAPPDATA%\\service-gap-mapper\\Cache`` on
    Windows)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_DIR_ENV, "").strip()
    return Path(env).expanduser() / "networks" if env else user_folder("cache") / "networks"


def load_network_cached(
    osm_path: str | PathLike[str],
    settings: AnalysisSettings | None = None,
    *,
    cache_dir: str | PathLike[str] | None = None,
    clip: Clip = None,
    include_childcare: bool = False,
) -> tuple[OSMExtract, RoadNetwork]:
    """Read an OSM file and build its network, or reopen both from the cache.

    Parameters
    ----------
    osm_path
        The OSM file (any format :func:`layers.osm.read_osm` reads).
    settings
        Travel mode and speeds (default :class:`mapping.settings.AnalysisSettings`).
    cache_dir
        The cache folder (see :func:`resolve_cache_dir`).
    clip, include_childcare
        As for :func:`layers.osm.read_osm`.

    Returns
    -------
    (OSMExtract, RoadNetwork)
        The same as ``read_osm(osm_path, clip=..., include_childcare=...)`` and
        ``build_network(extract.roads, settings)`` (arrays equal, frames equal).

    Raises
    ------
    The errors of :func:`layers.osm.read_osm` and :func:`mapping.network.build_network`
    (never because of the cache itself).
    """
    extract = read_osm_cached(
        osm_path, cache_dir=cache_dir, clip=clip, include_childcare=include_childcare
    )
    network = build_network_cached(
        osm_path,
        extract.roads,
        settings,
        cache_dir=cache_dir,
        clip=clip,
        include_childcare=include_childcare,
    )
    return extract, network


def _entry(source: Path, clip: Clip, include_childcare: bool) -> tuple[str, dict, str]:
    """The file stem and key of a source file's extract entry."""
    path_hash, state, options = _keys(source, clip, include_childcare)
    ext_key = {"path": path_hash, "state": state, "options": options}
    stem = f"{path_hash[:16]}-{_digest(state)[:16]}-{_digest(options)[:16]}"
    return stem, ext_key, path_hash


def read_osm_cached(
    osm_path: str | PathLike[str],
    *,
    cache_dir: str | PathLike[str] | None = None,
    clip: Clip = None,
    include_childcare: bool = False,
) -> OSMExtract:
    """:func:`layers.osm.read_osm`, or its result reopened from the cache."""
    source = Path(osm_path)
    if not source.is_file():  # let the reader raise its own message
        return read_osm(osm_path, clip=clip, include_childcare=include_childcare)
    folder = resolve_cache_dir(cache_dir)
    stem, ext_key, path_hash = _entry(source, clip, include_childcare)
    ext_file = folder / f"{stem}.extract.npz"
    extract = _read_extract(ext_file, ext_key, str(osm_path))
    if extract is None:
        extract = read_osm(osm_path, clip=clip, include_childcare=include_childcare)
        _forget_older_states(folder, path_hash[:16], _digest(ext_key["state"])[:16])
        _write(ext_file, _encode_extract(extract, ext_key))
    return extract


def build_network_cached(
    osm_path: str | PathLike[str],
    roads: RoadEdges,
    settings: AnalysisSettings | None = None,
    *,
    cache_dir: str | PathLike[str] | None = None,
    clip: Clip = None,
    include_childcare: bool = False,
) -> RoadNetwork:
    """:func:`mapping.network.build_network` of ``roads`` read from ``osm_path``, or the network
    reopened from the cache. ``roads`` must be what that file (with ``clip``) gave."""
    settings = settings or AnalysisSettings()
    source = Path(osm_path)
    if not source.is_file():
        return build_network(roads, settings)
    folder = resolve_cache_dir(cache_dir)
    stem, ext_key, _ = _entry(source, clip, include_childcare)
    speeds = settings.class_speeds_kmh()
    net_key = {
        **ext_key,
        "mode": settings.mode,
        "speeds_kmh": [[k, float(speeds[k])] for k in sorted(speeds)],
        "walk_speed_kmh": float(settings.walk_speed_kmh),
    }
    net_file = folder / f"{stem}-{_digest(net_key)[:16]}.{settings.mode}.network.npz"
    network = _read_network(net_file, net_key)
    if network is None:
        network = build_network(roads, settings)
        _write(net_file, _encode_network(network, net_key))
    return network


# --------------------------------------------------------------------------------------------
# Keys


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _code_fingerprint() -> str:
    h = hashlib.sha256()
    for f in _CODE_FILES:
        h.update(f.read_bytes() if f.is_file() else b"")
    return h.hexdigest()


def _file_state(path: Path) -> dict:
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(_EDGE_SAMPLE))
        if st.st_size > _EDGE_SAMPLE:
            f.seek(max(_EDGE_SAMPLE, st.st_size - _EDGE_SAMPLE))
            h.update(f.read(_EDGE_SAMPLE))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_ends": h.hexdigest()}


def _clip_key(clip: Clip) -> object:
    if clip is None:
        return None
    if isinstance(clip, BaseGeometry):
        return "wkb-sha256:" + hashlib.sha256(shapely.to_wkb(clip)).hexdigest()
    return [float(v) for v in clip]


def _keys(source: Path, clip: Clip, include_childcare: bool) -> tuple[str, dict, dict]:
    path_hash = hashlib.sha256(str(source.resolve()).encode()).hexdigest()
    state = {"path": str(source.resolve()), **_file_state(source)}
    options = {
        "clip": _clip_key(clip),
        "include_childcare": bool(include_childcare),
        "format": CACHE_FORMAT,
        "code": _code_fingerprint(),
    }
    return path_hash, state, options


# --------------------------------------------------------------------------------------------
# Files


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an ``.npz`` all-or-nothing; a folder that cannot be written means no cache."""
    try:
        with atomic_path(path) as tmp:
            np.savez(tmp, **arrays)
    except OSError:  # OutputError included: a cache that cannot be written is no cache
        pass


def _forget_older_states(folder: Path, path_prefix: str, state_prefix: str) -> None:
    """Delete entries of the same source file made from an earlier state of it."""
    if not folder.is_dir():
        return
    for f in folder.glob(f"{path_prefix}-*.npz"):
        if not f.name.startswith(f"{path_prefix}-{state_prefix}-"):
            f.unlink(missing_ok=True)


def _open(path: Path, key: dict) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file whose stored key equals ``key``; None otherwise."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {name: z[name] for name in z.files}
        if json.loads(str(data.pop("__key__"))) != json.loads(json.dumps(key)):
            return None
        return data
    except _BAD_CACHE:
        return None


def _text(obj: object) -> np.ndarray:
    return np.array(json.dumps(obj))


# --------------------------------------------------------------------------------------------
# Frames as plain arrays


def _encode_frame(prefix: str, gdf: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    kinds = {}
    out[f"{prefix}/index"] = _str_array(gdf.index)[0]
    for i, col in enumerate(gdf.columns):
        s = gdf[col]
        name = f"{prefix}/{i}"
        if isinstance(s.dtype, gpd.array.GeometryDtype):
            kinds[col] = "geometry"
            wkb = shapely.to_wkb(s.to_numpy())
            missing = pd.isna(wkb)
            blobs = [b"" if m else b for b, m in zip(wkb, missing, strict=True)]
            out[f"{name}/bytes"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
            out[f"{name}/offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
            out[f"{name}/missing"] = np.asarray(missing, dtype=bool)
        elif str(s.dtype) == "Int64":
            kinds[col] = "Int64"
            out[f"{name}/missing"] = s.isna().to_numpy()
            out[f"{name}/values"] = s.fillna(0).to_numpy(dtype=np.int64)
        else:
            kinds[col] = "str"
            out[f"{name}/values"], out[f"{name}/missing"] = _str_array(s)
    meta = {
        "columns": list(gdf.columns),
        "kinds": kinds,
        "geometry": gdf.geometry.name,
        "index_name": gdf.index.name,
    }
    out[f"{prefix}/meta"] = _text(meta)
    return out


def _str_array(values) -> tuple[np.ndarray, np.ndarray]:
    s = pd.Series(values, dtype=object)
    missing = s.isna().to_numpy()
    text = np.array([("" if m else str(v)) for v, m in zip(s, missing, strict=True)], dtype=str)
    return text, missing


def _decode_frame(prefix: str, data: dict[str, np.ndarray]) -> gpd.GeoDataFrame:
    meta = json.loads(str(data[f"{prefix}/meta"]))
    index = pd.Index(data[f"{prefix}/index"].tolist(), dtype="str", name=meta["index_name"])
    cols = {}
    for i, col in enumerate(meta["columns"]):
        name = f"{prefix}/{i}"
        kind = meta["kinds"][col]
        missing = data[f"{name}/missing"]
        if kind == "geometry":
            raw = data[f"{name}/bytes"].tobytes()
            off = data[f"{name}/offsets"]
            wkb = [
                None if m else raw[a:b] for a, b, m in zip(off[:-1], off[1:], missing, strict=True)
            ]
            cols[col] = gpd.GeoSeries(shapely.from_wkb(wkb), crs=WGS84, index=index)
        elif kind == "Int64":
            vals = pd.array(data[f"{name}/values"], dtype="Int64")
            vals[missing] = pd.NA
            cols[col] = pd.Series(vals, index=index)
        else:
            vals = data[f"{name}/values"].astype(object)
            vals[missing] = None
            cols[col] = pd.Series(pd.array(vals, dtype="str"), index=index)
    return gpd.GeoDataFrame(cols, index=index, geometry=meta["geometry"], crs=WGS84)


# --------------------------------------------------------------------------------------------
# Extracts and networks


def _encode_extract(extract: OSMExtract, key: dict) -> dict[str, np.ndarray]:
    out = {"__key__": _text(key)}
    for f in _ROAD_FIELDS:
        out[f"roads/{f}"] = getattr(extract.roads, f)
    out.update(_encode_frame("services", extract.services))
    out.update(_encode_frame("villages", extract.villages))
    out.update(_encode_frame("boundaries", extract.boundaries))
    # what the reader warned about (absurd capacities...) must be said again when the
    # extract comes from the cache: notes as JSON (their key and parameters)
    out["notes"] = _text([[n.key, dict(n.params)] for n in extract.notes])
    return out


def _read_extract(path: Path, key: dict, source: str) -> OSMExtract | None:
    data = _open(path, key)
    if data is None:
        return None
    try:
        roads = RoadEdges(**{f: data[f"roads/{f}"] for f in _ROAD_FIELDS})
        villages = _decode_frame("villages", data)
        notes = tuple(Note(key, params) for key, params in json.loads(str(data.get("notes", "[]"))))
        services = validate_services(_decode_frame("services", data))
        if notes:
            add_notes(services, notes)
        return OSMExtract(
            roads=roads,
            services=services,
            villages=validate_villages(villages),
            boundaries=_decode_frame("boundaries", data),
            source=source,
            notes=notes,
        )
    except _BAD_CACHE:
        return None


def _encode_network(net: RoadNetwork, key: dict) -> dict[str, np.ndarray]:
    out = {"__key__": _text(key)}
    for f in _NET_ARRAYS:
        out[f"net/{f}"] = getattr(net, f)
    for g in _NET_GRAPHS:
        m = getattr(net, g)
        out[f"net/{g}/indptr"] = m.indptr
        out[f"net/{g}/indices"] = m.indices
        out[f"net/{g}/data"] = m.data
    out["net/meta"] = _text(
        {
            "mode": net.mode,
            "crs": net.crs.to_wkt(),
            "main_component": int(net.main_component),
            "walk_speed_kmh": float(net.walk_speed_kmh),
        }
    )
    return out


def _read_network(path: Path, key: dict) -> RoadNetwork | None:
    data = _open(path, key)
    if data is None:
        return None
    try:
        meta = json.loads(str(data["net/meta"]))
        n = len(data["net/node_id"])
        graphs = {
            g: sp.csr_matrix(
                (data[f"net/{g}/data"], data[f"net/{g}/indices"], data[f"net/{g}/indptr"]),
                shape=(n, n),
            )
            for g in _NET_GRAPHS
        }
        return RoadNetwork(
            mode=meta["mode"],
            crs=pyproj.CRS.from_wkt(meta["crs"]),
            **{f: data[f"net/{f}"] for f in _NET_ARRAYS},
            **graphs,
            main_component=int(meta["main_component"]),
            walk_speed_kmh=float(meta["walk_speed_kmh"]),
        )
    except (*_BAD_CACHE, pyproj.exceptions.CRSError):
        return None


__all__ = ["CACHE_DIR_ENV", "CACHE_FORMAT", "load_network_cached", "resolve_cache_dir"]
