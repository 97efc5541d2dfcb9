"""Nothing lost: a save killed mid-write leaves the previous save readable.

Saves go through a temporary file beside the target (its name starts with a dot, so people
and file pickers see it as a hidden leftover), which replaces the target only when complete.
Each test writes a first version, starts a subprocess that writes a second version to the same
path, kills it with SIGKILL half-way, and checks that the target is byte-for-byte the first
version and still opens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers.households import validate_households
from layers.villages import validate_villages
from mapping.project import open_project, save_project
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from tests.conftest import ROOT
from tests.netbuild import points, roads, services

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def small_scenario() -> Scenario:
    r = roads({i: (1000.0 * i, 0.0) for i in range(4)}, [(1, [0, 1, 2, 3], "track")])
    vil = points({"V1": (1000.0, 0.0)})
    vil["village_id"] = vil.index
    vil["village_name"] = ["前进村"]
    vil["boundary"] = gpd.GeoSeries([None], index=vil.index, crs="EPSG:4326")
    vil["source"] = "file"
    hh = points({"H1": (1000.0, 100.0), "H2": (2000.0, -100.0)})
    hh["household_id"] = hh.index
    hh["village_name"] = pd.array(["前进村", None], dtype="str")
    hh["name"] = pd.array(["张三", "李四"], dtype="str")
    hh["phone"] = pd.array(["13800000001", None], dtype="str")
    hh["children"] = pd.array([2, 1], dtype="Int64")
    hh["source_row"] = pd.array([2, 3], dtype="Int64")
    return Scenario(
        roads=r,
        villages=validate_villages(vil),
        households=validate_households(hh),
        services=services({"k": ("kindergarten", 0.0, 0.0)}),
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        study_area=shapely.box(110.9, 41.4, 111.1, 41.6),
        title={"zh": "第一版", "en": "first"},
    )


# A larger project (a few hundred thousand road segments and households) takes long enough to
# write that the parent can see the temporary file appear and kill the writer mid-way.
BIG_SAVE = """
import sys
import numpy as np
import geopandas as gpd
import pandas as pd
sys.path.insert(0, {root!r})
from layers.households import validate_households
from layers.roads import RoadEdges
from layers.services import empty_services
from layers.villages import empty_villages
from mapping.project import save_project
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings

n = 400_000
rng = np.random.default_rng(1)
lon = 111.0 + rng.random(n) * 0.1
lat = 41.5 + rng.random(n) * 0.1
roads = RoadEdges(
    node_id=np.arange(n, dtype=np.int64), lon=lon, lat=lat,
    u=np.arange(n - 1, dtype=np.int64), v=np.arange(1, n, dtype=np.int64),
    way_id=np.ones(n - 1, dtype=np.int64), highway=np.zeros(n - 1, dtype=np.int16),
    oneway=np.zeros(n - 1, dtype=np.int8), modes=np.full(n - 1, 7, dtype=np.uint8),
)
m = 200_000
ids = [f"B{{i}}" for i in range(m)]
hh = gpd.GeoDataFrame(
    {{"household_id": ids, "village_name": pd.array([None] * m, dtype="str"),
      "name": pd.array([None] * m, dtype="str"), "phone": pd.array([None] * m, dtype="str"),
      "children": pd.array([1] * m, dtype="Int64"),
      "source_row": pd.array(range(2, m + 2), dtype="Int64")}},
    geometry=gpd.points_from_xy(lon[:m], lat[:m]), crs="EPSG:4326",
    index=pd.Index(ids, dtype="str", name="household_id"),
)
sc = Scenario(roads=roads, villages=empty_villages(), households=validate_households(hh),
              services=empty_services(), boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
              title={{"zh": "第二版", "en": "second"}})
print("start", flush=True)
save_project({path!r}, sc, AnalysisSettings())
print("done", flush=True)
"""


def leftovers(folder: Path, target: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p != target]


def kill_when(proc: subprocess.Popen, ready, timeout_s: float = 120.0) -> float:
    """SIGKILL ``proc`` as soon as ``ready()`` is true; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return time.monotonic() - started
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the writer finished before it could be killed: {out}")
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    pytest.fail("the temporary file never appeared")


