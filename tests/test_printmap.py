"""The printable map: paper sizes, privacy, the true scale bar, Chinese fonts, file errors.

The test area (metres on UTM 49N, see :mod:`tests.netbuild`): a 12 km secondary road along x
(nodes every km) with a kindergarten at x=0 and a school at x=12 km, and a 2 km track going
north from x=6 km. Kindergarten threshold 5 km.

========  =============  =========================  ======================================
village   point (m)      boundary                   kindergarten status
========  =============  =========================  ======================================
甲村       (2000, 0)      1500..2500 x -500..500     ok: 2 km
丙村       (4500, 0)      4000..5500 x -500..500     warn: 4.5 km, its household 5.467 km
乙村       (10400, 0)     none                       flag: 10.4 km
========  =============  =========================  ======================================

Households stand 137 m off the road, so none shares a coordinate with a road node, a village
or a service.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import re
import struct
import warnings

import geopandas as gpd
import matplotlib
import numpy as np
import pytest
import shapely
from matplotlib.collections import Collection
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from layers import i18n
from layers.errors import InputError, SettingsError
from mapping import printmap
from mapping.analysis import apply_proposals, run_analysis
from mapping.coverage import service_areas
from mapping.maps import HOUSEHOLD_BINS_M
from mapping.printmap import (
    GID_FULL_BANNER,
    GID_HOUSEHOLDS,
    GID_MAP,
    GID_SCALE_RATIO,
    GID_SCALEBAR,
    GID_SCALEBAR_LABEL,
    SCALEBAR_LENGTHS_M,
    _nice_denominator,
    _project,
    _rgb,
    _scalebar_length_m,
    _wrap,
    draw_print_map,
    find_cjk_font,
    write_print_map,
)
from mapping.privacy import displaced_households
from mapping.scenario import Scenario
from mapping.settings import AnalysisSettings
from mapping.whatif import make_proposal
from tests.netbuild import X0, Y0, box, households, lonlat, roads, services, villages

DAY = dt.date(2024, 5, 1)
HH_IDS = ["HH-1", "HH-2", "HH-3", "HH-4"]
HH_XY = [(1830.0, 137.0), (5330.0, -137.0), (11030.0, 137.0), (10630.0, -137.0)]
REQUIRE_FONTS = os.environ.get("GAPMAPPER_REQUIRE_BROWSER") == "1"  # set in CI


def scenario(names=("甲村", "丙村", "乙村"), *, fictional: bool = True) -> Scenario:
    nodes = {i: (1000.0 * i, 0.0) for i in range(13)}
    nodes |= {20: (6000.0, 1000.0), 21: (6000.0, 2000.0)}
    r = roads(nodes, [(1, list(range(13)), "secondary"), (2, [6, 20, 21], "track")])
    vil = villages(
        {"A": (2000.0, 0.0), "C": (4500.0, 0.0), "B": (10400.0, 0.0)},
        names,
        [box(1500, -500, 2500, 500), box(4000, -500, 5500, 500), None],
    )
    hh = households(
        dict(zip(HH_IDS, HH_XY, strict=True)),
        children=[2, 1, 3, 1],
        names=["张秘密甲", "李秘密乙", "王秘密丙", "赵秘密丁"],
        phones=["13911110001", "13922220002", "13933330003", "13944440004"],
    )
    svc = services({"k": ("kindergarten", 0.0, 0.0), "s": ("school", 12000.0, 0.0)})
    return Scenario(
        roads=r,
        villages=vil,
        households=hh,
        services=svc,
        boundaries=gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"),
        title={"zh": "测试旗", "en": "Test Banner"},
        fictional=fictional,
    )


SETTINGS = AnalysisSettings(mode="motorbike", thresholds_m={"kindergarten": 5000.0})


@pytest.fixture(scope="module")
def analysis():
    return run_analysis(scenario(), SETTINGS)


@pytest.fixture(scope="module")
def cjk_font():
    name = find_cjk_font()
    if name is None:
        if REQUIRE_FONTS:
            pytest.fail("no Chinese font installed (CI must install fonts-noto-cjk)")
        pytest.skip("no Chinese font installed (apt install fonts-noto-cjk)")
    return name


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def media_box(data: bytes) -> list[float]:
    found = re.findall(rb"/MediaBox\s*\[\s*([\d.\s-]+)\]", data)
    assert len(found) == 1  # one page
    return [float(v) for v in found[0].split()]


def texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


def by_gid(fig, gid: str) -> list:
    return [a for a in fig.findobj(lambda a: a.get_gid() == gid)]


def household_xy(analysis) -> np.ndarray:
    x, y = analysis.network.project_points(analysis.households)
    return np.column_stack([x, y])


# --------------------------------------------------------------------------------------------
# Paper size


@pytest.mark.parametrize(
    ("paper", "orientation", "mm"),
    [
        ("A4", "landscape", (297, 210)),
        ("A4", "portrait", (210, 297)),
        ("A3", "landscape", (420, 297)),
        ("a3", "portrait", (297, 420)),
    ],
)
def test_png_pixels_are_the_paper_size_at_the_dpi(
    analysis, cjk_font, tmp_path, paper, orientation, mm
):
    fig = draw_print_map(analysis, paper=paper, orientation=orientation, made_on=DAY)
    path = write_print_map(fig, tmp_path / "map.png", dpi=100)
    assert path == tmp_path / "map.png"
    width, height = png_size(path.read_bytes())
    # A4 landscape: 297 mm / 25.4 * 100 = 1169.3 px, 210 mm -> 826.8 px
    assert abs(width - mm[0] / 25.4 * 100) <= 1
    assert abs(height - mm[1] / 25.4 * 100) <= 1
    if (paper, orientation) == ("A4", "landscape"):
        assert (width, height) in {(1169, 827), (1169, 826), (1170, 827)}
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]  # no temporary file left


@pytest.mark.parametrize(
    ("paper", "orientation", "points"),
    [("A4", "landscape", (841.89, 595.28)), ("A3", "portrait", (841.89, 1190.55))],
)
def test_pdf_page_is_the_paper_size_in_points(
    analysis, cjk_font, tmp_path, paper, orientation, points
):
    fig = draw_print_map(analysis, paper=paper, orientation=orientation, made_on=DAY)
    data = write_print_map(fig, tmp_path / "map.PDF").read_bytes()
    assert data.startswith(b"%PDF")
    x0, y0, x1, y1 = media_box(data)
    assert (x0, y0) == (0.0, 0.0)
    # 297 mm = 297 / 25.4 * 72 pt = 841.89 pt
    assert x1 == pytest.approx(points[0], abs=0.05)
    assert y1 == pytest.approx(points[1], abs=0.05)


def test_a_png_replaces_an_existing_file(analysis, cjk_font, tmp_path):
    target = tmp_path / "map.png"
    target.write_bytes(b"old")
    write_print_map(draw_print_map(analysis, made_on=DAY), target, dpi=50)
    assert png_size(target.read_bytes()) == (584, 413)  # 297/25.4*50 = 584.6, 210 -> 413.4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png"]


# --------------------------------------------------------------------------------------------
# Chinese text


def test_chinese_draws_with_no_missing_glyph(analysis, cjk_font):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = draw_print_map(analysis, lang="zh", privacy="full", made_on=DAY)
        for fmt in ("png", "pdf"):
            fig.savefig(io.BytesIO(), format=fmt, dpi=60)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    shown = {t.get_text() for t in texts(fig)}
    assert "测试旗" in shown
    assert "制图日期：2024-05-01" in shown
    assert "幼儿园：沿道路距离，标准 5 公里 · 出行方式：摩托车" in shown
    assert all(t.get_fontfamily()[0] == cjk_font for t in texts(fig))


def test_no_chinese_font_is_an_error_that_says_what_to_install(analysis, monkeypatch):
    monkeypatch.setattr(printmap, "find_cjk_font", lambda: None)
    with pytest.raises(SettingsError) as err:
        draw_print_map(analysis, lang="zh", made_on=DAY)
    assert err.value.key == "error.print.no_cjk_font"
    assert "apt install fonts-noto-cjk" in str(err.value)
    assert "Windows and macOS" in str(err.value)
    assert "找不到能显示中文的字体" in err.value.message("zh")
    assert "fonts-noto-cjk" in err.value.message("zh")
    # English pages need a Chinese font too when a village name is Chinese
    with pytest.raises(SettingsError) as err:
        draw_print_map(analysis, lang="en", made_on=DAY)
    assert "(Text that needs Chinese: 甲村)" in str(err.value)


def test_an_english_page_without_chinese_text_needs_no_chinese_font(monkeypatch):
    monkeypatch.setattr(printmap, "find_cjk_font", lambda: None)
    a = run_analysis(scenario(("Alpha", "Charlie", "Bravo")), SETTINGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = draw_print_map(a, lang="en", made_on=DAY)
        fig.savefig(io.BytesIO(), format="png", dpi=50)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert {t.get_fontfamily()[0] for t in texts(fig)} == {"DejaVu Sans"}
    assert "Bravo\n10.4 km" in {t.get_text() for t in texts(fig)}


def test_wrapping_keeps_closing_punctuation_off_the_line_start():
    # 10 pt CJK characters are 10 pt wide: 40 pt hold four
    assert _wrap("一二三四，五六", 40.0, 10.0) == "一二三四，\n五六"
    # Latin letters count 0.56 of the size: "one two" is 39.2 pt
    assert _wrap("one two three", 40.0, 10.0) == "one two\nthree"


# --------------------------------------------------------------------------------------------
# Privacy


def test_committee_page_draws_no_household_position(analysis, cjk_font):
    fig = draw_print_map(analysis, lang="zh", privacy="committee", made_on=DAY)
    hh = household_xy(analysis)
    for coll in fig.findobj(Collection):
        offsets = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
        if len(offsets):
            gaps = np.hypot(*(offsets[:, None, :] - hh[None, :, :]).transpose(2, 0, 1))
            assert gaps.min() > 100.0, coll.get_gid()  # 137 m off the road at least
    assert by_gid(fig, GID_HOUSEHOLDS) == []
    assert by_gid(fig, GID_FULL_BANNER) == []
    shown = " ".join(t.get_text() for t in texts(fig))
    assert not any(i in shown for i in HH_IDS) and "秘密" not in shown and "139" not in shown
    assert "为保护隐私，图上不显示住户位置" in shown


def test_committee_extent_ignores_households(cjk_font):
    """A household far outside the villages and services does not widen a committee map."""
    base = scenario()
    far = base.households.copy()
    far.loc["HH-4", "geometry"] = shapely.Point(*lonlat(10630.0, 9000.0))
    moved = run_analysis(base.replace(households=far), SETTINGS)
    same = run_analysis(base, SETTINGS)
    limits = []
    for a in (same, moved):
        ax = by_gid(draw_print_map(a, made_on=DAY), GID_MAP)[0]
        limits.append((ax.get_xlim(), ax.get_ylim()))
    assert limits[0] == limits[1]
    ax = by_gid(draw_print_map(moved, privacy="full", made_on=DAY), GID_MAP)[0]
    assert ax.get_ylim()[1] > Y0 + 9000.0  # the team's map shows it


def test_full_page_draws_households_by_distance_and_says_not_to_share(analysis, cjk_font):
    fig = draw_print_map(analysis, lang="en", privacy="full", made_on=DAY)
    (coll,) = by_gid(fig, GID_HOUSEHOLDS)
    np.testing.assert_allclose(coll.get_offsets(), household_xy(analysis), atol=1e-6)
    np.testing.assert_allclose(coll.get_offsets(), [(X0 + x, Y0 + y) for x, y in HH_XY], atol=1e-3)
    # 1.967, 5.467, 11.167, 10.767 km: the 1-3, 5-10 and >10 km classes (maps.py colours)
    colors = [matplotlib.colors.to_hex(c) for c in coll.get_facecolors()]
    assert colors == ["#91cf60", "#fc8d59", "#d73027", "#d73027"]
    banner = [t.get_text() for t in by_gid(fig, GID_FULL_BANNER) if isinstance(t, Text)]
    assert banner == ["Full detail: for the team's own use, do not share"]


def matched_distances(drawn: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Distances (m) of drawn points to true ones, matched so that the largest is smallest
    (brute force over the four households)."""
    best = None
    for perm in itertools.permutations(range(len(true))):
        d = np.hypot(*(drawn - true[list(perm)]).T)
        if best is None or d.max() < best.max():
            best = d
    return best


