"""Only ``layers/overpass.py`` may talk to the network.

Every module under ``layers/`` and ``mapping/`` is imported (except ``__main__``; importing
must not touch the network: ``conftest.py`` makes non-loopback sockets raise) and its source
is scanned with :mod:`ast` for networking modules (imports, names and module-name strings, so
prose in docstrings does not count) and for osmnx's downloading functions.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import layers
import mapping

#: Modules that open sockets or make HTTP requests.
NETWORK_MODULES = {"requests", "urllib.request", "http.client", "socket", "urllib3", "httpx"}
#: osmnx functions that download from Overpass or Nominatim (``*_from_xml`` reads a file).
OSMNX_DOWNLOADERS = {
    "geocode",
    "geocode_to_gdf",
    "graph_from_address",
    "graph_from_bbox",
    "graph_from_place",
    "graph_from_point",
    "graph_from_polygon",
    "features_from_address",
    "features_from_bbox",
    "features_from_place",
    "features_from_point",
    "features_from_polygon",
}
ALLOWED = {"layers.overpass"}


def network_references(source: str) -> set[str]:
    """Networking modules and osmnx downloaders that ``source`` refers to."""
    found: set[str] = set()

    def check_module(name: str) -> None:
        for forbidden in NETWORK_MODULES:
            if name == forbidden or name.startswith(forbidden + "."):
                found.add(forbidden)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            check_module(node.module)
            for alias in node.names:
                # "from urllib import request", "from http import client"
                check_module(f"{node.module}.{alias.name}")
                if alias.name in OSMNX_DOWNLOADERS:
                    found.add(alias.name)
        elif isinstance(node, ast.Name) and node.id in {"requests", "socket", "urllib3", "httpx"}:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in OSMNX_DOWNLOADERS:
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # importlib.import_module("requests") and the like
            check_module(node.value)
    return found


def all_modules() -> list[str]:
    names = []
    for package in (layers, mapping):
        prefix = package.__name__ + "."
        names += [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    return sorted(names)


def test_scanner_finds_what_it_looks_for():
    source = '''
"""Sends requests over a socket, in prose only."""
import socket
from urllib import request
from http.client import HTTPConnection
import requests as r
import importlib
osmnx_mod = importlib.import_module("urllib3")
G = ox.graph_from_place("x")
from osmnx.geocoder import geocode_to_gdf
'''
    assert network_references(source) == {
        "socket",
        "urllib.request",
        "http.client",
        "requests",
        "urllib3",
        "graph_from_place",
        "geocode_to_gdf",
    }
    assert (
        network_references('"""Handles user requests and socket-like ports."""\nx = 1\n') == set()
    )


def test_overpass_is_the_only_module_that_talks_to_the_network():
    names = all_modules()
    assert "layers.overpass" in names
    offenders = {}
    for name in names:
        if name.rsplit(".", 1)[-1] != "__main__":
            # __main__ runs the command line when imported; it is scanned, not imported.
            importlib.import_module(name)
        origin = importlib.util.find_spec(name).origin
        found = network_references(Path(origin).read_text(encoding="utf-8"))
        if found:
            offenders[name] = found
    assert set(offenders) == ALLOWED, offenders
    # The scan is not vacuous: it does see the one module that downloads.
    assert {"requests", "geocode_to_gdf"} <= offenders["layers.overpass"]
