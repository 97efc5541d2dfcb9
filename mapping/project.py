"""Saving and opening a workshop project: every layer, the proposals and the settings in one file.

A project is one GeoPackage (SQLite, opens in QGIS too) with these tables:

==================  ===========================================================================
table               content
==================  ===========================================================================
``villages``        village points (EPSG:4326), schema of :mod:`layers.villages` less ``boundary``
``village_areas``   the villages' boundaries, by ``village_id``
``households``      households (sensitive: this file is the team's own, never for sharing)
``services``        existing services
``proposals``       proposed services (what-if), services schema with ``source="proposed"``
``boundaries``      administrative areas from OSM
``study_area``      the study area outline
``road_nodes``      road nodes: ``node_id``, ``lon``, ``lat`` (attribute table)
``road_segments``   road segments: ``u``, ``v`` (row numbers in ``road_nodes``), ``way_id``,
                    ``highway``, ``oneway``, ``modes`` (attribute table; see
                    :class:`layers.roads.RoadEdges`)
``project_meta``    one row: ``format``, ``version``, and ``settings``/``scenario`` as JSON
==================  ===========================================================================

Saving is atomic: the file is written beside the target and moved over it only when complete,
so a crash mid-save leaves the previous save readable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import warnings
from dataclasses import asdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from layers import i18n
from layers.errors import FileFormatError, GapMapperError
from layers.households import empty_households, validate_households
from layers.roads import RoadEdges
from layers.services import empty_services, validate_services
from layers.villages import empty_villages, validate_villages
from mapping.export import atomic_path
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings

FORMAT = "service-gap-mapper project"
VERSION = 1

i18n.register(
    {
        "error.project.not_a_project": {
            "zh": "{file} 不是本工具保存的项目文件（{problem}）。请选择用“保存项目”得到的 .gpkg 文件。",
            "en": "{file} is not a project saved by this tool ({problem}). Choose a .gpkg file "
            "written by 'Save project'.",
        },
        "error.project.newer": {
            "zh": "{file} 由更新版本的工具保存（格式版本 {version}）。请升级本工具后再打开。",
            "en": "{file} was saved by a newer version of this tool (format {version}). "
            "Update the tool to open it.",
        },
    }
)


def save_project(
    path: str | Path,
    scenario: Scenario,
    settings: AnalysisSettings,
    proposals: gpd.GeoDataFrame | None = None,
    *,
    extra: dict | None = None,
) -> Path:
    """Save a workshop project into one GeoPackage, atomically.

    Parameters
    ----------
    path
        The ``.gpkg`` file to write (replaced only once the new file is complete).
    scenario
        The study area's layers.
    settings
        The analysis settings to restore.
    proposals
        Proposed services (services schema), or None.
    extra
        Small JSON-serialisable view state to restore (language, selected kind...).
    """
    path = Path(path)
    proposals = empty_services() if proposals is None else proposals
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "settings": json.dumps(asdict(settings), ensure_ascii=False),
        "scenario": json.dumps(
            {
                "title": scenario.title,
                "fictional": scenario.fictional,
                "sources": list(scenario.sources),
            },
            ensure_ascii=False,
        ),
        "extra": json.dumps(extra or {}, ensure_ascii=False),
    }
    v = scenario.villages
    roads = scenario.roads
    tables: list[tuple[str, pd.DataFrame]] = [
        ("project_meta", pd.DataFrame([meta])),
        ("villages", gpd.GeoDataFrame(v.drop(columns="boundary"), geometry="geometry")),
        ("households", scenario.households),
        ("services", scenario.services),
        ("proposals", proposals),
        (
            "road_nodes",
            pd.DataFrame({"node_id": roads.node_id, "lon": roads.lon, "lat": roads.lat}),
        ),
        (
            "road_segments",
            pd.DataFrame(
                {
                    "u": roads.u,
                    "v": roads.v,
                    "way_id": roads.way_id,
                    "highway": roads.highway.astype(np.int32),
                    "oneway": roads.oneway.astype(np.int32),
                    "modes": roads.modes.astype(np.int32),
                }
            ),
        ),
    ]
    areas = v[v["boundary"].notna()]
    tables.append(
        (
            "village_areas",
            gpd.GeoDataFrame(
                {"village_id": areas["village_id"].to_numpy()},
                geometry=areas["boundary"].to_numpy(),
                crs="EPSG:4326",
            ),
        )
    )
    if len(scenario.boundaries):
        tables.append(("boundaries", scenario.boundaries))
    if scenario.study_area is not None:
        tables.append(
            ("study_area", gpd.GeoDataFrame(geometry=[scenario.study_area], crs="EPSG:4326"))
        )
    with atomic_path(path) as tmp:
        for name, frame in tables:
            _write(tmp, name, frame)
    return path


def _write(path: Path, layer: str, frame: pd.DataFrame) -> None:
    out = frame.reset_index(drop=True)
    if isinstance(out, gpd.GeoDataFrame):
        geom_type = "Point" if layer not in ("village_areas", "boundaries", "study_area") else None
        if len(out) == 0:
            geom_type = geom_type or "Polygon"
        pyogrio.write_dataframe(out, path, layer=layer, driver="GPKG", geometry_type=geom_type)
    else:
        pyogrio.write_dataframe(out, path, layer=layer, driver="GPKG")


_PENDING_SAVES: list[threading.Thread] = []
_PENDING_LOCK = threading.Lock()


def save_project_later(
    path: str | Path,
    scenario: Scenario,
    settings: AnalysisSettings,
    proposals: gpd.GeoDataFrame | None = None,
    *,
    extra: dict | None = None,
) -> threading.Thread:
    """:func:`save_project` in a background thread, so the app does not wait for it.

    Writing a county's layers takes one to two seconds (100k road nodes); the app's autosave
    calls this after every change of data. Saves to the same computer run one after another
    in the order asked (each waits for the one before), so the file always ends up holding
    the latest; a save that finds a newer one queued behind it skips its own write. Each is
    atomic, so a crash mid-save keeps the previous file. Failures to write (a read-only
    folder) are logged, never raised: the autosave must not stop a workshop.
    :func:`wait_for_saves` waits for all of them.
    """
    with _PENDING_LOCK:
        before = _PENDING_SAVES[-1] if _PENDING_SAVES else None

        def run() -> None:
            if before is not None:
                before.join()
            with _PENDING_LOCK:
                newer = _PENDING_SAVES and _PENDING_SAVES[-1] is not threading.current_thread()
            if newer:
                return  # a later save will write the newer state
            try:
                save_project(path, scenario, settings, proposals, extra=extra)
            except Exception:  # a background save must not die silently
                logging.getLogger(__name__).exception("could not save %s", path)

        thread = threading.Thread(target=run, name="gapmapper-save", daemon=True)
        _PENDING_SAVES[:] = [t for t in _PENDING_SAVES if t.is_alive()] + [thread]
        thread.start()
    return thread


def wait_for_saves(timeout: float | None = None) -> None:
    """Wait until the saves started by :func:`save_project_later` are written."""
    with _PENDING_LOCK:
        pending = list(_PENDING_SAVES)
    for thread in pending:
        thread.join(timeout)


def save_settings(path: str | Path, settings: AnalysisSettings, extra: dict | None = None) -> Path:
    """Save only the settings and view state of a project, beside it (``<project>.settings.json``).

    The app's autosave uses it when only a setting changed: rewriting a county's layers took
    over a second on every threshold change. :func:`open_settings` reads it back.
    """
    side = settings_path(path)
    text = json.dumps({"settings": asdict(settings), "extra": extra or {}}, ensure_ascii=False)
    with atomic_path(side) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return side


def _settings_args(raw: dict) -> dict:
    """Settings saved as JSON, back as :class:`AnalysisSettings` arguments (JSON has no
    tuples)."""
    raw = dict(raw)
    raw["kinds"] = tuple(raw.get("kinds", ()))
    return raw


def settings_path(path: str | Path) -> Path:
    """Where :func:`save_settings` keeps the settings of the project at ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".settings.json")


