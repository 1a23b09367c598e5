"""Forensic explanations for the Community Forensics AI-image detector.

    from forensics import Detector
    det = Detector.from_pretrained()          # pinned hub weights, or a local folder
    a = det.analyze("photo.jpg")
    a.fake_probability, a.verdict, a.patch_scores, a.crop_box

The package by capability, imports one way (pyproject.toml's layers contract): `core`,
`inputs`, `model`, `explain`, `analysis`, `report`, `evaluation`, `batch` and `scale`, `cases`,
`cli`. This module is the face: the names below are the public surface.
"""
from ._version import __version__
from .analysis.detector import Analysis, Detector
from .analysis.faces import find_faces
from .analysis.video import VideoAnalysis
from .core.errors import InputError, ModelUnavailableError
from .explain import checks, classic
from .inputs import metadata

__all__ = ["Analysis", "Detector", "InputError", "ModelUnavailableError", "VideoAnalysis", "checks", "classic",
           "find_faces", "metadata", "render", "report", "__version__"]


def __getattr__(name: str):
    # The exports and their drawing (matplotlib) load on first use, not with `import forensics`.
    if name in ("report", "render"):
        import importlib
        report = importlib.import_module(".report", __name__)
        return report if name == "report" else report.render
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
