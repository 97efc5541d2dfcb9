"""The translation table: every user-visible string, in Chinese and English.

Each module that shows text to people registers its messages here with :func:`register`
(next to the code that uses them), so one table holds them all and :func:`t` looks them up.
Keys are dotted (``error.csv.no_lon_lat``); placeholders use :meth:`str.format` syntax and
must be the same in both languages (a test checks that).
"""

from __future__ import annotations

import string

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

_TABLE: dict[str, dict[str, str]] = {}


def register(messages: dict[str, dict[str, str]]) -> None:
    """Add messages to the table.

    Parameters
    ----------
    messages
        ``{key: {"zh": ..., "en": ...}}``. A key may be registered again only with the same
        texts (modules can be re-imported); a different text for an existing key is a bug.
    """
    for key, texts in messages.items():
        missing = [lang for lang in LANGUAGES if lang not in texts]
        if missing:
            raise ValueError(f"translation {key!r} lacks {missing}")
        old = _TABLE.get(key)
        if old is not None and old != texts:
            raise ValueError(f"translation {key!r} registered twice with different texts")
        _TABLE[key] = dict(texts)


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: object) -> str:
    """Translate ``key`` into ``lang`` and fill in ``params``.

    An unknown language falls back to English; an unknown key raises ``KeyError`` (a missing
    translation is a bug that tests should catch, not something to paper over).
    """
    texts = _TABLE[key]
    text = texts.get(lang) or texts["en"]
    return text.format(**params) if params else text


def placeholders(text: str) -> set[str]:
    """The names of the ``{placeholders}`` in ``text``."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def all_keys() -> list[str]:
    """Every registered key, sorted."""
    return sorted(_TABLE)


def texts_for(key: str) -> dict[str, str]:
    """Both languages' texts of ``key``."""
    return dict(_TABLE[key])
