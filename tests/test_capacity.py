"""2SFCA: numbers by hand on a line, and equal to PySAL ``access`` on the demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.errors import InputError
from mapping.capacity import compute_2sfca, compute_village_2sfca
from mapping.routing import compute_cost_pairs
from tests.netbuild import services
from tests.test_planning import line_roads, tiny_analysis


def line_with_capacities():
    """S1 at 0 (10 places), S2 at 3000 (2 places), S3 at 6000 (capacity unknown)."""
    svc = services(
        {
            "S1": ("kindergarten", 0.0, 0.0),
            "S2": ("kindergarten", 3000.0, 0.0),
            "S3": ("kindergarten", 6000.0, 0.0),
        }
    )
    svc["capacity"] = pd.array([10, 2, pd.NA], dtype="Int64")
    return tiny_analysis(
        line_roads(),
        {"V1": (500.0, 0.0), "V2": (2500.0, 0.0), "V3": (9000.0, 0.0)},
        {
            "h1": (500.0, 0.0, 2),
            "h2": (1400.0, 0.0, 1),
            "h3": (2500.0, 0.0, 3),
            "h4": (6000.0, 0.0, 1),
            "h5": (9000.0, 0.0, 1),
        },
        svc,
    )


def test_scores_by_hand():
    a = line_with_capacities()
    hh, svc = compute_2sfca(a, "kindergarten", threshold_m=1000.0)
    # S1 reaches h1 (500 m; h2 is 1400 m away): 10 places / 2 children = 5
    # S2 reaches h3 (500 m): 2 places / 3 children -> over-subscribed
    assert svc.loc["S1", "demand_in_catchment"] == 2.0
    assert svc.loc["S1", "supply_demand_ratio"] == pytest.approx(5.0)
    assert svc.loc["S2", "supply_demand_ratio"] == pytest.approx(2 / 3)
    assert svc["over_subscribed"].tolist() == [False, True, pd.NA]
    assert svc["excluded_reason"].isna().tolist() == [True, True, False]
    assert svc.loc["S3", "excluded_reason"] == "no_capacity"
    assert np.isnan(svc.loc["S3", "supply_demand_ratio"])
    assert svc.loc["S3", "n_households_in_catchment"] == 1  # h4 stands at it, still counted
    np.testing.assert_allclose(
        hh["places_per_child_kindergarten"], [5.0, 0.0, 2 / 3, 0.0, 0.0], atol=1e-12
    )
    assert hh["n_services_within_kindergarten"].tolist() == [1, 0, 1, 0, 0]
    # a wider catchment: S1 reaches h1, h2 (3 children); S2 still h3 only (h2 is 1600 m away)
    hh, svc = compute_2sfca(a, "kindergarten", threshold_m=1500.0)
    np.testing.assert_allclose(svc["supply_demand_ratio"][:2], [10 / 3, 2 / 3])
    np.testing.assert_allclose(
        hh["places_per_child_kindergarten"], [10 / 3, 10 / 3, 2 / 3, 0, 0], atol=1e-12
    )
    # per household instead of per child
    hh, svc = compute_2sfca(a, "kindergarten", threshold_m=1000.0, demand="households")
    assert hh["places_per_household_kindergarten"].tolist()[:3] == [10.0, 0.0, 2.0]
    vil = compute_village_2sfca(a, hh, "kindergarten")
    assert vil.loc["V1", "mean_places_per_household_kindergarten"] == pytest.approx(5.0)
    assert vil.loc["V3", "n_hh_no_places_kindergarten"] == 2  # h4 and h5 are nearest V3


def test_equal_to_pysal_access_on_the_demo():
    import access as pysal_access

    from mapping.analysis import run_analysis
    from mapping.scenario import load_demo

    a = run_analysis(load_demo())
    thr = 8000.0
    hh, svc = compute_2sfca(a, "kindergarten", threshold_m=thr)
    acc = a.access["kindergarten"]
    pairs = compute_cost_pairs(a.network, acc.dist.svc_snap, a.hh_snap, limit=thr)
    cost = pd.DataFrame(
        {
            "origin": a.households.index[pairs.point],
            "dest": acc.services.index[pairs.source],
            "cost": pairs.cost,
        }
    )
    demand = pd.DataFrame({"children": hh["demand"]}, index=a.households.index.rename("geoid"))
    cap = acc.services["capacity"].astype("Float64")
    supply = pd.DataFrame(
        {"capacity": cap.dropna().astype(float)}, index=cap.dropna().index.rename("geoid")
    )
    ref = pysal_access.Access(
        demand_df=demand,
        demand_value="children",
        supply_df=supply,
        supply_value="capacity",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    out = ref.two_stage_fca(max_cost=thr)["2sfca_capacity"].reindex(hh.index).fillna(0.0)
    assert (hh["places_per_child_kindergarten"] > 0).sum() >= 5
    np.testing.assert_allclose(hh["places_per_child_kindergarten"], out, rtol=0, atol=1e-9)


def test_bad_demand():
    a = line_with_capacities()
    with pytest.raises(InputError, match="'pupils' is not a valid demand; choose one of: children"):
        compute_2sfca(a, "kindergarten", demand="pupils")
    with pytest.raises(InputError, match="no distances for 'school'"):
        compute_2sfca(a, "school")
    no_kids = tiny_analysis(
        line_roads(),
        {"V": (0.0, 0.0)},
        {"h": (0.0, 0.0, None)},
        services({"k": ("kindergarten", 0.0, 0.0)}),
    )
    with pytest.raises(InputError) as err:
        compute_2sfca(no_kids, "kindergarten")
    assert "count households" in err.value.message("en")
