"""Headless Chromium for tests, with the network off.

Two ways to use it: :func:`dump_dom` and :func:`screenshot` load a local HTML file in one
Chromium run; :class:`DevTools` drives a live Chromium over the DevTools protocol (through the
``websockets`` package Streamlit already depends on, so no browser driver is needed) for pages
that keep running, such as the Streamlit app, and records every request and console message.

Chromium is started with a proxy that does not exist and a host resolver that resolves
nothing, so a page that tries to load anything from the internet fails to do so (and the
test sees the consequence) instead of quietly fetching it.

Browser tests skip when Chromium is missing, unless ``GAPMAPPER_REQUIRE_BROWSER=1`` is set
(as CI does): then a missing browser fails the test.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# The network is cut inside the browser: every host name fails to resolve and every request
# goes to a closed local port.
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
# The same for a page served from this machine (the Streamlit app): loopback is not sent to the
# dead proxy (Chromium's implicit bypass list) and "localhost" still resolves; everything else
# fails as above.
LOOPBACK_OK_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
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


#: Set to 1 to make a missing browser fail the test instead of skipping it (CI sets it).
REQUIRE_ENV = "GAPMAPPER_REQUIRE_BROWSER"


def browser_required() -> bool:
    """Whether browser tests must run (``GAPMAPPER_REQUIRE_BROWSER=1``) rather than skip."""
    return os.environ.get(REQUIRE_ENV, "").strip() == "1"


def skip_or_fail(reason: str) -> None:
    """Skip the calling test with ``reason``; fail it instead when the browser is required."""
    if browser_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so browser tests may not be skipped)")
    pytest.skip(reason)


def require_chromium() -> str:
    """The Chromium executable; skips the calling test (with the reason) when there is none.

    With ``GAPMAPPER_REQUIRE_BROWSER=1`` a missing Chromium fails the test instead.
    """
    exe = chromium_path()
    if exe is None:
        skip_or_fail("headless Chromium not installed (apt-get install chromium)")
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


# --------------------------------------------------------------------------------------------
# A live Chromium over the DevTools protocol

#: URL schemes that never leave the machine.
LOCAL_SCHEMES = ("data", "blob")
#: Host names that are this machine.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_local_url(url: str) -> bool:
    """Whether loading ``url`` stays on this machine (loopback, ``data:`` or ``blob:``)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


@dataclass(frozen=True)
class ConsoleMessage:
    """One message of the page's console or log.

    ``source`` is ``console`` (``console.*`` calls), ``exception`` (an uncaught error) or the
    DevTools log source (``network`` for a failed load, ``javascript``, ``security``, ...).
    """

    level: str
    text: str
    source: str
    url: str = ""


#: ``session`` default of :meth:`DevTools.send`: the page's session (None is the browser's).
_PAGE = object()


def _remote_object_text(obj: dict) -> str:
    if "value" in obj:
        return str(obj["value"])
    return str(obj.get("description") or obj.get("unserializableValue") or obj.get("type", ""))


