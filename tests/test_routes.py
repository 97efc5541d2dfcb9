"""Routes to the nearest service: along real road segments, as long as the reported distance.

Oracles: a pencil answer on a line of five nodes and on a square with a one-way; and on the
demo Banner, the route's own geometry (measured by shapely in the network's metres, a path
through the network's node coordinates checked segment by segment) against the distance the
analysis reports.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from mapping.analysis import apply_proposals, run_analysis
from mapping.routes import all_routes, trace_routes
from mapping.scenario import Scenario, load_demo
from mapping.settings import AnalysisSettings
from mapping.whatif import make_proposal
from tests.netbuild import UTM, households, roads, services, villages

MM = 1e-3


def scenario_of(r, vil, hh, svc) -> Scenario:
    return Scenario(
        roads=r,
        villages=vil,
        households=hh,
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
    )


def metres(routes: gpd.GeoDataFrame) -> np.ndarray:
    return routes.to_crs(UTM).length.to_numpy()


def test_a_route_along_a_line_of_five_nodes():
    """Village 200 m off the road at x = 500; kindergarten 100 m off at x = 4000:
    200 + 3,500 + 100 = 3,800 m, through the nodes at 1, 2, 3 km to the one at 4 km."""
    r = roads({i: (1000.0 * i, 0.0) for i in range(5)}, [(1, [0, 1, 2, 3, 4], "track")])
    vil = villages({"V": (500.0, 200.0)}, ["甲村"])
    hh = households({"H": (3000.0, -50.0)}, children=[1])
    svc = services({"K": ("kindergarten", 4000.0, 100.0), "S": ("school", 0.0, 0.0)})
    a = run_analysis(scenario_of(r, vil, hh, svc), AnalysisSettings(mode="walk"))
    route = trace_routes(a, "kindergarten").iloc[0]
    assert route["from_id"] == "V" and route["service_id"] == "K"
    assert route["dist_m"] == pytest.approx(3800.0, abs=MM)
    assert route["road_m"] == pytest.approx(3500.0, abs=MM)
    assert route["offroad_m"] == pytest.approx(300.0, abs=MM)
    line = gpd.GeoSeries([route.geometry], crs=4326).to_crs(UTM).iloc[0]
    got = np.asarray(line.coords) - np.array([500_000.0, 4_600_000.0])
    want = [(500, 200), (500, 0), (1000, 0), (2000, 0), (3000, 0), (4000, 0), (4000, 100)]
    assert np.allclose(got, want, atol=1e-3)
    hh_route = trace_routes(a, "kindergarten", "households").iloc[0]
    assert hh_route["dist_m"] == pytest.approx(50.0 + 1000.0 + 100.0, abs=MM)


def test_a_route_respects_a_oneway_for_a_motorbike():
    """A square 0-1-2-3 of 1 km sides; 0->1 is one-way towards 1. A village beside node 1
    going to a kindergarten at node 0 must ride 1-2-3-0 (3 km), not back along 1->0."""
    nodes = {0: (0.0, 0.0), 1: (1000.0, 0.0), 2: (1000.0, 1000.0), 3: (0.0, 1000.0)}
    r = roads(nodes, [(1, [0, 1], "residential", 1), (2, [1, 2, 3, 0], "residential")])
    vil = villages({"V": (1000.0, -10.0)}, ["乙村"])
    hh = households({"H": (0.0, 500.0)}, children=[1])
    svc = services({"K": ("kindergarten", 0.0, -10.0), "S": ("school", 500.0, 1000.0)})
    a = run_analysis(scenario_of(r, vil, hh, svc), AnalysisSettings(mode="motorbike"))
    route = trace_routes(a, "kindergarten").iloc[0]
    assert route["dist_m"] == pytest.approx(10.0 + 3000.0 + 10.0, abs=MM)
    assert metres(trace_routes(a, "kindergarten"))[0] == pytest.approx(3020.0, abs=MM)


@pytest.fixture(scope="module")
def demo():
    return run_analysis(load_demo(), AnalysisSettings())


def on_road_segments(a, line_m: shapely.LineString) -> bool:
    """Every interior leg of a route joins two network nodes that a segment joins."""
    net = a.network
    xy = np.asarray(line_m.coords)[2:-2]  # the legs at each end leave or reach the road
    if len(xy) < 2:
        return True
    nodes = np.column_stack([net.x, net.y])
    idx = [int(np.argmin(np.hypot(*(nodes - p).T))) for p in xy]
    assert max(np.hypot(*(nodes[idx] - xy).T)) < 1e-6
    pairs = set(zip(net.seg_u.tolist(), net.seg_v.tolist(), strict=True))
    return all(
        (a_, b) in pairs or (b, a_) in pairs for a_, b in zip(idx[:-1], idx[1:], strict=True)
    )


@pytest.mark.parametrize("kind", ["kindergarten", "school"])
def test_demo_routes_are_as_long_as_the_reported_distances(demo, kind):
    routes = trace_routes(demo, kind)
    v = demo.villages.loc[routes["from_id"]]
    assert len(routes) == int(demo.villages[f"dist_{kind}_m"].notna().sum())
    assert np.allclose(routes["dist_m"], v[f"dist_{kind}_m"].to_numpy(), atol=MM)
    assert np.allclose(metres(routes), routes["dist_m"], atol=0.01)
    assert (routes["service_id"].to_numpy() == v[f"nearest_{kind}_id"].to_numpy()).all()
    projected = routes.to_crs(demo.network.crs)
    for line in projected.geometry:
        assert on_road_segments(demo, line)


def test_household_routes_and_the_all_routes_layer(demo):
    layer = all_routes(demo, households=True)
    assert set(layer["layer"]) == {"villages", "households"}
    hh = layer[(layer["layer"] == "households") & (layer["kind"] == "kindergarten")]
    want = demo.households.loc[hh["from_id"], "dist_kindergarten_m"].to_numpy()
    assert np.allclose(hh["dist_m"], want, atol=MM)
    assert np.allclose(metres(hh), want, atol=0.01)


def test_routes_after_a_proposal_lead_to_it(demo):
    far = demo.villages.sort_values("dist_kindergarten_m").index[-1]
    p = demo.villages.loc[far].geometry
    after = apply_proposals(demo, make_proposal(None, "kindergarten", p.x, p.y, lang="zh"))
    route = trace_routes(after, "kindergarten", ids=[far]).iloc[0]
    assert route["dist_m"] == pytest.approx(after.villages.at[far, "dist_kindergarten_m"], abs=MM)
    assert route["dist_m"] < demo.villages.at[far, "dist_kindergarten_m"]
    proposed = after.services[after.services["source"] == "proposed"].index
    assert route["service_id"] in set(proposed.astype(str))
    assert isinstance(route.geometry, shapely.LineString)
    assert pd.notna(route["service_name"])


def test_the_geopackage_holds_village_routes_and_household_routes_only_in_full_mode(demo, tmp_path):
    import pyogrio

    from mapping.export import write_geopackage

    committee = write_geopackage(demo, tmp_path / "c.gpkg", privacy="committee")
    routes = pyogrio.read_dataframe(committee, layer="routes")
    assert set(routes["layer"]) == {"villages"}
    assert set(routes["kind"]) == {"kindergarten", "school"}
    full = pyogrio.read_dataframe(write_geopackage(demo, tmp_path / "f.gpkg"), layer="routes")
    assert set(full["layer"]) == {"villages", "households"}
    assert len(full[full["layer"] == "households"]) == 2 * len(demo.households)


OPEN_FLAGGED = """
(function () {
  var target = null;
  %(map)s.eachLayer(function (l) {
    if (!target && l.feature && l.feature.properties && l.feature.properties.route
        && l.feature.properties.s === "flag") { target = l; }
  });
  target.openPopup();
  var route = null;
  %(map)s.eachLayer(function (l) {
    if (l.options && l.options.className === "gm-route") { route = l; }
  });
  var ll = route.getLatLngs();
  var text = document.querySelector(".leaflet-popup-content").textContent;
  target.closePopup();
  var left = 0;
  %(map)s.eachLayer(function (l) {
    if (l.options && l.options.className === "gm-route") { left += 1; }
  });
  return JSON.stringify({first: [ll[0].lat, ll[0].lng], last: [ll[ll.length - 1].lat,
    ll[ll.length - 1].lng], village: [target.getLatLng().lat, target.getLatLng().lng],
    text: text, left: left});
})()
"""


@pytest.mark.browser
def test_opening_a_flagged_village_draws_its_route_in_the_map_file(demo, tmp_path):
    import json

    from mapping.maps import draw_map, render_map_html
    from tests import browser

    browser.require_chromium()
    m = draw_map(demo, lang="zh")
    path = tmp_path / "map.html"
    path.write_text(render_map_html(m), encoding="utf-8")
    with browser.DevTools() as tools:
        tools.navigate(path.as_uri())
        tools.wait_for(f"typeof {m.get_name()} !== 'undefined' && {m.get_name()}._loaded", 30)
        out = json.loads(tools.evaluate(OPEN_FLAGGED % {"map": m.get_name()}))
        assert tools.console_errors() == []
    assert out["first"] == pytest.approx(out["village"], abs=1e-5)  # it starts at the village
    kg = demo.services[demo.services["kind"] == "kindergarten"]
    ends = np.array([[p.y, p.x] for p in kg.geometry])
    assert np.hypot(*(ends - out["last"]).T).min() < 1e-5  # and ends at a kindergarten
    assert "沿道路" in out["text"] and "路线已画在图上" in out["text"]
    assert out["left"] == 0  # closing the popup removes it
