"""The command line's outputs are all-or-nothing, and every failure is a message.

A run writes every file into a staging folder beside ``--out`` and moves them in only when all
were written (:mod:`layers.files`): whatever fails (a map that cannot be drawn, ``map.html``
being a folder, a full disk, a file open in Excel on Windows), the earlier results stay byte
for byte as they were. Bad arguments and a bad environment end with a message in the chosen
language and exit code 2, never a traceback; an internal bug ends with a short message that
says where the log is (exit code 1).

Windows behaviour that can be simulated here is: ``os.replace`` refusing a file that another
program holds open (``PermissionError``), a console that cannot encode every character
(``PYTHONIOENCODING=gbk``), and paths pasted from Explorer with quotes around them.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import layers.files
from mapping.cli import main
from tests.conftest import ROOT

SMALL_OSM = ROOT / "tests" / "fixtures" / "osm" / "small.osm"
#: Options of a small, quick run on the hand-written extract, with every output.
RUN = ["analyze", "--osm", str(SMALL_OSM), "--threshold", "kindergarten=100m", "--print", "A4"]
OUTPUTS = {"villages.csv", "households.csv", "layers.gpkg", "map.html", "map-A4.pdf", "map-A4.png"}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def earlier(tmp_path_factory) -> Path:
    """A folder holding a complete earlier run's results."""
    out = tmp_path_factory.mktemp("earlier") / "out"
    assert main([*RUN, "--out", str(out)]) == 0
    assert OUTPUTS <= set(snapshot(out))
    return out


@pytest.fixture
def results(earlier, tmp_path) -> tuple[Path, dict[str, bytes]]:
    """A fresh copy of the earlier results, and their bytes."""
    out = tmp_path / "out"
    shutil.copytree(earlier, out)
    return out, snapshot(out)


def assert_unchanged(out: Path, before: dict[str, bytes]) -> None:
    assert snapshot(out) == before
    # nothing left beside the folder either (the staging folder is gone)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_a_second_run_replaces_every_output(results, capsys):
    out, before = results
    assert main([*RUN, "--out", str(out), "--lang", "en"]) == 0
    after = snapshot(out)
    assert set(after) == set(before)
    # the earlier run was in Chinese, this one in English: every table was rewritten
    assert b"threshold" not in before["villages.csv"]
    assert b"threshold" in after["villages.csv"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_the_map_failing_keeps_every_earlier_result(results, monkeypatch, capsys):
    out, before = results

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr("mapping.maps.render_map_html", broken)
    code = main([*RUN, "--out", str(out), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    log = re.search(r"log: (.+)$", err, re.M)
    assert log, err
    assert "RuntimeError: drawing failed" in Path(log.group(1).strip()).read_text(encoding="utf-8")
    assert_unchanged(out, before)


def test_map_html_being_a_folder_is_explained_and_nothing_changes(results, capsys):
    out, before = results
    (out / "map.html").unlink()
    (out / "map.html").mkdir()
    (out / "map.html" / "keep.txt").write_text("mine", encoding="utf-8")
    before = snapshot(out)
    code = main([*RUN, "--out", str(out), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'map.html'" in err and "is a folder" in err
    assert_unchanged(out, before)


def test_a_file_open_in_excel_is_explained_and_nothing_changes(results, monkeypatch, capsys):
    """Windows refuses to rename or replace a file another program has open."""
    out, before = results
    real = os.replace

    def windows_replace(src, dst):
        if Path(dst).name == "map.html" or Path(src).name == "map.html":
            raise PermissionError(errno.EACCES, "The process cannot access the file", str(dst))
        return real(src, dst)

    monkeypatch.setattr(layers.files.os, "replace", windows_replace)
    code = main([*RUN, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "“map.html”正被其他程序打开" in err and "请先关闭它" in err
    assert_unchanged(out, before)


def test_a_full_disk_is_explained_and_nothing_changes(results, monkeypatch, capsys):
    out, before = results

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("mapping.printmap.write_print_map", full)
    code = main([*RUN, "--out", str(out), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert "The disk is full" in err
    assert_unchanged(out, before)


def test_an_unwritable_place_is_explained(tmp_path, monkeypatch, capsys):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(layers.files.tempfile, "mkdtemp", refused)
    code = main([*RUN, "--out", str(tmp_path / "out"), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert "No permission to write in" in err and "Traceback" not in err


def test_out_naming_a_file_is_explained(tmp_path, capsys):
    target = tmp_path / "results.csv"
    target.write_text("mine\n", encoding="utf-8")
    code = main([*RUN, "--out", str(target), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert "is a file, not a folder" in err and "results.csv" in err
    assert target.read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_out_under_a_file_is_explained(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("mine\n", encoding="utf-8")
    code = main([*RUN, "--out", str(tmp_path / "a.txt" / "out"), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'" + str(tmp_path / "a.txt") + "' on its way is a file" in err


@pytest.mark.parametrize("kinds", [",", " , ", ""])
def test_no_service_kind_is_explained(tmp_path, kinds, capsys):
    code = main([*RUN, "--kinds", kinds, "--out", str(tmp_path / "out"), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--kinds" in err and "kindergarten" in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_service_kind_is_explained(tmp_path, capsys):
    code = main([*RUN, "--kinds", "kindergarten,hospital", "--out", str(tmp_path), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2
    assert "hospital" in err and "kindergarten, school, childcare" in err


def test_paths_pasted_with_quotes_are_read(tmp_path, capsys):
    """Explorer's "Copy as path" puts double quotes around the path."""
    out = tmp_path / "out"
    code = main(["analyze", "--osm", f'"{SMALL_OSM}"', "--no-map", "--out", f' "{out}" '])
    assert code == 0, capsys.readouterr().err
    assert (out / "villages.csv").exists()


def test_a_gbk_console_prints_names_it_cannot_encode(tmp_path):
    """Mongolian script is outside GBK: the summary must still print (with replacements)."""
    name = "ᠬᠥᠬᠡᠬᠣᠲᠠ"
    osm = tmp_path / "mongol.osm"
    osm.write_text(
        SMALL_OSM.read_text(encoding="utf-8")
        .replace('v="Alpha"', f'v="{name}"')
        .replace('v="阿尔法村"', f'v="{name}"'),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONIOENCODING": "gbk"}
    proc = subprocess.run(
        [sys.executable, "-m", "mapping", "analyze", "--osm", str(osm), "--threshold",
         "kindergarten=100m", "--no-map", "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, env=env, timeout=300,
    )  # fmt: skip
    stderr = proc.stderr.decode("gbk", errors="replace")
    assert proc.returncode == 0, stderr
    assert "UnicodeEncodeError" not in stderr
    stdout = proc.stdout.decode("gbk")
    assert "幼儿园" in stdout  # the rest of the summary is there, in Chinese
    assert "?" * len(name) in stdout or name in stdout
