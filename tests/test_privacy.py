"""Households moved at random (:mod:`mapping.privacy`) and the exports of the ``displaced`` mode.

Displacement is checked in metres on UTM 49N (EPSG:32649, the zone of the test area, see
:mod:`tests.netbuild`), where it is computed. The exported HTML map and printable PDF/PNG of
a displaced map are searched byte by byte for every household id, name, phone and exact
coordinate, as :mod:`tests.test_hostile_names` does for committee maps.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from layers import i18n
from layers.errors import InputError, SettingsError
from mapping.analysis import run_analysis
from mapping.maps import HOUSEHOLD_BINS_M, draw_map, render_map_html
from mapping.printmap import GID_HOUSEHOLDS, draw_print_map, find_cjk_font, write_print_map
from mapping.privacy import (
    DISPLACE_MAX_M,
    DISPLACE_MIN_M,
    KEY_FILE,
    displace_points,
    displaced_households,
    displacement_key,
)
from mapping.settings import AnalysisSettings
from tests.netbuild import UTM, points
from tests.test_hostile_names import (
    SECRET_IDS,
    SECRET_NAMES,
    SECRET_PHONES,
    as_text,
    assert_no_secret,
    assert_nothing_ran,
    browser_dom,
    emoji_boxes,
    hostile_scenario,
    private_households,
    secret_strings,
)

DAY = dt.date(2024, 5, 1)
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)


def utm_xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """The points' positions in metres on UTM 49N."""
    x, y = TO_UTM.transform(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())
    return np.column_stack([x, y])


def cloud(n: int, seed: int = 11) -> gpd.GeoDataFrame:
    """``n`` households scattered over 20 x 20 km, with every sensitive column filled."""
    rng = np.random.default_rng(seed)
    xy = {
        f"H{i:04d}": (float(x), float(y)) for i, (x, y) in enumerate(rng.uniform(0, 20000, (n, 2)))
    }
    gdf = points(xy)
    gdf["household_id"] = gdf.index
    gdf["name"] = [f"户主{i}" for i in range(n)]
    gdf["phone"] = [f"139{i:08d}" for i in range(n)]
    gdf["children"] = pd.array([i % 4 for i in range(n)], dtype="Int64")
    return gdf


@pytest.fixture(scope="module")
def thousand() -> gpd.GeoDataFrame:
    return cloud(1000)


@pytest.fixture(scope="module")
def moved_thousand(thousand) -> gpd.GeoDataFrame:
    return displace_points(thousand, rng=np.random.default_rng(2024))


# --------------------------------------------------------------------------------------------
# displace_points


def test_every_point_moves_between_300_and_600_m(thousand, moved_thousand):
    assert (DISPLACE_MIN_M, DISPLACE_MAX_M) == (300.0, 600.0)
    step = utm_xy(moved_thousand) - utm_xy(thousand)
    dist = np.hypot(step[:, 0], step[:, 1])
    # the move is made in this CRS, so only the lon/lat round trip (nanometres) is added
    assert dist.min() >= 300.0 - 1e-6 and dist.max() <= 600.0 + 1e-6
    # uniform over the range: quartiles at 375, 450, 525 m (sd of a quartile ~ 6 m here)
    np.testing.assert_allclose(np.percentile(dist, [25, 50, 75]), [375, 450, 525], atol=20)
    assert dist.min() < 310.0 and dist.max() > 590.0  # the whole range is used


def test_directions_are_spread_over_the_whole_circle(thousand, moved_thousand):
    step = utm_xy(moved_thousand) - utm_xy(thousand)
    angle = np.arctan2(step[:, 1], step[:, 0])
    # mean resultant length: 1 if all moved the same way, ~ sqrt(pi / 4n) = 0.028 if uniform;
    # above 0.1 has a probability of exp(-n * 0.01) = 5e-5 for uniform directions
    resultant = np.hypot(np.cos(angle).mean(), np.sin(angle).mean())
    assert resultant < 0.1
    # each quarter of the circle gets about a quarter (250 +- 16 sd)
    quarter = np.floor((angle + math.pi) / (math.pi / 2)).astype(int) % 4
    assert all(180 <= c <= 320 for c in np.bincount(quarter, minlength=4))