def household_xy_of(analysis, gdf) -> np.ndarray:
    """Points of ``gdf`` in the network's CRS (metres)."""
    x, y = analysis.network.project_points(gdf)
    return np.column_stack([x, y])


def test_displaced_page_draws_moved_households_and_says_so(analysis, cjk_font):
    fig = draw_print_map(
        analysis, lang="en", privacy="displaced", made_on=DAY, rng=np.random.default_rng(3)
    )
    (coll,) = by_gid(fig, GID_HOUSEHOLDS)
    offsets = np.asarray(coll.get_offsets(), dtype=float)
    # drawn in the network's CRS (UTM 49N, metres), where they were moved: 300-600 m each
    d = matched_distances(offsets, household_xy(analysis))
    assert ((d >= 300.0 - 1e-6) & (d <= 600.0 + 1e-6)).all()
    # exactly the layer mapping.privacy makes with the same generator
    want = displaced_households(
        analysis.households,
        "kindergarten",
        bins_m=HOUSEHOLD_BINS_M,
        rng=np.random.default_rng(3),
        crs=analysis.network.crs,
    )
    np.testing.assert_allclose(offsets, household_xy_of(analysis, want), atol=1e-6)
    # coloured by the exact distance's class: 1-3 km, 5-10 km, > 10 km (twice), shuffled
    colors = sorted(matplotlib.colors.to_hex(c) for c in coll.get_facecolors())
    assert colors == sorted(["#91cf60", "#fc8d59", "#d73027", "#d73027"])
    assert by_gid(fig, GID_FULL_BANNER) == [] and by_gid(fig, "note-committee") == []
    (note,) = by_gid(fig, "note-displaced")
    assert note.get_text().replace("\n", " ") == (
        "To protect families, every household is drawn 300–600 m from its true position, in a "
        "random direction; distances are by road from the true positions."
    )
    shown = " ".join(t.get_text() for t in texts(fig))
    assert not any(i in shown for i in HH_IDS) and "秘密" not in shown and "139" not in shown
    assert "Households: road distance to kindergarten" in legend_texts(fig)


