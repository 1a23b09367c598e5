"""Forensic explanations for the Community Forensics AI-image detector.

    from forensics import Detector
    det = Detector.from_pretrained()          # pinned hub weights, or a local folder
    a = det.analyze("photo.jpg")
    a.fake_probability, a.verdict, a.patch_scores, a.crop_box
"""
from .analysis import Analysis, Detector
from .inputs import InputError
from .model import ModelUnavailableError

__version__ = "0.1.0"
__all__ = ["Analysis", "Detector", "InputError", "ModelUnavailableError", "__version__"]
