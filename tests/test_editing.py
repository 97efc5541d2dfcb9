"""Workshop edits: new layers come back validated; refused edits leave the input untouched."""

from __future__ import annotations

import pandas as pd
import pytest

from layers.editing import (
    add_household,
    add_service,
    delete_feature,
    move_feature,
    update_attributes,
)
from layers.errors import InputError
from layers.households import empty_households
from layers.services import empty_services


@pytest.fixture
def hh():
    h = add_household(empty_households(), 113.2, 41.5, household_id="A1", children=2)
    return add_household(h, 113.3, 41.6, village_name="温家村")


def test_add_move_delete_households(hh):
    assert hh.index.tolist() == ["A1", "W2"]
    assert hh["children"].tolist()[0] == 2 and pd.isna(hh["children"].iloc[1])
    moved = move_feature(hh, "W2", 113.35, 41.65)
    assert (moved.loc["W2"].geometry.x, moved.loc["W2"].geometry.y) == (113.35, 41.65)
    assert (hh.loc["W2"].geometry.x, hh.loc["W2"].geometry.y) == (113.3, 41.6)
    assert delete_feature(moved, "A1").index.tolist() == ["W2"]


def test_refused_edits_say_why_and_change_nothing(hh):
    before = hh.copy()
    with pytest.raises(InputError, match="A1 already exists"):
        add_household(hh, 113.0, 41.0, household_id="A1")
    with pytest.raises(InputError, match="latitude within -90..90"):
        add_household(hh, 113.0, 141.0)
    with pytest.raises(InputError, match="number of children '-1'"):
        update_attributes(hh, pd.DataFrame({"children": [-1]}, index=["A1"]))
    with pytest.raises(InputError, match="number of children '1.5'"):
        update_attributes(hh, pd.DataFrame({"children": ["1.5"]}, index=["A1"]))
    with pytest.raises(InputError, match="no feature X9"):
        move_feature(hh, "X9", 113.0, 41.0)
    pd.testing.assert_frame_equal(hh, before)


def test_attribute_edits(hh):
    out = update_attributes(
        hh, pd.DataFrame({"children": ["3", None], "village_name": ["甲", ""]}, index=["A1", "W2"])
    )
    assert out.loc["A1", "children"] == 3 and pd.isna(out.loc["W2", "children"])
    assert out.loc["A1", "village_name"] == "甲" and pd.isna(out.loc["W2", "village_name"])


def test_services_edits():
    s = add_service(empty_services(), 113.2, 41.5, kind="kindergarten", name="新园", capacity=40)
    s = add_service(s, 113.3, 41.5, kind="school")
    assert s.index.tolist() == ["E1", "E2"] and s.loc["E2", "name"] == "E2"
    out = update_attributes(s, pd.DataFrame({"capacity": [60], "kind": ["school"]}, index=["E1"]))
    assert out.loc["E1", "capacity"] == 60 and out.loc["E1", "kind"] == "school"
    with pytest.raises(InputError, match="kind 'hospital'"):
        add_service(s, 113.0, 41.0, kind="hospital")
    with pytest.raises(InputError, match="capacity '0'"):
        update_attributes(s, pd.DataFrame({"capacity": [0]}, index=["E1"]))
    assert "学位数" in InputError("error.edit.capacity", fid="E1", value=0).message("zh")
