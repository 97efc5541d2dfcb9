"""Which column is which: mappings for headers the readers do not know.

A table whose headers the readers do not recognise (``东经度数``, ``所在嘎查``) can still be
read when people say which column plays which role (:data:`ROLES`: ``lon``, ``lat``, or one
``point`` column holding both; ``village``, ``id``, ``children``, ``name``, ``phone``,
``kind``, ``capacity``). This module is the one place that knows such mappings:

- :func:`parse_columns_option`: the command line's ``--columns`` (repeatable)::

      --columns lon=东经度数,lat=北纬度数,village=所在嘎查
      --columns households:lon=东经度数,lat=北纬度数 --columns villages:name=嘎查名称

  Without a layer in front, each ``role=header`` pair applies to every file given that has
  a column of that header (so one line serves a households and a villages file with the
  same coordinate headers); a header no file has is an error. With ``households:``,
  ``villages:`` or ``services:`` (also 农户/住户, 村庄/村, 设施) the pairs are that
  layer's, and a header its file lacks is an error naming the file's columns. Roles may
  be written in Chinese too (经度, 纬度, 位置, 村, 编号, 儿童数, 姓名, 电话, 类型, 学位).
- :func:`inspect_file`: for the app's "which column is ..." step: the headers, the first
  rows, and a guessed mapping (what the readers would take, else columns whose numbers look
  like degrees), with the roles still missing.
- :func:`remember_columns` / :func:`recall_columns`: a mapping kept per header set in the
  user's data folder (``column_mappings.json``, :func:`layers.files.user_folder`), so the
  next export of the same form is read without asking again.

The readers take the mapping as ``columns=`` (:class:`layers.tables.ColumnMapping`);
:func:`mapping.scenario.load_scenario` and ``replace_layers`` take a :class:`ColumnChoice`.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from layers import households as _households
from layers import i18n
from layers import services as _services
from layers import villages as _villages
from layers.errors import InputError, SettingsError
from layers.files import user_folder, write_text
from layers.survey import recognise
from layers.tables import (
    COLUMNS_ATTR,
    LAT_NAMES,
    LAYER_ROLES,
    LON_NAMES,
    POSITION_ROLES,
    ROLES,
    ColumnMapping,
    TablePreview,
    columns_line,
    find_column,
    guess_position_columns,
    normalize_header,
    read_preview,
)

__all__ = [
    "LAYERS",
    "ROLES",
    "ColumnChoice",
    "FilePreview",
    "as_column_choice",
    "check_shared_used",
    "columns_line",
    "guess_columns",
    "inspect_file",
    "parse_columns_option",
    "recall_columns",
    "remember_columns",
    "role_label",
]

#: The layers a mapping can be given for.
LAYERS = ("households", "villages", "services")

#: Other words accepted for a layer before ``:`` in ``--columns``.
_LAYER_WORDS = {
    "households": "households",
    "household": "households",
    "hh": "households",
    "农户": "households",
    "住户": "households",
    "villages": "villages",
    "village": "villages",
    "村庄": "villages",
    "村": "villages",
    "services": "services",
    "service": "services",
    "设施": "services",
}

#: Other words accepted for a role (compared as :func:`layers.tables.normalize_header`).
_ROLE_WORDS = {
    **{r: r for r in ROLES},
    "lng": "lon",
    "longitude": "lon",
    "x": "lon",
    "经度": "lon",
    "latitude": "lat",
    "y": "lat",
    "纬度": "lat",
    "gps": "point",
    "geopoint": "point",
    "位置": "point",
    "坐标": "point",
    "村": "village",
    "村名": "village",
    "编号": "id",
    "户号": "id",
    "儿童数": "children",
    "儿童": "children",
    "姓名": "name",
    "名称": "name",
    "电话": "phone",
    "类型": "kind",
    "学位": "capacity",
}

#: The headers each layer's reader knows, per role (what :func:`guess_columns` looks for).
_ROLE_NAMES = {
    "households": {
        "id": _households.ID_NAMES,
        "village": _households.VILLAGE_NAMES,
        "name": _households.NAME_NAMES,
        "phone": _households.PHONE_NAMES,
        "children": _households.CHILDREN_NAMES,
    },
    "villages": {"name": _villages.NAME_NAMES, "id": _villages.ID_NAMES},
    "services": {
        "kind": _services.KIND_NAMES,
        "name": _services.NAME_NAMES,
        "capacity": _services.CAPACITY_NAMES,
        "id": _services.ID_NAMES,
    },
}

#: Roles a layer cannot be read without (besides the positions of a table).
_REQUIRED = {"households": (), "villages": ("name",), "services": ("kind",)}

#: The file of remembered mappings in the user's data folder, and how many it keeps.
MEMORY_FILE = "column_mappings.json"
MAX_REMEMBERED = 200

i18n.register(
    {
        "error.columns.bad_option": {
            "zh": "--columns“{value}”格式不对：应写成 角色=列名，用逗号隔开，例如 "
            "lon=东经,lat=北纬,village=所在村；可以在前面加图层，例如 households:lon=东经。"
            "角色有：{roles}。",
            "en": "--columns '{value}' is not of the form ROLE=HEADER, comma separated, e.g. "
            "lon=东经,lat=北纬,village=所在村, optionally after a layer, e.g. "
            "households:lon=东经. Roles: {roles}.",
        },
        "error.columns.unused": {
            "zh": "--columns 中的 {pairs} 在给出的文件（{files}）里都找不到这样的列。"
            "请照抄文件第一行里的列名，或在前面写上图层（例如 households:）以查看该文件有哪些列。",
            "en": "--columns {pairs}: none of the files given ({files}) has such a column. "
            "Copy the header exactly as the file's first row writes it, or put the layer in "
            "front (e.g. households:) to see that file's columns.",
        },
        "columns.role.lon": {"zh": "经度", "en": "longitude"},
        "columns.role.lat": {"zh": "纬度", "en": "latitude"},
        "columns.role.point": {"zh": "位置（纬度和经度在同一列）", "en": "position (one column)"},
        "columns.role.id": {"zh": "编号", "en": "id"},
        "columns.role.village": {"zh": "所在村", "en": "village"},
        "columns.role.name": {"zh": "名称/户主姓名", "en": "name"},
        "columns.role.phone": {"zh": "电话", "en": "phone"},
        "columns.role.children": {"zh": "儿童数", "en": "children"},
        "columns.role.kind": {"zh": "设施类型", "en": "kind of service"},
        "columns.role.capacity": {"zh": "学位数", "en": "capacity (places)"},
    }
)


def role_label(role: str, lang: str = "zh") -> str:
    """What a role is called for people, in ``lang``."""
    return i18n.t(f"columns.role.{role}", lang)


# --------------------------------------------------------------------------------------------
# the command line's --columns


@dataclass(frozen=True)
class ColumnChoice:
    """Mappings given for a set of files (the command line's ``--columns``).

    Attributes
    ----------
    shared
        ``{role: header}`` pairs given without a layer: each applies to every file that has
        the header.
    by_layer
        ``{layer: {role: header}}``: pairs for one layer's file, strict.
    """

    shared: Mapping[str, str] = field(default_factory=dict)
    by_layer: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.shared) or any(self.by_layer.values())

    def for_layer(self, layer: str) -> ColumnMapping | None:
        """The mapping the reader of ``layer`` gets (None when nothing applies).

        The layer's own pairs are strict; shared pairs are added for the roles the layer
        reads and are skipped when its file lacks the header.
        """
        own = dict(self.by_layer.get(layer, {}))
        shared = {r: h for r, h in self.shared.items() if r not in own}
        if not own and not shared:
            return None
        return ColumnMapping({**shared, **own}, strict=True, optional=frozenset(shared))


def as_column_choice(
    columns: ColumnChoice | Mapping[str, object] | None,
) -> ColumnChoice:
    """``columns`` as a :class:`ColumnChoice`: ``{role: header}`` is shared,
    ``{layer: {role: header}}`` per layer."""
    if columns is None:
        return ColumnChoice()
    if isinstance(columns, ColumnChoice):
        return columns
    shared: dict[str, str] = {}
    by_layer: dict[str, dict[str, str]] = {}
    for key, value in columns.items():
        if isinstance(value, Mapping):
            layer = _LAYER_WORDS.get(normalize_header(key))
            if layer is None:
                raise SettingsError(
                    "error.columns.bad_option", value=str(key), roles=", ".join(ROLES)
                )
            by_layer.setdefault(layer, {}).update(
                {_role(r, str(key)): str(h) for r, h in value.items()}
            )
        else:
            shared[_role(key, f"{key}={value}")] = str(value)
    return ColumnChoice(shared, by_layer)


def _role(word: object, value: str) -> str:
    role = _ROLE_WORDS.get(normalize_header(word)) or _ROLE_WORDS.get(str(word).strip())
    if role is None:
        raise SettingsError(
            "error.columns.unknown_role", role=str(word), value=value, roles=", ".join(ROLES)
        )
    return role


_FULLWIDTH_PUNCT = str.maketrans({"，": ",", "：": ":", "＝": "=", "、": ","})


def parse_columns_option(values: Sequence[str]) -> ColumnChoice:
    """Parse the command line's ``--columns`` values (see the module docstring).

    Full-width punctuation (，：＝、) is read as its ASCII twin, as a Chinese keyboard
    types it. A header cannot hold a comma or ``=`` on the command line.

    Raises
    ------
    SettingsError
        ``error.columns.bad_option`` for a pair without ``=`` or an empty side,
        ``error.columns.unknown_role`` for a role not in :data:`ROLES`.
    """
    shared: dict[str, str] = {}
    by_layer: dict[str, dict[str, str]] = {}
    for value in values:
        text = value.translate(_FULLWIDTH_PUNCT).strip()
        target = shared
        head, sep, rest = text.partition(":")
        layer = _LAYER_WORDS.get(normalize_header(head)) if sep else None
        if layer is not None:
            target = by_layer.setdefault(layer, {})
            text = rest
        pairs = [p for p in text.split(",") if p.strip()]
        if not pairs:
            raise SettingsError("error.columns.bad_option", value=value, roles=", ".join(ROLES))
        for pair in pairs:
            word, eq, header = pair.partition("=")
            if not eq or not word.strip() or not header.strip():
                raise SettingsError("error.columns.bad_option", value=value, roles=", ".join(ROLES))
            target[_role(word.strip(), pair.strip())] = header.strip()
    return ColumnChoice(shared, by_layer)


def check_shared_used(
    choice: ColumnChoice, layers: Mapping[str, pd.DataFrame], files: Sequence[str]
) -> None:
    """Raise ``error.columns.unused`` when a shared pair matched no file's column.

    ``layers`` are the frames read with :meth:`ColumnChoice.for_layer` (their readers keep
    the mapping they resolved in ``attrs``); ``files`` name the files for the message.
    """
    unused = []
    for role, header in choice.shared.items():
        used = False
        for frame in layers.values():
            resolved = (frame.attrs.get(COLUMNS_ATTR) or {}).get(role)
            if resolved is not None and _same(resolved, header):
                used = True
        if not used and not any(role in m for m in choice.by_layer.values()):
            unused.append(f"{role}={header}")
    if unused:
        raise InputError(
            "error.columns.unused", pairs=", ".join(unused), files=", ".join(files) or "-"
        )


def _same(a: str, b: str) -> bool:
    def key(s: str) -> str:
        return unicodedata.normalize("NFKC", s).strip().lower()

    return key(a) == key(b)


# --------------------------------------------------------------------------------------------
# the app's "which column is ..." step


@dataclass(frozen=True)
class FilePreview:
    """What :func:`inspect_file` found, for the "which column is ..." step.

    Attributes
    ----------
    headers, rows, sheet, geodata, tool
        As :class:`layers.tables.TablePreview` (``rows``: the first few only).
    guess
        ``{role: header}``: the remembered mapping for this header set when there is one,
        else what the readers would take and the columns whose numbers look like degrees.
    remembered
        True when ``guess`` is a mapping remembered for these headers.
    missing
        Roles the layer cannot be read without that ``guess`` lacks (``"position"`` for a
        table without lon/lat or point, ``"name"`` for villages, ``"kind"`` for services).
    roles
        The roles to offer for this layer, in order (positions only for tables).
    """

    headers: list[str]
    rows: list[list[str]]
    sheet: str | None
    geodata: bool
    tool: str | None
    guess: dict[str, str]
    remembered: bool
    missing: tuple[str, ...]
    roles: tuple[str, ...]


def inspect_file(
    path: str | Path,
    layer: str,
    *,
    layer_label: str | None = None,
    n_rows: int = 5,
    memory_folder: str | Path | None = None,
) -> FilePreview:
    """The headers, the first ``n_rows`` rows and a guessed mapping of a user's file.

    Parameters
    ----------
    path
        Any file :func:`layers.tables.read_table` reads.
    layer
        ``"households"``, ``"villages"`` or ``"services"``.
    layer_label
        The file as the user called it, for messages.
    n_rows
        How many rows to return (the guess looks at the first 200).
    memory_folder
        Where remembered mappings are kept (default: the user's data folder).

    Raises
    ------
    InputError
        What :func:`layers.tables.read_preview` raises for the file itself (too large,
        unreadable, empty...).
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, not {layer!r}")
    preview = read_preview(path, layer_label=layer_label)
    roles = tuple(r for r in LAYER_ROLES[layer] if not (preview.geodata and r in POSITION_ROLES))
    if layer == "villages":
        roles = tuple(r for r in roles if r != "village")
    recalled = recall_columns(preview.headers, folder=memory_folder)
    guess = recalled if recalled is not None else guess_columns(preview, layer)
    guess = {r: h for r, h in guess.items() if r in roles and h in preview.headers}
    missing = []
    if not preview.geodata and not ("point" in guess or ("lon" in guess and "lat" in guess)):
        missing.append("position")
    missing += [r for r in _REQUIRED[layer] if r not in guess]
    return FilePreview(
        headers=preview.headers,
        rows=preview.rows[:n_rows],
        sheet=preview.sheet,
        geodata=preview.geodata,
        tool=preview.tool,
        guess=guess,
        remembered=recalled is not None,
        missing=tuple(missing),
        roles=roles,
    )


def guess_columns(preview: TablePreview, layer: str) -> dict[str, str]:
    """``{role: header}`` as the readers would take the columns of ``preview``.

    Positions: a survey export's geopoint (the most answered), else headers the readers know
    (:data:`layers.tables.LON_NAMES`...), else a column of positions, else the columns whose
    numbers look like longitudes and latitudes
    (:func:`layers.tables.guess_position_columns`). Other roles: the headers each layer's
    reader knows (also inside a survey group). A survey export's metadata is never offered.
    """
    headers = [h for h in preview.headers if h not in preview.metadata]
    frame = pd.DataFrame(
        [[c if c else pd.NA for c in row] for row in preview.rows],
        columns=preview.headers,
        dtype="object",
    )[headers]
    out: dict[str, str] = {}
    if not preview.geodata:
        shape = recognise(headers)
        if shape.geopoints:
            best = max(shape.geopoints, key=lambda p: int(frame[p.lat].notna().sum()))
            out.update({"lon": best.lon, "lat": best.lat})
        else:
            lon = find_column(headers, LON_NAMES, tool=shape.tool)
            lat = find_column(headers, LAT_NAMES, tool=shape.tool)
            if lon is not None and lat is not None and lon != lat:
                out.update({"lon": lon, "lat": lat})
            else:
                out.update(guess_position_columns(frame))
    taken = set(out.values())
    for role, names in _ROLE_NAMES[layer].items():
        found = find_column(headers, names, tool=preview.tool, exclude=taken)
        if found is not None:
            out[role] = found
            taken.add(found)
    return out


# --------------------------------------------------------------------------------------------
# remembering a mapping per header set


def header_key(headers: Sequence[object]) -> str:
    """The key of a header set: the digest of its normalized headers, in order (the same
    form exported again gives the same key, whatever its rows)."""
    text = "\x1f".join(normalize_header(h) for h in headers)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _memory_path(folder: str | Path | None) -> Path:
    return (Path(folder) if folder is not None else user_folder("data")) / MEMORY_FILE


def _load_memory(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no memory yet, or a damaged one: start again rather than refuse to read
    return data if isinstance(data, dict) else {}


def remember_columns(
    headers: Sequence[object],
    mapping: Mapping[str, str],
    *,
    folder: str | Path | None = None,
) -> Path:
    """Keep ``mapping`` for files with these ``headers`` (all-or-nothing write).

    Parameters
    ----------
    headers
        The file's headers (:attr:`FilePreview.headers`).
    mapping
        ``{role: header}``, roles from :data:`ROLES`, headers among ``headers``.
    folder
        The folder of the memory file :data:`MEMORY_FILE` (default: the user's data
        folder, :func:`layers.files.user_folder`). The newest :data:`MAX_REMEMBERED`
        header sets are kept.

    Returns
    -------
    pathlib.Path
        The memory file.
    """
    roles = {str(r): str(h) for r, h in mapping.items()}
    for role in roles:
        if role not in ROLES:
            raise SettingsError(
                "error.columns.unknown_role", role=role, value=role, roles=", ".join(ROLES)
            )
    path = _memory_path(folder)
    memory = _load_memory(path)
    key = header_key(headers)
    memory.pop(key, None)
    memory[key] = {"roles": roles}
    while len(memory) > MAX_REMEMBERED:
        memory.pop(next(iter(memory)))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(path, json.dumps(memory, ensure_ascii=False, indent=1))


def recall_columns(
    headers: Sequence[object], *, folder: str | Path | None = None
) -> dict[str, str] | None:
    """The mapping remembered for files with these ``headers``, or None."""
    entry = _load_memory(_memory_path(folder)).get(header_key(headers))
    if not isinstance(entry, dict) or not isinstance(entry.get("roles"), dict):
        return None
    names = {str(h) for h in headers}
    roles = {str(r): str(h) for r, h in entry["roles"].items() if r in ROLES and str(h) in names}
    return roles or None