def test_other_ranges_and_the_metric_crs_are_respected(thousand):
    moved = displace_points(thousand, min_m=50.0, max_m=60.0, rng=np.random.default_rng(1))
    step = utm_xy(moved) - utm_xy(thousand)
    dist = np.hypot(step[:, 0], step[:, 1])
    assert dist.min() >= 50.0 - 1e-6 and dist.max() <= 60.0 + 1e-6
    # a zero-width range moves every point by exactly that much
    exact = displace_points(thousand, min_m=400.0, max_m=400.0, rng=np.random.default_rng(1))
    step = utm_xy(exact) - utm_xy(thousand)
    np.testing.assert_allclose(np.hypot(step[:, 0], step[:, 1]), 400.0, atol=1e-6)
    # moved in World Mercator (EPSG:3395), whose "metres" at 41.5 N are about cos(41.5 deg)
    # = 0.75 true metres: 400 of them are what the two projections' scale factors (both
    # conformal, so the same in every direction) make of them, about 300 m on UTM 49N
    merc = displace_points(
        thousand, min_m=400.0, max_m=400.0, rng=np.random.default_rng(1), crs="EPSG:3395"
    )
    step = utm_xy(merc) - utm_xy(thousand)
    lon, lat = thousand.geometry.x.to_numpy(), thousand.geometry.y.to_numpy()
    k_merc = pyproj.Proj("EPSG:3395").get_factors(lon, lat).areal_scale ** 0.5
    k_utm = pyproj.Proj(UTM).get_factors(lon, lat).areal_scale ** 0.5
    want = 400.0 / k_merc * k_utm
    assert 295.0 < want.min() and want.max() < 302.0
    np.testing.assert_allclose(np.hypot(step[:, 0], step[:, 1]), want, rtol=1e-4)


def test_sensitive_columns_and_the_index_are_dropped_and_the_input_kept(thousand):
    before = thousand.copy()
    moved = displace_points(thousand, rng=np.random.default_rng(5))
    assert list(moved.columns) == ["children", "geometry"]
    assert moved.crs == "EPSG:4326"
    assert list(moved.index) == list(range(len(thousand)))  # the ids were the index
    assert moved["children"].tolist() == thousand["children"].tolist()  # in the input's order
    pd.testing.assert_frame_equal(thousand, before)  # the input is not changed


def test_the_same_generator_gives_the_same_points_and_none_gives_new_ones(thousand):
    a = displace_points(thousand, rng=np.random.default_rng(9))
    b = displace_points(thousand, rng=np.random.default_rng(9))
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()
    c = displace_points(thousand)
    d = displace_points(thousand)
    # seeded from the operating system: two calls move every point differently
    assert not c.geometry.geom_equals_exact(d.geometry, tolerance=1e-9).any()


def test_a_key_moves_each_household_the_same_way_whatever_else_changes(thousand, tmp_path):
    key = displacement_key(tmp_path)
    a = displace_points(thousand, key=key)
    # the same points in another order, with one more and one fewer: each that is in both
    # moves to exactly the same place; the generator is not used
    other = pd.concat([thousand.iloc[500:], thousand.iloc[:499]]).iloc[::-1]
    b = displace_points(other, key=key, rng=np.random.default_rng(1))
    where_a = dict(zip(thousand.index, a.geometry.to_wkb(), strict=True))
    where_b = dict(zip(other.index, b.geometry.to_wkb(), strict=True))
    assert all(where_a[h] == where_b[h] for h in where_b)
    # each move is within the range, in metres
    step = utm_xy(a) - utm_xy(thousand)
    dist = np.hypot(step[:, 0], step[:, 1])
    assert ((dist >= DISPLACE_MIN_M - 1e-6) & (dist <= DISPLACE_MAX_M + 1e-6)).all()
    # spread like the random draws: directions all round, distances across the range
    angle = np.degrees(np.arctan2(step[:, 1], step[:, 0]))
    assert np.histogram(angle, bins=4, range=(-180, 180))[0].min() > 180
    assert np.histogram(dist, bins=3, range=(300, 600))[0].min() > 250
    # another key (another computer) moves them elsewhere
    c = displace_points(thousand, key=displacement_key(tmp_path / "other"))
    assert not c.geometry.geom_equals_exact(a.geometry, tolerance=1e-5).any()  # 1 m


