"""The command line with community roads and road conditions (``--roads``, ``--closures``,
``--condition``, ``--join-m``): the demo's recorded track and winter closure through the
files a user gives, every output written, every bad argument a message."""

from __future__ import annotations

import pandas as pd
import pytest

from mapping.cli import main
from tests.conftest import ROOT

TRACK = ROOT / "data" / "demo" / "community_track.gpx"
WINTER = ROOT / "data" / "demo" / "winter_closure.geojson"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corr") / "out"
    code = main(["analyze", "--demo", "--roads", str(TRACK), "--closures", str(WINTER),
                 "--print", "A4", "--out", str(folder), "--lang", "en"])  # fmt: skip
    assert code == 0
    return folder


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain") / "out"
    assert main(["analyze", "--demo", "--no-map", "--out", str(folder), "--lang", "en"]) == 0
    return pd.read_csv(folder / "villages.csv", encoding="utf-8-sig").set_index("village_name")


def test_every_output_is_written(out):
    names = {p.name for p in out.iterdir()}
    assert {"health.csv", "community_changes.csv", "community_roads.geojson",
            "community_roads.gpx", "conditions.csv", "villages.csv", "map.html",
            "map-A4.pdf"} <= names  # fmt: skip


def test_the_track_shortens_its_village_and_the_table_says_so(out, plain):
    changes = pd.read_csv(out / "community_changes.csv", encoding="utf-8-sig")
    row = changes[(changes["kind"] == "kindergarten")].iloc[0]
    name = row["village_name"]
    # before = the run without community roads; after < before
    assert row["dist_before_m"] == pytest.approx(plain.at[name, "dist_kindergarten_m"], abs=0.1)
    assert row["dist_after_m"] < row["dist_before_m"] - 500
    assert name in row["sentence_en"] and "shorter" in row["sentence_en"]


def test_the_winter_closure_cuts_off_a_village_and_names_the_condition(out, plain):
    villages = pd.read_csv(out / "villages.csv", encoding="utf-8-sig").set_index("village_name")
    cut = villages[villages["dist_kindergarten_m"].isna()]
    assert len(cut) == 1
    assert plain.loc[cut.index[0], "dist_kindergarten_m"] > 0  # reachable when roads are open
    assert "冬季积雪" in cut["reason_kindergarten"].iloc[0]
    conditions = pd.read_csv(out / "conditions.csv", encoding="utf-8-sig")
    assert set(conditions["condition"]) == {"冬季积雪"}
    assert (conditions["n_cut_off"] == 1).all()


def test_the_map_draws_the_community_road_and_the_closure(out):
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "gm-community" in html and "gm-closed" in html
    assert "Road added by the community" in html and "Closed (冬季积雪)" in html


def test_the_community_roads_can_be_read_back(out, tmp_path):
    # the GPX written is a file the tool reads as community roads again
    code = main(["analyze", "--demo", "--roads", str(out / "community_roads.gpx"), "--no-map",
                 "--out", str(tmp_path / "again"), "--lang", "en"])  # fmt: skip
    assert code == 0
    again = pd.read_csv(tmp_path / "again" / "community_changes.csv", encoding="utf-8-sig")
    first = pd.read_csv(out / "community_changes.csv", encoding="utf-8-sig")
    assert list(again["dist_after_m"]) == pytest.approx(list(first["dist_after_m"]), abs=0.1)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--condition", "冬季积雪"], "without a --closures file"),
        (["--join-m", "0"], "--join-m '0.0'"),
        (["--join-m", "inf"], "--join-m 'inf'"),
    ],
)
def test_bad_arguments_are_messages(tmp_path, capsys, args, expected):
    code = main(["analyze", "--demo", *args, "--out", str(tmp_path / "o"), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_a_gpx_of_waypoints_only_is_explained(tmp_path, capsys):
    gpx = tmp_path / "points.gpx"
    gpx.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="41.5" lon="113.1"><name>a</name>'
        "</wpt></gpx>",
        encoding="utf-8",
    )
    code = main(["analyze", "--demo", "--roads", str(gpx), "--out", str(tmp_path / "o"),
                 "--lang", "en"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "points.gpx" in err and "waypoint" in err.lower()


def test_the_report_says_what_the_community_added(tmp_path):
    import pypdf

    code = main(["report", "--demo", "--roads", str(TRACK), "--closures", str(WINTER),
                 "--cards", "none", "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 0
    text = "".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "r" / "report.pdf").pages)
    text = "".join(text.split())
    assert "社区补充的道路：1条" in text
    assert "按“冬季积雪”计算" in text
