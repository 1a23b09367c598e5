"""The Case tab's handlers, at module level: the acting user, the cases they may see, adding
files, the triage table, marking, opening an item in the Image tab, the report, `/case_list`.
Memory across cases ("seen before", NOTABLE, "More like this", families) is in case_memory.py.

Every handler takes the `CaseRoom` (the store and how users are known) and the acting user,
and reads or changes a case only through `forensics.cases.CaseStore`, which refuses a case
that user neither owns nor was given. Evidence never leaves the store folder directly: what the
page shows or sends (a thumbnail, the file opened in the Image tab, the report) is made by the
handler, for that user, in the room's scratch folder, and Gradio copies it into its cache.
"""
from __future__ import annotations

import atexit
import base64
import html
import io
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import gradio as gr
from PIL import Image

from forensics import InputError
from forensics.cases import DB_FILE, ENV_STORE, STATUSES, CaseAccessError, CaseStore, acting_user, clips

from .cards import case_note
from .case_memory import notable_note, seen_cell

# "why" (the reasons a call is not P's own), "local scan" and "seen before" come last: the keyboard
# triage and the filters address the columns before them by position.
TABLE_HEADERS = ["picture", "id", "file", "P(AI)", "verdict", "hints", "C2PA", "group", "re-encoding", "status",
                 "truth", "notes", "why", "local scan", "seen before"]
TABLE_TYPES = ["markdown", "number", "str", "number", "str", "str", "str", "str", "str", "str", "str", "str", "str",
               "str", "str"]
ID_COLUMN = TABLE_HEADERS.index("id")
LIST_HEADERS = ["case", "owner", "title", "items", "last change (UTC)"]
ANY_COLUMN = "any column"
FILTER_COLUMNS = [ANY_COLUMN, *TABLE_HEADERS[1:]]
NUMERIC = {"id", "P(AI)"}
TRUTH_CHOICES = [("unknown", ""), ("real", "real"), ("AI-generated", "ai")]
# Keyboard triage: one key per mark of the item whose row has focus in the table (triage.js sends
# it, key_act applies it). Gradio's table itself moves with the arrow keys and opens with Enter;
# NEXT_KEY moves to the next row still to check, in the page.
TRIAGE_KEYS = {"o": ("status", "ok"), "c": ("status", "check"), "w": ("status", "warning"),
               "r": ("truth", "real"), "a": ("truth", "ai"), "u": ("truth", "")}
NEXT_KEY = "n"
THUMB_PX = 64           # thumbnails are inline JPEGs of at most this edge, ~2-4 kB each
THUMB_ROWS = 500        # beyond this many rows the table has no thumbnails (the page stays light)
MAX_DROP_FILES = 500    # files in one drop; a zip counts once (its own bounds apply inside)
SCRATCH_TTL_S = 3600    # the handler's copies live as long as Gradio's cache keeps its own
EPHEMERAL_NOTE = ("This server keeps no cases: it was started without <code>--store DIR</code>. A case made "
                  "here is <b>ephemeral</b>: it lives as long as this browser session and is gone after a page "
                  "reload or a restart. To keep cases, start the app with <code>python app.py --store DIR</code>.")


