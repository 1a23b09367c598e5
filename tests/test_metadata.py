"""Provenance and metadata (forensics/metadata/, forensics/hints.py) on fixtures built here and on
the five DALL·E 2 images of tests/data/commfor-dalle2.

Built here (the C2PA-signed fixtures are in test_c2pa.py): a Stable Diffusion PNG, a JPEG with
XMP DigitalSourceType, a camera JPEG, a HEIC and AVIF, and hostile metadata (XMP entity bomb, multi-megabyte text chunk, malformed EXIF IFDs, a
corrupt C2PA segment, deeply nested ComfyUI JSON).
"""
import io
import json
import os
import struct

from helpers import hang_guard
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from forensics.inputs.metadata import hints
from forensics import metadata
from forensics.inputs.images import ACCEPTED_EXTENSIONS, load_image
from forensics import InputError
from forensics.inputs.metadata import UNREADABLE, panel_rows, read_metadata

DALLE = Path(__file__).parent / "data" / "commfor-dalle2"
PUBLISHED = {"00000274.png": 0.9988, "00000420.png": 0.9878, "00000845.png": 0.9569,
             "00000916.png": 0.9516, "00000989.png": 0.7860}
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def picture(w=96, h=64, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, np.full_like(x, 128.0)], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8))


def save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def read(data: bytes, **kw):
    with hang_guard():
        return read_metadata(data, **kw)


# -- EXIF, XMP, text chunks, JPEG -------------------------------------------------------------------

def test_stable_diffusion_png_parameters():
    params = ("a lighthouse at dusk, oil painting\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
              "CFG scale: 7, Seed: 1234, Size: 512x512, Model: sd_xl_base_1.0")
    info = PngInfo()
    info.add_text("parameters", params)
    info.add_text("Software", "ComfyUI")
    meta = read(save(picture(), "PNG", pnginfo=info))
    assert meta.text.get("parameters").value == params
    by_field = {h.field: h for h in meta.hints}
    assert by_field["PNG text 'parameters'"].text == params.replace("\n", " ")
    assert "Stable Diffusion" in by_field["PNG text 'parameters'"].generator
    assert by_field["PNG text 'Software'"].generator == "ComfyUI"


def test_comfyui_prompt_and_workflow_chunks():
    info = PngInfo()
    info.add_text("prompt", json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}))
    info.add_itxt("workflow", json.dumps({"nodes": [{"id": 3, "type": "KSampler"}]}), zip=True)
    meta = read(save(picture(), "PNG", pnginfo=info))
    assert meta.text.error is None
    assert {h.field for h in meta.hints if h.generator == "ComfyUI"} == {"PNG text 'prompt'", "PNG text 'workflow'"}


XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
    Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    xmp:CreatorTool="Adobe Photoshop 25.0"
    photoshop:Credit="Made with Google AI">
   <xmpMM:History><rdf:Seq>
    <rdf:li stEvt:action="created" stEvt:softwareAgent="Adobe Firefly" stEvt:when="2024-05-01T10:00:00Z"/>
    <rdf:li stEvt:action="saved" stEvt:softwareAgent="Adobe Photoshop 25.0"/>
   </rdf:Seq></xmpMM:History>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def test_jpeg_with_xmp_digital_source_type():
    meta = read(save(picture(), "JPEG", xmp=XMP))
    x = meta.xmp
    assert x.present and x.error is None and x.creator_tool == "Adobe Photoshop 25.0"
    assert x.digital_source_types == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",)
    assert x.history[0] == "action created; softwareAgent Adobe Firefly; when 2024-05-01T10:00:00Z"
    generators = {(h.field, h.generator) for h in meta.hints}
    assert ("XMP Iptc4xmpExt:DigitalSourceType", "generative AI (part of the image)") in generators
    assert ("XMP photoshop:Credit", "Google generative AI") in generators
    assert ("XMP xmpMM:History", "Adobe Firefly") in generators
    assert not any(h.generator == "generative AI" for h in meta.hints)  # composite is not "trained" alone
    assert "APP1 XMP" in meta.jpeg.app_segments


def camera_exif(gps=True) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Canon", "Canon EOS 5D Mark IV", "Firmware 1.2.0"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:06:01 12:34:56"
    sub[0xA434] = "EF24-70mm f/2.8L II USM"
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2], g[3], g[4] = "N", (52.0, 31.0, 12.0), "W", (1.0, 30.0, 0.0)
    return exif


