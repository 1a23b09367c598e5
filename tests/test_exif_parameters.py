"""Generation parameters in EXIF UserComment (JPEG and WebP outputs of the Stable Diffusion web
UIs) are a generator hint, as the PNG 'parameters' chunk is. Fixtures are written as the tools
write them: A1111, Forge and SD.Next through piexif's UserComment "unicode" (b"UNICODE\\0" then
UTF-16 big-endian) in the Exif IFD; Fooocus through Pillow's Image.Exif in IFD0."""
import pytest
from PIL import Image

from forensics.inputs.metadata import read_metadata
from helpers import encode, make_photo

PROMPT = "a lighthouse at dusk, oil painting\nNegative prompt: blurry, lowres\n"
A1111 = (PROMPT + "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3141592, "
         "Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1")
FORGE = A1111.replace("Version: v1.10.1", "Version: f2.0.1v1.10.1-previous-224-g900196889")
SDNEXT = (PROMPT + "Steps: 20, Seed: 3141592, Sampler: Default, CFG scale: 6, Size: 1024x1024, "
          "Model: sdxl-base-1.0, Backend: Diffusers, App: SD.Next, Version: 7e3a5b1")
FOOOCUS_A1111 = (PROMPT + "Steps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 42, Size: 1152x896, "
                 "Model: juggernautXL_v8Rundiffusion, Version: Fooocus v2.5.5")


def piexif_exif(text: str, code: bytes = b"UNICODE\x00", encoding: str = "utf-16-be") -> Image.Exif:
    """What piexif.dump({"Exif": {UserComment: UserComment.dump(text, encoding=...)}}) holds."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = code + text.encode(encoding)
    return exif


def hint(data: bytes):
    meta = read_metadata(data)
    found = [h for h in meta.hints if h.field == "EXIF UserComment"]
    assert len(found) == 1, meta.hints
    return found[0]


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("text, generator", [
    (A1111, "Stable Diffusion (AUTOMATIC1111 web UI or a fork)"),
    (FORGE, "Stable Diffusion WebUI Forge"),
    (SDNEXT, "SD.Next"),
    (FOOOCUS_A1111, "Fooocus"),
])
def test_web_ui_parameters_in_user_comment_are_a_hint(fmt, text, generator):
    h = hint(encode(make_photo(256, 256), fmt, exif=piexif_exif(text), quality=90))
    assert h.generator == generator
    assert "Steps: " in h.text and "Seed: " in h.text  # the parameters, quoted


@pytest.mark.parametrize("code, encoding", [(b"UNICODE\x00", "utf-16-le"), (b"ASCII\x00\x00\x00", "ascii")])
def test_other_user_comment_encodings(code, encoding):
    h = hint(encode(make_photo(128, 128), "JPEG", exif=piexif_exif(A1111, code, encoding)))
    assert h.generator.startswith("Stable Diffusion") and "Seed: 3141592" in h.text


def test_fooocus_json_scheme_and_software():
    exif = Image.Exif()  # Fooocus' modules/meta_parser.py get_exif: all in IFD0
    exif[0x9286] = '{"prompt": "a lighthouse", "steps": 30, "seed": "42", "version": "Fooocus v2.5.5"}'
    exif[0x0131] = "Fooocus v2.5.5"
    exif[0x927C] = "fooocus"
    for fmt in ("JPEG", "WEBP"):
        hints = {(h.field, h.generator) for h in read_metadata(encode(make_photo(128, 128), fmt, exif=exif)).hints}
        assert {("EXIF UserComment", "Fooocus"), ("EXIF Software", "Fooocus")} <= hints


@pytest.mark.parametrize("comment", ["Steps to the beach, 2019", "holiday photo", "Steps: 3 of the stairs"])
def test_ordinary_comments_are_not_hints(comment):
    meta = read_metadata(encode(make_photo(128, 128), "JPEG", exif=piexif_exif(comment)))
    assert meta.exif.user_comment == comment and meta.hints == ()
