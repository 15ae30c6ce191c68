"""One word per idea: every text people read uses the glossary's word, never a rejected one."""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "custom_components" / "ntnu_library"
GLOSSARY = yaml.safe_load((PACKAGE / "glossary.yaml").read_text(encoding="utf-8"))["ideas"]
LANGUAGES = ("en", "zh-Hant")
CJK = re.compile(r"[\u3400-\u9fff]")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _python_strings(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _texts() -> dict[str, list[str]]:
    """Every text people read, by where it is."""
    texts: dict[str, list[str]] = {}
    for name in ("strings.json", "translations/en.json", "translations/zh-Hant.json"):
        texts[name] = list(_strings(json.loads((PACKAGE / name).read_text(encoding="utf-8"))))
    web = PACKAGE / "web"
    for path in [web / "texts.py", *sorted(web.glob("*_texts.py"))]:
        texts[str(path.relative_to(ROOT))] = list(_python_strings(path))
    for path in sorted((web / "templates").glob("*.html")):
        texts[str(path.relative_to(ROOT))] = [path.read_text(encoding="utf-8")]
    for path in (PACKAGE / "core" / "event_words.py", PACKAGE / "core" / "room_words.py"):
        texts[str(path.relative_to(ROOT))] = list(_python_strings(path))
    for path in [
        *sorted((ROOT / "blueprints").rglob("*.yaml")),
        *sorted((ROOT / "dashboards").glob("*.yaml")),
        ROOT / "frontend" / "src" / "texts.json",
    ]:
        texts[str(path.relative_to(ROOT))] = [path.read_text(encoding="utf-8")]
    demo = ROOT / "scripts" / "lib" / "demo_bootstrap.py"
    texts[str(demo.relative_to(ROOT))] = list(_python_strings(demo))
    return texts


TEXTS = _texts()


def _finder(word: str, chosen: str, language: str) -> re.Pattern[str]:
    """A rejected word as found in texts: English in any case unless only its case differs."""
    if language == "zh-Hant" and CJK.search(word):
        return re.compile(re.escape(word))
    flags = 0 if word.lower() == chosen.lower() else re.IGNORECASE
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", flags)


def test_the_glossary_is_well_formed() -> None:
    assert {"counter", "patron_id", "site"} <= set(GLOSSARY)
    for idea, entry in GLOSSARY.items():
        assert entry["means"].strip(), idea
        for language in LANGUAGES:
            chosen = entry[language]
            assert chosen.strip(), (idea, language)
            assert chosen not in entry["rejected"][language], (idea, language)
    # The three the staff found used side by side.
    assert (GLOSSARY["counter"]["zh-Hant"], GLOSSARY["counter"]["rejected"]["zh-Hant"][0]) == (
        "櫃檯",
        "櫃台",
    )
    assert "讀者證號" in GLOSSARY["patron_id"]["rejected"]["zh-Hant"]
    assert "據點" in GLOSSARY["site"]["rejected"]["zh-Hant"]


def test_the_texts_are_found() -> None:
    """The scan reads what it should (an empty scan would pass anything)."""
    assert len(TEXTS["translations/zh-Hant.json"]) > 500
    assert any("櫃檯" in text for text in TEXTS["custom_components/ntnu_library/web/texts.py"])
    assert any(name.startswith("blueprints/") for name in TEXTS)
    assert any("館員開門" in t for t in TEXTS["custom_components/ntnu_library/core/event_words.py"])


@pytest.mark.parametrize("idea", sorted(GLOSSARY))
def test_no_text_uses_a_rejected_word(idea: str) -> None:
    entry = GLOSSARY[idea]
    found: list[str] = []
    for language in LANGUAGES:
        for word in entry["rejected"][language]:
            finder = _finder(word, entry[language], language)
            for where, texts in TEXTS.items():
                for text in texts:
                    if match := finder.search(text):
                        start = max(match.start() - 30, 0)
                        found.append(f"{where}: {word!r} in …{text[start : match.end() + 30]}…")
    assert not found, f"use {entry['en']!r} / {entry['zh-Hant']!r}:\n" + "\n".join(found)


def test_the_chosen_words_are_the_ones_in_use() -> None:
    """Each idea's word is used somewhere (a glossary of words nobody writes guides nobody)."""
    everything = "\n".join(text for texts in TEXTS.values() for text in texts)
    for idea, entry in GLOSSARY.items():
        for language in LANGUAGES:
            assert entry[language] in everything, (idea, language)
