"""`forensics user add NAME [--password-stdin]`: analyst accounts in the case store."""
from __future__ import annotations

import argparse
import sys

from .case import _guarded, open_store, store_arguments


def add_parser(commands) -> argparse.ArgumentParser:
    p = commands.add_parser("user", help="analyst accounts of the case store",
                            description="Analyst accounts of the case store (argon2 password hashes).")
    sub = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    q = sub.add_parser("add", help="add an account", description="Add an account; with --password-stdin it can "
                                                                 "log in to the page (python app.py --login).")
    store_arguments(q)
    q.add_argument("name", metavar="NAME")
    q.add_argument("--password-stdin", action="store_true", help="read the password from standard input (one line)")
    q.set_defaults(handler=_guarded(add))
    return p


def add(args, parser, user) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    with open_store(args) as store:
        store.add_user(args.name, password, by=user)
    print(f"user {args.name} added" + (" with a password" if password else " (no password: cannot log in)"))
    return 0
