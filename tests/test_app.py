"""The Gradio app over HTTP, as a client sees it: /analyze, clean errors, startup failures; and
the handlers' helpers: method switching without new passes, the deep check's four parts, the
colour scale."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import json
import socket

import gradio as gr
import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import app  # noqa: E402
import webui  # noqa: E402
from conftest import encode, make_photo  # noqa: E402
from forensics import Detector
from forensics import checks
from forensics import render  # noqa: E402
from forensics.explain.rollout import AGREEMENT_THRESHOLD  # noqa: E402
from forensics.model.loading import DEMO_WARNING  # noqa: E402
from webui import cards, session, views  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(detector: Detector):
    """The app for `detector` on a free loopback port, in this process; yields its URL."""
    blocks = webui.build_app(detector)
    blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                  quiet=True, **webui.LAUNCH_OPTIONS)
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
    assert result["metadata"]["generator_hints"] == [] and result["metadata"]["format"] == "JPEG"
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


def test_only_the_api_endpoints_are_public(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert named == {"/analyze", "/analyze_video", "/case_list"}


def test_clicks_on_a_downscaled_original_map_to_original_pixels(detector, tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encode(make_photo(3200, 1800)))
    a = detector.analyze(path)
    assert render.display_scale(a.image.size) == 0.5  # shown at 1600x900
    top = a.top_patches(1)[0]
    l, t, r, b = top["box_original"]
    hit = views.patch_at_shown(a, (l + r) / 4, (t + b) / 4)
    assert (hit["row"], hit["col"], hit["rank"]) == (top["row"], top["col"], 1)
    assert views.patch_at_shown(a, 5, 450) is None  # left of the centre crop: never analysed


def test_main_without_weights_says_why_and_exits_nonzero(tmp_path, capsys):
    code = app.main(["--model", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and "--demo" in err and "Traceback" not in err


def test_demo_weights_get_the_banner(detector):
    def page_text(blocks):
        return json.dumps(blocks.get_config_file(), default=str, ensure_ascii=False)

    assert "not a forensic result" not in page_text(webui.build_app(detector))
    demo = Detector.demo(device="cpu")
    assert html.escape(DEMO_WARNING) in page_text(webui.build_app(demo))


def test_verdict_card_shows_probability_band_and_provenance(detector, tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(encode(make_photo(800, 400)))
    a = detector.analyze(path)
    card = cards.verdict_card(a)
    assert cards.percent(a.fake_probability) in card and html.escape(a.verdict_text) in card
    assert "inconclusive 40&ndash;60&nbsp;%" in card and a.input_sha256 in card
    assert "of the image area" in card and "2.7\u00a0M images from 4,803 generators" in card
    ledger = views.ledger(a)
    assert len(ledger) == 576 and list(ledger["rank"][:3]) == [1, 2, 3]
    assert ledger["score"].is_monotonic_decreasing


def test_analyze_takes_the_method_and_the_deep_check_as_optional_inputs(client, tmp_path):
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/analyze"]["parameters"]
    assert [p["parameter_has_default"] for p in params] == [False, True, True, True, True]
    path = tmp_path / "wide.png"
    path.write_bytes(encode(make_photo(700, 400, seed=8)))

    result, _, _ = client.predict(handle_file(str(path)), "grad-rollout", True, api_name="/analyze")

    assert result["method"]["name"] == "grad-rollout"
    assert 0.0 <= result["method_agreement"] <= 1.0
    assert result["explanation_unstable"] == (result["method_agreement"] < AGREEMENT_THRESHOLD)
    deep = result["deep_check"]
    assert set(deep) >= {"faithfulness", "stability", "coverage", "reliability"}
    assert len(deep["coverage"]["tiles"]) > 1  # a 7:4 image needs more than the centre tile
    assert "robustness" not in result  # only when asked
    json.dumps(result)


def test_the_api_answers_whether_the_verdict_survives_re_encoding(client, tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(make_photo(800, 600, seed=9), "JPEG", quality=95))
    result, _, _ = client.predict(handle_file(str(path)), "attention-rollout", False, True, api_name="/analyze")
    rob = result["robustness"]
    # 800 px: sizes 720 and 512 below it, each with 7 encodings, plus 6 re-encodings at the original size
    assert len(rob["variants"]) == 3 * 7 - 1
    assert {(v["long_edge"], v["quality"]) for v in rob["variants"]} >= {(None, 95), (720, None), (512, 30)}
    assert 0.0 <= rob["holds"] <= 1.0 and rob["summary"]
    assert any("For this image:" in line for line in result["limits"])
    assert result["model_verdict"] in ("ai-generated", "real", "inconclusive") and "verdict_reasons" in result


def test_the_api_runs_the_local_scan_on_request(client, tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(encode(make_photo(800, 600, seed=9)))
    result, _, _ = client.predict(handle_file(str(path)), "attention-rollout", False, False, True, api_name="/analyze")
    scan = result["local_scan"]
    assert len(scan["tiles"]) == 12 and scan["summary"] and scan["stride"] == 192  # 4 x 3 windows, flush
    small = tmp_path / "small.png"
    small.write_bytes(encode(make_photo(300, 200)))
    result, _, _ = client.predict(handle_file(str(small)), "attention-rollout", False, False, True, api_name="/analyze")
    assert "300x200" in result["local_scan"]["refused"]


def analysed(detector, tmp_path, width=640, height=400, seed=5):
    """The image's path and its Analysis, as the page's `run` handler makes it."""
    path = tmp_path / f"photo{width}x{height}.png"
    path.write_bytes(encode(make_photo(width, height, seed=seed)))
    return str(path), detector.analyze(path, keep_attention=True, embeddings=True)


def test_switching_method_back_and_forth_after_grad_rollout_runs_no_new_forward(detector, tmp_path,
                                                                                counted_forwards):
    path, a = analysed(detector, tmp_path)
    assert a.method_agreement is None and "ONE METHOD RUN" in cards.explainer_card(a)
    counted_forwards.clear()

    grad = session.pick_method(detector, a, path, "grad-rollout")  # the one forward + backward
    assert len(counted_forwards) == 1
    assert grad.method == "grad-rollout" and grad.method_agreement is not None
    assert grad.input_sha256 == a.input_sha256
    np.testing.assert_allclose(grad.rollout_scores, a.rollout_scores, rtol=1e-5, atol=1e-9)

    back = session.pick_method(detector, grad, path, "attention-rollout")
    again = session.pick_method(detector, back, path, "grad-rollout")
    fused = again.with_rollout("max", 0.2)                   # the explainer controls: no pass either
    rollout = session.pick_method(detector, fused, path, "attention-rollout")
    for shown in (back, again, fused, rollout):
        cards.verdict_card(shown), cards.explainer_card(shown), views.heatmap_views(shown, 0.5, "inferno")
    assert len(counted_forwards) == 1
    np.testing.assert_array_equal(back.patch_scores, grad.rollout_scores)
    np.testing.assert_array_equal(again.patch_scores, grad.relevance_scores)
    np.testing.assert_array_equal(fused.patch_scores, grad.relevance_scores)  # grad-rollout has no fusion
    np.testing.assert_array_equal(rollout.patch_scores, fused.rollout_scores)
    assert rollout.head_fusion == "max" and rollout.method_agreement == fused.method_agreement
    assert f"agree {grad.method_agreement:.2f}" in cards.verdict_card(grad)

    # The deep check follows the method without re-running what does not depend on it.
    held, deep_grad = session.refresh_deep(detector, again, None)
    runs = len(counted_forwards)
    held, deep_rollout = session.refresh_deep(detector, back, held)
    assert len(counted_forwards) == runs + 1                 # the deletion check's one batch
    assert deep_rollout.stability is deep_grad.stability and deep_rollout.coverage is deep_grad.coverage
    held, kept = session.refresh_deep(detector, again, held)
    held, kept_too = session.refresh_deep(detector, back, held)
    assert len(counted_forwards) == runs + 1 and (kept, kept_too) == (deep_grad, deep_rollout)
    assert session.deep_for(again, held) is deep_grad and session.deep_for(fused, held) is None


def test_explainer_card_flags_an_unstable_explanation(detector, tmp_path):
    path, a = analysed(detector, tmp_path)
    grad = session.pick_method(detector, a, path, "grad-rollout")
    # Relevance on the patches rollout ranks lowest: the two top-10% sets cannot overlap.
    flipped = grad.rollout_scores.max() - grad.rollout_scores
    unstable = dataclasses.replace(grad, method_scores={"grad-rollout": flipped / flipped.sum()}).with_method("grad-rollout")
    assert unstable.explanation_unstable and unstable.method_agreement == 0.0
    card = cards.explainer_card(unstable)
    assert "EXPLANATION UNSTABLE" in card and 'data-unstable="true"' in card and "0.00" in card
    assert "disagree" in cards.verdict_card(unstable)  # Analysis.notes() says so beside the verdict
    same = dataclasses.replace(grad, method_scores={"grad-rollout": grad.rollout_scores})
    assert "METHODS AGREE" in cards.explainer_card(same) and "UNSTABLE" not in cards.explainer_card(same)
    share = f'data-top-share="{a.top_share(0.1):.4f}"'
    assert share in cards.explainer_card(a) and "10&nbsp;% if spread evenly" in cards.explainer_card(a)


def test_deep_check_handler_returns_the_four_parts(detector, tmp_path, counted_forwards):
    path, a = analysed(detector, tmp_path, 900, 400, seed=2)
    steps = []

    class Progress(gr.Progress):  # the handler's gr.Progress, recording instead of sending
        def __call__(self, progress, desc=None, *args, **kwargs):
            steps.append((progress, desc))

    assert not Progress()  # gr.Progress is falsy outside a loop: `if progress:` would skip it
    counted_forwards.clear()
    held, deep = session.refresh_deep(detector, a, None, progress=Progress())
    # deletion + stability + coverage; the reliability mask reuses the kept embeddings
    assert len(counted_forwards) == 3
    assert steps[0][0] == 0.0 and steps[-1] == (1.0, "deep check: done")
    assert session.deep_for(a, held) is deep

    parts = views.deep_views(a, deep, 0.5, "viridis")
    assert list(parts) == ["faithfulness", "stability", "coverage", "reliability"]

    badge, curve = parts["faithfulness"]
    assert ("FAITHFUL" if deep.faithfulness.faithful else "NOT SHOWN FAITHFUL") in badge
    assert f'data-faithful="{str(deep.faithfulness.faithful).lower()}"' in badge
    assert html.escape(deep.faithfulness.summary) in badge
    assert len(curve.axes[0].lines) >= 2  # strongest vs random patches removed

    badge, table = parts["stability"]
    assert ("FRAGILE" if deep.stability.fragile else "STABLE") in badge
    assert html.escape(deep.stability.summary) in badge
    assert list(table.columns) == views.STABILITY_HEADERS
    assert list(table["re-run"]) == ["original", *(p.name for p in deep.stability.perturbations)]

    picture, text = parts["coverage"]
    assert picture.shape == render.overlay_original(a).shape  # the whole original, not the crop
    tiles = deep.coverage.tiles
    assert len(tiles) > 1 and text.count("<tr") == len(tiles) + 1
    assert cards.percent(deep.coverage.probability) in text and cards.percent(a.fake_probability) in text
    assert "centre crop alone" in text

    picture, legend = parts["reliability"]
    assert picture.shape == (384, 384, 3)
    for words in ("grey</b> = flat or clipped", "cyan boxes</b> = high-norm outlier", "dimmed</b> = outside"):
        assert words in legend

    refused = dataclasses.replace(deep, coverage=None, coverage_error="the image is too elongated")
    picture, text = views.deep_views(a, refused, 0.5, "viridis")["coverage"]
    assert picture is None and "COVERAGE NOT RUN" in text and "too elongated" in text

    # Another fusion: every check but the pixel-only reliability mask runs again.
    held, fused = session.refresh_deep(detector, a.with_rollout("min", 0.1), held)
    assert fused is not deep and len(held) == 2


def test_absolute_colour_scale_changes_the_overlays(detector, tmp_path):
    _, a = analysed(detector, tmp_path)
    assert a.patch_scores.max() < render.ABSOLUTE_VMAX  # so the absolute scale is darker, not clipped
    per_image = views.heatmap_views(a, 0.6, "inferno", "image")
    absolute = views.heatmap_views(a, 0.6, "inferno", "absolute")
    for key in ("original", "input"):
        assert per_image[key].shape == absolute[key].shape
        assert not np.array_equal(per_image[key], absolute[key])
    np.testing.assert_array_equal(absolute["input"],
                                  render.overlay_input(a, 0.6, "inferno", vmax=render.ABSOLUTE_VMAX))
    np.testing.assert_array_equal(absolute["compare"][1], absolute["original"])
    clim = [views["grid"].axes[0].images[0].get_clim()[1] for views in (per_image, absolute)]
    assert clim == pytest.approx([100 * a.patch_scores.max(), 100 * render.ABSOLUTE_VMAX])
    assert "absolute scale: full colour = 1% per patch" in cards.explainer_card(a, "absolute")

    deep = checks.deep_check(detector, a)
    masks = [views.deep_views(a, deep, 0.6, "inferno", scale)["reliability"][0] for scale in ("image", "absolute")]
    assert not np.array_equal(*masks)


def test_analyze_video_returns_the_clip_record(client, detector, tmp_path):
    from test_video import write_clip
    clip = tmp_path / "clip.mp4"
    write_clip(clip, frames=30)
    result = client.predict(handle_file(str(clip)), 6, None, api_name="/analyze_video")
    expected = detector.analyze_video(clip, frames=6)
    assert [f["index"] for f in result["frames"]] == [f.index for f in expected.frames]
    assert result["verdict"] == expected.verdict
    assert result["frames"][0]["fake_probability"] == pytest.approx(expected.frames[0].fake_probability, abs=1e-6)
    with pytest.raises(AppError, match="(?i)video|decod|frame"):
        fake = tmp_path / "fake.mp4"
        fake.write_text("no")
        client.predict(handle_file(str(fake)), 6, None, api_name="/analyze_video")