@dataclass
class CaseRoom:
    """Where the page's cases live and who acts. `store_dir` None: an ephemeral store in a
    temporary folder, and each browser session acts as its own visitor, so visitors never see
    each other's cases. `login`: the acting user is Gradio's logged-in user, nobody else."""
    store_dir: Path | None = None
    db_url: str | None = None
    login: bool = False
    _store: CaseStore | None = field(default=None, repr=False)
    _scratch: Path | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self):
        if self.store_dir is None and (self.login or self.db_url):
            raise InputError(f"{'--login' if self.login else '--db'} needs --store DIR (or ${ENV_STORE}): the "
                             "cases' evidence and accounts live in the store")

    def auth(self):
        """Gradio's `launch(auth=...)`: a name and password checked against the store's argon2 hashes."""
        store = self.store()
        if not store.user_names():
            raise InputError(f"--login, but the store in {store.root} has no accounts yet: add one with "
                             f"`forensics user add NAME --password-stdin --store {store.root}`")
        return store.authenticate

    @property
    def ephemeral(self) -> bool:
        return self.store_dir is None

    def store(self) -> CaseStore:
        """The store, opened on first use (an ephemeral one in a temporary folder, removed at exit)."""
        with self._lock:
            if self._store is None:
                root, url = self.store_dir, self.db_url
                if root is None:  # outside Gradio's upload folder: its file route never serves it
                    root = Path(tempfile.mkdtemp(prefix="forensics-ephemeral-store-"))
                    atexit.register(shutil.rmtree, root, ignore_errors=True)
                    url = f"sqlite:///{root / DB_FILE}"  # never a team database named by $FORENSICS_DB
                self._store = CaseStore.open(root, url)
            return self._store

    def scratch(self, user: str) -> Path:
        """A fresh folder for what one request hands to one user; old ones are pruned."""
        with self._lock:
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="forensics-case-scratch-"))
                atexit.register(shutil.rmtree, self._scratch, ignore_errors=True)
            cutoff = time.time() - SCRATCH_TTL_S
            for old in self._scratch.iterdir():
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
        folder = self._scratch / f"{user}-{secrets.token_hex(8)}"
        folder.mkdir()
        return folder

    def user(self, request: gr.Request | None, visitor: str | None) -> str:
        """The acting user of a request: the login, else this session's visitor (ephemeral
        store), else --user / $FORENSICS_USER / the OS login name."""
        if self.login:
            name = getattr(request, "username", None)
            if not name:
                raise gr.Error("Log in first: this server keeps cases per analyst.", print_exception=False)
            return name
        if self.ephemeral:
            if not visitor:
                raise gr.Error("This session has no visitor yet; reload the page.", print_exception=False)
            return visitor
        return acting_user()

    def forget_visitor(self, visitor: str | None) -> None:
        """A session ended (gr.State's delete_callback): its ephemeral cases' evidence goes."""
        if not visitor or not self.ephemeral or self._store is None:
            return
        store = self._store
        for case in store.list_cases(visitor):
            key = f"{case.owner}/{case.name}"
            for item in store.items(key, visitor):
                store.remove(key, item.id, visitor)
            store.purge(key, visitor)


def new_visitor() -> str:
    return f"visitor-{secrets.token_hex(8)}"


def _refused(exc: InputError) -> dict:
    return {"case_note": case_note(str(exc), "error")}


def case_key(case) -> str:
    return f"{case.owner}/{case.name}"


# -- the list of cases -------------------------------------------------------------------------

def banner(room: CaseRoom, user: str) -> str:
    if room.ephemeral:
        return f'<div class="fx-case-banner ephemeral">{EPHEMERAL_NOTE}</div>'
    how = "logged in" if room.login else "acting as the local user; start with --login to require accounts"
    return (f'<div class="fx-case-banner">Cases are kept in this server\'s store. You are '
            f'<b>{html.escape(user)}</b> ({how}): you see your own cases and those shared with you.</div>')


def case_choices(room: CaseRoom, user: str) -> list[tuple[str, str]]:
    return [(c.name if c.owner == user else f"{c.name} (shared by {c.owner})", case_key(c))
            for c in room.store().list_cases(user)]


def case_rows(room: CaseRoom, user: str) -> list[list]:
    return [[c.name, c.owner, c.title, c.items, c.changed_utc[:19].replace("T", " ")]
            for c in room.store().list_cases(user)]


def refresh_list(room: CaseRoom, user: str, selected: str | None = None) -> dict:
    return {"case_list": case_rows(room, user), "case_pick": gr.Dropdown(choices=case_choices(room, user),
                                                                          value=selected)}


