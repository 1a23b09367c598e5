"""Forensic explanations for the Community Forensics AI-image detector.

    from forensics import Detector
    det = Detector.from_pretrained()          # pinned hub weights, or a local folder
    a = det.analyze("photo.jpg")
    a.fake_probability, a.verdict, a.patch_scores, a.crop_box

The package by capability, imports one way (pyproject.toml's layers contract, top to bottom):
`cli`, `cases`, `batch` | `scale`, `evaluation`, `report`, `analysis`, `explain`, `model`,
`inputs`, `core`. This module is the face: the web page and scripts use the names below.
"""
from ._version import __version__
from .analysis.detector import Detector
from .analysis.faces import analyze_faces, find_faces
from .analysis.result import Analysis
from .analysis.video import VideoAnalysis, VideoLimits
from .core.errors import InputError, ModelUnavailableError
from .core.preprocess import GRID, INPUT_SIZE, PATCH_SIZE
from .core.verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD, verdict_for
from .explain import checks, classic
from .explain import registry as methods
from .explain.rollout import AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION, HEAD_FUSIONS
from .inputs import metadata
from .inputs.video import VIDEO_EXTENSIONS
from .model.loading import DEMO_WARNING
from .model.spec import DEFAULT_SPEC as MODEL_SPEC
from .model.spec import ModelSpec

__all__ = [
    "Analysis", "Detector", "InputError", "ModelUnavailableError", "VideoAnalysis", "VideoLimits", "analyze_faces",
    "find_faces", "checks", "classic", "metadata", "methods", "render", "report", "MODEL_SPEC", "ModelSpec",
    "DEMO_WARNING", "HEAD_FUSIONS", "AGREEMENT_THRESHOLD", "AGREEMENT_TOP_FRACTION", "GRID", "INPUT_SIZE",
    "PATCH_SIZE", "THRESHOLD", "DEFAULT_INCONCLUSIVE_MARGIN", "verdict_for", "VIDEO_EXTENSIONS", "__version__",
]


def __getattr__(name: str):
    # The exports and their drawing (matplotlib) load on first use, not with `import forensics`.
    if name in ("report", "render"):
        import importlib
        report = importlib.import_module(".report", __name__)
        return report if name == "report" else report.render
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
