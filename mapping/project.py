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
``community_roads`` roads the workshop recorded or drew (:mod:`layers.tracks`), when any
``closures``        road closures and slow-downs under named conditions, when any
``road_nodes``      road nodes: ``node_id``, ``lon``, ``lat`` (attribute table)
``road_segments``   road segments: ``u``, ``v`` (row numbers in ``road_nodes``), ``way_id``,
                    ``highway``, ``oneway``, ``modes`` (attribute table; see
                    :class:`layers.roads.RoadEdges`)
``project_meta``    one row: ``format``, ``version``, and ``settings``/``scenario`` as JSON
==================  ===========================================================================

Saving is atomic (through :mod:`layers.files`): the file is written beside the target and
moved over it only when complete, so a crash mid-save leaves the previous save readable, and a
target that cannot be replaced (open in another program on Windows, a read-only folder) is an
:class:`~layers.errors.OutputError` with the previous save untouched.

Opening checks what a file changed outside the tool could hold (a table missing, a value of
the wrong type, an unknown service kind, settings that are not JSON) and refuses it with a
:class:`ProjectFileError` naming the file, table, row and column and what to do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from layers import i18n
from layers.errors import FileFormatError, GapMapperError
from layers.files import atomic_path, user_folder
from layers.households import empty_households, validate_households
from layers.roads import RoadEdges
from layers.services import SERVICE_KINDS, empty_services, validate_services
from layers.tracks import (
    empty_closures,
    empty_community_roads,
    validate_closures,
    validate_community_roads,
)
from layers.villages import empty_villages, validate_villages
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
        "error.project.damaged": {
            "zh": "项目文件“{file}”无法打开：{problem}。这个文件在本工具之外被改动过或已损坏。"
            "请打开它较早的副本（或自动保存的项目），或重新读入数据文件后另存为新项目。"
            "文件本身没有改动。",
            "en": "The project file '{file}' cannot be opened: {problem}. The file was changed "
            "outside this tool or is damaged. Open an earlier copy of it (or the autosave), or "
            "read your data files again and save a new project. The file itself was not "
            "changed.",
        },
        "project.problem.missing_tables": {
            "zh": "缺少数据表：{tables}",
            "en": "tables missing: {tables}",
        },
        "project.problem.missing_columns": {
            "zh": "数据表“{table}”缺少列 {columns}",
            "en": "table '{table}' lacks the columns {columns}",
        },
        "project.problem.wrong_type": {
            "zh": "数据表“{table}”第 {row} 行“{column}”列的值 {value} 不是{expected}",
            "en": "table '{table}', row {row}, column '{column}': {value} is not {expected}",
        },
        "project.expected.integer": {"zh": "整数", "en": "a whole number"},
        "project.expected.number": {"zh": "数字", "en": "a number"},
        "project.expected.text": {"zh": "文字", "en": "text"},
        "project.problem.unknown_kind": {
            "zh": "数据表“{table}”第 {row} 行：不认识的设施类型“{kind}”（可用：{accepted}）",
            "en": "table '{table}', row {row}: unknown kind of service '{kind}' (known: "
            "{accepted})",
        },
        "project.problem.not_json": {
            "zh": "数据表“project_meta”的“{column}”列不是有效的 JSON（{detail}）",
            "en": "table 'project_meta', column '{column}' is not valid JSON ({detail})",
        },
        "project.problem.not_an_object": {
            "zh": "数据表“project_meta”的“{column}”列应为 JSON 对象（{{...}}），实际是 {found}",
            "en": "table 'project_meta', column '{column}' should be a JSON object ({{...}}), "
            "found {found}",
        },
        "project.problem.unknown_settings": {
            "zh": "保存的设置（project_meta 的“settings”列）含有不认识的项 {names}",
            "en": "the saved settings (table 'project_meta', column 'settings') hold unknown "
            "entries {names}",
        },
        "project.problem.bad_settings": {
            "zh": "保存的设置（project_meta 的“settings”列）不能使用：{detail}",
            "en": "the saved settings (table 'project_meta', column 'settings') cannot be "
            "used: {detail}",
        },
        "project.problem.version": {
            "zh": "数据表“project_meta”的“version”列的值 {value} 不是格式版本号",
            "en": "table 'project_meta', column 'version': {value} is not a format version",
        },
        "project.problem.bad_table": {
            "zh": "数据表“{table}”的内容不是本工具保存的样子（{detail}）",
            "en": "the content of table '{table}' is not what this tool saves ({detail})",
        },
        "error.project.newer": {
            "zh": "{file} 由更新版本的工具保存（格式版本 {version}）。请升级本工具后再打开。",
            "en": "{file} was saved by a newer version of this tool (format {version}). "
            "Update the tool to open it.",
        },
    }
)


