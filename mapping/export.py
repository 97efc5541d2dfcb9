"""Writing results: tables (CSV), all layers (GeoPackage), and the text summary.

Every file is written atomically: to a temporary file beside the target, then moved over it,
so a crash or a full disk never leaves half a file where a good one was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
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
        "summary.fictional": {
            "zh": "注意：示例数据是虚构的。",
            "en": "Note: the demo data is fictional.",
        },
        "mode.walk": {"zh": "步行", "en": "walking"},
        "mode.motorbike": {"zh": "摩托车", "en": "motorbike"},
        "mode.car": {"zh": "汽车", "en": "car"},
    }
)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # some writers (GDAL) refuse to overwrite an existing empty file
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
    table["lon"] = v.geometry.x.round(6)
    table["lat"] = v.geometry.y.round(6)
    flags = table[[f"flag_{k}" for k in kinds]].any(axis=1)
    first = kinds[0]
    order = pd.DataFrame({"f": ~flags, "d": -table[f"dist_{first}_m"].fillna(np.inf)})
    return table.loc[order.sort_values(["f", "d"]).index].reset_index(drop=True)


def household_table(analysis: Analysis) -> pd.DataFrame:
    """The household results (no names, phones or coordinates: the team keeps those)."""
    hh = analysis.households
    cols = ["household_id", "village_name", "village_rule", "children", "offroad_m"]
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


def write_tables(analysis: Analysis, out_dir: str | Path, lang: str = "zh") -> list[Path]:
    """Write ``villages.csv`` and ``households.csv`` (UTF-8 with BOM, so Excel reads Chinese)."""
    out_dir = Path(out_dir)
    written = []
    for name, table in (
        ("villages.csv", village_table(analysis, lang)),
        ("households.csv", household_table(analysis)),
    ):
        with atomic_path(out_dir / name) as tmp:
            table.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.1f")
        written.append(out_dir / name)
    return written


def write_geopackage(analysis: Analysis, path: str | Path, *, privacy: str = "full") -> Path:
    """Write every input and result layer into one GeoPackage.

    Layers: ``villages`` (points with results, including household counts), ``village_areas``
    (boundaries), ``households`` (points with results; only with ``privacy="full"``: in
    committee mode the file holds no household position, name, phone or id), ``services``,
    ``roads`` (the routing network of the mode) and ``boundaries`` (administrative areas from
    OSM).
    """
    path = Path(path)
    v = analysis.villages
    layers: dict[str, gpd.GeoDataFrame] = {
        "villages": gpd.GeoDataFrame(v.drop(columns="boundary"), geometry="geometry"),
        "services": analysis.services,
        "roads": road_lines(analysis),
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
    for k in analysis.settings.kinds:
        flagged = v[v[f"flag_{k}"]]
        names = ", ".join(flagged["village_name"].astype(str).head(8))
        if len(flagged) > 8:
            names += ", …"
        lines.append(
            i18n.t(
                "summary.kind",
                lang,
                kind=i18n.t(f"kind.{k}", lang),
                limit=f"{analysis.settings.threshold_m(k) / 1000:g}",
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
