"""Writing results: tables (CSV), all layers (GeoPackage), and the text summary.

Every file goes through :mod:`layers.files`: written beside its target and moved over it only
when complete, so a crash or a full disk never leaves half a file where a good one was; the
command line stages all its files together (:func:`layers.files.output_folder`).

Numbers in the CSVs are written per column, not with one format for all: lon/lat with 7
decimals (about 1 cm), metres and minutes with 1, shares with 3 (:func:`format_table`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
from layers.files import atomic_path, output_folder
from mapping.analysis import Analysis

i18n.register(
    {
        "summary.header": {
            "zh": "{title}（出行方式：{mode}）",
            "en": "{title} (travel mode: {mode})",
        },
        "summary.counts": {
            "zh": "村庄 {villages} 个，农户 {households} 户，儿童 {children} 名。",
            "en": "{villages} villages, {households} households, {children} children.",
        },
        "summary.kind": {
            "zh": "{kind}（标准 {limit} 公里）：{flagged} 个村超过标准{names}；"
            "{hh_beyond} 户、{kids_beyond} 名儿童超过标准。",
            "en": "{kind} (threshold {limit} km): {flagged} villages beyond it{names}; "
            "{hh_beyond} households and {kids_beyond} children beyond it.",
        },
        "summary.kind_min": {
            "zh": "{kind}（标准 {limit} 分钟）：{flagged} 个村超过标准{names}；"
            "{hh_beyond} 户、{kids_beyond} 名儿童超过标准。",
            "en": "{kind} (threshold {limit} min): {flagged} villages beyond it{names}; "
            "{hh_beyond} households and {kids_beyond} children beyond it.",
        },
        "summary.located": {
            "zh": "{n} 户没有坐标，按所在村计算。",
            "en": "{n} households have no coordinates and are counted at their village.",
        },
        "summary.fictional": {
            "zh": "注意：示例数据是虚构的。",
            "en": "Note: the demo data is fictional.",
        },
    }
)


def village_table(analysis: Analysis, lang: str = "zh") -> pd.DataFrame:
    """The village results as a plain table (flagged first), with the point's lon/lat.

    Parameters
    ----------
    analysis
        A finished analysis.
    lang
        Language of the ``reason_<kind>`` sentences kept in the table.
    """
    v = analysis.villages
    kinds = analysis.settings.kinds
    cols = ["village_id", "village_name", "n_households", "n_children"]
    for k in kinds:
        cols += [
            f"dist_{k}_m",
            f"time_{k}_min",
            f"nearest_{k}",
            f"straight_{k}_m",
            f"median_hh_dist_{k}_m",
            f"max_hh_dist_{k}_m",
            f"n_hh_beyond_{k}",
            f"share_hh_beyond_{k}",
            f"n_children_beyond_{k}",
            f"flag_{k}",
            f"warn_{k}",
        ]
    table = pd.DataFrame(v[cols])
    for k in kinds:
        table[f"reason_{k}"] = v[f"reason_{k}_{lang}"]
    table["offroad_m"] = v["offroad_m"]
    table["lon"] = v.geometry.x
    table["lat"] = v.geometry.y
    flags = table[[f"flag_{k}" for k in kinds]].any(axis=1)
    first = kinds[0]
    order = pd.DataFrame({"f": ~flags, "d": -table[f"dist_{first}_m"].fillna(np.inf)})
    return table.loc[order.sort_values(["f", "d"]).index].reset_index(drop=True)


def household_table(analysis: Analysis) -> pd.DataFrame:
    """The household results (no names, phones or coordinates: the team keeps those)."""
    hh = analysis.households
    cols = ["household_id", "village_name", "village_rule", "children", "offroad_m"]
    if "located" in hh:  # gps, or village: no coordinates, counted at the village's point
        cols.insert(3, "located")
    for k in analysis.settings.kinds:
        cols += [f"dist_{k}_m", f"time_{k}_min", f"nearest_{k}", f"unreachable_{k}"]
    return pd.DataFrame(hh[cols]).reset_index(drop=True)


def road_lines(analysis: Analysis) -> gpd.GeoDataFrame:
    """The routing network's segments as lines (EPSG:4326), with highway class and length."""
    from layers.roads import HIGHWAY_CLASSES

    net = analysis.network
    lon, lat = net.to_lonlat(net.x, net.y)
    coords = np.stack(
        [
            np.column_stack([lon[net.seg_u], lat[net.seg_u]]),
            np.column_stack([lon[net.seg_v], lat[net.seg_v]]),
        ],
        axis=1,
    )
    return gpd.GeoDataFrame(
        {
            "way_id": net.seg_way_id,
            "highway": np.asarray(HIGHWAY_CLASSES)[net.seg_highway],
            "length_m": net.seg_len_m.round(2),
            "oneway": ~(net.seg_fwd & net.seg_bwd),
        },
        geometry=shapely.linestrings(coords),
        crs="EPSG:4326",
    )


#: Decimals kept per kind of column in the CSVs (see :func:`format_table`).
COORD_DECIMALS = 7
METRE_DECIMALS = 1
MINUTE_DECIMALS = 1
SHARE_DECIMALS = 3