def test_displaced_extent_ignores_households(cjk_font):
    """A household 9 km north of everything does not widen a displaced page either."""
    base = scenario()
    far = base.households.copy()
    far.loc["HH-4", "geometry"] = shapely.Point(*lonlat(10630.0, 9000.0))
    moved = run_analysis(base.replace(households=far), SETTINGS)
    limits = []
    for privacy in ("committee", "displaced"):
        ax = by_gid(draw_print_map(moved, privacy=privacy, made_on=DAY), GID_MAP)[0]
        limits.append((ax.get_xlim(), ax.get_ylim()))
    assert limits[0] == limits[1]


def test_two_displaced_pages_move_the_households_differently(analysis, cjk_font):
    a, b = (
        by_gid(draw_print_map(analysis, privacy="displaced", made_on=DAY), GID_HOUSEHOLDS)[0]
        for _ in range(2)
    )
    pa = {tuple(p) for p in np.asarray(a.get_offsets()).round(3)}
    pb = {tuple(p) for p in np.asarray(b.get_offsets()).round(3)}
    assert len(pa) == len(pb) == 4 and not pa & pb


# --------------------------------------------------------------------------------------------
# Scale, extent, labels and notes


def test_scale_bar_is_round_and_as_long_as_its_label(analysis, cjk_font):
    fig = draw_print_map(analysis, lang="en", made_on=DAY)
    (bar,) = [a for a in by_gid(fig, GID_SCALEBAR) if isinstance(a, Rectangle)]
    (label,) = by_gid(fig, GID_SCALEBAR_LABEL)
    km = float(re.fullmatch(r"(\d+) km", label.get_text()).group(1))
    assert km in {1, 2, 5, 10, 20}
    assert bar.get_width() == km * 1000.0  # data units are metres
    ax = by_gid(fig, GID_MAP)[0]
    width_m = np.diff(ax.get_xlim())[0]
    # the longest round length that fits in a quarter of the map
    assert km * 1000 <= width_m / 4 < SCALEBAR_LENGTHS_M[SCALEBAR_LENGTHS_M.index(km * 1000) + 1]


