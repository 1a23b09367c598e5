"""One detector and what it finds: `detector` (Detector, Analysis), `faces` (face boxes, and each
face analysed as a region), `video` (a clip's sampled frames as a timeline with a verdict).
"""
from .detector import Detector
from .faces import analyze_faces, find_faces
from .result import Analysis
from .video import VideoAnalysis

__all__ = ["Detector", "Analysis", "VideoAnalysis", "find_faces", "analyze_faces"]
