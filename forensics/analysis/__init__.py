"""One detector and what it finds: `detector` (Detector, Analysis), `faces` (face boxes, and each
face analysed as a region), `video` (a clip's sampled frames as a timeline with a verdict).
"""
