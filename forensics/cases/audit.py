"""The chain of custody: append-only entries, each hashed with the hash of the one before.

hash = sha256 of the canonical JSON (sorted keys, no spaces) of the entry: chain, seq, who,
when_utc, action, item, payload and prev_hash. Changing any entry, or removing one, breaks
every hash after it. Each case has its own chain (case None: the store's own, for accounts).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json

from sqlalchemy import func, select, text

from .schema import audit

GENESIS = "0" * 64


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def entry_hash(case_id, seq, who, when_utc, action, item_id, payload: str, prev_hash: str) -> str:
    body = {"case": case_id, "seq": seq, "who": who, "when_utc": when_utc, "action": action,
            "item": item_id, "payload": json.loads(payload), "prev_hash": prev_hash}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def lock_chain(conn, case_id) -> None:
    """Serialise writers of one chain. SQLite: the write transaction (BEGIN IMMEDIATE) already
    holds the database's one write lock; PostgreSQL: a transaction-scoped advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x0F0E0000 + (case_id or 0)})


def append(conn, case_id, who: str, action: str, payload: dict, item_id=None) -> dict:
    """Add one entry at the head of the case's chain (inside the caller's write transaction,
    after `lock_chain`) -> the entry as stored."""
    where = audit.c.case_id.is_(None) if case_id is None else audit.c.case_id == case_id
    head = conn.execute(select(audit.c.seq, audit.c.hash).where(where).order_by(audit.c.seq.desc())
                        .limit(1)).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    body = canonical(payload)
    when = now_utc()
    row = {"case_id": case_id, "seq": seq, "item_id": item_id, "who": who, "when_utc": when,
           "action": action, "payload": body, "prev_hash": prev,
           "hash": entry_hash(case_id, seq, who, when, action, item_id, body, prev)}
    conn.execute(audit.insert().values(**row))
    return row


def entries(conn, case_id) -> list:
    where = audit.c.case_id.is_(None) if case_id is None else audit.c.case_id == case_id
    return conn.execute(select(audit).where(where).order_by(audit.c.seq)).all()


def walk(rows) -> list[tuple[int, str]]:
    """Check a chain in order -> [(seq, problem)]; empty when every link and hash holds."""
    problems, prev, expected = [], GENESIS, 1
    for r in rows:
        if r.seq != expected:
            problems.append((r.seq, f"audit entry {expected} is missing (next is {r.seq})"))
        if r.prev_hash != prev:
            problems.append((r.seq, f"audit entry {r.seq} does not follow the entry before it (prev_hash differs)"))
        try:
            actual = entry_hash(r.case_id, r.seq, r.who, r.when_utc, r.action, r.item_id, r.payload, r.prev_hash)
        except (ValueError, TypeError):
            actual = None
        if actual != r.hash:
            problems.append((r.seq, f"audit entry {r.seq} ({r.action}) was changed: its hash does not match"))
        prev, expected = r.hash, r.seq + 1
    return problems


def count(conn, case_id) -> int:
    return conn.execute(select(func.count()).select_from(audit).where(audit.c.case_id == case_id)).scalar_one()
