"""The translation table: every text in both languages, and every key used in code exists."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re

import pytest

from layers import i18n
from tests.conftest import ROOT

PACKAGES = ("layers", "mapping")


def _import_everything() -> None:
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name != "__main__":
                importlib.import_module(f"{package}.{info.name}")


def _app_messages() -> dict[str, dict[str, str]]:
    """The dict app.py registers (read from its source: importing app.py runs the app)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "register"
            and node.args
            and isinstance(node.args[0], ast.Dict)
        ):
            return ast.literal_eval(node.args[0])
    raise AssertionError("app.py registers no messages")


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, str]]:
    _import_everything()
    out = {key: i18n.texts_for(key) for key in i18n.all_keys()}
    out.update(_app_messages())
    return out


def test_every_text_has_both_languages_with_the_same_placeholders(table):
    assert len(table) > 300
    for key, texts in table.items():
        assert set(texts) >= {"zh", "en"}, key
        assert texts["zh"].strip() and texts["en"].strip(), key
        assert i18n.placeholders(texts["zh"]) == i18n.placeholders(texts["en"]), key


def test_chinese_texts_are_chinese(table):
    cjk = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # incl. CJK punctuation
    # a few texts are the same in both languages on purpose (symbols, names)
    same = {k for k, v in table.items() if v["zh"] == v["en"]}
    for key, texts in table.items():
        if key in same:
            continue
        assert cjk.search(texts["zh"]), f"{key}: {texts['zh']!r} has no Chinese"


def test_every_key_used_in_the_code_exists(table):
    used = re.compile(r"""\b(?:i18n\.)?t\(\s*f?["']([a-z_]+(?:\.[a-z0-9_{}]+)+)["']""")
    sources = [ROOT / "app.py", *ROOT.joinpath("layers").glob("*.py")]
    sources += list(ROOT.joinpath("mapping").glob("*.py"))
    missing = []
    checked = 0
    for path in sources:
        for key in used.findall(path.read_text(encoding="utf-8")):
            checked += 1
            if "{" in key:  # f-string keys: check every expansion's prefix exists
                prefix = key.split("{", 1)[0]
                if not any(k.startswith(prefix) for k in table):
                    missing.append((path.name, key))
            elif key not in table:
                missing.append((path.name, key))
    assert missing == []
    assert checked > 100  # the pattern does find the keys