def test_displaced_households_with_a_key_give_the_same_table_every_time(tmp_path):
    hh = points({f"H{i}": (100.0 * i, 50.0 * (i % 7)) for i in range(40)})
    hh["dist_kindergarten_m"] = np.linspace(100.0, 9000.0, len(hh))
    hh["village_name"] = "V"
    key = displacement_key(tmp_path)
    one = displaced_households(hh, "kindergarten", bins_m=HOUSEHOLD_BINS_M, key=key)
    two = displaced_households(hh.iloc[::-1], "kindergarten", bins_m=HOUSEHOLD_BINS_M, key=key)
    pd.testing.assert_frame_equal(one, two)  # rows, order and positions
    # the order is not the input's: a row's place says nothing of which household it is
    assert one["dist_kindergarten_km"].tolist() != sorted(one["dist_kindergarten_km"])


def test_the_key_is_made_once_private_and_kept(tmp_path):
    key = displacement_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert len(key) == 32 and path.read_bytes() == key
    assert (path.stat().st_mode & 0o777) == 0o600  # only the user may read it
    assert displacement_key(tmp_path) == key
    assert displacement_key(tmp_path / "elsewhere") != key


def test_a_damaged_key_is_refused_and_left_alone(tmp_path):
    path = tmp_path / KEY_FILE
    path.write_bytes(b"short")
    with pytest.raises(SettingsError) as err:
        displacement_key(tmp_path)
    assert err.value.key == "error.privacy.key_damaged"
    assert str(path) in str(err.value) and "Delete that file" in str(err.value)
    assert "删除这个文件" in err.value.message("zh")
    assert path.read_bytes() == b"short"  # never replaced behind the user's back


def test_an_unwritable_key_folder_is_refused_with_a_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SettingsError) as err:
        displacement_key(blocker / "sub")
    assert err.value.key == "error.privacy.key_unavailable"
    assert str(blocker / "sub" / KEY_FILE) in str(err.value)
    assert "GAPMAPPER_AUTOSAVE_DIR" in str(err.value)


def test_the_key_lives_in_the_app_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GAPMAPPER_AUTOSAVE_DIR", str(tmp_path / "data"))
    key = displacement_key()
    assert (tmp_path / "data" / KEY_FILE).read_bytes() == key


def test_points_in_another_crs_and_missing_points(thousand):
    utm = thousand.iloc[:3].to_crs(UTM).copy()
    utm.loc[utm.index[1], "geometry"] = None
    moved = displace_points(utm, rng=np.random.default_rng(3))
    assert moved.crs == "EPSG:4326"
    assert moved.geometry.isna().tolist() == [False, True, False]
    step = utm_xy(moved.iloc[[0, 2]]) - utm.geometry.iloc[[0, 2]].get_coordinates().to_numpy()
    dist = np.hypot(step[:, 0], step[:, 1])
    assert ((dist >= 300.0 - 1e-6) & (dist <= 600.0 + 1e-6)).all()
    empty = displace_points(thousand.iloc[:0])
    assert len(empty) == 0 and empty.crs == "EPSG:4326" and "name" not in empty


@pytest.mark.parametrize(
    ("min_m", "max_m"),
    [(600.0, 300.0), (-1.0, 300.0), (300.0, math.nan), (300.0, math.inf), ("a", 600.0)],
)
def test_a_bad_range_is_refused_with_a_message(thousand, min_m, max_m):
    with pytest.raises(SettingsError) as err:
        displace_points(thousand.iloc[:5], min_m=min_m, max_m=max_m)
    assert err.value.key == "error.privacy.displacement"
    assert str(err.value).startswith(
        f"Invalid range for moving positions at random: at least {min_m} m, at most {max_m} m."
    )
    assert "(the default is 300-600 m)" in str(err.value)
    assert f"最小 {min_m} 米，最大 {max_m} 米" in err.value.message("zh")


