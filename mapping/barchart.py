"""The app's "farthest villages" chart and village table as plain HTML.

Why not Vega-Lite (``st.vega_lite_chart``) or Altair: the page then loads Vega's 1.5 MB of
JavaScript, and parsing it holds the browser's main thread for most of a second while the map
is waiting to be drawn (measured with ``benchmarks/app_browser.py``: the first map of a new
session 3.65 s with the Vega chart, 2.9 s with this one). Fifteen bars need no chart library.

The names come from files: every text is escaped for where it lands (element text, or an
attribute), never passed through a template; the numbers are formatted here. The result is a
fragment for ``st.html`` (sanitized again there by DOMPurify) or any HTML page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

FLAGGED = "#d7191c"
WITHIN = "#1a9641"


def bar_chart_html(
    names: Sequence[str],
    values: Sequence[float],
    flagged: Sequence[bool],
    *,
    limit: float | None,
    value_label: str,
    limit_label: str,
    decimals: int = 1,
) -> str:
    """Bars of ``values`` by ``names`` (longest first, as given), red where ``flagged``; a
    dashed line at ``limit`` (none when ``None``). ``value_label`` names the values (the
    axis), ``limit_label`` the line; both shown as text. NaN values are left out."""
    rows = [
        (str(n), float(v), bool(f))
        for n, v, f in zip(names, values, flagged, strict=True)
        if v is not None and math.isfinite(float(v))
    ]
    top = max([v for _, v, _ in rows] + ([limit] if limit is not None else []) + [0.0])
    scale = top * 1.05 if top > 0 else 1.0

    def pct(v: float) -> str:
        return f"{max(0.0, min(100.0, 100.0 * v / scale)):.2f}%"

    esc = html.escape
    out = [
        '<div class="gm-bars" role="img" aria-label="'
        + esc(value_label, quote=True)
        + '" style="font-size:0.8rem;line-height:1.25;width:100%;">'
    ]
    for name, value, flag in rows:
        number = f"{value:.{decimals}f}"
        out.append(
            '<div class="gm-bar-row" title="'
            + esc(f"{name}: {number}", quote=True)
            + '" style="display:flex;align-items:center;gap:6px;margin:1px 0;">'
            '<span class="gm-bar-name" style="flex:0 0 7.5em;overflow:hidden;'
            'text-overflow:ellipsis;white-space:nowrap;text-align:right;">' + esc(name) + "</span>"
            '<span style="flex:1 1 auto;position:relative;height:1.05em;">'
            f'<span class="gm-bar" data-value="{number}" style="position:absolute;left:0;'
            f"top:0;bottom:0;width:{pct(value)};"
            f'background:{FLAGGED if flag else WITHIN};"></span>'
            + (
                f'<span class="gm-bar-limit" style="position:absolute;left:{pct(limit)};'
                'top:-1px;bottom:-1px;border-left:2px dashed #333;"></span>'
                if limit is not None
                else ""
            )
            + "</span>"
            f'<span class="gm-bar-value" style="flex:0 0 3.2em;">{number}</span>'
            "</div>"
        )
    caption = esc(value_label)
    if limit is not None:
        caption += (
            ' · <span style="border-left:2px dashed #333;padding-left:4px;">'
            + esc(f"{limit_label} {limit:g}")
            + "</span>"
        )
    out.append(f'<div class="gm-bar-axis" style="color:#555;margin-top:2px;">{caption}</div>')
    out.append("</div>")
    return "".join(out)


#: The village table's look, once per table (a style attribute on each of 12,000 cells made a
#: 2,000-village table 1.8 MB; classes keep it to a third of that).
_TABLE_CSS = (
    ".gm-table{border-collapse:collapse;width:100%;font-size:0.85rem}"
    ".gm-table th{position:sticky;top:0;background:#f0f2f6;text-align:left;padding:4px 8px;"
    "white-space:nowrap;border-bottom:1px solid #ccc}"
    ".gm-table td{padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top;"
    "white-space:nowrap}"
    ".gm-table td.n{text-align:right}"
    ".gm-table td.w{white-space:normal;min-width:18em}"
    ".gm-table tr.f{background:#fdecea}"
)


def table_html(
    frame,
    *,
    decimals: dict[str, int | tuple[int, int]],
    flags: Sequence[str] = (),
    wrap: Sequence[str] = (),
    highlight: str | None = None,
    max_height_px: int = 380,
) -> str:
    """``frame`` as an HTML table in a scroll box with a header that stays in view.

    Why not ``st.dataframe``: its grid's JavaScript (about 1.3 MB with Arrow's formatting)
    is parsed while the map waits to be drawn; on a new session's first page the table cost
    0.45 s of the first map (``benchmarks/app_browser.py``). Columns in ``decimals`` are
    numbers shown with that many decimals, or ``(fewest, most)``: as many as the value has
    within those (a distance rounded to agree with its flag, 3.004, keeps its digits);
    ``flags`` are booleans shown as a tick; ``wrap`` columns wrap their text (the others stay
    on one line); rows where ``highlight`` is true are tinted (class ``f``). Each number and
    flag cell (class ``n``) carries its value in ``data-v`` (``"1"``/``"0"``, or the number as
    Python writes it; empty when missing) for scripts and tests. Every text is escaped.
    """
    esc = html.escape
    cols = [str(c) for c in frame.columns]
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    marks = frame[highlight].tolist() if highlight is not None else [False] * len(frame)
    columns = [frame[c].tolist() for c in frame.columns]
    body = []
    for i, mark in enumerate(marks):
        cells = []
        for name, values in zip(cols, columns, strict=True):
            value = values[i]
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            if name in decimals or name in flags:
                if missing:
                    raw, text = "", ""
                elif name in flags:
                    raw, text = ("1", "✔") if bool(value) else ("0", "")
                else:
                    raw, text = repr(float(value)), _number(float(value), decimals[name])
                cells.append(f'<td class="n" data-v="{raw}">{text}</td>')
            else:
                wraps = ' class="w"' if name in wrap else ""
                cells.append(f"<td{wraps}>{'' if missing else esc(str(value))}</td>")
        row = '<tr class="f">' if bool(mark) else "<tr>"
        body.append(row + "".join(cells) + "</tr>")
    return (
        f"<style>{_TABLE_CSS}</style>"
        f'<div class="gm-table-wrap" style="max-height:{int(max_height_px)}px;overflow:auto;'
        'width:100%;border:1px solid #ddd;border-radius:4px;">'
        f'<table class="gm-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _number(value: float, spec: int | tuple[int, int]) -> str:
    """``value`` with ``spec`` decimals, or ``(fewest, most)``: trailing zeros dropped down to
    the fewest."""
    if isinstance(spec, int):
        return f"{value:.{spec}f}"
    fewest, most = spec
    text = f"{value:.{most}f}"
    while most > fewest and text.endswith("0"):
        text, most = text[:-1], most - 1
    return text
