"""One PDF for a batch: a cover page with the summary table, then each image's report pages."""
from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader
from pypdf.generic import (ArrayObject, DictionaryObject, IndirectObject, NameObject, NumberObject,
                           TextStringObject)
from reportlab.lib.units import inch
from reportlab.platypus import Spacer

from .._version import __version__
from ..explain import checks
from .names import display_name, printable
from .pages import FULL_WIDTH, Story, banner, grid_table, para, pdf_document
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

    def _cover(self) -> Story:
        ok = [r for r in self.rows if r["verdict"] != "error"]
        counts = Counter(r["verdict"] for r in ok)
        story = Story("Forensic batch report", f"forensics {__version__}  \u00b7  batch summary",
                      subject=f"{len(self.rows)} entries", keywords=f"forensics {__version__}, batch")
        story.add(para(story.title, 16, bold=True, after=0.06))
        if self._demo:
            story.add(banner(13), Spacer(1, 0.08 * inch))
        story.add(para(f"{len(ok)} of {len(self.rows)} entries analysed (files, clips, detected faces): "
                       f"{counts['ai-generated']} likely AI-generated, {counts['real']} likely real, "
                       f"{counts['inconclusive']} inconclusive; {len(self.rows) - len(ok)} could not be read.", 10),
                  para(f"Model: {self._model_label or 'not used'}", 9))
        if self.notes.strip():
            story.add(para(f"Analyst notes: {self.notes.strip()}", 9))
        story.add(para("Each analysed image or clip has its own pages after this summary, with the model's "
                       "limits and full provenance. P = P(AI-generated).", 8.5, colour_="0.3"),
                  Spacer(1, 0.1 * inch))
        rows, colours, spans = [["#", "file", "verdict", "P", "sha256"]], [None], []

        def note(text, colour):  # a line under the entry, across the columns after "#"
            rows.append(["", text, "", "", ""])
            colours.append(colour)
            spans.append(("SPAN", (1, len(rows) - 1), (-1, len(rows) - 1)))
        for n, r in enumerate(self.rows, 1):
            name = display_name(r["file"], 60)
            if r["verdict"] == "error":
                rows.append([str(n), name, "unreadable", "", ""])
                colours.append("#a00000")
                note(printable(r["error"]), "#a00000")
                continue
            rows.append([str(n), name, r["verdict"], f"{r['p']:.3f}", r["sha"]])
            colours.append(VERDICT_COLOURS[r["verdict"]])
            if r.get("hints"):
                note(f"generator hints in the metadata (beside the verdict, not in it): {', '.join(r['hints'])}",
                     "#8a3b00")
            if r.get("clip"):
                note(r["clip"], "0.3")
            if r.get("deep"):
                note(f"deep check: {r['deep']}", "0.3")
        widths = [0.35, FULL_WIDTH - 0.35 - 1.0 - 0.55 - 1.05, 1.0, 0.55, 1.05]
        story.add(grid_table(rows, widths, size=8, right_cols={0, 3}, mono_cols={3, 4}, colours=colours,
                             spans=spans))
        return story

    def close(self) -> Path:
        if self._closed:
            return self.path
        self._closed = True
        cover = [(BytesIO(pdf_document(self._cover())), "Batch summary")]
        entries = ((_read_part(self._spool, offset, length), bookmark) for offset, length, bookmark in self._parts)
        join_pdfs(self.path, itertools.chain(cover, entries),
                  {"/Title": "Forensic batch report", "/Creator": f"forensics {__version__}",
                   "/Subject": f"{len(self.rows)} entries"})
        self._spool.close()
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_part(spool, offset: int, length: int) -> BytesIO:
    """One entry's document, read back from the spool only when the join reaches it."""
    spool.seek(offset)
    return BytesIO(spool.read(length))


