"""Folium maps of an analysis, and their export as one offline, self-contained HTML file.

:func:`draw_map` draws the roads from the network's own vectors (so the map has a basemap with
no internet), the villages coloured by their gap for one service kind, the services (proposed
ones, ``source == "proposed"``, as a pale dashed symbol with a gold star), optionally the
service areas of :func:`mapping.coverage.service_areas`, and the households: in ``full``
privacy mode where they are, with the ones a proposal would newly cover ringed; in
``displaced`` mode moved at random (:mod:`mapping.privacy`).
:func:`render_map_html` and :func:`write_map_html` turn the map into a single HTML file in
which Leaflet's JavaScript, CSS and images are inlined from the ``xstatic-leaflet`` package:
it opens in a browser on a laptop with no network, and it can be e-mailed or copied as one
file.

Privacy: in ``committee`` mode (the default, for sharing with village committees) the HTML
holds no household point, id, name, phone or exact position; households appear only as counts
and distances per village (service areas are drawn from the roads and services alone).
``displaced`` mode (shareable too) draws every household, but 300-600 m away from where it is,
in a random direction (:func:`mapping.privacy.displaced_households`), with only its village
and its road distance, and says so on the map; households never set its extent either.
``full`` mode is for the team's own use and says so on the map.

Every map coordinate is WGS84 lon/lat in degrees, rounded to 6 decimals (about 0.1 m), which
keeps files small without moving anything visibly.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import ElementAddToElement
from folium.template import Template
from folium.utilities import JsCode
from jinja2.utils import htmlsafe_json_dumps

from layers import i18n
from layers.errors import InputError
from layers.files import write_text
from layers.roads import HIGHWAY_CLASSES
from layers.services import SERVICE_KINDS
from layers.tracks import road_class_label
from mapping.gaps import km_text
from mapping.mapmodel import (  # noqa: F401 (names other modules import from here)
    CLOSED_COLOR,
    COMMUNITY_COLOR,
    HIGHLIGHT_COLOR,
    HOUSEHOLD_BINS_M,
    HOUSEHOLD_COLORS,
    OSM_ATTRIBUTION,
    PRIVACY_MODES,
    PROPOSED_SOURCE,
    SERVICE_AREA_COLORS,
    SERVICE_COLORS,
    SLOWED_COLOR,
    STATUS_COLORS,
    UNREACHABLE_COLOR,
    MapModel,
    build_map_model,
    displaced_note,
)
from mapping.mapmodel import ROAD_GROUP_OF as _ROAD_GROUP_OF
from mapping.mapmodel import ROAD_GROUPS as _ROAD_GROUPS
from mapping.mapmodel import area_bands as _area_bands
from mapping.mapmodel import area_color as _area_color
from mapping.mapmodel import area_label as _area_label
from mapping.mapmodel import has_shape as _has_shape
from mapping.mapmodel import household_bins as _household_bins
from mapping.mapmodel import household_class as _household_class
from mapping.mapmodel import is_missing as _missing
from mapping.mapmodel import limit_km as _limit_km
from mapping.mapmodel import proposed_mask as _proposed_mask
from mapping.mapmodel import village_status as _village_status

if TYPE_CHECKING:
    from mapping.analysis import Analysis


COORD_DECIMALS = 6


# Inline SVG service symbols: no icon font, nothing fetched.
_SERVICE_SVG = {
    "kindergarten": (
        '<svg xmlns="http://www.w3.org/2000/svg" width="22" height="22" viewBox="0 0 22 22">'
        '<path d="M11 1.5 L20.5 10 L17 10 L17 20.5 L5 20.5 L5 10 L1.5 10 Z" fill="#7b3294" '
        'stroke="#ffffff" stroke-width="1.5"/></svg>'
    ),
    "school": (
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" viewBox="0 0 20 20">'
        '<rect x="1.5" y="1.5" width="17" height="17" fill="#2166ac" stroke="#ffffff" '
        'stroke-width="1.5"/><rect x="6" y="6" width="8" height="8" fill="#ffffff"/></svg>'
    ),
    "childcare": (
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" viewBox="0 0 20 20">'
        '<path d="M10 1 L19 10 L10 19 L1 10 Z" fill="#01665e" stroke="#ffffff" '
        'stroke-width="1.5"/></svg>'
    ),
}
_SERVICE_SIZE = {"kindergarten": 22, "school": 20, "childcare": 20}


# The kind symbols' outlines without their style, for the proposed variants.
_SERVICE_SHAPE = {
    "kindergarten": '<path d="M11 1.5 L20.5 10 L17 10 L17 20.5 L5 20.5 L5 10 L1.5 10 Z" {style}/>',
    "school": '<rect x="1.5" y="1.5" width="17" height="17" {style}/>',
    "childcare": '<path d="M10 1 L19 10 L10 19 L1 10 Z" {style}/>',
}
# A proposal: its kind's symbol, pale with a dashed outline (not built yet), and a gold star
# at the upper right. The symbol sits 1 px right and 5 px down in a 28 px box.
_PROPOSED_BOX = 28
_PROPOSED_SHIFT = (1, 5)


def _star_points(cx: float, cy: float, outer: float, inner: float) -> str:
    """SVG ``points`` of a five-pointed star, one point up (pixels)."""
    pts = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        a = math.pi / 2 - i * math.pi / 5
        pts.append(f"{cx + r * math.cos(a):.2f},{cy - r * math.sin(a):.2f}")
    return " ".join(pts)


def _proposed_svg(kind: str) -> str:
    color = SERVICE_COLORS[kind]
    style = (
        f'fill="{color}" fill-opacity="0.35" stroke="{color}" stroke-width="2.2" '
        'stroke-dasharray="3 2"'
    )
    box, (dx, dy) = _PROPOSED_BOX, _PROPOSED_SHIFT
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{box}" height="{box}" '
        f'viewBox="0 0 {box} {box}"><g transform="translate({dx} {dy})">'
        + _SERVICE_SHAPE[kind].format(style=style)
        + f'</g><polygon points="{_star_points(21.5, 6.5, 6.0, 2.6)}" fill="#ffd700" '
        'stroke="#5a4500" stroke-width="0.9"/></svg>'
    )


_PROPOSED_SVG = {kind: _proposed_svg(kind) for kind in _SERVICE_SVG}


# --------------------------------------------------------------------------------------------
# Small helpers


def _esc(value: object) -> str:
    """HTML-escape data for popups, tooltips and the legend (quotes too: attributes are safe)."""
    return html.escape(str(value), quote=True)


def _km(metres: object, lang: str, limit_m: float | None = None) -> str:
    """A distance for a popup, with the decimals that agree with the flag (see
    :func:`mapping.gaps.km_text`)."""
    if _missing(metres):
        return i18n.t("map.popup.unknown", lang)
    return i18n.t("map.popup.km", lang, km=km_text(float(metres), limit_m))


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float), COORD_DECIMALS)


def _round_geometry(geom: shapely.Geometry) -> dict:
    """GeoJSON geometry dict with coordinates rounded to :data:`COORD_DECIMALS`."""
    rounded = shapely.transform(geom, lambda c: np.round(c, COORD_DECIMALS))
    return shapely.geometry.mapping(rounded)


#: Routes are drawn simplified to this tolerance (m) and rounded to this many decimals of a
#: degree (about 1 m): a line a few pixels wide shows no more.
ROUTE_DISPLAY_TOLERANCE_M = 5.0
ROUTE_DECIMALS = 5

#: The map's own CSS and scripts, kept as files (mapping/static/map) so they can be read and
#: linted as what they are.
STATIC_DIR = Path(__file__).resolve().parent / "static" / "map"


def _static(name: str) -> str:
    """The text of a file in :data:`STATIC_DIR` (without the leading comment lines of a
    script, which only document the file)."""
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    if name.endswith(".js"):
        lines = text.splitlines()
        while lines and lines[0].startswith("//"):
            lines.pop(0)
        text = "\n".join(lines)
    return text.strip()


#: Leaflet popup options: as wide as a popup needs up to 360 px, but never wider than the screen
#: (a phone is 360-430 px wide), and panned clear of the title and the layer list.
_POPUP_OPTIONS = (
    "{maxWidth: Math.min(360, window.innerWidth - 70), "
    "autoPanPaddingTopLeft: L.point(10, 70), autoPanPaddingBottomRight: L.point(10, 10)}"
)


def _table(rows: list[tuple[str, str]]) -> str:
    """An HTML table of already-escaped (label, value) pairs."""
    cells = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="gm-table">{cells}</table>'


# Binding popups and tooltips from pre-escaped feature properties: the strings were escaped in
# Python, and Leaflet only ever gets them as HTML we built.
_BIND_JS = JsCode(_static("bind_popup.js") % {"popup_options": _POPUP_OPTIONS})


def _feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


class _Text(Element):
    """Text put into the page as it is.

    branca compiles an ``Element``'s text as a jinja template, and ``MacroElement.render``
    wraps every rendered part of a map element in a new ``Element``: any name from a file that
    reached that text (``{{ ... }}``, ``{% raw %}``, ``{#``) would be evaluated or would crash
    the render. Everything this module adds to a page goes in through this class instead.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs) -> str:
        return self._text


class _Inert(MacroElement):
    """Mixin for our ``MacroElement`` subclasses: their rendered parts go into the page as
    :class:`_Text`, not as new templates (see there). Same behaviour as
    ``branca.element.MacroElement.render`` otherwise."""

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        module = self._template.module.__dict__
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = module.get(part)
            if macro is not None:
                target.add_child(_Text(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


def geojson_text(data: dict) -> str:
    """GeoJSON as the text jinja's ``tojson`` filter writes (sorted keys, ``<>&'`` escaped),
    safe inside a ``<script>`` element."""
    return htmlsafe_json_dumps(data, dumps=json.dumps, sort_keys=True)


class PreparedGeoJson(_Inert, folium.map.Layer):
    """A GeoJSON layer whose data is serialized once, when it is made.

    folium's ``GeoJson`` serializes its data again on every render, writes one ``case`` per
    feature into its style function, and walks every coordinate in Python to find its bounds;
    ``st_folium`` renders a map two or three times on every rerun of the app. For a county
    (100k road nodes, 20,000 households) that was 4-5 s per rerun. Here the data is JSON text
    (the same text jinja's ``tojson`` writes), features are styled by their ``s`` property
    through one lookup table, and the bounds are given.

    Parameters
    ----------
    data
        A GeoJSON FeatureCollection, every feature with a ``properties.s`` naming its style;
        or that collection already as text from :func:`geojson_text`.
    styles
        Leaflet path options per style name.
    bounds
        ``[south, west, north, east]`` of the data, or None.
    name
        The layer's name in the layer control.
    point_radius
        Draw points as circle markers of this radius (pixels); lines and polygons otherwise.
    point_icon
        Draw points as markers with this ``L.divIcon`` (options: ``html``, ``className``,
        ``iconSize``, ``iconAnchor``); our own symbols, never text from the data.
    on_each_feature
        JavaScript ``function (feature, layer)`` run for each feature (popups, tooltips).
    interactive, class_name, attribution
        Leaflet options of the layer.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }}_styles = {{ this.styles_json }};
        var {{ this.get_name() }} = L.geoJson(null, {
            style: function (feature) {
                return {{ this.get_name() }}_styles[feature.properties.s];
            },
            {%- if this.point_radius is not none %}
            pointToLayer: function (feature, latlng) {
                return L.circleMarker(latlng, Object.assign(
                    {radius: {{ this.point_radius|tojson }}, fill: true},
                    {{ this.get_name() }}_styles[feature.properties.s]));
            },
            {%- endif %}
            {%- if this.point_icon_json is not none %}
            pointToLayer: function (feature, latlng) {
                return L.marker(latlng, {icon: L.divIcon({{ this.point_icon_json }})});
            },
            {%- endif %}
            {%- if this.on_each_feature %}
            onEachFeature: {{ this.on_each_feature }},
            {%- endif %}
            {%- if this.class_name %}
            className: {{ this.class_name|tojson }},
            {%- endif %}
            {%- if this.attribution %}
            attribution: {{ this.attribution|tojson }},
            {%- endif %}
            interactive: {{ this.interactive|tojson }}
        });
        {{ this.get_name() }}.addData({{ this.data_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: dict | str,
        styles: dict[str, dict],
        bounds: list[float] | None,
        *,
        name: str,
        point_radius: float | None = None,
        point_icon: dict | None = None,
        on_each_feature: str | JsCode | None = None,
        interactive: bool = True,
        class_name: str | None = None,
        attribution: str | None = None,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "PreparedGeoJson"
        # the exact text jinja's tojson filter writes (sorted keys, <>&' escaped): computed
        # once here instead of on every render
        self.data_json = data if isinstance(data, str) else geojson_text(data)
        self.styles_json = htmlsafe_json_dumps(styles, dumps=json.dumps, sort_keys=True)
        self.bounds = bounds
        self.point_radius = point_radius
        self.point_icon_json = (
            None
            if point_icon is None
            else htmlsafe_json_dumps(point_icon, dumps=json.dumps, sort_keys=True)
        )
        if isinstance(on_each_feature, JsCode):
            on_each_feature = on_each_feature.js_code
        self.on_each_feature = on_each_feature
        self.interactive = interactive
        self.class_name = class_name
        self.attribution = attribution

    def render(self, **kwargs) -> None:
        """As folium's ``Layer.render``, but the script goes in as plain text (:class:`_Inert`).

        This is also what keeps a county's map fast: with megabytes of GeoJSON in the script,
        branca's compile of that text as a template was the largest cost of drawing it.
        """
        if self.show:
            self.add_child(
                ElementAddToElement(
                    element_name=self.get_name(), element_parent_name=self._parent.get_name()
                ),
                name=self.get_name() + "_add",
            )
        super().render(**kwargs)

    def _get_self_bounds(self) -> list[list[float | None]]:
        if self.bounds is None:
            return [[None, None], [None, None]]
        south, west, north, east = self.bounds
        return [[south, west], [north, east]]


# --------------------------------------------------------------------------------------------
# Layers


def _road_lines(network) -> dict[str, list[list[list[float]]]]:
    """The network's segments merged into polylines per OSM way, grouped by road style.

    Consecutive segments of one way that chain (``v`` of one is ``u`` of the next) make one
    polyline; a way is split where the chain breaks (segments a mode may not use were dropped).
    Coordinates are [lon, lat] degrees rounded to 6 decimals.
    """
    n = network.n_segments
    out: dict[str, list[list[list[float]]]] = {}
    if n == 0:
        return out
    lon, lat = network.to_lonlat(network.x, network.y)
    lon, lat = _round(lon), _round(lat)
    u, v = network.seg_u, network.seg_v
    way, hw = network.seg_way_id, network.seg_highway
    starts_new = np.ones(n, dtype=bool)
    starts_new[1:] = (way[1:] != way[:-1]) | (u[1:] != v[:-1]) | (hw[1:] != hw[:-1])
    starts = np.flatnonzero(starts_new)
    ends = np.append(starts[1:], n)
    for s, e in zip(starts, ends, strict=True):
        nodes = np.append(u[s:e], v[e - 1])
        xy = np.column_stack([lon[nodes], lat[nodes]])
        # rounding can make neighbours coincide; a repeated vertex only costs bytes
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
        xy = xy[keep]
        if len(xy) < 2:
            continue
        group = _ROAD_GROUP_OF.get(HIGHWAY_CLASSES[int(hw[s])], "path")
        out.setdefault(group, []).append(xy.tolist())
    return out


def _add_roads(m: folium.Map, network, lang: str) -> list[float] | None:
    """Add the road layer; return its bounds [south, west, north, east] or None."""
    prepared = _prepared_roads(network)
    if prepared is None:
        return None
    text, styles, bounds = prepared
    PreparedGeoJson(
        text,
        styles,
        bounds,
        name=i18n.t("map.layer.roads", lang),
        interactive=False,
        class_name="gm-road",
        attribution=OSM_ATTRIBUTION,
    ).add_to(m)
    return bounds


def _prepared_roads(network) -> tuple[str, dict, list[float]] | None:
    """The road layer's GeoJSON text, styles and bounds, made once per network (the roads of
    a county are most of a map's bytes; every rerun of the app draws them)."""
    key = "map_roads"
    if key not in network._cache:
        lines = _road_lines(network)
        if not lines:
            network._cache[key] = None
            return None
        styles = {}
        features = []
        for i, (group, parts) in enumerate(
            sorted(lines.items(), key=lambda kv: -_ROAD_GROUPS[kv[0]][1])
        ):
            color, weight, dash = _ROAD_GROUPS[group]
            styles[group] = {"color": color, "weight": weight, "opacity": 0.9, "dashArray": dash}
            features.append(
                {
                    "type": "Feature",
                    "id": i,
                    "properties": {"s": group},
                    "geometry": {"type": "MultiLineString", "coordinates": parts},
                }
            )
        allxy = np.array([p for parts in lines.values() for line in parts for p in line])
        bounds = [allxy[:, 1].min(), allxy[:, 0].min(), allxy[:, 1].max(), allxy[:, 0].max()]
        bounds = [float(v) for v in bounds]
        network._cache[key] = (geojson_text(_feature_collection(features)), styles, bounds)
    return network._cache[key]


def _village_popup(
    row: pd.Series, kind: str, limit_m: float, lang: str, status: str, mode: str = ""
) -> str:
    kind_name = i18n.t(f"kind.{kind}", lang)
    limit = _limit_km(limit_m)
    head = (
        f'<div class="gm-popup"><b class="gm-name">{_esc(row["village_name"])}</b><br>'
        f'<span class="gm-status gm-status-{status}">'
        f"{_esc(i18n.t(f'map.status.{status}', lang, limit=limit))}</span>"
        f'<p class="gm-reason">{_esc(row[f"reason_{kind}_{lang}"])}</p>'
    )
    rows = []
    minutes = row.get(f"time_{kind}_min")
    if not _missing(minutes):
        rows.append(
            (
                _esc(i18n.t("map.popup.time", lang, kind=kind_name)),
                _esc(i18n.t("map.popup.minutes", lang, min=f"{float(minutes):.0f}", mode=mode)),
            )
        )
    n_hh = int(row["n_households"])
    if n_hh:
        rows.append((_esc(i18n.t("map.popup.households", lang)), str(n_hh)))
        if not _missing(row["n_children"]):
            rows.append((_esc(i18n.t("map.popup.children", lang)), str(int(row["n_children"]))))
        rows.append(
            (
                _esc(i18n.t("map.popup.median", lang, kind=kind_name)),
                _esc(_km(row[f"median_hh_dist_{kind}_m"], lang, limit_m)),
            )
        )
        rows.append(
            (
                _esc(i18n.t("map.popup.max", lang)),
                _esc(_km(row[f"max_hh_dist_{kind}_m"], lang, limit_m)),
            )
        )
        beyond = int(row[f"n_hh_beyond_{kind}"])
        kids = row[f"n_children_beyond_{kind}"]
        value = (
            str(beyond)
            if _missing(kids)
            else i18n.t("map.popup.beyond_value", lang, n=beyond, children=int(kids))
        )
        rows.append((_esc(i18n.t("map.popup.beyond", lang, limit=limit)), _esc(value)))
    return head + (_table(rows) if rows else "") + "</div>"


def _route_lines(routes: gpd.GeoDataFrame | None, crs) -> dict[str, list[list[float]]]:
    """Each village's route as Leaflet ``[lat, lng]`` pairs, simplified for display.

    Routes follow every bend of the roads; for a line drawn a few pixels wide, vertices
    within :data:`ROUTE_DISPLAY_TOLERANCE_M` of the line add bytes, not shape (a county's
    2,000 routes would otherwise add megabytes to the file).
    """
    if routes is None or len(routes) == 0:
        return {}
    simple = routes.to_crs(crs).simplify(ROUTE_DISPLAY_TOLERANCE_M).to_crs("EPSG:4326")
    out = {}
    for vid, line in zip(routes["from_id"], simple, strict=True):
        xy = np.round(np.asarray(line.coords), ROUTE_DECIMALS)
        out[str(vid)] = [[float(y), float(x)] for x, y in xy]
    return out


def _add_villages(
    m: folium.Map,
    villages: pd.DataFrame,
    kind: str,
    limit_m: float,
    lang: str,
    routes: gpd.GeoDataFrame | None = None,
    crs=None,
    mode: str = "",
) -> list[float] | None:
    """Add the village boundary and point layers; return the points' bounds or None.

    ``routes`` (of :func:`mapping.routes.trace_routes`, ``crs`` the network's): opening a
    village's popup draws its route to the nearest service, and the popup says how long it
    is and where it leads.
    """
    if len(villages) == 0:
        return None
    limit = _limit_km(limit_m)
    lines = _route_lines(routes, crs)
    route_of = {} if routes is None else {str(r.from_id): r for r in routes.itertuples()}
    points, areas = [], []
    for i, (vid, row) in enumerate(villages.iterrows()):
        status = _village_status(row, kind)
        popup = _village_popup(row, kind, limit_m, lang, status, mode)
        route = route_of.get(str(vid))
        if route is not None:
            text = i18n.t(
                "map.popup.route",
                lang,
                km=f"{route.dist_m / 1000:.1f}",
                name=route.service_name or route.service_id,
            )
            popup = popup[: -len("</div>")] + f'<p class="gm-route-note">{_esc(text)}</p></div>'
        tip = (
            f"<b>{_esc(row['village_name'])}</b><br>"
            f"{_esc(i18n.t(f'map.status.{status}', lang, limit=limit))}"
        )
        props = {"s": status, "popup": popup, "tip": tip}
        if str(vid) in lines:
            props["route"] = lines[str(vid)]
        points.append(
            {
                "type": "Feature",
                "id": i,
                "properties": props,
                "geometry": _round_geometry(row.geometry),
            }
        )
        if _has_shape(row["boundary"]):
            areas.append(
                {
                    "type": "Feature",
                    "id": i,
                    "properties": {"s": status, "popup": popup},
                    "geometry": _round_geometry(row["boundary"]),
                }
            )
    if areas:
        area_styles = {
            s: {
                "color": c,
                "weight": 3.0 if s == "flag" else 1.5,
                "opacity": 0.9,
                "fillColor": c,
                "fillOpacity": 0.12 if s == "flag" else 0.06,
            }
            for s, c in STATUS_COLORS.items()
        }
        PreparedGeoJson(
            _feature_collection(areas),
            area_styles,
            None,
            name=i18n.t("map.layer.boundaries", lang),
            on_each_feature=_BIND_JS,
            class_name="gm-boundary",
        ).add_to(m)
    point_styles = {
        s: {
            "radius": {"flag": 9, "warn": 7, "ok": 6}[s],
            "color": "#222222",
            "weight": 3 if s == "flag" else 1.5,
            "fillColor": c,
            "fillOpacity": 0.95,
            "className": f"gm-village gm-village-{s}",
        }
        for s, c in STATUS_COLORS.items()
    }
    xy = np.array([f["geometry"]["coordinates"] for f in points], dtype=float)
    bounds = [xy[:, 1].min(), xy[:, 0].min(), xy[:, 1].max(), xy[:, 0].max()]
    PreparedGeoJson(
        _feature_collection(points),
        point_styles,
        bounds,
        name=i18n.t("map.layer.villages", lang),
        point_radius=6,
        on_each_feature=_BIND_JS,
    ).add_to(m)
    return bounds


def _js_str(value: object) -> str:
    """A JavaScript string literal that is safe inside an HTML ``<script>`` element."""
    return (
        json.dumps(str(value))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


# Household popups are built in the browser from compact properties (ten thousand pre-built
# HTML popups would make the file several times larger). Every value from the data goes through
# esc(); the labels are our own translations, escaped in Python.
_HOUSEHOLD_JS = _static("household_popup.js")


def _text_or_none(values: pd.Series) -> list[str | None]:
    return [None if _missing(v) else str(v) for v in values]


def _household_points(
    m: folium.Map, data: tuple[str, dict], js: str, layer_key: str, lang: str
) -> None:
    """One layer of household points coloured by distance class, popups built by ``js``;
    ``data`` is the features' text and styles from :func:`_household_data`."""
    text, styles = data
    PreparedGeoJson(
        text,
        styles,
        None,  # households never set a map's extent by their layer (see the callers)
        name=i18n.t(layer_key, lang),
        point_radius=4,
        on_each_feature=js,
    ).add_to(m)


def _household_data(features: list[dict], class_name: str, lang: str) -> tuple[str, dict]:
    """The GeoJSON text of household features and the styles of the classes they use."""
    styles = {
        key: {
            "radius": 4,
            "color": "#333333",
            "weight": 0.6,
            "fillColor": color,
            "fillOpacity": 0.95,
            "className": class_name,
        }
        for key, color, _ in _household_bins(lang)
    }
    used = {f["properties"]["s"] for f in features}
    text = geojson_text(_feature_collection(features))
    return text, {k: v for k, v in styles.items() if k in used}


#: Household layers of ``full`` maps already made: (households frame, kind, lang) -> parts.
#: Keyed by the frame's identity (analyses never change a frame in place; a threshold change
#: keeps the same households frame), so the app's reruns do not rebuild 20,000 features.
_HOUSEHOLD_LAYERS: OrderedDict[tuple, tuple] = OrderedDict()
_HOUSEHOLD_LAYERS_LOCK = threading.Lock()


def _add_households(
    m: folium.Map, households: pd.DataFrame, kind: str, lang: str, limit_m: float, mode: str
) -> list[float] | None:
    """Add household points (``full`` privacy only); return their bounds or None."""
    if len(households) == 0:
        return None
    key = (id(households), kind, lang, mode)
    with _HOUSEHOLD_LAYERS_LOCK:
        made = _HOUSEHOLD_LAYERS.get(key)
        if made is not None and made[0] is households:
            _HOUSEHOLD_LAYERS.move_to_end(key)
    if made is None or made[0] is not households:
        made = (households, *_household_layer(households, kind, lang, mode))
        with _HOUSEHOLD_LAYERS_LOCK:
            _HOUSEHOLD_LAYERS[key] = made
            while len(_HOUSEHOLD_LAYERS) > 4:
                _HOUSEHOLD_LAYERS.popitem(last=False)
    _, data, js, bounds = made
    js = js.replace("__GM_LIMIT_M__", json.dumps(float(limit_m)))
    _household_points(m, data, js, "map.layer.households", lang)
    return bounds


def _household_layer(
    households: pd.DataFrame, kind: str, lang: str, mode: str = ""
) -> tuple[tuple[str, dict], str, list[float]]:
    """The parts of a ``full`` map's household layer: (GeoJSON text, styles), the popup
    script, and the households' bounds."""
    n = len(households)
    kind_name = i18n.t(f"kind.{kind}", lang)
    lon, lat = _round(households.geometry.x).tolist(), _round(households.geometry.y).tolist()
    dist_m = households[f"dist_{kind}_m"].to_numpy(dtype=float)
    # 4 decimals (0.1 m): the popup shows as many as agree with the threshold (km() in the
    # script); the threshold is filled in when the map is drawn, so a threshold change in the
    # app reuses these features
    dist_km = [None if math.isnan(d) else round(d / 1000, 4) for d in dist_m]
    classes = [_household_class(d) for d in dist_m]
    time_col = households.get(f"time_{kind}_min")
    minutes = (
        [None] * n
        if time_col is None
        else [None if math.isnan(t) else round(t) for t in time_col.to_numpy(dtype=float)]
    )
    ids = [str(i) for i in households.index]
    empty = pd.Series([None] * n, index=households.index, dtype="object")
    names = _text_or_none(households.get("name", empty))
    phones = _text_or_none(households.get("phone", empty))
    children = [None if _missing(c) else int(c) for c in households.get("children", empty)]
    villages = households.get("village_name", empty)
    village_list = sorted({str(v) for v in villages if not _missing(v)})
    village_ix = {v: i for i, v in enumerate(village_list)}
    nearest = households.get(f"nearest_{kind}", empty)
    nearest_list = sorted({str(v) for v in nearest if not _missing(v)})
    nearest_ix = {v: i for i, v in enumerate(nearest_list)}
    # plain lists: pandas' per-row access was most of this loop's time on 20,000 households
    village_values = villages.tolist()
    nearest_values = nearest.tolist()
    features = []
    for i in range(n):
        props = {"s": classes[i], "i": ids[i], "d": dist_km[i]}
        for key, value in (
            ("n", names[i]),
            ("p", phones[i]),
            ("c", children[i]),
            ("t", minutes[i]),
        ):
            if value is not None:
                props[key] = value
        v, k = village_values[i], nearest_values[i]
        if not _missing(v):
            props["v"] = village_ix[str(v)]
        if not _missing(k):
            props["k"] = nearest_ix[str(k)]
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [lon[i], lat[i]]},
            }
        )
    labels = {
        "id": _esc(i18n.t("map.popup.household_id", lang)),
        "name": _esc(i18n.t("map.popup.name", lang)),
        "phone": _esc(i18n.t("map.popup.phone", lang)),
        "village": _esc(i18n.t("map.popup.village", lang)),
        "children": _esc(i18n.t("map.popup.children", lang)),
        "distance": _esc(i18n.t("map.popup.distance", lang, kind=kind_name)),
        "time": _esc(i18n.t("map.popup.time", lang, kind=kind_name)),
        "minutes": _esc(i18n.t("map.popup.minutes", lang, min="{min}", mode=mode)),
        "nearest": _esc(i18n.t("map.popup.nearest", lang, kind=kind_name)),
        "unreachable": _esc(i18n.t("map.bin.unreachable", lang)),
        "km": i18n.t("map.popup.km", lang, km="{km}"),
    }
    js = _HOUSEHOLD_JS % {
        "popup_options": _POPUP_OPTIONS,
        "labels": "{" + ", ".join(f"{k}: {_js_str(v)}" for k, v in labels.items()) + "}",
        "villages": "[" + ", ".join(_js_str(v) for v in village_list) + "]",
        "nearest": "[" + ", ".join(_js_str(v) for v in nearest_list) + "]",
    }
    data = _household_data(features, "gm-household", lang)
    return data, js, [min(lat), min(lon), max(lat), max(lon)]


# Popups and tooltips of displaced households: the village and the distance, nothing else
# (there is nothing else in the properties to show).
_DISPLACED_JS = _static("displaced_popup.js")


def _add_displaced_households(
    m: folium.Map, displaced: gpd.GeoDataFrame, kind: str, lang: str
) -> None:
    """Add households moved at random (``displaced`` privacy, see
    :func:`mapping.privacy.displaced_households`), class ``gm-household gm-displaced``.

    Returns no bounds on purpose: the map's extent must not follow household points, moved or
    not (a lone far household would still widen it towards where it is).
    """
    if len(displaced) == 0:
        return
    kind_name = i18n.t(f"kind.{kind}", lang)
    lon = _round(displaced.geometry.x).tolist()
    lat = _round(displaced.geometry.y).tolist()
    dist_km = [None if _missing(d) else float(d) for d in displaced[f"dist_{kind}_km"]]
    classes = [
        "u" if _missing(c) else str(int(c)) for c in displaced[f"dist_{kind}_class"].astype(object)
    ]
    villages = displaced["village_name"]
    village_list = sorted({str(v) for v in villages if not _missing(v)})
    village_ix = {v: i for i, v in enumerate(village_list)}
    village_values = villages.tolist()
    features = []
    for i in range(len(displaced)):
        props: dict[str, object] = {"s": classes[i], "d": dist_km[i]}
        v = village_values[i]
        if not _missing(v):
            props["v"] = village_ix[str(v)]
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [lon[i], lat[i]]},
            }
        )
    labels = {
        "village": _esc(i18n.t("map.popup.village", lang)),
        "distance": _esc(i18n.t("map.popup.distance", lang, kind=kind_name)),
        "unreachable": _esc(i18n.t("map.bin.unreachable", lang)),
        "km": i18n.t("map.popup.km", lang, km="{km}"),
    }
    js = _DISPLACED_JS % {
        "popup_options": _POPUP_OPTIONS,
        "labels": "{" + ", ".join(f"{k}: {_js_str(v)}" for k, v in labels.items()) + "}",
        "villages": "[" + ", ".join(_js_str(v) for v in village_list) + "]",
    }
    data = _household_data(features, "gm-household gm-displaced", lang)
    _household_points(m, data, js, "map.layer.households_displaced", lang)


