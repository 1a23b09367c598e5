"""Every class of input: good ones decode to upright 8-bit RGB, bad ones raise InputError."""
import hashlib
import io
import zlib

import numpy as np
import pytest
from PIL import Image

from helpers import hang_guard, peak_memory
from conftest import encode, make_photo
from forensics import InputError
from forensics.inputs.images import load_image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_accepted_formats_decode_to_rgb(fmt):
    data = encode(make_photo(64, 48), fmt)
    rgb, info = load_image(data, name=f"x.{fmt.lower()}")
    assert rgb.mode == "RGB" and rgb.size == (64, 48)
    assert info.format == fmt
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.num_bytes == len(data)


def test_path_and_bytes_give_same_hash(tmp_path):
    data = encode(make_photo(32, 32), "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    _, from_path = load_image(path)
    _, from_bytes = load_image(data)
    assert from_path.sha256 == from_bytes.sha256 == hashlib.sha256(data).hexdigest()
    assert from_path.name == "a.png"


def test_pil_image_has_no_hash():
    _, info = load_image(make_photo(20, 10))
    assert info.sha256 is None and info.width == 20 and info.height == 10


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "1", "I", "F", "YCbCr", "I;16"])
def test_every_mode_converts(mode):
    base = make_photo(40, 30)
    img = base.convert("L").convert(mode) if mode in ("I", "F", "I;16") else base.convert(mode)
    fmt = {"CMYK": "TIFF", "I": "TIFF", "F": "TIFF", "LA": "PNG", "YCbCr": "JPEG"}.get(mode, "PNG")
    rgb, info = load_image(encode(img, fmt))
    assert rgb.mode == "RGB" and rgb.size == (40, 30)


def test_sixteen_bit_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 256)[None, :].repeat(4, 0)).astype(np.uint16)
    img = Image.fromarray(ramp)  # uint16 -> mode I;16
    rgb, info = load_image(encode(img, "PNG"))
    row = np.asarray(rgb)[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0) and len(np.unique(row)) > 200  # a ramp, not a white image


def test_transparency_is_flattened_onto_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgb, info = load_image(encode(rgba, "PNG"))
    assert info.alpha_flattened
    assert np.asarray(rgb)[0, 0].tolist() == [255, 255, 255]


def test_palette_with_transparency():
    p = make_photo(30, 30).convert("P", palette=Image.ADAPTIVE, colors=16)
    p.info["transparency"] = 0
    rgb, info = load_image(encode(p, "PNG", transparency=0))
    assert rgb.mode == "RGB" and info.alpha_flattened


def test_animated_gif_first_frame_and_said():
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    rgb, info = load_image(buf.getvalue())
    assert info.frames == 3 and info.animated
    r, g, b = np.asarray(rgb)[8, 8]
    assert r > 200 and g < 50 and b < 50
    assert any("first frame" in n for n in info.notes())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(orientation):
    img = make_photo(60, 40)
    exif = Image.Exif()
    exif[0x0112] = orientation
    rgb, info = load_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert info.exif_orientation == orientation
    expected = (60, 40) if orientation in (1, 2, 3, 4) else (40, 60)
    assert rgb.size == expected == (info.width, info.height)


BAD_INPUTS = {
    "empty": b"",
    "random bytes": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    "text": b"hello, this is not an image\n" * 20,
    "html": b"<!doctype html><html><body><img src=x></body></html>",
    "pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_non_images_raise_input_error(kind):
    with pytest.raises(InputError) as err:
        load_image(BAD_INPUTS[kind], name="evidence.jpg")
    assert "evidence.jpg" in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_raises_input_error(fmt):
    data = encode(make_photo(200, 200), fmt)
    with pytest.raises(InputError, match="damaged|truncated|decoded"):
        load_image(data[: len(data) // 2])


def test_png_with_bad_crc_raises_input_error():
    data = bytearray(encode(make_photo(50, 50), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 8] ^= 0xFF  # flip a byte of compressed data without fixing the CRC
    with pytest.raises(InputError):
        load_image(bytes(data))


def test_decompression_bomb_refused_fast():
    # A valid 1x1 PNG whose header claims 50k x 50k pixels: refused before decoding.
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = data.index(b"IHDR") + 4
    data[ihdr:ihdr + 8] = (50_000).to_bytes(4, "big") + (50_000).to_bytes(4, "big")
    data[ihdr + 13:ihdr + 17] = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])).to_bytes(4, "big")
    with hang_guard(), peak_memory() as used, pytest.raises(InputError, match="decompression bomb|limit"):
        load_image(bytes(data))
    assert used["peak"] < 8 << 20  # 2.5 GB of pixels were never allocated


def test_unsupported_format_refused():
    with pytest.raises(InputError, match="Accepted formats"):
        load_image(encode(make_photo(8, 8), "ICO"))


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(InputError, match="No file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(InputError, match="not a file"):
        load_image(tmp_path)


def test_byte_limit(tmp_path):
    data = encode(make_photo(64, 64), "PNG")
    with pytest.raises(InputError, match="limit"):
        load_image(data, max_bytes=100)


def test_wrong_type():
    with pytest.raises(InputError, match="Expected"):
        load_image(12345)
