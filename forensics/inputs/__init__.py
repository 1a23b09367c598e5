"""What comes in: untrusted bytes made into pictures and facts, never trusted on the way.

`images` (decode stills safely, EXIF-transpose, to RGB, hash the bytes), `video` (open a clip
with bounds and sample its frames), `metadata/` (C2PA, EXIF, XMP, text chunks, JPEG facts, and
the table of generator signatures that turns them into hints).
"""
from ..core.errors import InputError
from .images import ACCEPTED_EXTENSIONS, InputInfo, load_image

__all__ = ["load_image", "InputInfo", "InputError", "ACCEPTED_EXTENSIONS"]
