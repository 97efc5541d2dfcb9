"""Households without coordinates (issue 14, item 4): placed at their village, marked
``located = village`` in households.csv, counted in the summary and the report; strict with
``--require-coords``."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from layers.households import validate_households
from mapping.analysis import run_analysis
from mapping.cli import main
from mapping.export import household_table, summarize
from mapping.scenario import load_demo, replace_layers

#: Demo villages (real names in the demo Banner): one household with GPS, three without.
HOUSEHOLDS = (
    "户号,所属村,儿童数,经度,纬度\n"
    "A1,温家村,2,112.958602,41.848387\n"
    "A2,温家村,1,,\n"
    "A3,希乐图村,3,,\n"
    "A4,希乐图,1,,\n"  # 希乐图村 written without its ending
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("placed")
    demo = load_demo()
    scenario = replace_layers(
        demo, households=write(folder / "住户.csv", HOUSEHOLDS), coords="gcj02"
    )
    return demo, scenario, run_analysis(scenario)


def test_households_without_coordinates_sit_at_their_villages_point(placed):
    demo, scenario, _ = placed
    hh = scenario.households
    assert hh["located"].tolist() == ["gps", "village", "village", "village"]
    villages = demo.villages.set_index("village_name")
    for hid, name in (("A2", "温家村"), ("A3", "希乐图村"), ("A4", "希乐图村")):
        assert hh.loc[hid, "geometry"].equals(villages.loc[name, "geometry"])


def test_their_distance_is_their_villages(placed):
    _, _, analysis = placed
    hh = analysis.households
    v = analysis.villages.set_index("village_name")
    for hid, name in (("A2", "温家村"), ("A3", "希乐图村")):
        assert hh.loc[hid, "village_name"] == name
        assert hh.loc[hid, "dist_kindergarten_m"] == pytest.approx(
            v.loc[name, "dist_kindergarten_m"], abs=1e-6
        )


def test_households_csv_and_the_summary_say_so(placed):
    _, _, analysis = placed
    table = household_table(analysis)
    assert table["located"].tolist() == ["gps", "village", "village", "village"]
    assert "3 户没有坐标，按所在村计算。" in summarize(analysis, "zh").splitlines()
    assert "3 households have no coordinates and are counted at their village." in summarize(
        analysis, "en"
    )


def test_no_summary_line_when_every_household_has_coordinates():
    analysis = run_analysis(load_demo())
    assert (analysis.households["located"] == "gps").all()
    assert "没有坐标" not in summarize(analysis, "zh")


def test_the_report_caveat_counts_them(placed, tmp_path):
    from mapping.mapmodel import build_map_model
    from mapping.report import write_report

    pypdf = pytest.importorskip("pypdf")
    _, _, analysis = placed
    model = build_map_model(analysis, lang="zh", kind="kindergarten", privacy="committee")
    path = write_report(model, tmp_path / "report.pdf")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(path).pages)
    assert "3 户没有坐标，按所在村的位置计算。" in text.replace("\n", "")


def test_a_layer_made_before_located_existed_is_gps(placed):
    _, scenario, _ = placed
    old = scenario.households.drop(columns="located")
    assert (validate_households(gpd.GeoDataFrame(old))["located"] == "gps").all()


def test_cli_places_them_and_writes_located(tmp_path, capsys):
    path = write(tmp_path / "住户.csv", HOUSEHOLDS)
    out = tmp_path / "out"
    code = main(["analyze", "--demo", "--households", str(path), "--coords", "gcj02",
                 "--no-map", "--out", str(out), "--lang", "zh"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 户没有坐标，按所在村计算。" in captured.out
    assert "住户.csv：3 户没有坐标，按所在村计算（第 3, 4, 5 行）" in captured.err
    table = pd.read_csv(out / "households.csv", encoding="utf-8-sig")
    assert table["located"].tolist() == ["gps", "village", "village", "village"]


def test_cli_require_coords_keeps_the_strict_behaviour(tmp_path, capsys):
    path = write(tmp_path / "住户.csv", HOUSEHOLDS)
    out = tmp_path / "out"
    out.mkdir()
    (out / "households.csv").write_text("earlier results", encoding="utf-8")
    code = main(["analyze", "--demo", "--households", str(path), "--require-coords",
                 "--no-map", "--out", str(out), "--lang", "en"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "住户.csv: 3 row(s) have no value in column '经度' (rows 3, 4, 5)" in err
    assert (out / "households.csv").read_text(encoding="utf-8") == "earlier results"


def test_cli_a_household_with_neither_position_nor_village_names_the_row(tmp_path, capsys):
    path = write(
        tmp_path / "住户.csv", "户号,所属村,经度,纬度\nA1,温家村,112.9586,41.8484\nA2,,,\n"
    )
    code = main(["analyze", "--demo", "--households", str(path), "--no-map",
                 "--out", str(tmp_path / "o"), "--lang", "zh"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "第 3 行" in err and "既没有坐标也没有写所在村" in err
    assert "Traceback" not in err


def test_cli_all_rows_without_coordinates_and_no_villages(tmp_path, capsys):
    """An OSM extract without villages: nothing to place the households at."""
    osm = tmp_path / "roads.osm"
    osm.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="41.80" lon="112.90" version="1"/>'
        '<node id="2" lat="41.81" lon="112.91" version="1"/>'
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="track"/></way>'
        "</osm>",
        encoding="utf-8",
    )
    path = write(tmp_path / "住户.csv", "户号,所属村,经度,纬度\nA1,温家村,,\nA2,温家村,,\n")
    code = main(["analyze", "--osm", str(osm), "--households", str(path), "--no-map",
                 "--out", str(tmp_path / "o"), "--lang", "en"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "None of the 2 households in 住户.csv has coordinates" in err
    assert "--villages" in err
