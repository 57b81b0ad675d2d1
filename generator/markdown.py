"""Markdown that free text from a spec cannot break: escaped prose, table cells, code spans and anchors.

Spec descriptions, enum values and defaults are written by users and may hold anything: `|`, backticks,
line breaks, HTML, Markdown syntax. Every such string goes through one of these functions, so that it reads
back as written and can neither end a table row, open a code block nor inject HTML.
"""

import re
from collections.abc import Sequence

# Characters that start inline Markdown (emphasis, code, links, images, strikethrough, autolinks) or are
# table syntax; escaped wherever they stand. `&`, `<` and `>` become entities instead, so that no HTML tag or
# entity written in a description is interpreted.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# What makes a line a block of its own when it starts the line: headings, quotes (`>` is already an entity),
# list items, thematic breaks and setext underlines, fences (backticks are escaped), tables (`|` too).
_BLOCK_START = re.compile(r"^(\d*)([#+=.)-])")


def visible(text: str) -> str:
    """`text` with every unprintable character but the newline spelt as its Python escape (`\\x00`,
    `\\u2028`), so that nothing invisible changes how the Markdown around it is read."""
    text = text.replace("\r\n", "\n")
    return "".join(char if char == "\n" or char.isprintable() else _python_escape(char) for char in text)


def _python_escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def inline(text: str) -> str:
    """One line of escaped prose: Markdown and HTML syntax in `text` shows as the characters themselves."""
    escaped = _INLINE_SPECIAL.sub(r"\\\1", visible(text))
    return "".join(_ENTITIES.get(char, char) for char in escaped)


def paragraphs(text: str) -> str:
    """Escaped prose as Markdown paragraphs: the text's blank lines separate paragraphs, its other line breaks
    are kept, and no line can become a heading, list, quote, code block or table."""
    blocks = re.split(r"\n\s*\n", visible(text).strip())
    return "\n\n".join(_paragraph(block) for block in blocks if block.strip())


def _paragraph(block: str) -> str:
    # Leading spaces are dropped: four of them would make an indented code block.
    lines = (line.strip() for line in block.split("\n"))
    # The backslash goes before the punctuation (`\#`, `1\.`): before a digit it would show.
    return "\n".join(_BLOCK_START.sub(r"\1\\\2", inline(line)) for line in lines if line)


def cell(text: str) -> str:
    """Escaped prose for one table cell: line breaks become `<br>`, the only way a cell holds several lines."""
    lines = [line.strip() for line in visible(text).strip().split("\n")]
    return "<br>".join(inline(line) for line in lines if line)


def code(text: str, *, in_table: bool = True) -> str:
    """`text` as a code span that shows it verbatim, backticks included, on one line.

    In a table cell, GitHub reads `|` as a column border even inside a code span, so there it is escaped as
    `\\|`, which the table turns back into `|`. Line breaks are spelt `\\n`: a span never ends a row.
    """
    shown = visible(text).replace("\n", "\\n")
    if in_table:
        shown = shown.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence}{_padded(shown)}{fence}"


def _padded(shown: str) -> str:
    # CommonMark strips one space on each side of a span when both are there, and a backtick next to the fence
    # would lengthen it: such a span gets one space on each side, which the reader strips again.
    if not shown.strip():
        return shown or " "
    both_spaces = shown.startswith(" ") and shown.endswith(" ")
    return f" {shown} " if both_spaces or shown.startswith("`") or shown.endswith("`") else shown


def anchor_id(kind: str, name: str) -> str:
    """A stable HTML id for the section of one named thing: `kind-name`.

    Names reach here validated (snake_case ids, UPPER_SNAKE event types, PascalCase definitions); anything
    else is replaced all the same, so the id can never hold a quote or a space. The case is kept: two
    definitions may differ only by it.
    """
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{kind}-{name}")


def anchor(kind: str, name: str) -> str:
    """The HTML anchor that starts the section of one named thing (GitHub keeps `id`s, prefixed, and its links
    to `#id` still find them)."""
    return f'<a id="{anchor_id(kind, name)}"></a>'


def link(label_markdown: str, kind: str, name: str) -> str:
    """A link to the section of one named thing; the label is Markdown already (escaped or a code span)."""
    return f"[{label_markdown}](#{anchor_id(kind, name)})"


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """A GitHub table from cells that are Markdown already (escaped with `cell`, `code` or `link`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)
