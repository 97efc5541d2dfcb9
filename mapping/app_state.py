"""The workshop app's session: the participant's work, where each layer came from, and undo.

``app.py`` draws this state and turns clicks into the calls below; nothing here imports
Streamlit, so all of it is tested without a browser (``tests/test_app_state.py``).

A :class:`Work` is one state of the work, never changed in place: the layers (a
:class:`~mapping.scenario.Scenario`), where each layer came from (its *origin*), the
proposals and the analysis settings. Every change makes a new :class:`Work`; a
:class:`History` keeps the earlier ones, so every change to layers, proposals and settings
can be undone (and redone).

Origins: each layer (``roads``, ``villages``, ``households``, ``services``) has a tuple of
parts saying what it holds: ``"demo"`` (the built-in fictional demo), the name of a file
as the user called it (``"我们的农户.csv"``), or ``"edit"`` (changed by hand in the app).
From them the app, the maps and the exports say exactly which layers are the demo's and
which are the user's own (:meth:`Work.labelled_scenario`): real households are never called
made up.

Cache keys: :attr:`Work.layers_key` and :attr:`Work.roads_key` are digests of the layers'
content (and origins), never counters, so two sessions that hold different layers never
share a cached result, and two that hold the same layers share it safely.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
from layers.errors import InputError
from layers.households import validate_households
from layers.roads import RoadEdges
from layers.services import empty_services, validate_services
from layers.villages import validate_villages
from mapping.scenario import DEMO_DIR, Scenario
from mapping.settings import AnalysisSettings

#: The layers of a study area, in the order they are named to people.
LAYERS = ("roads", "villages", "households", "services")
#: The layers a participant can bring from a file (roads come with the data source).
FILE_LAYERS = ("households", "villages", "services")
#: How a file joins its layer: its rows are added to the layer, or replace it.
HOW = ("add", "replace")
#: Unless the participant chooses: a list of kindergartens adds to the services (it must not
#: silently remove the schools); surveyed households and a village list replace the demo's.
DEFAULT_HOW = {"households": "replace", "villages": "replace", "services": "add"}
#: The origin part of the built-in demo's layers.
DEMO = "demo"
#: The origin part of a layer changed by hand in the app.
EDIT = "edit"
#: How many changes can be undone.
UNDO_LIMIT = 30

_VALIDATE = {
    "households": validate_households,
    "villages": validate_villages,
    "services": validate_services,
}

i18n.register(
    {
        "state.layer.roads": {"zh": "道路", "en": "roads"},
        "state.layer.villages": {"zh": "村庄位置", "en": "village positions"},
        "state.layer.households": {"zh": "农户", "en": "households"},
        "state.layer.services": {"zh": "幼儿园和学校", "en": "kindergartens and schools"},
        "state.list.sep": {"zh": "、", "en": ", "},
        "state.edited": {"zh": "你的修改", "en": "your edits"},
        "state.title.mixed": {
            "zh": "{area}：{own}是你的数据（{files}），{demo}是虚构的示例",
            "en": "{area}: {own} are your data ({files}); {demo} are fictional demo data",
        },
        "state.banner.demo": {
            "zh": "示例数据：旗县边界和村名真实，道路、农户、幼儿园和学校均为虚构。",
            "en": "Demo data: the Banner outline and village names are real; roads, households, "
            "kindergartens and schools are fictional.",
        },
        "state.banner.mixed": {
            "zh": "你的数据：{own}（{files}）。虚构的示例数据：{demo}（旗县边界和村名是真实的）。",
            "en": "Your data: {own} ({files}). Fictional demo data: {demo} (the Banner outline "
            "and the village names are real).",
        },
        "state.step.load_source": {"zh": "载入 {name}", "en": "loading {name}"},
        "state.step.load_demo": {"zh": "载入示例旗县", "en": "loading the demo Banner"},
        "state.step.add_layer": {
            "zh": "把 {file} 加入{layer}",
            "en": "adding {file} to the {layer}",
        },
        "state.step.replace_layer": {
            "zh": "用 {file} 替换{layer}",
            "en": "replacing the {layer} with {file}",
        },
        "state.step.load_files": {"zh": "读入 {files}", "en": "reading {files}"},
        "state.step.edit": {"zh": "编辑{layer}", "en": "editing the {layer}"},
        "state.step.proposals": {"zh": "修改拟建点", "en": "changing the proposals"},
        "state.step.settings": {"zh": "修改设置", "en": "changing the settings"},
        "state.step.restore": {"zh": "恢复自动保存的工作", "en": "restoring the autosaved work"},
        "state.step.open_project": {"zh": "打开项目 {name}", "en": "opening the project {name}"},
        "error.state.duplicate_ids": {
            "zh": "{file} 中有 {count} 个编号在{layer}里已经存在（{ids}）。请改用“替换”，"
            "或先修改这些编号。",
            "en": "{file}: {count} id(s) are already in the {layer} ({ids}). Choose 'replace' "
            "instead, or change those ids first.",
        },
    }
)


# --------------------------------------------------------------------------------------------
# Digests of content (cache keys)


def _update_series(h, s: pd.Series) -> None:
    if isinstance(s.dtype, gpd.array.GeometryDtype):
        wkb = shapely.to_wkb(np.asarray(s.array, dtype=object))
        h.update(b"|".join(b"-" if w is None else w for w in wkb))
        return
    try:
        h.update(pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())
    except TypeError:  # cells pandas cannot hash (lists, dicts): their text stands for them
        h.update("\x1f".join(map(repr, s.tolist())).encode("utf-8", "surrogatepass"))


def digest_frame(frame: pd.DataFrame | None) -> str:
    """A digest of a layer's content: its index, columns, dtypes and every cell (geometries
    by their WKB). Equal layers have equal digests; any change of a cell changes it."""
    h = hashlib.blake2b(digest_size=16)
    if frame is None:
        return "none"
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    _update_series(h, pd.Series(frame.index.astype(str), dtype=object))
    for col in frame.columns:
        h.update(str(col).encode())
        _update_series(h, frame[col])
    return h.hexdigest()


def digest_roads(roads: RoadEdges) -> str:
    """A digest of every array of a :class:`~layers.roads.RoadEdges`."""
    h = hashlib.blake2b(digest_size=16)
    for f in fields(roads):
        arr = np.ascontiguousarray(getattr(roads, f.name))
        h.update(f"{f.name}:{arr.dtype.str}:{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def digest_settings(settings: AnalysisSettings) -> str:
    """A digest of analysis settings (their JSON, keys sorted)."""
    from dataclasses import asdict

    text = json.dumps(asdict(settings), sort_keys=True, default=repr)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _digest_layer(scenario: Scenario, layer: str) -> str:
    value = getattr(scenario, layer)
    return digest_roads(value) if layer == "roads" else digest_frame(value)


# --------------------------------------------------------------------------------------------
# One state of the work


@dataclass(frozen=True)
class Step:
    """What one change did, for the undo and redo buttons: a message key, its values, and
    which of them name a layer (put into words in the language shown)."""

    key: str
    params: tuple[tuple[str, str], ...] = ()
    layer_params: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        """The change in words, in ``lang``."""
        values = {
            k: i18n.t(f"state.layer.{v}", lang) if k in self.layer_params else v
            for k, v in self.params
        }
        return i18n.t(self.key, lang, **values)


def _step(key: str, *, layer: str | None = None, **params: object) -> Step:
    pairs = tuple((k, str(v)) for k, v in params.items())
    if layer is None:
        return Step(key, pairs)
    return Step(key, (*pairs, ("layer", layer)), ("layer",))


@dataclass(frozen=True)
class Work:
    """One state of a session's work (never changed in place).

    Attributes
    ----------
    scenario
        The layers as loaded and edited (the demo keeps its own title and ``fictional``
        flag here; :meth:`labelled_scenario` says what the layers really are).
    origins
        Per layer of :data:`LAYERS`, the parts it holds: :data:`DEMO`, file names as the
        user called them, :data:`EDIT`.
    proposals
        Proposed services (services schema, ``source="proposed"``); empty when none.
    settings
        The analysis settings.
    digests
        Per layer, the digest of its content (:func:`digest_frame`, :func:`digest_roads`).
    """

    scenario: Scenario
    origins: Mapping[str, tuple[str, ...]]
    proposals: gpd.GeoDataFrame
    settings: AnalysisSettings
    digests: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.digests:
            digests = {layer: _digest_layer(self.scenario, layer) for layer in LAYERS}
            object.__setattr__(self, "digests", digests)
        object.__setattr__(self, "origins", {k: tuple(self.origins[k]) for k in LAYERS})

    # -- making one

    @classmethod
    def start(
        cls,
        scenario: Scenario,
        origin: str,
        settings: AnalysisSettings | None = None,
        proposals: gpd.GeoDataFrame | None = None,
        origins: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Work:
        """The work of a new data source: every layer from ``origin`` (:data:`DEMO`, or the
        name of the OSM file, download or project as the user called it), unless
        ``origins`` says otherwise (a project that kept its layers' origins)."""
        known = dict(origins or {})
        return cls(
            scenario=scenario,
            origins={layer: tuple(known.get(layer) or (origin,)) for layer in LAYERS},
            proposals=empty_services() if proposals is None else proposals,
            settings=settings or AnalysisSettings(),
        )

    # -- what it is

    @property
    def roads_key(self) -> str:
        """Cache key of the routing network: the roads' content."""
        return self.digests["roads"]

    @property
    def layers_key(self) -> str:
        """Cache key of the distances: every layer's content and origin (the origins decide
        what the maps and exports say about the data)."""
        text = json.dumps([self.digests, self.origins], sort_keys=True, ensure_ascii=False)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    @property
    def proposals_key(self) -> str:
        """Cache key of the proposals' content."""
        return digest_frame(self.proposals)

    def is_demo(self, layer: str) -> bool:
        """Whether ``layer`` holds demo (fictional) data."""
        return DEMO in self.origins[layer]

    def is_pure_demo(self) -> bool:
        """Whether every layer is the untouched demo."""
        return all(self.origins[layer] == (DEMO,) for layer in LAYERS)

    def own_files(self) -> list[str]:
        """The user's file names the layers hold, in order, each once."""
        names = [p for layer in LAYERS for p in self.origins[layer] if p not in (DEMO, EDIT)]
        return list(dict.fromkeys(names))

    def _lists(self, lang: str) -> tuple[str, str, str] | None:
        """(own layers, their files or edits, demo layers) in words; None when no layer is
        the demo's or none is the user's."""
        sep = i18n.t("state.list.sep", lang)
        demo = [layer for layer in LAYERS if self.is_demo(layer)]
        own = [layer for layer in LAYERS if set(self.origins[layer]) - {DEMO}]
        if not demo or not own:
            return None
        files = self.own_files()
        if any(EDIT in self.origins[layer] for layer in own):
            files.append(i18n.t("state.edited", lang))
        name = lambda layer: i18n.t(f"state.layer.{layer}", lang)  # noqa: E731
        return (
            sep.join(map(name, own)),
            sep.join(files),
            sep.join(map(name, demo)),
        )

    def banner(self, lang: str) -> str | None:
        """The note the app shows under its title: which layers are fictional demo data and
        which are the user's; None when no layer is the demo's."""
        if self.is_pure_demo():
            return i18n.t("state.banner.demo", lang)
        lists = self._lists(lang)
        if lists is None:
            return None
        own, files, demo = lists
        return i18n.t("state.banner.mixed", lang, own=own, files=files, demo=demo)

    def labelled_scenario(self) -> Scenario:
        """The scenario with a title and ``fictional`` flag that tell the truth per layer.

        The untouched demo keeps its own title and flag. When some layers are the user's
        and some the demo's, the title names both (in each language) and ``fictional`` is
        False, so no map, print or summary says that the user's data is made up. When no
        layer is the demo's, or none is the user's, the scenario's own title and flag stand
        (a project saved without origins says what it said when it was saved).
        """
        sc = self.scenario
        if self.is_pure_demo() or not sc.fictional or self._lists("en") is None:
            return sc  # all demo, or none of it: the scenario's own title and flag stand
        titles = {}
        for lang in i18n.LANGUAGES:
            own, files, demo = self._lists(lang)
            area = demo_area_name(lang) or sc.title.get(lang, "")
            titles[lang] = i18n.t(
                "state.title.mixed", lang, area=area, own=own, files=files, demo=demo
            )
        return replace(sc, title=titles, fictional=False)

    # -- changing it (each returns a new Work)

    def with_layer(self, layer: str, frame: gpd.GeoDataFrame, parts: tuple[str, ...]) -> Work:
        """A copy with ``layer`` replaced by ``frame`` whose origin is ``parts``."""
        scenario = self.scenario.replace(**{layer: frame})
        origins = {**self.origins, layer: tuple(dict.fromkeys(parts))}
        digests = {**self.digests, layer: _digest_layer(scenario, layer)}
        return replace(self, scenario=scenario, origins=origins, digests=digests)

    def with_file(self, layer: str, frame: gpd.GeoDataFrame, name: str, how: str) -> Work:
        """A copy with a layer read from the file ``name`` added to ``layer`` or replacing
        it (``how`` of :data:`HOW`).

        Raises
        ------
        InputError
            ``error.state.duplicate_ids`` when adding rows whose ids the layer already has.
        """
        if layer not in FILE_LAYERS:
            raise ValueError(f"not a file layer: {layer!r}")
        if how not in HOW:
            raise ValueError(f"how must be one of {HOW}, not {how!r}")
        if how == "replace":
            return self.with_layer(layer, frame, (name,))
        old = getattr(self.scenario, layer)
        if len(old) == 0:
            return self.with_layer(layer, frame, (name,))
        clash = [str(i) for i in frame.index if i in old.index]
        if clash:
            raise InputError(
                "error.state.duplicate_ids",
                file=name,
                count=len(clash),
                ids=", ".join(clash[:5]) + (" …" if len(clash) > 5 else ""),
                layer=i18n.t(f"state.layer.{layer}", "en"),
            )
        combined = pd.concat([old, frame.reindex(columns=old.columns)])
        joined = _VALIDATE[layer](gpd.GeoDataFrame(combined, geometry="geometry", crs=old.crs))
        return self.with_layer(layer, joined, (*self.origins[layer], name))

    def with_edit(self, layer: str, frame: gpd.GeoDataFrame) -> Work:
        """A copy with ``layer`` changed by hand (its origin gains :data:`EDIT`)."""
        return self.with_layer(layer, frame, (*self.origins[layer], EDIT))

    def with_proposals(self, proposals: gpd.GeoDataFrame | None) -> Work:
        return replace(self, proposals=empty_services() if proposals is None else proposals)

    def with_settings(self, settings: AnalysisSettings) -> Work:
        return replace(self, settings=settings)

    # -- saving it

    def project_extra(self) -> dict:
        """What a saved project keeps beside the layers so that opening it gives this work
        back exactly (the layers' origins)."""
        return {"origins": {layer: list(parts) for layer, parts in self.origins.items()}}


def origins_from_extra(extra: Mapping | None) -> dict[str, tuple[str, ...]] | None:
    """The layers' origins a project's ``extra`` holds (:meth:`Work.project_extra`), or None
    when it holds none or they are not well-formed (an older or edited file)."""
    raw = (extra or {}).get("origins")
    if not isinstance(raw, dict):
        return None
    out = {}
    for layer in LAYERS:
        parts = raw.get(layer)
        if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
            return None
        out[layer] = tuple(parts)
    return out


@cache
def _demo_spec() -> dict:
    try:
        return json.loads((DEMO_DIR / "scenario.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def demo_area_name(lang: str) -> str:
    """The demo's real Banner name in ``lang`` (empty when the demo does not say)."""
    banner = _demo_spec().get("banner") or {}
    return str(banner.get(f"name_{lang}") or "")


def distance_km_shown(dist_m: pd.Series, limit_m: float) -> pd.Series:
    """Distances for a table, in km with one decimal, or with as many more (up to three) as
    it takes near the threshold for the number and the flag to agree: 3004 m against a 3 km
    threshold is beyond it and shows as 3.004, not "3.0". The flags compare at the
    millimetre (:mod:`mapping.gaps`), so three decimals always suffice."""
    beyond = dist_m.round(3) > limit_m
    out = (dist_m / 1000).round(1)
    for decimals in (2, 3):
        shown_beyond = out * 1000 > limit_m
        unclear = shown_beyond != beyond
        if not unclear.any():
            break
        out = out.where(~unclear, (dist_m / 1000).round(decimals))
    return out


# --------------------------------------------------------------------------------------------
# Undo and redo


class History:
    """The session's current :class:`Work` and the changes that led to it.

    Parameters
    ----------
    work
        Where the session starts.
    limit
        How many changes can be undone (the oldest are forgotten beyond it).
    """

    def __init__(self, work: Work, limit: int = UNDO_LIMIT) -> None:
        self.work = work
        self.limit = limit
        self._undo: list[tuple[Work, Step]] = []
        self._redo: list[tuple[Work, Step]] = []
        #: Changes whenever the work changes (a new value each time, for "has anything
        #: changed since" checks).
        self.revision = 0

    def change(self, work: Work, step: Step) -> None:
        """Make ``work`` current; ``step`` says what changed. Undo brings back the current."""
        if work is self.work:
            return
        self._undo.append((self.work, step))
        del self._undo[: -self.limit]
        self._redo.clear()
        self.work = work
        self.revision += 1

    def undo(self) -> Step | None:
        """Go back one change; the step undone (None when there is nothing to undo)."""
        if not self._undo:
            return None
        work, step = self._undo.pop()
        self._redo.append((self.work, step))
        self.work = work
        self.revision += 1
        return step

    def redo(self) -> Step | None:
        """Do again the change last undone; that step (None when there is none)."""
        if not self._redo:
            return None
        work, step = self._redo.pop()
        self._undo.append((self.work, step))
        self.work = work
        self.revision += 1
        return step

    @property
    def undo_step(self) -> Step | None:
        """What :meth:`undo` would undo."""
        return self._undo[-1][1] if self._undo else None

    @property
    def redo_step(self) -> Step | None:
        """What :meth:`redo` would do again."""
        return self._redo[-1][1] if self._redo else None

    def __len__(self) -> int:
        """How many changes can be undone."""
        return len(self._undo)


# Steps, named where they are made (the app asks for them by what happened).


def step_load_source(name: str) -> Step:
    return _step("state.step.load_source", name=name)


def step_load_demo() -> Step:
    return _step("state.step.load_demo")


def step_files(loaded: list[tuple[str, str, str]]) -> Step:
    """The step of reading files: ``loaded`` is ``[(layer, file name, how), ...]``."""
    if len(loaded) == 1:
        layer, name, how = loaded[0]
        key = "state.step.add_layer" if how == "add" else "state.step.replace_layer"
        return _step(key, layer=layer, file=name)
    return _step("state.step.load_files", files=", ".join(name for _, name, _ in loaded))


def step_edit(layer: str) -> Step:
    return _step("state.step.edit", layer=layer)


def step_proposals() -> Step:
    return _step("state.step.proposals")


def step_settings() -> Step:
    return _step("state.step.settings")


def step_restore() -> Step:
    return _step("state.step.restore")


def step_open_project(name: str) -> Step:
    return _step("state.step.open_project", name=name)