def load_page(room: CaseRoom, visitor: str | None, last_case: str | None, request: gr.Request | None) -> dict:
    """Page load: this session's visitor (ephemeral store), the banner, the list of cases, and
    the case open before a reload (kept in the browser; reopened only if this user may)."""
    if room.ephemeral and not visitor:
        visitor = new_visitor()
    user = room.user(request, visitor)
    out = {"case_visitor": visitor, "case_banner": banner(room, user), **refresh_list(room, user)}
    if last_case:
        try:
            out.update(open_case(room, user, last_case))
        except InputError:  # another user's, gone, or an ephemeral case of an earlier session
            out["case_last"] = None
    return out


def create_case(room: CaseRoom, user: str, name: str, title: str) -> dict:
    try:
        case = room.store().create_case((name or "").strip(), owner=user, title=(title or "").strip())
    except InputError as exc:
        return _refused(exc)
    return {**open_case(room, user, case_key(case)), "case_new_name": "", "case_new_title": "",
            "case_note": case_note(f"Case {case.name} created.")}


def open_case(room: CaseRoom, user: str, key: str | None, column: str = ANY_COLUMN, text: str = "") -> dict:
    """Open the case `key` (OWNER/NAME) for `user`: heading, triage table, item picker."""
    if not key:
        return {"case_open": None, "case_heading": "No case open.", "case_table": [], "case_item": gr.Dropdown(
            choices=[], value=None), "case_last": None}
    store = room.store()
    case = store.case(key, user)  # CaseAccessError for a case this user may not see
    items = store.items(key, user)
    heading = f"## {case.name}" + (f": {case.title}" if case.title else "")
    changed = case.changed_utc[:19].replace("T", " ")
    heading += f"\nOwner {case.owner}; {len(items)} item{'s' * (len(items) != 1)}; last change {changed} UTC"
    return {"case_open": case_key(case), "case_last": case_key(case), "case_heading": heading,
            "case_table": table_rows(items, column, text), "case_pdf": gr.DownloadButton(visible=False),
            "case_bundle": gr.DownloadButton(visible=False),
            "case_item": gr.Dropdown(choices=[(f"{i.id} · {i.file_name}", i.id) for i in items], value=None),
            "case_pick": gr.Dropdown(choices=case_choices(room, user), value=case_key(case))}


# -- the triage table --------------------------------------------------------------------------

@lru_cache(maxsize=4096)  # by evidence path: content-addressed, so a path's thumbnail never changes
def thumbnail(path: str) -> str:
    """A small inline JPEG of a kept original as a markdown image ("" if it cannot be drawn)."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at reduced size
            img.thumbnail((THUMB_PX, THUMB_PX))
            buf = io.BytesIO()
            img.convert("RGB").save(buf, "JPEG", quality=80)
    except (OSError, ValueError, Image.DecompressionBombError):
        return ""
    return f"![thumbnail](data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode()})"


@lru_cache(maxsize=256)  # by evidence path and frame: content-addressed, never changes
def clip_thumbnail(path: str, index: int) -> str:
    """A clip's thumbnail: its strongest frame, decoded again from the kept clip ("" if it cannot be)."""
    try:
        frame = clips.frames(Path(path), [index])[index]
    except (InputError, OSError, KeyError):
        return ""
    buf = io.BytesIO()
    frame.thumbnail((THUMB_PX, THUMB_PX))
    frame.save(buf, "JPEG", quality=80)
    return f"![thumbnail](data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode()})"


