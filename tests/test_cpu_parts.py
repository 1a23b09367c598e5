"""A CPU batch analysed in parts side by side (forensics/analysis/cpu_parts.py): the same
analyses, in the same order, each part on its own thread with its share of torch's threads."""
import threading

import numpy as np
import pytest
import torch

from forensics.analysis.cpu_parts import CpuParts
from forensics.core.errors import InputError
from forensics.inputs.images import load_image
from helpers import hang_guard, make_photo


@pytest.mark.parametrize("n, parts, sizes", [(8, 2, [4, 4]), (7, 2, [3, 4]), (1, 2, [1]), (5, 3, [1, 2, 2]),
                                             (3, 4, [1, 1, 1]), (0, 2, [0]), (6, 1, [6])])
def test_parts_cover_the_batch_in_order(n, parts, sizes):
    slices = CpuParts(parts).split(n)
    assert [s.stop - s.start for s in slices] == sizes
    assert slices[0].start == 0 and slices[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(slices, slices[1:]))


def test_each_part_runs_on_its_own_thread_with_its_share_of_threads():
    parts = CpuParts(2)
    seen = []

    def analyse(items, regions):
        seen.append((threading.current_thread().name, torch.get_num_threads(), list(items)))
        return [x * 10 for x in items]

    before = torch.get_num_threads()
    assert parts.map(analyse, [1, 2, 3, 4, 5], [None] * 5) == [10, 20, 30, 40, 50]
    assert sorted(items for _, _, items in seen) == [[1, 2], [3, 4, 5]]
    assert all(name.startswith("analyse-part") and threads == parts.threads_each for name, threads, _ in seen)
    assert torch.get_num_threads() == before  # the caller's own setting is left alone
    seen.clear()
    assert parts.map(analyse, [7], [None]) == [70]  # one item: no split, on the caller's thread
    assert seen[0][0] == threading.current_thread().name


def test_a_batch_in_parts_gives_the_analyses_of_one_pass(tiny_detector, monkeypatch):
    images = [make_photo(300 + 40 * i, 260, seed=i) for i in range(5)]
    names = [f"img{i}.png" for i in range(5)]
    monkeypatch.setattr(tiny_detector, "cpu_parts", CpuParts(2))
    split = tiny_detector.analyze_batch(images, names=names, embeddings=True)
    monkeypatch.setattr(tiny_detector, "cpu_parts", CpuParts(1))
    whole = tiny_detector.analyze_batch(images, names=names, embeddings=True)
    assert [a.input.name for a in split] == names  # in the caller's order
    for a, b in zip(split, whole):
        assert a.geometry == b.geometry and a.verdict == b.verdict
        assert a.logit == pytest.approx(b.logit, abs=1e-5)
        np.testing.assert_allclose(a.patch_scores, b.patch_scores, atol=1e-6)
        np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-5)
        np.testing.assert_allclose(a.patch_embeddings, b.patch_embeddings, atol=1e-5)


def test_a_bad_region_in_a_later_part_is_still_reported(tiny_detector, monkeypatch):
    monkeypatch.setattr(tiny_detector, "cpu_parts", CpuParts(2))
    decoded = [load_image(make_photo(400, 300, seed=i)) for i in range(4)]
    with pytest.raises(InputError):
        tiny_detector.analyze_decoded(decoded, regions=[None, None, None, (390, 290, 395, 295)])



def test_a_batch_inside_a_part_is_not_split_again():
    """A part that analyses a batch of its own runs it in place: it never waits on the pool it
    runs in (which would hang once every thread of the pool waits)."""
    parts = CpuParts(2)

    def analyse(items, regions):
        return [parts.map(lambda inner, _: [threading.current_thread().name] * len(inner), [x, x], [None, None])
                for x in items]

    with hang_guard():
        names = parts.map(analyse, [1, 2, 3, 4], [None] * 4)
    assert len(names) == 4 and all(len(set(pair)) == 1 for pair in names)
