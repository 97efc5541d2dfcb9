"""What a Chinese Windows laptop does differently, simulated on Linux (issue 12).

These tests run on Linux: they put Windows' answers where the product asks the operating
system (``sys.platform``, platformdirs' ``%LOCALAPPDATA%``, ``os.replace`` refusing a file
that Excel holds open). They check our side of each behaviour, not Windows itself: the
README's Windows section says what was checked how. The console encoding and pasted quoted
paths are the command line's (``tests/test_cli_safety.py``).
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from layers import files, overpass
from layers.errors import OutputError
from mapping import netcache
from mapping.privacy import KEY_FILE, displacement_key
from mapping.project import (
    autosave_path,
    open_project,
    open_settings,
    save_project,
    save_project_later,
    save_settings,
    settings_path,
    wait_for_saves,
)
from mapping.settings import AnalysisSettings
from tests.test_crash_safety import small_scenario


@pytest.fixture
def windows(monkeypatch, tmp_path):
    """``sys.platform`` is ``win32`` and platformdirs finds ``%LOCALAPPDATA%`` in a fake
    profile (``C:\\Users\\阿拉坦\\AppData\\Local``, here under ``tmp_path``); the test
    folders of ``conftest.private_folders`` are taken away so the defaults are used."""
    import platformdirs.windows

    profile = tmp_path / "Users" / "阿拉坦"
    folders = {
        "CSIDL_LOCAL_APPDATA": profile / "AppData" / "Local",
        "CSIDL_APPDATA": profile / "AppData" / "Roaming",
    }
    monkeypatch.setattr(sys, "platform", "win32")
    # what Windows' SHGetKnownFolderPath answers for this user
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda csidl: str(folders[csidl]))
    for name in ("GAPMAPPER_CACHE_DIR", "GAPMAPPER_AUTOSAVE_DIR"):
        monkeypatch.delenv(name, raising=False)
    return profile


def test_caches_and_autosave_go_under_localappdata_on_windows(windows):
    local = windows / "AppData" / "Local" / "service-gap-mapper"
    assert overpass.resolve_cache_dir() == local / "Cache" / "osm"
    assert netcache.resolve_cache_dir() == local / "Cache" / "networks"
    assert autosave_path() == local / "autosave.gpkg"
    # the variables still win, as on Linux
    os.environ["GAPMAPPER_CACHE_DIR"] = str(windows / "elsewhere")
    try:
        assert overpass.resolve_cache_dir() == windows / "elsewhere"
    finally:
        del os.environ["GAPMAPPER_CACHE_DIR"]


def test_linux_keeps_todays_folders_whatever_xdg_says(monkeypatch, tmp_path):
    # existing users' autosaves, keys and caches are where earlier versions put them
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    for name in ("GAPMAPPER_CACHE_DIR", "GAPMAPPER_AUTOSAVE_DIR"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    assert overpass.resolve_cache_dir() == home / ".cache" / "service-gap-mapper" / "osm"
    assert netcache.resolve_cache_dir() == home / ".cache" / "service-gap-mapper" / "networks"
    assert autosave_path() == home / ".local" / "share" / "service-gap-mapper" / "autosave.gpkg"


def test_the_displacement_key_lives_in_the_users_profile_on_windows(windows):
    key = displacement_key()
    path = windows / "AppData" / "Local" / "service-gap-mapper" / KEY_FILE
    assert path.read_bytes() == key and len(key) == 32
    # inside the profile, whose permissions (the user, administrators, the system) protect
    # it on Windows; never in a roaming folder that is copied to other computers
    assert path.is_relative_to(windows)
    assert not path.is_relative_to(windows / "AppData" / "Roaming")
    assert displacement_key() == key  # made once, then read


# --------------------------------------------------------------------------------------------
# A file open in Excel/WPS on Windows: os.replace raises PermissionError (WinError 5/32)


@pytest.fixture
def excel_holds(monkeypatch):
    """``os.replace`` onto the named files raises what Windows raises when another program
    has them open; other moves go through."""
    held: set[str] = set()
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name in held or "*" in held:
            raise PermissionError(
                errno.EACCES,
                "The process cannot access the file because it is being used by another process",
            )
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    return held


def test_a_project_open_in_another_program_is_a_message_and_the_old_save_stays(
    tmp_path, excel_holds
):
    target = tmp_path / "工作坊.gpkg"
    save_project(target, small_scenario(), AnalysisSettings(mode="walk"), extra={"v": 1})
    before = target.read_bytes()
    excel_holds.add(target.name)
    with pytest.raises(OutputError) as info:
        save_project(target, small_scenario(), AnalysisSettings(mode="car"), extra={"v": 2})
    err = info.value
    assert err.key == "error.output.locked"
    assert "工作坊.gpkg" in str(err) and "close it and run again" in str(err)
    assert "工作坊.gpkg" in err.message("zh") and "请先关闭它" in err.message("zh")
    assert target.read_bytes() == before  # all or nothing
    assert open_project(target)[1].mode == "walk"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left
    excel_holds.clear()
    save_project(target, small_scenario(), AnalysisSettings(mode="car"))
    assert open_project(target)[1].mode == "car"


def test_settings_beside_a_project_open_elsewhere_keep_the_old_ones(tmp_path, excel_holds):
    project = tmp_path / "autosave.gpkg"
    save_settings(project, AnalysisSettings(mode="walk"), {"lang": "zh"})
    excel_holds.add(settings_path(project).name)
    with pytest.raises(OutputError):
        save_settings(project, AnalysisSettings(mode="car"), {"lang": "en"})
    assert open_settings(project) == (AnalysisSettings(mode="walk"), {"lang": "zh"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [settings_path(project).name]


def test_the_autosave_logs_a_held_file_and_keeps_the_previous_one(tmp_path, excel_holds, caplog):
    target = tmp_path / "autosave.gpkg"
    save_project(target, small_scenario(), AnalysisSettings(mode="walk"))
    before = target.read_bytes()
    excel_holds.add(target.name)
    save_project_later(target, small_scenario(), AnalysisSettings(mode="car"))
    wait_for_saves()
    assert target.read_bytes() == before
    assert any("could not save" in r.getMessage() for r in caplog.records)


def test_a_network_cache_that_cannot_be_written_is_no_cache(tmp_path, excel_holds):
    import shutil

    from layers.osm import read_osm
    from mapping.network import build_network
    from tests.test_netcache import SMALL, assert_same_network

    osm = Path(shutil.copy(SMALL, tmp_path / "small.osm"))
    cache = tmp_path / "cache"
    excel_holds.add("*")  # every entry refused (another window reading them, an antivirus)
    _, net = netcache.load_network_cached(osm, cache_dir=cache)
    assert_same_network(net, build_network(read_osm(osm).roads, AnalysisSettings()))
    assert list(cache.iterdir()) == []  # nothing half-written, no temporary files
    excel_holds.clear()
    netcache.load_network_cached(osm, cache_dir=cache)
    assert len([p for p in cache.iterdir() if p.suffix == ".npz"]) == 2


# --------------------------------------------------------------------------------------------
# The launchers (start-app.sh, start-app.bat) for people who never open a terminal

ROOT = Path(__file__).resolve().parents[1]


def _fake_streamlit_wheel(folder: Path) -> Path:
    """A wheel of a package named ``streamlit`` whose ``python -m streamlit`` writes its
    arguments to ``launched.txt`` in the current folder (the real one needs the internet to
    install; these tests have none)."""
    import zipfile

    wheel = folder / "streamlit-0.0.1-py3-none-any.whl"
    files_in = {
        "streamlit/__init__.py": "",
        "streamlit/__main__.py": (
            "import sys, pathlib\n"
            "pathlib.Path('launched.txt').write_text(' '.join(sys.argv[1:]), encoding='utf-8')\n"
        ),
        "streamlit-0.0.1.dist-info/METADATA": (
            "Metadata-Version: 2.1\nName: streamlit\nVersion: 0.0.1\n"
        ),
        "streamlit-0.0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},,\n" for name in files_in) + "streamlit-0.0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, text in files_in.items():
            z.writestr(name, text)
        z.writestr("streamlit-0.0.1.dist-info/RECORD", record)
    return wheel


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="runs the bash launcher")
def test_start_app_sh_makes_the_environment_once_and_opens_the_app(tmp_path):
    import shutil
    import subprocess

    project = tmp_path / "社区 地图"  # a folder name with CJK and a space
    project.mkdir()
    shutil.copy(ROOT / "start-app.sh", project)
    (project / "app.py").write_text("# the app\n", encoding="utf-8")
    wheel = _fake_streamlit_wheel(project)
    (project / "requirements.txt").write_text(f"{wheel.name}\n", encoding="utf-8")
    env = {**os.environ, "PYTHON": sys.executable, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""}

    def launch(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["bash", str(project / "start-app.sh"), *args],
            cwd=tmp_path,  # started from elsewhere, as a double-click does
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    first = launch("--server.headless", "true")
    venv_python = project / ".venv" / "bin" / "python"
    assert venv_python.exists()  # the environment is next to the project
    assert "Installing the packages" in first.stdout
    assert (project / "launched.txt").read_text("utf-8") == "run app.py --server.headless true"
    # the second start installs nothing and opens the app again
    (project / "launched.txt").unlink()
    second = launch()
    assert "Installing" not in second.stdout and "First run" not in second.stdout
    assert (project / "launched.txt").read_text("utf-8") == "run app.py"
    # changed requirements are installed again
    (project / "requirements.txt").write_text(f"{wheel.name}\n# changed\n", encoding="utf-8")
    assert "Installing the packages" in launch().stdout


@pytest.mark.skipif(sys.platform == "win32", reason="runs the bash launcher")
def test_start_app_sh_says_what_to_do_without_python_and_without_internet(tmp_path):
    import shutil
    import subprocess

    project = tmp_path / "p"
    project.mkdir()
    shutil.copy(ROOT / "start-app.sh", project)
    (project / "requirements.txt").write_text("no-such-package-here==1.0\n", encoding="utf-8")
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 300}
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""}
    no_python = subprocess.run(
        ["bash", str(project / "start-app.sh")],
        env={**env, "PYTHON": str(tmp_path / "no-python")},
        stdin=subprocess.DEVNULL,
        **run,
    )
    assert no_python.returncode == 1
    assert "Install Python 3.11" in no_python.stdout and "请先安装 Python 3.11" in no_python.stdout
    assert not (project / ".venv").exists()
    offline = subprocess.run(
        ["bash", str(project / "start-app.sh")],
        env={**env, "PYTHON": sys.executable},
        stdin=subprocess.DEVNULL,
        **run,
    )
    assert offline.returncode == 1
    assert "Run this again when online" in offline.stdout
    assert not (project / ".venv" / "requirements.installed").exists()  # tried again next time


def test_start_app_bat_is_a_windows_batch_file_that_does_the_same_steps():
    # Not run here (no Windows): checked as cmd.exe reads it
    raw = (ROOT / "start-app.bat").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # a BOM would break "@echo off"
    assert raw.count(b"\r\n") == raw.count(b"\n")  # CRLF only: cmd misreads labels with LF
    text = raw.decode("utf-8")
    head, _, rest = text.partition("chcp 65001 >nul")
    assert rest and head.isascii()  # read in the console's code page until chcp switches
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "@echo off"
    # every label jumped to exists
    import re

    labels = {line[1:].lower() for line in lines if line.startswith(":")}
    targets = {t.lower() for t in re.findall(r"\bgoto\s+:?(\w+)", text, flags=re.I)}
    assert targets and targets <= labels | {"eof"}, targets - labels
    # the steps: Python 3.11+, the environment next to the file, install, run the app
    assert 'cd /d "%~dp0"' in text
    assert "sys.version_info < (3, 11)" in text
    assert '-m venv "%VENV%"' in text and 'set "VENV=%~dp0.venv"' in text
    assert "-m pip install --disable-pip-version-check -r requirements.txt" in text
    assert 'fc /b requirements.txt "%STAMP%"' in text
    assert '"%VENV%\\Scripts\\python.exe" -m streamlit run app.py %*' in text
    assert "python.org" in text and "Add python.exe to PATH" in text
    # the same messages in both languages as the shell launcher
    assert "找不到 Python 3.11" in text and "Python 3.11 or newer was not found" in text
