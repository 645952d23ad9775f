"""The README read as data: its sections, fenced code blocks and tables, so that tests can hold it to its word."""

from __future__ import annotations

import re

from devtools.stack import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"


def text() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The body of the `## title` (or `### title`) section, up to the next heading of the same or a higher level."""
    lines = text().splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(#+) (.*)$", line)
        if match and match.group(2).strip() == title:
            level = len(match.group(1))
            body = []
            fenced = False
            for rest in lines[i + 1:]:
                if rest.startswith("```"):
                    fenced = not fenced
                heading = re.match(r"^(#+) ", rest)
                if heading and not fenced and len(heading.group(1)) <= level:
                    break
                body.append(rest)
            return "\n".join(body)
    raise AssertionError(f"README.md has no section {title!r}")


def code_blocks(body: str, language: str) -> list[str]:
    """The fenced blocks of one language in a section, in order."""
    return re.findall(rf"^```{re.escape(language)}\n(.*?)^```$", body, flags=re.S | re.M)


def tables(body: str) -> list[list[list[str]]]:
    """Each Markdown table in a section as rows of cells (the header row first, the --- row left out)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in body.splitlines() + [""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def table_with(body: str, header: str) -> list[list[str]]:
    """The section's table whose first header cell is `header`, without its header row."""
    for table in tables(body):
        if table and table[0] and table[0][0] == header:
            return table[1:]
    raise AssertionError(f"no table headed {header!r} in the section")
