"""The Gradio app over HTTP, as a client sees it: /analyze, clean errors, startup failures."""
from __future__ import annotations

import contextlib
import hashlib
import html
import json
import socket

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import app  # noqa: E402
from conftest import encode, make_photo  # noqa: E402
from forensics import Detector  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(detector: Detector):
    """The app for `detector` on a free loopback port, in this process; yields its URL."""
    blocks = app.build_app(detector)
    blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                  quiet=True, **app.LAUNCH_OPTIONS)
    try:
        yield blocks.local_url
    finally:
        blocks.close()


@pytest.fixture(scope="module")
def detector(tiny_model_dir):
    return Detector.from_pretrained(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def client(detector, tmp_path_factory):
    with serve(detector) as url:
        yield Client(url, verbose=False, analytics_enabled=False,
                     download_files=str(tmp_path_factory.mktemp("downloads")))


def test_analyze_returns_the_package_result_for_the_file(client, detector, tmp_path):
    data = encode(make_photo(640, 480, seed=3), "JPEG", quality=92)
    path = tmp_path / "wide photo.jpg"
    path.write_bytes(data)

    result, on_input, on_original = client.predict(handle_file(str(path)), api_name="/analyze")

    expected = detector.analyze(path)
    assert result["input_sha256"] == hashlib.sha256(data).hexdigest()
    assert result["input"]["name"] == "wide photo.jpg" and result["input"]["format"] == "JPEG"
    assert result["input"]["bytes"] == len(data)
    assert result["fake_probability"] == pytest.approx(expected.fake_probability, abs=1e-6)
    assert result["verdict"] == expected.verdict in ("ai-generated", "real", "inconclusive")
    assert tuple(result["crop_box"]) == expected.crop_box
    scores = np.asarray(result["patch_scores"])
    assert scores.shape == (24, 24) and (scores >= 0).all()
    assert scores.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(scores, expected.patch_scores, rtol=1e-7)
    assert result["top_patches"][0]["rank"] == 1 and len(result["top_patches"]) == 10
    assert result["model"]["demo"] is False and result["model"]["source"] == str(detector.model_info.source)
    json.dumps(result)  # JSON all the way down
    assert Image.open(on_input).size == (384, 384)
    assert Image.open(on_original).size == (640, 480)


def test_bad_file_gives_a_clean_error_and_the_server_keeps_serving(client, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_bytes(b"Meeting notes, not a picture.\n" * 20)
    with pytest.raises(AppError, match="is not an image we can read"):
        client.predict(handle_file(str(fake)), api_name="/analyze")

    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(AppError, match="empty"):
        client.predict(handle_file(str(empty)), api_name="/analyze")

    good = tmp_path / "after.png"
    good.write_bytes(encode(make_photo(300, 500)))
    result, _, _ = client.predict(handle_file(str(good)), api_name="/analyze")
    assert result["input"]["width"] == 300 and result["input"]["height"] == 500


def test_only_analyze_is_public(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {"/analyze"}


def test_clicks_on_a_downscaled_original_map_to_original_pixels(detector, tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encode(make_photo(3200, 1800)))
    a = detector.analyze(path)
    assert app.render.display_scale(a.image.size) == 0.5  # shown at 1600x900
    top = a.top_patches(1)[0]
    l, t, r, b = top["box_original"]
    hit = app.patch_at_shown(a, (l + r) / 4, (t + b) / 4)
    assert (hit["row"], hit["col"], hit["rank"]) == (top["row"], top["col"], 1)
    assert app.patch_at_shown(a, 5, 450) is None  # left of the centre crop: never analysed


def test_main_without_weights_says_why_and_exits_nonzero(tmp_path, capsys):
    code = app.main(["--model", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and "--demo" in err and "Traceback" not in err


def test_demo_weights_get_the_banner(detector):
    def page_text(blocks):
        return json.dumps(blocks.get_config_file(), default=str)

    assert "not a forensic result" not in page_text(app.build_app(detector))
    demo = Detector.demo(device="cpu")
    assert "untrained demo weights &mdash; not a forensic result" in page_text(app.build_app(demo))


def test_verdict_card_shows_probability_band_and_provenance(detector, tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(encode(make_photo(800, 400)))
    a = detector.analyze(path)
    card = app.verdict_card(a)
    assert app.percent(a.fake_probability) in card and html.escape(a.verdict_text) in card
    assert "inconclusive 40&ndash;60&nbsp;%" in card and a.input_sha256 in card
    assert "of the image area" in card and "2.7&nbsp;M images from 4,803 generators" in card
    ledger = app.ledger(a)
    assert len(ledger) == 576 and list(ledger["rank"][:3]) == [1, 2, 3]
    assert ledger["score"].is_monotonic_decreasing
