"""The app's farthest-villages chart (plain HTML): names from files stay text, bars and the
threshold line sit where the numbers say (pencil answers), in a real browser too."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import pytest

from mapping.barchart import FLAGGED, WITHIN, bar_chart_html, table_html
from tests import browser
from tests.test_template_injection import PAYLOADS


class _Collect(HTMLParser):
    """Text of every element with a given class, and every element's attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        self.stack.append(a.get("class") or "")

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1]:
            self.texts.setdefault(self.stack[-1], []).append(data)


def parse(fragment: str) -> _Collect:
    p = _Collect()
    p.feed(fragment)
    p.close()
    assert p.stack == []  # every element closed: no name opened or closed one
    return p


def style_of(attrs: dict) -> dict[str, str]:
    return dict(
        (k.strip(), v.strip())
        for k, v in (part.split(":", 1) for part in attrs["style"].split(";") if part.strip())
    )


def test_bars_and_the_line_where_the_numbers_say():
    html = bar_chart_html(
        ["far", "near", "none"],
        [4.0, 2.0, float("nan")],
        [True, False, False],
        limit=3.0,
        value_label="km",
        limit_label="threshold",
    )
    p = parse(html)
    bars = [a for tag, a in p.elements if a.get("class") == "gm-bar"]
    # pencil: the scale is 4 km x 1.05 = 4.2 km; 4/4.2 = 95.24 %, 2/4.2 = 47.62 %, 3/4.2 = 71.43 %
    assert [style_of(b)["width"] for b in bars] == ["95.24%", "47.62%"]
    assert [style_of(b)["background"] for b in bars] == [FLAGGED, WITHIN]
    lines = [a for tag, a in p.elements if a.get("class") == "gm-bar-limit"]
    assert {style_of(a)["left"] for a in lines} == {"71.43%"}
    assert len(lines) == 2  # one piece in each bar's row: the NaN village has no row
    assert p.texts["gm-bar-name"] == ["far", "near"]
    assert p.texts["gm-bar-value"] == ["4.0", "2.0"]


def test_a_limit_beyond_every_bar_stretches_the_scale_and_no_limit_draws_no_line():
    p = parse(bar_chart_html(["a"], [1.0], [False], limit=10.0, value_label="km", limit_label="t"))
    bar = next(a for _, a in p.elements if a.get("class") == "gm-bar")
    assert style_of(bar)["width"] == f"{100 / 10.5:.2f}%"
    none = parse(
        bar_chart_html(["a"], [1.0], [False], limit=None, value_label="km", limit_label="t")
    )
    assert not [a for _, a in none.elements if a.get("class") == "gm-bar-limit"]
    empty = parse(bar_chart_html([], [], [], limit=5.0, value_label="km", limit_label="t"))
    assert not [a for _, a in empty.elements if a.get("class") == "gm-bar"]


def test_names_from_files_come_out_as_the_same_text_and_nothing_else():
    names = [p for p in PAYLOADS]
    html = bar_chart_html(
        names,
        list(range(1, len(names) + 1)),
        [True] * len(names),
        limit=2.0,
        value_label=PAYLOADS[6],
        limit_label=PAYLOADS[7],
    )
    p = parse(html)
    assert p.texts["gm-bar-name"] == names  # exactly, in order
    tags = {tag for tag, _ in p.elements}
    assert tags <= {"div", "span"}  # no <script>, <img> from a name
    for _, attrs in p.elements:
        assert not any(k.startswith("on") for k in attrs)
    titles = [a["title"] for _, a in p.elements if "title" in a]
    assert titles == [f"{n}: {i + 1}.0" for i, n in enumerate(names)]


