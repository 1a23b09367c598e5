"""Rollout against a slow textbook implementation on transformers' own eager attentions."""
import numpy as np
import pytest
import torch
from transformers import ViTForImageClassification

from conftest import make_photo
from forensics.explain.rollout import HEAD_FUSIONS, attention_rollout, discard_weakest, fuse_heads, head_fuser
from forensics.model import capture


def textbook_rollout(attentions, fusion="mean", discard_ratio=0.0):
    """Full 577x577 float64 matrices, one block at a time, exactly as written in the docstring of forensics/explain.py."""
    t = attentions[0].shape[-1]
    result = np.eye(t)
    for att in attentions:  # block 1 first; att: (heads, T, T)
        att = att.astype(np.float64)
        w = {"mean": att.mean(0), "max": att.max(0), "min": att.min(0)}[fusion].copy()
        if discard_ratio:
            body = w[:, 1:].ravel()  # never the attention paid to CLS (column 0)
            k = int(discard_ratio * body.size)
            body[np.argsort(body, kind="stable")[:k]] = 0.0
            w[:, 1:] = body.reshape(t, t - 1)
        a = 0.5 * w + 0.5 * np.eye(t)
        a = a / a.sum(axis=1, keepdims=True)
        result = a @ result  # Rollout = A_L ... A_1
    row = result[0, 1:]
    return (row / row.sum()).reshape(24, 24)


@pytest.fixture(scope="module")
def eager_attentions(tiny_model_dir, tiny_detector):
    model = ViTForImageClassification.from_pretrained(tiny_model_dir, attn_implementation="eager").eval()
    pixels = tiny_detector.preprocess(make_photo(520, 390, seed=7))
    with torch.no_grad():
        out = model(pixels, output_attentions=True)
    return [a[0].numpy() for a in out.attentions], float(out.logits[0, 0]), pixels


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.5, 0.9])
def test_rollout_matches_textbook(tiny_detector, eager_attentions, fusion, discard_ratio):
    attentions, _, _ = eager_attentions
    a = tiny_detector.analyze(make_photo(520, 390, seed=7), head_fusion=fusion, discard_ratio=discard_ratio)
    expected = textbook_rollout(attentions, fusion, discard_ratio)
    assert a.patch_scores.shape == (24, 24)
    assert a.patch_scores.min() >= 0 and a.patch_scores.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(a.patch_scores, expected, rtol=2e-4, atol=1e-7)


def test_fused_maps_one_head_at_a_time_equal_the_whole_maps(tiny_detector, eager_attentions):
    """The CPU forward folds one head at a time into the fused maps: the same maps as fusing
    transformers' per-head attentions, for every fusion and every block."""
    attentions, _, pixels = eager_attentions
    kept = capture.forward(tiny_detector.model, pixels, fuse=head_fuser(HEAD_FUSIONS)).attention
    for fusion in HEAD_FUSIONS:
        for block, per_head in enumerate(attentions):
            expected = fuse_heads(torch.from_numpy(per_head)[None], fusion)[0].numpy()
            np.testing.assert_allclose(kept[fusion][0, block].numpy(), expected, rtol=1e-5, atol=1e-7)


def test_a_fuser_that_cannot_fold_gets_the_same_maps_from_the_whole_batch(tiny_detector, eager_attentions):
    """The other path (a GPU, or a fuser without `fold`): whole (B, heads, T, T) maps, fused and
    kept block by block, give the same maps as the one-head-at-a-time CPU path."""
    _, _, pixels = eager_attentions
    fuser = head_fuser(HEAD_FUSIONS)
    whole = capture.forward(tiny_detector.model, pixels, fuse=lambda probs: fuser(probs)).attention
    folded = capture.forward(tiny_detector.model, pixels, fuse=fuser).attention
    for fusion in HEAD_FUSIONS:
        np.testing.assert_allclose(whole[fusion].numpy(), folded[fusion].numpy(), rtol=1e-5, atol=1e-7)


def test_rollout_is_not_uniform(tiny_detector):
    # The fixture model has sharpened attention: rollout must find structure, or the test above is weak.
    a = tiny_detector.analyze(make_photo(520, 390, seed=7))
    assert a.patch_scores.max() > 1.2 / 576 and a.patch_scores.max() > 1.2 * a.patch_scores.min()


def test_verdict_logit_matches_plain_classification(tiny_detector, eager_attentions):
    _, eager_logit, _ = eager_attentions
    a = tiny_detector.analyze(make_photo(520, 390, seed=7))
    assert a.logit == pytest.approx(eager_logit, abs=1e-4)
    assert a.fake_probability == pytest.approx(1 / (1 + np.exp(-eager_logit)), abs=1e-5)


def test_one_forward_per_analysis_and_none_to_rerender(tiny_detector):
    calls = []
    hook = tiny_detector.model.vit.embeddings.register_forward_hook(lambda *a: calls.append(1))
    try:
        a = tiny_detector.analyze(make_photo(300, 300), keep_attention=True)
        assert len(calls) == 1
        b = a.with_rollout("max", 0.3)
        c = a.with_rollout("mean", 0.0)
        assert len(calls) == 1
    finally:
        hook.remove()
    assert b.head_fusion == "max" and b.discard_ratio == 0.3
    assert not np.allclose(b.patch_scores, a.patch_scores)
    np.testing.assert_array_equal(c.patch_scores, a.patch_scores)
    assert b.fake_probability == a.fake_probability


def test_with_rollout_needs_kept_attention(tiny_detector):
    a = tiny_detector.analyze(make_photo(300, 300))
    with pytest.raises(ValueError, match="keep_attention"):
        a.with_rollout("max")


