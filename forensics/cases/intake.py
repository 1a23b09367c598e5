"""What `case add` was given -> candidates, one per file or archive member, in a stable order.

Folders are walked sorted, without following links. Zip archives are opened in memory with
bounds (members, total size, ratio, names, links, nesting); a member that breaks one is a
candidate with its reason and no bytes, so it becomes an item and is never passed over
silently. The archive itself is handed back too: its bytes are evidence like any file's.
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..inputs.images import MAX_BYTES

MAX_MEMBERS = 10_000                 # files in one archive
MAX_TOTAL_BYTES = 1024 ** 3          # uncompressed, all members of one archive together
MAX_RATIO = 100                      # uncompressed / compressed, per member and for the whole archive (JPEG/PNG ~1)
RATIO_FLOOR = 1024 * 1024            # members (and archives) smaller than this are not judged by ratio
MAX_DEPTH = 1                        # a zip inside a zip is opened; one inside that is not


@dataclass(frozen=True)
class Candidate:
    name: str                  # the original file name (no folders)
    source: str                # the path given, or "archive.zip!member/path"
    data: bytes | None = None  # None: refused before reading (error says why)
    error: str | None = None   # refused or unreadable: why
    archive: bool = False      # a zip archive as received (kept as evidence, members follow)


def is_zip_name(name: str) -> bool:
    return name.lower().endswith(".zip")


def _candidates(paths):
    """Each path: a file, a folder (walked), or a zip -> Candidate, in order."""
    for given in map(Path, paths):
        if given.is_symlink() and given.is_dir():
            yield Candidate(given.name, str(given), error="a link to a folder; give the folder itself")
        elif given.is_dir():
            yield from _folder(given)
        elif given.is_file():
            yield from _file(given)
        else:
            yield Candidate(given.name, str(given), error=f"No file or folder at {given}.")


def _folder(root: Path):
    for here, dirs, files in os.walk(root):
        links = [d for d in dirs if Path(here, d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d not in links)
        for d in sorted(links):
            path = Path(here, d)
            yield Candidate(d, str(path), error="a link to a folder, not followed; give the folder itself")
        for name in sorted(files):
            yield from _file(Path(here, name))


def _file(path: Path):
    label = str(path)
    if path.is_symlink():  # a link could point anywhere (a key file, /dev/zero): never followed
        yield Candidate(path.name, label, error="a link to a file, not followed; give the file itself")
        return
    try:
        if not path.is_file():  # a FIFO or device would block the read or never end
            yield Candidate(path.name, label, error="not a regular file (a pipe, socket or device): not read")
            return
        size = path.stat().st_size
        if size > MAX_BYTES:
            yield Candidate(path.name, label, error=f"{size:,} bytes is over the {MAX_BYTES:,}-byte limit per file; "
                                                     "not kept. Split or shrink it.")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Candidate(path.name, label, error=f"could not read the file: {exc.strerror or exc}")
        return
    if is_zip_name(path.name):
        yield from archive(data, path.name, label, depth=0)
    else:
        yield Candidate(path.name, label, data)


def archive(data: bytes, name: str, label: str, depth: int):
    """The archive itself (its bytes as evidence), then each member within the bounds."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in zf.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        yield Candidate(name, label, data, error=f"not a readable zip archive ({exc}); kept as it is")
        return
    if len(members) > MAX_MEMBERS:
        yield Candidate(name, label, data, error=f"zip archive with {len(members):,} files; at most {MAX_MEMBERS:,} "
                                                 "are unpacked. Split the archive.")
        return
    total = sum(m.file_size for m in members)
    if total > MAX_TOTAL_BYTES:
        yield Candidate(name, label, data, error=f"zip archive unpacks to {total:,} bytes, over the "
                                                 f"{MAX_TOTAL_BYTES:,}-byte limit: refused as a possible zip bomb. "
                                                 "Unpack it yourself and add the folder.")
        return
    # Many small members of zeros each pass the per-member check; what would be unpacked, taken
    # together, does not. (Members refused on their own are not unpacked, so they do not count.)
    unpacked = [m for m in members if member_refusal(m) is None]
    total, packed = sum(m.file_size for m in unpacked), sum(m.compress_size for m in unpacked)
    if total > RATIO_FLOOR and total > MAX_RATIO * max(packed, 1):
        yield Candidate(name, label, data, error=f"zip archive compressed {total / max(packed, 1):,.0f}:1 overall "
                                                 f"(over {MAX_RATIO}:1): refused as a possible zip bomb. Unpack it "
                                                 "yourself and add the folder.")
        return
    yield Candidate(name, label, data, archive=True)
    with zf:
        for m in members:
            yield _member(zf, m, label, depth)  # a nested zip comes back as _Nested: see expand


def _member(zf: zipfile.ZipFile, m: zipfile.ZipInfo, archive_label: str, depth: int):
    source = f"{archive_label}!{m.filename}"
    name = PurePosixPath(m.filename.replace("\\", "/")).name or m.filename
    refusal = member_refusal(m)
    if refusal:
        return Candidate(name, source, error=refusal)
    try:
        with zf.open(m) as f:
            data = f.read(MAX_BYTES + 1)   # bounded even when the declared size lies
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        return Candidate(name, source, error=f"archive member could not be read: {exc}")
    if len(data) > MAX_BYTES:
        return Candidate(name, source, error=f"archive member is over the {MAX_BYTES:,}-byte limit per file")
    if is_zip_name(name):
        if depth >= MAX_DEPTH:
            return Candidate(name, source, data, error=f"a zip inside a zip inside a zip: archives are opened "
                                                       f"{MAX_DEPTH} level deep at most; kept, not unpacked")
        return _Nested(data, name, source, depth + 1)
    return Candidate(name, source, data)


class _Nested:
    """A zip found inside a zip, expanded by `expand` one level down."""

    def __init__(self, data, name, source, depth):
        self.args = (data, name, source, depth)


def member_refusal(m: zipfile.ZipInfo) -> str | None:
    """Why an archive member is not unpacked, or None."""
    raw = m.filename
    parts = PurePosixPath(raw.replace("\\", "/")).parts
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        return f"archive member with an absolute path ({raw!r}): refused, it would be written outside the archive"
    if ".." in parts:
        return f"archive member with '..' in its path ({raw!r}): refused as path traversal"
    if stat.S_ISLNK(m.external_attr >> 16):
        return f"archive member is a symbolic link ({raw!r}): refused, links are never followed"
    if m.flag_bits & 0x1:
        return f"archive member is encrypted ({raw!r}): give the decrypted file"
    if m.file_size > MAX_BYTES:
        return f"archive member declares {m.file_size:,} bytes, over the {MAX_BYTES:,}-byte limit per file"
    if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
        return (f"archive member compressed {m.file_size / max(m.compress_size, 1):,.0f}:1 (over {MAX_RATIO}:1): "
                "refused as a possible zip bomb")
    return None


def expand(paths):
    """What `case add` was given, with archives nested one level opened in place -> Candidate."""
    for c in _candidates(paths):
        yield from _flatten(c)


def _flatten(c):
    if isinstance(c, _Nested):
        for inner in archive(*c.args):
            yield from _flatten(inner)
    else:
        yield c
