"""Writing files all-or-nothing: one module for every file the project writes.

Everything the project writes (the command line's outputs, the app's project files and
autosaves, the download and network caches) goes through here, so that a failed run or save
leaves every earlier file exactly as it was:

- :func:`atomic_path` for one file: the caller writes a temporary file beside the target,
  which replaces the target only when the caller finished without an error.
- :func:`output_folder` for a set of files (``villages.csv``, ``households.csv``,
  ``layers.gpkg``, ``map.html`` ...): every file is written into a staging folder beside the
  output folder and moved in only when all of them were written. If moving one in fails (the
  file is open in Excel on Windows), the ones already moved are put back, so the folder holds
  either all the new files or all the old ones.

Failures of the environment (a folder that is a file, no permission, a full disk, a file open
in another program) become :class:`~layers.errors.OutputError` with a message in both
languages that names the file or folder as the user gave it and says what to do.

Why not just ``os.replace`` each file: replacing three files one by one leaves the first two
new and the third old when the third fails; and on Windows a file open in Excel, WPS or
Acrobat cannot be replaced at all (``PermissionError``), which is exactly the moment a
workshop re-runs an analysis.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from layers import i18n
from layers.errors import GapMapperError, OutputError

i18n.register(
    {
        "error.output.not_a_folder": {
            "zh": "输出位置“{folder}”是一个文件，不是文件夹：请换一个文件夹名（如 out），"
            "或先移走这个文件。没有写入任何文件。",
            "en": "The output place '{folder}' is a file, not a folder: give another folder "
            "name (e.g. out), or move that file away. Nothing was written.",
        },
        "error.output.under_a_file": {
            "zh": "无法在“{folder}”建立文件夹：路径中的“{file}”是一个文件。请换一个位置。"
            "没有写入任何文件。",
            "en": "Cannot make the folder '{folder}': '{file}' on its way is a file. "
            "Choose another place. Nothing was written.",
        },
        "error.output.target_is_folder": {
            "zh": "“{folder}”里的“{file}”是一个文件夹，结果文件无法写在那里：请重命名或移走它，"
            "再运行一次。原有文件都没有改动。",
            "en": "'{file}' in '{folder}' is a folder, so the result cannot be written there: "
            "rename or move it and run again. No earlier file was changed.",
        },
        "error.output.locked": {
            "zh": "“{file}”正被其他程序打开（Excel、WPS 或 PDF 阅读器？）：请先关闭它，"
            "再运行一次。“{folder}”里的原有文件都没有改动。",
            "en": "'{file}' is open in another program (Excel, WPS or a PDF reader?): close "
            "it and run again. No file in '{folder}' was changed.",
        },
        "error.output.no_permission": {
            "zh": "没有权限写入“{folder}”：请换一个自己的文件夹（如“文档”下的文件夹）。"
            "原有文件都没有改动。",
            "en": "No permission to write in '{folder}': choose a folder of your own (e.g. "
            "under Documents). No earlier file was changed.",
        },
        "error.output.disk_full": {
            "zh": "磁盘已满，无法写入“{folder}”：请腾出空间或换一个磁盘。原有文件都没有改动。",
            "en": "The disk is full, so '{folder}' cannot be written: free some space or "
            "choose another disk. No earlier file was changed.",
        },
        "error.output.failed": {
            "zh": "无法写入“{folder}”（{reason}）。原有文件都没有改动。",
            "en": "Could not write in '{folder}' ({reason}). No earlier file was changed.",
        },
    }
)

#: ``errno`` values meaning "no permission" (Windows reports a locked file as EACCES too).
_NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}
#: ``errno`` values meaning "the disk is full".
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _shown(path: Path) -> str:
    return str(path)


def output_error(exc: OSError, folder: Path, file: str | None = None) -> OutputError:
    """The :class:`OutputError` that explains ``exc`` (raised while writing in ``folder``)."""
    if exc.errno in _DISK_FULL:
        return OutputError("error.output.disk_full", folder=_shown(folder))
    if isinstance(exc, PermissionError) or exc.errno in _NO_PERMISSION:
        return OutputError("error.output.no_permission", folder=_shown(folder))
    reason = exc.strerror or type(exc).__name__
    if file:
        reason = f"{file}: {reason}"
    return OutputError("error.output.failed", folder=_shown(folder), reason=reason)


def _first_file_on_the_way(folder: Path) -> Path | None:
    """The first existing non-folder among ``folder`` and its parents, or None."""
    for p in (folder, *folder.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None


def make_folder(folder: str | Path) -> Path:
    """Make ``folder`` (and its parents) if needed and return it.

    Raises
    ------
    OutputError
        ``error.output.not_a_folder`` when ``folder`` is an existing file,
        ``error.output.under_a_file`` when one of its parents is a file, or the message for
        the operating system's refusal (no permission, disk full).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError("error.output.not_a_folder", folder=_shown(folder))
    blocker = _first_file_on_the_way(folder)
    if blocker is not None:
        raise OutputError("error.output.under_a_file", folder=_shown(folder), file=_shown(blocker))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, folder) from exc
    return folder


