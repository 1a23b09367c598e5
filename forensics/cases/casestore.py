"""`CaseStore`: items in, items out. Adding analyses files a batch at a time and commits each
batch (items plus their audit entries) in one transaction; marking, removing and purging are
each an entry; verify and report live in verify.py and report.py.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select

from ..explain import checks, registry
from ..report.records import record as analysis_record
from ..core.errors import InputError
from ..inputs.images import load_image
from . import audit, clips, duplicates, intake, memory
from .evidence import EvidenceFolder, sha256_bytes
from .triage import triage_columns
from .schema import items
from .store import STATUSES, TRUTHS, BaseStore

ARCHIVE_ACTION = "archive received"


class Item(NamedTuple):
    """One row of a case, as the table and `case show` list it (a tuple: 10,000 are cheap)."""
    id: int
    file_name: str
    source: str
    sha256: str | None
    size: int | None
    fake_probability: float | None
    verdict: str | None
    status: str
    notes: str
    truth: str | None
    error: str | None
    hints: str
    c2pa: str
    width: int | None
    height: int | None
    group: int | None              # near-duplicate group (two or more live items), else None
    group_spread: float | None     # max - min P(AI-generated) in the group
    largest: bool                  # the group's copy with most pixels
    best_original: bool            # the group's least-compressed copy
    removed: bool
    added_utc: str
    evidence: EvidenceFolder | None = None
    robustness: str = ""           # the delivery-path sweep's judgement ("" when not run)
    reasons: str = ""              # why the final call differs from P alone ("" when it does not)
    local_scan: str = ""           # the local scan's judgement ("" when not run)
    clip: dict | None = None       # a clip's frames and strongest frame (clips.facts); None for a picture
    near_duplicates: str = ""      # why it is in no group when it cannot be compared ("" otherwise)
    seen_before: tuple = ()        # memory.Match: met in the user's other cases, strongest first

    @property
    def evidence_path(self) -> Path | None:
        """The kept original (read-only); None if its bytes were never read."""
        return self.evidence.path(self.sha256) if self.sha256 and self.evidence else None

    def to_json(self) -> dict:
        out = self._asdict()
        del out["evidence"]
        out["evidence_path"] = None if self.evidence_path is None else str(self.evidence_path)
        out["seen_before"] = [m.to_json() for m in self.seen_before]
        return out


@dataclass
class AddResult:
    added: list[tuple[int, str, str | None]] = field(default_factory=list)   # (item id, source, error)
    duplicates: list[tuple[str, int]] = field(default_factory=list)          # (source, existing item id)
    archives: list[tuple[str, str]] = field(default_factory=list)            # (source, sha256)
    notable: list[tuple[int, str, object]] = field(default_factory=list)     # (item id, source, memory.Match)

    @property
    def analysed(self) -> int:
        return sum(1 for _, _, e in self.added if e is None)


@dataclass
class _Pending:
    candidate: intake.Candidate
    sha256: str | None
    analysis: object = None
    error: str | None = None
    sweep: object = None         # checks.robustness result, when asked
    scan_refused: str | None = None  # why the local scan, when asked, could not run
    clip: dict | None = None     # a clip's record (clips.py); .analysis is then its strongest frame


def _model_entry(analysis, settings: dict) -> dict:
    m = analysis.model
    cal = getattr(analysis, "calibration", None)
    return {"model": {"source": m.source, "revision": m.revision, "weights_sha256": m.weights_sha256,
                      "demo": m.demo},
            "settings": {**settings, "preprocessing": analysis.preprocessing.name,
                         "inconclusive_margin": analysis.inconclusive_margin,
                         "calibration": None if cal is None else cal.describe()}}


class CaseStore(BaseStore):
    """The Python face of a store (see forensics/cases/__init__.py)."""

    # -- adding ----------------------------------------------------------------------------
    def add_files(self, case: str, paths, detector, user: str, progress=None, *, batch_size: int = 8,
                  c2pa_trust=None, method: str = registry.BASELINE, head_fusion: str = "mean",
                  discard_ratio: float = 0.0, robustness: bool = False, local_scan: bool = False) -> AddResult:
        """Keep, analyse and file every file, folder and zip in `paths`. A file already in the
        case (same SHA-256) is reported in `.duplicates`, not added twice; so after a crash the
        same call adds only what is missing. `progress(done, source)` after each file.
        `robustness`: also run the delivery-path sweep (`checks.robustness`) on each item; its
        section goes into the stored record and its judgement into the triage table.
        `local_scan`: also scan each item at native resolution (`checks.local_scan`); an item too
        small to scan says so in its record's "local_scan" section."""
        with self._read() as conn:
            row = self._case_row(conn, case, user)
            known = dict(conn.execute(select(items.c.sha256, items.c.id).where(
                items.c.case_id == row.id, items.c.sha256.is_not(None))).all())
            refused = dict(conn.execute(select(items.c.source, items.c.id).where(
                items.c.case_id == row.id, items.c.sha256.is_(None))).all())
            archives = {json.loads(e.payload)["sha256"] for e in audit.entries(conn, row.id)
                        if e.action == ARCHIVE_ACTION}
        settings = {"method": method, "head_fusion": head_fusion, "discard_ratio": discard_ratio}
        sweeper = detector if robustness else None
        scanner = detector if local_scan else None
        result, pending, done = AddResult(), [], 0
        for c in intake.expand(paths):
            done += 1
            if c.data is None:
                if c.source in refused:
                    result.duplicates.append((c.source, refused[c.source]))
                else:
                    refused[c.source] = -1
                    pending.append(_Pending(c, None, error=c.error))
            else:
                sha = sha256_bytes(c.data)
                self.evidence.put(c.data, sha)  # kept before anything else happens to it
                if c.archive:
                    if sha not in archives:
                        archives.add(sha)
                        with self._write(row.id) as conn:
                            audit.append(conn, row.id, user, ARCHIVE_ACTION,
                                         {"file_name": c.name, "source": c.source, "sha256": sha,
                                          "size": len(c.data)})
                    result.archives.append((c.source, sha))
                elif sha in known:
                    result.duplicates.append((c.source, known[sha]))
                else:
                    known[sha] = -1
                    pending.append(_Pending(c, sha, error=c.error))
            if len(pending) >= batch_size:
                self._analyse(pending, detector, c2pa_trust, settings, sweeper, scanner)
                self._file(row.id, pending, user, settings, result)
                pending = []
            if progress is not None:
                progress(done, c.source)
        if pending:
            self._analyse(pending, detector, c2pa_trust, settings, sweeper, scanner)
            self._file(row.id, pending, user, settings, result)
        new = {i: source for i, source, error in result.added if error is None}
        if new:  # the Autopsy "notable" pattern: met in another case, marked AI-generated or warning there
            for item_id, matches in memory.seen_before(self, case, user, new).items():
                result.notable += [(item_id, new[item_id], m) for m in matches if m.notable]
        return result

    def _analyse(self, pending: list[_Pending], detector, c2pa_trust, settings: dict, sweeper=None,
                 scanner=None) -> None:
        """One forward pass for the readable files of a batch (forensics.batch.engine does the same);
        with `sweeper` (the detector) each one's delivery-path sweep too. All of it before the
        write transaction: the store's lock is never held while the model runs."""
        decoded = {}
        for i, p in enumerate(pending):
            if p.error is None and p.candidate.data is not None:
                if clips.is_clip(p.candidate.name, p.candidate.data):  # its frames by the clip rule
                    clips.analyse(p, detector, self.evidence.path(p.sha256), settings, sweep=sweeper is not None,
                                  local_scan=scanner is not None)
                    continue
                try:
                    decoded[i] = load_image(p.candidate.data, name=p.candidate.name, c2pa_trust=c2pa_trust)
                except InputError as exc:
                    p.error = str(exc)
        if decoded:
            for i, a in zip(decoded, detector.analyze_decoded(list(decoded.values()), **settings)):
                pending[i].analysis = a
                pending[i].sweep = None if sweeper is None else checks.robustness(sweeper, a)
                if scanner is not None:
                    try:  # a "real" call with a region called AI-generated becomes inconclusive
                        pending[i].analysis = a.with_local_scan(checks.local_scan(scanner, a))
                    except InputError as exc:  # too small to scan: said in the record, not fatal
                        pending[i].scan_refused = str(exc)

    def _file(self, case_id: int, pending: list[_Pending], user: str, settings: dict, result: AddResult) -> None:
        """Insert a batch of items and their entries in one transaction."""
        with self._write(case_id) as conn:
            others = list(conn.execute(select(items.c.phash, items.c.dhash, items.c.dup_group).where(
                items.c.case_id == case_id, items.c.phash.is_not(None), items.c.removed.is_(False))))
            for p in pending:
                c = p.candidate
                if p.sha256 is not None:
                    there = conn.execute(select(items.c.id).where(items.c.case_id == case_id,
                                                                  items.c.sha256 == p.sha256)).scalar()
                    if there is not None:  # another writer filed it meanwhile
                        result.duplicates.append((c.source, there))
                        continue
                values = {"case_id": case_id, "file_name": c.name, "source": c.source, "sha256": p.sha256,
                          "size": None if c.data is None else len(c.data), "error": p.error,
                          "status": "check", "notes": "", "removed": False, "added_utc": audit.now_utc(),
                          "hints": "", "c2pa": ""}
                a = p.analysis
                if a is not None:
                    sweep = p.sweep
                    record = p.clip if p.clip is not None else analysis_record(a, robustness=sweep)
                    if p.scan_refused:
                        record["local_scan"] = {"refused": p.scan_refused}
                    phash, dhash = duplicates.hashes(a.image)  # a clip's: its strongest frame's
                    if phash is None:  # a flat or tiny picture: no hashes, no group, and the record says so
                        record["near_duplicates"] = {**record.get("near_duplicates", {}),
                                                     "compared": False, "reason": duplicates.TOO_LITTLE_DETAIL}
                    text_ = json.dumps(record, ensure_ascii=False, allow_nan=False)
                    values.update(record_json=text_, record_sha256=hashlib.sha256(text_.encode()).hexdigest(),
                                  fake_probability=record["fake_probability"], verdict=record["verdict"],
                                  **triage_columns(record), phash=phash, dhash=dhash,
                                  dup_group=duplicates.group_for(phash, dhash, others))
                    if getattr(a, "embedding", None) is not None:  # for memory across cases
                        values.update(embedding=memory.embedding_bytes(a.embedding), extractor=memory.extractor_of(a))
                item_id = conn.execute(items.insert().values(**values)).inserted_primary_key[0]
                memory.keep_vector(conn, item_id, values.get("extractor"), values.get("embedding"))
                if a is not None:
                    if values["dup_group"] is None:
                        values["dup_group"] = item_id
                        conn.execute(items.update().where(items.c.id == item_id).values(dup_group=item_id))
                    others.append(_Hashes(values["phash"], values["dhash"], values["dup_group"]))
                audit.append(conn, case_id, user, "item added",
                             {k: values[k] for k in ("file_name", "source", "sha256", "size", "error")}, item_id)
                if a is not None:
                    audit.append(conn, case_id, user, "analysed",
                                 {"record_sha256": values["record_sha256"],
                                  "fake_probability": values["fake_probability"], "verdict": values["verdict"],
                                  **_model_entry(a, settings),
                                  **({"embedding_sha256": memory.embedding_sha256(values["embedding"])}
                                     if values.get("embedding") else {})}, item_id)
                result.added.append((item_id, c.source, p.error))
            self._touch(conn, case_id)

    # -- reading ---------------------------------------------------------------------------
    def items(self, case: str, user: str, include_removed: bool = False, seen_before: bool = True) -> list[Item]:
        """Every item of the case, oldest first, with its near-duplicate group and (`seen_before`)
        where the user met it in their other cases (memory.py)."""
        cols = [items.c[n] for n in ("id", "file_name", "source", "sha256", "size", "fake_probability",
                                     "verdict", "status", "notes", "truth", "error", "hints", "c2pa",
                                     "width", "height", "quality", "dup_group", "removed", "added_utc",
                                     "robustness", "reasons", "local_scan", "phash")]
        with self._read() as conn:
            row = self._case_row(conn, case, user)
            rows = conn.execute(select(*cols).where(items.c.case_id == row.id).order_by(items.c.id)).all()
            clip_facts = clips.clip_facts(conn, row.id, rows)
        live = [r for r in rows if not r.removed]
        groups = duplicates.groups(live)
        out, folder = [], self.evidence
        for r in rows:
            if r.removed and not include_removed:
                continue
            g = None if r.removed else groups.get(r.dup_group)
            out.append(Item(
                r.id, r.file_name, r.source, r.sha256, r.size, r.fake_probability, r.verdict, r.status, r.notes,
                r.truth, r.error, r.hints, r.c2pa, r.width, r.height,
                g.id if g else None, g.spread if g else None, bool(g and g.largest == r.id),
                bool(g and g.least_compressed == r.id), bool(r.removed), r.added_utc, folder, r.robustness,
                r.reasons, r.local_scan, clip_facts.get(r.id),
                duplicates.TOO_LITTLE_DETAIL if r.verdict is not None and r.phash is None else ""))
        if seen_before:
            met = memory.seen_before(self, case, user)
            out = [i._replace(seen_before=tuple(met[i.id])) if i.id in met else i for i in out]
        return out

    def record(self, case: str, item_id: int, user: str) -> dict | None:
        """The stored analysis record of one item (None for an item that could not be analysed)."""
        with self._read() as conn:
            row = self._case_row(conn, case, user)
            text_ = conn.execute(select(items.c.record_json).where(
                items.c.case_id == row.id, items.c.id == item_id)).scalar()
        return None if text_ is None else json.loads(text_)

    def labelled(self, case: str, user: str) -> list[tuple[Path, str, str]]:
        """(evidence path, "real" | "ai", original file name) of every live item whose truth is
        marked: the case as an evaluation set."""
        return [(i.evidence_path, i.truth, i.file_name) for i in self.labelled_items(case, user)]

    def labelled_items(self, case: str, user: str) -> list[Item]:
        """The live, analysed pictures of the case whose truth is marked (`labelled`'s items)."""
        # pictures only: evaluation scores each file as one image, which a clip is not
        return [i for i in self.items(case, user, seen_before=False)
                if i.truth in TRUTHS and i.evidence_path is not None and i.error is None and i.clip is None]

    # -- memory across cases (memory.py) ----------------------------------------------------
    def seen_before(self, case: str, item_id, user: str, threshold: float = memory.SIMILAR_COSINE) -> list:
        """[memory.Match]: where `user` met this item in their other cases, strongest first."""
        with self._read() as conn:
            self._item_row(conn, self._case_row(conn, case, user).id, item_id)
        return memory.seen_before(self, case, user, [int(item_id)], threshold).get(int(item_id), [])

    def similar(self, case: str, item_id, user: str, all_cases: bool = False, top: int = 10,
                threshold: float = memory.SIMILAR_COSINE) -> list:
        """[memory.Match]: the `top` nearest items by embedding cosine, nearest first."""
        return memory.similar(self, case, item_id, user, all_cases=all_cases, top=top, threshold=threshold)

    def families(self, case: str, user: str, distance_threshold: float = memory.FAMILY_DISTANCE) -> list:
        """[memory.Family]: the case's items clustered by embedding, largest first."""
        return memory.families(self, case, user, distance_threshold)

    # -- changing --------------------------------------------------------------------------
    def _item_row(self, conn, case_id: int, item_id):
        try:
            item_id = int(item_id)
        except (TypeError, ValueError):
            raise InputError(f"item {item_id!r} is not an item number; `forensics case show` lists them") from None
        r = conn.execute(select(items).where(items.c.case_id == case_id, items.c.id == item_id)).first()
        if r is None:
            raise InputError(f"the case has no item {item_id}; `forensics case show` lists them")
        return r

    def mark(self, case: str, item_id, user: str, *, status: str | None = None, note: str | None = None,
             truth: str | None = None) -> list[str]:
        """Set status (ok/check/warning), the note, or the truth (real/ai; "" clears it): one
        audit entry per change -> what changed."""
        if status is not None and status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if truth is not None and truth not in TRUTHS + ("",):
            raise InputError(f"truth must be real or ai, got {truth!r}")
        with self._read() as conn:
            case_id = self._case_row(conn, case, user).id
        changed = []
        with self._write(case_id) as conn:
            r = self._item_row(conn, case_id, item_id)
            if r.removed:
                raise InputError(f"item {r.id} was removed from the case; it can no longer be marked")
            for column, action, value in (("status", "status changed", status), ("notes", "note changed", note),
                                          ("truth", "truth changed", None if truth == "" else truth)):
                given = status if column == "status" else note if column == "notes" else truth
                if given is None or getattr(r, column) == value:
                    continue
                conn.execute(items.update().where(items.c.id == r.id).values(**{column: value}))
                audit.append(conn, case_id, user, action, {"from": getattr(r, column), "to": value}, r.id)
                changed.append(column)
            if changed:
                self._touch(conn, case_id)
        return changed

    def remove(self, case: str, item_id, user: str) -> None:
        """Take an item out of the case: an audit entry; its evidence stays until `purge`."""
        with self._read() as conn:
            case_id = self._case_row(conn, case, user).id
        with self._write(case_id) as conn:
            r = self._item_row(conn, case_id, item_id)
            if r.removed:
                return
            conn.execute(items.update().where(items.c.id == r.id).values(removed=True))
            audit.append(conn, case_id, user, "item removed", {"file_name": r.file_name, "sha256": r.sha256}, r.id)
            self._touch(conn, case_id)

    def purge(self, case: str, user: str) -> list[str]:
        """Delete the evidence of removed items that no live item (of any case) still uses ->
        the SHA-256s deleted. The rows and their entries stay; the purge is an entry too."""
        with self._read() as conn:
            case_id = self._case_row(conn, case, user).id
        with self._write(case_id) as conn:
            removed = conn.execute(select(items.c.id, items.c.sha256).where(
                items.c.case_id == case_id, items.c.removed.is_(True), items.c.sha256.is_not(None))).all()
            purged = {"items": [], "sha256": []}
            for r in removed:
                in_use = conn.execute(select(items.c.id).where(items.c.sha256 == r.sha256,
                                                               items.c.removed.is_(False)).limit(1)).first()
                if in_use is None:
                    purged["items"].append(r.id)
                    if r.sha256 not in purged["sha256"]:
                        purged["sha256"].append(r.sha256)
            if not purged["items"]:
                return []
            audit.append(conn, case_id, user, "evidence purged", purged)
            self._touch(conn, case_id)
        for sha in purged["sha256"]:  # after the entry is committed: an entry never names a file still there
            self.evidence.delete(sha)
        return purged["sha256"]

    # -- checking and reporting ------------------------------------------------------------
    def verify(self, case: str, user: str):
        from .verify import verify
        return verify(self, case, user)

    def report(self, case: str, out_dir, user: str):
        from .report import write_report
        return write_report(self, case, Path(out_dir), user)


@dataclass(frozen=True)
class _Hashes:
    phash: str
    dhash: str
    dup_group: int
