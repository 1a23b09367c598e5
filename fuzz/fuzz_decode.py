"""Coverage-guided fuzzing of the decode path with atheris (run on demand, not in CI).

    pip install atheris
    python fuzz/fuzz_decode.py -max_total_time=600 -max_len=65536 [CORPUS_DIR]

The property: whatever the bytes, `load_image` returns an 8-bit RGB image or raises
`InputError`. Any other exception, a hang or a memory blow-up is a bug (libFuzzer reports
crashes, -timeout and -rss_limit_mb catch the other two). Seed a corpus folder with a few small
valid images (PNG, JPEG, GIF, WebP, TIFF, BMP) to reach the decoders quickly.
"""
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from forensics import InputError
    from forensics.inputs.images import load_image


def test_one_input(data: bytes) -> None:
    try:
        rgb, _ = load_image(data)
    except InputError:
        return
    assert rgb.mode == "RGB" and rgb.width >= 1 and rgb.height >= 1


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