def test_camera_jpeg_has_make_and_model_and_no_hint():
    meta = read(save(picture(), "JPEG", quality=85, exif=camera_exif()))
    e = meta.exif
    assert (e.make, e.model, e.lens) == ("Canon", "Canon EOS 5D Mark IV", "EF24-70mm f/2.8L II USM")
    assert e.datetime_original == "2024:06:01 12:34:56" and e.software == "Firmware 1.2.0"
    assert e.gps_present and e.gps == pytest.approx((52.52, -1.5))
    assert meta.hints == () and meta.errors == ()
    assert meta.hint_lines() == [hints.ABSENCE_NOTE] and "proves nothing" in hints.ABSENCE_NOTE
    assert meta.jpeg.quality == 85 and "standard IJG tables at quality 85" in meta.jpeg.quality_note
    assert not meta.jpeg.progressive and meta.jpeg.app_segments[:2] == ("APP0 JFIF", "APP1 Exif")
    rows = dict(panel_rows(meta))
    assert rows["Camera make"] == "Canon" and rows["GPS"] == "52.520000, -1.500000"


def test_redact_location_leaves_coordinates_out_of_the_record():
    meta = read(save(picture(), "JPEG", exif=camera_exif()))
    full, redacted = meta.to_record(), meta.to_record(redact_location=True)
    assert full["exif"]["gps"] == {"latitude": 52.52, "longitude": -1.5}
    assert redacted["exif"]["gps"] == "redacted" and redacted["location_redacted"]
    assert "52.52" not in json.dumps(redacted) and "-1.5" not in json.dumps(redacted)
    assert dict(panel_rows(meta, redact_location=True))["GPS"] == "present (coordinates redacted)"


def test_progressive_jpeg_and_quality_estimate():
    meta = read(save(picture(), "JPEG", quality=60, progressive=True))
    assert meta.jpeg.progressive and meta.jpeg.quality == 60


def _exif_with_thumbnail(thumb_jpeg: bytes) -> bytes:
    """A little-endian TIFF/EXIF block: IFD0 (Make), IFD1 with the JPEG thumbnail's offset and length."""
    make = b"TestCam\x00"
    ifd0_off = 8
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, len(make), 0) + struct.pack("<I", 0)
    make_off = ifd0_off + len(ifd0)
    ifd1_off = make_off + len(make)
    ifd1_len = 2 + 2 * 12 + 4
    thumb_off = ifd1_off + ifd1_len
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, len(make), make_off) + struct.pack("<I", ifd1_off)
    ifd1 = (struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, thumb_off)
            + struct.pack("<HHII", 0x0202, 4, 1, len(thumb_jpeg)) + struct.pack("<I", 0))
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", ifd0_off) + ifd0 + make + ifd1 + thumb_jpeg


def test_exif_thumbnail_matches_or_not():
    img = picture(160, 120)
    same = save(img.resize((80, 60)), "JPEG", quality=90)
    other = save(Image.fromarray(255 - np.asarray(img)).resize((80, 60)), "JPEG", quality=90)
    good = read(save(img, "JPEG", exif=_exif_with_thumbnail(same))).jpeg
    assert good.thumbnail and good.thumbnail_size == (80, 60) and good.thumbnail_matches is True
    bad_data = save(img, "JPEG", exif=_exif_with_thumbnail(other))
    bad = read(bad_data).jpeg
    assert bad.thumbnail_matches is False and "DIFFERS" in bad.thumbnail_note
    _, info = load_image(bad_data)  # through the normal path, with the decoded image
    assert info.metadata.jpeg.thumbnail_matches is False


# -- HEIC / AVIF ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, ext", [("HEIF", ".heic"), ("AVIF", ".avif")])
def test_heic_and_avif_load_upright_with_metadata(fmt, ext, tmp_path):
    arr = np.zeros((60, 100, 3), np.uint8)
    arr[:, :50] = 255  # left half white: after orientation 6 (90 degrees clockwise) the top half is
    exif = camera_exif(gps=False)
    exif[0x0112] = 6
    path = tmp_path / f"photo{ext}"
    path.write_bytes(save(Image.fromarray(arr), fmt, exif=exif.tobytes(), quality=90))
    rgb, info = load_image(path)
    assert info.format == fmt and (info.width, info.height) == (60, 100) and info.exif_orientation == 6
    out = np.asarray(rgb)
    assert out[:40].mean() > 200 and out[-40:].mean() < 50
    assert info.metadata.format == fmt and info.metadata.exif.model == "Canon EOS 5D Mark IV"
    assert ext in ACCEPTED_EXTENSIONS


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_pixel_cap_and_junk(fmt):
    data = save(picture(64, 64), fmt)
    with pytest.raises(InputError, match="limit is"):
        load_image(data, name=f"x.{fmt.lower()}", max_pixels=1000)
    with pytest.raises(InputError, match="not an image we can read|could not be decoded|damaged"):
        load_image(data[:40] + b"\x00" * 200, name=f"junk.{fmt.lower()}")


