"""One analysis run: network, snapping, distances per service kind, village gaps.

The command line and the app both call :func:`run_analysis`; what one can do, the other can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from mapping.access import compute_service_access
from mapping.gaps import assign_villages, compute_village_gaps
from mapping.network import RoadNetwork, build_network, snap_points
from mapping.settings import AnalysisSettings

if TYPE_CHECKING:
    from mapping.scenario import Scenario


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`run_analysis`.

    Attributes
    ----------
    scenario, settings, network
        What it ran on.
    households
        The households layer plus ``village_id``, ``village_name`` (the village used; the file's
        own value is kept as ``village_name_file``), ``village_rule``, ``offroad_m`` and the
        access columns of each kind (see :func:`mapping.access.compute_service_access`).
    villages
        Per-village gaps (see :func:`mapping.gaps.compute_village_gaps`) plus ``offroad_m``.
    services
        The services layer plus ``offroad_m`` (distance from the service to its road).
    """

    scenario: Scenario
    settings: AnalysisSettings
    network: RoadNetwork
    households: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    services: gpd.GeoDataFrame


def run_analysis(
    scenario: Scenario,
    settings: AnalysisSettings | None = None,
    *,
    network: RoadNetwork | None = None,
    progress=None,
) -> Analysis:
    """Distances from every household and village to the nearest service of each kind.

    Parameters
    ----------
    scenario
        The study area's layers.
    settings
        Mode, speeds, thresholds, kinds.
    network
        A network already built for ``scenario.roads`` and ``settings`` (the app caches it).
    progress
        Optional callable taking a short message.

    Returns
    -------
    Analysis
        New frames; the scenario's layers are not modified.
    """
    settings = settings or AnalysisSettings()
    say = progress or (lambda _msg: None)
    if network is None:
        say("building the road network")
        network = build_network(scenario.roads, settings)

    hh = scenario.households
    vil = scenario.villages
    svc = scenario.services
    say("snapping points to roads")
    hh_snap = snap_points(network, *network.project_points(hh), snap_to=settings.snap_to)
    vil_snap = snap_points(network, *network.project_points(vil), snap_to=settings.snap_to)
    svc_snap = snap_points(network, *network.project_points(svc), snap_to=settings.snap_to)

    placed = assign_villages(hh, vil, network.crs)
    hh_out = hh.rename(columns={"village_name": "village_name_file"}).join(placed)
    hh_out["offroad_m"] = hh_snap.offroad_m
    vil_access = pd.DataFrame(index=vil.index)
    for kind in settings.kinds:
        say(f"distances to {kind}")
        a = compute_service_access(
            network, hh, svc, kind, snap_to=settings.snap_to, point_snap=hh_snap
        )
        hh_out = hh_out.join(a)
        b = compute_service_access(
            network, vil, svc, kind, snap_to=settings.snap_to, point_snap=vil_snap
        )
        vil_access = vil_access.join(b)

    gaps = compute_village_gaps(vil, vil_access, hh_out, settings)
    gaps["offroad_m"] = vil_snap.offroad_m
    svc_out = svc.copy()
    svc_out["offroad_m"] = svc_snap.offroad_m
    return Analysis(
        scenario=scenario,
        settings=settings,
        network=network,
        households=gpd.GeoDataFrame(hh_out, geometry="geometry", crs=hh.crs),
        villages=gaps,
        services=svc_out,
    )