def test_no_crs_or_lines_are_refused_with_a_message(thousand):
    bare = thousand.iloc[:3].set_crs(None, allow_override=True)
    with pytest.raises(InputError) as err:
        displace_points(bare)
    assert err.value.key == "error.privacy.no_crs"
    assert "has no coordinate system" in str(err.value) and "EPSG:4326" in str(err.value)
    lines = thousand.iloc[:4].copy()
    lines.loc[lines.index[2], "geometry"] = shapely.LineString([(111.0, 41.5), (111.1, 41.5)])
    with pytest.raises(InputError) as err:
        displace_points(lines)
    assert err.value.key == "error.privacy.not_points"
    assert str(err.value) == (
        "Only points can be moved at random, but the layer holds LineString (features 3, "
        "counted from 1). Pass a layer of points (such as the households)."
    )
    assert "图层里有 LineString（第 3 个要素" in err.value.message("zh")


def test_privacy_messages_have_both_languages_and_the_same_placeholders():
    keys = [k for k in i18n.all_keys() if k.startswith("error.privacy.")]
    assert len(keys) == 5
    for key in keys:
        texts = i18n.texts_for(key)
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


# --------------------------------------------------------------------------------------------
# displaced_households


def test_households_keep_only_their_village_and_rounded_distance():
    hh = points({"H-1": (0.0, 0.0), "H-2": (3000.0, 0.0), "H-3": (6000.0, 0.0), "H-4": (9.0, 9.0)})
    hh["household_id"] = hh.index
    hh["name"] = ["张甲", "李乙", "王丙", "赵丁"]
    hh["phone"] = ["13900000001", "13900000002", "13900000003", "13900000004"]
    hh["village_name"] = pd.array(["甲村", "乙村", None, "甲村"], dtype="str")
    hh["dist_kindergarten_m"] = [1967.0, 5467.0, np.nan, 4960.0]
    hh["nearest_kindergarten"] = ["k", "k", None, "k"]
    out = displaced_households(
        hh, "kindergarten", bins_m=HOUSEHOLD_BINS_M, rng=np.random.default_rng(4)
    )
    assert list(out.columns) == [
        "village_name",
        "dist_kindergarten_km",
        "dist_kindergarten_class",
        "reachable_kindergarten",
        "geometry",
    ]
    assert list(out.index) == [0, 1, 2, 3] and out.crs == "EPSG:4326"
    rows = sorted(
        (
            "-" if pd.isna(v) else v,
            -1.0 if math.isnan(d) else d,
            -1 if pd.isna(c) else int(c),
            bool(r),
        )
        for v, d, c, r in out.drop(columns="geometry").itertuples(index=False)
    )
    # 4960 m prints as 5.0 km but is within 5 km: its class (3-5 km, 2) is the exact one's
    assert rows == [
        ("-", -1.0, -1, False),
        ("乙村", 5.5, 3, True),
        ("甲村", 2.0, 1, True),
        ("甲村", 5.0, 2, True),
    ]
    # shuffled: this generator puts the rows out of the file's order
    assert out["dist_kindergarten_km"].fillna(-1).tolist() != [2.0, 5.5, -1.0, 5.0]
    # each row is its household, moved 300-600 m: match rows to households by distance
    d = out["dist_kindergarten_km"].fillna(-1).tolist()
    src = {2.0: 0, 5.5: 1, -1.0: 2, 5.0: 3}
    step = utm_xy(out) - utm_xy(hh.iloc[[src[v] for v in d]])
    dist = np.hypot(step[:, 0], step[:, 1])
    assert ((dist >= 300.0 - 1e-6) & (dist <= 600.0 + 1e-6)).all()


# --------------------------------------------------------------------------------------------
# The exports of a displaced map


def best_matching(drawn: np.ndarray, true: np.ndarray) -> np.ndarray:
    """The distances (m) of the assignment of drawn points to true points whose largest
    distance is smallest (brute force: a handful of points)."""
    best = None
    for perm in itertools.permutations(range(len(true))):
        d = np.hypot(*(drawn - true[list(perm)]).T)
        if best is None or d.max() < best.max():
            best = d
    return best


@pytest.fixture(scope="module")
def private_analysis():
    hh = private_households([(2345.678, 123.456), (5432.123, -211.987), (9876.543, 77.777)])
    sc = hostile_scenario().replace(households=hh)
    return run_analysis(sc, AnalysisSettings())