def test_folder_walk_takes_heic(tmp_path):
    from forensics.batch import engine as batch

    (tmp_path / "IMG_0001.HEIC").write_bytes(save(picture(), "HEIF"))
    (tmp_path / "b.avif").write_bytes(save(picture(), "AVIF"))
    (tmp_path / "notes.txt").write_text("x")
    skipped = []
    found, missing = batch.collect([tmp_path], tmp_path / "out", skipped)
    assert sorted(p.name for _, p in found) == ["IMG_0001.HEIC", "b.avif"] and not missing
    assert [Path(label).name for label, _ in skipped] == ["notes.txt"]


# -- the five DALL·E 2 images -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_dalle2_files_show_the_openai_hint(name):
    meta = read((DALLE / name).read_bytes())
    found = {(h.field, h.generator): h.text for h in meta.hints}
    assert found[("EXIF UserComment", "OpenAI DALL\u00b7E")] == "Made with OpenAI DALL-E"
    assert found[("EXIF MakerNote", "OpenAI DALL\u00b7E")].startswith("OpenAI--req_")
    assert meta.errors == ()
    record = meta.to_record()
    assert any(h["generator"] == "OpenAI DALL\u00b7E" for h in record["generator_hints"])


def test_analysis_carries_the_metadata(tiny_detector):
    a = tiny_detector.analyze(DALLE / "00000274.png")
    assert any(h.generator == "OpenAI DALL\u00b7E" for h in a.input.metadata.hints)
    pil_only = tiny_detector.analyze(Image.open(DALLE / "00000274.png"))
    assert pil_only.input.metadata is None  # pixels only: nothing to read, and never a re-encoded copy


@pytest.mark.skipif(not os.environ.get("FORENSICS_MODEL"),
                    reason="needs the real weights: set FORENSICS_MODEL to a local copy of the checkpoint")
def test_dalle2_scores_match_the_published_values():
    from forensics import Detector

    det = Detector.from_pretrained(os.environ["FORENSICS_MODEL"], device="cpu")
    if det.model_info.demo:
        pytest.skip("FORENSICS_MODEL does not point at real weights")
    for name, published in PUBLISHED.items():
        assert det.analyze(DALLE / name).fake_probability == pytest.approx(published, abs=0.01), name