def open_settings(path: str | Path) -> tuple[AnalysisSettings, dict] | None:
    """The settings and view state :func:`save_settings` saved beside the project at
    ``path``; None when there are none, or they cannot be read (the project's own settings
    then stand)."""
    try:
        raw = json.loads(settings_path(path).read_text(encoding="utf-8"))
        settings = AnalysisSettings(**_settings_args(raw["settings"]))
        extra = raw.get("extra") or {}
        if not isinstance(extra, dict):
            return None
    except (OSError, ValueError, TypeError, KeyError, GapMapperError):
        return None
    return settings, extra


def open_project(path: str | Path) -> tuple[Scenario, AnalysisSettings, gpd.GeoDataFrame, dict]:
    """Open a project written by :func:`save_project`.

    Returns
    -------
    tuple
        ``(scenario, settings, proposals, extra)``.

    Raises
    ------
    FileFormatError
        When the file is not such a project, or is from a newer version.
    """
    path = Path(path)
    try:
        layers = {name for name, _ in pyogrio.list_layers(path)}
        meta = pyogrio.read_dataframe(path, layer="project_meta").iloc[0]
    except Exception as exc:  # GDAL raises several types for "not a GeoPackage"
        raise FileFormatError(
            "error.project.not_a_project", file=path.name, problem=type(exc).__name__
        ) from exc
    if meta.get("format") != FORMAT:
        raise FileFormatError("error.project.not_a_project", file=path.name, problem="format")
    if int(meta["version"]) > VERSION:
        raise FileFormatError("error.project.newer", file=path.name, version=meta["version"])

    def read(layer: str) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # empty layers warn in pyogrio
            return pyogrio.read_dataframe(path, layer=layer)

    nodes = read("road_nodes")
    segs = read("road_segments")
    roads = RoadEdges(
        node_id=nodes["node_id"].to_numpy(np.int64),
        lon=nodes["lon"].to_numpy(np.float64),
        lat=nodes["lat"].to_numpy(np.float64),
        u=segs["u"].to_numpy(np.int64),
        v=segs["v"].to_numpy(np.int64),
        way_id=segs["way_id"].to_numpy(np.int64),
        highway=segs["highway"].to_numpy(np.int16),
        oneway=segs["oneway"].to_numpy(np.int8),
        modes=segs["modes"].to_numpy(np.uint8),
    )
    villages = _indexed(read("villages"), "village_id", empty_villages)
    if len(villages):
        villages["boundary"] = gpd.GeoSeries(
            [None] * len(villages), index=villages.index, crs="EPSG:4326"
        )
        if "village_areas" in layers:
            areas = read("village_areas")
            if len(areas):
                by_id = pd.Series(areas.geometry.to_numpy(), index=areas["village_id"].astype(str))
                villages["boundary"] = gpd.GeoSeries(
                    by_id.reindex(villages.index).to_numpy(),
                    index=villages.index,
                    crs="EPSG:4326",
                )
        villages = validate_villages(villages)
    households = _indexed(read("households"), "household_id", empty_households)
    if len(households):
        households = validate_households(households)
    services = _indexed(read("services"), "service_id", empty_services)
    if len(services):
        services = validate_services(services)
    proposals = _indexed(read("proposals"), "service_id", empty_services)
    if len(proposals):
        proposals = validate_services(proposals)
    boundaries = (
        read("boundaries")
        if "boundaries" in layers
        else gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    )
    study_area = None
    if "study_area" in layers:
        sa = read("study_area")
        study_area = sa.geometry.iloc[0] if len(sa) else None
    info = json.loads(meta["scenario"])
    scenario = Scenario(
        roads=roads,
        villages=villages,
        households=households,
        services=services,
        boundaries=boundaries,
        study_area=study_area,
        title=info.get("title", {}),
        fictional=bool(info.get("fictional", False)),
        sources=tuple(info.get("sources", ())),
    )
    settings = AnalysisSettings(**_settings_args(json.loads(meta["settings"])))
    return scenario, settings, proposals, json.loads(meta.get("extra") or "{}")


