"""The report PDF: real text, every flagged village's sentence, nothing personal in committee
mode, fonts embedded, a sensible size for 500 villages, and a clear message without a Chinese
font. The PDF is read back with pypdf, an independent reader."""

from __future__ import annotations

import datetime as dt
import re

import pypdf
import pytest

from layers.errors import SettingsError
from mapping.analysis import apply_proposals, run_analysis
from mapping.mapmodel import build_map_model
from mapping.report import write_report
from mapping.scenario import load_demo
from mapping.settings import AnalysisSettings
from mapping.whatif import make_proposal

DAY = dt.date(2026, 11, 29)


def squeeze(text: str) -> str:
    """Text without white space (a sentence may be wrapped anywhere in the PDF)."""
    return re.sub(r"\s+", "", text)


def pdf_text(path) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(path)
    return reader, "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def demo():
    return run_analysis(load_demo(), AnalysisSettings())


@pytest.fixture(scope="module")
def report(demo, tmp_path_factory):
    far = demo.villages["dist_kindergarten_m"].idxmax()
    p = demo.villages.loc[far].geometry
    after = apply_proposals(demo, make_proposal(None, "kindergarten", p.x, p.y, lang="zh"))
    path = tmp_path_factory.mktemp("report") / "report.pdf"
    write_report(
        build_map_model(demo, lang="zh", made_on=DAY),
        path,
        after=build_map_model(after, lang="zh", made_on=DAY),
        author="社工站",
    )
    return path


def test_the_report_holds_every_flagged_villages_sentence_as_text(demo, report):
    _, text = pdf_text(report)
    flagged = demo.villages[demo.villages["flag_kindergarten"]]
    assert len(flagged) == 8
    for sentence in flagged["reason_kindergarten_zh"]:
        assert squeeze(sentence) in squeeze(text), sentence
    for phrase in (
        "方法",
        "拟建方案的效果",
        "需要注意的地方",
        "制作：社工站",
        "2026-11-29",
    ):
        assert phrase in text
    assert "OpenStreetMap" in text


def test_a_committee_report_holds_no_household_detail(demo, report):
    reader, text = pdf_text(report)
    hh = demo.households
    for secret in [*hh.index.astype(str), *hh["name"].dropna(), *hh["phone"].dropna()]:
        assert secret not in text and squeeze(secret) not in squeeze(text), secret
    assert "不含农户姓名" in text
    assert reader.metadata.author == "社工站"


def test_pages_cover_method_map_table_villages_and_the_rest(demo, report):
    reader, _ = pdf_text(report)
    n_flagged = int(demo.villages["flag_kindergarten"].sum())
    # cover, method, overview map, table, a page per flagged village, then 1-2 pages
    assert 4 + n_flagged + 1 <= len(reader.pages) <= 4 + n_flagged + 2
    for i, page in enumerate(reader.pages, start=1):
        assert f"第 {i} 页" in page.extract_text()


def _fonts(reader: pypdf.PdfReader):
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            yield font.get_object()
        for xobject in (resources.get("/XObject") or {}).values():
            xres = xobject.get_object().get("/Resources") or {}
            for font in (xres.get("/Font") or {}).values():
                yield font.get_object()


def test_every_font_is_embedded(report):
    reader = pypdf.PdfReader(report)
    fonts = list(_fonts(reader))
    assert fonts
    for font in fonts:
        if font["/Subtype"] == "/Type3":  # glyphs drawn by the PDF itself
            assert font["/CharProcs"]
            continue
        if font["/Subtype"] == "/Type0":
            font = font["/DescendantFonts"][0].get_object()
        descriptor = font["/FontDescriptor"].get_object()
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), font


def test_a_report_without_flagged_villages_says_so(demo, tmp_path):
    far_enough = run_analysis(
        load_demo(), AnalysisSettings(thresholds_m={"kindergarten": 50_000.0, "school": 50_000.0})
    )
    path = write_report(build_map_model(far_enough, lang="en", made_on=DAY), tmp_path / "r.pdf")
    reader, text = pdf_text(path)
    assert "No village is more than 50 km from the nearest kindergarten" in text
    assert "Villages beyond the threshold (0)" in text
    assert 5 <= len(reader.pages) <= 6


def test_500_flagged_villages_make_a_report_of_sensible_size(tmp_path):
    from tests.netbuild import households, roads, services, villages
    from tests.test_routes import scenario_of

    r = roads({i: (1000.0 * i, 0.0) for i in range(61)}, [(1, list(range(61)), "track")])
    vil = villages({f"V{i:03d}": (100.0 + 100.0 * i, 300.0) for i in range(500)},
                   [f"村{i:03d}" for i in range(500)])  # fmt: skip
    hh = households({"H": (50_000.0, 10.0)}, children=[2])
    svc = services({"K": ("kindergarten", 60_000.0, 0.0), "S": ("school", 0.0, 0.0)})
    a = run_analysis(scenario_of(r, vil, hh, svc), AnalysisSettings())
    assert int(a.villages["flag_kindergarten"].sum()) == 500
    path = write_report(
        build_map_model(a, lang="zh", made_on=DAY), tmp_path / "r.pdf", max_village_pages=10
    )
    reader, text = pdf_text(path)
    assert "下面有其中 10 个村的单页；其余 490 个村见村庄卡片。" in text
    for i in range(500):  # every village is in the table
        assert f"村{i:03d}" in text
    assert len(reader.pages) <= 4 + 10 + 2 + 500 // 40 + 1
    assert path.stat().st_size < 3_000_000


def test_no_chinese_font_is_a_clear_message_and_nothing_is_written(demo, tmp_path, monkeypatch):
    import mapping.printmap

    monkeypatch.setattr(mapping.printmap, "find_cjk_font", lambda: None)
    with pytest.raises(SettingsError) as err:
        write_report(build_map_model(demo, lang="zh", made_on=DAY), tmp_path / "r.pdf")
    assert "fonts-noto-cjk" in err.value.message("zh") and "fonts-noto-cjk" in str(err.value)
    assert list(tmp_path.iterdir()) == []