class OutputSet:
    """Files staged in a folder beside ``folder``, moved into it together by :meth:`commit`.

    Use through :func:`output_folder`. ``path(name)`` gives where to write ``name`` (a file
    name, or a relative path such as ``cards/光明村.png``); nothing in ``folder`` changes until
    :meth:`commit`.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        make_folder(self.folder)
        try:
            # beside the folder, not inside it: a crash never leaves a stray folder among the
            # results; on the same disk as the folder, so moving a file in is a rename
            self._stage = Path(
                tempfile.mkdtemp(prefix=f".{self.folder.name or 'out'}-partial-", dir=self._parent)
            )
        except OSError as exc:
            raise output_error(exc, self.folder) from exc
        self._names: list[str] = []

    @property
    def _parent(self) -> Path:
        resolved = self.folder.resolve()
        return resolved.parent if resolved.parent != resolved else resolved

    def path(self, name: str) -> Path:
        """The staged path to write ``name`` to (its sub-folders are made)."""
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"not a plain relative file name: {name!r}")
        staged = self._stage / "new" / rel
        staged.parent.mkdir(parents=True, exist_ok=True)
        key = rel.as_posix()
        if key not in self._names:
            self._names.append(key)
        return staged

    @property
    def names(self) -> list[str]:
        """The relative names staged so far, in order."""
        return list(self._names)

    def commit(self) -> list[Path]:
        """Move every staged file into the folder, all or none; return the final paths.

        Raises
        ------
        OutputError
            When a target is a folder, is open in another program, or cannot be written; the
            folder is then exactly as it was before.
        """
        targets = [(self._stage / "new" / n, self.folder / n) for n in self._names]
        for staged, target in targets:
            if not staged.exists():
                raise FileNotFoundError(f"{staged.name} was staged but never written")
            if target.is_dir():
                raise OutputError(
                    "error.output.target_is_folder", file=target.name, folder=_shown(self.folder)
                )
        old = self._stage / "old"
        moved_aside: list[tuple[Path, Path]] = []
        moved_in: list[Path] = []
        made: list[Path] = []
        try:
            # 1. move the existing files aside (on Windows this is where a file open in
            #    Excel refuses), 2. move the new ones in; any failure undoes both steps
            for i, (_, target) in enumerate(targets):
                if target.exists():
                    aside = old / str(i)
                    aside.parent.mkdir(parents=True, exist_ok=True)
                    _move(target, aside, self.folder)
                    moved_aside.append((aside, target))
            for staged, target in targets:
                for parent in reversed(target.relative_to(self.folder).parents):
                    p = self.folder / parent
                    if not p.exists():
                        p.mkdir()
                        made.append(p)
                _move(staged, target, self.folder)
                moved_in.append(target)
        except BaseException:
            for target in reversed(moved_in):
                with contextlib.suppress(OSError):
                    target.unlink()
            for aside, target in reversed(moved_aside):
                with contextlib.suppress(OSError):
                    os.replace(aside, target)
            for p in reversed(made):
                with contextlib.suppress(OSError):
                    p.rmdir()
            raise
        self.discard()
        return [t for _, t in targets]

    def discard(self) -> None:
        """Remove the staging folder and everything in it."""
        shutil.rmtree(self._stage, ignore_errors=True)


def _move(src: Path, dst: Path, folder: Path) -> None:
    try:
        os.replace(src, dst)
    except PermissionError as exc:
        # Windows refuses to rename or replace a file another program holds open
        raise OutputError("error.output.locked", file=dst.name, folder=_shown(folder)) from exc
    except OSError as exc:
        raise output_error(exc, folder, dst.name) from exc


@contextlib.contextmanager
def output_folder(folder: str | Path) -> Iterator[OutputSet]:
    """Stage files for ``folder`` and move them in together when the block succeeds.

    On any exception inside the block nothing in ``folder`` changes; an ``OSError`` of the
    environment (disk full, no permission) is raised as :class:`OutputError`.

    Examples
    --------
    >>> with output_folder("out") as out:                      # doctest: +SKIP
    ...     table.to_csv(out.path("villages.csv"))
    ...     write_map_html(m, out.path("map.html"))
    """
    outputs = OutputSet(folder)
    try:
        yield outputs
        outputs.commit()
    except GapMapperError:
        outputs.discard()
        raise
    except OSError as exc:
        outputs.discard()
        raise output_error(exc, outputs.folder) from exc
    except BaseException:
        outputs.discard()
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``.

    On an exception the temporary file is removed and ``path`` is untouched. The temporary
    path does not exist when yielded (some writers, GDAL's among them, refuse to overwrite an
    existing empty file), has the same suffix as ``path`` and lies in the same folder.
    """
    path = Path(path)
    folder = make_folder(path.parent)
    if path.is_dir():
        raise OutputError("error.output.target_is_folder", file=path.name, folder=_shown(folder))
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=folder)
    except OSError as exc:
        raise output_error(exc, folder) from exc
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        _move(tmp, path, folder)
    except OSError as exc:
        if isinstance(exc, GapMapperError):
            raise
        raise output_error(exc, folder, path.name) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` all-or-nothing; return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` all-or-nothing; return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