def test_the_map_is_at_its_printed_scale_in_both_directions(analysis, cjk_font):
    fig = draw_print_map(analysis, lang="en", made_on=DAY)
    ax = by_gid(fig, GID_MAP)[0]
    (ratio,) = by_gid(fig, GID_SCALE_RATIO)
    found = re.fullmatch(r"Scale 1:([\d ]+) \(printed at A4\)", ratio.get_text())
    denominator = int(found.group(1).replace(" ", ""))
    pos = ax.get_position()
    width_m = pos.width * fig.get_figwidth() * 0.0254  # the map box on paper, metres
    height_m = pos.height * fig.get_figheight() * 0.0254
    assert np.diff(ax.get_xlim())[0] / width_m == pytest.approx(denominator, rel=1e-9)
    assert np.diff(ax.get_ylim())[0] / height_m == pytest.approx(denominator, rel=1e-9)
    # every village, service and village boundary is inside the frame
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 < X0 + 0.0 and X0 + 12000.0 < x1 and y0 < Y0 - 500.0 and Y0 + 500.0 < y1


def test_nice_numbers():
    assert _nice_denominator(263_412.0) == 270_000
    assert _nice_denominator(600_000.0) == 600_000
    assert _nice_denominator(1_001.0) == 1_100
    assert _scalebar_length_m(60_000.0) == 10_000.0  # a quarter is 15 km
    assert _scalebar_length_m(80_000.0) == 20_000.0
    assert _scalebar_length_m(3_000.0) == 500.0


