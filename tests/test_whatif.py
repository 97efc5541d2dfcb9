"""Proposed services: incremental results equal a full re-run, and the gap closes."""

from __future__ import annotations

import pandas as pd
import pytest

from layers.errors import InputError
from mapping.analysis import apply_proposals, run_analysis
from mapping.scenario import load_demo
from mapping.whatif import compare_gaps, make_proposal, move_proposal, remove_proposal


@pytest.fixture(scope="module")
def demo_analysis():
    return run_analysis(load_demo())


def far_village(analysis):
    v = analysis.villages
    return v[v["village_name"] == "希乐图村"].iloc[0]


def test_a_kindergarten_in_the_far_village_closes_its_gap(demo_analysis):
    far = far_village(demo_analysis)
    assert far["flag_kindergarten"]
    props = make_proposal(None, "kindergarten", far.geometry.x, far.geometry.y, lang="en")
    assert props.index.tolist() == ["P1"]
    assert props["name"].tolist() == ["Proposed kindergarten 1"]
    after = apply_proposals(demo_analysis, props)
    far_after = far_village(after)
    assert not far_after["flag_kindergarten"]
    assert far_after["nearest_kindergarten_id"] == "P1"
    assert far_after["dist_kindergarten_m"] < 1000
    numbers = compare_gaps(demo_analysis, after, "kindergarten")
    hh_before, hh_after = numbers["households_beyond"]
    assert hh_before >= 15 and hh_after == hh_before - 15
    assert numbers["villages_flagged"][1] < numbers["villages_flagged"][0]
    # the school answers are untouched
    pd.testing.assert_series_equal(
        after.households["dist_school_m"], demo_analysis.households["dist_school_m"]
    )


def test_incremental_equals_a_full_run_with_the_proposal_as_a_service(demo_analysis):
    v = demo_analysis.villages
    props = None
    for _, row in v.head(3).iterrows():
        props = make_proposal(props, "kindergarten", row.geometry.x + 0.01, row.geometry.y)
    props = make_proposal(props, "school", v.geometry.x.iloc[5], v.geometry.y.iloc[5])
    incremental = apply_proposals(demo_analysis, props)
    sc = demo_analysis.scenario
    full = run_analysis(sc.replace(services=pd.concat([sc.services, props])))
    for col in (
        "dist_kindergarten_m",
        "time_kindergarten_min",
        "nearest_kindergarten_id",
        "dist_school_m",
        "flag_kindergarten",
        "flag_school",
        "reason_kindergarten_zh",
    ):
        pd.testing.assert_series_equal(incremental.villages[col], full.villages[col])
    for col in ("dist_kindergarten_m", "nearest_kindergarten", "dist_school_m"):
        pd.testing.assert_series_equal(incremental.households[col], full.households[col])


def test_ids_move_and_remove():
    p = make_proposal(None, "kindergarten", 113.0, 41.5)
    p = make_proposal(p, "school", 113.1, 41.5)
    p = remove_proposal(p, "P1")
    p = make_proposal(p, "kindergarten", 113.2, 41.5)
    assert p.index.tolist() == ["P2", "P3"]
    p = move_proposal(p, "P3", 113.3, 41.6)
    assert (p.loc["P3"].geometry.x, p.loc["P3"].geometry.y) == (113.3, 41.6)
    with pytest.raises(InputError, match="no proposal with id P9"):
        remove_proposal(p, "P9")
    with pytest.raises(InputError, match="longitude must be"):
        make_proposal(p, "kindergarten", 413.0, 41.5)
    with pytest.raises(InputError, match="not valid"):
        make_proposal(p, "hospital", 113.0, 41.5)


def test_rethreshold_equals_a_full_run(demo_analysis):
    from mapping.analysis import rethreshold
    from mapping.settings import AnalysisSettings

    settings = demo_analysis.settings.with_(thresholds_m={"kindergarten": 12_000.0})
    fast = rethreshold(demo_analysis, settings)
    full = run_analysis(demo_analysis.scenario, settings)
    pd.testing.assert_frame_equal(
        pd.DataFrame(fast.villages.drop(columns=["geometry", "boundary"])),
        pd.DataFrame(full.villages.drop(columns=["geometry", "boundary"])),
    )
    assert not far_village(fast)["flag_kindergarten"]
    with pytest.raises(ValueError):
        rethreshold(demo_analysis, AnalysisSettings(mode="walk"))


def test_newly_covered_households_are_the_far_village_s(demo_analysis):
    from mapping.whatif import newly_covered_households

    far = far_village(demo_analysis)
    props = make_proposal(None, "kindergarten", far.geometry.x, far.geometry.y)
    after = apply_proposals(demo_analysis, props)
    ids = newly_covered_households(demo_analysis, after, "kindergarten")
    hh = demo_analysis.households
    assert sorted(ids) == sorted(hh.index[hh["village_name"] == "希乐图村"])
    assert newly_covered_households(demo_analysis, demo_analysis, "kindergarten") == []
