"""Names from untrusted input: file stems safe in any folder, text safe to print or to open in a
spreadsheet. Output names come from the input's file name: `safe_stem` keeps its letters and
digits in every script (plus . _ -), and `claim_stem` creates the files exclusively, adding -1, -2, ... so nothing is
ever overwritten.
"""
from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path

from ..core.untrusted import printable, spreadsheet_safe  # noqa: F401 (re-exported)

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def safe_stem(name: str | None, default: str = "image", max_len: int = 64) -> str:
    """A file stem safe to use in any folder: no directories, no dot-files, only Unicode letters,
    digits and marks plus . _ - (NFC, at most `max_len` characters)."""
    base = re.split(r"[\\/]", str(name or ""))[-1]
    if "." in base[1:]:
        base = base[: base.rindex(".")]
    # Letters, digits and combining marks of every script stay (写真_テスト, Überwachung); everything
    # else (separators, controls, bidi overrides, punctuation a shell or a spreadsheet reads) -> "_".
    kept = "".join(ch if ch in "._-" or unicodedata.category(ch)[0] in "LNM" else "_"
                   for ch in unicodedata.normalize("NFC", base))
    stem = re.sub(r"_+", "_", kept).strip("._-")[:max_len].strip("._-")
    if not stem:
        return default
    return f"{stem}_" if stem.lower().split(".")[0] in _WINDOWS_RESERVED else stem


def claim_stem(out_dir: Path, stem: str, exts) -> str:
    """Create empty `stem.ext` files exclusively (stem, stem-1, ...) and return the stem that won.

    Exclusive creation (O_EXCL) means an existing file or link is never overwritten, even when
    two exports race for the same name.
    """
    for n in itertools.count():
        candidate = stem if n == 0 else f"{stem}-{n}"
        made = []
        try:
            for ext in exts:
                path = out_dir / f"{candidate}.{ext}"
                path.touch(exist_ok=False)
                made.append(path)
            return candidate
        except FileExistsError:
            for path in made:
                path.unlink()


def display_name(name: str | None, max_len: int = 60) -> str:
    """A file name fit to print: `printable`, long names elided in the middle."""
    name = printable(name or "(in-memory image)")
    if len(name) <= max_len:
        return name
    head = (max_len - 1) // 2
    return name[:head] + "\u2026" + name[head + 1 - max_len:]
