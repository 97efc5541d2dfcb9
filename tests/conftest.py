"""Shared fixtures. No test may reach the internet: sockets to anything but loopback raise."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    return host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Make every non-loopback connection fail loudly, for every test."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self, address):
        if self.family == socket.AF_UNIX or _is_loopback(address):
            return real_connect(self, address)
        raise OSError(f"test tried to reach the network: {address!r}")

    def guarded_connect_ex(self, address):
        if self.family == socket.AF_UNIX or _is_loopback(address):
            return real_connect_ex(self, address)
        raise OSError(f"test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(autouse=True)
def private_folders(tmp_path_factory, monkeypatch):
    """Caches and autosaves of a test go to its own folders, never the user's home."""
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GAPMAPPER_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("GAPMAPPER_AUTOSAVE_DIR", str(base / "autosave"))
    monkeypatch.setenv("GAPMAPPER_LOG_DIR", str(base / "log"))
    # the app hides error details from users (.streamlit/config.toml); tests want them
    monkeypatch.setenv("STREAMLIT_CLIENT_SHOW_ERROR_DETAILS", "full")
    yield base
    # the app's autosave writes in the background: let it finish in this test's folder
    from mapping.project import wait_for_saves

    wait_for_saves()


def shared_file(*parts: str) -> Path:
    """A file in ``../shared/data``; skips the test (with the reason) when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return path