def test_flagged_villages_are_labelled_and_listed(analysis, cjk_font):
    fig = draw_print_map(analysis, lang="zh", made_on=DAY)
    flags = [t.get_text() for t in by_gid(fig, "label-flag")]
    assert flags == ["乙村\n10.4 公里"]
    assert [t.get_text() for t in by_gid(fig, "gap-name")] == ["1. 乙村"]
    assert [t.get_text() for t in by_gid(fig, "gap-dist")] == ["10.4 公里"]
    shown = {t.get_text() for t in texts(fig)}
    assert "超过标准的村庄（1 个）" in shown
    assert "© OpenStreetMap contributors" in shown


def test_fictional_note_only_for_fictional_data(cjk_font):
    real = run_analysis(scenario(fictional=False), SETTINGS)
    fig = draw_print_map(real, lang="en", made_on=DAY)
    assert by_gid(fig, "note-fictional") == []
    fig = draw_print_map(run_analysis(scenario(), SETTINGS), lang="en", made_on=DAY)
    (note,) = by_gid(fig, "note-fictional")
    assert "fictional" in note.get_text()


def test_drawing_changes_no_global_matplotlib_setting(analysis, cjk_font):
    before = dict(matplotlib.rcParams)
    draw_print_map(analysis, made_on=DAY)
    assert dict(matplotlib.rcParams) == before


# --------------------------------------------------------------------------------------------
# Bad input


