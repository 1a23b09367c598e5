"""One PDF for a batch: a cover page with the summary table, then each image's report pages."""
from __future__ import annotations

import tempfile
from collections import Counter
from io import BytesIO
from pathlib import Path

from matplotlib.figure import Figure
from pypdf import PdfReader, PdfWriter

from .._version import __version__
from ..explain import checks
from .names import display_name, printable
from .pages import FULL_WIDTH, MARGIN, Pages, pdf_document
from .pdf import pdf_bytes, pdf_figures
from .wording import VERDICT_COLOURS


class BatchReport:
    """One PDF for a batch: a cover page with the summary table, then each image's pages.

    Each entry's pages arrive as a finished PDF document (the one written as its own file, so no
    page is drawn twice) and are spooled to a temporary file: nothing but the summary rows stays in
    memory. `close()` draws the cover and joins cover and entries with pypdf, one bookmark per entry.
    """

    def __init__(self, path, notes: str = ""):
        self.path = Path(path)
        self.notes = notes
        self.rows: list[dict] = []
        self._spool = tempfile.TemporaryFile(prefix="forensics-batch-")
        self._parts: list[tuple[int, int, str]] = []  # (offset, length, bookmark) in the spool
        self.path.touch()  # the name is taken now; the document is written by close()
        self._model_label = None
        self._demo = self._closed = False

    def _spool_part(self, document: bytes, bookmark: str) -> None:
        self._parts.append((self._spool.tell(), len(document), bookmark))
        self._spool.write(document)

    def add(self, analysis, pdf: bytes | None = None, label: str | None = None, deep=None) -> None:
        """Append an image's pages: `pdf` is its report as written (`pdf.pdf_bytes`), drawn here
        when not given; `deep` puts its judgements on the cover."""
        a = analysis
        label = label or a.input.name
        self._spool_part(pdf or pdf_bytes(pdf_figures(a, self.notes, deep=deep), a), display_name(label or "image"))
        self._model_label, self._demo = a.model.label, self._demo or a.demo
        self.rows.append({"file": label, "verdict": a.verdict,
                          "p": a.fake_probability, "sha": (a.input_sha256 or "")[:12],
                          "deep": None if deep is None else checks.judgement_line(checks.judgements(a, deep)),
                          "hints": sorted({h.generator for h in a.input.metadata.hints})
                          if a.input.metadata is not None else []})

    def add_clip(self, video, pdf: bytes, label: str | None = None) -> None:
        """Append a clip's report (as video_report wrote it); the cover lists its verdict and its
        highest frame P."""
        first = video.frames[0].analysis
        label = label or video.info.name
        self._spool_part(pdf, display_name(label or "video"))
        self._model_label, self._demo = first.model.label, self._demo or first.demo
        self.rows.append({"file": label, "verdict": video.verdict,
                          "p": video.timeline.max_probability, "sha": (video.info.sha256 or "")[:12],
                          "clip": f"clip: {len(video.frames)} sampled frames; P = the highest frame's, "
                                  f"median {video.timeline.median_probability:.3f}"})

    def add_error(self, label: str, message: str) -> None:
        self.rows.append({"file": label, "verdict": "error", "error": message})

    def _cover(self) -> list[Figure]:
        ok = [r for r in self.rows if r["verdict"] != "error"]
        counts = Counter(r["verdict"] for r in ok)
        page = Pages("Forensic batch report", f"forensics {__version__}  \u00b7  batch summary")
        page.lines([page.title], 16, fontweight="bold")
        if self._demo:
            page.banner(0.5, size=13)
            page.y += 0.6
        page.para(f"{len(ok)} of {len(self.rows)} entries analysed (files, clips, detected faces): "
                  f"{counts['ai-generated']} likely AI-generated, {counts['real']} likely real, "
                  f"{counts['inconclusive']} inconclusive; {len(self.rows) - len(ok)} could not be read.", 10)
        page.para(f"Model: {self._model_label or 'not used'}", 9)
        if self.notes.strip():
            page.para(f"Analyst notes: {self.notes.strip()}", 9)
        page.para("Each analysed image or clip has its own pages after this summary, with the model's "
                  "limits and full provenance. P = P(AI-generated).", 8.5, color="0.3")
        page.y += 0.1
        head = f"{'#':>3}  {'file':<44} {'verdict':<13} {'P':>6}  sha256"
        page.lines([head], 8, family="monospace", fontweight="bold")
        for n, r in enumerate(self.rows, 1):
            name = display_name(r["file"], 44)
            if r["verdict"] == "error":
                page.lines([f"{n:>3}  {name:<44} unreadable"], 8, family="monospace", color="#a00000")
                page.para(printable(r["error"]), 7, x=MARGIN + 0.3, width=FULL_WIDTH - 0.3, color="#a00000")
            else:
                page.lines([f"{n:>3}  {name:<44} {r['verdict']:<13} {r['p']:6.3f}  {r['sha']}"], 8,
                           family="monospace", color=VERDICT_COLOURS[r["verdict"]])
                if r.get("hints"):
                    page.para(f"generator hints in the metadata (beside the verdict, not in it): "
                              f"{', '.join(r['hints'])}", 7, x=MARGIN + 0.35, width=FULL_WIDTH - 0.35,
                              color="#8a3b00")
                if r.get("clip"):
                    page.para(r["clip"], 7, x=MARGIN + 0.35, width=FULL_WIDTH - 0.35, color="0.3")
                if r.get("deep"):
                    page.para(f"deep check: {r['deep']}", 7, x=MARGIN + 0.35, width=FULL_WIDTH - 0.35,
                              color="0.3")
        return page.finish()

    def close(self) -> Path:
        if self._closed:
            return self.path
        self._closed = True
        writer = PdfWriter()
        writer.append(PdfReader(BytesIO(pdf_document(self._cover(), "Forensic batch report"))),
                      outline_item="Batch summary")
        for offset, length, bookmark in self._parts:
            self._spool.seek(offset)
            writer.append(PdfReader(BytesIO(self._spool.read(length))), outline_item=bookmark)
        writer.add_metadata({"/Title": "Forensic batch report", "/Creator": f"forensics {__version__}"})
        with open(self.path, "wb") as f:
            writer.write(f)
        self._spool.close()
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_batch_pdf(path, analyses, errors=(), notes: str = "") -> Path:
    """A batch PDF from analyses in memory, plus (label, message) pairs for unreadable files."""
    with BatchReport(path, notes) as batch:
        for a in analyses:
            batch.add(a)
        for label, message in errors:
            batch.add_error(label, message)
    return Path(path)