def _add_services(
    m: folium.Map, services: pd.DataFrame, focus: str, lang: str
) -> list[float] | None:
    """Add one layer of services per kind, with inline-SVG symbols; return their bounds.

    The ``focus`` kind is added last so that its symbols are drawn on top (kindergartens often
    share a town centre with a school). Proposals (``source == "proposed"``) get layers of
    their own, over the existing services, with a pale dashed symbol and a gold star
    (class ``gm-proposed``) and "proposed" in their tooltip and popup.
    """
    if len(services) == 0:
        return None
    proposed = _proposed_mask(services)
    for is_proposal in (False, True):
        for kind in sorted(SERVICE_KINDS, key=lambda k: k == focus):
            sub = services[(services["kind"] == kind).to_numpy() & (proposed == is_proposal)]
            if len(sub) == 0:
                continue
            _add_service_layer(m, sub, kind, lang, proposal=is_proposal)
    xy = np.column_stack([services.geometry.x, services.geometry.y])
    return [xy[:, 1].min(), xy[:, 0].min(), xy[:, 1].max(), xy[:, 0].max()]


def _add_service_layer(
    m: folium.Map, services: pd.DataFrame, kind: str, lang: str, *, proposal: bool
) -> None:
    """One layer of services of one kind: existing ones, or proposals."""
    kind_name = i18n.t(f"kind.{kind}", lang)
    features = []
    for i, (_, row) in enumerate(services.iterrows()):
        rows = []
        if "capacity" in row and not _missing(row["capacity"]):
            rows.append((_esc(i18n.t("map.popup.capacity", lang)), str(int(row["capacity"]))))
        if proposal:
            what = (
                '<span class="gm-proposed-tag">'
                f"{_esc(i18n.t('map.popup.proposed', lang, kind=kind_name))}</span>"
            )
            tip = _esc(i18n.t("map.tip.proposed", lang, name=row["name"]))
        else:
            what, tip = _esc(kind_name), _esc(row["name"])
        popup = (
            f'<div class="gm-popup"><b class="gm-name">{_esc(row["name"])}</b><br>'
            f"{what}{_table(rows) if rows else ''}</div>"
        )
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {"s": "p", "popup": popup, "tip": tip},
                "geometry": _round_geometry(row.geometry),
            }
        )
    size = _SERVICE_SIZE[kind]
    if proposal:
        dx, dy = _PROPOSED_SHIFT
        icon = {
            "html": _PROPOSED_SVG[kind],
            "iconSize": [_PROPOSED_BOX, _PROPOSED_BOX],
            # the symbol's centre, not the box's
            "iconAnchor": [dx + size // 2, dy + size // 2],
            "className": f"gm-service gm-proposed gm-proposed-{kind}",
        }
        name = i18n.t("map.layer.proposed", lang, kind=kind_name)
    else:
        icon = {
            "html": _SERVICE_SVG[kind],
            "iconSize": [size, size],
            "iconAnchor": [size // 2, size // 2],
            "className": f"gm-service gm-service-{kind}",
        }
        name = i18n.t("map.layer.services", lang, kind=kind_name)
    xy = np.array([f["geometry"]["coordinates"] for f in features], dtype=float)
    PreparedGeoJson(
        _feature_collection(features),
        {"p": {}},
        [xy[:, 1].min(), xy[:, 0].min(), xy[:, 1].max(), xy[:, 0].max()],
        name=name,
        point_icon=icon,
        on_each_feature=_BIND_JS,
    ).add_to(m)


def _add_service_areas(m: folium.Map, areas: gpd.GeoDataFrame, lang: str) -> list[float]:
    """Add the service areas (EPSG:4326) as one translucent layer; return its bands (m).

    Farther bands are drawn first, so the nearer ones (darker) lie on top; the layer takes no
    clicks, so the villages and services under and over it stay clickable. Empty shapes (a
    service that reaches nothing within a band) are left out.
    """
    bands = _area_bands(areas)
    if not bands:
        return []
    rank = {b: i for i, b in enumerate(bands)}
    features = []
    rows = [(float(b), g) for b, g in zip(areas["band_m"], areas.geometry, strict=True)]
    for band, geom in sorted(rows, key=lambda r: -r[0]):
        if not _has_shape(geom):
            continue
        features.append(
            {
                "type": "Feature",
                "id": len(features),
                "properties": {"s": str(rank[band]), "band_m": band},
                "geometry": _round_geometry(geom),
            }
        )
    styles = {
        str(i): {
            "color": _area_color(i),
            "weight": 1.0,
            "opacity": 0.6,
            "fillColor": _area_color(i),
            "fillOpacity": 0.2,
        }
        for i in range(len(bands))
    }
    PreparedGeoJson(
        _feature_collection(features),
        styles,
        None,
        name=i18n.t("map.layer.service_areas", lang),
        interactive=False,
        class_name="gm-service-area",
    ).add_to(m)
    return bands


def _add_highlight(m: folium.Map, households: pd.DataFrame, ids: list[str], lang: str) -> None:
    """Ring the households ``ids`` (``full`` privacy only); the ring takes no clicks, so the
    household point inside it keeps its popup."""
    if not ids:
        return
    sub = households.loc[households.index.astype(str).isin(ids)]
    lon, lat = _round(sub.geometry.x).tolist(), _round(sub.geometry.y).tolist()
    features = [
        {
            "type": "Feature",
            "id": i,
            "properties": {"s": "h"},
            "geometry": {"type": "Point", "coordinates": [x, y]},
        }
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    style = {
        "radius": 9,
        "color": HIGHLIGHT_COLOR,
        "weight": 3,
        "opacity": 1.0,
        "fill": False,
        "className": "gm-highlight",
        # markers made by pointToLayer take the style's options, not the layer's
        "interactive": False,
    }
    PreparedGeoJson(
        _feature_collection(features),
        {"h": style},
        None,
        name=i18n.t("map.layer.highlight", lang),
        point_radius=9,
        interactive=False,
    ).add_to(m)


def _add_corrections(m: folium.Map, model: MapModel) -> None:
    """The community roads and the closed or slowed roads, each a layer with popups."""
    lang = model.lang
    if model.community is not None:
        features = []
        for i, row in enumerate(model.community.itertuples()):
            name = row.name if isinstance(row.name, str) and row.name else row.road_id
            text = i18n.t(
                "map.popup.community", lang, name=name,
                cls=road_class_label(row.road_class, lang), km=f"{row.length_m / 1000:.1f}",
            )  # fmt: skip
            popup = f'<div class="gm-popup">{_esc(text)}'
            who = getattr(row, "added_by", None)
            if isinstance(who, str) and who:
                popup += f"<br>{_esc(i18n.t('map.popup.community_by', lang, who=who))}"
            features.append(
                {
                    "type": "Feature",
                    "id": i,
                    "properties": {"s": "c", "popup": popup + "</div>", "tip": _esc(text)},
                    "geometry": _round_geometry(row.geometry),
                }
            )
        PreparedGeoJson(
            _feature_collection(features),
            {"c": {"color": COMMUNITY_COLOR, "weight": 4.5, "opacity": 0.95}},
            None,
            name=i18n.t("map.layer.community", lang),
            on_each_feature=_BIND_JS,
            class_name="gm-community",
        ).add_to(m)
    if model.conditions is not None:
        features = []
        for i, row in enumerate(model.conditions.itertuples()):
            closed = row.effect == "closed"
            text = (
                i18n.t("map.popup.closed", lang, condition=row.condition)
                if closed
                else i18n.t(
                    "map.popup.slowed", lang, condition=row.condition, speed=f"{row.speed_kmh:g}"
                )
            )
            features.append(
                {
                    "type": "Feature",
                    "id": i,
                    "properties": {
                        "s": "x" if closed else "w",
                        "popup": f'<div class="gm-popup">{_esc(text)}</div>',
                        "tip": _esc(text),
                    },
                    "geometry": _round_geometry(row.geometry),
                }
            )
        names = _condition_names(model)
        PreparedGeoJson(
            _feature_collection(features),
            {
                "x": {"color": CLOSED_COLOR, "weight": 6, "opacity": 0.95, "dashArray": "6 5"},
                "w": {"color": SLOWED_COLOR, "weight": 6, "opacity": 0.95, "dashArray": "1 7"},
            },
            None,
            name=i18n.t("map.layer.closed", lang, names=names),
            on_each_feature=_BIND_JS,
            class_name="gm-closed",
        ).add_to(m)


def _add_placed_at_village(m: folium.Map, model: MapModel) -> None:
    """A hollow ring at each village whose households without coordinates were placed there,
    its tooltip saying how many (they are counted, not drawn as dots)."""
    if not len(model.placed_at_village):
        return
    v = model.analysis.villages
    features = []
    for i, (vid, n) in enumerate(model.placed_at_village.items()):
        if vid not in v.index:
            continue
        text = i18n.t("map.placed", model.lang, village=v.at[vid, "village_name"], n=int(n))
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {"s": "p", "tip": _esc(text), "popup": _esc(text)},
                "geometry": _round_geometry(v.at[vid, "geometry"]),
            }
        )
    style = {"radius": 13, "color": "#555555", "weight": 2, "dashArray": "3 3", "fill": False,
             "className": "gm-placed"}  # fmt: skip
    PreparedGeoJson(
        _feature_collection(features),
        {"p": style},
        None,
        name=i18n.t("map.layer.placed", model.lang),
        point_radius=13,
        on_each_feature=_BIND_JS,
    ).add_to(m)


def _condition_names(model: MapModel) -> str:
    return ("、" if model.lang == "zh" else ", ").join(model.condition_names)


def _add_study_area(
    m: folium.Map, outline: shapely.Geometry | None, lang: str
) -> list[float] | None:
    """Add the study area's outline (dashed); return its bounds or None."""
    if not _has_shape(outline):
        return None
    west, south, east, north = outline.bounds
    bounds = [south, west, north, east]
    PreparedGeoJson(
        _feature_collection(
            [{"type": "Feature", "properties": {"s": "a"}, "geometry": _round_geometry(outline)}]
        ),
        {"a": {"color": "#3f007d", "weight": 2, "dashArray": "8 6", "fill": False}},
        bounds,
        name=i18n.t("map.layer.study_area", lang),
        interactive=False,
        class_name="gm-study-area",
    ).add_to(m)
    return bounds


class _LayerControl(folium.LayerControl, _Inert):
    """folium's layer list, rendered inert (:class:`_Inert`), and folded on a small screen
    (a phone) even where it starts open on a laptop: open, it covers the title and notice."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_layers = {
                base_layers : {
                    {%- for key, val in this.base_layers.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
                overlays :  {
                    {%- for key, val in this.overlays.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
            };
            var {{ this.get_name() }}_small = !!(window.matchMedia
                && window.matchMedia("(max-width: 600px)").matches);
            let {{ this.get_name() }} = L.control.layers(
                {{ this.get_name() }}_layers.base_layers,
                {{ this.get_name() }}_layers.overlays,
                Object.assign({{ this.options|tojavascript }},
                    {collapsed: {{ this.options.collapsed|tojson }}
                        || {{ this.get_name() }}_small})
            ).addTo({{this._parent.get_name()}});
        {% endmacro %}
        """
    )


