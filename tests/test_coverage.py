"""Coverage bands by hand, and service areas checked against the distances they came from."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.errors import InputError
from mapping.access import compute_service_access, search_services
from mapping.analysis import apply_proposals
from mapping.coverage import coverage_table, service_areas
from mapping.whatif import make_proposal
from tests.netbuild import lonlat, roads, services
from tests.test_planning import line_case, tiny_analysis


def test_coverage_bands_by_hand_before_and_after():
    a = line_case()  # kindergarten at 0; households at 500 | 4900 5000 5100 | 9000 9200
    overall = coverage_table(a, "kindergarten", (5000, 1000), by="overall")
    assert overall["band_m"].tolist() == [1000.0, 5000.0]
    assert overall["hh_within"].tolist() == [1, 3]
    assert overall["n_households"].tolist() == [6, 6]
    np.testing.assert_allclose(overall["share_hh_within"], [1 / 6, 3 / 6])
    assert overall["children_within"].tolist() == [1, 3]
    np.testing.assert_allclose(overall["share_children_within"], [1 / 12, 3 / 12])

    va = a.villages.loc["VA"].geometry
    after = apply_proposals(a, make_proposal(None, "kindergarten", va.x, va.y))
    both = coverage_table(a, "kindergarten", (1000, 5000), by="village", after=after)
    got = both.set_index(["village_id", "band_m"])
    assert got.loc[("VA", 1000.0), "hh_within_before"] == 0
    assert got.loc[("VA", 1000.0), "hh_within_after"] == 3
    assert got.loc[("VB", 5000.0), "hh_within_before"] == 0
    assert got.loc[("VB", 5000.0), "hh_within_after"] == 2
    assert got.loc[("VB", 5000.0), "children_within_after"] == 8
    assert got.loc[("V0", 1000.0), "share_hh_within_after"] == 1.0
    assert "hh_within" not in both.columns
    assert (both["scope"] == "village").all() and len(both) == 6


def test_coverage_bad_input():
    a = line_case()
    with pytest.raises(InputError, match="metres greater than 0"):
        coverage_table(a, "kindergarten", (0, 1000))
    with pytest.raises(InputError, match="choose village or overall"):
        coverage_table(a, "kindergarten", by="town")


def grid_case(mode: str = "car"):
    """A 3x3 grid, 1000 m blocks, the (1,1)-(2,1) edge missing, (0,0)->(1,0) one-way for
    vehicles (walkers may use it both ways)."""
    nodes = {10 * i + j: (1000.0 * i, 1000.0 * j) for i in range(3) for j in range(3)}
    ways = [(1, [0, 10], "residential", 1)]
    wid = 2
    for i in range(3):
        for j in range(3):
            if i < 2 and (i, j) != (0, 0) and (i, j) != (1, 1):
                ways.append((wid, [10 * i + j, 10 * (i + 1) + j], "residential"))
                wid += 1
            if j < 2:
                ways.append((wid, [10 * i + j, 10 * i + j + 1], "residential"))
                wid += 1
    svc = services({"k1": ("kindergarten", 400.0, 30.0), "k2": ("kindergarten", 2000.0, 2000.0)})
    return tiny_analysis(
        roads(nodes, ways), {"V": (1000.0, 1000.0)}, {"h": (1000.0, 1000.0, 1)}, svc, mode=mode
    )


def test_service_areas_hold_only_road_within_reach():
    # walking: with one-way roads, road just past a service on its one-way road lies within
    # the allowance of road before it, yet the trip from there goes round (documented)
    a = grid_case("walk")
    net = a.network
    bands = (800.0, 1500.0, 2500.0)
    areas = service_areas(a, "kindergarten", bands, allowance_m=200.0)
    assert len(areas) == 6 and areas.crs == "EPSG:4326"
    areas_p = areas.to_crs(net.crs)
    # road points every 10 m
    t = np.linspace(0, 1, 101)
    sx = (net.x[net.seg_u][:, None] * (1 - t) + net.x[net.seg_v][:, None] * t).ravel()
    sy = (net.y[net.seg_u][:, None] * (1 - t) + net.y[net.seg_v][:, None] * t).ravel()
    lon, lat = net.to_lonlat(sx, sy)
    pts = gpd.GeoDataFrame(geometry=shapely.points(lon, lat), crs="EPSG:4326")
    acc = a.access["kindergarten"]
    for (sid, band), row in zip(
        areas[["service_id", "band_m"]].itertuples(index=False), areas_p.itertuples(), strict=True
    ):
        one = acc.services.loc[[sid]]
        dist = compute_service_access(net, pts, one, "kindergarten")["dist_kindergarten_m"]
        dist = dist.to_numpy()
        inside = shapely.covers(row.geometry, shapely.points(sx, sy))
        assert inside.any()
        # nothing inside is beyond the band plus the allowance ...
        assert (dist[inside] <= band + 200.0 + 1e-6).all()
        # ... and every road point within the band is inside
        assert inside[dist <= band - 1e-6].all()
        # every reached node is inside
        snap = acc.dist.svc_snap.take(np.array([acc.services.index.get_loc(sid)]))
        node_cost = search_services(net, snap).node_cost
        reached = node_cost <= band
        assert shapely.dwithin(row.geometry, shapely.points(net.x, net.y), 1e-6)[reached].all()
        # land inside is within the allowance of a road
        probe = shapely.points(
            np.random.default_rng(0).uniform(*row.geometry.bounds[0::2], 4000),
            np.random.default_rng(1).uniform(*row.geometry.bounds[1::2], 4000),
        )
        probe = probe[shapely.covers(row.geometry, probe)]
        roads_p = shapely.multilinestrings(
            [
                [(net.x[u], net.y[u]), (net.x[v], net.y[v])]
                for u, v in zip(net.seg_u, net.seg_v, strict=True)
            ]
        )
        assert (shapely.distance(probe, roads_p) <= 200.0 + 1e-6).all()
    # bands grow
    k1 = areas_p[areas["service_id"] == "k1"].geometry.area.to_numpy()
    assert k1[0] < k1[1] < k1[2]


def test_one_way_leaves_the_wrong_side_out():
    a = grid_case()
    areas = service_areas(a, "kindergarten", (500.0,), allowance_m=50.0).to_crs(a.network.crs)
    k1 = areas[areas["service_id"] == "k1"].geometry.iloc[0]
    # k1 stands 30 m off the one-way (0,0)->(1,0) road at x=400: only road before it (x<400)
    # can reach it, up to 500 - 30 = 470 m back along the road
    net = a.network
    assert k1.covers(shapely.Point(net.x.min() + 100.0, net.y.min()))
    assert not k1.covers(shapely.Point(net.x.min() + 600.0, net.y.min()))


def test_dissolve_and_clip():
    a = grid_case()
    lo = lonlat(-100.0, -100.0)
    hi = lonlat(1500.0, 2100.0)
    box = shapely.box(lo[0], lo[1], hi[0], hi[1])
    merged = service_areas(a, "kindergarten", (800.0, 1500.0), dissolve=True, clip_to=box)
    assert merged["band_m"].tolist() == [800.0, 1500.0]
    assert merged["n_services"].tolist() == [2, 2]
    net_crs = a.network.crs
    box_p = gpd.GeoSeries([box], crs="EPSG:4326").to_crs(net_crs).iloc[0]
    assert merged.to_crs(net_crs).geometry.within(box_p.buffer(0.01)).all()
    each = service_areas(a, "kindergarten", (800.0, 1500.0), clip_to=box)
    for band in (800.0, 1500.0):
        union = shapely.union_all(each[each["band_m"] == band].to_crs(net_crs).geometry.to_numpy())
        got = merged[merged["band_m"] == band].to_crs(net_crs).geometry.iloc[0]
        assert got.symmetric_difference(union).area < 1.0


def test_demo_service_areas_stay_in_the_study_area():
    from mapping.analysis import run_analysis
    from mapping.scenario import load_demo

    a = run_analysis(load_demo())
    merged = service_areas(a, "kindergarten", (3000.0,), dissolve=True)
    outline = a.scenario.study_area
    assert len(merged) == 1 and not merged.geometry.iloc[0].is_empty
    assert merged.geometry.iloc[0].difference(outline.buffer(1e-7)).area == pytest.approx(0.0)
    # every household within 3 km is in the area (allowance 200 m covers their off-road legs
    # when they are short; those farther off the road need not be)
    hh = a.households
    near = (hh["dist_kindergarten_m"] <= 3000.0) & (hh["offroad_m"] <= 150.0)
    assert merged.geometry.iloc[0].buffer(1e-9).contains(hh.geometry[near]).all()
    pd.testing.assert_index_equal(
        merged.columns, pd.Index(["band_m", "n_services", "allowance_m", "geometry"])
    )


def test_service_area_of_a_service_a_hair_up_a_oneway_from_a_junction():
    """Service areas follow the network's one rule for legs on a segment: a kindergarten
    0.5 m up the one-way K -> J from the junction J is reached from J (the 0.5 m walked), so
    the road leading to J is within its band; 5 m up it is not (cars go round the loop)."""
    from tests.test_network_access import junction_with_oneway

    def area(up_m: float):
        svc = services({"k": ("kindergarten", 0.0, up_m)})
        a = tiny_analysis(
            junction_with_oneway(towards_j=True),
            {"V": (-1000.0, 0.0)},
            {"h": (-1000.0, 0.0, 1)},
            svc,
            mode="car",
        )
        poly = service_areas(a, "kindergarten", (400.0,), allowance_m=10.0)
        return a, poly.to_crs(a.network.crs).geometry.iloc[0]

    a, near = area(0.5)
    net = a.network
    x0, y0 = net.x[net.node_id == 1][0], net.y[net.node_id == 1][0]  # J
    assert near.covers(shapely.Point(x0 - 300.0, y0))  # 300.5 m from the service
    assert not near.covers(shapely.Point(x0 - 450.0, y0))
    _, far = area(5.0)
    assert not far.covers(shapely.Point(x0 - 300.0, y0))
