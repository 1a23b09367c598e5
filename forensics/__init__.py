"""Forensic explanations for the Community Forensics AI-image detector.

    from forensics import Detector
    det = Detector.from_pretrained()          # pinned hub weights, or a local folder
    a = det.analyze("photo.jpg")
    a.fake_probability, a.verdict, a.patch_scores, a.crop_box
"""
__version__ = "0.1.0"  # before the imports: submodules read it

from .analysis import Analysis, Detector  # noqa: E402
from .inputs import InputError  # noqa: E402
from .faces import find_faces  # noqa: E402
from .model import ModelUnavailableError  # noqa: E402
from .video import VideoAnalysis  # noqa: E402
__all__ = ["Analysis", "Detector", "InputError", "ModelUnavailableError", "find_faces", "VideoAnalysis", "__version__"]
