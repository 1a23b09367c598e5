"""PNG text chunks (tEXt, zTXt, iTXt): walked, inflated and JSON-checked within the limits.

Also `png_without_text`, for decoders that refuse a PNG whose text chunks are oversized.
"""
from __future__ import annotations

import json
import re
import struct
import zlib
from typing import Optional

from .limits import (MAX_JSON_DEPTH, MAX_PNG_CHUNKS, MAX_SHOWN, MAX_TEXT_CHUNK, MAX_TEXT_CHUNKS,
                     MAX_TEXT_TOTAL, UNREADABLE, clean_text)
from .parts import TextEntry, TextPart


def read_png_text(data: bytes) -> tuple[TextPart, Optional[bytes]]:
    entries, problems, xmp = [], [], None
    pos, total, count, chunks = 8, 0, 0, 0
    while pos + 8 <= len(data) and chunks < MAX_PNG_CHUNKS:
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body_start, body_end = pos + 8, pos + 8 + length
        pos = body_end + 4
        chunks += 1
        if kind == b"IEND":
            break
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        if body_end > len(data):
            problems.append(f"{kind.decode()} chunk truncated")
            break
        count += 1
        if count > MAX_TEXT_CHUNKS:
            problems.append(f"more than {MAX_TEXT_CHUNKS} text chunks; the rest were not read")
            break
        key, value, err = _png_text_chunk(kind, data[body_start:body_end])
        if err:
            problems.append(f"text chunk '{clean_text(key, 80) or '?'}': {err}")
            continue
        total += len(value)
        if total > MAX_TEXT_TOTAL:
            problems.append(f"text chunks exceed {MAX_TEXT_TOTAL >> 20} MB in all; the rest were not read")
            break
        if key == "XML:com.adobe.xmp":
            xmp = value.encode("utf-8", errors="replace")
            continue
        json_err = _json_problem(key, value)
        if json_err:
            problems.append(json_err)
        entries.append(TextEntry(key=clean_text(key, 80) or "?", value=_shown(value), length=len(value),
                                 chunk=kind.decode()))
    error = f"{UNREADABLE}PNG text chunks: " + "; ".join(problems) if problems else None
    return TextPart(entries=tuple(entries), error=error), xmp


def png_without_text(data: bytes) -> bytes:
    """The PNG with its tEXt/zTXt/iTXt chunks left out (pixels untouched): for decoding only."""
    out, pos = [data[:8]], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _png_text_chunk(kind: bytes, body: bytes) -> tuple[str, str, Optional[str]]:
    key_raw, sep, rest = body.partition(b"\x00")
    key = key_raw[:80].decode("latin-1")
    if not sep:
        return key, "", "no keyword separator"
    if kind == b"tEXt":
        if len(rest) > MAX_TEXT_CHUNK:
            return key, "", f"{len(rest):,} bytes, over the {MAX_TEXT_CHUNK >> 20} MB limit; not read"
        return key, rest.decode("latin-1"), None
    if kind == b"zTXt":
        raw, err = _inflate(rest[1:])
        return key, (raw or b"").decode("latin-1"), err
    # iTXt: compression flag, method, language tag \0, translated keyword \0, text
    if len(rest) < 2:
        return key, "", "truncated"
    flag, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _tkey, _, text = rest.partition(b"\x00")
    if flag:
        text, err = _inflate(text)
        if err:
            return key, "", err
    elif len(text) > MAX_TEXT_CHUNK:
        return key, "", f"{len(text):,} bytes, over the {MAX_TEXT_CHUNK >> 20} MB limit; not read"
    return key, (text or b"").decode("utf-8", errors="replace"), None


def _inflate(data: bytes) -> tuple[Optional[bytes], Optional[str]]:
    """zlib with an output cap: a compressed bomb stops at MAX_TEXT_CHUNK + 1 bytes."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_TEXT_CHUNK + 1)
    except zlib.error as exc:
        return None, f"corrupt compressed text ({exc})"
    if len(out) > MAX_TEXT_CHUNK:
        return None, f"decompresses to more than {MAX_TEXT_CHUNK >> 20} MB; not read"
    return out, None


def _shown(value: str) -> str:
    return value[:MAX_SHOWN]


_JSON_KEYS = ("prompt", "workflow", "invokeai_metadata", "invokeai_graph", "sd-metadata", "Comment")
_STRING_RX = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS_RX = re.compile(r"[\[\]{}]")


def _json_problem(key: str, value: str) -> Optional[str]:
    """Checks JSON-valued text chunks without recursion: depth first, then a bounded parse."""
    stripped = value.lstrip()
    if key not in _JSON_KEYS or not stripped.startswith(("{", "[")):
        return None
    depth = _json_depth(value)
    if depth > MAX_JSON_DEPTH:
        return f"text chunk '{key}' is JSON nested {depth} levels deep (limit {MAX_JSON_DEPTH}); not parsed"
    try:
        json.loads(value)
    except ValueError as exc:
        return f"text chunk '{key}' is not valid JSON ({exc})"
    return None


def _json_depth(value: str) -> int:
    depth = deepest = 0
    for m in _BRACKETS_RX.finditer(_STRING_RX.sub('""', value)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest
