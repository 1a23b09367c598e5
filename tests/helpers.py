"""What tests share besides fixtures: test images, encoding, and the one skip policy for tools
the suite does not install itself (Debian's Chromium, poppler-utils, axe-core from npm).

Fixtures live in conftest.py; import plain functions and markers from here:

    from helpers import encode, make_photo, requires_poppler

`requires_chromium` / `requires_poppler` / `requires_axe` are markers (`@requires_poppler` or
`@pytest.mark.requires_poppler`, and `pytestmark = ...` for a module). conftest.py skips a
marked test where the tool is missing, with the install hint below; nothing else in the suite
decides to skip on a missing tool. CI (.ci/run) installs all three, so there nothing is skipped.
"""
from __future__ import annotations

import io
import os
import shutil
import signal
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# -- test images ----------------------------------------------------------------------------


def make_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth, structured RGB test image (gradients plus a bright disc), not noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0.5 * np.sin(x / 17 + y / 29)], -1)
    cx, cy, r = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7), min(width, height) / 6
    img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = 1.0
    return Image.fromarray((img * 255).astype(np.uint8), "RGB")


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


# -- the one skip policy for missing system tools -------------------------------------------

CHROMIUM = shutil.which("chromium")
POPPLER_TOOLS = ("pdfinfo", "pdftotext", "pdftoppm")
# axe-core, the accessibility engine the browser tests inject into the page: pinned, installed by
# npm into the repository's node_modules (git-ignored), or wherever FORENSICS_AXE_JS points.
AXE_VERSION = "4.14.1"
AXE_ENV = "FORENSICS_AXE_JS"
AXE_INSTALL = f"npm install --no-save axe-core@{AXE_VERSION}"


def axe_script() -> Path | None:
    """axe-core's axe.min.js: $FORENSICS_AXE_JS, else node_modules/axe-core in the repository."""
    named = os.environ.get(AXE_ENV)
    path = Path(named) if named else Path(__file__).resolve().parent.parent / "node_modules/axe-core/axe.min.js"
    return path if path.is_file() else None


# marker name -> (tools it needs, why a test is skipped without them)
TOOL_MARKERS = {
    "requires_chromium": (("chromium",), "no `chromium` on PATH (Debian: apt-get install chromium); "
                                         "the browser tests never download one"),
    "requires_poppler": (POPPLER_TOOLS, "poppler-utils is not installed (Debian: apt-get install "
                                        "poppler-utils): pdfinfo/pdftotext read the PDFs"),
    "requires_axe": (("axe-core",), f"run `{AXE_INSTALL}` in the repository (or set {AXE_ENV} to an "
                                    "axe.min.js); .ci/run installs it"),
}

requires_chromium = pytest.mark.requires_chromium
requires_poppler = pytest.mark.requires_poppler
requires_axe = pytest.mark.requires_axe


def missing_tool_reason(marker: str) -> str | None:
    """Why a test with `marker` cannot run here (a tool is missing), or None when it can."""
    tools, hint = TOOL_MARKERS[marker]
    missing = [t for t in tools if (axe_script() if t == "axe-core" else shutil.which(t)) is None]
    return f"{', '.join(missing)} missing: {hint}" if missing else None


def full_page_screenshot(page, path: Path, keep_as: str, full_page: bool = True) -> Path:
    """A full-page screenshot (`full_page` False: the window only) at `path`; also kept as
    FORENSICS_SCREENSHOT_DIR/`keep_as` when that variable is set (to look at the page after a run)."""
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("FORENSICS_SCREENSHOT_DIR"):
        keep = Path(os.environ["FORENSICS_SCREENSHOT_DIR"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, keep / keep_as)
    return path


# -- bounds without a clock --------------------------------------------------------------------
# No test asserts how many seconds something took (timings live in bench/): a busy machine
# would fail it. Bounded work is asserted by what bounds it (memory, a count, a limit hit);
# `hang_guard` only turns a hang into a failure, with a margin no healthy run comes near.
HANG_SECONDS = 60


@contextmanager
def hang_guard(seconds: int = HANG_SECONDS):
    """Fail the block if it runs for `seconds` (main thread only: SIGALRM)."""
    def alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang, not a slow machine")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def peak_memory():
    """Yields a dict whose "peak" is the block's peak traced Python allocation, in bytes."""
    out = {"peak": 0}
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield out
    finally:
        out["peak"] = tracemalloc.get_traced_memory()[1]
        if started:
            tracemalloc.stop()
