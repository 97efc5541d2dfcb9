"""Data health: where the road data fails the people measured, and where to record a track.

:func:`compute_health` reads an :class:`~mapping.analysis.Analysis` and lists, one row per
finding (for ``health.csv`` and the app's panel):

``long_offroad``
    A household, village or service more than ``offroad_limit_m`` (500 m by default) from
    the road it was measured from: that leg is walked in a straight line, and a missing
    track is the usual reason.
``small_piece``
    A point whose nearest road is a small piece of road not connected to the rest (a track
    mapped without its link): it was measured from a farther road of the main network
    (``snap_to="largest"``) or cannot reach anything (``snap_to="any"``).
``service_unreachable``
    A service that no household or village can reach by road.
``map_this_road``
    The villages where a community road would change the answer most, ranked by
    ``score`` = the metres recorded tracks could save, summed over the village's households:
    each household's off-road leg plus the village's road distance beyond :data:`CIRCUITY`
    x the straight line to the nearest service of the kind (a village with no road to any
    service: the straight line; a village without households counts its own point once).
    This is where a workshop sends someone with a phone to record a track.

Columns: ``issue``, ``layer`` (``household``/``village``/``service``), ``id``, ``name``,
``village_name``, ``kind`` (service kind, for services and suggestions), ``households``,
``offroad_m``, ``value_m`` (the off-road leg; the distance to the small piece; the metres a
track could save), ``score`` (suggestions), ``rank`` (suggestions, from 1), ``detail_zh``,
``detail_en``; geometry: the point, EPSG:4326. Household rows carry their positions: exports
must go through the privacy mode like any household layer.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from layers import i18n
from layers.schema import WGS84
from mapping.access import REASON_NOT_CONNECTED
from mapping.analysis import Analysis
from mapping.network import snap_points
from mapping.routing import entry_arcs

#: Off-road legs longer than this (m) are listed.
OFFROAD_LIMIT_M = 500.0
#: Roads are rarely straight: a route 1.3 times the straight line is ordinary in open
#: country (road-network circuity factors of 1.2-1.4 are typical, e.g. Ballou et al., 2002,
#: "Selected country circuity factors for road travel distance estimation"). Only the part
#: beyond it counts as what a new track could save.
CIRCUITY = 1.3
#: A suggestion must save at least this much (m).
MIN_GAIN_M = 200.0
#: How many suggestions are listed.
TOP_SUGGESTIONS = 10

ISSUES = ("map_this_road", "long_offroad", "small_piece", "service_unreachable")

COLUMNS = [
    "issue",
    "layer",
    "id",
    "name",
    "village_name",
    "kind",
    "households",
    "offroad_m",
    "value_m",
    "score",
    "rank",
    "detail_zh",
    "detail_en",
]

i18n.register(
    {
        "health.long_offroad": {
            "zh": "{name}：离最近的道路 {m} 米，这段按步行直线计算。这里是否少了一条路？"
            "请去记录一条轨迹。",
            "en": "{name}: {m} m from the nearest road, walked in a straight line. Is a track "
            "missing here? Record it.",
        },
        "health.small_piece": {
            "zh": "{name}：最近的道路（{near} 米）是一段没有和其他道路连通的小路（{nodes} 个节点），"
            "所以按 {snap} 米外的道路计算。请把连通这段小路的道路补上。",
            "en": "{name}: the nearest road ({near} m away) is a small piece of road ({nodes} "
            "nodes) not connected to the rest, so the point was measured from a road {snap} m "
            "away. Add the road that links that piece.",
        },
        "health.small_piece_any": {
            "zh": "{name}：所在的道路是一段没有和其他道路连通的小路（{nodes} 个节点），"
            "沿道路到不了别处。请把连通这段小路的道路补上。",
            "en": "{name}: its road is a small piece of road ({nodes} nodes) not connected to "
            "the rest: nothing can be reached from it by road. Add the road that links it.",
        },
        "health.service_unreachable": {
            "zh": "{name}（{kind}）：没有任何农户或村庄能沿道路到达。请检查它的位置和周围的道路。",
            "en": "{name} ({kind}): no household or village can reach it by road. Check its "
            "position and the roads around it.",
        },
        "health.map_this_road": {
            "zh": "{name}：{n} 户，平均离路 {off} 米（按步行直线计算）；到最近的{kind}沿道路 "
            "{road} 公里，直线 {line} 公里。在这里记录轨迹，每户最多可缩短约 {gain} 公里。",
            "en": "{name}: {n} households, {off} m off the road on average (walked in a "
            "straight line); the nearest {kind} is {road} km by road, {line} km in a straight "
            "line. Tracks recorded here could save up to about {gain} km per household.",
        },
        "health.map_this_road_cut": {
            "zh": "{name}：{n} 户，平均离路 {off} 米；沿道路到不了任何{kind}，直线最近的在 "
            "{line} 公里外。请记录把它连上路网的那条路。",
            "en": "{name}: {n} households, {off} m off the road on average; no {kind} can be "
            "reached by road, the nearest is {line} km away in a straight line. Record the "
            "road that links it.",
        },
    }
)


def compute_health(
    analysis: Analysis,
    *,
    offroad_limit_m: float = OFFROAD_LIMIT_M,
    top_n: int = TOP_SUGGESTIONS,
    households: bool = True,
) -> gpd.GeoDataFrame:
    """The data health table of an analysis (see the module docstring).

    Parameters
    ----------
    analysis
        An analysis (:func:`mapping.analysis.run_analysis`).
    offroad_limit_m
        Off-road legs longer than this are listed (m).
    top_n
        How many "map this road" suggestions.
    households
        Also list households (their rows carry positions).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per finding, suggestions first (by rank), then the other issues by size.
    """
    frames = [_suggestions(analysis, top_n)]
    pts = _points(analysis, households)
    long = pts[pts["offroad_m"] > offroad_limit_m]
    frames.append(
        _rows(
            long,
            "long_offroad",
            long["offroad_m"],
            [
                {
                    lang: i18n.t("health.long_offroad", lang, name=n, m=f"{m:.0f}")
                    for lang in ("zh", "en")
                }
                for n, m in zip(long["label"], long["offroad_m"], strict=True)
            ],
        )
    )
    frames.append(_small_pieces(analysis, pts))
    frames.append(_unreachable_services(analysis))
    found = [f for f in frames if len(f)]
    out = pd.concat(found, ignore_index=True) if found else _empty()
    out = out.sort_values(
        ["issue", "rank", "value_m"],
        key=lambda s: s.map(ISSUES.index) if s.name == "issue" else s,
        ascending=[True, True, False],
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)
    return gpd.GeoDataFrame(out[[*COLUMNS, "geometry"]], geometry="geometry", crs=WGS84)


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    out["geometry"] = gpd.GeoSeries([], crs=WGS84)
    return out


def _points(analysis: Analysis, households: bool) -> pd.DataFrame:
    """Households, villages and services with their snap and off-road leg, one frame."""
    parts = []
    vil = analysis.villages
    parts.append(
        pd.DataFrame(
            {
                "layer": "village",
                "id": vil.index.astype(str),
                "name": vil["village_name"].astype(object),
                "village_name": vil["village_name"].astype(object),
                "kind": None,
                "households": vil["n_households"].to_numpy(),
                "offroad_m": analysis.vil_snap.offroad_m,
                "seg": analysis.vil_snap.seg,
                "geometry": vil.geometry.to_numpy(),
            }
        )
    )
    if households and len(analysis.households):
        hh = analysis.households
        parts.append(
            pd.DataFrame(
                {
                    "layer": "household",
                    "id": hh.index.astype(str),
                    "name": hh.index.astype(str),
                    "village_name": hh["village_name"].astype(object),
                    "kind": None,
                    "households": 1,
                    "offroad_m": analysis.hh_snap.offroad_m,
                    "seg": analysis.hh_snap.seg,
                    "geometry": hh.geometry.to_numpy(),
                }
            )
        )
    for kind, acc in analysis.access.items():
        svc = acc.services
        if len(svc) == 0:
            continue
        snap = acc.dist.svc_snap
        parts.append(
            pd.DataFrame(
                {
                    "layer": "service",
                    "id": svc.index.astype(str),
                    "name": svc["name"].astype(object),
                    "village_name": None,
                    "kind": kind,
                    "households": np.nan,
                    "offroad_m": snap.offroad_m,
                    "seg": snap.seg,
                    "geometry": svc.geometry.to_numpy(),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["label"] = [
        f"{n}" if layer != "household" else f"{n} ({v})" if isinstance(v, str) else f"{n}"
        for n, v, layer in zip(out["name"], out["village_name"], out["layer"], strict=True)
    ]
    return out


def _rows(frame: pd.DataFrame, issue: str, value, texts, score=None, rank=None) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "issue": issue,
            "layer": frame["layer"].to_numpy(),
            "id": frame["id"].to_numpy(),
            "name": frame["name"].to_numpy(),
            "village_name": frame["village_name"].to_numpy(),
            "kind": frame["kind"].to_numpy(),
            "households": frame["households"].to_numpy(dtype=float),
            "offroad_m": frame["offroad_m"].to_numpy(dtype=float),
            "value_m": np.asarray(value, dtype=float),
            "score": np.nan if score is None else np.asarray(score, dtype=float),
            "rank": np.nan if rank is None else np.asarray(rank, dtype=float),
            "detail_zh": [t["zh"] for t in texts],
            "detail_en": [t["en"] for t in texts],
            "geometry": frame["geometry"].to_numpy(),
        }
    )
    return out


def _small_pieces(analysis: Analysis, pts: pd.DataFrame) -> pd.DataFrame:
    """Points whose nearest road is a piece not connected to the main network."""
    net = analysis.network
    sizes = np.bincount(net.component, minlength=int(net.component.max(initial=0)) + 1)
    if analysis.settings.snap_to == "any":
        piece = net.component[net.seg_u[pts["seg"].to_numpy()]]
        hit = piece != net.main_component
        sel = pts[hit]
        nodes = sizes[piece[hit]]
        texts = [
            {
                lang: i18n.t("health.small_piece_any", lang, name=n, nodes=int(k))
                for lang in ("zh", "en")
            }
            for n, k in zip(sel["label"], nodes, strict=True)
        ]
        return _rows(sel, "small_piece", np.zeros(len(sel)), texts)
    geoms = gpd.GeoSeries(pts["geometry"].to_numpy(), crs=WGS84)
    x, y = net.project_points(gpd.GeoDataFrame(geometry=geoms))
    near = snap_points(net, x, y, snap_to="any")
    piece = net.component[net.seg_u[near.seg]]
    hit = (piece != net.main_component) & (near.offroad_m < pts["offroad_m"].to_numpy() - 1e-6)
    sel = pts[hit]
    texts = [
        {
            lang: i18n.t(
                "health.small_piece",
                lang,
                name=n,
                near=f"{a:.0f}",
                nodes=int(k),
                snap=f"{b:.0f}",
            )
            for lang in ("zh", "en")
        }
        for n, a, k, b in zip(
            sel["label"], near.offroad_m[hit], sizes[piece[hit]], sel["offroad_m"], strict=True
        )
    ]
    return _rows(sel, "small_piece", near.offroad_m[hit], texts)


def _unreachable_services(analysis: Analysis) -> pd.DataFrame:
    """Services that no household or village can reach by road."""
    net = analysis.network
    snaps = [analysis.vil_snap, analysis.hh_snap]
    starts = []
    for snap in snaps:
        if len(snap) == 0:
            continue
        to_u, to_v = snap.exit_costs(net, "len")
        starts.append(net.seg_u[snap.seg][np.isfinite(to_u)])
        starts.append(net.seg_v[snap.seg][np.isfinite(to_v)])
    if not starts:
        return _empty().iloc[0:0]
    start = np.unique(np.concatenate(starts))
    if len(start) == 0:
        return _empty().iloc[0:0]
    reach = np.isfinite(dijkstra(net.graph_len, directed=True, indices=start, min_only=True))
    on_seg = np.zeros(net.n_segments, dtype=bool)
    for snap in snaps:
        on_seg[snap.seg] = True
    rows = []
    for kind, acc in analysis.access.items():
        svc = acc.services
        if len(svc) == 0:
            continue
        snap = acc.dist.svc_snap
        s_idx, s_node, _ = entry_arcs(net, snap, np.zeros(len(snap)), "len")
        ok = np.zeros(len(svc), dtype=bool)
        ok[s_idx[reach[s_node]]] = True
        ok |= on_seg[snap.seg]  # a point on the service's own segment reaches it along it
        for i in np.flatnonzero(~ok):
            rows.append((kind, i))
    if not rows:
        return _empty().iloc[0:0]
    pts = _points(analysis, households=False)
    svc_pts = pts[pts["layer"] == "service"].set_index(["kind", "id"])
    sel = []
    texts = []
    for kind, i in rows:
        sid = str(analysis.access[kind].services.index[i])
        rec = svc_pts.loc[(kind, sid)]
        sel.append({**rec.to_dict(), "kind": kind, "id": sid})
        texts.append(
            {
                lang: i18n.t(
                    "health.service_unreachable",
                    lang,
                    name=rec["name"],
                    kind=i18n.t(f"kind.{kind}", lang),
                )
                for lang in ("zh", "en")
            }
        )
    frame = pd.DataFrame(sel)
    return _rows(frame, "service_unreachable", frame["offroad_m"], texts)


def _suggestions(analysis: Analysis, top_n: int) -> pd.DataFrame:
    """Villages ranked by what recorded tracks could save their households (m x households).

    Per household: its off-road leg plus the village's road distance beyond
    :data:`CIRCUITY` x the straight line to the nearest service (the kind where that is
    largest); a village without households counts its own point once.
    """
    vil = analysis.villages
    if len(vil) == 0 or not analysis.access:
        return _empty().iloc[0:0]
    n_hh = vil["n_households"].to_numpy(dtype=float)
    weight = np.maximum(n_hh, 1.0)
    hh = analysis.households
    mean_off = (
        pd.Series(analysis.hh_snap.offroad_m, index=hh.index)
        .groupby(hh["village_id"].to_numpy())
        .mean()
        .reindex(vil.index)
        .to_numpy(dtype=float)
        if len(hh)
        else np.full(len(vil), np.nan)
    )
    off = np.where(n_hh > 0, mean_off, analysis.vil_snap.offroad_m)
    off = np.nan_to_num(off, nan=0.0)
    best_gain = np.full(len(vil), -np.inf)
    best_kind = np.full(len(vil), "", dtype=object)
    for kind in analysis.access:
        dist = vil[f"dist_{kind}_m"].to_numpy(dtype=float)
        line = vil[f"straight_{kind}_m"].to_numpy(dtype=float)
        cut = (vil[f"unreachable_{kind}"] == REASON_NOT_CONNECTED).fillna(False).to_numpy(bool)
        with np.errstate(invalid="ignore"):
            gain = np.where(cut, line, off + np.maximum(0.0, dist - CIRCUITY * line))
        gain = np.where(np.isfinite(gain), gain, -np.inf)
        better = gain > best_gain
        best_gain = np.where(better, gain, best_gain)
        best_kind = np.where(better, kind, best_kind)
    score = best_gain * weight
    keep = score >= MIN_GAIN_M
    order = np.argsort(-np.where(keep, score, -np.inf), kind="stable")
    order = order[keep[order]][:top_n]
    if len(order) == 0:
        return _empty().iloc[0:0]
    sub = vil.iloc[order]
    texts = []
    for pos, (_, row) in zip(order, sub.iterrows(), strict=True):
        kind = best_kind[pos]
        cut = row[f"unreachable_{kind}"] == REASON_NOT_CONNECTED
        params = {
            "name": row["village_name"],
            "n": int(row["n_households"]),
            "line": f"{row[f'straight_{kind}_m'] / 1000:.1f}",
            "off": f"{off[pos]:.0f}",
        }
        if not cut:
            params["road"] = f"{row[f'dist_{kind}_m'] / 1000:.1f}"
            params["gain"] = f"{best_gain[pos] / 1000:.1f}"
        key = "health.map_this_road_cut" if cut else "health.map_this_road"
        texts.append(
            {
                lang: i18n.t(key, lang, **params, kind=i18n.t(f"kind.{kind}", lang))
                for lang in ("zh", "en")
            }
        )
    frame = pd.DataFrame(
        {
            "layer": "village",
            "id": sub.index.astype(str),
            "name": sub["village_name"].astype(object).to_numpy(),
            "village_name": sub["village_name"].astype(object).to_numpy(),
            "kind": best_kind[order],
            "households": sub["n_households"].to_numpy(),
            "offroad_m": off[order],
            "geometry": sub.geometry.to_numpy(),
        }
    )
    return _rows(
        frame,
        "map_this_road",
        best_gain[order],
        texts,
        score=score[order],
        rank=np.arange(1, len(order) + 1),
    )
