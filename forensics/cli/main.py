"""`forensics COMMAND ...`: the parser of every command, and the dispatch to its handler.

Each command is one module of this package with `add_parser(commands)`, which sets the
handler `(args, parser) -> exit status`.
"""
from __future__ import annotations

import argparse
import os
import sys

from .._version import __version__
from . import adapt, analyze, case, evaluate, user
from .options import add_model_arguments, add_probe_argument, load_detector, load_probe  # noqa: F401 - shared with the app


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forensics",
        description="Forensic explanations for the Community Forensics AI-image detector.")
    parser.add_argument("--version", action="version", version=f"forensics {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (analyze, evaluate, adapt, case, user):
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args, parser)
    except BrokenPipeError:  # `forensics case show X | head`: the reader left; say nothing more
        # Python's documented way: point stdout at devnull so the exit flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
