"""Travel modes, speeds and thresholds: every default in one place, with where it comes from.

Speeds are km/h, thresholds metres. All of them can be overridden per analysis through
:class:`AnalysisSettings`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from numbers import Real

from layers import i18n
from layers.errors import SettingsError
from layers.roads import HIGHWAY_CLASSES, MODES
from layers.services import SERVICE_KINDS

#: Walking speed. 4.5 km/h is the adult walking speed commonly used in accessibility studies
#: (e.g. osmnx's isochrone example); a pre-school child walks slower, so walking times are a
#: lower bound for a parent with a small child. Off-road legs are always timed at this speed.
WALK_SPEED_KMH = 4.5

# Vehicle speeds per OSM highway class. Rural Inner Mongolia: the upper classes follow the
# default limits of the PRC Road Traffic Safety Law Implementing Regulations, art. 45
# (40 km/h on highways without a centre line, 70 km/h with one lane each way); lower classes
# and dirt tracks are workshop estimates for motorbikes on gravel and dirt. Tune them locally.
CAR_SPEEDS_KMH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 70.0,
    "primary_link": 40.0,
    "secondary": 60.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 30.0,
    "unclassified": 40.0,
    "road": 40.0,
    "residential": 30.0,
    "living_street": 15.0,
    "service": 20.0,
    "track": 20.0,
    "busway": 30.0,
    "other": 20.0,
}
MOTORBIKE_SPEEDS_KMH: dict[str, float] = {
    **CAR_SPEEDS_KMH,
    # motorbikes are banned from expressways in China; the reader already drops those ways
    "trunk": 60.0,
    "primary": 60.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "unclassified": 35.0,
    "track": 25.0,
}

#: Default distance thresholds per service kind, metres. There is no single national rural
#: standard: GB 50180-2018 asks for kindergartens within 300 m in city residential areas,
#: which is meaningless on the steppe. These are workshop defaults chosen so that the research
#: finding (a village ~10 km from its kindergarten) stands out; set your own per study.
DEFAULT_THRESHOLDS_M: dict[str, float] = {
    "kindergarten": 5_000.0,
    "school": 10_000.0,
    "childcare": 3_000.0,
}

i18n.register(
    {
        # the travel modes' names, for every text that says how people travel
        "mode.walk": {"zh": "步行", "en": "walking"},
        "mode.motorbike": {"zh": "摩托车", "en": "motorbike"},
        "mode.car": {"zh": "汽车", "en": "car"},
        "error.settings.mode": {
            "zh": "未知的出行方式“{mode}”。可选：{choices}。",
            "en": "Unknown travel mode '{mode}'. Choose one of: {choices}.",
        },
        "error.settings.kind": {
            "zh": "未知的服务类型“{kind}”。可选：{choices}。",
            "en": "Unknown service kind '{kind}'. Choose one of: {choices}.",
        },
        "error.settings.threshold": {
            "zh": "“{kind}”的距离阈值 {value} 无效：请给出大于 0 的有限距离，例如 5km 或 800m。",
            "en": "Threshold '{value}' for '{kind}' is not valid: give a distance above 0 (a "
            "finite number), such as 5km or 800m.",
        },
        "error.settings.speed": {
            "zh": "“{what}”的速度 {value} 无效：请给出大于 0 的有限数值（公里/小时），例如 30。",
            "en": "Speed {value} for '{what}' is not valid: give a finite number above 0 in "
            "km/h, such as 30.",
        },
        "error.settings.speed_class": {
            "zh": "速度设置里的道路类型“{what}”不存在（是否拼写错误？）。可用的道路类型：{choices}。",
            "en": "There is no road class '{what}' for a speed (a typo?). Road classes: {choices}.",
        },
    }
)


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything that shapes one analysis run.

    Parameters
    ----------
    mode
        ``walk``, ``motorbike`` or ``car``.
    thresholds_m
        Distance threshold per service kind, metres.
    kinds
        The service kinds to analyse.
    walk_speed_kmh
        Walking speed (walking mode, and every off-road leg).
    speeds_kmh
        Vehicle speed per highway class (motorbike/car); missing classes use ``other``.
    snap_to
        ``largest``: points snap to the largest connected road piece (as osmnx keeps only the
        largest component), so a village on a stray road fragment still gets a distance, with a
        longer off-road leg; ``any``: the nearest road of any piece, which may be unreachable.
    time_thresholds_min
        Travel-time threshold per service kind, minutes (by the mode's speeds). A kind with
        one is flagged by travel time instead of its distance threshold.
    """

    mode: str = "motorbike"
    thresholds_m: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS_M))
    kinds: tuple[str, ...] = ("kindergarten", "school")
    walk_speed_kmh: float = WALK_SPEED_KMH
    speeds_kmh: dict[str, float] | None = None
    snap_to: str = "largest"
    time_thresholds_min: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SettingsError("error.settings.mode", mode=self.mode, choices=", ".join(MODES))
        for kind in self.kinds:
            if kind not in SERVICE_KINDS:
                raise SettingsError(
                    "error.settings.kind", kind=kind, choices=", ".join(SERVICE_KINDS)
                )
        for kind, value in self.thresholds_m.items():
            if kind not in SERVICE_KINDS:
                raise SettingsError(
                    "error.settings.kind", kind=kind, choices=", ".join(SERVICE_KINDS)
                )
            if not _finite_positive(value):
                raise SettingsError("error.settings.threshold", kind=kind, value=value)
        for kind, value in self.time_thresholds_min.items():
            if kind not in SERVICE_KINDS:
                raise SettingsError(
                    "error.settings.kind", kind=kind, choices=", ".join(SERVICE_KINDS)
                )
            if not _finite_positive(value):
                raise SettingsError("error.settings.threshold", kind=kind, value=f"{value}min")
        if not _finite_positive(self.walk_speed_kmh):
            raise SettingsError("error.settings.speed", what="walk", value=self.walk_speed_kmh)
        for what, value in (self.speeds_kmh or {}).items():
            if what not in HIGHWAY_CLASSES:
                raise SettingsError(
                    "error.settings.speed_class", what=what, choices=", ".join(HIGHWAY_CLASSES)
                )
            if not _finite_positive(value):
                raise SettingsError("error.settings.speed", what=what, value=value)
        if self.snap_to not in ("largest", "any"):
            raise ValueError(f"snap_to must be 'largest' or 'any', not {self.snap_to!r}")

    def threshold_m(self, kind: str) -> float:
        """The threshold for ``kind`` (the documented default when not set)."""
        return float(self.thresholds_m.get(kind, DEFAULT_THRESHOLDS_M[kind]))

    def threshold_min(self, kind: str) -> float | None:
        """The travel-time threshold for ``kind`` in minutes, or None (flagged by distance)."""
        value = self.time_thresholds_min.get(kind)
        return None if value is None else float(value)

    def class_speeds_kmh(self) -> dict[str, float]:
        """Speed per highway class for this mode (walking: the walking speed everywhere)."""
        if self.mode == "walk":
            return dict.fromkeys(HIGHWAY_CLASSES, self.walk_speed_kmh)
        base = CAR_SPEEDS_KMH if self.mode == "car" else MOTORBIKE_SPEEDS_KMH
        merged = {**base, **(self.speeds_kmh or {})}
        return {hw: merged.get(hw, merged["other"]) for hw in HIGHWAY_CLASSES}

    def with_(self, **changes) -> AnalysisSettings:
        """A copy with some settings changed."""
        return replace(self, **changes)