#: The folder name of the tool's own files in the user's folders.
APP_FOLDER = "service-gap-mapper"


def user_folder(kind: str) -> Path:
    """Where the tool keeps this user's own files: ``"cache"`` (downloads, built networks)
    or ``"data"`` (the autosave, the displacement key).

    On Windows, from platformdirs: ``%LOCALAPPDATA%\\service-gap-mapper\\Cache`` and
    ``%LOCALAPPDATA%\\service-gap-mapper``. ``%LOCALAPPDATA%`` is in the user's profile,
    which Windows lets only that user, administrators and the system read (and which is not
    copied to other computers, unlike ``%APPDATA%``).

    Elsewhere ``~/.cache/service-gap-mapper`` and ``~/.local/share/service-gap-mapper``: the
    folders earlier versions used, kept so that existing autosaves, keys and caches are found
    (platformdirs would follow ``$XDG_CACHE_HOME``, or ``~/Library`` on macOS, and lose them).
    """
    if kind not in ("cache", "data"):
        raise ValueError(f"kind must be 'cache' or 'data', not {kind!r}")
    if sys.platform == "win32":
        from platformdirs.windows import Windows

        dirs = Windows(APP_FOLDER, appauthor=False, roaming=False)
        return Path(dirs.user_cache_dir if kind == "cache" else dirs.user_data_dir)
    if kind == "cache":
        return Path.home() / ".cache" / APP_FOLDER
    return Path.home() / ".local" / "share" / APP_FOLDER


#: Name of the log file that internal errors are written to (see :func:`write_error_log`).
LOG_NAME = "gapmapper.log"
#: The log keeps growing until it reaches this size, then starts again (bytes).
MAX_LOG_BYTES = 5 * 1024 * 1024


def log_folder() -> Path:
    """Where the project's log lives: ``$GAPMAPPER_LOG_DIR``, else the user's log folder
    (``%LOCALAPPDATA%\\service-gap-mapper\\Logs`` on Windows,
    ``~/.local/state/service-gap-mapper/log`` on Linux, from platformdirs)."""
    env = os.environ.get("GAPMAPPER_LOG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_log_path("service-gap-mapper", appauthor=False)


def write_error_log(exc: BaseException, context: str = "") -> Path | None:
    """Append ``exc`` with its traceback to the log; return the log's path (None if the log
    itself cannot be written: the caller still shows its short message).

    The people who meet an internal error see a short message and this path, never the
    traceback; the log is what they send to whoever maintains the tool.
    """
    import datetime as dt
    import traceback

    try:
        folder = log_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOG_NAME
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            os.replace(path, path.with_suffix(".log.1"))
        text = "".join(traceback.format_exception(exc))
        stamp = dt.datetime.now().isoformat(timespec="seconds")
        with open(path, "a", encoding="utf-8", errors="replace") as fh:
            fh.write(f"--- {stamp} {context}\n{text}\n")
        return path
    except OSError:
        return None
