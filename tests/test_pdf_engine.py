"""The PDF engine (ReportLab): metadata, page numbers, pictures kept exact, every script, the
streamed join of many documents, and no private matplotlib name anywhere in the package."""
import io
import re
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from conftest import encode, make_photo
from forensics import render, report
from forensics.report import fonts
from forensics.report.batch import join_pdfs
from forensics.report.pages import PDF_MAX_SIDE, Story, para, pdf_document

CJK = ("写真_テスト.png", "사진_증거.png")


@pytest.fixture(scope="module")
def analysis(tiny_detector):
    return tiny_detector.analyze(encode(make_photo(640, 400, seed=3), "JPEG", quality=90), name=CJK[0])


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.requires_poppler
def test_cjk_names_show_in_the_pdf_with_an_embedded_font(tiny_detector, tmp_path):
    for name in CJK:
        a = tiny_detector.analyze(make_photo(300, 200), name=name)
        path = report.write_pdf(a, tmp_path / "r.pdf")
        text = pdf_text(path)
        assert f"Image forensic report: {name}" in text and f"File {name}" in " ".join(text.split())
        fonts_used = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
        line = next(l for l in fonts_used.splitlines() if "DroidSansFallback" in l)
        assert " yes yes " in line  # embedded, as a subset: the reader needs no font of its own


def test_runs_split_by_which_font_has_the_glyph():
    assert fonts.runs("File: 写真_テスト.png") == [("File: ", False), ("写真", True), ("_", False),
                                                  ("テスト", True), (".png", False)]
    assert fonts.runs("사진 증거") == [("사진 증거", True)]
    assert fonts.markup("a<b & 写") == 'a&lt;b &amp; <font name="DroidSansFallback">写</font>'


def test_cjk_name_is_drawn_in_the_png_not_as_boxes(analysis):
    """The PNG's file line draws each CJK character from the fallback font: the pixels differ from
    DejaVu's missing-glyph boxes, and each glyph differs from the next (boxes are all alike)."""
    from forensics.report.figures import _font
    font = _font(9)
    def drawn(s, fallback):
        img = Image.new("L", (400, 60), 0)
        draw = ImageDraw.Draw(img)
        (fonts.draw_text(draw, (5, 40), s, font, 255) if fallback else draw.text((5, 40), s, fill=255, font=font,
                                                                                 anchor="ls"))
        return np.asarray(img)
    assert not np.array_equal(drawn("写真", True), drawn("写真", False))
    assert not np.array_equal(drawn("写", True)[:, :60], drawn("真", True)[:, :60])
    assert any(t.text.startswith(f"File: {CJK[0]}") for t in report.annotated_layout(analysis).texts)


def test_export_keeps_the_name_of_every_script(tiny_detector, tmp_path):
    for name in CJK:
        a = tiny_detector.analyze(make_photo(200, 150), name=name)
        paths = report.export(a, tmp_path, formats=("pdf", "json"))
        assert paths["pdf"].name == f"{Path(name).stem}.pdf"


@pytest.mark.requires_poppler
def test_metadata_and_numbered_footers(analysis, tmp_path):
    notes = "\n".join(f"Observation {i}: the lighting on the left wall is consistent." for i in range(40))
    path = report.write_pdf(analysis, tmp_path / "a.pdf", notes=notes)
    meta = PdfReader(path).metadata
    assert meta.title == f"Forensic report: {CJK[0]}"
    assert meta.creator == f"forensics {report.software_versions()['forensics']}"
    assert analysis.input_sha256 in meta.subject and analysis.input_sha256 in meta["/Keywords"]
    pages = pdf_text(path).split("\f")[:-1]
    assert len(pages) == 2
    for n, page in enumerate(pages, 1):
        assert f"page {n} of 2" in page and CJK[0] in page.strip().splitlines()[-1]
    assert f"Image forensic report: {CJK[0]} (continued)" in pages[1]


def test_pictures_embedded_once_exactly_at_their_own_pixels(analysis, tmp_path):
    """The original and the heatmap are embedded at their pixels, decoded back bit for bit."""
    path = report.write_pdf(analysis, tmp_path / "a.pdf")
    page = PdfReader(path).pages[0]
    images = {img.image.size: np.asarray(img.image.convert("RGB")) for img in page.images}
    over = render.overlay_original(analysis, max_side=PDF_MAX_SIDE)
    size = (over.shape[1], over.shape[0])
    assert len(page.images) == 4  # original, heatmap, the 24x24 grid, the colour bar's ramp
    originals = [np.asarray(img.image.convert("RGB")) for img in page.images if img.image.size == size]
    assert len(originals) == 2
    assert any(np.array_equal(o, over) for o in originals)
    assert any(np.array_equal(o, np.asarray(analysis.image)) for o in originals)  # 640 px: not rescaled
    assert images  # decoded


def _tiny_document(n: int) -> bytes:
    return pdf_document(Story(f"item {n}", f"item {n}").add(para(f"Item number {n}", 8)))


def _join(count: int, path) -> int:
    """Join `count` tiny documents (made one at a time as the join asks) -> tracemalloc peak, bytes."""
    tracemalloc.start()
    try:
        join_pdfs(path, ((io.BytesIO(_tiny_document(n)), f"entry {n} · 写真") for n in range(count)),
                  {"/Title": "joined"})
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_join_of_200_documents_is_streamed(tmp_path):
    _tiny_document(0)  # fonts and ReportLab's caches are loaded once per process: not part of the join
    small = _join(20, tmp_path / "small.pdf")
    peak = _join(200, tmp_path / "big.pdf")
    reader = PdfReader(tmp_path / "big.pdf")
    assert len(reader.pages) == 200
    assert [o.title for o in reader.outline] == [f"entry {n} · 写真" for n in range(200)]
    for n in (0, 137, 199):
        assert f"Item number {n}" in reader.pages[n].extract_text()
        assert reader.get_destination_page_number(reader.outline[n]) == n
    assert reader.metadata.title == "joined"
    # Ten times the documents, not ten times the memory: each is read, written and dropped (here
    # 200 took 1.5-1.9x the peak of 20; pypdf's PdfWriter, which holds every page, 4x from 50 to 200).
    assert peak < 3 * small, (peak, small)


def test_no_private_matplotlib_name_in_the_package():
    root = Path(__file__).parent.parent / "forensics"
    pattern = re.compile(r"_writePng|backend_pdf\.(PdfFile|_)|from matplotlib\.backends\.backend_pdf")
    hits = [f"{p}:{n}" for p in root.rglob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line)]
    assert hits == []
