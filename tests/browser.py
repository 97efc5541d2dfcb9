"""Headless Chromium for tests: load a local HTML file with the network off, return the DOM.

Chromium is started with a proxy that does not exist and a host resolver that resolves
nothing, so a page that tries to load anything from the internet fails to do so (and the
test sees the consequence) instead of quietly fetching it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# The network is cut inside the browser: every host name fails to resolve and every request
# goes to a closed local port.
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


@dataclass(frozen=True)
class PageRun:
    """What Chromium produced: the DOM after scripts ran, and its log (console messages)."""

    dom: str
    log: str

    def console_errors(self) -> list[str]:
        """Console lines that report a JavaScript error or a failed load."""
        bad = ("Uncaught", "ERR_", "Failed to load", "is not defined", "TypeError")
        return [
            line
            for line in self.log.splitlines()
            if "CONSOLE" in line or "console" in line.lower()
            if any(b in line for b in bad)
        ]


def chromium_path() -> str | None:
    """The Chromium executable on PATH, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The Chromium executable; skips the calling test (with the reason) when there is none."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    return exe


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    exe = require_chromium()
    with tempfile.TemporaryDirectory(prefix="gm-chromium-") as profile:
        cmd = [exe, *BASE_FLAGS, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)


def dump_dom(html_path: str | Path, *, budget_ms: int = 5000, timeout_s: float = 90) -> PageRun:
    """Load ``html_path`` offline and return the DOM after ``budget_ms`` of virtual time.

    Parameters
    ----------
    html_path
        A local HTML file.
    budget_ms
        Virtual time for scripts and timers to run before the DOM is dumped.
    timeout_s
        Real-time limit for Chromium.
    """
    url = Path(html_path).resolve().as_uri()
    proc = _run(
        [f"--virtual-time-budget={budget_ms}", "--window-size=1280,900", "--dump-dom", url],
        timeout_s,
    )
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return PageRun(dom=proc.stdout, log=proc.stderr)


def screenshot(
    html_path: str | Path,
    png_path: str | Path,
    *,
    size: tuple[int, int] = (1280, 900),
    budget_ms: int = 5000,
    timeout_s: float = 90,
) -> Path:
    """Load ``html_path`` offline and save a PNG screenshot of ``size`` pixels."""
    url = Path(html_path).resolve().as_uri()
    png_path = Path(png_path).resolve()
    proc = _run(
        [
            f"--virtual-time-budget={budget_ms}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png_path}",
            url,
        ],
        timeout_s,
    )
    if proc.returncode != 0 or not png_path.exists():
        raise RuntimeError(f"chromium screenshot failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return png_path
