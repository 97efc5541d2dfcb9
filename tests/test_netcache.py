"""The processed-network cache: equal results, invalidation, corrupt files, where it writes."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import dijkstra

from layers.osm import read_osm
from mapping import netcache
from mapping.netcache import load_network_cached, resolve_cache_dir
from mapping.network import build_network
from mapping.settings import AnalysisSettings
from tests.conftest import FIXTURES

SMALL = FIXTURES / "osm" / "small.osm"
ARRAYS = (
    "node_id", "x", "y", "seg_u", "seg_v", "seg_len_m", "seg_time_s", "seg_fwd", "seg_bwd",
    "seg_highway", "seg_way_id", "component",
)  # fmt: skip
GRAPHS = ("graph_len", "graph_time", "rgraph_len", "rgraph_time")


@pytest.fixture
def osm_file(tmp_path):
    """A private copy of the small fixture (tests change it)."""
    src = tmp_path / "src"
    src.mkdir()
    return shutil.copy(SMALL, src / "small.osm")


def assert_same_network(a, b):
    for f in ARRAYS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
        assert getattr(a, f).dtype == getattr(b, f).dtype, f
    for g in GRAPHS:
        ga, gb = getattr(a, g), getattr(b, g)
        np.testing.assert_array_equal(ga.indptr, gb.indptr)
        np.testing.assert_array_equal(ga.indices, gb.indices)
        np.testing.assert_array_equal(ga.data, gb.data)
    assert a.mode == b.mode and a.crs == b.crs
    assert a.main_component == b.main_component and a.walk_speed_kmh == b.walk_speed_kmh
    src = np.arange(min(3, a.n_nodes))
    np.testing.assert_array_equal(
        dijkstra(a.rgraph_len, indices=src), dijkstra(b.rgraph_len, indices=src)
    )


def test_cached_load_equals_fresh_read_and_build(osm_file, tmp_path):
    cache = tmp_path / "cache"
    settings = AnalysisSettings(mode="car")
    fresh = read_osm(osm_file)
    fresh_net = build_network(fresh.roads, settings)

    ex1, net1 = load_network_cached(osm_file, settings, cache_dir=cache)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2
    assert files[0].endswith(".car.network.npz") and files[1].endswith(".extract.npz")
    ex2, net2 = load_network_cached(osm_file, settings, cache_dir=cache)

    assert_same_network(fresh_net, net1)
    assert_same_network(fresh_net, net2)
    for f in ("node_id", "lon", "lat", "u", "v", "way_id", "highway", "oneway", "modes"):
        np.testing.assert_array_equal(getattr(fresh.roads, f), getattr(ex2.roads, f))
    pd.testing.assert_frame_equal(fresh.services, ex2.services)
    pd.testing.assert_frame_equal(fresh.villages, ex2.villages)
    pd.testing.assert_frame_equal(fresh.boundaries, ex2.boundaries)
    assert ex2.source == str(osm_file)


def test_second_load_does_not_read_or_build(osm_file, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    load_network_cached(osm_file, cache_dir=cache)

    def fail(*args, **kwargs):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(netcache, "read_osm", fail)
    monkeypatch.setattr(netcache, "build_network", fail)
    _, net = load_network_cached(osm_file, cache_dir=cache)
    assert net.n_nodes > 0


def test_each_mode_and_speed_gets_its_own_network(osm_file, tmp_path):
    cache = tmp_path / "cache"
    _, walk = load_network_cached(osm_file, AnalysisSettings(mode="walk"), cache_dir=cache)
    _, car = load_network_cached(osm_file, AnalysisSettings(mode="car"), cache_dir=cache)
    slow = AnalysisSettings(mode="car", speeds_kmh={"residential": 10.0})
    _, car_slow = load_network_cached(osm_file, slow, cache_dir=cache)
    assert walk.mode == "walk" and car.mode == "car"
    assert len(list(cache.glob("*.network.npz"))) == 3
    assert len(list(cache.glob("*.extract.npz"))) == 1
    assert_same_network(car_slow, build_network(read_osm(osm_file).roads, slow))


def test_changed_source_file_is_read_again(osm_file, tmp_path):
    cache = tmp_path / "cache"
    ex1, net1 = load_network_cached(osm_file, cache_dir=cache)
    old_files = set(cache.iterdir())
    text = osm_file.read_text(encoding="utf-8")
    # drop way 107 (residential): its one usable segment 8-9 goes (node 99 is not in the file)
    start = text.index('<way id="107">')
    end = text.index("</way>", start) + len("</way>")
    osm_file.write_text(text[:start] + text[end:], encoding="utf-8")
    ex2, net2 = load_network_cached(osm_file, cache_dir=cache)

    fresh = build_network(read_osm(osm_file).roads, AnalysisSettings())
    assert_same_network(fresh, net2)
    assert net2.n_segments == net1.n_segments - 1
    assert 107 in net1.seg_way_id and 107 not in net2.seg_way_id
    # entries of the file's old state are gone, only the new ones remain
    assert not (old_files & set(cache.iterdir()))
    assert len(list(cache.iterdir())) == 2


def test_same_size_content_change_with_old_mtime_is_detected(osm_file, tmp_path):
    cache = tmp_path / "cache"
    _, net1 = load_network_cached(osm_file, AnalysisSettings(mode="walk"), cache_dir=cache)
    st = osm_file.stat()
    data = bytearray(osm_file.read_bytes())
    # move one node a little: same size, same mtime, another hash of the file's first MB
    i = data.index(b'lat="') + len(b'lat="')
    j = data.index(b'"', i)
    old = data[i:j].decode()
    new = old[:-1] + ("1" if old[-1] != "1" else "2")  # the last decimal: a few cm to metres
    data[i:j] = new.encode()
    osm_file.write_bytes(bytes(data))
    os.utime(osm_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert osm_file.stat().st_size == st.st_size

    _, net2 = load_network_cached(osm_file, AnalysisSettings(mode="walk"), cache_dir=cache)
    fresh = build_network(read_osm(osm_file).roads, AnalysisSettings(mode="walk"))
    assert_same_network(fresh, net2)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other_key"])
def test_corrupt_cache_file_is_ignored_and_rebuilt(osm_file, tmp_path, damage):
    cache = tmp_path / "cache"
    _, good = load_network_cached(osm_file, cache_dir=cache)
    for f in cache.iterdir():
        raw = f.read_bytes()
        if damage == "truncate":
            f.write_bytes(raw[: len(raw) // 2])
        elif damage == "garbage":
            f.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 10)
        elif damage == "empty":
            f.write_bytes(b"")
        else:  # a valid archive with another key (e.g. copied from another machine)
            with np.load(f, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            arrays["__key__"] = np.array('{"path": "elsewhere"}')
            with open(f, "wb") as out:
                np.savez(out, **arrays)
    _, again = load_network_cached(osm_file, cache_dir=cache)
    assert_same_network(good, again)
    # and the entries were rewritten in good shape
    _, third = load_network_cached(osm_file, cache_dir=cache)
    assert_same_network(good, third)


def test_cache_file_holding_a_pickle_is_not_executed(osm_file, tmp_path):
    cache = tmp_path / "cache"
    load_network_cached(osm_file, cache_dir=cache)
    marker = tmp_path / "pwned"
    for f in cache.glob("*.extract.npz"):
        with np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        evil = np.empty(1, dtype=object)
        evil[0] = _Evil(str(marker))
        arrays["roads/node_id"] = evil
        with open(f, "wb") as out:
            np.savez(out, **arrays, allow_pickle=True)
    extract, _ = load_network_cached(osm_file, cache_dir=cache)
    assert not marker.exists()
    assert extract.roads.n_nodes > 0


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_writes_only_inside_the_given_folder(osm_file, tmp_path, monkeypatch):
    home = tmp_path / "home"
    env_dir = tmp_path / "env"
    home.mkdir()
    env_dir.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GAPMAPPER_CACHE_DIR", str(env_dir))
    cache = tmp_path / "given"
    before = {p for p in tmp_path.rglob("*")}
    load_network_cached(osm_file, cache_dir=cache)
    load_network_cached(osm_file, AnalysisSettings(mode="walk"), cache_dir=cache)
    new = {p for p in tmp_path.rglob("*")} - before
    assert new and all(p.parent == cache or p == cache for p in new)
    assert not any(home.iterdir()) and not any(env_dir.iterdir())
    assert not list(cache.glob(".tmp-*"))


def test_cache_folder_from_environment_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("GAPMAPPER_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env" / "networks"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("GAPMAPPER_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_cache_dir() == tmp_path / "home" / ".cache" / "service-gap-mapper" / "networks"


def test_unwritable_cache_folder_still_returns_the_network(osm_file, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    extract, net = load_network_cached(osm_file, cache_dir=blocker / "cache")
    assert_same_network(net, build_network(read_osm(osm_file).roads, AnalysisSettings()))
    assert blocker.read_text() == "x"


def test_missing_source_raises_the_readers_error(tmp_path):
    from layers.errors import InputError

    with pytest.raises(InputError) as info:
        load_network_cached(tmp_path / "nope.osm", cache_dir=tmp_path / "cache")
    assert info.value.key == "error.osm.not_found"
    assert "nope.osm" in info.value.message("en")
    assert not (tmp_path / "cache").exists()


def test_a_reopened_extract_still_warns_about_what_it_read(tmp_path):
    """The reader's notes (an absurd capacity read as unknown) come back from the cache, on
    the extract and on its services, so the user is told on every run, not only the first."""
    from layers.schema import notes_of

    text = (FIXTURES / "osm" / "small.osm").read_text(encoding="utf-8")
    text = text.replace('<tag k="capacity" v="120"/>', '<tag k="capacity" v="99999999999"/>')
    path = tmp_path / "cap.osm"
    path.write_text(text, encoding="utf-8")
    fresh = read_osm(path)
    assert [n.key for n in fresh.notes] == ["warning.osm.bad_capacity"]
    cache = tmp_path / "cache"
    load_network_cached(path, cache_dir=cache)
    again, _ = load_network_cached(path, cache_dir=cache)
    assert again.notes == fresh.notes
    assert notes_of(again.services) == fresh.notes