class ProjectFileError(FileFormatError):
    """A project file that was changed outside the tool or damaged.

    Its ``problem`` (and any parameter that has a ``message(lang)``) is translated with the
    message, so the whole text is in the user's language.
    """

    def message(self, lang: str = "en") -> str:
        """The message in ``lang`` ("zh" or "en")."""
        return i18n.t(self.key, lang, **_translated(self.params, lang))


class _Problem:
    """A translatable part of a :class:`ProjectFileError` (a key and its parameters)."""

    def __init__(self, key: str, /, **params: object) -> None:
        self.key = key
        self.params = params

    def message(self, lang: str = "en") -> str:
        return i18n.t(self.key, lang, **_translated(self.params, lang))


def _translated(params: dict, lang: str) -> dict:
    return {k: v.message(lang) if hasattr(v, "message") else v for k, v in params.items()}


def _damaged(path: Path, key: str, /, **params: object) -> ProjectFileError:
    return ProjectFileError(
        "error.project.damaged", file=path.name, problem=_Problem(key, **params)
    )


def save_project(
    path: str | Path,
    scenario: Scenario,
    settings: AnalysisSettings,
    proposals: gpd.GeoDataFrame | None = None,
    *,
    extra: dict | None = None,
    community: gpd.GeoDataFrame | None = None,
    closures: gpd.GeoDataFrame | None = None,
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
    community, closures
        The community roads and the road conditions (:mod:`layers.tracks`), or None;
        :func:`open_corrections` reads them back.
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
    if community is not None and len(community):
        tables.append(("community_roads", validate_community_roads(community)))
    if closures is not None and len(closures):
        tables.append(("closures", validate_closures(closures)))
    with atomic_path(path) as tmp:
        for name, frame in tables:
            _write(tmp, name, frame)
    return path


#: The geometry type of each table that is not of points (None: taken from the rows).
_GEOMETRY_TYPES = {
    "village_areas": None,
    "boundaries": None,
    "study_area": None,
    "community_roads": "LineString",
    "closures": "Unknown",  # areas and lines
}


def _write(path: Path, layer: str, frame: pd.DataFrame) -> None:
    out = frame.reset_index(drop=True)
    if isinstance(out, gpd.GeoDataFrame):
        geom_type = _GEOMETRY_TYPES.get(layer, "Point")
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
    community: gpd.GeoDataFrame | None = None,
    closures: gpd.GeoDataFrame | None = None,
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
                save_project(
                    path,
                    scenario,
                    settings,
                    proposals,
                    extra=extra,
                    community=community,
                    closures=closures,
                )
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


#: The tables every project has (``village_areas``, ``boundaries`` and ``study_area`` may be
#: absent: projects without them open with none).
REQUIRED_TABLES = (
    "project_meta", "villages", "households", "services", "proposals", "road_nodes",
    "road_segments",
)  # fmt: skip

# What reading a tampered table can raise, besides the project's own errors: a missing
# column (KeyError), values the layer contracts refuse (TypeError, ValueError), numbers that
# do not fit (OverflowError), and GDAL's refusals.
_BAD_TABLE = (
    KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError,
    pyogrio.errors.DataLayerError, pyogrio.errors.DataSourceError, pyogrio.errors.FieldError,
    pyogrio.errors.FeatureError, pyogrio.errors.GeometryError,
)  # fmt: skip


def open_project(path: str | Path) -> tuple[Scenario, AnalysisSettings, gpd.GeoDataFrame, dict]:
    """Open a project written by :func:`save_project`.

    A file changed outside the tool (a table dropped, a value of the wrong type, an unknown
    service kind, settings that are not JSON) is refused with a message naming the file,
    the table, row and column, and what to do; the file is only read.

    Returns
    -------
    tuple
        ``(scenario, settings, proposals, extra)``.

    Raises
    ------
    FileFormatError
        ``error.project.not_a_project`` when the file is not such a project,
        ``error.project.newer`` when it is from a newer version.
    ProjectFileError
        ``error.project.damaged`` (a :class:`FileFormatError`) when it was changed outside
        the tool or is damaged.
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
    _check_stored_types(path, layers)
    version = meta.get("version")
    if not isinstance(version, int | np.integer) or version < 1:
        raise _damaged(path, "project.problem.version", value=str(version))
    if int(version) > VERSION:
        raise FileFormatError("error.project.newer", file=path.name, version=version)
    missing = [t for t in REQUIRED_TABLES if t not in layers]
    if missing:
        raise _damaged(path, "project.problem.missing_tables", tables=", ".join(missing))

    def read(layer: str) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # empty layers warn in pyogrio
            return pyogrio.read_dataframe(path, layer=layer)

    with _reading(path, "road_nodes"):
        nodes = read("road_nodes")
        node_arrays = {
            "node_id": nodes["node_id"].to_numpy(np.int64),
            "lon": nodes["lon"].to_numpy(np.float64),
            "lat": nodes["lat"].to_numpy(np.float64),
        }
    with _reading(path, "road_segments"):
        segs = read("road_segments")
        roads = RoadEdges(
            **node_arrays,
            u=segs["u"].to_numpy(np.int64),
            v=segs["v"].to_numpy(np.int64),
            way_id=segs["way_id"].to_numpy(np.int64),
            highway=segs["highway"].to_numpy(np.int16),
            oneway=segs["oneway"].to_numpy(np.int8),
            modes=segs["modes"].to_numpy(np.uint8),
        )
    with _reading(path, "villages"):
        villages = _indexed(read("villages"), "village_id", empty_villages)
    if len(villages):
        villages["boundary"] = gpd.GeoSeries(
            [None] * len(villages), index=villages.index, crs="EPSG:4326"
        )
        if "village_areas" in layers:
            with _reading(path, "village_areas"):
                areas = read("village_areas")
                if len(areas):
                    by_id = pd.Series(
                        areas.geometry.to_numpy(), index=areas["village_id"].astype(str)
                    )
                    villages["boundary"] = gpd.GeoSeries(
                        by_id.reindex(villages.index).to_numpy(),
                        index=villages.index,
                        crs="EPSG:4326",
                    )
        with _reading(path, "villages"):
            villages = validate_villages(villages)
    with _reading(path, "households"):
        households = _indexed(read("households"), "household_id", empty_households)
        if len(households):
            households = validate_households(households)
    services = _read_services(path, read, "services")
    proposals = _read_services(path, read, "proposals")
    boundaries = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    if "boundaries" in layers:
        with _reading(path, "boundaries"):
            boundaries = read("boundaries")
    study_area = None
    if "study_area" in layers:
        with _reading(path, "study_area"):
            sa = read("study_area")
            study_area = sa.geometry.iloc[0] if len(sa) else None
    info = _json_object(path, meta, "scenario")
    settings = _settings_from(path, _json_object(path, meta, "settings"))
    extra = _json_object(path, meta, "extra", missing_ok=True)
    with _reading(path, "project_meta"):
        scenario = Scenario(
            roads=roads,
            villages=villages,
            households=households,
            services=services,
            boundaries=boundaries,
            study_area=study_area,
            title=dict(info.get("title", {})),
            fictional=bool(info.get("fictional", False)),
            sources=tuple(str(x) for x in info.get("sources", ())),
        )
    return scenario, settings, proposals, extra


def open_corrections(path: str | Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The community roads and the road conditions a project holds (:func:`save_project`'s
    ``community`` and ``closures``), as empty layers when it holds none.

    Raises
    ------
    FileFormatError
        ``error.project.not_a_project`` when the file is not a project.
    ProjectFileError
        ``error.project.damaged`` when either table was changed outside the tool (a value
        of the wrong type, a road class or geometry the layer does not allow).
    """
    path = Path(path)
    try:
        layers = {name for name, _ in pyogrio.list_layers(path)}
    except Exception as exc:  # GDAL raises several types for "not a GeoPackage"
        raise FileFormatError(
            "error.project.not_a_project", file=path.name, problem=type(exc).__name__
        ) from exc
    tables = {"community_roads", "closures"} & layers
    _check_stored_types(path, tables)
    out = []
    for table, id_col, empty, validate in (
        ("community_roads", "road_id", empty_community_roads, validate_community_roads),
        ("closures", "closure_id", empty_closures, validate_closures),
    ):
        if table not in tables:
            out.append(empty())
            continue
        with _reading(path, table):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # empty layers warn in pyogrio
                frame = pyogrio.read_dataframe(path, layer=table)
            out.append(validate(_indexed(frame, id_col, empty)))
    return out[0], out[1]


@contextlib.contextmanager
def _reading(path: Path, table: str):
    """Turn what a tampered ``table`` makes the readers raise into a :class:`ProjectFileError`."""
    try:
        yield
    except KeyError as exc:
        raise _damaged(
            path, "project.problem.missing_columns", table=table, columns=str(exc)
        ) from exc
    except ProjectFileError:
        raise
    except GapMapperError as exc:
        raise _damaged(path, "project.problem.bad_table", table=table, detail=exc) from exc
    except _BAD_TABLE as exc:
        raise _damaged(path, "project.problem.bad_table", table=table, detail=str(exc)) from exc


def _read_services(path: Path, read, table: str) -> gpd.GeoDataFrame:
    """The services (or proposals) table, its kinds checked row by row."""
    with _reading(path, table):
        frame = read(table)
        unknown = ~frame["kind"].isin(SERVICE_KINDS)
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise _damaged(
                path,
                "project.problem.unknown_kind",
                table=table,
                row=row + 1,
                kind=frame["kind"].iloc[row],
                accepted=", ".join(SERVICE_KINDS),
            )
        frame = _indexed(frame, "service_id", empty_services)
        return validate_services(frame) if len(frame) else frame


def _json_object(path: Path, meta: pd.Series, column: str, missing_ok: bool = False) -> dict:
    """The JSON object stored in ``project_meta.<column>``."""
    text = meta.get(column)
    if missing_ok and (text is None or (isinstance(text, float) and np.isnan(text))):
        return {}
    if not isinstance(text, str):
        raise _damaged(path, "project.problem.not_json", column=column, detail=repr(text))
    try:
        value = json.loads(text or "{}") if missing_ok else json.loads(text)
    except ValueError as exc:
        raise _damaged(path, "project.problem.not_json", column=column, detail=str(exc)) from exc
    if not isinstance(value, dict):
        raise _damaged(
            path, "project.problem.not_an_object", column=column, found=type(value).__name__
        )
    return value


def _settings_from(path: Path, raw: dict) -> AnalysisSettings:
    """The :class:`AnalysisSettings` saved in a project's meta row."""
    known = {f.name for f in fields(AnalysisSettings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _damaged(path, "project.problem.unknown_settings", names=", ".join(unknown))
    try:
        return AnalysisSettings(**_settings_args(raw))
    except GapMapperError as exc:
        raise _damaged(path, "project.problem.bad_settings", detail=exc) from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise _damaged(path, "project.problem.bad_settings", detail=str(exc)) from exc


#: What each declared column type of a GeoPackage table may hold (SQLite's ``typeof``).
_STORED_TYPES = {
    "integer": ({"integer"}, "project.expected.integer"),
    "real": ({"integer", "real"}, "project.expected.number"),
    "text": ({"text"}, "project.expected.text"),
}


def _check_stored_types(path: Path, tables: set[str]) -> None:
    """Refuse a value whose SQLite type differs from its column's declared type.

    SQLite stores any value in any column, and GDAL reads text in a number column as 0
    without a word: a tampered coordinate would silently move a road node to the equator.
    """
    uri = path.absolute().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
            for table in sorted(tables):
                quoted = '"' + table.replace('"', '""') + '"'
                for _, column, declared, *_ in con.execute(f"pragma table_info({quoted})"):
                    kind = _declared_kind(declared)
                    if kind is None:
                        continue
                    allowed, expected = _STORED_TYPES[kind]
                    col = '"' + column.replace('"', '""') + '"'
                    listed = ", ".join(f"'{t}'" for t in sorted(allowed))
                    row = con.execute(
                        f"select rowid, quote({col}) from {quoted} where {col} is not null "
                        f"and typeof({col}) not in ({listed}) limit 1"
                    ).fetchone()
                    if row is not None:
                        raise _damaged(
                            path,
                            "project.problem.wrong_type",
                            table=table,
                            row=row[0],
                            column=column,
                            value=row[1],
                            expected=_Problem(expected),
                        )
    except sqlite3.Error as exc:
        raise FileFormatError(
            "error.project.not_a_project", file=path.name, problem=type(exc).__name__
        ) from exc


def _declared_kind(declared: str) -> str | None:
    """The kind of value a GeoPackage column of the declared type holds (the data types of
    the GeoPackage standard, section 1.1.1.1.1); None for geometry, blobs and dates."""
    name = (declared or "").upper().split("(")[0].strip()
    if name in ("BOOLEAN", "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT"):
        return "integer"
    if name in ("FLOAT", "DOUBLE", "REAL"):
        return "real"
    if name == "TEXT":
        return "text"
    return None


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
    the user's data folder (:func:`layers.files.user_folder`:
    ``~/.local/share/service-gap-mapper``, ``%LOCALAPPDATA%\\service-gap-mapper`` on
    Windows); the file is ``autosave.gpkg`` in it."""
    base = folder or os.environ.get("GAPMAPPER_AUTOSAVE_DIR")
    return Path(base or user_folder("data")) / "autosave.gpkg"
