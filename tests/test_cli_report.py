"""``python -m mapping report``: the report PDF, a card per flagged village and the zip of the
cards, all-or-nothing, and a clear message when something is missing."""

from __future__ import annotations

import zipfile

import pypdf
import pytest

from mapping.analysis import run_analysis
from mapping.cli import main
from mapping.scenario import load_demo


@pytest.fixture(scope="module")
def report_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    assert main(["report", "--demo", "--author", "社工站", "--out", str(out)]) == 0
    return out


def test_report_cards_and_zip(report_out):
    a = run_analysis(load_demo())
    flagged = sorted(a.villages.loc[a.villages["flag_kindergarten"], "village_name"])
    cards = sorted(p.stem for p in (report_out / "cards").glob("*.png"))
    assert cards == flagged
    with zipfile.ZipFile(report_out / "cards.zip") as z:
        assert sorted(n.removesuffix(".png") for n in z.namelist()) == flagged
        assert (
            z.read(f"{flagged[0]}.png") == (report_out / "cards" / f"{flagged[0]}.png").read_bytes()
        )
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(report_out / "report.pdf").pages)
    assert "制作：社工站" in text
    for name in a.households["name"].dropna():
        assert name not in text  # committee by default


def test_no_cards_on_request(tmp_path):
    assert main(["report", "--demo", "--cards", "none", "--out", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["report.pdf"]


def test_a_failing_card_keeps_the_earlier_report(report_out, tmp_path, monkeypatch, capsys):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(report_out, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("card failed")

    monkeypatch.setattr("mapping.cards.draw_village_card", broken)
    code = main(["report", "--demo", "--out", str(out), "--lang", "en"])
    assert code == 1
    assert "Internal error" in capsys.readouterr().err
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_no_chinese_font_is_a_message(tmp_path, monkeypatch, capsys):
    import mapping.printmap

    monkeypatch.setattr(mapping.printmap, "find_cjk_font", lambda: None)
    code = main(["report", "--demo", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "fonts-noto-cjk" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
