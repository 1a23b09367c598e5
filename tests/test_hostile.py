"""A hostile-input corpus made here: every file gives a clear InputError or a correct analysis."""
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from PIL import Image, ImageCms

from helpers import hang_guard, peak_memory
from conftest import encode, make_photo
from forensics import InputError
from forensics.inputs.images import load_image


def _bomb() -> bytes:
    import zlib
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = data.index(b"IHDR") + 4
    data[ihdr:ihdr + 8] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")
    data[ihdr + 13:ihdr + 17] = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])).to_bytes(4, "big")
    return bytes(data)


def _bad_crc() -> bytes:
    data = bytearray(encode(make_photo(64, 64), "PNG"))
    i = data.index(b"IDAT")
    data[i + 10] ^= 0x55
    return bytes(data)


def _animated() -> bytes:
    buf = io.BytesIO()
    frames = [make_photo(80, 60, seed=i).convert("P") for i in range(4)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def _icc() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(make_photo(120, 90), "JPEG", icc_profile=profile)


def _oriented(n):
    exif = Image.Exif()
    exif[0x0112] = n
    return lambda: encode(make_photo(90, 60), "JPEG", exif=exif.tobytes())


def _palette_alpha() -> bytes:
    return encode(make_photo(50, 50).convert("P", palette=Image.ADAPTIVE, colors=8), "PNG", transparency=2)


REFUSED = {
    "empty": lambda: b"",
    "random bytes": lambda: bytes(np.random.default_rng(1).integers(0, 256, 10_000, dtype=np.uint8)),
    "text renamed": lambda: b"Meeting notes\n" * 100,
    "html renamed": lambda: b"<html><head><title>x</title></head><body>hi</body></html>",
    "pdf renamed": lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF",
    "truncated jpeg": lambda: encode(make_photo(300, 200), "JPEG")[:1500],
    "truncated png": lambda: encode(make_photo(300, 200), "PNG")[:2000],
    "png bad crc": _bad_crc,
    "decompression bomb": _bomb,
}

ANALYSED = {
    "1x1": lambda: encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"),
    "1x4000": lambda: encode(make_photo(1, 4000), "PNG"),
    "4000x1": lambda: encode(make_photo(4000, 1), "PNG"),
    "16-bit": lambda: encode(Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)), "PNG"),
    "cmyk": lambda: encode(make_photo(70, 50).convert("CMYK"), "JPEG"),
    "palette with transparency": _palette_alpha,
    "animated gif": _animated,
    "icc profile": _icc,
    "large legal 8000x6000": lambda: encode(make_photo(8000, 6000), "JPEG", quality=70),
    **{f"exif orientation {n}": _oriented(n) for n in range(1, 9)},
}


@pytest.mark.parametrize("kind", REFUSED)
def test_hostile_file_refused_cleanly(tiny_detector, kind):
    data = REFUSED[kind]()
    with hang_guard(), peak_memory() as used, pytest.raises(InputError) as err:
        tiny_detector.analyze(data, name="upload.jpg")
    # Refused before decoding: a decoded bomb would allocate gigabytes, the refusal a few MB.
    assert used["peak"] < 32 << 20, f"{kind}: {used['peak'] / 2**20:.0f} MB allocated before refusing"
    assert "upload.jpg" in str(err.value) and len(str(err.value)) > 30


@pytest.mark.parametrize("kind", ANALYSED)
def test_odd_but_legal_file_analysed(tiny_detector, kind):
    a = tiny_detector.analyze(ANALYSED[kind](), name=f"{kind}.img")
    assert 0.0 <= a.fake_probability <= 1.0
    assert a.patch_scores.shape == (24, 24) and np.isfinite(a.patch_scores).all()
    assert a.patch_scores.sum() == pytest.approx(1.0)
    l, t, r, b = a.crop_box
    assert 0 <= l < r <= a.input.width and 0 <= t < b <= a.input.height
    assert a.model_input.size == (384, 384) and a.image.mode == "RGB"


def test_animated_and_rotated_say_so(tiny_detector):
    animated = tiny_detector.analyze(_animated())  # said once, as the animation condition
    assert any(c.name == "animation" and "first frame" in c.detail for c in animated.applicability)
    assert any("orientation 6" in n for n in tiny_detector.analyze(_oriented(6)()).notes())
    assert tiny_detector.analyze(_icc()).input.has_icc_profile


# -- fuzzing the decode path: whatever the bytes, InputError or a good RGB image ----------------

SEEDS = [encode(make_photo(24, 16), fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")]


def _decode_or_refuse(data: bytes):
    try:
        rgb, info = load_image(data)
    except InputError:
        return
    assert rgb.mode == "RGB" and rgb.width >= 1 and rgb.height >= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data):
    _decode_or_refuse(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SEEDS))), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       st.integers(0, 10**6))
@example(seed=5, flips=[(130, 1)], cut=140)  # found by this test: TIFF without dimensions -> TypeError
def test_fuzz_mutated_images(seed, flips, cut):
    data = bytearray(SEEDS[seed])
    for pos, value in flips:
        data[pos % len(data)] = value
    _decode_or_refuse(bytes(data[: max(1, cut % (len(data) + 1))]))
