"""Households to villages, and the per-village service gaps with a sentence that says why.

A village has a *gap* for a service kind (``flag_<kind>``) when the road distance from the
village point to the nearest service of that kind is beyond the kind's threshold, or when no
such service can be reached at all. Household figures (median, maximum, count and share beyond
the threshold) stand beside the flag; when some households are beyond the threshold although
the village point is not, ``warn_<kind>`` is raised instead.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy.spatial import cKDTree

from layers import i18n
from mapping.settings import AnalysisSettings

#: How a household was placed in a village (values of ``village_rule``).
RULE_AREA = "area"  # inside the village's boundary
RULE_NAMED = "named"  # outside every boundary, but its file names a known village
RULE_NEAREST = "nearest"  # the nearest village point

i18n.register(
    {
        "kind.kindergarten": {"zh": "幼儿园", "en": "kindergarten"},
        "kind.school": {"zh": "学校", "en": "school"},
        "kind.childcare": {"zh": "托育机构", "en": "childcare centre"},
        "rule.area": {"zh": "位于村界内", "en": "inside the village boundary"},
        "rule.named": {"zh": "按表格所填村名", "en": "by the village named in the file"},
        "rule.nearest": {"zh": "距村点最近", "en": "nearest village point"},
        "gap.flag": {
            "zh": "{village}：最近的{kind}（{service}）沿道路 {km} 公里，超过 {limit} 公里的标准。",
            "en": "{village}: the nearest {kind} ({service}) is {km} km away by road, "
            "beyond the {limit} km threshold.",
        },
        "gap.ok": {
            "zh": "{village}：最近的{kind}（{service}）沿道路 {km} 公里，在 {limit} 公里标准以内。",
            "en": "{village}: the nearest {kind} ({service}) is {km} km away by road, "
            "within the {limit} km threshold.",
        },
        "gap.flag_min": {
            "zh": "{village}：最近的{kind}（{service}）沿道路 {km} 公里，约 {minutes} 分钟，"
            "超过 {limit} 分钟的标准。",
            "en": "{village}: the nearest {kind} ({service}) is {km} km away by road, "
            "{minutes} min, beyond the {limit} min threshold.",
        },
        "gap.ok_min": {
            "zh": "{village}：最近的{kind}（{service}）沿道路 {km} 公里，约 {minutes} 分钟，"
            "在 {limit} 分钟标准以内。",
            "en": "{village}: the nearest {kind} ({service}) is {km} km away by road, "
            "{minutes} min, within the {limit} min threshold.",
        },
        "gap.unreachable": {
            "zh": "{village}：沿道路无法到达任何{kind}；直线距离最近的{kind}在 {km} 公里外。"
            "请检查道路数据是否连通。",
            "en": "{village}: no {kind} can be reached by road; the nearest one in a straight "
            "line is {km} km away. Check that the roads connect.",
        },
        "gap.none": {
            "zh": "{village}：研究区内没有{kind}。",
            "en": "{village}: there is no {kind} in the study area.",
        },
        "gap.households": {
            "zh": "{n} 户中有 {beyond} 户超过标准。",
            "en": "{beyond} of {n} households are beyond it.",
        },
        "gap.children": {
            "zh": "涉及 {children} 名儿童。",
            "en": "{children} children live in them.",
        },
    }
)


def assign_villages(
    households: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, crs: pyproj.CRS | str
) -> pd.DataFrame:
    """Place each household in a village.

    Rules, in order: the village whose boundary contains the household (``area``); else the
    village the household's file names, when exactly one village has that name (``named``);
    else the nearest village point (``nearest``), measured in ``crs``.

    Parameters
    ----------
    households, villages
        Layers in EPSG:4326 (see :mod:`layers.households`, :mod:`layers.villages`).
    crs
        A projected CRS (metres) for the nearest-point rule.

    Returns
    -------
    pandas.DataFrame
        On the households' index: ``village_id``, ``village_name`` (the village used),
        ``village_rule`` (which rule placed it). Empty strings never stand for "none": a
        household with no village at all (no villages given) gets missing values.
    """
    out = pd.DataFrame(index=households.index)
    out["village_id"] = pd.array([pd.NA] * len(households), dtype="str")
    out["village_rule"] = pd.array([pd.NA] * len(households), dtype="str")
    if len(villages) == 0 or len(households) == 0:
        out["village_name"] = pd.array([pd.NA] * len(households), dtype="str")
        return out

    areas = villages[villages["boundary"].notna()]
    if len(areas):
        polys = gpd.GeoDataFrame(
            {"vid": areas.index}, geometry=areas["boundary"].values, crs=villages.crs
        )
        hits = gpd.sjoin(households[["geometry"]], polys, predicate="within", how="inner")
        hits = hits[~hits.index.duplicated(keep="first")]
        out.loc[hits.index, "village_id"] = hits["vid"].astype(str).to_numpy()
        out.loc[hits.index, "village_rule"] = RULE_AREA

    todo = out["village_id"].isna()
    if todo.any() and "village_name" in households:
        counts = villages["village_name"].value_counts()
        unique_names = counts[counts == 1].index
        by_name = pd.Series(villages.index, index=villages["village_name"]).loc[unique_names]
        named = households.loc[todo, "village_name"]
        match = named.isin(by_name.index) & named.notna()
        idx = match[match].index
        out.loc[idx, "village_id"] = by_name.loc[named[idx]].astype(str).to_numpy()
        out.loc[idx, "village_rule"] = RULE_NAMED

    todo = out["village_id"].isna()
    if todo.any():
        vp = villages.geometry.to_crs(crs)
        hp = households.loc[todo].geometry.to_crs(crs)
        _, nearest = cKDTree(np.column_stack([vp.x, vp.y])).query(np.column_stack([hp.x, hp.y]))
        out.loc[todo, "village_id"] = villages.index.to_numpy()[nearest].astype(str)
        out.loc[todo, "village_rule"] = RULE_NEAREST

    names = villages["village_name"]
    out["village_name"] = pd.array(names.reindex(out["village_id"]).to_numpy(), dtype="str")
    return out


def km_text(metres: float, limit_m: float | None = None) -> str:
    """A distance in km as people read it: 1 decimal, or as many more as it takes for the
    number to agree with the flag against ``limit_m`` (3,004 m against a 3 km threshold is
    "3.004", not "3.0", which reads as within it); metres with one decimal as a last resort.

    Returns the number only (no unit); 4 decimals (0.1 m) as a last resort.
    """
    km = metres / 1000
    if limit_m is None or not np.isfinite(metres):
        return f"{km:.1f}"
    beyond = round(metres, 3) > limit_m  # the flag's own rule (see compute_village_gaps)
    for decimals in (1, 2, 3):
        shown = round(km, decimals)
        if (round(shown * 1000, 6) > limit_m) == beyond:
            return f"{shown:.{decimals}f}"
    return f"{metres / 1000:.4f}"


def minutes_text(minutes: float, limit_min: float) -> str:
    """Minutes as people read them: whole, or with as many decimals as it takes for the
    number to agree with the flag against ``limit_min`` (the flag's rule: compared at a
    thousandth of a minute)."""
    beyond = round(minutes, 3) > limit_min
    for decimals in (0, 1, 2, 3):
        shown = round(minutes, decimals)
        if (round(shown, 6) > limit_min) == beyond:
            return f"{shown:.{decimals}f}"
    return f"{minutes:.3f}"


def compute_village_gaps(
    villages: gpd.GeoDataFrame,
    village_access: pd.DataFrame,
    households: pd.DataFrame,
    settings: AnalysisSettings,
) -> gpd.GeoDataFrame:
    """Per-village service gaps.

    Parameters
    ----------
    villages
        Villages layer (EPSG:4326).
    village_access
        :func:`mapping.access.compute_service_access` columns for the village points, one
        block per kind, on the villages' index.
    households
        Households with their ``village_id`` (:func:`assign_villages`), optional
        ``children``, and the access columns of every kind.
    settings
        Kinds and thresholds.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per village (its index, EPSG:4326 points, ``boundary`` kept) with
        ``village_name``, ``n_households``, ``n_children`` and, per kind: ``dist_<kind>_m``,
        ``time_<kind>_min``, ``nearest_<kind>``, ``straight_<kind>_m``,
        ``median_hh_dist_<kind>_m``, ``max_hh_dist_<kind>_m``, ``n_hh_beyond_<kind>``,
        ``share_hh_beyond_<kind>``, ``n_children_beyond_<kind>``, ``flag_<kind>``,
        ``warn_<kind>``, ``reason_<kind>_zh`` and ``reason_<kind>_en``.
        ``flag_<kind>`` is true when the village point is beyond the threshold, or when no
        service of the kind can be reached. A kind with a travel-time threshold
        (``settings.threshold_min``) is flagged, and its households counted beyond, by
        travel time instead of distance.
    """
    out = villages[["village_id", "village_name", "geometry", "boundary"]].copy()
    hh = households
    has_children = "children" in hh and hh["children"].notna().any()
    grouped = hh.groupby("village_id", sort=False)
    n_hh = grouped.size()
    out["n_households"] = n_hh.reindex(out.index).fillna(0).astype("int64")
    if has_children:
        kids = grouped["children"].sum(min_count=1)
        out["n_children"] = kids.reindex(out.index).astype("Int64")
    else:
        out["n_children"] = pd.array([pd.NA] * len(out), dtype="Int64")

    for kind in settings.kinds:
        limit = settings.threshold_m(kind)
        limit_min = settings.threshold_min(kind)
        va = village_access
        dist = va[f"dist_{kind}_m"].reindex(out.index)
        out[f"dist_{kind}_m"] = dist
        out[f"time_{kind}_min"] = va[f"time_{kind}_min"].reindex(out.index)
        out[f"nearest_{kind}_id"] = va[f"nearest_{kind}_id"].reindex(out.index)
        out[f"nearest_{kind}"] = va[f"nearest_{kind}"].reindex(out.index)
        out[f"straight_{kind}_m"] = va[f"straight_{kind}_m"].reindex(out.index)
        reachable = va[f"reachable_{kind}"].reindex(out.index).fillna(False).astype(bool)
        out[f"reachable_{kind}"] = reachable
        out[f"unreachable_{kind}"] = va[f"unreachable_{kind}"].reindex(out.index)

        hd = hh[f"dist_{kind}_m"]
        # an unreachable household counts as beyond: it cannot get there by road at all
        if limit_min is None:
            beyond = hd.isna() | (hd.round(3) > limit)
        else:
            ht = hh[f"time_{kind}_min"]
            beyond = hd.isna() | ht.isna() | (ht.round(3) > limit_min)
        g = hh.assign(_d=hd, _beyond=beyond).groupby("village_id", sort=False)
        out[f"median_hh_dist_{kind}_m"] = g["_d"].median().reindex(out.index)
        out[f"max_hh_dist_{kind}_m"] = g["_d"].max().reindex(out.index)
        n_beyond = g["_beyond"].sum().reindex(out.index).fillna(0).astype("int64")
        out[f"n_hh_beyond_{kind}"] = n_beyond
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"share_hh_beyond_{kind}"] = np.where(
                out["n_households"] > 0, n_beyond / out["n_households"].replace(0, np.nan), np.nan
            )
        if has_children:
            kids_beyond = (
                hh.assign(_k=hh["children"].where(beyond))
                .groupby("village_id", sort=False)["_k"]
                .sum(min_count=1)
            )
            out[f"n_children_beyond_{kind}"] = kids_beyond.reindex(out.index).astype("Int64")
        else:
            out[f"n_children_beyond_{kind}"] = pd.array([pd.NA] * len(out), dtype="Int64")

        # compared at the millimetre (a thousandth of a minute): projection round-off must not
        # tip a village at exactly the threshold over it
        if limit_min is None:
            flag = ~reachable | (dist.round(3) > limit)
        else:
            flag = ~reachable | (out[f"time_{kind}_min"].round(3) > limit_min)
        out[f"flag_{kind}"] = flag.astype(bool)
        out[f"warn_{kind}"] = (~flag) & (n_beyond > 0)
        # plain dicts: iterrows builds a Series per row, most of a threshold change's time
        # on a county's villages
        rows = out.to_dict("records")
        for lang in ("zh", "en"):
            out[f"reason_{kind}_{lang}"] = [
                explain_gap(row, kind, limit, lang, limit_min=limit_min) for row in rows
            ]
    return gpd.GeoDataFrame(out, geometry="geometry", crs=villages.crs)


def explain_gap(
    row: pd.Series | dict, kind: str, limit_m: float, lang: str, *, limit_min: float | None = None
) -> str:
    """The sentence that says why a village is (or is not) flagged for ``kind``.

    ``row`` is one village of :func:`compute_village_gaps` (a row, or the same as a dict);
    with ``limit_min`` the threshold is that travel time, in minutes.
    """
    kind_name = i18n.t(f"kind.{kind}", lang)
    village = row["village_name"]
    dist = row[f"dist_{kind}_m"]
    service = row[f"nearest_{kind}"]
    if row[f"unreachable_{kind}"] == "no_service":
        return i18n.t("gap.none", lang, village=village, kind=kind_name)
    if pd.isna(dist):
        return i18n.t(
            "gap.unreachable",
            lang,
            village=village,
            kind=kind_name,
            km=km_text(row[f"straight_{kind}_m"]),
        )
    if limit_min is None:
        key = "gap.flag" if round(dist, 3) > limit_m else "gap.ok"
        text = i18n.t(
            key,
            lang,
            village=village,
            kind=kind_name,
            service=service,
            km=km_text(dist, limit_m),
            limit=f"{limit_m / 1000:g}",
        )
    else:
        minutes = row[f"time_{kind}_min"]
        key = "gap.flag_min" if round(minutes, 3) > limit_min else "gap.ok_min"
        text = i18n.t(
            key,
            lang,
            village=village,
            kind=kind_name,
            service=service,
            km=km_text(dist),
            minutes=minutes_text(minutes, limit_min),
            limit=f"{limit_min:g}",
        )
    n = int(row["n_households"])
    beyond = int(row[f"n_hh_beyond_{kind}"])
    if n:
        text += (" " if lang == "en" else "") + i18n.t("gap.households", lang, n=n, beyond=beyond)
        kids = row[f"n_children_beyond_{kind}"]
        if beyond and not pd.isna(kids):
            text += (" " if lang == "en" else "") + i18n.t("gap.children", lang, children=int(kids))
    return text
