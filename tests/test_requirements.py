"""The floors in requirements*.txt and the pins of constraints-floor.txt say the same thing.

CI installs constraints-floor.txt and runs the whole suite on it (``.ci/run``), so that every
``>=`` in the requirements is a version the tests pass on (issue 12, bug 4: ``pandas>=2.2``
was written while the code needed pandas 3). This keeps the two files from drifting apart.
"""

from __future__ import annotations

import re

from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import ROOT


def _requirements(name: str) -> dict[str, Requirement]:
    out = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            out[_key(req.name)] = req
    return out


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints-floor.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[_key(name)] = Version(version)
    return out


def test_every_requirement_has_a_floor_and_constraints_pin_exactly_the_floors():
    reqs = {**_requirements("requirements.txt"), **_requirements("requirements-dev.txt")}
    pins = _pins()
    assert sorted(pins) == sorted(reqs)
    for key, req in reqs.items():
        floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(floors) == 1, f"{req}: one '>=' floor expected"
        assert pins[key] == floors[0], f"{req} but constraints-floor.txt pins {pins[key]}"
        assert pins[key] in req.specifier, f"{pins[key]} is outside {req}"


def test_ci_runs_the_readme_command_and_the_floors():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -r requirements-dev.txt && python -m pytest" in ci
    assert "-c constraints-floor.txt -r requirements-dev.txt" in ci
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -r requirements-dev.txt && python -m pytest" in readme