class DevTools:
    """A headless Chromium with the internet cut, driven over the DevTools protocol.

    Only this machine is reachable (``127.0.0.1``, ``localhost``): pages served by a local
    server load; any other host fails to resolve and would go to a dead proxy.

    Use it as a context manager; it starts Chromium on a free loopback port, opens one page of
    ``size`` CSS pixels and follows that page, its frames and its workers: every requested
    URL lands in :attr:`requests` (HTTP, ``data:``, ``blob:`` and websockets), every failed
    load in :attr:`failed`, and every console message, uncaught exception and log entry in
    :attr:`console`. Closing stops Chromium and deletes its profile.

    Parameters
    ----------
    size
        Viewport width and height, CSS pixels.
    timeout_s
        Real-time limit for starting Chromium and for each protocol command, seconds.
    """

    def __init__(self, size: tuple[int, int] = (1400, 1000), timeout_s: float = 30.0) -> None:
        self.size = size
        self.timeout_s = timeout_s
        #: Every URL the page, its frames and workers asked for, in order.
        self.requests: list[str] = []
        #: (URL, Chromium's error text) of every load that failed.
        self.failed: list[tuple[str, str]] = []
        #: Console messages, uncaught exceptions and log entries, in order.
        self.console: list[ConsoleMessage] = []
        self._proc: subprocess.Popen | None = None
        self._profile: str | None = None
        self._log_text = ""
        self._stack = contextlib.ExitStack()
        self._ws = None
        self._next_id = 0
        self._session: str | None = None
        self._url_of: dict[str, str] = {}

    # -- lifecycle

    def __enter__(self) -> DevTools:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start Chromium, open the page and start recording."""
        exe = require_chromium()
        try:
            from websockets.sync.client import connect
        except ImportError:
            skip_or_fail("the websockets package is missing (it comes with streamlit)")
        self._profile = tempfile.mkdtemp(prefix="gm-devtools-")
        profile = Path(self._profile)
        w, h = self.size
        cmd = [
            exe,
            *BASE_FLAGS,
            *LOOPBACK_OK_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={w},{h}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",  # Chromium picks a free port and writes it down
            "about:blank",
        ]
        with open(profile / "chromium.log", "wb") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        lines: list[str] = []
        while len(lines) < 2:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not open its DevTools port: {self.log[-2000:]}")
            time.sleep(0.05)
            if port_file.exists():
                lines = port_file.read_text().split()
        options: dict[str, Any] = {"max_size": None, "open_timeout": self.timeout_s}
        if "proxy" in inspect.signature(connect).parameters:
            # websockets >= 15 honours HTTP(S)_PROXY; this connection is to loopback
            options["proxy"] = None
        url = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        self._ws = self._stack.enter_context(connect(url, ping_interval=None, **options))
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=None)
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=None
        )
        self._session = attached["sessionId"]
        self._follow(self._session, wait=False)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False},
        )

    def close(self) -> None:
        """Stop Chromium (politely, then by force) and delete its profile."""
        if self._ws is not None:
            from websockets.exceptions import WebSocketException

            try:
                self._post("Browser.close", session=None)
                self._stack.close()
            except (OSError, WebSocketException):
                pass  # the browser is already gone
            self._ws = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, 9)
                self._proc.wait(timeout=5)
            self._proc = None
        if self._profile is not None:
            self._log_text = self.log
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    @property
    def log(self) -> str:
        """Chromium's own log (stderr)."""
        if self._profile is None:
            return self._log_text
        path = Path(self._profile) / "chromium.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- protocol

    def _post(self, method: str, params: dict | None = None, *, session: Any = _PAGE) -> int:
        """Send a command without waiting for its answer; returns its id."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        session = self._session if session is _PAGE else session
        if session is not None:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        return self._next_id

    def send(
        self,
        method: str,
        params: dict | None = None,
        *,
        session: Any = _PAGE,
        timeout_s: float | None = None,
    ) -> dict:
        """Run a DevTools command (on the page unless ``session`` says otherwise); its result.

        Events that arrive meanwhile are recorded.
        """
        msg_id = self._post(method, params, session=session)
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            msg = self._receive(deadline, method)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method} failed: {msg['error']}")
                return msg.get("result", {})
            self._record(msg)

    def pump(self, seconds: float) -> None:
        """Record events for ``seconds`` of real time."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                msg = self._receive(deadline, "pump")
            except TimeoutError:
                return
            self._record(msg)

    def _receive(self, deadline: float, what: str) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no DevTools answer to {what} in time")
        return json.loads(self._ws.recv(timeout=remaining))

    def _follow(self, session: str, *, wait: bool) -> None:
        """Record a page, frame or worker session; and its own frames and workers."""
        for method in ("Network.enable", "Log.enable", "Runtime.enable", "Page.enable"):
            self._post(method, session=session)
        # children start paused, so their first request is seen too
        self._post(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
            session=session,
        )
        if wait:
            self._post("Runtime.runIfWaitingForDebugger", session=session)

    def _record(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Target.attachedToTarget":
            self._follow(p["sessionId"], wait=p.get("waitingForDebugger", False))
        elif method == "Network.requestWillBeSent":
            self._url_of[p["requestId"]] = p["request"]["url"]
            self.requests.append(p["request"]["url"])
        elif method == "Network.webSocketCreated":
            self.requests.append(p["url"])
        elif method == "Network.loadingFailed":
            self.failed.append((self._url_of.get(p["requestId"], "?"), p.get("errorText", "")))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_object_text(a) for a in p.get("args", []))
            self.console.append(ConsoleMessage(p["type"], text, "console"))
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = _remote_object_text(d["exception"]) if "exception" in d else d["text"]
            self.console.append(ConsoleMessage("error", text, "exception", d.get("url", "")))
        elif method == "Log.entryAdded":
            e = p["entry"]
            self.console.append(
                ConsoleMessage(e["level"], e["text"], e["source"], e.get("url", ""))
            )

    # -- page

    def navigate(self, url: str) -> None:
        """Open ``url`` in the page (returns once the navigation has started)."""
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise RuntimeError(f"could not open {url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page's main frame."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            raise RuntimeError(f"page script failed: {d.get('exception', d).get('description')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float, *, poll_s: float = 0.25) -> Any:
        """Evaluate ``expression`` until its value is truthy; that value.

        Raises
        ------
        TimeoutError
            After ``timeout_s`` seconds, with the last value in the message.
        """
        deadline = time.monotonic() + timeout_s
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.pump(poll_s)
        raise TimeoutError(f"waited {timeout_s:g} s for {expression!r}; last value {value!r}")

    def set_viewport(self, width: int, height: int) -> None:
        """Resize the page's viewport (CSS pixels)."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def screenshot(self, path: str | Path) -> Path:
        """Save the viewport as a PNG file."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def console_errors(self, keep: Callable[[ConsoleMessage], bool] | None = None) -> list[str]:
        """Errors on the console: uncaught exceptions, ``console.error`` and failed loads."""
        return [
            f"[{m.source}] {m.text} {m.url}".strip()
            for m in self.console
            if m.level == "error" and (keep is None or keep(m))
        ]


# --------------------------------------------------------------------------------------------
# Driving a Streamlit app like a person: real mouse clicks and key presses, widgets found by
# the ``st-key-<key>`` class Streamlit gives every keyed element

#: Counts the app's script runs as the page sees them (``.stApp``'s ``data-test-script-state``
#: goes ``running`` -> ``notRunning``), so that a run too quick to be seen by polling is
#: still counted.
_RUN_COUNTER = """
(() => {
  if (window.__gmRuns) { return true; }
  window.__gmRuns = {started: 0, finished: 0, log: []};
  const seen = {state: null};
  const look = () => {
    const app = document.querySelector('.stApp');
    const state = app ? app.getAttribute('data-test-script-state') : null;
    if (state !== seen.state) {
      window.__gmRuns.log.push([state, Math.round(performance.now())]);
      if (state === 'running') { window.__gmRuns.started += 1; }
      if (seen.state === 'running' && state !== 'running') { window.__gmRuns.finished += 1; }
      seen.state = state;
    }
  };
  new MutationObserver(look).observe(document.documentElement,
    {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
  look();
  return true;
})()
"""

# The page is idle: no script run, no stale element, no spinner.
_IDLE = """
(() => {
  const app = document.querySelector('.stApp');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"]')
    && !document.querySelector('[data-testid="stSpinner"]');
})()
"""

# The centre of an element (scrolled into view first), in the page's CSS pixels; null when
# there is no such element or it has no size.
_CENTER = """
((selector, index) => {
  const all = document.querySelectorAll(selector);
  const el = all[index < 0 ? all.length + index : index];
  if (!el) { return null; }
  el.scrollIntoView({block: 'center', inline: 'center'});
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) { return null; }
  return [r.left + r.width / 2, r.top + r.height / 2];
})
"""


class StreamlitPage:
    """A Streamlit app open in a :class:`DevTools` Chromium, driven by widget keys.

    Clicks are real mouse events at the element's place and text is typed with key events,
    as a person would; :meth:`wait_idle` waits until the app's script has run and the page
    settled. Elements are found by ``st-key-<key>``, the class Streamlit gives keyed ones.
    """

    def __init__(self, chromium: DevTools) -> None:
        self.chromium = chromium

    # -- waiting

    def install(self) -> None:
        """Start counting script runs (call after each navigation)."""
        self.chromium.evaluate(_RUN_COUNTER)

    def runs(self) -> dict:
        """``{"started": n, "finished": m}`` script runs seen since :meth:`install`."""
        return self.chromium.evaluate("window.__gmRuns || {started: 0, finished: 0}")

    def wait_idle(
        self,
        since: dict | None = None,
        timeout_s: float = 60.0,
        *,
        settle_s: float = 1.0,
        ready: str | None = None,
    ) -> float:
        """Wait until a script run that started after ``since`` (a :meth:`runs` value) has
        finished and the page stays idle for ``settle_s``; return the time at which it
        became idle (``time.monotonic()``), which does not include the settling wait.

        The settling wait is long enough for the run that follows: ``st.rerun()`` ends a
        run and the next starts a few hundred milliseconds later, and a map that was drawn
        anew sends its first answer about as late. ``ready``, a JavaScript expression, must
        be true too (for example: the map in its frame has drawn its markers).
        """
        deadline = time.monotonic() + timeout_s
        idle_since = None
        while True:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"the app did not settle in {timeout_s:g} s: {self.runs()}")
            counts = self.runs()
            ran = since is None or counts["finished"] > since["finished"]
            if (
                ran
                and self.chromium.evaluate(_IDLE)
                and (ready is None or self.chromium.evaluate(ready))
            ):
                idle_since = idle_since or now
                if now - idle_since >= settle_s:
                    return idle_since
            else:
                idle_since = None
            self.chromium.pump(0.03)

    def act(
        self, action: Callable[[], object], timeout_s: float = 60.0, *, ready: str | None = None
    ) -> float:
        """Do ``action`` (a click, a key press) and wait for the app to settle (and ``ready``
        to hold, see :meth:`wait_idle`); seconds taken from the action to the idle page."""
        before = self.runs()
        t0 = time.monotonic()
        action()
        return self.wait_idle(before, timeout_s, ready=ready) - t0

    # -- reading

    def text(self) -> str:
        """The page's visible text."""
        return self.chromium.evaluate("document.body.innerText")

    def key_text(self, key: str) -> str | None:
        """The visible text of the keyed element, or None when it is not on the page."""
        return self.chromium.evaluate(
            f"(e => e ? e.innerText : null)(document.querySelector({_js(_key(key))}))"
        )

    def exists(self, selector: str) -> bool:
        return bool(self.chromium.evaluate(f"!!document.querySelector({_js(selector)})"))

    def metrics(self) -> dict[str, str]:
        """The ``st.metric`` values by label."""
        return self.chromium.evaluate(
            """Object.fromEntries(Array.from(document.querySelectorAll('[data-testid=stMetric]'))
              .map(m => [m.querySelector('[data-testid=stMetricLabel]').innerText.trim(),
                         m.querySelector('[data-testid=stMetricValue]').innerText.trim()]))"""
        )

    def radio(self, key: str) -> list[tuple[str, bool]]:
        """A radio's options as (label, selected)."""
        return self.chromium.evaluate(
            f"""Array.from(document.querySelectorAll({_js(_key(key) + " [data-testid=stRadioOption]")}))
              .map(o => [o.innerText.trim(), !!o.querySelector('input:checked')])"""
        )

    def select_value(self, key: str) -> str | None:
        """The text a select box shows."""
        return self.chromium.evaluate(
            f"(e => e ? e.value : null)(document.querySelector({_js(_key(key) + ' input')}))"
        )

    # -- acting

    def click_at(self, x: float, y: float) -> None:
        """A left click with the mouse at page pixel (x, y)."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.chromium.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    def center(self, selector: str, index: int = 0, timeout_s: float = 10.0) -> tuple[float, float]:
        """Where the ``index``-th element matching ``selector`` is, scrolled into view."""
        deadline = time.monotonic() + timeout_s
        while True:
            spot = self.chromium.evaluate(f"{_CENTER}({_js(selector)}, {index})")
            if spot:
                self.chromium.pump(0.05)  # let the scroll settle, then measure again
                return tuple(self.chromium.evaluate(f"{_CENTER}({_js(selector)}, {index})"))
            if time.monotonic() > deadline:
                raise LookupError(f"no visible element {selector!r} [{index}] on the page")
            self.chromium.pump(0.1)

    def click(self, selector: str, index: int = 0) -> None:
        self.click_at(*self.center(selector, index))

    def click_key(self, key: str) -> None:
        """Click the button (or download button) with ``key``."""
        self.click(f"{_key(key)} button")

    def choose(self, key: str, index: int) -> None:
        """Click a radio's ``index``-th option."""
        self.click(f"{_key(key)} [data-testid=stRadioOption]", index)

    def select(self, key: str, label: str) -> None:
        """Open a select box, type ``label`` and click the option that reads it."""
        self.click(f"{_key(key)} input")
        # long lists only draw the options in view: type the label to bring it up
        self.chromium.send("Input.insertText", {"text": label})
        options = "[role=option]"
        deadline = time.monotonic() + 10
        while True:
            index = self.chromium.evaluate(
                f"""Array.from(document.querySelectorAll({_js(options)}))
                  .findIndex(o => o.innerText.trim() === {_js(label)})"""
            )
            if index is not None and index >= 0:
                break
            if time.monotonic() > deadline:
                raise LookupError(f"select box {key!r} has no option {label!r}")
            self.chromium.pump(0.1)
        self.click(options, index)

    def type(self, key: str, text: str) -> None:
        """Replace the text of a text or number input, then press Enter."""
        self.click(f"{_key(key)} input")
        self.chromium.evaluate(f"document.querySelector({_js(_key(key) + ' input')}).select()")
        self.chromium.send("Input.insertText", {"text": text})
        self.press("Enter")

    def open_expander(self, label: str, *, reruns: bool = True) -> None:
        """Open the expander whose title holds ``label`` (if it is closed); with ``reruns``
        (an expander that keeps its state: opening it runs the app) wait for that run."""
        find = f"""Array.from(document.querySelectorAll('[data-testid=stExpander] details'))
          .findIndex(d => d.querySelector('summary').innerText.includes({_js(label)}))"""
        index = self.chromium.evaluate(find)
        if index is None or index < 0:
            raise LookupError(f"no expander {label!r} on the page")
        if self.expander_open(label):
            return
        summary = "[data-testid=stExpander] details > summary"
        if reruns:
            self.act(lambda: self.click(summary, index))
        else:
            self.click(summary, index)
            self.chromium.pump(0.3)

    def expander_open(self, label: str) -> bool | None:
        """Whether the expander titled ``label`` is open (None: no such expander)."""
        return self.chromium.evaluate(
            f"""(d => d ? d.open : null)(Array.from(
              document.querySelectorAll('[data-testid=stExpander] details')).find(d =>
              d.querySelector('summary').innerText.includes({_js(label)})))"""
        )

    def download(self, key: str, folder: str | Path, timeout_s: float = 30.0) -> Path:
        """Click the download button ``key`` and return the file it saved in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        before = set(folder.iterdir())
        self.chromium.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(folder.resolve())},
            session=None,
        )
        self.click_key(key)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            new = [p for p in set(folder.iterdir()) - before if not p.name.endswith(".crdownload")]
            if new:
                return new[0]
            self.chromium.pump(0.1)
        raise TimeoutError(f"nothing was downloaded by {key!r} in {timeout_s:g} s")

    def press(self, key: str) -> None:
        codes = {"Enter": 13, "Escape": 27, "Tab": 9}
        for kind in ("keyDown", "keyUp"):
            self.chromium.send(
                "Input.dispatchKeyEvent",
                {
                    "type": kind,
                    "key": key,
                    "code": key,
                    "windowsVirtualKeyCode": codes[key],
                    "nativeVirtualKeyCode": codes[key],
                },
            )

    def upload(self, key: str, path: str | Path) -> None:
        """Give a file to the file uploader with ``key`` (as choosing it in the file dialog)."""
        self.upload_to(f"{_key(key)} input[type=file]", path)

    def upload_to(self, selector: str, path: str | Path) -> None:
        """Give a file to the file input ``selector`` (as choosing it in the file dialog)."""
        found = self.chromium.send(
            "Runtime.evaluate", {"expression": f"document.querySelector({_js(selector)})"}
        )["result"]
        if "objectId" not in found:
            raise LookupError(f"no file input {selector!r} on the page")
        self.chromium.send(
            "DOM.setFileInputFiles",
            {"files": [str(Path(path).resolve())], "objectId": found["objectId"]},
        )


def _key(key: str) -> str:
    return f".st-key-{key}"


def _js(value: object) -> str:
    """``value`` as a JavaScript literal."""
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# The app served on this machine (tests and the app-in-Chromium benchmark)


class ServerError(RuntimeError):
    """``streamlit run`` exited or did not answer in time (the message holds its output)."""


@dataclass(frozen=True)
class AppServer:
    """A running ``streamlit run app.py``: its URL, process, combined stdout/stderr, and the
    folders it autosaves and logs in."""

    url: str
    proc: subprocess.Popen
    log_path: Path
    autosave_dir: Path
    error_log_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_healthy(url: str) -> bool:
    # no proxy: an HTTP(S)_PROXY from the environment must not see a loopback request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url + "_stcore/health", timeout=2) as answer:
            return answer.read().strip() == b"ok"
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and whatever it started (its whole process group)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def serve_app(root: Path, folder: Path, startup_s: float = 60.0) -> Iterator[AppServer]:
    """Run ``python -m streamlit run app.py`` from ``root`` (so its ``.streamlit/config.toml``
    applies) on a free loopback port, offline, with its autosave, cache and error log in
    ``folder``; stop it (and everything it started) at the end.

    Raises
    ------
    ServerError
        When the server exits, or does not answer its health check in ``startup_s``.
    """
    port = free_port()
    log_path = folder / "streamlit.log"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        # no module reloading when a source file changes on disk mid-run: objects cached
        # before the change would be of the old classes
        "--server.fileWatcherType",
        "none",
    ]
    # the server's own autosave, cache and log folders, never the user's home
    env = dict(
        os.environ,
        GAPMAPPER_OFFLINE="1",
        GAPMAPPER_AUTOSAVE_DIR=str(folder / "autosave"),
        GAPMAPPER_CACHE_DIR=str(folder / "cache"),
        GAPMAPPER_LOG_DIR=str(folder / "log"),
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = AppServer(
        url=f"http://127.0.0.1:{port}/",
        proc=proc,
        log_path=log_path,
        autosave_dir=folder / "autosave",
        error_log_dir=folder / "log",
    )
    try:
        deadline = time.monotonic() + startup_s
        while not is_healthy(server.url):
            if proc.poll() is not None or time.monotonic() > deadline:
                state = "exited" if proc.poll() is not None else f"silent for {startup_s:g} s"
                raise ServerError(f"streamlit {state}; its output:\n{server.log()[-4000:]}")
            time.sleep(0.2)
        yield server
    finally:
        stop(proc)
