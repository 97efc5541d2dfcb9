"""The project's exception family.

Every error a person can act on derives from :class:`GapMapperError` and from the matching
builtin (so ``except ValueError`` still works for library users). An error carries a message
key and its parameters, so the app can show it in the user's language; ``str(error)`` is the
English text, for the command line and logs.

A message says what was expected, what was found, where (file, row, column) and what to do.
"""

from __future__ import annotations

from layers import i18n


class GapMapperError(Exception):
    """Base class of the project's errors.

    Parameters
    ----------
    key
        Translation key of the message (registered with :func:`layers.i18n.register`).
    **params
        Values for the message's placeholders (file name, row, column, value...).
    """

    def __init__(self, key: str, /, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        """The message in ``lang`` ("zh" or "en")."""
        return i18n.t(self.key, lang, **self.params)


class InputError(GapMapperError, ValueError):
    """A user file or argument is wrong (bad rows, missing columns, unknown CRS...)."""


class FileFormatError(InputError):
    """A file cannot be read as the format it claims to be (or as geodata at all)."""


class NoDataError(InputError):
    """Input that is readable but holds nothing usable (no roads, no rows, no services)."""


class SettingsError(GapMapperError, ValueError):
    """An analysis setting is out of range (a negative threshold, an unknown mode...)."""


class DownloadError(GapMapperError, ConnectionError):
    """Downloading OpenStreetMap data failed (no network, Overpass refused, timed out)."""


class NetworkAccessError(GapMapperError, RuntimeError):
    """Something tried to reach the network where the user did not ask for a download."""


class OutputError(GapMapperError, OSError):
    """A result cannot be written (the folder is a file, no permission, the disk is full, the
    file is open in another program); nothing earlier was changed (see :mod:`layers.files`)."""
