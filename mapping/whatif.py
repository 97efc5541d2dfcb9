"""What-if: proposed kindergartens or schools, and the gap before and after.

Proposals are a services layer (schema of :mod:`layers.services`) with ``source="proposed"``
and ids ``P1``, ``P2``... They are added to an analysis with
:func:`mapping.analysis.apply_proposals`, which does not redo the analysis.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from layers import i18n
from layers.errors import InputError
from layers.services import SERVICE_KINDS, empty_services, validate_services
from mapping.analysis import Analysis

i18n.register(
    {
        "whatif.default_name": {"zh": "拟建{kind} {n}", "en": "Proposed {kind} {n}"},
        "error.whatif.unknown": {
            "zh": "没有编号为 {pid} 的拟建点。",
            "en": "There is no proposal with id {pid}.",
        },
        "error.whatif.kind": {
            "zh": "拟建点的类型“{kind}”无效，可选：{choices}。",
            "en": "Proposal kind '{kind}' is not valid; choose one of: {choices}.",
        },
        "error.whatif.position": {
            "zh": "拟建点的位置（经度 {lon}，纬度 {lat}）无效：经度须在 -180..180，纬度须在 -90..90。",
            "en": "The proposal's position (lon {lon}, lat {lat}) is not valid: longitude must be "
            "within -180..180 and latitude within -90..90.",
        },
    }
)


def make_proposal(
    proposals: gpd.GeoDataFrame | None,
    kind: str,
    lon: float,
    lat: float,
    *,
    name: str | None = None,
    capacity: int | None = None,
    lang: str = "zh",
) -> gpd.GeoDataFrame:
    """A copy of ``proposals`` with one more proposed service at (lon, lat), WGS84 degrees."""
    if kind not in SERVICE_KINDS:
        raise InputError("error.whatif.kind", kind=kind, choices=", ".join(SERVICE_KINDS))
    if not (-180 <= float(lon) <= 180 and -90 <= float(lat) <= 90):
        raise InputError("error.whatif.position", lon=lon, lat=lat)
    base = empty_services() if proposals is None else proposals
    taken = {int(i[1:]) for i in base.index if str(i).startswith("P") and str(i)[1:].isdigit()}
    n = max(taken, default=0) + 1
    pid = f"P{n}"
    label = name or i18n.t("whatif.default_name", lang, kind=i18n.t(f"kind.{kind}", lang), n=n)
    row = gpd.GeoDataFrame(
        {
            "service_id": [pid],
            "kind": [kind],
            "name": [label],
            "capacity": pd.array([capacity], dtype="Int64"),
            "source": ["proposed"],
        },
        geometry=[shapely.Point(float(lon), float(lat))],
        crs="EPSG:4326",
        index=pd.Index([pid], name="service_id"),
    )
    out = pd.concat([base, row]) if len(base) else row
    return validate_services(gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326"))


def remove_proposal(proposals: gpd.GeoDataFrame, pid: str) -> gpd.GeoDataFrame:
    """A copy of ``proposals`` without ``pid``."""
    if pid not in proposals.index:
        raise InputError("error.whatif.unknown", pid=pid)
    return proposals.drop(index=pid)


def move_proposal(
    proposals: gpd.GeoDataFrame, pid: str, lon: float, lat: float
) -> gpd.GeoDataFrame:
    """A copy of ``proposals`` with ``pid`` moved to (lon, lat), WGS84 degrees."""
    if pid not in proposals.index:
        raise InputError("error.whatif.unknown", pid=pid)
    if not (-180 <= float(lon) <= 180 and -90 <= float(lat) <= 90):
        raise InputError("error.whatif.position", lon=lon, lat=lat)
    out = proposals.copy()
    out.loc[pid, "geometry"] = shapely.Point(float(lon), float(lat))
    return out


def compare_gaps(before: Analysis, after: Analysis, kind: str) -> dict[str, tuple[float, float]]:
    """Headline numbers for ``kind`` before and after proposals.

    Returns
    -------
    dict
        ``{name: (before, after)}`` for ``villages_flagged``, ``households_beyond``,
        ``children_beyond`` and ``median_household_dist_m``.
    """

    def numbers(a: Analysis) -> dict[str, float]:
        v, hh = a.villages, a.households
        return {
            "villages_flagged": int(v[f"flag_{kind}"].sum()),
            "households_beyond": int(v[f"n_hh_beyond_{kind}"].sum()),
            "children_beyond": int(v[f"n_children_beyond_{kind}"].fillna(0).sum()),
            "median_household_dist_m": float(hh[f"dist_{kind}_m"].median())
            if len(hh)
            else float("nan"),
        }

    b, a = numbers(before), numbers(after)
    return {key: (b[key], a[key]) for key in b}


def newly_covered_households(before: Analysis, after: Analysis, kind: str) -> list[str]:
    """Ids of the households within ``kind``'s threshold after proposals and not before.

    Compared at the millimetre, as the gap flags are.
    """
    limit = after.settings.threshold_m(kind)
    d0 = before.households[f"dist_{kind}_m"].round(3)
    d1 = after.households[f"dist_{kind}_m"].reindex(d0.index).round(3)
    newly = (d1 <= limit) & ~(d0 <= limit)
    return [str(i) for i in d0.index[newly.to_numpy()]]
