"""Phone survey exports (KoboToolbox, ODK Central): what their column headers mean.

Households are collected on phones with KoboToolbox or ODK Collect; both export a table whose
shape is fixed by the tool, not by the user, so the readers recognise it without any option.

**KoboToolbox** (its exports are written by ``formpack``; CSV uses ``;`` between cells, XLSX
one sheet per repeat group, the main sheet first):

- a ``geopoint`` question ``gps`` gives a raw column ``gps`` ("lat lon alt precision",
  space separated, latitude first) followed by ``_gps_latitude``, ``_gps_longitude``,
  ``_gps_altitude`` and ``_gps_precision`` (metres);
- with "labels" headers the question's label replaces its name (``住户位置``,
  ``_住户位置_latitude`` ...);
- with groups the header is a path, ``/`` between levels (``household/_gps_latitude``,
  ``household/village``);
- metadata columns: ``start``, ``end``, ``today``, ``deviceid``, ``username``, ``_id``,
  ``_uuid``, ``_submission_time``, ``_validation_status``, ``_notes``, ``_status``,
  ``_submitted_by``, ``__version__``, ``_tags``, ``_index``, ``meta/instanceID`` ...

**ODK Central** (CSV): a geopoint becomes ``<path>-Latitude``, ``-Longitude``, ``-Altitude``
and ``-Accuracy``, group names joined by ``-`` (``hh-gps-Latitude``, ``hh-village``);
metadata ``SubmissionDate``, ``KEY``, ``SubmitterID``, ``SubmitterName``,
``AttachmentsPresent``, ``AttachmentsExpected``, ``Status``, ``ReviewState``, ``DeviceID``,
``Edits``, ``FormVersion``, ``meta-instanceID`` ...

:func:`recognise` says which tool wrote a header row (or None), which columns are metadata
(the readers leave them out, so ``_id`` is never taken for a household id), and the geopoint
questions it holds. :func:`question_name` strips the group path, so that ``hh-village`` and
``household/village`` match the layer schemas' ``village`` like a plain ``village`` column.

This module only looks at header texts; the readers (:mod:`layers.tables`) parse the values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: The tools whose exports are recognised.
TOOLS = ("kobo", "odk")

# Metadata columns, compared lower-case after stripping spaces. Kobo's are the same in
# "labels" exports (metadata questions have no labels); its group path is "meta/...".
_KOBO_METADATA = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "username",
        "audit",
        "_id",
        "_uuid",
        "_submission_time",
        "_validation_status",
        "_notes",
        "_status",
        "_submitted_by",
        "__version__",
        "_version_",
        "_tags",
        "_index",
        "_attachments",
        "_geolocation",
        "_xform_id_string",
        "_parent_table_name",
        "_parent_index",
        "_submission__id",
        "_submission__uuid",
        "_submission__submission_time",
        "_submission__validation_status",
        "_submission__notes",
        "_submission__status",
        "_submission__submitted_by",
        "_submission___version__",
        "_submission__tags",
        "meta/instanceid",
        "meta/instancename",
        "meta/deprecatedid",
        "meta/rootuuid",
        "meta/audit",
        "formhub/uuid",
    }
)
# Columns that only Kobo writes: two of them make a header row a Kobo export.
_KOBO_MARKERS = frozenset(
    {"_uuid", "_submission_time", "_index", "_validation_status", "__version__", "formhub/uuid"}
)

_ODK_METADATA = frozenset(
    {
        "submissiondate",
        "key",
        "submitterid",
        "submittername",
        "attachmentspresent",
        "attachmentsexpected",
        "status",
        "reviewstate",
        "deviceid",
        "edits",
        "formversion",
        "start",
        "end",
        "today",
        "username",
        "simserial",
        "subscriberid",
        "audit",
        "instanceid",
        "meta-instanceid",
        "meta-instancename",
        "meta-deprecatedid",
        "meta-audit",
    }
)
_ODK_MARKERS = frozenset(
    {"submissiondate", "key", "submitterid", "submittername", "reviewstate", "meta-instanceid"}
)

# Split geopoint columns. Kobo: "[group/]_<question>_<part>", ODK: "<path>-<Part>".
_KOBO_PART = re.compile(
    r"^(?P<group>.*/)?_(?P<question>.+)_(?P<part>latitude|longitude|altitude|precision)$",
    re.IGNORECASE,
)
_ODK_PART = re.compile(
    r"^(?P<question>.+)-(?P<part>latitude|longitude|altitude|accuracy)$", re.IGNORECASE
)
_PART_ROLE = {
    "latitude": "lat",
    "longitude": "lon",
    "altitude": "alt",
    "precision": "acc",
    "accuracy": "acc",
}


@dataclass(frozen=True)
class Geopoint:
    """One geopoint question of a survey export.

    Attributes
    ----------
    question
        The question as the export names it (group path kept: ``household/gps``,
        ``hh-gps``, ``住户位置``).
    lat, lon, alt, acc
        Headers of its split columns (None where absent); ``acc`` is the phone's accuracy
        estimate in metres (Kobo's ``precision``, ODK's ``Accuracy``).
    raw
        Header of the single "lat lon [alt [acc]]" column, when the export has one.
    """

    question: str
    lat: str | None = None
    lon: str | None = None
    alt: str | None = None
    acc: str | None = None
    raw: str | None = None

    @property
    def is_split(self) -> bool:
        """True when the latitude and longitude have columns of their own."""
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class SurveyShape:
    """What :func:`recognise` found in a header row.

    Attributes
    ----------
    tool
        ``"kobo"``, ``"odk"`` or None (not a survey export, as far as the headers tell).
    metadata
        Headers of metadata columns (left out by the readers).
    geopoints
        Geopoint questions with split latitude/longitude columns, in column order.
    """

    tool: str | None
    metadata: tuple[str, ...]
    geopoints: tuple[Geopoint, ...]

    @property
    def label(self) -> str:
        """The tool's name as people know it ("" when not a survey export)."""
        return {"kobo": "KoboToolbox", "odk": "ODK Central"}.get(self.tool or "", "")


