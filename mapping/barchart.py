"""The app's "farthest villages" chart as plain HTML: horizontal bars and a threshold line.

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
