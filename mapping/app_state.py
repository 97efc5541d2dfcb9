"""The workshop app's session: the participant's work, where each layer came from, and undo.

``app.py`` draws this state and turns clicks into the calls below; nothing here imports
Streamlit, so all of it is tested without a browser (``tests/test_app_state.py``).

A :class:`Work` is one state of the work, never changed in place: the layers (a
:class:`~mapping.scenario.Scenario`), where each layer came from (its *origin*), the
proposals, the analysis settings, and the workshop's corrections to the roads: the community
roads, the road closures and slow-downs (:mod:`layers.tracks`) and the road condition the
page shows. Every change makes a new :class:`Work`; a :class:`History` keeps the earlier
ones, so every change to layers, proposals, corrections and settings can be undone (and
redone).

Origins: each layer (``roads``, ``villages``, ``households``, ``services``) has a tuple of
parts saying what it holds: ``"demo"`` (the built-in fictional demo), the name of a file
as the user called it (``"我们的农户.csv"``), or ``"edit"`` (changed by hand in the app).
From them the app, the maps and the exports say exactly which layers are the demo's and
which are the user's own (:meth:`Work.labelled_scenario`): real households are never called
made up.

Cache keys: :attr:`Work.layers_key` and :attr:`Work.roads_key` are digests of the layers'
content (and origins), never counters, so two sessions that hold different layers never
share a cached result, and two that hold the same layers share it safely;
:attr:`Work.community_key`, :attr:`Work.closures_key` and :attr:`Work.analysis_key` do the
same for the corrections.
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
from layers.tracks import (
    DEFAULT_ROAD_CLASS,
    ROAD_CLASSES,
    empty_closures,
    empty_community_roads,
    make_closures,
    make_community_roads,
    validate_closures,
    validate_community_roads,
)
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
#: The workshop's corrections to the roads, digested beside the layers.
CORRECTIONS = ("community", "closures")
#: The road condition of the usual days (no closure applied).
USUAL = ""

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
        "state.step.add_road": {
            "zh": "添加社区道路 {name}",
            "en": "adding the community road {name}",
        },
        "state.step.read_roads": {"zh": "读入道路 {file}", "en": "reading the roads of {file}"},
        "state.step.edit_roads": {"zh": "修改社区道路", "en": "editing the community roads"},
        "state.step.delete_road": {
            "zh": "删除社区道路 {name}",
            "en": "deleting the community road {name}",
        },
        "state.step.add_closure": {
            "zh": "在“{condition}”下封路或限速",
            "en": "closing or slowing roads in '{condition}'",
        },
        "state.step.read_closures": {
            "zh": "读入封路 {file}",
            "en": "reading the closures of {file}",
        },
        "state.step.delete_closure": {"zh": "删除封路 {name}", "en": "deleting the closure {name}"},
        "state.step.condition": {"zh": "选择路况", "en": "choosing the road condition"},
        "error.state.road_class": {
            "zh": "社区道路 {road} 的类型“{value}”不认识。可选：{classes}。",
            "en": "Community road {road}: the class '{value}' is not known. Choose one of "
            "{classes}.",
        },
        "error.state.no_condition": {
            "zh": "请先给路况起个名字（例如“冬季积雪”或“雨季”），封路和限速都归在路况下面。",
            "en": "Name the road condition first (e.g. 'winter snow' or 'rainy season'): "
            "closures and slow-downs belong to a condition.",
        },
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
        Per layer of :data:`LAYERS` and of :data:`CORRECTIONS`, the digest of its content
        (:func:`digest_frame`, :func:`digest_roads`).
    community
        The community roads (:mod:`layers.tracks`; empty when none), EPSG:4326.
    closures
        The road closures and slow-downs, grouped into named conditions (empty when none).
    condition
        The condition the page shows (its closures applied), or :data:`USUAL` for none.
    """

    scenario: Scenario
    origins: Mapping[str, tuple[str, ...]]
    proposals: gpd.GeoDataFrame
    settings: AnalysisSettings
    digests: Mapping[str, str] = field(default_factory=dict)
    community: gpd.GeoDataFrame = field(default_factory=empty_community_roads)
    closures: gpd.GeoDataFrame = field(default_factory=empty_closures)
    condition: str = USUAL

    def __post_init__(self) -> None:
        if not self.digests:
            digests = {layer: _digest_layer(self.scenario, layer) for layer in LAYERS}
            digests["community"] = digest_frame(self.community)
            digests["closures"] = digest_frame(self.closures)
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

    def with_corrections(
        self,
        community: gpd.GeoDataFrame | None,
        closures: gpd.GeoDataFrame | None,
        condition: str | None = USUAL,
    ) -> Work:
        """A copy with these community roads, closures and shown condition (a project's or
        an autosave's; an unknown condition is the usual roads)."""
        community = empty_community_roads() if community is None else community
        closures = empty_closures() if closures is None else closures
        digests = {
            **self.digests,
            "community": digest_frame(community),
            "closures": digest_frame(closures),
        }
        known = condition in condition_list(closures)
        return replace(
            self,
            community=community,
            closures=closures,
            condition=condition if known else USUAL,
            digests=digests,
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
        layers = {layer: self.digests[layer] for layer in LAYERS}
        text = json.dumps([layers, self.origins], sort_keys=True, ensure_ascii=False)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    @property
    def proposals_key(self) -> str:
        """Cache key of the proposals' content."""
        return digest_frame(self.proposals)

    @property
    def community_key(self) -> str:
        """Cache key of the community roads' content."""
        return self.digests["community"]

    @property
    def closures_key(self) -> str:
        """Cache key of the closures' content and of the condition shown."""
        text = json.dumps([self.digests["closures"], self.condition], ensure_ascii=False)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    @property
    def analysis_key(self) -> str:
        """Cache key of the analysis the page shows: the layers, the community roads, the
        closures and the condition shown."""
        text = json.dumps(
            [self.layers_key, self.community_key, self.closures_key], ensure_ascii=False
        )
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    @property
    def conditions(self) -> list[str]:
        """The names of the road conditions the closures hold, in their order."""
        return condition_list(self.closures)

    def is_untouched_demo(self) -> bool:
        """Whether the work is the demo as it came: no layer of the user's, no proposal,
        no community road and no closure (nothing to autosave)."""
        return (
            self.is_pure_demo()
            and not len(self.proposals)
            and not len(self.community)
            and not len(self.closures)
        )

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

    # -- the workshop's corrections to the roads

    def _with_community(self, community: gpd.GeoDataFrame) -> Work:
        community = validate_community_roads(community)
        digests = {**self.digests, "community": digest_frame(community)}
        return replace(self, community=community, digests=digests)

    def _with_closures(self, closures: gpd.GeoDataFrame) -> Work:
        closures = validate_closures(closures)
        digests = {**self.digests, "closures": digest_frame(closures)}
        condition = self.condition if self.condition in condition_list(closures) else USUAL
        return replace(self, closures=closures, digests=digests, condition=condition)

    def with_drawn_road(
        self,
        line: shapely.LineString,
        *,
        road_class: str = DEFAULT_ROAD_CLASS,
        name: str | None = None,
        added_by: str | None = None,
    ) -> Work:
        """A copy with a line drawn on the map (lon/lat) added as a community road.

        Raises
        ------
        InputError
            ``error.tracks.no_usable_line`` for a line without two distinct points.
        """
        road = make_community_roads(
            [line],
            road_class=road_class,
            name=_text_or_none(name),
            added_by=_text_or_none(added_by),
            first_id=next_number(self.community.index, "R"),
        )
        return self._with_community(_appended(self.community, road))

    def with_road_file(self, roads: gpd.GeoDataFrame) -> Work:
        """A copy with the community roads read from a file added (ids numbered on)."""
        return self._with_community(
            _appended(self.community, _renumbered(roads, self.community.index, "R", "road_id"))
        )

    def with_road_edits(self, edits: pd.DataFrame) -> Work:
        """A copy with the class, name and who-added of community roads changed: ``edits``
        has the roads' ids as index and any of ``road_class``, ``name``, ``added_by``.

        Raises
        ------
        InputError
            ``error.state.road_class`` for a class not in :data:`layers.tracks.ROAD_CLASSES`.
        """
        out = self.community.copy()
        rows = edits.index.intersection(out.index)
        for col in ("road_class", "name", "added_by"):
            if col not in edits:
                continue
            values = out[col].astype(object).copy()
            values.loc[rows] = edits.loc[rows, col].astype(object)
            if col == "road_class":
                bad = values[~values.isin(ROAD_CLASSES)]
                if len(bad):
                    raise InputError(
                        "error.state.road_class",
                        road=str(bad.index[0]),
                        value=str(bad.iloc[0]),
                        classes=", ".join(ROAD_CLASSES),
                    )
            else:
                values = values.astype(object).map(_blank_to_na)
            out[col] = pd.array(values.to_numpy(dtype=object), dtype="str")
        if digest_frame(out) == self.digests["community"]:
            return self
        return self._with_community(out)

    def without_road(self, road_id: str) -> Work:
        """A copy without the community road ``road_id``."""
        return self._with_community(self.community.drop(index=[road_id]))

    def with_closure(
        self,
        geometry: shapely.Geometry,
        *,
        condition: str,
        speed_kmh: float | None = None,
        name: str | None = None,
    ) -> Work:
        """A copy with an area or a line (lon/lat) that closes the roads it touches under
        ``condition`` (or slows them to ``speed_kmh``).

        Raises
        ------
        InputError
            ``error.state.no_condition`` when ``condition`` is blank.
        """
        condition = (condition or "").strip()
        if not condition:
            raise InputError("error.state.no_condition")
        closure = make_closures(
            [geometry],
            condition=condition,
            speed_kmh=speed_kmh,
            name=_text_or_none(name),
            first_id=next_number(self.closures.index, "C"),
        )
        return self._with_closures(_appended(self.closures, closure))

    def with_closure_file(self, closures: gpd.GeoDataFrame) -> Work:
        """A copy with the closures read from a file added (ids numbered on)."""
        return self._with_closures(
            _appended(self.closures, _renumbered(closures, self.closures.index, "C", "closure_id"))
        )

    def without_closure(self, closure_id: str) -> Work:
        """A copy without the closure ``closure_id``."""
        return self._with_closures(self.closures.drop(index=[closure_id]))

    def with_condition(self, condition: str) -> Work:
        """A copy showing ``condition`` (:data:`USUAL`: no closure applied)."""
        if condition != USUAL and condition not in self.conditions:
            raise ValueError(f"no road condition {condition!r}")
        return replace(self, condition=condition)

    # -- saving it

    def project_extra(self) -> dict:
        """What a saved project keeps beside the layers so that opening it gives this work
        back exactly (the layers' origins, the condition shown)."""
        return {
            "origins": {layer: list(parts) for layer, parts in self.origins.items()},
            "condition": self.condition,
        }


def condition_list(closures: gpd.GeoDataFrame) -> list[str]:
    """The condition names of a closures layer, in the order they first appear."""
    return list(dict.fromkeys(closures["condition"].astype(str))) if len(closures) else []


def condition_from_extra(extra: Mapping | None) -> str:
    """The condition a project's ``extra`` says was shown (:data:`USUAL` when none)."""
    value = (extra or {}).get("condition")
    return value if isinstance(value, str) else USUAL


def next_number(ids: pd.Index, prefix: str) -> int:
    """The number after the largest ``<prefix><n>`` id (1 when none), so a new feature never
    takes the id of one deleted and brought back by undo."""
    numbers = [
        int(i[len(prefix) :])
        for i in map(str, ids)
        if i.startswith(prefix) and i[len(prefix) :].isdigit()
    ]
    return max(numbers, default=0) + 1


def _text_or_none(value: str | None) -> str | None:
    """A user's text, stripped; None when blank."""
    text = (value or "").strip()
    return text or None


def _blank_to_na(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return pd.NA
    text = str(value).strip()
    return text or pd.NA


def _renumbered(frame: gpd.GeoDataFrame, taken: pd.Index, prefix: str, id_col: str):
    """``frame`` with its ids renumbered after those ``taken`` (``R1``... of a file would
    clash with the roads already there); its notes kept."""
    first = next_number(taken, prefix)
    ids = [f"{prefix}{first + i}" for i in range(len(frame))]
    out = frame.copy()
    out.attrs = dict(frame.attrs)
    out[id_col] = ids
    out.index = pd.Index(ids, dtype="str", name=id_col)
    return out


def _appended(layer: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not len(layer):
        return new
    out = pd.concat([layer, new.reindex(columns=layer.columns)])
    return gpd.GeoDataFrame(out, geometry="geometry", crs=layer.crs)


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


def step_add_road(name: str) -> Step:
    return _step("state.step.add_road", name=name)


def step_read_roads(file: str) -> Step:
    return _step("state.step.read_roads", file=file)


def step_edit_roads() -> Step:
    return _step("state.step.edit_roads")


def step_delete_road(name: str) -> Step:
    return _step("state.step.delete_road", name=name)


def step_add_closure(condition: str) -> Step:
    return _step("state.step.add_closure", condition=condition)


def step_read_closures(file: str) -> Step:
    return _step("state.step.read_closures", file=file)


def step_delete_closure(name: str) -> Step:
    return _step("state.step.delete_closure", name=name)


def step_condition() -> Step:
    return _step("state.step.condition")


# --------------------------------------------------------------------------------------------
# A road stretch picked on the map (to close it)


def road_stretch_near(
    network,
    lon: float,
    lat: float,
    *,
    max_offroad_m: float = 150.0,
    max_length_m: float = 3000.0,
) -> shapely.LineString | None:
    """The stretch of road nearest a clicked place, as a line (lon/lat) to close it by.

    A "road segment" to a person is the road between two junctions, not the piece between
    two OSM nodes (often a few metres on a curve): the nearest segment is followed along
    its OSM way in both directions through nodes where only that way's two segments meet,
    up to ``max_length_m`` in all. Written here (not in :mod:`mapping.conditions`) because
    only the app's click needs it: a closure file or a drawn line says its own extent.

    Parameters
    ----------
    network
        The :class:`mapping.network.RoadNetwork` the page shows (projected, metres).
    lon, lat
        The clicked place, WGS84.
    max_offroad_m
        A click farther than this from every road picks nothing (None).
    max_length_m
        The longest stretch returned (m).
    """
    from mapping.network import snap_points

    if network.n_segments == 0:
        return None
    x, y = network.to_projected(np.array([lon]), np.array([lat]))
    snap = snap_points(network, x, y, snap_to="any")
    if not snap.offroad_m[0] <= max_offroad_m:
        return None
    seed = int(snap.seg[0])
    u, v, way = network.seg_u, network.seg_v, network.seg_way_id
    ends = np.concatenate([u, v])
    degree = np.bincount(ends, minlength=network.n_nodes)
    length = network.seg_len_m
    chain = [seed]
    total = float(length[seed])
    # walk from each end of the seed segment while the road goes on without a junction
    heads = {0: int(u[seed]), 1: int(v[seed])}
    pieces: dict[int, list[int]] = {0: [], 1: []}
    for side in (0, 1):
        node, last = heads[side], seed
        while total < max_length_m and degree[node] == 2:
            nxt = np.flatnonzero(((u == node) | (v == node)) & (way == way[seed]))
            nxt = [int(s) for s in nxt if s != last and s not in chain and s not in pieces[side]]
            if len(nxt) != 1:
                break
            last = nxt[0]
            pieces[side].append(last)
            total += float(length[last])
            node = int(v[last]) if u[last] == node else int(u[last])
    order = [*reversed(pieces[0]), seed, *pieces[1]]
    # the nodes in order along the stretch
    nodes = [int(u[order[0]]), int(v[order[0]])]
    if len(order) > 1 and nodes[0] in (u[order[1]], v[order[1]]):
        nodes.reverse()
    for s in order[1:]:
        a, b = int(u[s]), int(v[s])
        nodes.append(b if a == nodes[-1] else a)
    lon_n, lat_n = network.to_lonlat(network.x[nodes], network.y[nodes])
    return shapely.LineString(np.column_stack([lon_n, lat_n]))


def line_length_m(line: shapely.Geometry) -> float:
    """The length of a line drawn on the map (lon/lat), metres on the WGS84 ellipsoid."""
    from pyproj import Geod

    return float(Geod(ellps="WGS84").geometry_length(line))
