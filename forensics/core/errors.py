"""The two kinds of error a person can act on; everything else is a bug and surfaces as one."""
from __future__ import annotations


class InputError(ValueError):
    """An input a person can fix: the message says what is wrong and what to do."""


class ModelUnavailableError(RuntimeError):
    """The weights could not be found, fetched, verified or loaded; the message says what to do."""