def test_unsupported_suffix_names_the_supported_ones_and_writes_nothing(
    analysis, cjk_font, tmp_path
):
    fig = draw_print_map(analysis, made_on=DAY)
    with pytest.raises(InputError) as err:
        write_print_map(fig, tmp_path / "map.jpg")
    assert err.value.key == "error.print.suffix"
    assert str(err.value) == (
        "Cannot save the map map.jpg: the file type '.jpg' is not supported. Use one of these "
        "suffixes: .png, .pdf."
    )
    assert "不支持的文件类型“.jpg”" in err.value.message("zh")
    with pytest.raises(InputError, match=r"the file type '-' is not supported"):
        write_print_map(fig, tmp_path / "map")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "key", "text"),
    [
        (
            {"paper": "Letter"},
            "error.print.paper",
            "Unknown paper size 'Letter'. Choose one of: A4, A3.",
        ),
        (
            {"orientation": "sideways"},
            "error.print.orientation",
            "Unknown orientation 'sideways'. Choose one of: landscape, portrait.",
        ),
        (
            {"privacy": "public"},
            "error.map.privacy",
            "Unknown privacy mode 'public'. Choose one of: committee, displaced, full (",
        ),
        ({"lang": "fr"}, "error.map.language", "Unknown language 'fr'. Choose one of: zh, en."),
        ({"kind": "childcare"}, "error.settings.kind", "Unknown service kind 'childcare'"),
    ],
)
def test_bad_settings_say_what_to_choose(analysis, kwargs, key, text):
    with pytest.raises(SettingsError) as err:
        draw_print_map(analysis, made_on=DAY, **kwargs)
    assert err.value.key == key
    assert str(err.value).startswith(text)


def test_print_messages_have_both_languages_and_the_same_placeholders():
    keys = [k for k in i18n.all_keys() if k.startswith(("print.", "error.print."))]
    assert len(keys) >= 15
    for key in keys:
        texts_ = i18n.texts_for(key)
        assert i18n.placeholders(texts_["zh"]) == i18n.placeholders(texts_["en"]), key


def test_fonts_are_found_by_name(cjk_font):
    assert cjk_font in printmap.CJK_FONT_FAMILIES


def test_demo_page(cjk_font, tmp_path):
    """The demo, as the workshop prints it: every flagged village named on the page."""
    from mapping.scenario import load_demo

    a = run_analysis(load_demo())
    fig = draw_print_map(a, lang="zh", made_on=DAY)
    flagged = set(a.villages.loc[a.villages["flag_kindergarten"], "village_name"])
    labelled = {t.get_text().split("\n")[0] for t in by_gid(fig, "label-flag")}
    assert labelled == flagged
    write_print_map(fig, tmp_path / "demo.pdf")
    assert media_box((tmp_path / "demo.pdf").read_bytes())[2] == pytest.approx(841.89, abs=0.05)


# --------------------------------------------------------------------------------------------
# Planning results: proposals and service areas
#
# P1, a proposed kindergarten on the road at x=9 km, and P2, a proposed school at x=3 km.
# Service areas of the kindergartens k (x=0) and P1 in the bands 1 and 3 km. The 1 km area of
# k, a pencil check: the road reaches x=1000 m, widened by 200 m (the off-road allowance) while
# at least 200 m of the budget is left, i.e. up to x=800 m, then narrowing to nothing at
# x=1000 m; around the service, a 200 m circle (the road ends there). Its box is
# -200..1000 x -200..200 m.

AREA_BANDS_M = (1000.0, 3000.0)


@pytest.fixture(scope="module")
def planned(analysis):
    p = make_proposal(None, "kindergarten", *lonlat(9000.0, 0.0), lang="zh")
    p = make_proposal(p, "school", *lonlat(3000.0, 0.0), lang="zh")
    return apply_proposals(analysis, p)


@pytest.fixture(scope="module")
def areas(planned):
    return service_areas(planned, "kindergarten", AREA_BANDS_M)


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]


