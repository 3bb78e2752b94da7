"""Plain-text helpers: record text is untrusted, so it is flattened and escaped before use."""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")
_PIECE = re.compile(r"\s*\S+")


def one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) into one space."""
    return _WHITESPACE.sub(" ", text).strip()


def md_inline(text: str) -> str:
    """One line of untrusted text that cannot open markdown structure (emphasis, links, HTML)."""
    return _MARKDOWN.sub(r"\\\1", one_line(text))


def word_pieces(text: str) -> list[str]:
    """Word-sized pieces, each with its leading whitespace, that join back into ``text``."""
    return _PIECE.findall(text)


def count_words(*texts: str) -> int:
    return sum(len(text.split()) for text in texts)


def humanize(name: str) -> str:
    """``support_case`` -> ``Support case``."""
    words = one_line(name.replace("_", " ").replace("-", " "))
    return words[:1].upper() + words[1:]