def item_row(item, thumbs: bool) -> list:
    verdict = item.verdict or ("unreadable" if item.error else "")
    notes = item.notes if not item.error else " · ".join(filter(None, [item.error, item.notes]))
    group = f"G{item.group}" if item.group is not None else item.near_duplicates
    if item.group is not None and item.group_spread is not None:
        group += f" (spread {item.group_spread:.2f}{', best original' if item.best_original else ''})"
    thumb = ""
    if thumbs and item.evidence_path and not item.error:
        thumb = (clip_thumbnail(str(item.evidence_path), item.clip["strongest_frame"]) if item.clip
                 else thumbnail(str(item.evidence_path)))
    name = f"{item.file_name} ({clips.label(item.clip)})" if item.clip else item.file_name
    p = None if item.fake_probability is None else round(item.fake_probability, 4)
    return [thumb, item.id, name, p, verdict, item.hints, item.c2pa, group, item.robustness.lower(),
            item.status, item.truth or "", notes, item.reasons, item.local_scan, seen_cell(item.seen_before)]


_COMPARE = re.compile(r"^\s*(<=|>=|<|>|=)\s*(-?\d+(?:\.\d+)?)\s*$")


def matches(row: list, column: str, text: str) -> bool:
    """Does a table row pass the filter? Text: case-insensitive 'contains'; on id and P(AI)
    also a comparison such as '>0.5' or '<=3'."""
    text = (text or "").strip()
    if not text:
        return True
    cols = range(1, len(TABLE_HEADERS)) if column not in TABLE_HEADERS else [TABLE_HEADERS.index(column)]
    compare = _COMPARE.match(text)
    for c in cols:
        value = row[c]
        if compare and TABLE_HEADERS[c] in NUMERIC:
            if value is None:
                continue
            op, bound = compare.group(1), float(compare.group(2))
            if {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound,
                    "=": value == bound}[op]:
                return True
        elif value is not None and text.lower() in str(value).lower():
            return True
    return False


def table_rows(items, column: str = ANY_COLUMN, text: str = "") -> list[list]:
    thumbs = len(items) <= THUMB_ROWS
    rows = [item_row(i, thumbs) for i in items]
    return [r for r in rows if matches(r, column, text)]


def filter_table(room: CaseRoom, user: str, key: str | None, column: str, text: str) -> dict:
    if not key:
        return {"case_table": []}
    try:
        return {"case_table": table_rows(room.store().items(key, user), column, text)}
    except InputError as exc:
        return _refused(exc)


# -- adding files ------------------------------------------------------------------------------

def add_files(room: CaseRoom, user: str, key: str | None, paths, detector, progress=None,
              column: str = ANY_COLUMN, text: str = "", robustness: bool = False) -> dict:
    """Keep and analyse every dropped file (zips unpacked by the store, within its bounds);
    `robustness`: also run each item's delivery-path sweep (the "re-encoding" column).
    `progress(fraction_or_(done, total), desc=...)`: a gr.Progress will do."""
    paths = [str(p) for p in (paths or [])]
    if not paths:
        return {}
    if not key:
        return {"case_note": case_note("Create or open a case first, then drop the files.", "error"),
                "case_files": None}
    if len(paths) > MAX_DROP_FILES:
        return {"case_note": case_note(f"{len(paths)} files in one drop; at most {MAX_DROP_FILES}. Drop them in "
                                     "parts, or zip them, or use `forensics case add`.", "error"), "case_files": None}
    total = None if any(p.lower().endswith(".zip") for p in paths) else len(paths)

    def told(done: int, source: str) -> None:
        if progress is not None:
            progress((done, total), desc=f"analysed {Path(source).name}", unit="files")

    try:
        result = room.store().add_files(key, paths, detector, user=user, progress=told, robustness=robustness)
    except InputError as exc:
        return {**_refused(exc), "case_files": None}
    failed = [(Path(src).name, err) for _, src, err in result.added if err]
    said = f"{result.analysed} analysed"
    if failed:
        said += f", {len(failed)} unreadable ({'; '.join(f'{n}: {e}' for n, e in failed[:3])}"
        said += ", ..." if len(failed) > 3 else ""
        said += ")"
    if result.duplicates:
        said += f", {len(result.duplicates)} already in the case (not added twice)"
    if result.archives:
        said += f", from {len(result.archives)} zip archive{'s' * (len(result.archives) != 1)}"
    return {**open_case(room, user, key, column, text), "case_files": None,
            "case_note": case_note(said + ".", "error" if failed else "info") + notable_note(result.notable)}


