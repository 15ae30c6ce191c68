"""The documentation holds together: links lead somewhere, the audit names its pages.

Every relative link in README.md and docs/*.md points to a file of the repository and, with an
anchor into a markdown file, to a heading that file has (GitHub's anchor rules). External links
are not fetched. The quality-scale audit leaves no documentation rule `todo` and names the
file of each one `done`. The staff guide has the same sections in both languages.

The parser uses the standard library only: the suite runs on two Home Assistant releases whose
environments differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
import re
import unicodedata
from urllib.parse import unquote

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "custom_components" / "ntnu_library"
DOCS = ROOT / "docs"
MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
STAFF_GUIDES = (DOCS / "staff-guide.md", DOCS / "staff-guide.zh-Hant.md")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1)[\s\S])+?\1")
# [text](target) and ![alt](target); the target may be <bracketed> and carry a "title".
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(\S+)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _outside_fences(text: str) -> list[str]:
    """The text's lines, those of fenced code blocks (and their fences) left empty."""
    lines: list[str] = []
    fence = ""
    for line in text.splitlines():
        if match := _FENCE.match(line):
            marker = match.group(1)
            if not fence:
                fence = marker
                lines.append("")
                continue
            if marker[0] == fence[0] and len(marker) >= len(fence):
                fence = ""
                lines.append("")
                continue
        lines.append("" if fence else line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor of a heading's text: lowercase, punctuation dropped, spaces to `-`.

    Letters (CJK included), marks, digits, `-` and `_` stay; what a renderer drops (inline
    markup, link targets, HTML tags) goes first.
    """
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text)  # HTML tags
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, not snake_case
    kept = "".join(
        char
        for char in text.lower()
        if char in " -_" or unicodedata.category(char)[0] in {"L", "M", "N"}
    )
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a markdown text (a repeated one gets -1, -2 and so on)."""
    seen: Counter[str] = Counter()
    found: set[str] = set()
    for line in _outside_fences(text):
        if match := _HEADING.match(line):
            base = slug(match.group(2))
            anchor = f"{base}-{seen[base]}" if seen[base] else base
            seen[base] += 1
            found.add(anchor)
    return found


def links(text: str) -> Iterator[tuple[int, str]]:
    """(line number, target) of every link outside code; a link's text may wrap."""
    prose = "\n".join(_outside_fences(text))
    # Inline code keeps its length and line breaks, so offsets still give line numbers.
    prose = _INLINE_CODE.sub(lambda code: re.sub(r"[^\n]", " ", code.group(0)), prose)
    for link in _LINK.finditer(prose):
        yield prose.count("\n", 0, link.start()) + 1, link.group(1).strip("<>")
    for number, line in enumerate(prose.splitlines(), start=1):
        if reference := _REFERENCE.match(line):
            yield number, reference.group(1).strip("<>")


def broken_links(path: Path, root: Path) -> list[str]:
    """What is wrong with the relative links of one markdown file, one line each."""
    problems: list[str] = []
    text = path.read_text(encoding="utf-8")
    for number, target in links(text):
        if not target or _SCHEME.match(target):  # http(s), mailto: not fetched
            continue
        where = f"{path.relative_to(root)}:{number}: {target}"
        file_part, _, anchor = target.partition("#")
        file_part = unquote(file_part.split("?", 1)[0])
        if not file_part:
            linked = path
        elif file_part.startswith("/"):
            linked = root / file_part.lstrip("/")
        else:
            linked = path.parent / file_part
        linked = linked.resolve()
        if not linked.is_relative_to(root) or not linked.exists():
            problems.append(f"{where}: no such file")
            continue
        if anchor and linked.suffix == ".md":
            if unquote(anchor) not in anchors(linked.read_text(encoding="utf-8")):
                problems.append(f"{where}: no such heading")
    return problems


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_somewhere(path: Path) -> None:
    problems = broken_links(path, ROOT)
    assert not problems, "\n".join(problems)


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text(
        "# Other\n\n## Counter · 櫃檯\n\n## Steps\n\n## Steps\n", encoding="utf-8"
    )
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md) [fine](other.md#counter--櫃檯) [fine](other.md#steps-1)\n"
        "[fine](#page) [fine](../docs/other.md) [fine](https://example.org/missing.md)\n"
        "[gone](missing.md)\n"
        "[no heading](other.md#nowhere)\n"
        "[no own heading](#steps)\n"
        "```\n[in code](missing-too.md)\n```\n"
        "`[inline](missing-three.md)`\n",
        encoding="utf-8",
    )
    assert broken_links(page, tmp_path) == [
        "docs/page.md:5: missing.md: no such file",
        "docs/page.md:6: other.md#nowhere: no such heading",
        "docs/page.md:7: #steps: no such heading",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Before you start", "before-you-start"),
        ("A frozen patron's daily check-in", "a-frozen-patrons-daily-check-in"),
        ("The library system (ILS) is down", "the-library-system-ils-is-down"),
        ("圖書館系統（ILS）無法連線", "圖書館系統ils無法連線"),
        ("Zigbee 接收器或門鎖離線", "zigbee-接收器或門鎖離線"),
        ("The `scan_back` action", "the-scan_back-action"),
        ("**Counter** · 櫃檯", "counter--櫃檯"),
        ("[Linked](x.md) heading", "linked-heading"),
    ],
)
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_documentation_rules_are_done_and_name_their_file() -> None:
    """No docs-… rule is todo; each done one names a file of the repository in its comment."""
    rules: dict[str, tuple[str, str]] = {}
    for line in (PACKAGE / "quality_scale.yaml").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^\s+(docs-[\w-]+):\s*(\w+)\s*(?:#\s*(.*))?$", line):
            rules[match.group(1)] = (match.group(2), match.group(3) or "")
    assert len(rules) >= 13
    assert [rule for rule, (status, _) in rules.items() if status == "todo"] == []
    for rule, (status, comment) in rules.items():
        if status != "done":
            continue
        named = re.findall(r"[\w./-]+\.(?:md|yaml|json|py)\b", comment)
        assert named, f"{rule}: the comment names no file"
        for name in named:
            assert (ROOT / name).exists() or (PACKAGE / name).exists(), f"{rule}: {name}"


def test_the_docs_index_and_the_readme_list_every_page() -> None:
    index = {target for _, target in links((DOCS / "README.md").read_text(encoding="utf-8"))}
    readme = {target for _, target in links((ROOT / "README.md").read_text(encoding="utf-8"))}
    for page in sorted(DOCS.glob("*.md")):
        if page.name == "README.md":
            assert "docs/README.md" in readme
            continue
        assert page.name in index, page.name
        assert f"docs/{page.name}" in readme, page.name


def _sections(path: Path) -> list[str]:
    lines = _outside_fences(path.read_text(encoding="utf-8"))
    return [line for line in lines if re.match(r"^## \S", line)]


def test_the_staff_guide_has_the_same_sections_in_both_languages() -> None:
    english, chinese = (_sections(path) for path in STAFF_GUIDES)
    assert len(english) >= 6
    assert len(english) == len(chinese)
    # Each links to the other at the top.
    for path, other in (STAFF_GUIDES, STAFF_GUIDES[::-1]):
        top = path.read_text(encoding="utf-8").splitlines()[:5]
        assert any(f"]({other.name})" in line for line in top), path.name


def test_the_staff_guide_uses_the_glossarys_words() -> None:
    """One word per idea: a rejected word of the glossary appears in neither guide."""
    ideas = yaml.safe_load((PACKAGE / "glossary.yaml").read_text(encoding="utf-8"))["ideas"]
    for path, language in zip(STAFF_GUIDES, ("en", "zh-Hant"), strict=True):
        text = path.read_text(encoding="utf-8")
        for idea in ideas.values():
            chosen = idea[language]
            for word in idea["rejected"][language]:
                if re.search(r"[\u3400-\u9fff]", word):
                    found = word in text
                else:
                    flags = 0 if word.lower() == chosen.lower() else re.IGNORECASE
                    found = bool(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, flags))
                assert not found, f"{path.name}: {word!r}, the glossary says {chosen!r}"


def _punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in {"P", "S"}


def test_the_staff_guides_bold_words_render_bold() -> None:
    """No **…** a renderer leaves as asterisks: punctuation inside a delimiter, a letter outside.

    CommonMark (and GitHub) close `**` after punctuation only before a space or punctuation, so
    `按**開鎖…**開門` shows its asterisks; `按「**開鎖…**」開門` is bold.
    """
    for path in STAFF_GUIDES:
        text = "\n".join(_outside_fences(path.read_text(encoding="utf-8")))
        text = _INLINE_CODE.sub(lambda code: re.sub(r"[^\n]", " ", code.group(0)), text)
        for bold in re.finditer(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", text, re.DOTALL):
            inner = bold.group(1)
            before = text[bold.start() - 1] if bold.start() else " "
            after = text[bold.end()] if bold.end() < len(text) else " "
            opens_badly = _punctuation(inner[0]) and not (before.isspace() or _punctuation(before))
            closes_badly = _punctuation(inner[-1]) and not (after.isspace() or _punctuation(after))
            number = text.count("\n", 0, bold.start()) + 1
            assert not (opens_badly or closes_badly), f"{path.name}:{number}: {bold.group(0)}"