# -- hostile metadata -------------------------------------------------------------------------------

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="&lol9;"/></rdf:RDF></x:xmpmeta>"""


def _png_with_text(key: str, value: bytes) -> bytes:
    info = PngInfo()
    info.add_text(key, value)
    return save(picture(), "PNG", pnginfo=info)


def _malformed_exif() -> bytes:
    """IFD0 claims 60000 entries, an Exif sub-IFD pointer past the end, a GPS IFD that loops to itself."""
    tiff = b"II*\x00" + struct.pack("<I", 8)
    ifd0 = (struct.pack("<H", 3) + struct.pack("<HHII", 0x8769, 4, 1, 0x7FFFFFF0)
            + struct.pack("<HHII", 0x8825, 4, 1, 8) + struct.pack("<HHII", 0x010F, 2, 60000, 4)
            + struct.pack("<I", 8))
    return b"Exif\x00\x00" + tiff + ifd0 + struct.pack("<H", 60000) + b"\xff" * 64


def _c2pa_garbage_jpeg() -> bytes:
    """A JPEG with an APP11 JUMBF segment whose box content is garbage."""
    jpeg = save(picture(), "JPEG")
    body = b"JP" + struct.pack(">HI", 1, 1) + struct.pack(">I4s", 300, b"jumb") + os.urandom(292)
    segment = b"\xff\xeb" + struct.pack(">H", len(body) + 2) + body
    return jpeg[:2] + segment + jpeg[2:]


HOSTILE = {
    "xmp entity bomb": (lambda: save(picture(), "JPEG", xmp=BOMB), "XMP"),
    "multi-megabyte text chunk": (lambda: _png_with_text("parameters", b"A" * (6 << 20)), "PNG text"),
    "malformed EXIF IFDs": (lambda: save(picture(), "JPEG", exif=_malformed_exif()), "EXIF"),
    "corrupt C2PA segment": (_c2pa_garbage_jpeg, "C2PA"),
    "deeply nested ComfyUI JSON": (lambda: _png_with_text("workflow", b"[" * 200_000 + b"]" * 200_000),
                                   "PNG text"),
    "compressed text bomb": (lambda: _zbomb(), "PNG text"),
}


def _zbomb() -> bytes:
    info = PngInfo()
    info.add_itxt("prompt", "{" + " " * (40 << 20) + "}", zip=True)  # 40 MB of text in ~40 KB
    return save(picture(), "PNG", pnginfo=info)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_metadata_never_stops_the_analysis(case, tiny_detector):
    make, part = HOSTILE[case]
    data = make()
    tracemalloc.start()
    try:
        meta = read(data, trust="")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{case}: {peak / 2**20:.0f} MB"
    if part is not None:
        assert any(e.startswith(f"{UNREADABLE}{part}") for e in meta.errors), meta.errors
    record = json.loads(json.dumps(meta.to_record()))
    assert record["errors"] == list(meta.errors)
    with hang_guard():
        a = tiny_detector.analyze(data)  # the pixel analysis runs all the same
    assert 0.0 <= a.fake_probability <= 1.0 and a.input.metadata is not None


def test_hostile_exif_reads_what_it_can():
    meta = read(save(picture(), "JPEG", exif=_malformed_exif()))
    assert meta.exif.error.startswith(UNREADABLE + "EXIF: partly unreadable")
    assert meta.jpeg.quality is not None and meta.xmp.error is None  # the other parts are still there


# -- the table and the record -----------------------------------------------------------------------

def test_hint_table_is_documented():
    methods = (Path(__file__).parent.parent / "docs" / "METHODS.md").read_text(encoding="utf-8")
    for sig in hints.SIGNATURES:
        assert sig.generator in methods, sig.generator


def test_panel_for_pixels_only_and_for_a_file():
    assert metadata.panel(None)["rows"] == []
    view = metadata.panel(read((DALLE / "00000274.png").read_bytes()))
    assert view["hints"] and view["hints"][0].startswith("OpenAI DALL\u00b7E: EXIF UserComment")
    assert ("User comment", "Made with OpenAI DALL-E") in view["rows"]
    assert view["note"] == hints.INDEPENDENCE_NOTE


# -- exports: JSON "metadata", summary.csv generator_hints, PDF section, --redact-location ----------

def test_cli_exports_metadata_hints_and_redacts_location(tiny_model_dir, tmp_path):
    import csv
    import shutil
    import subprocess

    from forensics import cli

    folder = tmp_path / "case"
    folder.mkdir()
    shutil.copy(DALLE / "00000274.png", folder / "dalle.png")
    (folder / "camera.jpg").write_bytes(save(picture(), "JPEG", exif=camera_exif()))
    (folder / "phone.heic").write_bytes(save(picture(), "HEIF"))
    out = tmp_path / "out"
    assert cli.main(["analyze", str(folder), "--out", str(out), "--model", str(tiny_model_dir),
                     "--format", "json,pdf", "--redact-location"]) == 0
    with open(out / "summary.csv", newline="", encoding="utf-8") as f:
        rows = {Path(r["file"]).name: r for r in csv.DictReader(f)}
    assert {name: r["status"] for name, r in rows.items()} == {"camera.jpg": "ok", "dalle.png": "ok",
                                                               "phone.heic": "ok"}
    assert "OpenAI DALL\u00b7E (EXIF UserComment: Made with OpenAI DALL-E)" in rows["dalle.png"]["generator_hints"]
    assert rows["camera.jpg"]["generator_hints"] == "none found"
    dalle = json.loads((out / "dalle.json").read_text(encoding="utf-8"))["metadata"]
    assert dalle["generator_hints"][0]["text"] == "Made with OpenAI DALL-E"
    camera = json.loads((out / "camera.json").read_text(encoding="utf-8"))["metadata"]
    assert camera["exif"]["model"] == "Canon EOS 5D Mark IV" and camera["exif"]["gps"] == "redacted"
    assert json.loads((out / "phone.json").read_text(encoding="utf-8"))["metadata"]["format"] == "HEIF"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out / "dalle.pdf"), "-"], capture_output=True, text=True).stdout
        assert "Generator hints" in text and "Made with OpenAI DALL-E" in text
        camera_text = subprocess.run(["pdftotext", str(out / "camera.pdf"), "-"], capture_output=True,
                                     text=True).stdout
        assert "Canon EOS 5D Mark IV" in camera_text and "52.52" not in camera_text
        assert "proves nothing" in camera_text
