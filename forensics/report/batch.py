"""One PDF for a batch: a cover page with the summary table, then each image's report pages."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from .. import __version__, checks
from .names import display_name, printable
from .pages import FULL_WIDTH, MARGIN, Pages, pdf_meta, quiet
from .pdf import pdf_figures
from .wording import VERDICT_COLOURS


class BatchReport:
    """One PDF for a batch: a cover page with the summary table, then each image's pages.

    Pages are written as images arrive (nothing but the summary rows is kept in memory); the
    cover, drawn last, is moved to the front when the file is closed.
    """

    def __init__(self, path, notes: str = ""):
        self.path = Path(path)
        self.notes = notes
        self.rows: list[dict] = []
        self._pdf = PdfPages(self.path, metadata=pdf_meta("Forensic batch report"))
        self._model_label = None
        self._demo = self._closed = False

    def add(self, analysis, figures=None, label: str | None = None, deep=None) -> None:
        """Append an image's pages (drawn here unless given); `deep` puts its judgements on the cover."""
        a = analysis
        with quiet():
            for fig in figures or pdf_figures(a, self.notes, deep=deep):
                self._pdf.savefig(fig)
        self._model_label, self._demo = a.model.label, self._demo or a.demo
        self.rows.append({"file": label or a.input.name, "verdict": a.verdict,
                          "p": a.fake_probability, "sha": (a.input_sha256 or "")[:12],
                          "deep": None if deep is None else checks.judgement_line(checks.judgements(a, deep)),
                          "hints": sorted({h.generator for h in a.input.metadata.hints})
                          if a.input.metadata is not None else []})

    def add_clip(self, video, figures, label: str | None = None) -> None:
        """Append a clip's pages (drawn by video_report); the cover lists its verdict and its
        highest frame P."""
        first = video.frames[0].analysis
        with quiet():
            for fig in figures:
                self._pdf.savefig(fig)
        self._model_label, self._demo = first.model.label, self._demo or first.demo
        self.rows.append({"file": label or video.info.name, "verdict": video.verdict,
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
        cover = self._cover()
        with quiet():
            for fig in cover:
                self._pdf.savefig(fig)
        pages = getattr(self._pdf._file, "pageList", None)  # matplotlib internals; else cover stays last
        if isinstance(pages, list) and len(pages) > len(cover):
            pages[:] = pages[-len(cover):] + pages[:-len(cover)]
        self._pdf.close()
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
