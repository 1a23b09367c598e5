"""Folds for the out-of-fold likelihood ratios, so that a near-copy never validates itself.

A fold unit is a connected component of these links between scored images:
  - the same file (sha256);
  - near-duplicates: pHash and dHash both within 12 of 64 bits (the rule and thresholds of
    cases/duplicates.py, measured there: resized, re-encoded and lightly cropped copies);
  - the same group (a sub-folder: one camera, one generator), when every class has at least two
    groups; otherwise holding a whole class out would leave nothing of it to fit on, and only the
    first two links are kept (the plan says so).
Units are dealt into at most `likelihood.MAX_FOLDS` folds by scikit-learn's StratifiedGroupKFold
(seeded), which keeps each fold's class mix near the whole sample's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import imagehash
import numpy as np
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..core.likelihood import MAX_FOLDS

PHASH_BITS = 12   # as cases/duplicates.py: copies differ by 0-12 bits, different scenes by 20 or more
DHASH_BITS = 12
CHUNK = 512       # rows compared at once: CHUNK x n uint64 in memory


def perceptual_hashes(image: Image.Image) -> tuple[int, int]:
    """(pHash, dHash) of an RGB picture as 64-bit integers (as cases/duplicates.hashes)."""
    small = image.copy()
    small.thumbnail((512, 512))  # both hashes shrink to <= 32 px; this saves the work on large photos
    return int(str(imagehash.phash(small)), 16), int(str(imagehash.dhash(small)), 16)


def near_duplicate_pairs(phashes, dhashes) -> np.ndarray:
    """(k, 2) index pairs i < j whose pHash and dHash are both within the thresholds."""
    ph = np.asarray(phashes, dtype=np.uint64)
    dh = np.asarray(dhashes, dtype=np.uint64)
    pairs = []
    for start in range(0, len(ph), CHUNK):
        block = slice(start, start + CHUNK)
        near = ((np.bitwise_count(ph[block, None] ^ ph[None, :]) <= PHASH_BITS)
                & (np.bitwise_count(dh[block, None] ^ dh[None, :]) <= DHASH_BITS))  # (chunk, n)
        i, j = np.nonzero(near)
        i += start
        pairs.append(np.stack([i, j], 1)[i < j])
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=int)


@dataclass(frozen=True)
class FoldPlan:
    folds: np.ndarray              # (n,) fold number 1..k per row; 0 when no plan was possible
    n_folds: int
    by_group: bool                 # groups (sub-folders) were kept whole
    units: int                     # connected components dealt into folds
    near_duplicate_pairs: int
    same_file_pairs: int
    notes: list = field(default_factory=list)

    def describe(self) -> dict:
        return {"n_folds": self.n_folds, "kept_together": ["same file (sha256)", "near-duplicates (pHash and "
                f"dHash within {PHASH_BITS} and {DHASH_BITS} bits)"] + (["same group (sub-folder)"] if self.by_group
                                                                      else []),
                "units": self.units, "near_duplicate_pairs": self.near_duplicate_pairs,
                "same_file_pairs": self.same_file_pairs, "splitter": "sklearn StratifiedGroupKFold, shuffled, seeded",
                "notes": list(self.notes)}


def _components(n: int, pairs: list[np.ndarray]) -> np.ndarray:
    edges = np.concatenate([p for p in pairs if len(p)]) if any(len(p) for p in pairs) else np.empty((0, 2), int)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _chain(keys) -> np.ndarray:
    """Pairs linking each row to the previous row with the same key: enough for the components."""
    last, pairs = {}, []
    for i, k in enumerate(keys):
        if k in last:
            pairs.append((last[k], i))
        last[k] = i
    return np.array(pairs, dtype=int).reshape(-1, 2)


def _deal(labels: np.ndarray, units: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
    """Fold numbers 1..k from StratifiedGroupKFold; k = 0 when fewer than two folds are possible or a
    training side would lack a class."""
    from sklearn.model_selection import StratifiedGroupKFold
    per_class = min(len(set(units[labels == c].tolist())) for c in (0, 1))
    k = min(MAX_FOLDS, per_class)
    if k < 2:
        return np.zeros(len(labels), dtype=int), 0
    folds = np.zeros(len(labels), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels, units), 1):
        folds[test] = f
    for f in range(1, k + 1):
        train = labels[folds != f]
        if train.min() == train.max():
            return np.zeros(len(labels), dtype=int), 0
    return folds, k


def plan(labels, groups, sha256s, phashes, dhashes, seed: int = 0) -> FoldPlan:
    """Fold numbers for scored rows (labels 1 = AI), keeping copies, and groups where possible, together."""
    y = np.asarray(labels, dtype=int)
    n = len(y)
    if n == 0 or y.min() == y.max():
        return FoldPlan(np.zeros(n, dtype=int), 0, False, 0, 0, 0, ["folds need both classes"])
    near = near_duplicate_pairs(phashes, dhashes) if n else np.empty((0, 2), int)
    same = _chain(sha256s)
    notes = []
    groups_per_class = [len({g for g, lab in zip(groups, y) if lab == c}) for c in (0, 1)]
    by_group = min(groups_per_class) >= 2
    if by_group:
        units = _components(n, [near, same, _chain(groups)])
        folds, k = _deal(y, units, seed)
        if not k:
            by_group = False
            notes.append("the groups (sub-folders) could not be kept whole: joined by near-duplicates they leave "
                         "fewer than two units of a class, or a fold without a class to fit on; folds keep only "
                         "copies and near-duplicates together")
    else:
        notes.append(f"the groups (sub-folders) were not kept whole: {groups_per_class[0]} real and "
                     f"{groups_per_class[1]} AI-generated group(s), and keeping them whole needs at least two of "
                     "each; folds keep copies and near-duplicates together")
    if not by_group:
        units = _components(n, [near, same])
        folds, k = _deal(y, units, seed)
    return FoldPlan(folds, k, by_group, len(set(units.tolist())), len(near), len(same), notes)
