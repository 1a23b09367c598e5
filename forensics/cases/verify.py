"""`verify`: every evidence file against its SHA-256, every stored record against its hash,
every row against what the audit chain says happened to it, and the chain itself."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import select

from .triage import triage_columns
from . import audit, clips, memory
from .schema import items

# what a replay of the chain gives each item, before any change
INITIAL = {"status": "check", "notes": "", "truth": None, "removed": False}
CHANGES = {"status changed": "status", "note changed": "notes", "truth changed": "truth"}


@dataclass(frozen=True)
class Problem:
    item: int | None    # the item it concerns; None for the chain or an archive
    message: str


@dataclass
class Verification:
    case: str
    items_checked: int = 0
    files_checked: int = 0
    entries_checked: int = 0
    head_hash: str = audit.GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, item, message: str) -> None:
        self.problems.append(Problem(item, message))


def _replay(entries) -> tuple[dict, dict, dict, list]:
    """-> (added payload by item, analysed payload by item, state by item, archive payloads)."""
    added, analysed, state, archives = {}, {}, {}, []
    for e in entries:
        payload = json.loads(e.payload)
        if e.action == "item added":
            added[e.item_id] = payload
            state[e.item_id] = dict(INITIAL, purged=False)
        elif e.action == "analysed":
            analysed[e.item_id] = payload
        elif e.action in CHANGES and e.item_id in state:
            state[e.item_id][CHANGES[e.action]] = payload["to"]
        elif e.action == "item removed" and e.item_id in state:
            state[e.item_id]["removed"] = True
        elif e.action == "evidence purged":
            for i in payload["items"]:
                if i in state:
                    state[i]["purged"] = True
        elif e.action == "archive received":
            archives.append(payload)
    return added, analysed, state, archives


def verify(store, case: str, user: str) -> Verification:
    with store._read() as conn:
        row = store._case_row(conn, case, user)
        entries = audit.entries(conn, row.id)
        rows = conn.execute(select(items).where(items.c.case_id == row.id).order_by(items.c.id)).all()
    out = Verification(row.name, items_checked=len(rows), entries_checked=len(entries),
                       head_hash=entries[-1].hash if entries else audit.GENESIS)
    for seq, message in audit.walk(entries):
        item = next((e.item_id for e in entries if e.seq == seq), None)
        out.add(item, message)
    added, analysed, state, archives = _replay(entries)

    for r in rows:
        entry = added.get(r.id)
        if entry is None:
            out.add(r.id, f"item {r.id} ({r.file_name}) has no 'item added' entry in the audit log")
            continue
        for key, value in (("file_name", r.file_name), ("source", r.source), ("sha256", r.sha256),
                           ("size", r.size), ("error", r.error)):
            if entry.get(key) != value:
                out.add(r.id, f"item {r.id}: {key} in the database differs from the audit log "
                              f"({value!r} vs {entry.get(key)!r})")
        _check_record(out, r, analysed.get(r.id))
        _check_embedding(out, r, analysed.get(r.id))
        st = state[r.id]
        for key in ("status", "notes", "truth", "removed"):
            if st[key] != (bool(getattr(r, key)) if key == "removed" else getattr(r, key)):
                out.add(r.id, f"item {r.id}: {key} is {getattr(r, key)!r} in the database but "
                              f"{st[key]!r} by the audit log")
        if r.sha256 and not st["purged"]:
            out.files_checked += 1
            problem = store.evidence.check(r.sha256)
            if problem:
                out.add(r.id, f"item {r.id} ({r.file_name}): {problem}")
    for missing in sorted(set(added) - {r.id for r in rows}):
        out.add(missing, f"item {missing} ({added[missing]['file_name']}) is in the audit log but its row "
                         "is gone from the database")
    for a in archives:
        out.files_checked += 1
        problem = store.evidence.check(a["sha256"])
        if problem:
            out.add(None, f"archive {a['file_name']}: {problem}")
    return out


def _check_record(out: Verification, r, analysed: dict | None) -> None:
    if r.record_json is None:
        if analysed is not None:
            out.add(r.id, f"item {r.id}: the audit log has its analysis but the record is gone from the database")
        return
    actual = hashlib.sha256(r.record_json.encode("utf-8")).hexdigest()
    if analysed is None:
        out.add(r.id, f"item {r.id}: a record is stored but the audit log has no analysis for it")
        return
    if actual != r.record_sha256 or actual != analysed["record_sha256"]:
        out.add(r.id, f"item {r.id} ({r.file_name}): the stored analysis record was changed "
                      "(its SHA-256 no longer matches the audit log)")
        return
    record = json.loads(r.record_json)
    if r.fake_probability != record["fake_probability"] or r.verdict != record["verdict"]:
        out.add(r.id, f"item {r.id} ({r.file_name}): P(AI-generated) or verdict in the result row differs "
                      "from its stored record")
    wrong_clip = clips.check_record(record, r.sha256)  # a clip's record names the bytes it decoded
    if wrong_clip:
        out.add(r.id, f"item {r.id} ({r.file_name}): {wrong_clip}")
    for column, value in triage_columns(record).items():  # what the triage table and report show
        if getattr(r, column) != value:
            out.add(r.id, f"item {r.id} ({r.file_name}): {column} in the result row ({getattr(r, column)!r}) "
                          f"differs from its stored record ({value!r})")


def _check_embedding(out: Verification, r, analysed: dict | None) -> None:
    """The stored embedding against the SHA-256 its "analysed" entry filed; an item filed before
    0004 has neither, and that is fine."""
    filed = (analysed or {}).get("embedding_sha256")
    if r.embedding is None:
        if filed is not None:
            out.add(r.id, f"item {r.id} ({r.file_name}): the audit log has its embedding but the embedding "
                          "is gone from the database")
        return
    if filed is None:
        out.add(r.id, f"item {r.id} ({r.file_name}): an embedding is stored but the audit log has none for it")
    elif memory.embedding_sha256(r.embedding) != filed:
        out.add(r.id, f"item {r.id} ({r.file_name}): the stored embedding was changed "
                      "(its SHA-256 no longer matches the audit log)")