def test_proposals_are_drawn_apart_from_existing_services(planned, cjk_font):
    fig = draw_print_map(planned, lang="en", made_on=DAY)
    (existing,) = by_gid(fig, "services-kindergarten")
    np.testing.assert_allclose(existing.get_offsets(), [(X0, Y0)], atol=1e-3)
    (proposed,) = by_gid(fig, "proposed-kindergarten")
    np.testing.assert_allclose(proposed.get_offsets(), [(X0 + 9000.0, Y0)], atol=1e-3)
    (school,) = by_gid(fig, "proposed-school")
    np.testing.assert_allclose(school.get_offsets(), [(X0 + 3000.0, Y0)], atol=1e-3)
    # pale (35 % of the kind's colour), with a dashed edge in the kind's colour
    np.testing.assert_allclose(proposed.get_facecolors()[0], [*_rgb("#7b3294"), 0.35])
    assert matplotlib.colors.to_hex(proposed.get_edgecolors()[0]) == "#7b3294"
    ((_, dashes),) = proposed.get_linestyle()
    assert dashes is not None and len(dashes) == 2
    # and a gold star on each
    stars = by_gid(fig, "proposed-star")
    assert sorted(len(s.get_offsets()) for s in stars) == [1, 1]
    assert all(matplotlib.colors.to_hex(s.get_facecolors()[0]) == "#ffd700" for s in stars)
    assert proposed.get_zorder() > existing.get_zorder()  # over the existing services
    shown = legend_texts(fig)
    assert "Proposed kindergarten" in shown and "Proposed school" in shown
    assert shown.index("kindergarten") < shown.index("Proposed kindergarten")


def test_without_proposals_no_proposed_symbol_or_legend(analysis, cjk_font):
    fig = draw_print_map(analysis, lang="en", made_on=DAY)
    assert by_gid(fig, "proposed-kindergarten") == [] and by_gid(fig, "proposed-star") == []
    assert not [t for t in legend_texts(fig) if "Proposed" in t]
    assert by_gid(fig, "service-area") == []
    assert "Service areas: road distance to a service" not in legend_texts(fig)


def test_service_areas_are_drawn_under_the_villages(planned, areas, cjk_font):
    fig = draw_print_map(planned, lang="en", made_on=DAY, service_areas=areas)
    patches = by_gid(fig, "service-area")
    assert len(patches) == 4
    # the farther band first, so the nearer one shows on top
    # areas: k 1 km, k 3 km, P1 1 km, P1 3 km; drawn: k 3 km, P1 3 km, k 1 km, P1 1 km
    assert areas["service_id"].tolist() == ["k", "k", "P1", "P1"]
    order = [1, 3, 0, 2]
    frame = _project(gpd.GeoSeries(areas.geometry.values, crs=areas.crs), "EPSG:32649")
    boxes = [tuple(p.get_path().get_extents().bounds) for p in patches]
    expected = [frame.iloc[i].bounds for i in order]
    for (x, y, w, h), (x0, y0, x1, y1) in zip(boxes, expected, strict=True):
        assert (x, y, x + w, y + h) == pytest.approx((x0, y0, x1, y1), abs=1e-6)
    # the pencil check: k's 1 km area
    x, y, w, h = boxes[2]
    assert (x - X0, y - Y0, x + w - X0, y + h - Y0) == pytest.approx(
        (-200.0, -200.0, 1000.0, 200.0), abs=1e-3
    )
    # nearest band darkest, translucent; everything under roads, boundaries and villages
    np.testing.assert_allclose(patches[2].get_facecolor(), [*_rgb("#08519c"), 0.2])
    np.testing.assert_allclose(patches[0].get_facecolor(), [*_rgb("#3182bd"), 0.2])
    ax = by_gid(fig, GID_MAP)[0]
    others = [a for a in ax.get_children() if (a.get_gid() or "").startswith(("roads", "vill"))]
    assert others and max(p.get_zorder() for p in patches) < min(a.get_zorder() for a in others)
    shown = legend_texts(fig)
    assert "Service areas: road distance to a service" in shown
    assert shown.index("Within 1 km") < shown.index("Within 3 km")


