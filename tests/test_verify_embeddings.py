"""`verify` covers the stored embeddings: each must match the SHA-256 its "analysed" audit entry
filed; an item filed before embeddings were kept (no embedding, no hash in its entry) is fine."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sqlalchemy import text

from cases_helpers import image_bytes, scene
from forensics.cases import CaseStore, memory


class WithoutEmbeddings:
    """The detector as before 0004: its analyses carry no embedding."""

    def __init__(self, detector):
        self._detector = detector

    def __getattr__(self, name):
        return getattr(self._detector, name)

    def analyze_decoded(self, *args, **kwargs):
        return [dataclasses.replace(a, embedding=None) for a in self._detector.analyze_decoded(*args, **kwargs)]


@pytest.fixture
def store(tmp_path, tiny_detector):
    """alice's case A with three analysed scenes (their embeddings kept)."""
    s = CaseStore.open(tmp_path / "store")
    s.create_case("A", "alice")
    folder = tmp_path / "a"
    folder.mkdir()
    for k in range(3):
        (folder / f"scene{k}.png").write_bytes(image_bytes(scene(k)))
    s.add_files("A", [folder], tiny_detector, "alice")
    yield s
    s.close()


def ids(store) -> list[int]:
    return [i.id for i in store.items("A", "alice", seen_before=False)]


def embedding(store, item_id: int):
    with store.engine.begin() as conn:
        return conn.execute(text("SELECT embedding FROM items WHERE id = :i"), {"i": item_id}).scalar()


def set_embedding(store, item_id: int, data) -> None:
    with store.engine.begin() as conn:   # behind the store's back, as a tamperer would
        conn.execute(text("UPDATE items SET embedding = :e WHERE id = :i"), {"e": data, "i": item_id})


def test_untouched_embeddings_verify_clean(store):
    result = store.verify("A", "alice")
    assert result.ok, result.problems
    assert all(embedding(store, i) is not None for i in ids(store))


def test_a_changed_embedding_is_reported_for_its_item_only(store):
    _, second, _ = ids(store)
    vector = memory.embedding_from(embedding(store, second)).copy()
    vector[7] += 1e-3                      # one float of 384 nudged
    set_embedding(store, second, memory.embedding_bytes(vector))
    problems = store.verify("A", "alice").problems
    assert [p.item for p in problems] == [second]
    assert "stored embedding was changed" in problems[0].message and "scene1.png" in problems[0].message


def test_a_removed_embedding_is_reported(store):
    first, *_ = ids(store)
    set_embedding(store, first, None)
    (problem,) = store.verify("A", "alice").problems
    assert problem.item == first and "embedding is gone" in problem.message


def test_items_filed_without_embeddings_verify_clean_until_one_is_slipped_in(store, tiny_detector, tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "scene7.png").write_bytes(image_bytes(scene(7)))
    store.add_files("A", [folder], WithoutEmbeddings(tiny_detector), "alice")
    old = ids(store)[-1]
    assert embedding(store, old) is None
    entry = [e for e in store.audit_log("A", "alice") if e["action"] == "analysed" and e["item"] == old]
    assert entry and "embedding_sha256" not in entry[0]["payload"]
    assert store.verify("A", "alice").ok                    # filed before embeddings were kept: fine
    set_embedding(store, old, memory.embedding_bytes(np.ones(384, dtype=np.float32)))
    (problem,) = store.verify("A", "alice").problems
    assert problem.item == old and "audit log has none for it" in problem.message
