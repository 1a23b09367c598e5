"""The evidence folder: each original file kept once, byte for byte, named by its SHA-256
(`evidence/ab/abcdef...`), read-only. Written through a temporary file and a rename, so a file
under its final name is always whole; never rewritten, only deleted by an explicit purge."""
from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

READ_ONLY = 0o444
HEX64 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class EvidenceFolder:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not HEX64.fullmatch(sha256):  # a name from the database never leaves the folder
            raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, sha256: str | None = None) -> tuple[str, Path]:
        """Keep `data` -> (sha256, path). A file already there is left alone (same name, same bytes)."""
        sha256 = sha256 or sha256_bytes(data)
        final = self.path(sha256)
        if final.exists():
            return sha256, final
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".incoming-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # on disk before the row that names it is committed
            os.chmod(temp, READ_ONLY)
            os.replace(temp, final)   # atomic: another writer's identical bytes may win, same content
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return sha256, final

    def check(self, sha256: str) -> str | None:
        """None when the file is there with these bytes; otherwise what is wrong."""
        path = self.path(sha256)
        if not path.is_file():
            return f"evidence file missing: {path.name}"
        actual = sha256_file(path)
        if actual != sha256:
            return f"evidence file changed: its SHA-256 is now {actual}, the case recorded {sha256}"
        if path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return f"evidence file {path.name} is writable (it was stored read-only); its bytes still match"
        return None

    def delete(self, sha256: str) -> bool:
        path = self.path(sha256)
        if path.exists():
            path.unlink()
            return True
        return False
