"""The detector network: its spec, loading it safely, and the one recording forward pass.

`spec` (the pinned model's facts: hub id, revision, weights hash, licence, citation, transform),
`loading` (safetensors only, the weights checked against the spec), `capture` (the forward pass
that keeps only what the explanation methods need).
"""
from .loading import DEMO_WARNING, ModelInfo, vit_small_config
from .spec import COMMUNITY_FORENSICS, DEFAULT_SPEC, ModelSpec

__all__ = ["ModelSpec", "COMMUNITY_FORENSICS", "DEFAULT_SPEC", "ModelInfo", "DEMO_WARNING", "vit_small_config"]