def join_pdfs(path, parts, metadata: dict) -> Path:
    """Join PDF documents into `path`, one bookmark each, streamed: `parts` yields (file object,
    bookmark) and each document is read, renumbered and written out before the next is read, so
    memory holds one document plus the object offsets, however many there are.

    pypdf parses each part and writes its objects (`write_to_stream`); this function only numbers
    them, hangs every page on one page tree and writes the outline, cross-reference and trailer.
    """
    catalog, tree, outlines, info = 1, 2, 3, 4       # fixed numbers for the joined document's own objects
    offsets: dict[int, int] = {}
    kids: list[int] = []
    marks: list[tuple[str, int]] = []                 # (bookmark, first page's number)
    counter = itertools.count(5)                      # object numbers of the copied parts
    with open(path, "wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

        def emit(number: int, obj) -> None:
            offsets[number] = out.tell()
            out.write(b"%d 0 obj\n" % number)
            obj.write_to_stream(out)
            out.write(b"\nendobj\n")

        for document, bookmark in parts:
            reader = PdfReader(document)
            numbers: dict[tuple[int, int], int] = {}
            queue: list[IndirectObject] = []

            def renumber(obj):
                """References into this part -> references into the joined file (queued to write)."""
                if isinstance(obj, IndirectObject):
                    key = (obj.idnum, obj.generation)
                    if key not in numbers:
                        numbers[key] = next(counter)
                        queue.append(obj)
                    return IndirectObject(numbers[key], 0, None)
                if isinstance(obj, DictionaryObject):     # streams too: their dictionary
                    for k, v in list(dict.items(obj)):
                        dict.__setitem__(obj, k, renumber(v))
                elif isinstance(obj, ArrayObject):
                    for i, v in enumerate(list(obj)):
                        list.__setitem__(obj, i, renumber(v))
                return obj

            pages = list(reader.pages)                # flattened: inherited resources and boxes on each page
            first = None
            for page in pages:
                ref = page.indirect_reference
                numbers[(ref.idnum, ref.generation)] = number = next(counter)
                first = first or number
            written = set()
            for page in pages:
                ref = page.indirect_reference
                number = numbers[(ref.idnum, ref.generation)]
                dict.pop(page, NameObject("/Parent"), None)
                renumber(page)
                dict.__setitem__(page, NameObject("/Parent"), IndirectObject(tree, 0, None))
                emit(number, page)
                written.add((ref.idnum, ref.generation))
                kids.append(number)
                while queue:
                    ref = queue.pop()
                    key = (ref.idnum, ref.generation)
                    if key in written:
                        continue
                    written.add(key)
                    obj = renumber(ref.get_object())
                    emit(numbers[key], obj)
            if first is not None:
                marks.append((bookmark, first))
            del reader, pages

        items = [next(counter) for _ in marks]
        for k, ((title, page), number) in enumerate(zip(marks, items)):
            item = DictionaryObject({
                NameObject("/Title"): TextStringObject(title),
                NameObject("/Parent"): IndirectObject(outlines, 0, None),
                NameObject("/Dest"): ArrayObject([IndirectObject(page, 0, None), NameObject("/Fit")])})
            if k:
                item[NameObject("/Prev")] = IndirectObject(items[k - 1], 0, None)
            if k + 1 < len(items):
                item[NameObject("/Next")] = IndirectObject(items[k + 1], 0, None)
            emit(number, item)
        outline = DictionaryObject({NameObject("/Type"): NameObject("/Outlines"),
                                    NameObject("/Count"): NumberObject(len(items))})
        if items:
            outline[NameObject("/First")] = IndirectObject(items[0], 0, None)
            outline[NameObject("/Last")] = IndirectObject(items[-1], 0, None)
        emit(outlines, outline)
        emit(tree, DictionaryObject({NameObject("/Type"): NameObject("/Pages"), NameObject("/Count"): NumberObject(len(kids)),
                                     NameObject("/Kids"): ArrayObject(IndirectObject(k, 0, None) for k in kids)}))
        emit(catalog, DictionaryObject({NameObject("/Type"): NameObject("/Catalog"),
                                        NameObject("/Pages"): IndirectObject(tree, 0, None),
                                        NameObject("/Outlines"): IndirectObject(outlines, 0, None),
                                        NameObject("/PageMode"): NameObject("/UseOutlines")}))
        emit(info, DictionaryObject({NameObject(k): TextStringObject(v) for k, v in metadata.items()}))
        size = max(offsets) + 1                      # every number below it was written
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for number in range(1, size):  # numbers never used are free entries
            out.write(b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 65535 f \n")
        out.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                  % (size, catalog, info, xref))
    return Path(path)


def write_batch_pdf(path, analyses, errors=(), notes: str = "") -> Path:
    """A batch PDF from analyses in memory, plus (label, message) pairs for unreadable files."""
    with BatchReport(path, notes) as batch:
        for a in analyses:
            batch.add(a)
        for label, message in errors:
            batch.add_error(label, message)
    return Path(path)
