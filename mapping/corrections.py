"""An analysis on the roads as the workshop corrected them: community roads and conditions.

The command line and the app run one analysis in three steps, each reusing the one before
(never a rebuild):

1. the roads from OpenStreetMap (:func:`mapping.analysis.run_analysis`, the network cached on
   disk for an OSM file);
2. plus the community's roads (:func:`mapping.community.add_community_roads`): recorded GPS
   tracks and drawn lines, joined where they meet roads, the searches redone only where they
   reach;
3. under a road condition (:func:`mapping.conditions.apply_conditions_to_analysis`): winter
   snow, summer floods: closed roads removed, slowed ones retimed, villages cut off named.

The three analyses are kept: "what the community roads changed" compares 1 and 2, the
conditions side by side compare 2 under each condition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from layers.schema import Note, notes_of
from mapping.analysis import Analysis, run_analysis
from mapping.community import JOIN_M, CommunityJoin, add_community_roads, compare_villages
from mapping.conditions import (
    ConditionNetwork,
    apply_conditions_to_analysis,
    compare_conditions,
)
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings


@dataclass(frozen=True)
class CorrectedRun:
    """The analyses of one run (see the module docstring).

    Attributes
    ----------
    analysis
        The answer: OSM roads, plus community roads, under the condition(s) when asked.
    osm
        On the OSM roads alone.
    open
        With the community roads, no condition (``osm`` when there are none).
    join
        The join of the community roads (None without them): lines for maps, notes.
    conditions
        The network under the condition(s) (None without closures): segments for maps.
    community, closures
        The layers used (empty frames when none).
    """

    analysis: Analysis
    osm: Analysis
    open: Analysis
    join: CommunityJoin | None
    conditions: ConditionNetwork | None
    community: gpd.GeoDataFrame | None
    closures: gpd.GeoDataFrame | None

    @property
    def notes(self) -> tuple[Note, ...]:
        """What the user should be told about the roads and conditions read and applied."""
        out: list[Note] = []
        for layer in (self.community, self.closures):
            if layer is not None:
                out += notes_of(layer)
        if self.join is not None:
            out += self.join.notes
        if self.conditions is not None:
            out += self.conditions.notes
        seen, unique = set(), []
        for note in out:  # a note's params are a dict: compared by their text
            if (note.key, repr(sorted(note.params.items()))) not in seen:
                seen.add((note.key, repr(sorted(note.params.items()))))
                unique.append(note)
        return tuple(unique)

    def community_changes(self) -> pd.DataFrame:
        """The villages whose distance the community roads changed (empty without them)."""
        if self.join is None:
            return pd.DataFrame()
        return compare_villages(
            self.osm.villages, self.open.villages, list(self.analysis.settings.kinds)
        )

    def conditions_side_by_side(self) -> pd.DataFrame:
        """Villages flagged under each condition beside the usual roads (empty without
        closures): one row per condition and kind, with a sentence in each language."""
        if self.closures is None or not len(self.closures):
            return pd.DataFrame()
        return compare_conditions(self.open, self.closures).summary


def run_corrected(
    scenario: Scenario,
    settings: AnalysisSettings,
    *,
    community: gpd.GeoDataFrame | None = None,
    closures: gpd.GeoDataFrame | None = None,
    condition: str | list[str] | None = None,
    join_m: float = JOIN_M,
    progress: Callable[[str], None] | None = None,
) -> CorrectedRun:
    """Run the analysis on the corrected roads (see the module docstring).

    Parameters
    ----------
    scenario, settings
        As for :func:`mapping.analysis.run_analysis`.
    community
        Community roads (:func:`layers.tracks.read_community_roads`), or None.
    closures
        Closures and slow-downs (:func:`layers.tracks.read_closures`), or None.
    condition
        The condition(s) to apply (names in ``closures``' ``condition``); None: all of them.
    join_m
        How near a road (m) a community road's vertex joins it.
    progress
        Optional callable taking a short message.
    """
    say = progress or (lambda _msg: None)
    osm = run_analysis(scenario, settings, progress=progress)
    analysis, join = osm, None
    if community is not None and len(community):
        say(f"joining {len(community)} community road(s)")
        analysis, join = add_community_roads(osm, community, join_m)
    opened = analysis
    effect = None
    if closures is not None and len(closures):
        say("applying road conditions")
        analysis, effect = apply_conditions_to_analysis(opened, closures, condition, join_m=join_m)
    return CorrectedRun(
        analysis=analysis,
        osm=osm,
        open=opened,
        join=join,
        conditions=effect,
        community=community,
        closures=closures,
    )
