"""Text from untrusted files (names, metadata, error messages quoting them) made safe to print on
a console or in a PDF, and to open in a spreadsheet. Used by every writer, from the evaluation
up to the exports.
"""
from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    """Control, bidi and line-separator characters shown as '?' (names are untrusted: no terminal
    escapes, no right-to-left tricks)."""
    return "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(text))


def spreadsheet_safe(text) -> str:
    """Defuse cells a spreadsheet would run as a formula (names come from untrusted uploads)."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