def _key(header: object) -> str:
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    return "".join(ch for ch in text if not ch.isspace())


def recognise(headers: Sequence[object]) -> SurveyShape:
    """Which survey tool wrote ``headers`` (if any), its metadata columns and geopoints.

    A header row is a Kobo export when it holds two of Kobo's own columns (``_uuid``,
    ``_submission_time``, ``_index``...) or a ``_<q>_latitude``/``_<q>_longitude`` pair; an
    ODK Central export when it holds two of ODK's (``SubmissionDate``, ``KEY``,
    ``meta-instanceID``...) or a ``<q>-Latitude``/``<q>-Longitude`` pair. Metadata columns
    are only named for a recognised tool (a plain table's ``status`` column is kept).
    """
    keys = [_key(h) for h in headers]
    texts = [str(h) for h in headers]
    kobo_points = _split_geopoints(texts, _KOBO_PART, kobo=True)
    odk_points = _split_geopoints(texts, _ODK_PART, kobo=False)
    kobo_marks = sum(k in _KOBO_MARKERS for k in keys)
    odk_marks = sum(k in _ODK_MARKERS for k in keys)
    if kobo_marks >= 2 or (kobo_points and odk_marks < 2):
        tool, points, meta = "kobo", kobo_points, _KOBO_METADATA
    elif odk_marks >= 2 or odk_points:
        tool, points, meta = "odk", odk_points, _ODK_METADATA
    else:
        return SurveyShape(None, (), tuple(kobo_points or odk_points))
    metadata = tuple(t for t, k in zip(texts, keys, strict=True) if k in meta)
    if tool == "kobo":
        # the raw "lat lon alt precision" column sits beside the split columns
        points = [_with_raw(p, texts) for p in points]
    return SurveyShape(tool, metadata, tuple(points))


def _split_geopoints(texts: list[str], pattern: re.Pattern, *, kobo: bool) -> list[Geopoint]:
    parts: dict[str, dict[str, str]] = {}
    for text in texts:
        m = pattern.match(text.strip())
        if not m:
            continue
        question = (m.group("group") or "") + m.group("question") if kobo else m["question"]
        parts.setdefault(question, {})[_PART_ROLE[m.group("part").lower()]] = text
    return [
        Geopoint(question=q, **{role: found.get(role) for role in ("lat", "lon", "alt", "acc")})
        for q, found in parts.items()
        if "lat" in found and "lon" in found
    ]


def _with_raw(point: Geopoint, texts: list[str]) -> Geopoint:
    """The geopoint with its raw Kobo column: ``group/q`` or ``q`` (older formpack writes
    the raw column without its group path)."""
    name = point.question.rsplit("/", 1)[-1]
    for candidate in (point.question, name):
        for text in texts:
            if text.strip() == candidate:
                return Geopoint(point.question, point.lat, point.lon, point.alt, point.acc, text)
    return point


def question_name(header: object, tool: str | None) -> str:
    """``header`` without its group path: after the last ``/`` (Kobo, and any table), and
    for ODK Central exports after the last ``-``."""
    text = str(header).strip()
    text = text.rsplit("/", 1)[-1]
    if tool == "odk":
        text = text.rsplit("-", 1)[-1]
    return text