class _DrawTexts(_Inert, MacroElement):
    """Leaflet.draw's toolbar texts (``L.drawLocal``) in the map's language."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if (window.L && L.drawLocal) {
            L.drawLocal.draw.toolbar.buttons.circlemarker = {{ this.texts.button | tojson }};
            L.drawLocal.draw.handlers.circlemarker.tooltip.start = {{ this.texts.start | tojson }};
            L.drawLocal.draw.toolbar.actions.text = {{ this.texts.cancel | tojson }};
            L.drawLocal.draw.toolbar.actions.title = {{ this.texts.cancel | tojson }};
            var more = {{ this.more | tojson }};
            Object.keys(more).forEach(function (path) {
                var keys = path.split("."), at = L.drawLocal;
                for (var i = 0; i < keys.length - 1; i++) { at = at[keys[i]]; }
                at[keys[keys.length - 1]] = more[path];
            });
        }
        {% endmacro %}
        """
    )

    def __init__(self, texts: dict[str, str], more: dict[str, str] | None = None) -> None:
        super().__init__()
        self._name = "DrawTexts"
        self.texts = texts
        #: Further texts by their path in ``L.drawLocal`` (data: the script sets them).
        self.more = more or {}


class _MetricScale(_Inert, MacroElement):
    """A metric-only scale bar (folium's ``control_scale`` adds miles too)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, position: "bottomleft"}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


# --------------------------------------------------------------------------------------------
# Title, legend, notes (static HTML over the map)

_CSS = "<style>\n" + _static("map.css") + "</style>\n"
#: Folds the legend on a small screen (see the file).
_FOLD_JS = _static("fold.js")


def _legend_html(model: MapModel) -> str:
    lang, privacy = model.lang, model.privacy
    services_kinds, proposed_kinds = model.kinds_present, model.proposed_kinds
    area_bands, n_highlight = model.area_bands, len(model.highlight)
    limit, kind_name = model.limit_text, model.kind_name
    parts = [
        f'<div id="gm-legend" class="gm-box"><h4>{_esc(i18n.t("map.legend.title", lang))}</h4>'
    ]
    parts.append(
        f'<div class="gm-sec">{_esc(i18n.t("map.legend.villages", lang, kind=kind_name))}</div>'
    )
    for status, color in STATUS_COLORS.items():
        size = 16 if status == "flag" else 12
        parts.append(
            f'<div class="gm-row"><span class="gm-dot" style="background:{color};'
            f'width:{size}px;height:{size}px"></span>'
            f"{_esc(i18n.t(f'map.status.{status}', lang, limit=limit))}</div>"
        )
    parts.append(
        '<div class="gm-row"><span class="gm-line" style="height:10px;border:2px solid #d7191c;'
        f'background:rgba(215,25,28,0.12)"></span>{_esc(i18n.t("map.legend.boundary", lang))}</div>'
    )
    if privacy in ("full", "displaced"):
        parts.append(
            '<div class="gm-sec">'
            f"{_esc(i18n.t('map.legend.households', lang, kind=kind_name))}</div>"
        )
        for _, color, label in _household_bins(lang):
            parts.append(
                f'<div class="gm-row"><span class="gm-dot" style="background:{color};'
                f'width:9px;height:9px;border-width:1px"></span>{_esc(label)}</div>'
            )
        if n_highlight:
            parts.append(
                '<div class="gm-row gm-legend-highlight"><span class="gm-dot" '
                f'style="background:none;border:3px solid {HIGHLIGHT_COLOR}"></span>'
                f"{_esc(i18n.t('map.legend.highlight', lang, n=n_highlight))}</div>"
            )
    if services_kinds or proposed_kinds:
        parts.append(f'<div class="gm-sec">{_esc(i18n.t("map.legend.services", lang))}</div>')
        for k in services_kinds:
            parts.append(
                f'<div class="gm-row">{_SERVICE_SVG[k]}{_esc(i18n.t(f"kind.{k}", lang))}</div>'
            )
        for k in proposed_kinds:
            label = i18n.t("map.legend.proposed", lang, kind=i18n.t(f"kind.{k}", lang))
            parts.append(
                f'<div class="gm-row gm-legend-proposed">{_PROPOSED_SVG[k]}{_esc(label)}</div>'
            )
    if area_bands:
        parts.append(f'<div class="gm-sec">{_esc(i18n.t("map.legend.service_areas", lang))}</div>')
        for i, band in enumerate(area_bands):
            color = _area_color(i)
            parts.append(
                '<div class="gm-row gm-legend-area"><span class="gm-line" style="height:10px;'
                f'border:1px solid {color};background:{color}59"></span>'
                f"{_esc(_area_label(band, lang))}</div>"
            )
    parts.append(f'<div class="gm-sec">{_esc(i18n.t("map.legend.roads", lang))}</div>')
    for group, key in (
        ("major", "map.legend.road_major"),
        ("minor", "map.legend.road_minor"),
        ("track", "map.legend.road_track"),
    ):
        color, weight, dash = _ROAD_GROUPS[group]
        style = "dashed" if dash else "solid"
        parts.append(
            f'<div class="gm-row"><span class="gm-line" style="border-top:{weight:g}px {style} '
            f'{color}"></span>{_esc(i18n.t(key, lang))}</div>'
        )
    extra = []
    if model.community is not None:
        extra.append(("solid", 4, COMMUNITY_COLOR, i18n.t("map.legend.community", lang), "c"))
    if model.conditions is not None:
        names = _condition_names(model)
        effects = set(model.conditions["effect"])
        if "closed" in effects:
            extra.append(("dashed", 4, CLOSED_COLOR,
                          i18n.t("map.legend.closed", lang, names=names), "x"))  # fmt: skip
        if "slowed" in effects:
            extra.append(("dotted", 4, SLOWED_COLOR,
                          i18n.t("map.legend.slowed", lang, names=names), "w"))  # fmt: skip
    for style, weight, color, label, tag in extra:
        parts.append(
            f'<div class="gm-row gm-legend-{tag}"><span class="gm-line" style="border-top:'
            f'{weight}px {style} {color}"></span>{_esc(label)}</div>'
        )
    if privacy == "committee":
        parts.append(f'<div class="gm-note">{_esc(i18n.t("map.legend.committee", lang))}</div>')
    elif privacy == "displaced":
        parts.append(
            f'<div id="gm-displaced-note" class="gm-note">{_esc(displaced_note(lang))}</div>'
        )
    parts.append("</div>")
    return "".join(parts)


def _folded(legend: str, *, open_: bool = False) -> str:
    """The legend as a ``<details>`` element whose summary is its title (``open_``: shown
    unfolded at first)."""
    head_end = legend.index("</h4>") + len("</h4>")
    head = legend[:head_end]
    title = head[head.index("<h4>") + 4 : -5]
    return (
        f'<details id="gm-legend" class="gm-box"{" open" if open_ else ""}>'
        f"<summary><b>{title}</b></summary>" + legend[head_end : -len("</div>")] + "</details>"
    )


def _top_html(
    title: str, subtitle: str, made_on: str, fictional: str | None, banner: str | None
) -> str:
    parts = ['<div id="gm-top">']
    if banner:
        parts.append(f'<div id="gm-banner" class="gm-box">{_esc(banner)}</div>')
    parts.append(
        f'<div id="gm-title" class="gm-box"><b>{_esc(title)}</b><br>{_esc(subtitle)}<br>'
        f'<span class="gm-date">{_esc(made_on)}</span></div>'
    )
    if fictional:
        parts.append(f'<div id="gm-fictional" class="gm-box">{_esc(fictional)}</div>')
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# The map


def draw_map(
    analysis: Analysis,
    *,
    lang: str = "zh",
    kind: str = "kindergarten",
    privacy: str = "committee",
    tiles: bool = False,
    made_on: dt.date | None = None,
    compact: bool = False,
    service_areas: gpd.GeoDataFrame | None = None,
    highlight_households: Sequence[str] | None = None,
    rng: np.random.Generator | None = None,
    key: bytes | None = None,
    routes: bool | None = None,
    corrections=None,
) -> folium.Map:
    """Draw an analysis on a folium map that needs no internet.

    Parameters
    ----------
    analysis
        The result of :func:`mapping.analysis.run_analysis`.
    lang
        ``zh`` or ``en``: every text on the map, and which gap sentences are shown.
    kind
        The service kind whose gaps colour the villages (one of ``analysis.settings.kinds``).
    privacy
        ``committee`` (default): no household points, ids, names, phones or positions anywhere
        in the map; households appear only as per-village totals in the village popups.
        ``displaced``: every household drawn :data:`~mapping.privacy.DISPLACE_MIN_M` to
        :data:`~mapping.privacy.DISPLACE_MAX_M` metres from where it is, in a random
        direction (class ``gm-household gm-displaced``), its popup and tooltip holding only
        its village and its road distance (km, 1 decimal); no id, name or phone anywhere; a
        note in the legend says that positions are moved. Households do not set the extent.
        ``full``: household points with id, name, phone and distance, under a visible
        "for the team's own use" banner.
    tiles
        Also offer OpenStreetMap's online tiles as a layer (they load only with internet; the
        map never needs them).
    made_on
        The date printed in the title (default: today).
    compact
        For a small map inside the app: no title box or notes on the map (the page shows
        them), the legend and layer list folded away until clicked.
    service_areas
        Optional service areas from :func:`mapping.coverage.service_areas` (one row per
        service and band, or dissolved per band; any CRS, drawn in EPSG:4326): one
        translucent layer, a colour per band (``band_m``, metres by road), nearest darkest,
        and a legend entry per band. They describe services, not households, so committee
        maps show them too.
    highlight_households
        Optional household ids (index of ``analysis.households``) to ring, e.g. those a
        suggested site would newly bring within the threshold. Drawn in ``full`` mode only
        (a ring at a displaced point would mark which moved point is which household's);
        they are checked in every mode.
    rng
        The random generator of the ``displaced`` mode (unused otherwise). Default: a new one
        seeded from the operating system, so every map moves the households differently and
        no one can redraw the offsets; tests pass their own. Never a fixed seed for a map
        that is shared: the seed and the published code would undo the displacement.
    key
        The secret of the ``displaced`` mode (:func:`mapping.privacy.displacement_key`):
        each household then moves the same way on every map made with it, so several maps
        cannot be averaged back to the true positions. The app and the command line pass it.
    corrections
        The :class:`mapping.corrections.CorrectedRun` the analysis came from: its community
        roads (orange) and closed or slowed roads (dark red dashed, amber dotted) are drawn,
        each in a layer of its own and in the legend.
    routes
        Opening a village's popup draws its road route to the nearest service of ``kind``
        (:mod:`mapping.routes`), and the popup names it. Default: on for a file, off for the
        app's ``compact`` map (which draws routes on request).

    Returns
    -------
    folium.Map
        Roads (from the network's vectors, EPSG:4326), village boundaries and points
        coloured by gap status, services (proposals, ``source == "proposed"``, with a pale
        dashed symbol and a star, class ``gm-proposed``, in layers of their own),
        optionally service areas and households; a title, legend, notes and a layer
        control. Export it with :func:`write_map_html`.

    Raises
    ------
    SettingsError
        ``error.map.language``, ``error.settings.kind`` (a kind the analysis did not compute)
        or ``error.map.privacy``.
    InputError
        ``error.map.service_areas`` (no ``band_m`` or geometry),
        ``error.map.service_areas_crs`` (no CRS) or ``error.map.highlight`` (ids that are
        not households of the analysis).
    """
    model = build_map_model(
        analysis,
        lang=lang,
        kind=kind,
        privacy=privacy,
        made_on=made_on,
        service_areas=service_areas,
        highlight_households=highlight_households,
        rng=rng,
        key=key,
        corrections=corrections,
    )
    return draw_map_model(model, tiles=tiles, compact=compact, routes=routes)


def draw_map_model(
    model: MapModel, *, tiles: bool = False, compact: bool = False, routes: bool | None = None
) -> folium.Map:
    """Draw a :class:`~mapping.mapmodel.MapModel` on a folium map (see :func:`draw_map`)."""
    with_routes = (not compact) if routes is None else routes
    analysis, kind, lang = model.analysis, model.kind, model.lang

    # quarter zoom steps let fit_bounds fill the window instead of dropping a whole level
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=False, zoom_snap=0.25)
    # Only Leaflet: our layers use no jQuery, Bootstrap or awesome-markers, which folium would
    # otherwise pull from CDNs. render_map_html inlines Leaflet itself.
    m.default_js = [(name, url) for name, url in m.default_js if name == "leaflet"]
    m.default_css = [(name, url) for name, url in m.default_css if name == "leaflet_css"]

    if tiles:
        folium.TileLayer(
            "OpenStreetMap", name=i18n.t("map.layer.osm_tiles", lang), overlay=True, show=True
        ).add_to(m)
    # the areas first: everything else is drawn over their translucent fills
    if model.service_areas is not None:
        _add_service_areas(m, model.service_areas, lang)
    bounds = [_add_roads(m, analysis.network, lang)]
    _add_corrections(m, model)
    bounds.append(_add_study_area(m, analysis.scenario.study_area, lang))
    routes = model.village_routes() if with_routes else None
    bounds.append(
        _add_villages(
            m,
            analysis.villages,
            kind,
            model.limit_m,
            lang,
            routes,
            analysis.network.crs,
            i18n.t(f"mode.{analysis.settings.mode}", lang),
        )  # fmt: skip
    )
    if model.full:
        mode_name = i18n.t(f"mode.{analysis.settings.mode}", lang)
        bounds.append(_add_households(m, model.households, kind, lang, model.limit_m, mode_name))
        _add_highlight(m, model.households, list(model.highlight), lang)
    elif model.displaced:
        _add_displaced_households(m, model.households, kind, lang)  # no bounds: see below
    _add_placed_at_village(m, model)
    bounds.append(_add_services(m, analysis.services, kind, lang))
    _LayerControl(collapsed=compact).add_to(m)
    _MetricScale().add_to(m)

    # Shared maps (committee, displaced) must not reveal a household's position, not even as
    # the map's edge: the extent comes from roads, villages and services only.
    known = np.array([b for b in bounds if b is not None], dtype=float)
    if len(known):
        south, west = known[:, 0].min(), known[:, 1].min()
        north, east = known[:, 2].max(), known[:, 3].max()
        m.location = [round((south + north) / 2, 4), round((west + east) / 2, 4)]
        # padding keeps the edge villages clear of the title box and the layer control
        m.fit_bounds(
            [[round(south, 4), round(west, 4)], [round(north, 4), round(east, 4)]],
            padding_top_left=(10, 10) if compact else (20, 110),
            padding_bottom_right=(10, 10) if compact else (20, 20),
        )

    subtitle = i18n.t("map.subtitle", lang, kind=model.kind_name, limit=model.limit_text)
    root = m.get_root()
    root.title = _esc(f"{model.title} · {model.kind_name}")
    root.header.add_child(_Text(_CSS), name="gm_css")
    if not compact:  # inside the app the page itself carries title, date and notes
        root.html.add_child(
            _Text(
                _top_html(
                    model.title,
                    subtitle,
                    i18n.t("map.made_on", lang, date=model.made_on.isoformat()),
                    model.fictional,
                    model.banner,
                )
            ),
            name="gm_top",
        )
    # in the app the legend starts folded; in a file it starts open, and folds on a phone
    legend = _folded(_legend_html(model), open_=not compact)
    root.html.add_child(_Text(legend), name="gm_legend")
    if not compact:
        root.script.add_child(_Text(_FOLD_JS), name="gm_fold")
    return m


# --------------------------------------------------------------------------------------------
# Offline HTML

_LEAFLET_JS = re.compile(r"/leaflet(?:-src)?(?:\.min)?\.js$")
_LEAFLET_CSS = re.compile(r"/leaflet(?:\.min)?\.css$")
_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)[\"'][^>]*>\s*</script>", re.I)
_LINK_CSS = re.compile(r"<link\b[^>]*\bhref=[\"']([^\"']+)[\"'][^>]*>", re.I)
_REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)


@functools.cache
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS from xstatic-leaflet, with the CSS's images inlined as data URIs."""
    from xstatic.pkg import leaflet as xleaflet

    base = Path(xleaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        data = (base / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\([\"']?images/([\w.-]+\.png)[\"']?\)", inline, css)
    # a literal "</script" inside inline code would end the element early
    return js.replace("</script", "<\\/script"), css.replace("</style", "<\\/style")


def use_embedded_assets(m: folium.Map) -> folium.Map:
    """Point the map's scripts and styles at ``data:`` URIs, for viewers that load assets by URL.

    streamlit-folium loads a map's ``default_js``/``default_css`` (and those of the plugins on
    it) by URL in the browser; with data URIs it needs no CDN (and no internet). Leaflet comes
    from xstatic-leaflet, Leaflet.draw from the copy in ``mapping/static``. Returns the same map,
    changed in place.
    """
    js, css = _leaflet_assets()
    m.default_js = [("leaflet", "data:text/javascript;base64," + _b64(js))]
    m.default_css = [("leaflet_css", "data:text/css;base64," + _b64(css))]
    for child in m._children.values():
        if isinstance(child, folium.plugins.Draw):
            djs, dcss = _draw_assets()
            child.default_js = [("leaflet_draw_js", "data:text/javascript;base64," + _b64(djs))]
            child.default_css = [("leaflet_draw_css", "data:text/css;base64," + _b64(dcss))]
    return m


#: Leaflet.draw 1.0.4 from npm, unchanged (MIT, see its LICENSE): no Python package ships it,
#: and folium's Draw plugin would load it from a CDN that is slow or blocked in China.
DRAW_DIR = Path(__file__).resolve().parent / "static" / "leaflet-draw"


@functools.cache
def _draw_assets() -> tuple[str, str]:
    """Leaflet.draw's JS and CSS, the CSS's sprite images inlined as data URIs."""
    js = (DRAW_DIR / "leaflet.draw.js").read_text(encoding="utf-8")
    css = (DRAW_DIR / "leaflet.draw.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        name = match.group(1)
        mime = "image/svg+xml" if name.endswith(".svg") else "image/png"
        data = (DRAW_DIR / "images" / name).read_bytes()
        return f"url(data:{mime};base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\([\"']?images/([\w.-]+\.(?:png|svg))[\"']?\)", inline, css)
    return js, css


i18n.register(
    {
        "map.draw.line": {
            "zh": "画一条路（存为社区道路，或封路）",
            "en": "Draw a road (to save as a community road, or to close)",
        },
        "map.draw.area": {
            "zh": "画一个范围（封闭或限速其中的道路）",
            "en": "Draw an area (to close or slow the roads in it)",
        },
        "map.draw.box": {
            "zh": "拖出一个矩形范围（封闭或限速其中的道路）",
            "en": "Drag a rectangle (to close or slow the roads in it)",
        },
        "map.draw.line_start": {
            "zh": "点击地图，开始画线",
            "en": "Click the map to start the line",
        },
        "map.draw.line_cont": {"zh": "点击继续画线", "en": "Click to go on"},
        "map.draw.line_end": {
            "zh": "再点一下最后一个点，完成这条线",
            "en": "Click the last point again to finish the line",
        },
        "map.draw.area_start": {"zh": "点击地图，开始画范围", "en": "Click the map to start"},
        "map.draw.area_cont": {"zh": "点击继续画", "en": "Click to go on"},
        "map.draw.area_end": {
            "zh": "点击第一个点，闭合这个范围",
            "en": "Click the first point to close the area",
        },
        "map.draw.box_start": {"zh": "按住鼠标拖出矩形", "en": "Press and drag to draw"},
        "map.draw.release": {"zh": "松开鼠标完成", "en": "Release the mouse to finish"},
        "map.draw.finish": {"zh": "完成", "en": "Finish"},
        "map.draw.undo": {"zh": "删掉最后一个点", "en": "Delete the last point"},
    }
)


def add_place_picker(m: folium.Map, lang: str = "zh", *, shapes: bool = False) -> folium.Map:
    """Add a draw tool: put a point on the map (for proposals and edits), and with
    ``shapes`` also draw a line (a community road, or a stretch to close) or an area (roads
    to close or slow), as :mod:`mapping.app_state` takes them.

    Circle markers, lines and areas need no icon images; editing and deleting drawn shapes
    is off, since what a shape means is decided in the app. Call :func:`use_embedded_assets`
    afterwards so the tool works with no internet.
    """
    more = {}
    if shapes:
        more = {
            "draw.toolbar.buttons.polyline": i18n.t("map.draw.line", lang),
            "draw.toolbar.buttons.polygon": i18n.t("map.draw.area", lang),
            "draw.toolbar.buttons.rectangle": i18n.t("map.draw.box", lang),
            "draw.handlers.polyline.tooltip.start": i18n.t("map.draw.line_start", lang),
            "draw.handlers.polyline.tooltip.cont": i18n.t("map.draw.line_cont", lang),
            "draw.handlers.polyline.tooltip.end": i18n.t("map.draw.line_end", lang),
            "draw.handlers.polygon.tooltip.start": i18n.t("map.draw.area_start", lang),
            "draw.handlers.polygon.tooltip.cont": i18n.t("map.draw.area_cont", lang),
            "draw.handlers.polygon.tooltip.end": i18n.t("map.draw.area_end", lang),
            "draw.handlers.rectangle.tooltip.start": i18n.t("map.draw.box_start", lang),
            "draw.handlers.simpleshape.tooltip.end": i18n.t("map.draw.release", lang),
            "draw.toolbar.finish.text": i18n.t("map.draw.finish", lang),
            "draw.toolbar.finish.title": i18n.t("map.draw.finish", lang),
            "draw.toolbar.undo.text": i18n.t("map.draw.undo", lang),
            "draw.toolbar.undo.title": i18n.t("map.draw.undo", lang),
        }
    _DrawTexts(
        {
            "button": i18n.t("map.draw.button", lang),
            "start": i18n.t("map.draw.start", lang),
            "cancel": i18n.t("map.draw.cancel", lang),
        },
        more,
    ).add_to(m)  # before the tool, so its texts are set when the toolbar is built
    line = {"shapeOptions": {"color": COMMUNITY_COLOR, "weight": 4, "opacity": 0.9}}
    area = {"shapeOptions": {"color": CLOSED_COLOR, "weight": 3, "fillOpacity": 0.15}}
    folium.plugins.Draw(
        export=False,
        position="topleft",
        show_geometry_on_click=False,
        draw_options={
            "polyline": line if shapes else False,
            "polygon": area if shapes else False,
            # showArea off: Leaflet.draw 1.0.4's area text fails for rectangles
            "rectangle": {**area, "showArea": False} if shapes else False,
            "circle": False,
            "marker": False,
            "circlemarker": {"color": "#ff7f00", "radius": 9},
        },
        edit_options={"edit": False, "remove": False},
    ).add_to(m)
    return m


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def render_map_html(m: folium.Map) -> str:
    """The map as one self-contained HTML document.

    Leaflet's JavaScript and CSS (with its images as data URIs) are inlined from the
    ``xstatic-leaflet`` package. Any other script or stylesheet a map asks for from the
    internet is an error, so a map that would break offline is never written.

    Raises
    ------
    ValueError
        When the map needs a remote script or stylesheet there is no local copy of (e.g. a
        folium plugin, or a plain ``folium.Map`` that still lists jQuery and Bootstrap).
    """
    js, css = _leaflet_assets()
    text = m.get_root().render()
    unknown: list[str] = []

    def script(match: re.Match) -> str:
        url = match.group(1)
        if _LEAFLET_JS.search(url):
            return f"<script>{js}</script>"
        unknown.append(url)
        return match.group(0)

    def link(match: re.Match) -> str:
        tag, url = match.group(0), match.group(1)
        if "stylesheet" not in tag.lower():
            return tag
        if _LEAFLET_CSS.search(url):
            return f"<style>{css}</style>"
        unknown.append(url)
        return tag

    # Leaflet's code must not be searched for tags, so links first, then scripts (the
    # inlined CSS has no <script>, and the inlined JS is not searched again).
    text = _LINK_CSS.sub(link, text)
    text = _SCRIPT_SRC.sub(script, text)
    if unknown or _REMOTE.search(text.replace(js, "")):
        raise ValueError(
            "the map needs scripts or stylesheets from the internet that have no local copy: "
            + ", ".join(unknown)
        )
    return text


def write_map_html(m: folium.Map, path: str | Path) -> Path:
    """Write the map as one self-contained, offline HTML file (atomically).

    Parameters
    ----------
    m
        A map from :func:`draw_map`.
    path
        Where to write; the folder must exist. An existing file is replaced only once the
        new one is complete.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        ``error.map.no_folder`` when the folder does not exist.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise InputError("error.map.no_folder", file=path.name, folder=str(folder))
    return write_text(path, render_map_html(m))
