"""`forensics ...` on the command line: thin over the package (parse, check, call, report).

`main` (the parser and the dispatch), one module per command.
"""
from .main import add_model_arguments, add_probe_argument, load_detector, load_probe, main

__all__ = ["main", "add_model_arguments", "load_detector", "add_probe_argument", "load_probe"]