def test_bad_explainer_settings(tiny_detector):
    with pytest.raises(ValueError, match="head_fusion"):
        tiny_detector.analyze(make_photo(50, 50), head_fusion="median")
    with pytest.raises(ValueError, match="discard_ratio"):
        tiny_detector.analyze(make_photo(50, 50), discard_ratio=1.0)


def test_discard_never_touches_cls_column():
    w = torch.rand(1, 5, 5)
    out = discard_weakest(w, 0.99)
    torch.testing.assert_close(out[:, :, 0], w[:, :, 0])
    assert int((out[:, :, 1:] == 0).sum()) == int(0.99 * 20)


def test_batch_equals_single(tiny_detector):
    imgs = [make_photo(300 + 40 * i, 280, seed=i) for i in range(3)]
    batch = tiny_detector.analyze_batch(imgs)
    for img, b in zip(imgs, batch):
        s = tiny_detector.analyze(img)
        assert b.logit == pytest.approx(s.logit, abs=1e-4)
        np.testing.assert_allclose(b.patch_scores, s.patch_scores, rtol=1e-4, atol=1e-8)


def test_identity_attention_never_reaches_the_patches():
    # Every token attends only to itself: the CLS row never reaches the patches, so no patch
    # gets any share (all zero, not a division by zero).
    eye = torch.eye(577).expand(1, 3, 577, 577).clone()  # (B, L, T, T)
    scores = attention_rollout(eye)
    assert scores.shape == (1, 24, 24)
    np.testing.assert_array_equal(scores, 0.0)


def test_uniform_attention_gives_uniform_scores():
    # Every token attends to every token equally (and the residual adds the same to each patch):
    # no patch can be preferred, so each gets exactly 1/576 of the flow.
    flat = torch.full((1, 3, 577, 577), 1 / 577)  # (B, L, T, T)
    scores = attention_rollout(flat)[0]
    np.testing.assert_allclose(scores, 1 / 576, rtol=1e-6)
    assert scores.max() - scores.min() < 1e-9


def test_embeddings_from_the_same_forward(tiny_detector):
    a = tiny_detector.analyze(make_photo(400, 400), embeddings=True)
    assert a.cls_embedding.shape == (32,) and a.patch_embeddings.shape == (576, 32)
    # The verdict is the classifier applied to the CLS embedding.
    w = tiny_detector.model.classifier.weight.detach().numpy()[0]
    b = float(tiny_detector.model.classifier.bias)
    assert float(a.cls_embedding @ w + b) == pytest.approx(a.logit, abs=1e-4)


def test_embedding_is_the_reference_models_final_cls(tiny_model_dir, tiny_detector):
    """`Analysis.embedding` (always kept, no flag) is stock transformers' final layer-normed CLS."""
    images = [make_photo(400, 300, seed=s) for s in (1, 2)]
    analyses = tiny_detector.analyze_batch(images)
    reference = ViTForImageClassification.from_pretrained(tiny_model_dir, attn_implementation="eager").eval()
    for img, a in zip(images, analyses):
        assert a.embedding.dtype == np.float32 and a.embedding.shape == (32,)
        assert a.patch_embeddings is None  # only the CLS is kept unless asked
        with torch.no_grad():
            expected = reference.vit(tiny_detector.preprocess(img)).last_hidden_state[0, 0].numpy()
        np.testing.assert_allclose(a.embedding, expected, atol=1e-5, rtol=0)
    assert not np.allclose(analyses[0].embedding, analyses[1].embedding)  # it depends on the picture


# -- grad-rollout (Chefer et al. 2021) against a slow reference ---------------------------------

def textbook_grad_rollout(model_dir, pixels):
    """transformers' eager attentions with autograd; full 577x577 float64 products R <- R + A R."""
    model = ViTForImageClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    out = model(pixels, output_attentions=True)
    for att in out.attentions:
        att.retain_grad()
    out.logits[0, 0].backward()
    t = out.attentions[0].shape[-1]
    r = np.eye(t)
    for att in out.attentions:
        cam = (att.grad[0] * att[0]).detach().double().numpy().clip(min=0).mean(0)
        r = r + cam @ r
    row = r[0, 1:]
    return (row / row.sum()).reshape(24, 24), float(out.logits[0, 0])


def test_grad_rollout_matches_reference(tiny_model_dir, tiny_detector):
    img = make_photo(520, 390, seed=7)
    expected, logit = textbook_grad_rollout(tiny_model_dir, tiny_detector.preprocess(img))
    a = tiny_detector.analyze(img, method="grad-rollout")
    assert a.method == "grad-rollout" and a.logit == pytest.approx(logit, abs=1e-4)
    np.testing.assert_allclose(a.patch_scores, expected, rtol=2e-4, atol=1e-7)
    assert not np.allclose(a.patch_scores, a.rollout_scores)  # a different explanation


def test_method_agreement_and_switching(tiny_detector):
    a = tiny_detector.analyze(make_photo(400, 300), method="grad-rollout")
    assert 0.0 <= a.method_agreement <= 1.0
    same = a.with_method("grad-rollout")
    assert same.method_agreement == a.method_agreement
    b = a.with_method("attention-rollout")
    np.testing.assert_array_equal(b.patch_scores, a.rollout_scores)
    assert tiny_detector.analyze(make_photo(400, 300)).method_agreement is None
    with pytest.raises(ValueError, match="grad-rollout"):
        tiny_detector.analyze(make_photo(400, 300)).with_method("grad-rollout")


def test_top_patch_iou():
    from forensics.explain.rollout import top_patch_iou
    a = np.arange(576, dtype=float).reshape(24, 24)
    assert top_patch_iou(a, a) == 1.0
    assert top_patch_iou(a, -a) == 0.0
