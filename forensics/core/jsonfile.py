"""The JSON files the tool writes and reads back (calibration.json, probe.json): written with
their SHA-256 for the record, read with a message that says what the file should have been."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError


@dataclass(frozen=True)
class JsonFile:
    noun: str  # "calibration", "probe": what the file holds, in messages
    hint: str  # how to get a good one, e.g. "Give the probe.json written by `forensics adapt`."

    def write(self, path: str | os.PathLike, body: dict) -> str:
        """Write `body` as indented UTF-8 JSON -> the file's SHA-256 (hex)."""
        data = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        Path(path).write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    def read(self, path: Path) -> tuple[object, str]:
        """-> (the parsed JSON, the file's SHA-256); InputError when it cannot be read or parsed."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"Could not read the {self.noun} file {path} ({exc.strerror or exc}). "
                             f"{self.hint}") from None
        try:
            return json.loads(data), hashlib.sha256(data).hexdigest()
        except ValueError as exc:
            raise self.refused(path, exc) from None

    def refused(self, path: Path, exc: Exception) -> InputError:
        """The error for a file that parsed but is not one of ours (`exc` says what is wrong)."""
        return InputError(f"The {self.noun} file {path} is not a forensics {self.noun} ({exc}). {self.hint}")