def _decimals(column: str) -> int | None:
    """How many decimals a float column keeps in a CSV, by its name (None: as it is)."""
    if column in ("lon", "lat"):
        return COORD_DECIMALS
    if column.startswith("share_"):
        return SHARE_DECIMALS
    if column.endswith("_m") or column.endswith("_km"):
        return METRE_DECIMALS if column.endswith("_m") else 3
    if column.endswith("_min"):
        return MINUTE_DECIMALS
    return None


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a result table with every float column rounded for a CSV: lon/lat to 7
    decimals (1 cm), metres and minutes to 1, shares to 3; other columns as they are."""
    out = table.copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        decimals = _decimals(str(col))
        if decimals is not None:
            out[col] = out[col].round(decimals)
    return out


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a result table as CSV (UTF-8 with BOM, so Excel reads Chinese), all-or-nothing."""
    path = Path(path)
    with atomic_path(path) as tmp:
        format_table(table).to_csv(tmp, index=False, encoding="utf-8-sig")
    return path


def write_tables(analysis: Analysis, out_dir: str | Path, lang: str = "zh") -> list[Path]:
    """Write ``villages.csv`` and ``households.csv`` into ``out_dir``, both or neither."""
    with output_folder(out_dir) as out:
        write_csv(village_table(analysis, lang), out.path("villages.csv"))
        write_csv(household_table(analysis), out.path("households.csv"))
    return [Path(out_dir) / "villages.csv", Path(out_dir) / "households.csv"]


def write_geopackage(analysis: Analysis, path: str | Path, *, privacy: str = "full") -> Path:
    """Write every input and result layer into one GeoPackage.

    Layers: ``villages`` (points with results, including household counts), ``village_areas``
    (boundaries), ``households`` (points with results; only with ``privacy="full"``: in
    committee mode the file holds no household position, name, phone or id), ``services``,
    ``roads`` (the routing network of the mode), ``routes`` (each village's road route to its
    nearest service of each kind, :mod:`mapping.routes`; each household's too with
    ``privacy="full"`` only, since a route starts at the household) and ``boundaries``
    (administrative areas from OSM).
    """
    from mapping.routes import all_routes

    path = Path(path)
    v = analysis.villages
    layers: dict[str, gpd.GeoDataFrame] = {
        "villages": gpd.GeoDataFrame(v.drop(columns="boundary"), geometry="geometry"),
        "services": analysis.services,
        "roads": road_lines(analysis),
        "routes": all_routes(analysis, households=privacy == "full"),
    }
    if privacy == "full":
        layers["households"] = analysis.households
    areas = v[v["boundary"].notna()]
    if len(areas):
        layers["village_areas"] = gpd.GeoDataFrame(
            areas[["village_id", "village_name"]], geometry=areas["boundary"].values, crs=v.crs
        )
    if len(analysis.scenario.boundaries):
        layers["boundaries"] = analysis.scenario.boundaries
    with atomic_path(path) as tmp:
        for name, gdf in layers.items():
            out = gdf.reset_index(drop=True)
            if len(out) == 0:
                continue
            out.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    return path


def summarize(analysis: Analysis, lang: str = "zh") -> str:
    """A few lines that say what the analysis found, in ``lang``."""
    v = analysis.villages
    hh = analysis.households
    kids = hh["children"].sum() if "children" in hh and hh["children"].notna().any() else 0
    title = analysis.scenario.title.get(lang) or ""
    lines = [
        i18n.t(
            "summary.header", lang, title=title, mode=i18n.t(f"mode.{analysis.settings.mode}", lang)
        ),
        i18n.t("summary.counts", lang, villages=len(v), households=len(hh), children=int(kids)),
    ]
    n_placed = int((hh["located"] == "village").sum()) if "located" in hh else 0
    if n_placed:
        lines.append(i18n.t("summary.located", lang, n=n_placed))
    for k in analysis.settings.kinds:
        flagged = v[v[f"flag_{k}"]]
        # the villages with the most households (then children) beyond first, the farthest
        # first among equals: an empty village is not news before one with 9 households
        order = pd.DataFrame(
            {
                "hh": -flagged[f"n_hh_beyond_{k}"],
                "kids": -flagged[f"n_children_beyond_{k}"].fillna(0).astype(float),
                "d": -flagged[f"dist_{k}_m"].fillna(np.inf),
            },
            index=flagged.index,
        )
        flagged = flagged.loc[order.sort_values(["hh", "kids", "d"], kind="stable").index]
        names = ", ".join(flagged["village_name"].astype(str).head(8))
        if len(flagged) > 8:
            names += ", …"
        minutes = analysis.settings.threshold_min(k)
        lines.append(
            i18n.t(
                "summary.kind" if minutes is None else "summary.kind_min",
                lang,
                kind=i18n.t(f"kind.{k}", lang),
                limit=f"{analysis.settings.threshold_m(k) / 1000:g}"
                if minutes is None
                else f"{minutes:g}",
                flagged=len(flagged),
                names=f" ({names})" if names else "",
                hh_beyond=int(v[f"n_hh_beyond_{k}"].sum()),
                kids_beyond=int(v[f"n_children_beyond_{k}"].fillna(0).sum()),
            )
        )
        for sentence in flagged[f"reason_{k}_{lang}"].head(5):
            lines.append("  - " + sentence)
    if analysis.scenario.fictional:
        lines.append(i18n.t("summary.fictional", lang))
    return "\n".join(lines)