def _finite_positive(value: object) -> bool:
    """Whether ``value`` is a real number above 0 and below infinity (not NaN, not a bool)."""
    return (
        isinstance(value, Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


#: Suffixes of a threshold given in minutes (``30min``, ``30 分钟``).
MINUTE_SUFFIXES = ("minutes", "minute", "mins", "min", "分钟", "分")


def parse_threshold(text: str, kind: str = "") -> tuple[str, float]:
    """Parse a threshold given as a distance or a travel time.

    Returns ``("m", metres)`` for ``"10km"``, ``"800m"``, ``"2.5 公里"`` (see
    :func:`parse_distance_m`), or ``("min", minutes)`` for ``"30min"``, ``"30 分钟"``.
    """
    s = str(text).strip().lower().replace(" ", "")
    for suffix in MINUTE_SUFFIXES:
        if s.endswith(suffix):
            try:
                value = float(s[: -len(suffix)])
            except ValueError:
                raise SettingsError("error.settings.threshold", kind=kind, value=text) from None
            if not _finite_positive(value):
                raise SettingsError("error.settings.threshold", kind=kind, value=text)
            return "min", value
    return "m", parse_distance_m(text, kind)


def parse_distance_m(text: str, kind: str = "") -> float:
    """Parse ``"10km"``, ``"800m"``, ``"2.5 公里"`` or a bare number of metres into metres.

    Raises ``error.settings.threshold`` (naming ``kind`` and the text) unless the distance is
    finite and above 0 (``1e309km``, ``inf``, ``nan``, ``0``, ``-5km`` are refused).
    """
    s = str(text).strip().lower().replace(" ", "")
    factor = 1.0
    for suffix, f in (("km", 1000.0), ("公里", 1000.0), ("千米", 1000.0), ("m", 1.0), ("米", 1.0)):
        if s.endswith(suffix):
            s, factor = s[: -len(suffix)], f
            break
    try:
        value = float(s) * factor
    except ValueError:
        raise SettingsError("error.settings.threshold", kind=kind, value=text) from None
    if not _finite_positive(value):
        raise SettingsError("error.settings.threshold", kind=kind, value=text)
    return value