# -- marking -----------------------------------------------------------------------------------

def _item(room: CaseRoom, user: str, key: str, item_id):
    for item in room.store().items(key, user):
        if str(item.id) == str(item_id):
            return item
    raise InputError(f"the case has no item {item_id}")


def pick_item(room: CaseRoom, user: str, key: str | None, item_id) -> dict:
    """An item chosen in the mark panel: show what it is marked with now."""
    if not key or item_id is None:
        return {}
    try:
        item = _item(room, user, key, item_id)
    except InputError as exc:
        return _refused(exc)
    return {"case_status": item.status, "case_truth": item.truth or "", "case_mark_note": item.notes}


def mark(room: CaseRoom, user: str, key: str | None, item_id, status: str, truth: str, note: str,
         column: str = ANY_COLUMN, text: str = "") -> dict:
    if not key or item_id is None:
        return {"case_note": case_note("Pick an item of the open case to mark.", "error")}
    try:
        changed = room.store().mark(key, item_id, user, status=status or None, note=note or "", truth=truth or "")
        out = open_case(room, user, key, column, text)
    except InputError as exc:
        return _refused(exc)
    out.pop("case_item")  # keep the item picked, for the next mark
    said = f"Item {item_id}: {', '.join(changed)} changed." if changed else f"Item {item_id}: nothing to change."
    return {**out, "case_note": case_note(said)}


def keys_panel(said: str = "", item=None) -> str:
    """The keys of keyboard triage, and what the last key did (`said`, about item `item`). Its data
    attributes tell triage.js the keys and where the id and status columns are."""
    truth = dict((v, k) for k, v in TRUTH_CHOICES)
    keys = " · ".join(f"<kbd>{k}</kbd> {value if field == 'status' else 'truth ' + truth[value]}"
                      for k, (field, value) in TRIAGE_KEYS.items())
    line = f'<p class="fx-keys-said">{html.escape(said)}</p>' if said else ""
    return (f'<div class="fx-keys" data-keys="{"".join(TRIAGE_KEYS)}" data-id-col="{ID_COLUMN}" '
            f'data-status-col="{TABLE_HEADERS.index("status")}" data-item="{html.escape(str(item or ""))}">'
            "<b>Keyboard triage.</b> Tab into the table, then <kbd>&uarr;</kbd> <kbd>&darr;</kbd> move between "
            f"items &middot; {keys} &middot; <kbd>{NEXT_KEY}</kbd> next item still to check &middot; "
            f"<kbd>Enter</kbd> opens the item in the Image tab.{line}</div>")


def key_act(room: CaseRoom, user: str, key: str | None, item_id, pressed: str, column: str = ANY_COLUMN,
            text: str = "") -> dict:
    """One key of keyboard triage on the item `item_id` (TRIAGE_KEYS): the mark is kept in the case
    like one saved from the mark panel, the table is redrawn and the act is said."""
    if pressed not in TRIAGE_KEYS:
        return {"case_keys": keys_panel(f"The key {pressed} marks nothing.")}
    if not key or item_id in (None, ""):
        return {"case_keys": keys_panel("Open a case and move to one of its items first.")}
    field, value = TRIAGE_KEYS[pressed]
    try:
        item = _item(room, user, key, item_id)
        changed = room.store().mark(key, item.id, user, **{field: value})
        out = open_case(room, user, key, column, text)
        item = _item(room, user, key, item.id)
    except InputError as exc:
        return {**_refused(exc), "case_keys": keys_panel(str(exc))}
    out.pop("case_item")
    shown = value if field == "status" else dict((v, k) for k, v in TRUTH_CHOICES)[value]
    said = f"Item {item.id}, {item.file_name}: {field} {shown}" + ("." if changed else ", as it was.")
    return {**out, "case_keys": keys_panel(said, item.id), "case_note": case_note(said), "case_item": item.id,
            "case_status": item.status, "case_truth": item.truth or "", "case_mark_note": item.notes}