def _indexed(frame: pd.DataFrame, id_col: str, empty) -> gpd.GeoDataFrame:
    if len(frame) == 0:
        return empty()
    frame = frame.set_index(frame[id_col].astype(str), drop=False)
    frame.index.name = id_col
    return frame


def is_project(path: str | Path) -> bool:
    """Whether ``path`` looks like a saved project (a GeoPackage with ``project_meta``)."""
    path = Path(path)
    if not path.is_file():
        return False
    # the name goes into an SQLite URI (for read-only), so it is quoted: '#', '?' and '%'
    # in a file name would otherwise end the path, start the options or be decoded
    uri = path.absolute().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
            row = con.execute(
                "select count(*) from sqlite_master where name = 'project_meta'"
            ).fetchone()
        return bool(row and row[0])
    except sqlite3.Error:
        return False


def autosave_path(folder: str | Path | None = None) -> Path:
    """Where the app keeps its autosave: ``folder``, else ``$GAPMAPPER_AUTOSAVE_DIR``, else
    ``~/.local/share/service-gap-mapper``; the file is ``autosave.gpkg`` in it."""
    import os

    base = folder or os.environ.get("GAPMAPPER_AUTOSAVE_DIR")
    if not base:
        base = Path.home() / ".local" / "share" / "service-gap-mapper"
    return Path(base) / "autosave.gpkg"
