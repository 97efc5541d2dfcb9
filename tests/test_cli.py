"""``python -m mapping analyze`` end to end on the demo, and its handling of bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from mapping.cli import main
from tests.conftest import ROOT

NO_MAP: list[str] = []
FAR_VILLAGE = next(
    v["name"]
    for v in json.loads((ROOT / "data" / "demo" / "scenario.json").read_text("utf-8"))[
        "studied_villages"
    ]
    if v["role"] == "far_from_kindergarten"
)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    code = main(["analyze", "--demo", "--out", str(out), "--lang", "en", *NO_MAP])
    assert code == 0
    return out


def test_demo_writes_the_tables(demo_out):
    v = pd.read_csv(demo_out / "villages.csv", encoding="utf-8-sig")
    for col in (
        "village_name",
        "dist_kindergarten_m",
        "dist_school_m",
        "flag_kindergarten",
        "flag_school",
        "reason_kindergarten",
    ):
        assert col in v.columns
    far = v[v["village_name"] == FAR_VILLAGE].iloc[0]
    assert 10_000 <= far["dist_kindergarten_m"] <= 11_000
    assert bool(far["flag_kindergarten"])
    assert "beyond the 5 km threshold" in far["reason_kindergarten"]
    # flagged villages come first
    flags = v["flag_kindergarten"] | v["flag_school"]
    assert flags.iloc[: flags.sum()].all()

    hh = pd.read_csv(demo_out / "households.csv", encoding="utf-8-sig")
    for col in (
        "household_id",
        "village_name",
        "dist_kindergarten_m",
        "dist_school_m",
        "nearest_kindergarten",
        "nearest_school",
        "offroad_m",
    ):
        assert col in hh.columns
    assert len(hh) == 30
    assert (hh["offroad_m"] >= 0).all()
    # no names, phones or coordinates in the household table
    assert not {"name", "phone", "lon", "lat"} & set(hh.columns)


def test_demo_geopackage_holds_every_layer(demo_out):
    names = {name for name, _ in pyogrio.list_layers(demo_out / "layers.gpkg")}
    assert {"villages", "services", "roads", "village_areas"} <= names
    assert "households" not in names  # committee mode by default: no household points
    roads = gpd.read_file(demo_out / "layers.gpkg", layer="roads")
    assert len(roads) > 1000
    assert roads.crs.to_epsg() == 4326


def test_demo_writes_a_map(demo_out):
    html = (demo_out / "map.html").read_text("utf-8")
    assert "leaflet" in html.lower()
    assert FAR_VILLAGE in html or json.dumps(FAR_VILLAGE)[1:-1] in html


def test_subprocess_prints_a_summary_and_progress(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mapping", "analyze", "--demo", "--no-map", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert FAR_VILLAGE in proc.stdout
    assert "幼儿园" in proc.stdout  # Chinese by default
    assert "building the road network" in proc.stderr


def test_missing_osm_file_exits_2_with_a_message_and_keeps_old_results(tmp_path, capsys):
    (tmp_path / "villages.csv").write_text("earlier results\n", encoding="utf-8")
    code = main(
        ["analyze", "--osm", str(tmp_path / "nowhere.osm"), "--out", str(tmp_path), "--lang", "en"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "nowhere.osm" in err
    assert (tmp_path / "villages.csv").read_text(encoding="utf-8") == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["villages.csv"]


def test_bad_threshold_is_explained(tmp_path, capsys):
    code = main(["analyze", "--demo", "--threshold", "kindergarten:5", "--out", str(tmp_path)])
    assert code == 2
    assert "类型=距离" in capsys.readouterr().err
    code = main(
        [
            "analyze",
            "--demo",
            "--threshold",
            "kindergarten=-3km",
            "--out",
            str(tmp_path),
            "--lang",
            "en",
        ]
    )
    assert code == 2
    assert "give a distance above 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_bbox_is_explained(tmp_path, capsys):
    code = main(["analyze", "--bbox", "1,2,3", "--out", str(tmp_path), "--lang", "en"])
    assert code == 2
    assert "W,S,E,N" in capsys.readouterr().err


def test_no_source_is_explained(tmp_path, capsys):
    code = main(["analyze", "--out", str(tmp_path), "--lang", "en"])
    assert code == 2
    assert "--osm" in capsys.readouterr().err


def test_households_file_replaces_the_demo_households(tmp_path, capsys):
    csv = tmp_path / "hh.csv"
    csv.write_text("id,经度,纬度,儿童数\nA1,113.20,41.45,2\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main(["analyze", "--demo", "--households", str(csv), "--no-map", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    hh = pd.read_csv(out / "households.csv", encoding="utf-8-sig")
    assert hh["household_id"].tolist() == ["A1"]
    assert hh["dist_kindergarten_m"].notna().all()


def test_demo_households_keep_their_phone_column_for_the_team():
    from mapping.scenario import load_demo

    hh = load_demo().households
    assert hh["phone"].notna().all()
    assert hh["children"].notna().all()


def test_a_downloaded_area_runs_offline_from_the_cache(tmp_path, monkeypatch, capsys):
    import shutil

    from layers import overpass
    from tests.conftest import FIXTURES

    bbox = (111.6, 41.5, 111.7, 41.56)
    cache = tmp_path / "cache"
    target = overpass.cache_path_for(overpass.build_query(bbox=bbox), cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "overpass" / "interpreter_small.osm", target)
    monkeypatch.setenv("GAPMAPPER_CACHE_DIR", str(cache))
    monkeypatch.setenv("GAPMAPPER_OFFLINE", "1")
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "--bbox",
            "111.6,41.5,111.7,41.56",
            "--out",
            str(out),
            "--no-map",
            "--lang",
            "en",
            "--mode",
            "walk",
        ]
    )
    assert code == 0, capsys.readouterr().err
    v = pd.read_csv(out / "villages.csv", encoding="utf-8-sig")
    assert len(v) >= 1 and v["dist_kindergarten_m"].notna().any()


def test_an_area_not_in_the_cache_needs_the_network(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAPMAPPER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GAPMAPPER_OFFLINE", "1")
    code = main(
        [
            "analyze",
            "--bbox",
            "111.6,41.5,111.7,41.56",
            "--out",
            str(tmp_path / "o"),
            "--lang",
            "en",
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.strip()
    assert not (tmp_path / "o").exists()


def test_speed_options_change_the_times(tmp_path, capsys):
    slow, fast = tmp_path / "slow", tmp_path / "fast"
    assert (
        main(
            [
                "analyze",
                "--demo",
                "--no-map",
                "--out",
                str(slow),
                "--speed",
                "track=10",
                "--speed",
                "unclassified=10",
                "--speed",
                "tertiary=10",
            ]
        )
        == 0
    )
    assert main(["analyze", "--demo", "--no-map", "--out", str(fast)]) == 0
    a = pd.read_csv(slow / "villages.csv", encoding="utf-8-sig").set_index("village_id")
    b = pd.read_csv(fast / "villages.csv", encoding="utf-8-sig").set_index("village_id")
    assert (a["time_kindergarten_min"] >= b["time_kindergarten_min"] - 0.05).all()
    assert (a["time_kindergarten_min"] > b["time_kindergarten_min"] + 1).any()
    pd.testing.assert_series_equal(a["dist_kindergarten_m"], b["dist_kindergarten_m"].loc[a.index])
    code = main(["analyze", "--demo", "--speed", "track:10", "--out", str(tmp_path / "x")])
    assert code == 2 and "track=15" in capsys.readouterr().err


def test_printable_map_is_written_on_request(tmp_path):
    assert main(["analyze", "--demo", "--no-map", "--print", "A4", "--out", str(tmp_path)]) == 0
    png = (tmp_path / "map-A4.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"/MediaBox" in (tmp_path / "map-A4.pdf").read_bytes()


def test_a_second_run_reopens_the_network_from_the_disk_cache(tmp_path, private_folders):
    cache = private_folders / "cache" / "networks"
    assert main(["analyze", "--demo", "--no-map", "--out", str(tmp_path / "a")]) == 0
    entries = sorted(p.name for p in cache.iterdir())
    assert any(n.endswith(".extract.npz") for n in entries)
    assert any(n.endswith(".motorbike.network.npz") for n in entries)
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert main(["analyze", "--demo", "--no-map", "--out", str(tmp_path / "b")]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps  # reused
    a = pd.read_csv(tmp_path / "a" / "villages.csv", encoding="utf-8-sig")
    b = pd.read_csv(tmp_path / "b" / "villages.csv", encoding="utf-8-sig")
    pd.testing.assert_frame_equal(a, b)


def test_clip_keeps_part_of_an_extract(tmp_path, capsys):
    from mapping.scenario import load_demo

    v = load_demo().villages
    far = v[v["village_name"] == FAR_VILLAGE].geometry.iloc[0]
    osm = ROOT / "data" / "demo" / "banner.osm"
    clip = f"{far.x - 0.2},{far.y - 0.2},{far.x + 0.2},{far.y + 0.2}"
    code = main(
        [
            "analyze",
            "--osm",
            str(osm),
            "--clip",
            clip,
            "--no-map",
            "--out",
            str(tmp_path),
            "--lang",
            "en",
        ]
    )
    assert code == 0, capsys.readouterr().err
    names = pd.read_csv(tmp_path / "villages.csv", encoding="utf-8-sig")["village_name"]
    assert FAR_VILLAGE in set(names) and len(names) < len(v)


def test_full_privacy_geopackage_keeps_the_households(tmp_path):
    assert main(["analyze", "--demo", "--no-map", "--privacy", "full", "--out", str(tmp_path)]) == 0
    hh = gpd.read_file(tmp_path / "layers.gpkg", layer="households")
    assert len(hh) == 30 and hh["phone"].notna().all()


def test_households_far_outside_the_area_are_warned_about(tmp_path, capsys):
    csv = tmp_path / "hh.csv"
    csv.write_text("id,经度,纬度\nA1,113.20,41.45\nA2,116.50,39.90\n", encoding="utf-8")
    code = main(
        [
            "analyze",
            "--demo",
            "--households",
            str(csv),
            "--no-map",
            "--out",
            str(tmp_path / "o"),
            "--lang",
            "en",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "(rows 3;" in err and "outside the study area" in err


def test_plan_writes_a_map_with_the_suggested_sites(tmp_path):
    assert main(["plan", "--demo", "--add", "1", "--out", str(tmp_path), "--lang", "en"]) == 0
    html = (tmp_path / "map.html").read_text("utf-8")
    assert "gm-proposed" in html  # the suggested site is drawn as a proposal
    from mapping.scenario import load_demo

    for hid in load_demo().households.index:  # committee map by default
        assert hid not in html


def test_displaced_privacy_map_from_the_cli(tmp_path):
    assert main(["analyze", "--demo", "--privacy", "displaced", "--out", str(tmp_path)]) == 0
    html = (tmp_path / "map.html").read_text("utf-8")
    assert "gm-displaced" in html
    # a second run moves every household the same way (this computer's key)
    again = tmp_path / "again"
    assert main(["analyze", "--demo", "--privacy", "displaced", "--out", str(again)]) == 0
    strip = re.compile(r"_[0-9a-f]{32}")  # folium's random element names
    assert strip.sub("_", (again / "map.html").read_text("utf-8")) == strip.sub("_", html)
    from mapping.scenario import load_demo

    for hid in load_demo().households.index:
        assert hid not in html


def test_village_positions_and_shares_are_written_to_full_precision(demo_out):
    """Each column keeps its own decimals: positions to 1 cm, metres to 0.1 m, shares to 3."""
    import pyproj

    from mapping.scenario import load_demo

    v = pd.read_csv(demo_out / "villages.csv", encoding="utf-8-sig", dtype={"village_id": str})
    truth = load_demo().villages
    geod = pyproj.Geod(ellps="WGS84")
    _, _, moved_m = geod.inv(
        v["lon"].to_numpy(),
        v["lat"].to_numpy(),
        truth.geometry.x.loc[v["village_id"]].to_numpy(),
        truth.geometry.y.loc[v["village_id"]].to_numpy(),
    )
    assert abs(moved_m).max() < 1.0
    with_hh = v[v["n_households"] > 0]
    share = with_hh["n_hh_beyond_kindergarten"] / with_hh["n_households"]
    assert (with_hh["share_hh_beyond_kindergarten"] - share).abs().max() <= 0.0005
    text = (demo_out / "villages.csv").read_text(encoding="utf-8-sig")
    assert not re.search(r"\d\.\d{8,}", text)  # no float noise (0.30000000000000004)


def test_csv_columns_keep_their_own_decimals(tmp_path):
    from mapping.export import write_csv

    table = pd.DataFrame(
        {
            "lon": [113.1234567891],
            "lat": [41.9876543219],
            "dist_kindergarten_m": [1234.56789],
            "time_kindergarten_min": [12.345678],
            "share_hh_beyond_kindergarten": [2 / 3],
            "n_households": [3],
        }
    )
    text = write_csv(table, tmp_path / "t.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[1] == "113.1234568,41.9876543,1234.6,12.3,0.667,3"


def test_a_threshold_in_minutes_flags_by_travel_time(tmp_path, capsys):
    """``--threshold kindergarten=20min``: flagged exactly where the time is beyond 20 min
    (the oracle is the table's own time column), and the sentence says minutes."""
    assert main(["analyze", "--demo", "--threshold", "kindergarten=20min", "--no-map",
                 "--out", str(tmp_path), "--lang", "en"]) == 0  # fmt: skip
    v = pd.read_csv(tmp_path / "villages.csv", encoding="utf-8-sig")
    reachable = v["time_kindergarten_min"].notna()
    beyond = v["time_kindergarten_min"] > 20
    assert (v.loc[reachable, "flag_kindergarten"] == beyond[reachable]).all()
    assert beyond.any() and (~beyond[reachable]).any()
    assert "20 min" in " ".join(v.loc[v["flag_kindergarten"], "reason_kindergarten"].dropna())
    code = main(["analyze", "--demo", "--threshold", "kindergarten=infmin", "--out",
                 str(tmp_path / "x")])  # fmt: skip
    assert code == 2 and "Traceback" not in capsys.readouterr().err