# -- opening an item in the Image tab ----------------------------------------------------------

def safe_file_name(name: str) -> str:
    """The original name, usable as a file name here (the Image tab shows it)."""
    name = Path(str(name).replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ()]", "_", name)[-120:].strip(". ")
    return name or "item"


def open_item(room: CaseRoom, user: str, key: str | None, row: list | None) -> dict:
    """A table row clicked: a copy of the item's original, made for this user, goes to the
    Image tab's input (the page then runs the Analyze button's chain on it)."""
    if not key or not row:
        raise gr.Error("Open a case and click one of its items.", print_exception=False)
    try:
        item = _item(room, user, key, row[ID_COLUMN])
    except InputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    if item.evidence_path is None or not item.evidence_path.is_file():
        raise gr.Error(f"Item {item.id} has no kept file to open: {item.error or 'its evidence was purged'}",
                       print_exception=False)
    if item.clip:  # a clip: its strongest frame, as a picture (its P is that frame's P in the clip)
        index = item.clip["strongest_frame"]
        try:
            frame = clips.frames(item.evidence_path, [index])[index]
        except (InputError, KeyError) as exc:
            raise gr.Error(f"Item {item.id}'s strongest frame could not be decoded: {exc}",
                           print_exception=False) from None
        copy = room.scratch(user) / f"{Path(safe_file_name(item.file_name)).stem}-frame{index}.png"
        frame.save(copy, "PNG")
    else:
        copy = room.scratch(user) / safe_file_name(item.file_name)
        shutil.copyfile(item.evidence_path, copy)  # a copy: the kept original is never handed out
    return {"image": str(copy), "notes": item.notes, "case_item": item.id, "case_status": item.status,
            "case_truth": item.truth or "", "case_mark_note": item.notes}


# -- report and bundle -------------------------------------------------------------------------

def report(room: CaseRoom, user: str, key: str | None) -> dict:
    if not key:
        return {"case_note": case_note("Open a case first.", "error")}
    out_dir = room.scratch(user)
    try:
        made = room.store().report(key, out_dir / "report", user)
    except InputError as exc:
        return _refused(exc)
    stem = safe_file_name(key.rpartition("/")[2])
    pdf, bundle = out_dir / f"{stem}-report.pdf", out_dir / f"{stem}-bundle.zip"
    made.pdf.rename(pdf)
    made.bundle.rename(bundle)
    return {"case_pdf": gr.DownloadButton(value=str(pdf), visible=True),
            "case_bundle": gr.DownloadButton(value=str(bundle), visible=True),
            "case_note": case_note(f"Report made: PDF sha256 {made.pdf_sha256[:16]}..., bundle sha256 "
                                 f"{made.bundle_sha256[:16]}... (recorded in the case's audit log).")}


# -- the API -----------------------------------------------------------------------------------

def api_case_list(room: CaseRoom, request: gr.Request | None) -> dict:
    """`/case_list`: the acting user's cases (own and shared), last changed first."""
    if room.ephemeral:
        return {"store": "ephemeral", "user": None, "cases": [],
                "note": "this server keeps no cases (started without --store DIR)"}
    user = room.user(request, None)
    return {"store": "kept", "user": user,
            "cases": [{"name": c.name, "owner": c.owner, "title": c.title, "items": c.items,
                       "created_utc": c.created_utc, "changed_utc": c.changed_utc,
                       "shared_with": list(c.shared_with)} for c in room.store().list_cases(user)]}


__all__ = ["CaseRoom", "STATUSES", "TRUTH_CHOICES", "CaseAccessError", "TABLE_HEADERS", "LIST_HEADERS"]
