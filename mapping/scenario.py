"""A study area's layers, brought together: roads, villages, households, services.

A :class:`Scenario` is what an analysis runs on. It comes from an OSM extract (a local file, or
downloaded once and cached), optionally with the user's own villages, households and services
files, which then replace what OSM has of that layer. The built-in demo is a scenario too.

The user's files are read in this order: villages, households (so that a household without
coordinates is placed at its village, from the file or from OSM), services. Each file's
coordinate system is then checked against the roads (:mod:`mapping.coorddetect`): with
``coords="auto"`` the positions are re-read in the system under which they sit closest to
the roads, with a note saying which and how sure; otherwise a warning says when another
system fits clearly better. Column mappings (``--columns``) come in as a
:class:`layers.columns.ColumnChoice`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers import i18n
from layers.columns import ColumnChoice, as_column_choice, check_shared_used
from layers.coords import AUTO, normalize_choice
from layers.errors import InputError
from layers.households import empty_households, read_households
from layers.roads import RoadEdges
from layers.services import read_services
from layers.villages import read_villages
from mapping.coorddetect import RoadSnapper, settle_layer_coords
from mapping.netcache import read_osm_cached

#: The built-in demo scenario (fictional roads, households and services in a real Banner).
DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"

i18n.register(
    {
        "error.scenario.no_roads_source": {
            "zh": "没有道路数据：请给出本地 OSM 文件（--osm），或联网时给出地名（--place）或范围（--bbox）。",
            "en": "No road data: give a local OSM file (--osm), or, when online, a place name "
            "(--place) or a bounding box (--bbox).",
        },
        "error.scenario.bad_scenario_file": {
            "zh": "情景文件 {file} 无法读取：{problem}。",
            "en": "The scenario file {file} cannot be read: {problem}.",
        },
        "scenario.osm_title": {"zh": "研究区：{name}", "en": "Study area: {name}"},
    }
)


@dataclass(frozen=True)
class Scenario:
    """The layers of one study area (all in EPSG:4326).

    Attributes
    ----------
    roads
        Road segments for routing.
    villages, households, services
        The layers (see their modules in :mod:`layers` for the schemas).
    boundaries
        Administrative boundaries found in the OSM data (may be empty).
    study_area
        The outline of the study area (WGS84), or None.
    title
        ``{"zh": ..., "en": ...}``.
    fictional
        True for the demo: every map and export then says the data is fictional.
    sources
        Where the layers came from, for attribution.
    osm_source
        ``(path, clip, include_childcare)`` of the local OSM file the roads came from, so the
        routing network can be reopened from the disk cache; None otherwise.
    """

    roads: RoadEdges
    villages: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame
    study_area: shapely.Geometry | None = None
    title: dict[str, str] = field(default_factory=lambda: {"zh": "", "en": ""})
    fictional: bool = False
    sources: tuple[str, ...] = ()
    osm_source: tuple | None = None

    def outline(self) -> shapely.Geometry | None:
        """The study area, or else the convex hull of the roads grown by about 2 km (WGS84)."""
        if self.study_area is not None:
            return self.study_area
        if self.roads.n_nodes < 3:
            return None
        hull = shapely.convex_hull(
            shapely.multipoints(np.column_stack([self.roads.lon, self.roads.lat]))
        )
        return hull.buffer(0.02)  # ~2 km in degrees at these latitudes: a margin, not a measure

    def outside_warning(self, lang: str) -> str | None:
        """A warning naming the households far outside :meth:`outline`, or None."""
        from layers.households import describe_households_outside, find_households_outside

        outside = find_households_outside(self.households, self.outline())
        return describe_households_outside(outside, lang)

    def replace(self, **changes) -> Scenario:
        """A copy with some layers replaced (new roads are no longer those of ``osm_source``)."""
        if "roads" in changes and "osm_source" not in changes:
            changes["osm_source"] = None
        return replace(self, **changes)


def load_scenario(
    *,
    osm: str | Path | None = None,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    villages: str | Path | None = None,
    households: str | Path | None = None,
    services: str | Path | None = None,
    coords: str | None = None,
    include_childcare: bool = False,
    clip: tuple[float, float, float, float] | shapely.Geometry | None = None,
    cache_dir: str | Path | None = None,
    progress=None,
    columns: ColumnChoice | dict | None = None,
    require_coords: bool = False,
) -> Scenario:
    """Load a study area from OSM (a file, or online) plus optional user files.

    Parameters
    ----------
    osm
        A local ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file.
    place, bbox
        Download the area from OpenStreetMap instead (needs internet the first time; cached).
        ``bbox`` is (west, south, east, north) in degrees.
    villages, households, services
        The user's own layer files; each replaces OSM's layer of that kind.
    coords
        Coordinate system of the user's files: ``wgs84``, ``gcj02`` or ``bd09``; ``"auto"``
        to let the roads decide (:mod:`mapping.coorddetect`); ``None`` for each format's
        default (WGS84; GCJ-02 for 奥维 files), checked against the roads with a warning.
    include_childcare
        Also read ``amenity=childcare`` from OSM.
    clip
        Keep only this bbox or polygon (WGS84) of a local OSM file.
    cache_dir
        Where downloads are cached.
    progress
        Optional callable taking a short message, for long steps.
    columns
        Which column is which in the user's files (see :func:`replace_layers`).
    require_coords
        Refuse households without coordinates instead of placing them at their village.
    """
    say = progress or (lambda _msg: None)
    if osm is not None:
        say(f"reading {osm}")
        extract = read_osm_cached(osm, clip=clip, include_childcare=include_childcare)
        name = Path(str(osm)).name
    elif place is not None or bbox is not None:
        from layers.overpass import read_osm_online  # the only module that uses the network

        say("downloading from OpenStreetMap")
        extract = read_osm_online(
            place=place,
            bbox=bbox,
            cache_dir=cache_dir,
            include_childcare=include_childcare,
            progress=lambda key, params: say(i18n.t(key, "en", **params)),
        )
        name = place or ",".join(f"{v:g}" for v in bbox)
    else:
        raise InputError("error.scenario.no_roads_source")

    study_area = clip if isinstance(clip, shapely.Geometry) else None
    base = Scenario(
        roads=extract.roads,
        villages=extract.villages,
        households=empty_households(),
        services=extract.services,
        boundaries=extract.boundaries,
        study_area=study_area,
        title={lang: i18n.t("scenario.osm_title", lang, name=name) for lang in ("zh", "en")},
        sources=("© OpenStreetMap contributors",),
        osm_source=(str(osm), clip, include_childcare) if osm is not None else None,
    )
    return replace_layers(
        base,
        villages=villages,
        households=households,
        services=services,
        coords=coords,
        progress=progress,
        columns=columns,
        require_coords=require_coords,
    )


def replace_layers(
    scenario: Scenario,
    *,
    villages: str | Path | None = None,
    households: str | Path | None = None,
    services: str | Path | None = None,
    coords: str | None = None,
    progress=None,
    columns: ColumnChoice | dict | None = None,
    require_coords: bool = False,
) -> Scenario:
    """A copy of ``scenario`` with layers read from the user's files.

    Parameters
    ----------
    scenario
        The scenario whose layers are replaced (its roads check the coordinates).
    villages, households, services
        The user's files; each replaces that layer. Households without coordinates are
        placed at their village in the new villages layer, else the scenario's.
    coords
        ``wgs84``, ``gcj02``, ``bd09``, ``"auto"`` or None (see :func:`load_scenario`).
    progress
        Optional callable taking a short message.
    columns
        Which column is which: a :class:`layers.columns.ColumnChoice` (the command line's
        ``--columns``), ``{role: header}`` (for every file that has the header) or
        ``{layer: {role: header}}``. A shared header that no file has is
        ``error.columns.unused``.
    require_coords
        Refuse households without coordinates (``error.tables.missing_coordinate``).
    """
    say = progress or (lambda _msg: None)
    choice = normalize_choice(coords, AUTO) if coords is not None else None
    auto = choice == AUTO
    read_coords = None if choice in (None, AUTO) else choice
    mapping = as_column_choice(columns)
    changes: dict[str, object] = {}
    sources = list(scenario.sources)
    files = []
    snapper = RoadSnapper(scenario.roads)  # the roads projected and binned once for all files
    for layer, path in (("villages", villages), ("households", households), ("services", services)):
        if path is None:
            continue
        say(f"reading {path}")
        kwargs = {"coords": read_coords, "columns": mapping.for_layer(layer)}
        if layer == "villages":
            frame = read_villages(path, **kwargs)
        elif layer == "households":
            frame = read_households(
                path,
                villages=changes.get("villages", scenario.villages),
                require_coords=require_coords,
                **kwargs,
            )
        else:
            frame = read_services(path, **kwargs)
        frame = settle_layer_coords(frame, scenario.roads, what=layer, auto=auto, snapper=snapper)
        changes[layer] = frame
        files.append(Path(str(path)).name)
        sources.append(Path(str(path)).name)
    if mapping.shared:
        check_shared_used(mapping, changes, files)
    return scenario.replace(**changes, sources=tuple(sources))


def load_demo(demo_dir: str | Path = DEMO_DIR) -> Scenario:
    """Load the built-in demo Banner (fictional roads, services and households).

    Parameters
    ----------
    demo_dir
        Folder holding ``scenario.json`` and the files it names.
    """
    demo_dir = Path(demo_dir)
    spec_path = demo_dir / "scenario.json"
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            "error.scenario.bad_scenario_file", file=str(spec_path), problem=str(exc)
        ) from exc
    base = load_scenario(
        osm=demo_dir / spec["osm"],
        households=demo_dir / spec["households"] if spec.get("households") else None,
        coords=spec.get("households_coords", "wgs84"),
    )
    outline = None
    if spec.get("boundary"):
        outline = gpd.read_file(demo_dir / spec["boundary"]).to_crs("EPSG:4326").union_all()
    return base.replace(
        study_area=outline,
        title={"zh": spec.get("title_zh", ""), "en": spec.get("title_en", "")},
        fictional=bool(spec.get("fictional", False)),
        sources=(*base.sources, spec.get("note_en", "")),
    )
