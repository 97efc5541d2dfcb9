"""One analysis run: network, snapping, distances per service kind, village gaps.

The command line and the app both call :func:`run_analysis`; what one can do, the other can.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from mapping.access import (
    KindAccess,
    access_columns,
    access_table,
    add_services,
    prepare_access,
)
from mapping.gaps import assign_villages, compute_village_gaps
from mapping.network import RoadNetwork, Snap, build_network, snap_points
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
        The services layer plus ``offroad_m`` (distance from the service to its road);
        proposals, when applied, are in it with ``source="proposed"``.
    access
        The searches per kind (kept so that proposals can be added incrementally).
    hh_snap, vil_snap
        Where households and villages meet the roads.
    """

    scenario: Scenario
    settings: AnalysisSettings
    network: RoadNetwork
    households: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    access: dict[str, KindAccess]
    hh_snap: Snap
    vil_snap: Snap


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
    if network is None and scenario.osm_source is not None:
        from mapping.netcache import build_network_cached

        say("building the road network (or reopening it from the cache)")
        path, clip, childcare = scenario.osm_source
        network = build_network_cached(
            path, scenario.roads, settings, clip=clip, include_childcare=childcare
        )
    elif network is None:
        say("building the road network")
        network = build_network(scenario.roads, settings)

    hh = scenario.households
    vil = scenario.villages
    svc = scenario.services
    say("snapping points to roads")
    hh_snap = snap_points(network, *network.project_points(hh), snap_to=settings.snap_to)
    vil_snap = snap_points(network, *network.project_points(vil), snap_to=settings.snap_to)
    svc_snap = snap_points(network, *network.project_points(svc), snap_to=settings.snap_to)

    access = {}
    for kind in settings.kinds:
        say(f"distances to {kind}")
        access[kind] = prepare_access(network, svc, kind, snap_to=settings.snap_to, snap=svc_snap)
    svc_out = svc.copy()
    svc_out["offroad_m"] = svc_snap.offroad_m
    placed = assign_villages(hh, vil, network.crs)
    hh_base = hh.rename(columns={"village_name": "village_name_file"}).join(placed)
    hh_base["offroad_m"] = hh_snap.offroad_m
    return _finish(scenario, settings, network, hh_base, svc_out, access, hh_snap, vil_snap)


def _finish(scenario, settings, network, hh_base, svc_out, access, hh_snap, vil_snap) -> Analysis:
    """Read every point's answers from the searches and compute the village gaps."""
    hh, vil = scenario.households, scenario.villages
    hh_out = hh_base
    vil_access = pd.DataFrame(index=vil.index)
    for acc in access.values():
        hh_out = hh_out.join(access_table(network, acc, hh, hh_snap))
        vil_access = vil_access.join(access_table(network, acc, vil, vil_snap))
    gaps = compute_village_gaps(vil, vil_access, hh_out, settings)
    gaps["offroad_m"] = vil_snap.offroad_m
    return Analysis(
        scenario=scenario,
        settings=settings,
        network=network,
        households=gpd.GeoDataFrame(hh_out, geometry="geometry", crs=hh.crs),
        villages=gaps,
        services=svc_out,
        access=access,
        hh_snap=hh_snap,
        vil_snap=vil_snap,
    )


def apply_proposals(analysis: Analysis, proposals: gpd.GeoDataFrame) -> Analysis:
    """The analysis with proposed services added, without redoing it.

    Each kind's searches are extended with :func:`mapping.access.add_services` (a bounded
    search from the new sites only); households and villages then read their new answers.

    Parameters
    ----------
    analysis
        An analysis of the existing services (proposals are added to it, not replaced).
    proposals
        Proposed services (services schema, ``source="proposed"``), EPSG:4326.
    """
    net, settings = analysis.network, analysis.settings
    if len(proposals) == 0:
        return analysis
    new_snap = snap_points(net, *net.project_points(proposals), snap_to=settings.snap_to)
    access = dict(analysis.access)
    for kind in access:
        mask = (proposals["kind"] == kind).to_numpy()
        if mask.any():
            access[kind] = add_services(
                net,
                access[kind],
                proposals[mask],
                snap_to=settings.snap_to,
                snap=new_snap.take(np.flatnonzero(mask)),
            )
    props = proposals.copy()
    props["offroad_m"] = new_snap.offroad_m
    svc_out = pd.concat([analysis.services, props])
    answers = [col for kind in access for col in access_columns(kind)]
    return _finish(
        analysis.scenario,
        settings,
        net,
        pd.DataFrame(analysis.households.drop(columns=answers)),
        svc_out,
        access,
        analysis.hh_snap,
        analysis.vil_snap,
    )


def rethreshold(analysis: Analysis, settings: AnalysisSettings) -> Analysis:
    """The analysis under new thresholds, reusing its distances.

    Thresholds only change the flags, counts and sentences, so nothing is searched again.
    ``settings`` must differ from the analysis' settings in thresholds only.

    Raises
    ------
    ValueError
        When anything but the thresholds changed (then run :func:`run_analysis`).
    """
    same = settings.with_(
        thresholds_m=analysis.settings.thresholds_m,
        time_thresholds_min=analysis.settings.time_thresholds_min,
    )
    if same != analysis.settings:
        raise ValueError("rethreshold() can only change thresholds")
    return replace(analysis, settings=settings, villages=_regap(analysis, settings))


def _regap(analysis: Analysis, settings: AnalysisSettings) -> gpd.GeoDataFrame:
    vil = analysis.scenario.villages
    cols = [col for kind in analysis.access for col in access_columns(kind)]
    vil_access = pd.DataFrame(analysis.villages[cols])
    gaps = compute_village_gaps(vil, vil_access, analysis.households, settings)
    gaps["offroad_m"] = analysis.vil_snap.offroad_m
    return gaps
