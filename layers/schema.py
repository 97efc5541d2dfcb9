"""Shared helpers for the layer schemas (see each layer module for its own schema).

Notes
-----
A reader that reads a file *differently from what the user may expect* without refusing it
(the second sheet of a workbook was read, an OSM capacity tag was not a number and counts as
unknown) says so with a :class:`Note`: a translation key and its parameters, like the
project's errors. A layer's notes travel with the frame, in ``frame.attrs["notes"]`` (a tuple
of :class:`Note`); read them with :func:`notes_of`. The CLI prints them, the app shows them
with ``st.info``/``st.warning``, in the user's language (``note.message(lang)``).

Coordinate system
-----------------
A layer read from a user's file remembers which coordinate system its positions were read
in, and why, as a :class:`ReadAs` in ``frame.attrs["coords"]`` (read it with
:func:`read_as_of`): the user's choice, or the format's default (WGS84 for tables and phone
surveys, GCJ-02 for 奥维/Ovital files). :mod:`mapping.coorddetect` uses it to re-read the
positions in another system when the roads say that one fits better.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from layers import i18n

#: Every layer is stored in lon/lat on WGS84; distances are computed in a local UTM zone.
WGS84 = "EPSG:4326"

#: The key of a frame's notes in ``DataFrame.attrs``.
NOTES_ATTR = "notes"

#: The key of a layer's :class:`ReadAs` in ``DataFrame.attrs``.
COORDS_ATTR = "coords"


@dataclass(frozen=True)
class Phrase:
    """A piece of text translated with the message it goes into.

    A :class:`Note`'s parameters are the same in every language; a parameter that must read
    differently in each (``GCJ-02（高德/腾讯）`` / ``GCJ-02 (Amap/Tencent)``) is a phrase:
    a translation key and its own parameters, filled in when the note is shown.
    """

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str:
        """The text in ``lang``."""
        return i18n.t(self.key, lang, **_filled(self.params, lang))


def _filled(params: Mapping[str, object], lang: str) -> dict[str, object]:
    return {k: v.message(lang) if isinstance(v, Phrase) else v for k, v in params.items()}


@dataclass(frozen=True)
class Note:
    """Something a reader did with odd-but-usable data that the user should be told.

    Parameters
    ----------
    key
        Translation key of the text (registered with :func:`layers.i18n.register`), starting
        with ``note.`` (information: which sheet was read) or ``warning.`` (data was
        dropped or treated as unknown).
    params
        Values for the text's placeholders (file name, sheet names, ids...).
    """

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_warning(self) -> bool:
        """True when data was dropped or treated as unknown (show as a warning)."""
        return self.key.startswith("warning.")

    def message(self, lang: str = "en") -> str:
        """The text in ``lang`` ("zh" or "en"); :class:`Phrase` parameters are translated
        into ``lang`` too."""
        return i18n.t(self.key, lang, **_filled(self.params, lang))

    def __str__(self) -> str:
        return self.message("en")


@dataclass(frozen=True)
class ReadAs:
    """The coordinate system a layer's positions were read in.

    Attributes
    ----------
    system
        One of :data:`layers.coords.COORD_SYSTEMS`.
    declared
        True when the user chose it; False when it is the format's default.
    reason
        Why this system: ``"user"`` (chosen), ``"default"`` (tables, geodata),
        ``"survey"`` (KoboToolbox/ODK exports: phone GPS), ``"gpx"`` (WGS84 by definition),
        ``"ovital"`` (奥维 exports: GCJ-02).
    file
        The file as the user named it.
    """

    system: str
    declared: bool
    reason: str
    file: str = ""


def read_as_of(frame: pd.DataFrame) -> ReadAs | None:
    """The :class:`ReadAs` a reader attached to ``frame`` (None for layers not read from a
    user's file: OSM, the demo's own layers, drawn points)."""
    value = frame.attrs.get(COORDS_ATTR)
    return value if isinstance(value, ReadAs) else None


def set_read_as(frame: pd.DataFrame, read_as: ReadAs) -> pd.DataFrame:
    """Attach ``read_as`` to ``frame`` (in place); returns ``frame``."""
    frame.attrs[COORDS_ATTR] = read_as
    return frame


def notes_of(frame: pd.DataFrame) -> tuple[Note, ...]:
    """The notes a reader attached to ``frame`` (empty when none)."""
    return tuple(frame.attrs.get(NOTES_ATTR, ()))


def add_notes(frame: pd.DataFrame, notes: Iterable[Note]) -> pd.DataFrame:
    """Attach ``notes`` after those ``frame`` already has (in place); returns ``frame``."""
    notes = (*notes_of(frame), *notes)
    if notes:
        frame.attrs[NOTES_ATTR] = notes
    return frame


def check_columns(gdf: gpd.GeoDataFrame, required: dict[str, str], layer: str) -> None:
    """Raise ``TypeError`` when ``gdf`` lacks a schema column (a programming error, not bad input).

    User files are checked and mapped onto the schema by their readers, with messages for
    people; this check guards the contract between modules.
    """
    missing = [col for col in required if col not in gdf.columns]
    if missing:
        raise TypeError(f"{layer} layer lacks schema columns {missing}")
    if gdf.crs is None or not gdf.crs.equals(WGS84):
        raise TypeError(f"{layer} layer must be in {WGS84}, got {gdf.crs}")
    if not gdf.index.is_unique:
        raise TypeError(f"{layer} layer index must be unique")


def coerce(gdf: gpd.GeoDataFrame, dtypes: dict[str, str]) -> gpd.GeoDataFrame:
    """Cast schema columns to their dtypes (nullable where the schema says so); notes kept."""
    out = gdf.copy()
    for col, dtype in dtypes.items():
        if col == "geometry":
            continue
        out[col] = out[col].astype(dtype)
    if notes_of(gdf):
        out.attrs[NOTES_ATTR] = notes_of(gdf)
    if read_as_of(gdf) is not None:
        out.attrs[COORDS_ATTR] = read_as_of(gdf)
    return out


def empty_frame(dtypes: dict[str, str], index_name: str) -> gpd.GeoDataFrame:
    """An empty layer with the schema's columns and dtypes."""
    data = {col: pd.Series(dtype=dt) for col, dt in dtypes.items() if col != "geometry"}
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    gdf.index = pd.Index([], dtype="str", name=index_name)
    return gdf
