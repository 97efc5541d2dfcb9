"""A study area's layers, brought together: roads, villages, households, services.

A :class:`Scenario` is what an analysis runs on. It comes from an OSM extract (a local file, or
downloaded once and cached), optionally with the user's own villages, households and services
files, which then replace what OSM has of that layer. The built-in demo is a scenario too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers import i18n
from layers.errors import InputError
from layers.households import empty_households, read_households
from layers.roads import RoadEdges
from layers.services import read_services
from layers.villages import read_villages
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
    coords: str = "wgs84",
    include_childcare: bool = False,
    clip: tuple[float, float, float, float] | shapely.Geometry | None = None,
    cache_dir: str | Path | None = None,
    progress=None,
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
        Coordinate system of lon/lat columns in user tables: ``wgs84``, ``gcj02`` or ``bd09``.
    include_childcare
        Also read ``amenity=childcare`` from OSM.
    clip
        Keep only this bbox or polygon (WGS84) of a local OSM file.
    cache_dir
        Where downloads are cached.
    progress
        Optional callable taking a short message, for long steps.
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
    )


def replace_layers(
    scenario: Scenario,
    *,
    villages: str | Path | None = None,
    households: str | Path | None = None,
    services: str | Path | None = None,
    coords: str = "wgs84",
    progress=None,
) -> Scenario:
    """A copy of ``scenario`` with layers read from the user's files.

    Each file given replaces that layer; ``coords`` is the coordinate system of lon/lat
    columns in tables (``wgs84``, ``gcj02`` or ``bd09``).
    """
    say = progress or (lambda _msg: None)
    changes: dict[str, object] = {}
    sources = list(scenario.sources)
    for layer, path, reader in (
        ("villages", villages, read_villages),
        ("households", households, read_households),
        ("services", services, read_services),
    ):
        if path is None:
            continue
        say(f"reading {path}")
        changes[layer] = reader(path, coords=coords)
        sources.append(Path(str(path)).name)
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
