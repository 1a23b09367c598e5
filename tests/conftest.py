import pytest

from forensics import Detector
from model_factory import build_model, save_checkpoint, tiny_config
from forensics.model.loading import vit_small_config
from helpers import TOOL_MARKERS, encode, make_photo, missing_tool_reason  # noqa: F401  (re-exported)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A 3-block, 32-wide ViT with the real 24x24 grid, saved in the current tensor layout."""
    return save_checkpoint(build_model(tiny_config()), tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_legacy_dir(tmp_path_factory):
    """The same tiny weights saved with the legacy tensor names."""
    return save_checkpoint(build_model(tiny_config()), tmp_path_factory.mktemp("tiny_legacy"), legacy=True)


@pytest.fixture(scope="session")
def vit_small_dir(tmp_path_factory):
    """The exact ViT-S/16-384 one-logit architecture of the real checkpoint, random weights."""
    return save_checkpoint(build_model(vit_small_config(), seed=1), tmp_path_factory.mktemp("vits"), legacy=True)


@pytest.fixture(scope="session")
def tiny_detector(tiny_model_dir):
    return Detector.from_pretrained(tiny_model_dir, device="cpu")


@pytest.fixture(scope="session")
def texture_detector(tmp_path_factory):
    """A detector that really fires: a tiny ViT whose head was fitted on its final CLS to a planted
    one-pixel checkerboard (tests/texture_detector.py). Calls `plant_texture(...)` pictures seen at
    native scale "ai-generated" (P ~ 1) and clean ones "real" (P < 0.05)."""
    from texture_detector import build_texture_checkpoint
    return Detector.from_pretrained(build_texture_checkpoint(tmp_path_factory.mktemp("texture")), device="cpu")


@pytest.fixture
def photo():
    return make_photo


@pytest.fixture
def counted_forwards(monkeypatch):
    """Every model forward pass (the package's and the checks') appends to the returned list.

    A CPU batch is kept in one part here (tests/test_cpu_parts.py covers the parts), so the
    count is one pass per batch whatever the machine's core count."""
    import forensics.model.capture
    from forensics.analysis.cpu_parts import CpuParts
    monkeypatch.setattr(CpuParts, "split", lambda self, n: [slice(0, n)])
    calls = []
    real_forward = forensics.model.capture.forward
    monkeypatch.setattr(forensics.model.capture, "forward", lambda *a, **k: calls.append(1) or real_forward(*a, **k))
    return calls


def pytest_runtest_setup(item):
    """The one skip policy for missing system tools: see tests/helpers.py."""
    for marker in TOOL_MARKERS:
        if item.get_closest_marker(marker) is not None:
            reason = missing_tool_reason(marker)
            if reason:
                pytest.skip(reason)


# Tests that take over ~3 s on the 2-core CPU (`--durations=15`, measured without other load),
# left out of the fast loop `python -m pytest -m "not slow and not browser"`; CI runs everything.
# Marked here, by node id or by the costly fixture they use, for test files that do not mark them
# in place; prefer `@pytest.mark.slow` on the test itself.
SLOW = {
    "test_cli.py::test_help_in_a_subprocess",                   # ~5 s: a fresh interpreter imports torch
    "test_cli.py::test_deep_check_run_writes_every_check",      # ~3.5 s: its fixture runs the deep check CLI
    "test_hostile.py::test_odd_but_legal_file_analysed[large legal 8000x6000]",  # ~4.5 s: decodes 48 MP
}
SLOW_FIXTURES = {
    "ray_cluster",  # ~14 s to start a local Ray cluster (tests/test_scale.py)
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.rsplit("/", 1)[-1] in SLOW or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
