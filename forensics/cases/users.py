"""Analyst accounts: argon2id password hashes (argon2-cffi's defaults, RFC 9106's profile)."""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..core.errors import InputError

_hasher = PasswordHasher()
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(f"user name {name!r} is not usable: 1-200 letters, digits, '.', '_', '-' or '@'")
    return name


def hash_password(password: str) -> str:
    if not password:
        raise InputError("an empty password cannot be used; give one on standard input")
    return _hasher.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    if not stored or not password:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
