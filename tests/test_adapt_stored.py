"""`forensics adapt --case` reads the embeddings and logits the store kept with the items (no forward
pass) when this detector's extractor made them, analyses the files of the others, and says in
adapt.json how many came from where; both ways fit the same probe."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sqlalchemy import text

from forensics.cases import CaseStore
from forensics.cli.main import main
from test_probe import write_set

CASES = (("north", range(0, 5)), ("south", range(5, 10)))   # 5 scenes x 3 variants x 2 classes per case


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, tiny_detector):
    """Two cases of 30 marked items each, analysed (embeddings kept) by the tiny detector."""
    root = tmp_path_factory.mktemp("adapt_stored")
    with CaseStore.open(root / "store") as store:
        for case, scenes in CASES:
            files = write_set(root / case, scenes=scenes)
            store.create_case(case, owner="alice")
            for truth in ("real", "ai"):
                for item_id, _, error in store.add_files(case, [str(files / truth)], tiny_detector,
                                                         user="alice").added:
                    assert error is None
                    store.mark(case, item_id, "alice", truth=truth)
    return root / "store"


class ForwardCount:
    """Counts forward passes of any torch module while active (a global forward hook)."""

    def __enter__(self):
        self.calls = 0
        self._handle = torch.nn.modules.module.register_module_forward_hook(self._count)
        return self

    def _count(self, module, args, output):
        self.calls += 1

    def __exit__(self, *exc):
        self._handle.remove()


def adapt(store_dir, model_dir, out, *extra):
    with ForwardCount() as forwards:
        assert main(["adapt", "--case", "north", "--case", "south", "--store", str(store_dir), "--user", "alice",
                     "--out", str(out), "--model", str(model_dir), *extra]) == 0
    summary = json.loads((out / "adapt.json").read_text())
    return summary, forwards.calls


def fitted(out) -> tuple[np.ndarray, dict]:
    probe = json.loads((out / "probe.json").read_text())
    calibration = json.loads((out / "calibration.json").read_text())
    return np.array(probe["coefficients"] + [probe["intercept"]]), calibration


@pytest.mark.slow  # ~10 s: 60 items through the store, then three fits
def test_adapt_case_reads_stored_embeddings_and_falls_back_for_the_rest(store_dir, tiny_model_dir, tmp_path):
    summary, calls = adapt(store_dir, tiny_model_dir, tmp_path / "stored")
    assert calls == 0                                               # not one forward pass
    assert summary["counts"]["embeddings"]["stored"] == 60 and summary["counts"]["embeddings"]["analysed"] == 0
    assert summary["counts"]["items"] == 60 and summary["trained_on"]["groups"] == ["north", "south"]
    plan = summary["validation"]["fold_plan"]
    assert plan["n_folds"] == 2 and "same group (sub-folder)" in plan["kept_together"]
    assert plan["near_duplicate_pairs"] >= 20   # the store's groups link each scene's three variants

    # south as if filed before embeddings were kept: its items are analysed from their files
    with CaseStore.open(store_dir) as store, store.engine.begin() as conn:
        south = conn.execute(text("SELECT id FROM cases WHERE name = 'south'")).scalar()
        kept = conn.execute(text("SELECT id, embedding, extractor FROM items WHERE case_id = :c"), {"c": south}).all()
        conn.execute(text("UPDATE items SET embedding = NULL, extractor = NULL WHERE case_id = :c"), {"c": south})
    try:
        mixed, calls = adapt(store_dir, tiny_model_dir, tmp_path / "mixed")
    finally:
        with CaseStore.open(store_dir) as store, store.engine.begin() as conn:
            for r in kept:
                conn.execute(text("UPDATE items SET embedding = :e, extractor = :x WHERE id = :i"),
                             {"e": r.embedding, "x": r.extractor, "i": r.id})
    assert calls > 0
    assert mixed["counts"]["embeddings"]["stored"] == 30 and mixed["counts"]["embeddings"]["analysed"] == 30

    # another transform is another extractor: nothing stored is read
    other, calls = adapt(store_dir, tiny_model_dir, tmp_path / "hub", "--preprocessing", "hub")
    assert calls > 0
    assert other["counts"]["embeddings"]["stored"] == 0 and other["counts"]["embeddings"]["analysed"] == 60

    # stored or analysed, the same embeddings and logits: the probe and the recalibration agree
    weights, calibration = fitted(tmp_path / "stored")
    weights_mixed, calibration_mixed = fitted(tmp_path / "mixed")
    np.testing.assert_allclose(weights_mixed, weights, rtol=1e-3, atol=1e-3 * np.abs(weights).max())
    for key in ("slope", "intercept"):
        assert calibration_mixed["parameters"][key] == pytest.approx(calibration["parameters"][key], rel=1e-4)
    assert not np.allclose(fitted(tmp_path / "hub")[0], weights, rtol=1e-3)   # the check can tell them apart


def test_a_case_without_marked_items_is_refused_before_any_model_load(tmp_path, capsys):
    with CaseStore.open(tmp_path / "store") as store:
        store.create_case("empty", owner="alice")
    assert main(["adapt", "--case", "empty", "--store", str(tmp_path / "store"), "--user", "alice",
                 "--out", str(tmp_path / "o"), "--model", str(tmp_path / "no-such-model")]) == 1
    assert "case(s) empty has no items with a known truth" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