def test_displaced_html_and_pdf_hold_no_household_detail(private_analysis, tmp_path):
    a = private_analysis
    secrets = secret_strings(a.households)
    # A seeded generator, so that the search is repeatable: by chance, one coordinate of a
    # point moved almost due north keeps its longitude to 4 decimals (8 m), which is not a
    # leak (the latitude differs by 300 m or more) but would fail the search.
    for lang in ("zh", "en"):
        text = render_map_html(
            draw_map(a, lang=lang, privacy="displaced", made_on=DAY, rng=np.random.default_rng(8))
        )
        assert_no_secret(text.encode("utf-8"), secrets, f"displaced map ({lang})")
        # ... and the households are drawn: three moved points, each 300-600 m from one
        drawn = [
            (float(x), float(y))
            for x, y in re.findall(
                r'"coordinates": \[([\d.]+), ([\d.]+)\], "type": "Point"\}, "id": \d+, '
                r'"properties": \{"d": ',
                text,
            )
        ]
        assert len(drawn) == 3
        xy = np.column_stack(TO_UTM.transform(*np.array(drawn).T))
        d = best_matching(xy, utm_xy(a.households))
        assert ((d >= 299.9) & (d <= 600.1)).all()  # 6 decimals of a degree: 0.1 m
    if find_cjk_font() is None:
        pytest.skip("no Chinese font installed (apt install fonts-noto-cjk)")
    with emoji_boxes():
        fig = draw_print_map(
            a, lang="zh", privacy="displaced", made_on=DAY, rng=np.random.default_rng(8)
        )
    try:
        (coll,) = [c for c in fig.findobj(lambda o: o.get_gid() == GID_HOUSEHOLDS)]
        true = np.column_stack(a.network.project_points(a.households))
        d = best_matching(np.asarray(coll.get_offsets()), true)
        assert ((d >= 300.0 - 1e-6) & (d <= 600.0 + 1e-6)).all()
        texts = "\n".join(t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")))
        assert "每户的位置都向随机方向移动了" in texts
        for s in (*SECRET_IDS, *SECRET_NAMES, *SECRET_PHONES):
            assert s not in texts
        for suffix in (".pdf", ".png"):
            with emoji_boxes():
                path = write_print_map(fig, tmp_path / f"map{suffix}")
            assert_no_secret(path.read_bytes(), secrets, path.name)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_the_displaced_layer_matches_the_generator(private_analysis):
    """The map draws exactly :func:`displaced_households` with the same generator."""
    a = private_analysis
    want = displaced_households(
        a.households,
        "kindergarten",
        bins_m=HOUSEHOLD_BINS_M,
        rng=np.random.default_rng(21),
        crs=a.network.crs,
    )
    text = render_map_html(
        draw_map(a, privacy="displaced", made_on=DAY, rng=np.random.default_rng(21))
    )
    for p, km in zip(want.geometry, want["dist_kindergarten_km"], strict=True):
        pair = f'"coordinates": [{round(p.x, 6)}, {round(p.y, 6)}]'
        assert pair in text
        assert f'{pair}, "type": "Point"}}, "id"' in text
        assert f'"d": {km}' in text


@pytest.mark.browser
def test_hostile_village_names_in_displaced_popups_are_text(tmp_path):
    """Each household beside a village with a hostile name: its tooltip names the village as
    text, and no script runs."""
    a = run_analysis(
        hostile_scenario(),
        AnalysisSettings(thresholds_m={"kindergarten": 1000.0, "school": 20000.0}),
    )
    m = draw_map(a, lang="en", privacy="displaced", made_on=DAY)
    dom = browser_dom(m, tmp_path / "d.html")
    assert_nothing_ran(dom, "Test Banner · kindergarten")
    assert sum("gm-displaced" in c.split() for c in re.findall(r'class="([^"]*)"', dom)) == len(
        a.households
    )
    for name in a.households["village_name"]:  # "<village> · <distance>" tooltips
        assert as_text(name) + " · " in dom, name[:40]
    for hid in a.households.index:
        assert as_text(hid) not in dom, hid[:40]


def test_only_displaced_maps_need_the_key(tmp_path, monkeypatch):
    from mapping.privacy import displacement_key_for

    monkeypatch.setenv("GAPMAPPER_AUTOSAVE_DIR", str(tmp_path))
    assert displacement_key_for("committee") is None and displacement_key_for("full") is None
    assert not (tmp_path / KEY_FILE).exists()  # no key is made for maps that do not use it
    assert displacement_key_for("displaced") == (tmp_path / KEY_FILE).read_bytes()