def test_a_project_save_killed_mid_write_leaves_the_previous_save(tmp_path):
    target = tmp_path / "workshop.gpkg"
    first = small_scenario()
    save_project(target, first, AnalysisSettings(mode="walk"), extra={"lang": "zh"})
    before = target.read_bytes()

    script = BIG_SAVE.format(root=str(ROOT), path=str(target))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )

    def writing() -> bool:
        # the temporary GeoPackage exists and GDAL has begun filling it
        return any(p.stat().st_size > 0 for p in leftovers(tmp_path, target) if p.exists())

    kill_when(proc, writing)
    assert proc.returncode == -signal.SIGKILL

    # the target is the first save, byte for byte, and opens as it was
    assert target.read_bytes() == before
    scenario, settings, proposals, extra = open_project(target)
    assert settings == AnalysisSettings(mode="walk") and extra == {"lang": "zh"}
    assert scenario.title == {"zh": "第一版", "en": "first"}
    assert scenario.households.index.tolist() == ["H1", "H2"]
    assert scenario.households["name"].tolist() == ["张三", "李四"]
    assert len(scenario.roads.u) == 3 and len(proposals) == 0
    assert scenario.study_area.equals(first.study_area)

    # what the killed writer left is hidden (a leading dot) and names the project it was for
    left = leftovers(tmp_path, target)
    assert left, "expected the killed writer's temporary file"
    assert all(p.name.startswith(".workshop-") for p in left), [p.name for p in left]

    # and the next save goes through and replaces the target cleanly
    save_project(target, first.replace(title={"zh": "第三版", "en": "third"}), AnalysisSettings())
    assert open_project(target)[0].title["en"] == "third"


HOLD_IN_ATOMIC_PATH = """
import sys, time
sys.path.insert(0, {root!r})
from layers.files import atomic_path
with atomic_path({path!r}) as tmp:
    tmp.write_text("village_id,dist_m\\nHALF", encoding="utf-8")
    print("writing", flush=True)
    time.sleep(120)
"""

HOLD_BEFORE_REPLACE = """
import os, sys, time
sys.path.insert(0, {root!r})
import folium
from layers import files
from mapping import maps

def stuck(src, dst):
    print("written", flush=True)
    time.sleep(120)

files.os.replace = stuck  # every file is written through layers.files
m = folium.Map(tiles=None)
m.default_js = [(n, u) for n, u in m.default_js if n == "leaflet"]
m.default_css = [(n, u) for n, u in m.default_css if n == "leaflet_css"]
maps.write_map_html(m, {path!r})
"""


def run_until(script: str, word: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    if line.strip() != word:
        proc.kill()
        pytest.fail(f"writer said {line!r}: {proc.stderr.read()[-2000:]}")
    return proc


def test_tables_killed_mid_write_leave_the_previous_tables(tmp_path):
    # write_tables, write_geopackage and save_project all write through atomic_path
    target = tmp_path / "villages.csv"
    target.write_text("village_id,dist_m\nV1,1200.0\n", encoding="utf-8-sig")
    before = target.read_bytes()
    proc = run_until(HOLD_IN_ATOMIC_PATH.format(root=str(ROOT), path=str(target)), "writing")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert target.read_bytes() == before
    left = leftovers(tmp_path, target)
    assert [p.read_text(encoding="utf-8") for p in left] == ["village_id,dist_m\nHALF"]
    assert all(p.name.startswith(".villages-") and p.suffix == ".csv" for p in left)


def test_a_map_killed_before_it_replaces_the_old_one_leaves_the_old_map(tmp_path):
    target = tmp_path / "map.html"
    target.write_text("<!DOCTYPE html><html><body>old map</body></html>", encoding="utf-8")
    before = target.read_bytes()
    proc = run_until(HOLD_BEFORE_REPLACE.format(root=str(ROOT), path=str(target)), "written")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert target.read_bytes() == before
    left = leftovers(tmp_path, target)
    assert len(left) == 1 and left[0].name.startswith(".map-") and left[0].suffix == ".html"
    assert left[0].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")  # the new, unused


def test_a_failed_save_removes_its_temporary_file_and_keeps_the_target(tmp_path):
    target = tmp_path / "workshop.gpkg"
    save_project(target, small_scenario(), AnalysisSettings())
    before = target.read_bytes()
    broken = small_scenario().replace(households="not a frame")
    with pytest.raises(Exception):  # noqa: B017 - any failure of the writer will do
        save_project(target, broken, AnalysisSettings())
    assert target.read_bytes() == before
    assert leftovers(tmp_path, target) == []