def test_service_areas_do_not_move_the_map(planned, areas, cjk_font):
    """The extent still comes from villages and services; dissolved areas draw one per band."""
    plain = by_gid(draw_print_map(planned, made_on=DAY), GID_MAP)[0]
    merged = service_areas(planned, "kindergarten", AREA_BANDS_M, dissolve=True)
    fig = draw_print_map(planned, made_on=DAY, service_areas=merged)
    assert len(by_gid(fig, "service-area")) == 2
    ax = by_gid(fig, GID_MAP)[0]
    assert (ax.get_xlim(), ax.get_ylim()) == (plain.get_xlim(), plain.get_ylim())
    shown = legend_texts(fig)
    assert "1 公里以内" in shown and "3 公里以内" in shown


def test_a_committee_page_of_a_plan_draws_no_household_position(planned, areas, cjk_font):
    fig = draw_print_map(planned, lang="zh", made_on=DAY, service_areas=areas)
    hh = household_xy(planned)
    for coll in fig.findobj(Collection):
        offsets = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
        if len(offsets):
            gaps = np.hypot(*(offsets[:, None, :] - hh[None, :, :]).transpose(2, 0, 1))
            assert gaps.min() > 100.0, coll.get_gid()
    assert by_gid(fig, GID_HOUSEHOLDS) == []


def test_bad_service_areas_are_refused_before_drawing(planned, areas):
    with pytest.raises(InputError) as err:
        draw_print_map(planned, made_on=DAY, service_areas=areas.drop(columns="band_m"))
    assert err.value.key == "error.map.service_areas"
    assert "lacks the column(s) band_m" in str(err.value)
    no_crs = gpd.GeoDataFrame({"band_m": [1000.0]}, geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(InputError) as err:
        draw_print_map(planned, made_on=DAY, service_areas=no_crs)
    assert err.value.key == "error.map.service_areas_crs"


def test_village_labels_never_cover_each_other(cjk_font):
    """Reported (issue 11, item 15): 巨井泉村 and 巨井泉村二组, 200 m apart, were printed one
    over the other. Thirty flagged villages in a 3 km cluster: every label drawn lies clear of
    every other (their drawn boxes, measured by the renderer); the two neighbours, the
    farthest from a kindergarten, are both named (the farthest are named first); labels that
    moved away point back with a leader line."""
    from tests.netbuild import households as hh_layer
    from tests.netbuild import roads as rd
    from tests.netbuild import services as svc_layer
    from tests.netbuild import villages as vil_layer
    from tests.test_routes import scenario_of

    rng = np.random.default_rng(7)
    xy = {"A": (100.0, 200.0), "B": (100.0, 400.0)}
    names = ["巨井泉村", "巨井泉村二组"]
    for i in range(28):
        xy[f"C{i}"] = (float(rng.uniform(600, 3000)), float(rng.uniform(-1500, 1500)))
        names.append(f"测试村{i:02d}")
    r = rd({0: (0.0, 0.0), 1: (3000.0, 0.0), 2: (30_000.0, 0.0)}, [(1, [0, 1, 2], "track")])
    a = run_analysis(
        scenario_of(r, vil_layer(xy, names), hh_layer({"H": (0.0, 5.0)}, children=[1]),
                    svc_layer({"K": ("kindergarten", 30_000.0, 0.0), "S": ("school", 0.0, 0.0)})),
        AnalysisSettings(),
    )  # fmt: skip
    assert a.villages["flag_kindergarten"].all()
    fig = draw_print_map(a, lang="zh", made_on=DAY)
    try:
        renderer = fig.canvas.get_renderer()
        labels = by_gid(fig, "label-flag") + by_gid(fig, "label-village")
        boxes = [t.get_window_extent(renderer) for t in labels]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                w = min(boxes[i].x1, boxes[j].x1) - max(boxes[i].x0, boxes[j].x0)
                h = min(boxes[i].y1, boxes[j].y1) - max(boxes[i].y0, boxes[j].y0)
                assert w <= 0 or h <= 0, (labels[i].get_text(), labels[j].get_text())
        named = {t.get_text().split("\n")[0] for t in labels}
        assert {"巨井泉村", "巨井泉村二组"} <= named
        assert len(named) >= 10  # and not only those two: the cluster is crowded, not empty
        leaders = fig.findobj(lambda o: o.get_gid() == "label-leader")
        assert leaders  # some had to move out
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
