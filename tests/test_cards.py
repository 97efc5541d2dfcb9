"""Village cards: phone-sized, readable without zooming, committee-safe, findable by name."""

from __future__ import annotations

import datetime as dt

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from mapping.analysis import apply_proposals, run_analysis
from mapping.cards import (
    CARD_DPI,
    CARD_HEIGHT_PX,
    CARD_WIDTH_PX,
    MIN_TEXT_PX,
    card_file_name,
    cards_for,
    draw_village_card,
    write_cards,
)
from mapping.mapmodel import build_map_model
from mapping.scenario import load_demo
from mapping.settings import AnalysisSettings
from mapping.whatif import make_proposal

DAY = dt.date(2026, 11, 29)


@pytest.fixture(scope="module")
def demo():
    return run_analysis(load_demo(), AnalysisSettings())


@pytest.fixture(scope="module")
def far(demo):
    """The village farthest from a kindergarten (the demo's 希乐图村)."""
    return demo.villages["dist_kindergarten_m"].idxmax()


def texts_of(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_card_is_1080_px_wide_and_its_smallest_text_is_28_px(demo, far, lang, tmp_path):
    model = build_map_model(demo, lang=lang, made_on=DAY)
    fig = draw_village_card(model, far)
    try:
        sizes_px = [t.get_fontsize() * CARD_DPI / 72.0 for t in texts_of(fig)]
        assert min(sizes_px) >= MIN_TEXT_PX - 1e-9
        # every text lies on the card
        renderer = fig.canvas.get_renderer()
        for t in texts_of(fig):
            box = t.get_window_extent(renderer)
            assert box.x0 >= -1 and box.x1 <= CARD_WIDTH_PX + 1, t.get_text()
            assert box.y0 >= -1 and box.y1 <= CARD_HEIGHT_PX + 1, t.get_text()
    finally:
        plt.close(fig)
    path = write_cards(model, tmp_path, which=[far])[0]
    height, width = mpimg.imread(path).shape[:2]
    assert (width, height) == (CARD_WIDTH_PX, CARD_HEIGHT_PX)


def test_a_card_says_why_and_gives_the_numbers(demo, far):
    model = build_map_model(demo, lang="zh", made_on=DAY)
    fig = draw_village_card(model, far)
    try:
        text = "".join(t.get_text().replace("\n", "") for t in texts_of(fig))
    finally:
        plt.close(fig)
    v = demo.villages.loc[far]
    assert v["village_name"] in text
    assert f"{v['dist_kindergarten_m'] / 1000:.1f} 公里" in text
    assert f"约 {v['time_kindergarten_min']:.0f} 分钟" in text
    assert f"{int(v['n_hh_beyond_kindergarten'])} 户" in text
    assert f"{int(v['n_children_beyond_kindergarten'])} 名" in text
    assert "示意图" in text and "2026-11-29" in text
    # the sentence, as the analysis wrote it (wrapped over lines, so compared without them)
    assert v["reason_kindergarten_zh"].replace(" ", "") in text.replace(" ", "")


def test_a_committee_card_holds_no_household_detail(demo, far):
    hh = demo.households
    secrets = [*hh.index.astype(str), *hh["name"].dropna(), *hh["phone"].dropna()]
    model = build_map_model(demo, lang="zh", made_on=DAY)
    fig = draw_village_card(model, far)
    try:
        text = "\n".join(t.get_text() for t in texts_of(fig))
        assert not fig.findobj(lambda a: a.get_gid() == "card-households")
    finally:
        plt.close(fig)
    assert not [s for s in secrets if s and s in text]
    full = draw_village_card(build_map_model(demo, lang="zh", privacy="full"), far)
    try:  # with full detail the village's households are dots (still no names)
        dots = full.findobj(lambda a: a.get_gid() == "card-households")
        assert len(dots) == 1
        n_hh = int(demo.villages.at[far, "n_households"])
        assert len(dots[0].get_offsets()) == n_hh
        assert not [s for s in secrets if s and s in "\n".join(map(Text.get_text, texts_of(full)))]
    finally:
        plt.close(full)


def test_a_card_shows_the_proposal_that_closes_the_gap(demo, far):
    p = demo.villages.loc[far].geometry
    after = apply_proposals(demo, make_proposal(None, "kindergarten", p.x, p.y, lang="zh"))
    model = build_map_model(demo, lang="zh", made_on=DAY)
    fig = draw_village_card(model, far, after=build_map_model(after, lang="zh", made_on=DAY))
    try:
        text = "".join(t.get_text() for t in texts_of(fig))
        assert fig.findobj(lambda a: a.get_gid() == "card-route-before")
    finally:
        plt.close(fig)
    before_km = demo.villages.at[far, "dist_kindergarten_m"] / 1000
    after_km = after.villages.at[far, "dist_kindergarten_m"] / 1000
    assert f"{before_km:.1f} → {after_km:.1f} 公里" in text
    assert "不再超过 5 公里" in text


def test_cards_are_named_after_their_villages(demo, tmp_path):
    model = build_map_model(demo, lang="zh", made_on=DAY)
    ids = cards_for(model)
    assert len(ids) == int(demo.villages["flag_kindergarten"].sum())
    paths = write_cards(model, tmp_path, which=ids[:3])
    for vid, path in zip(ids[:3], paths, strict=True):
        assert demo.villages.at[vid, "village_name"] in path.name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("希乐图村", "希乐图村.png"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j.png"),
        ("CON", "_CON.png"),
        ("  .村. ", "村.png"),
        ("\u202eevil\u202c村", "evil村.png"),
        ("", "village.png"),
    ],
)
def test_card_file_names_work_on_windows(name, expected):
    assert card_file_name(name, "V1") == expected


def test_card_file_names_are_unique_and_short():
    taken: set[str] = set()
    first = card_file_name("光明村", "V1", taken)
    second = card_file_name("光明村", "V2", taken)
    third = card_file_name("光明村", "V2", taken)
    assert (first, second, third) == ("光明村.png", "光明村-V2.png", "光明村-V2-2.png")
    assert len(card_file_name("长" * 1_000_000, "V")) <= 64
