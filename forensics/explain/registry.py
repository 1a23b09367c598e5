"""The explanation methods by name: importing this module registers the built-in ones.

    from forensics.explain import registry
    registry.names()                 # ("attention-rollout", ...): the baseline first
    registry.get(name).label         # words for people
"""
from __future__ import annotations

from . import relevance, rollout  # noqa: F401 - each registers its method on import
from .method import BASELINE, Captures, ExplanationMethod, get, methods, names, register, unregister

__all__ = ["BASELINE", "Captures", "ExplanationMethod", "get", "methods", "names", "register", "unregister"]
