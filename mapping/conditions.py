"""Road conditions: closures and slow-downs under named conditions (冬季积雪, 雨季 ...).

A condition is a set of features of the closures layer (:mod:`layers.tracks`) with the same
``condition`` name. :func:`apply_conditions` turns some or all of them into a routing network
for one travel mode; :func:`apply_conditions_to_analysis` gives the analysis under them without
a rebuild (:mod:`mapping.roadupdate`); :func:`compare_conditions` puts the conditions side by
side ("in winter 3 more villages are beyond 5 km of a kindergarten").

Which road segments a feature affects (measured in the network's CRS, metres):

* an **area** (polygon) affects every segment it touches (crosses, contains or meets);
* a **line** affects the segments it runs along: at least half of the segment lies within
  ``join_m`` of the line, and the segment's direction is within 45 degrees of the line's
  there (a closure drawn along a road does not close the side roads it passes);
* a feature without ``speed_kmh`` **closes** the segments (they are removed from the
  network); with ``speed_kmh`` it **slows** them to at most that speed (travel times only:
  distances do not change). Closed wins over slowed.

Cut-off villages: the network under a condition keeps the connected pieces of the open
network (:func:`mapping.roadupdate.patch_network` with ``keep_components=True``), so a village
whose road is cut off by a closure still snaps to its own road and comes out of the existing
analysis with reason ``not_connected``; :func:`mark_cut_off` rewrites its reason sentence to
name the condition. A village whose own road is closed snaps to the nearest open road.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
from layers.errors import SettingsError
from layers.schema import WGS84, Note, check_columns
from layers.tracks import CLOSURE_DTYPES
from mapping.access import REASON_NOT_CONNECTED
from mapping.analysis import Analysis
from mapping.community import JOIN_M
from mapping.network import RoadNetwork
from mapping.roadupdate import RoadChange, patch_network, update_analysis

#: A line closes a segment when at least this share of the segment lies within the join
#: distance of it ...
ALONG_SHARE = 0.5
#: ... and the segment turns at most this much (degrees) from the line's direction there.
ALONG_ANGLE_DEG = 45.0

i18n.register(
    {
        "error.conditions.unknown": {
            "zh": "没有名为“{name}”的路况。已有的路况：{names}。",
            "en": "There is no road condition named '{name}'. Conditions: {names}.",
        },
        "warning.conditions.touches_nothing": {
            "zh": "{count} 个封路要素没有碰到当前出行方式可走的任何道路，没有起作用：{features}。"
            "请检查它们画的位置。",
            "en": "{count} closure feature(s) touch no road usable in this travel mode and "
            "change nothing: {features}. Check where they are drawn.",
        },
        "condition.cut_off": {
            "zh": "{village}：{condition}封路后，沿道路无法到达任何{kind}；"
            "直线距离最近的{kind}在 {km} 公里外。",
            "en": "{village}: cut off by the closures of {condition}: no {kind} can be "
            "reached by road; the nearest one in a straight line is {km} km away.",
        },
        "condition.summary": {
            "zh": "{condition}：{count} 个村庄到{kind}超过 {limit} 公里，比平时多 {more} 个"
            "（其中 {cut} 个无法沿道路到达）。",
            "en": "{condition}: {count} villages are beyond {limit} km of a {kind}, {more} more "
            "than usual ({cut} of them cut off).",
        },
        "condition.open": {"zh": "平时（无封路）", "en": "usual (no closures)"},
    }
)


@dataclass(frozen=True, eq=False)
class ConditionNetwork:
    """A network under road conditions, and what they did to it.

    Attributes
    ----------
    network
        The network with closed segments removed and slowed ones retimed (connected pieces
        of the open network kept).
    change
        How it relates to the open network (for :func:`mapping.roadupdate.update_analysis`).
    conditions
        The names of the conditions applied.
    closed, slowed
        Segment indices of the *open* network that were closed / slowed.
    segments
        The affected segments for maps: ``condition``, ``closure_id``, ``effect``
        (``closed`` or ``slowed``), ``speed_kmh``; LineStrings, EPSG:4326.
    notes
        Warnings (features that touch no road).
    """

    network: RoadNetwork
    change: RoadChange
    conditions: tuple[str, ...]
    closed: np.ndarray
    slowed: np.ndarray
    notes: tuple[Note, ...] = ()
    _draw: Callable[[], gpd.GeoDataFrame] | None = field(default=None, repr=False)

    @functools.cached_property
    def segments(self) -> gpd.GeoDataFrame:
        """The affected segments for maps (made when first asked for)."""
        return self._draw()


def condition_names(closures: gpd.GeoDataFrame) -> list[str]:
    """The conditions in a closures layer, in the order they first appear."""
    return list(dict.fromkeys(closures["condition"].astype(str)))


def select_conditions(
    closures: gpd.GeoDataFrame, condition: str | list[str] | None
) -> gpd.GeoDataFrame:
    """The features of the named condition(s) (``None``: all).

    Raises
    ------
    SettingsError
        ``error.conditions.unknown`` for a name the layer does not have.
    """
    if condition is None:
        return closures
    names = [condition] if isinstance(condition, str) else list(condition)
    known = condition_names(closures)
    for name in names:
        if name not in known:
            raise SettingsError(
                "error.conditions.unknown", name=name, names=", ".join(known) or "-"
            )
    return closures[closures["condition"].isin(names)]


def match_closures(
    net: RoadNetwork, closures: gpd.GeoDataFrame, join_m: float = JOIN_M
) -> tuple[np.ndarray, np.ndarray]:
    """Which segments of ``net`` each feature affects (rules in the module docstring).

    Returns
    -------
    (feature, segment)
        Pairs: the position of the feature in ``closures`` and the segment index.
    """
    empty = np.array([], dtype=np.int64)
    if len(closures) == 0 or net.n_segments == 0:
        return empty, empty
    # the network's own (cached) transformer: GeoSeries.to_crs makes a new one each time
    geoms = shapely.transform(
        closures.geometry.to_numpy(),
        lambda xy: np.column_stack(net.to_projected(xy[:, 0], xy[:, 1])),
    )
    ax, ay, bx, by = net.segment_ends()
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    pad = join_m + 1.0
    near = (np.maximum(ax, bx) >= x0 - pad) & (np.minimum(ax, bx) <= x1 + pad)
    near &= (np.maximum(ay, by) >= y0 - pad) & (np.minimum(ay, by) <= y1 + pad)
    cand = np.flatnonzero(near)
    if len(cand) == 0:
        return empty, empty
    segs = shapely.linestrings(
        np.stack(
            [np.column_stack([ax[cand], ay[cand]]), np.column_stack([bx[cand], by[cand]])],
            axis=1,
        )
    )
    tree = shapely.STRtree(segs)
    is_area = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    feats, hits = [], []
    if is_area.any():
        fi, sj = tree.query(geoms[is_area], predicate="intersects")
        feats.append(np.flatnonzero(is_area)[fi])
        hits.append(cand[sj])
    if (~is_area).any():
        lines = geoms[~is_area]
        zones = shapely.buffer(lines, join_m)
        fi, sj = tree.query(zones, predicate="intersects")
        seg_geom = segs[sj]
        inside = shapely.length(shapely.intersection(seg_geom, zones[fi]))
        length = shapely.length(seg_geom)
        with np.errstate(invalid="ignore", divide="ignore"):
            share_ok = inside >= ALONG_SHARE * length - 1e-9
        # direction of the line near the segment's middle
        mid = shapely.line_interpolate_point(seg_geom, 0.5, normalized=True)
        line = lines[fi]
        at = shapely.line_locate_point(line, mid)
        total = shapely.length(line)
        p0 = shapely.line_interpolate_point(line, np.clip(at - 1.0, 0, total))
        p1 = shapely.line_interpolate_point(line, np.clip(at + 1.0, 0, total))
        lx, ly = shapely.get_x(p1) - shapely.get_x(p0), shapely.get_y(p1) - shapely.get_y(p0)
        s = cand[sj]
        sx, sy = bx[s] - ax[s], by[s] - ay[s]
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.abs(lx * sx + ly * sy) / (np.hypot(lx, ly) * np.hypot(sx, sy))
        angle_ok = np.nan_to_num(cos, nan=1.0) >= np.cos(np.radians(ALONG_ANGLE_DEG)) - 1e-12
        ok = share_ok & angle_ok
        feats.append(np.flatnonzero(~is_area)[fi[ok]])
        hits.append(s[ok])
    f = np.concatenate(feats).astype(np.int64)
    h = np.concatenate(hits).astype(np.int64)
    order = np.lexsort((h, f))
    return f[order], h[order]


def apply_conditions(
    net: RoadNetwork,
    closures: gpd.GeoDataFrame,
    condition: str | list[str] | None = None,
    *,
    join_m: float = JOIN_M,
) -> ConditionNetwork:
    """The network under the named condition(s): closed segments removed, slowed retimed.

    Parameters
    ----------
    net
        The open network of one travel mode (from :func:`mapping.network.build_network`,
        the cache, or with community roads joined).
    closures
        The closures layer (:mod:`layers.tracks`), EPSG:4326.
    condition
        A condition's name, several, or ``None`` for all of them together.
    join_m
        How near a line must run along a segment to close it (m).

    Returns
    -------
    ConditionNetwork
    """
    check_columns(closures, CLOSURE_DTYPES, "closures")  # the contract, without a copy
    chosen = select_conditions(closures, condition)
    names = tuple(condition_names(chosen))
    feat, seg = match_closures(net, chosen, join_m)
    speed = chosen["speed_kmh"].to_numpy(dtype=float)
    closing = np.isnan(speed[feat])
    closed = np.unique(seg[closing])
    slow = ~closing & ~np.isin(seg, closed)
    slowed_segs, slowed_kmh = seg[slow], speed[feat[slow]]
    # several slow-downs on one segment: the slowest
    order = np.lexsort((slowed_kmh, slowed_segs))
    slowed_segs, slowed_kmh = slowed_segs[order], slowed_kmh[order]
    first = np.concatenate([[True], slowed_segs[1:] != slowed_segs[:-1]]) if len(order) else []
    slowed_segs, slowed_kmh = slowed_segs[first], slowed_kmh[first]
    secs = np.maximum(net.seg_time_s[slowed_segs], net.seg_len_m[slowed_segs] / (slowed_kmh / 3.6))

    notes = []
    idle = np.setdiff1d(np.arange(len(chosen)), feat)
    if len(idle):
        rows = chosen.iloc[idle]
        items = [
            f"{src} #{row} ({cond})"
            for src, row, cond in zip(
                rows["source"], rows["source_row"], rows["condition"], strict=True
            )
        ]
        notes.append(
            Note(
                "warning.conditions.touches_nothing",
                {
                    "count": len(items),
                    "features": ", ".join(items[:5]) + (", ..." if len(items) > 5 else ""),
                },
            )
        )

    new_net, change = patch_network(
        net, remove=closed, retime_s=(slowed_segs, secs), keep_components=True
    )
    return ConditionNetwork(
        network=new_net,
        change=change,
        conditions=names,
        closed=closed,
        slowed=slowed_segs,
        notes=tuple(notes),
        _draw=lambda: _affected_segments(net, chosen, feat, seg, closing),
    )


def _affected_segments(net, chosen, feat, seg, closing) -> gpd.GeoDataFrame:
    """One row per (feature, segment) it affects, lon/lat lines for maps."""
    lon_u, lat_u = net.to_lonlat(net.x[net.seg_u[seg]], net.y[net.seg_u[seg]])
    lon_v, lat_v = net.to_lonlat(net.x[net.seg_v[seg]], net.y[net.seg_v[seg]])
    coords = np.stack([np.column_stack([lon_u, lat_u]), np.column_stack([lon_v, lat_v])], axis=1)
    geoms = shapely.linestrings(coords) if len(seg) else np.array([], dtype=object)
    return gpd.GeoDataFrame(
        {
            "condition": pd.array(chosen["condition"].to_numpy()[feat], dtype="str"),
            "closure_id": pd.array(chosen.index.to_numpy()[feat], dtype="str"),
            "effect": pd.array(np.where(closing, "closed", "slowed"), dtype="str"),
            "speed_kmh": chosen["speed_kmh"].to_numpy(dtype=float)[feat],
        },
        geometry=geoms,
        crs=WGS84,
    )


def apply_conditions_to_analysis(
    analysis: Analysis,
    closures: gpd.GeoDataFrame,
    condition: str | list[str] | None = None,
    *,
    join_m: float = JOIN_M,
) -> tuple[Analysis, ConditionNetwork]:
    """The analysis under the condition(s), updated rather than redone, cut-offs named.

    ``analysis`` must be of the open network (no conditions applied). The result equals
    :func:`mapping.analysis.run_analysis` with ``network=apply_conditions(...).network``,
    with the reason sentences of cut-off villages rewritten by :func:`mark_cut_off`.
    """
    effect = apply_conditions(analysis.network, closures, condition, join_m=join_m)
    updated = update_analysis(analysis, effect.network, effect.change)
    return mark_cut_off(updated, effect.conditions), effect


def mark_cut_off(analysis: Analysis, conditions: tuple[str, ...] | list[str]) -> Analysis:
    """The analysis with the reasons of villages cut off by closures naming the condition.

    A village is cut off when it has no road to any service of a kind (``not_connected``)
    although its road is in the main piece of the open network: the conditions'
    closures cut it off. Adds ``cut_off_<kind>`` (bool) and rewrites ``reason_<kind>_zh``/
    ``_en`` of those villages; ``unreachable_<kind>`` stays ``not_connected``.
    """
    net = analysis.network
    vil = analysis.villages.copy(deep=False)  # columns are replaced, never changed in place
    snap = analysis.vil_snap
    in_main = net.component[net.seg_u[snap.seg]] == net.main_component if len(snap) else []
    label = {lang: _names_text(conditions, lang) for lang in ("zh", "en")}
    for kind in analysis.access:
        cut = np.array((vil[f"unreachable_{kind}"] == REASON_NOT_CONNECTED).fillna(False), bool)
        cut &= np.asarray(in_main, dtype=bool) & bool(conditions)
        vil[f"cut_off_{kind}"] = cut
        if not cut.any():
            continue
        rows = vil.loc[cut]
        for lang in ("zh", "en"):
            col = f"reason_{kind}_{lang}"
            values = vil[col].to_numpy(dtype=object, copy=True)
            values[cut] = [
                explain_cut_off(name, kind, straight, label[lang], lang)
                for name, straight in zip(
                    rows["village_name"], rows[f"straight_{kind}_m"], strict=True
                )
            ]
            vil[col] = pd.array(values, dtype=vil[col].dtype)
    return replace(analysis, villages=vil)


def explain_cut_off(village: str, kind: str, straight_m: float, condition: str, lang: str) -> str:
    """The reason sentence of a village cut off by the closures of ``condition``.

    For :func:`mapping.gaps.explain_gap` to use when a village's row has ``cut_off_<kind>``.
    """
    return i18n.t(
        "condition.cut_off",
        lang,
        village=village,
        condition=condition,
        kind=i18n.t(f"kind.{kind}", lang),
        km=f"{straight_m / 1000:.1f}" if pd.notna(straight_m) else "?",
    )


def _names_text(names, lang) -> str:
    return ("、" if lang == "zh" else ", ").join(str(n) for n in names)


# --------------------------------------------------------------------------------------------
# side by side


@dataclass(frozen=True, eq=False)
class ConditionComparison:
    """Villages under each condition, side by side.

    Attributes
    ----------
    villages
        One row per village: ``village_id``, ``village_name`` and, per kind and per
        condition (the open network first, named ``""``): ``dist_<kind>_m|<condition>``,
        ``flag_<kind>|<condition>``, ``cut_off_<kind>|<condition>``.
    summary
        One row per condition and kind: ``condition``, ``kind``, ``limit_m``,
        ``n_flagged``, ``n_more`` (flagged under the condition, not usually), ``n_cut_off``,
        ``sentence_zh``, ``sentence_en``.
    analyses
        The analysis under each condition (``""``: open).
    """

    villages: pd.DataFrame
    summary: pd.DataFrame
    analyses: dict[str, Analysis]


def compare_conditions(
    analysis: Analysis,
    closures: gpd.GeoDataFrame,
    conditions: list[str] | None = None,
    *,
    join_m: float = JOIN_M,
) -> ConditionComparison:
    """The villages flagged under each condition, beside the usual (open) network.

    Parameters
    ----------
    analysis
        The analysis of the open network.
    closures
        The closures layer.
    conditions
        The conditions to compare (default: every condition in the layer, each alone).
    """
    names = conditions if conditions is not None else condition_names(closures)
    analyses = {"": analysis}
    for name in names:
        analyses[name], _ = apply_conditions_to_analysis(analysis, closures, name, join_m=join_m)
    base = analysis.villages
    table = pd.DataFrame(
        {"village_id": base["village_id"], "village_name": base["village_name"]}, index=base.index
    )
    rows = []
    for kind in analysis.access:
        limit = analysis.settings.threshold_m(kind)
        open_flag = base[f"flag_{kind}"].to_numpy(bool)
        for name, a in analyses.items():
            v = a.villages.reindex(base.index)
            table[f"dist_{kind}_m|{name}"] = v[f"dist_{kind}_m"]
            flag = v[f"flag_{kind}"].to_numpy(bool)
            table[f"flag_{kind}|{name}"] = flag
            cut = (
                v[f"cut_off_{kind}"].to_numpy(bool)
                if f"cut_off_{kind}" in v
                else np.zeros(len(v), bool)
            )
            table[f"cut_off_{kind}|{name}"] = cut
            if name == "":
                continue
            n_flag, n_more, n_cut = int(flag.sum()), int((flag & ~open_flag).sum()), int(cut.sum())
            sentences = {
                lang: i18n.t(
                    "condition.summary",
                    lang,
                    condition=name,
                    count=n_flag,
                    kind=i18n.t(f"kind.{kind}", lang),
                    limit=f"{limit / 1000:g}",
                    more=n_more,
                    cut=n_cut,
                )
                for lang in ("zh", "en")
            }
            rows.append(
                {
                    "condition": name,
                    "kind": kind,
                    "limit_m": limit,
                    "n_flagged": n_flag,
                    "n_more": n_more,
                    "n_cut_off": n_cut,
                    "sentence_zh": sentences["zh"],
                    "sentence_en": sentences["en"],
                }
            )
    summary = pd.DataFrame(
        rows,
        columns=[
            "condition",
            "kind",
            "limit_m",
            "n_flagged",
            "n_more",
            "n_cut_off",
            "sentence_zh",
            "sentence_en",
        ],
    )
    return ConditionComparison(villages=table, summary=summary, analyses=analyses)
