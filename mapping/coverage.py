"""How many households are within reach: coverage bands, and service areas along the roads.

:func:`coverage_table` counts households and children within each distance band of the
nearest service (per village and overall), for one analysis or side by side before and after
proposals. :func:`service_areas` draws, for each service, the land within each band *along the
roads*: the reached roads, including partly reached segments, widened by a small off-road
allowance that never exceeds the budget left at that point of the road. They are not convex
hulls: land between two reached roads that no road reaches stays outside.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import i18n
from layers.errors import InputError
from mapping.analysis import Analysis
from mapping.routing import iter_source_searches

#: Default distance bands (m by road).
DEFAULT_BANDS_M = (1000.0, 3000.0, 5000.0, 10000.0)

#: Off-road allowance (m) of service areas: land this far from a reached road counts as within
#: reach, as a household that walks this far to the road would (capped by the budget left).
#: 200 m is about the depth of a village plot from its lane.
OFFROAD_ALLOWANCE_M = 200.0

#: Quarter-circle segments of the polygons that stand for circles (inscribed: never beyond the
#: budget; at 4, 16-gons reach 98 % of the radius between vertices).
_QUAD_SEGS = 4

i18n.register(
    {
        "error.coverage.by": {
            "zh": "汇总方式“{value}”无效，可选：village（按村）、overall（全区）。",
            "en": "'{value}' is not a valid grouping; choose village or overall.",
        },
        "error.coverage.bands": {
            "zh": "距离分段应为大于 0 的米数，收到的是 {bands}。",
            "en": "Distance bands must be metres greater than 0; got {bands}.",
        },
    }
)


def _check(analysis: Analysis, kind: str, bands_m) -> tuple[float, ...]:
    if kind not in analysis.access:
        raise InputError("error.planning.kind", kind=kind, kinds=", ".join(analysis.access))
    try:
        bands = tuple(sorted(float(b) for b in bands_m))
    except (TypeError, ValueError):
        raise InputError("error.coverage.bands", bands=bands_m) from None
    if not bands or any(not np.isfinite(b) or b <= 0 for b in bands):
        raise InputError("error.coverage.bands", bands=bands_m)
    return bands


def _counts(analysis: Analysis, kind: str, bands: tuple[float, ...], by: str) -> pd.DataFrame:
    hh = analysis.households
    d = hh[f"dist_{kind}_m"]
    has_kids = "children" in hh and hh["children"].notna().any()
    kids = hh["children"].astype("Float64").fillna(0) if has_kids else pd.Series(0.0, hh.index)
    rows = []
    for band in bands:
        # compared at the millimetre, as the gap flags are; unreachable is never within
        within = d.notna() & (d.round(3) <= band)
        frame = pd.DataFrame(
            {
                "village_id": hh["village_id"],
                "_n": 1,
                "_kids": kids.astype(float),
                "_in": within.astype(int),
                "_kids_in": kids.astype(float).where(within, 0.0),
            }
        )
        if by == "village":
            g = frame.groupby("village_id", sort=False)[["_n", "_kids", "_in", "_kids_in"]].sum()
            vil = analysis.villages
            g = g.reindex(vil.index).fillna(0)
            part = pd.DataFrame(
                {
                    "scope": "village",
                    "village_id": pd.array(vil.index.astype(str), dtype="str"),
                    "village_name": pd.array(vil["village_name"].to_numpy(), dtype="str"),
                },
            )
        else:
            g = frame[["_n", "_kids", "_in", "_kids_in"]].sum().to_frame().T
            part = pd.DataFrame(
                {
                    "scope": ["overall"],
                    "village_id": pd.array([pd.NA], dtype="str"),
                    "village_name": pd.array([pd.NA], dtype="str"),
                }
            )
        part["band_m"] = band
        part["n_households"] = g["_n"].to_numpy().astype(np.int64)
        part["hh_within"] = g["_in"].to_numpy().astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            n = g["_n"].to_numpy(dtype=float)
            part["share_hh_within"] = np.where(n > 0, g["_in"].to_numpy() / n, np.nan)
            k = g["_kids"].to_numpy(dtype=float)
            if has_kids:
                part["n_children"] = pd.array(np.round(k).astype(np.int64), dtype="Int64")
                part["children_within"] = pd.array(
                    np.round(g["_kids_in"].to_numpy(dtype=float)).astype(np.int64), dtype="Int64"
                )
                part["share_children_within"] = np.where(
                    k > 0, g["_kids_in"].to_numpy(dtype=float) / k, np.nan
                )
            else:
                part["n_children"] = pd.array([pd.NA] * len(part), dtype="Int64")
                part["children_within"] = pd.array([pd.NA] * len(part), dtype="Int64")
                part["share_children_within"] = np.nan
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    if by == "village":
        out = out.sort_values(["village_id", "band_m"], kind="stable", ignore_index=True)
    return out


def coverage_table(
    analysis: Analysis,
    kind: str,
    bands_m=DEFAULT_BANDS_M,
    by: str = "village",
    *,
    after: Analysis | None = None,
) -> pd.DataFrame:
    """Households and children within each distance band of the nearest ``kind``.

    Parameters
    ----------
    analysis
        The analysis (the *before* one when ``after`` is given).
    kind
        Service kind.
    bands_m
        Distance bands, metres by road (each band counts everything within it, so a 3 km band
        includes the 1 km band).
    by
        ``village`` (one row per village and band) or ``overall`` (one row per band).
    after
        The same analysis with proposals applied (:func:`mapping.analysis.apply_proposals`);
        then the counts stand side by side.

    Returns
    -------
    pandas.DataFrame
        ``scope`` (``village``/``overall``), ``village_id``, ``village_name`` (NA overall),
        ``band_m``, ``n_households``, ``n_children`` and the counts ``hh_within``,
        ``share_hh_within`` (0-1; NaN with no households), ``children_within``,
        ``share_children_within`` (NA when the households have no children data). With
        ``after`` the four counts appear twice, suffixed ``_before`` and ``_after``.
        Unreachable households are never within a band.
    """
    bands = _check(analysis, kind, bands_m)
    if by not in ("village", "overall"):
        raise InputError("error.coverage.by", value=by)
    before = _counts(analysis, kind, bands, by)
    if after is None:
        return before
    counts = ["hh_within", "share_hh_within", "children_within", "share_children_within"]
    later = _counts(after, kind, bands, by)
    out = before.drop(columns=counts)
    for col in counts:
        out[f"{col}_before"] = before[col].to_numpy()
        out[f"{col}_after"] = later[col].to_numpy()
    return out


def service_areas(
    analysis: Analysis,
    kind: str,
    bands_m=DEFAULT_BANDS_M,
    *,
    dissolve: bool = False,
    clip_to: shapely.Geometry | None = None,
    allowance_m: float = OFFROAD_ALLOWANCE_M,
) -> gpd.GeoDataFrame:
    """The land within each distance band of each service of ``kind``, along the roads.

    Built from the road network's distances *to* the service (the same trip as
    :mod:`mapping.access`: the service's off-road leg included, one-way streets respected):
    every road point whose distance ``r`` is within the band ``B`` (segments reached whole or
    in part, and the service's own segment), widened by ``min(allowance_m, B - r)``. The
    widening is exact per straight piece of road (the convex hull of two end circles, since
    the budget falls by one metre per metre of road) with circles drawn as inscribed 16-gons (as GEOS buffers draw them),
    so the polygon never holds land beyond the band's budget from the reached road point it
    was drawn around. A different road running within the allowance of a reached one lies
    inside too, whatever its own distance -- and so does the first ``allowance_m`` of a
    one-way road past a service that stands on it, whose own trip goes round the block.

    Parameters
    ----------
    analysis
        An analysis that includes ``kind`` (proposals applied count as services).
    kind
        Service kind.
    bands_m
        Distance bands, metres by road (cumulative: the 3 km area includes the 1 km one).
    dissolve
        Merge the services' areas per band.
    clip_to
        Outline (WGS84) to clip to; by default the scenario's study area, when it has one.
    allowance_m
        The off-road allowance (m), see :data:`OFFROAD_ALLOWANCE_M`.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 (Multi)Polygons. One row per service and band: ``service_id``, ``name``,
        ``band_m``, ``allowance_m``; with ``dissolve``: one per band, ``band_m``,
        ``n_services``, ``allowance_m``. A service that reaches nothing within a band (e.g.
        its off-road leg alone is longer) has an empty geometry.
    """
    bands = _check(analysis, kind, bands_m)
    net = analysis.network
    acc = analysis.access[kind]
    svc = acc.services
    snap = acc.dist.svc_snap
    area = analysis.scenario.study_area if clip_to is None else clip_to
    area_p = None
    if area is not None:
        area_p = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(net.crs).iloc[0]

    geoms: dict[tuple[int, float], shapely.Geometry] = {}
    for idx, node_cost in iter_source_searches(net, snap, limit=max(bands)):
        for row, j in enumerate(idx):
            for band in bands:
                geom = _area_of(net, node_cost[row], snap, int(j), band, allowance_m)
                if area_p is not None and not geom.is_empty:
                    geom = shapely.intersection(geom, area_p)
                geoms[(int(j), band)] = geom
    records = []
    for j in range(len(svc)):
        for band in bands:
            records.append(
                {
                    "service_id": str(svc.index[j]),
                    "name": svc["name"].iloc[j],
                    "band_m": band,
                    "allowance_m": float(allowance_m),
                    "geometry": geoms.get((j, band), shapely.Polygon()),
                }
            )
    out = gpd.GeoDataFrame(records, geometry="geometry", crs=net.crs)
    if dissolve:
        merged = []
        for band in bands:
            part = out[out["band_m"] == band]
            merged.append(
                {
                    "band_m": band,
                    "n_services": len(part),
                    "allowance_m": float(allowance_m),
                    "geometry": shapely.union_all(part.geometry.to_numpy()),
                }
            )
        out = gpd.GeoDataFrame(merged, geometry="geometry", crs=net.crs)
    if len(out) == 0:
        out = gpd.GeoDataFrame(
            {"service_id": [], "name": [], "band_m": [], "allowance_m": []},
            geometry=[],
            crs=net.crs,
        )
    return out.to_crs("EPSG:4326")


def _area_of(net, node_cost: np.ndarray, snap, j: int, band: float, allowance: float):
    """The band's polygon of one service (network CRS, m) from its per-node distances."""
    c = net.seg_len_m
    du, dv = node_cost[net.seg_u], node_cost[net.seg_v]
    ux, uy, vx, vy = net.x[net.seg_u], net.y[net.seg_u], net.x[net.seg_v], net.y[net.seg_v]
    # pieces of road with a start point, a direction, a length and the cost at the start:
    # the stretch of each segment from an end whose points may travel to that end (the whole
    # segment with its direction, a short walk against a one-way: the network's rule,
    # RoadNetwork.along_reach_m)
    starts_x, starts_y, dir_x, dir_y, lengths, r0 = [], [], [], [], [], []
    with np.errstate(invalid="ignore", divide="ignore"):
        ex, ey = (vx - ux) / np.where(c > 0, c, 1), (vy - uy) / np.where(c > 0, c, 1)
    segs = np.arange(net.n_segments)
    for toward_v, d, sx, sy, sgn in ((False, du, ux, uy, 1.0), (True, dv, vx, vy, -1.0)):
        reach_m = net.along_reach_m(segs, np.full(len(segs), toward_v))
        ok = d <= band
        starts_x.append(sx[ok])
        starts_y.append(sy[ok])
        dir_x.append(sgn * ex[ok])
        dir_y.append(sgn * ey[ok])
        lengths.append(reach_m[ok])
        r0.append(d[ok])
    # the service's own segment, reached straight along it: road points on its u side travel
    # towards v to reach it, those on its v side towards u
    s, t = int(snap.seg[j]), float(snap.t[j])
    off = float(snap.offroad_m[j])
    if off <= band:
        px, py = float(snap.x[j]), float(snap.y[j])
        for toward_v, length, sgn in ((True, t * c[s], -1.0), (False, (1 - t) * c[s], 1.0)):
            reach_m = float(net.along_reach_m(np.array([s]), np.array([toward_v]))[0])
            starts_x.append(np.array([px]))
            starts_y.append(np.array([py]))
            dir_x.append(np.array([sgn * ex[s]]))
            dir_y.append(np.array([sgn * ey[s]]))
            lengths.append(np.array([min(length, reach_m)]))
            r0.append(np.array([off]))
    sx, sy = np.concatenate(starts_x), np.concatenate(starts_y)
    dx, dy = np.concatenate(dir_x), np.concatenate(dir_y)
    length, r = np.concatenate(lengths), np.concatenate(r0)
    reach = np.clip(np.minimum(length, band - r), 0.0, None)
    # each piece: a stretch with the full allowance (buffered as lines, in one go), then a
    # stretch where the budget left is below it (a cone: the hull of two circles)
    split = np.clip(band - allowance - r, 0.0, reach)
    parts = []
    full = split > 0
    if full.any():
        lines = shapely.linestrings(
            np.stack(
                [
                    np.column_stack([sx[full], sy[full]]),
                    np.column_stack(
                        [sx[full] + dx[full] * split[full], sy[full] + dy[full] * split[full]]
                    ),
                ],
                axis=1,
            )
        )
        # one buffer per piece, then one union: much faster than buffering a multi-line
        parts.extend(shapely.buffer(lines, allowance, quad_segs=_QUAD_SEGS))

    rad_s = np.minimum(allowance, band - (r + split))
    rad_e = np.minimum(allowance, band - (r + reach))
    cone = (reach > split) | ((reach == 0) & (rad_s > 1e-9))
    cone &= np.maximum(rad_s, rad_e) > 1e-9
    if cone.any():
        ang = np.linspace(0.0, 2 * np.pi, 4 * _QUAD_SEGS, endpoint=False)
        cos, sin = np.cos(ang), np.sin(ang)
        c0x, c0y = sx[cone] + dx[cone] * split[cone], sy[cone] + dy[cone] * split[cone]
        c1x, c1y = sx[cone] + dx[cone] * reach[cone], sy[cone] + dy[cone] * reach[cone]
        r_s, r_e = rad_s[cone][:, None], rad_e[cone][:, None]
        xs = np.concatenate([c0x[:, None] + r_s * cos, c1x[:, None] + r_e * cos], axis=1)
        ys = np.concatenate([c0y[:, None] + r_s * sin, c1y[:, None] + r_e * sin], axis=1)
        hulls = shapely.convex_hull(shapely.multipoints(np.stack([xs, ys], axis=2)))
        parts.extend(hulls[shapely.get_type_id(hulls) == 3])  # polygons only
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(np.asarray(parts, dtype=object))