@pytest.mark.browser
def test_in_a_browser_the_bars_measure_what_they_say(tmp_path):
    browser.require_chromium()
    names = ["{{7*7}}", '"><img src=x onerror="document.title=\'pwned\'">', "希乐图村"]
    fragment = bar_chart_html(
        names,
        [10.0, 5.0, 2.5],
        [True, True, False],
        limit=5.0,
        value_label="km",
        limit_label="threshold",
    )
    page = tmp_path / "chart.html"
    page.write_text(
        '<!doctype html><meta charset="utf-8"><title>chart</title>'
        f'<body style="margin:0"><div style="width:600px">{fragment}</div></body>',
        encoding="utf-8",
    )
    with browser.DevTools() as tools:
        tools.navigate(page.as_uri())
        tools.wait_for("document.querySelectorAll('.gm-bar').length === 3", 20)
        out = json.loads(
            tools.evaluate(
                """JSON.stringify({
                  title: document.title,
                  names: [...document.querySelectorAll('.gm-bar-name')].map(e => e.textContent),
                  bars: [...document.querySelectorAll('.gm-bar')].map(e => {
                    const r = e.getBoundingClientRect(), t = e.parentElement.getBoundingClientRect();
                    return [r.left - t.left, r.width, t.width]; }),
                  line: [...document.querySelectorAll('.gm-bar-limit')].map(e =>
                    e.getBoundingClientRect().left - e.parentElement.getBoundingClientRect().left),
                  imgs: document.querySelectorAll('img').length})"""
            )
        )
        errors = tools.console_errors()
    assert errors == []
    assert out["title"] == "chart" and out["imgs"] == 0
    assert out["names"] == names
    track = out["bars"][0][2]
    for (left, width, _), km in zip(out["bars"], [10.0, 5.0, 2.5], strict=True):
        assert left == 0
        assert math.isclose(width, track * km / 10.5, abs_tol=1.0)  # in pixels, to a pixel
    for left in out["line"]:  # the 5 km line is as far along as the 5 km bar is long
        assert math.isclose(left, out["bars"][1][1], abs_tol=1.0)


def read_table_html(fragment: str):
    """The frame an HTML table of :func:`table_html` shows: numbers and flags from their
    ``data-v`` (floats, booleans, NaN/None when empty), text as shown."""
    import pandas as pd

    class _Table(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.header: list[str] = []
            self.rows: list[list] = []
            self.cell: list[str] | None = None
            self.value: str | None = None
            self.in_head = False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "thead":
                self.in_head = True
            elif tag == "tr" and not self.in_head:
                self.rows.append([])
            elif tag in ("th", "td"):
                self.cell, self.value = [], a.get("data-v")

        def handle_endtag(self, tag):
            if tag == "thead":
                self.in_head = False
            elif tag in ("th", "td") and self.cell is not None:
                text = "".join(self.cell)
                if tag == "th":
                    self.header.append(text)
                elif self.value is None:
                    self.rows[-1].append(text)
                else:
                    self.rows[-1].append(None if self.value == "" else float(self.value))
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    p = _Table()
    p.feed(fragment)
    frame = pd.DataFrame(p.rows, columns=p.header)
    return frame


def test_a_table_shows_its_frame_and_reads_back_exactly():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "村庄": ["{{7*7}}", '<img src=x onerror="x">', "希乐图村"],
            "距离": [3.004, 12.35, float("nan")],
            "分钟": [10.0, 61.0, None],
            "超标": [True, True, False],
            "说明": ["far</td><td>x", "", "ok"],
        }
    )
    html = table_html(
        frame,
        decimals={"距离": (1, 3), "分钟": 0},
        flags=("超标",),
        wrap=("说明",),
        highlight="超标",
    )
    p = parse(html)
    tags = {tag for tag, _ in p.elements}
    assert tags <= {"style", "div", "table", "thead", "tbody", "tr", "th", "td"}
    back = read_table_html(html)
    assert list(back.columns) == list(frame.columns)
    assert back["村庄"].tolist() == frame["村庄"].tolist()
    assert back["说明"].tolist() == frame["说明"].tolist()
    assert back["距离"].tolist()[:2] == [3.004, 12.35] and pd.isna(back["距离"].iloc[2])
    assert back["超标"].tolist() == [1.0, 1.0, 0.0]
    shown = [a for tag, a in p.elements if tag == "td" and "data-v" in a]
    texts = _texts_of_cells(html)
    # 3.004 keeps its digits (it is beyond 3 km), 12.35 keeps two, 10 minutes none
    assert texts[0][1:4] == ["3.004", "10", "✔"] and texts[1][1:3] == ["12.35", "61"]
    assert texts[2][1:4] == ["", "", ""]
    assert len(shown) == 9
    tinted = [a for tag, a in p.elements if tag == "tr" and a.get("class") == "f"]
    assert len(tinted) == 2  # the two flagged rows


def _texts_of_cells(fragment: str) -> list[list[str]]:
    rows: list[list[str]] = []

    class _P(HTMLParser):
        cell: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                rows.append([])
            elif tag == "td":
                self.cell = []

        def handle_endtag(self, tag):
            if tag == "td" and self.cell is not None:
                rows[-1].append("".join(self.cell))
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    _P(convert_charrefs=True).feed(fragment)
    return [r for r in rows if r]
