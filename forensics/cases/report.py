"""`case report`: one report.pdf (a cover with the counts and the audit summary, the triage
table, then a page per item drawn from its stored record and its evidence) and one bundle zip
(the evidence, every export, the audit log as JSON lines, a manifest of SHA-256s).

Item pages are drawn from what the case stored, not from a new analysis: the picture is the
kept original, the heatmap the record's 24x24 patch scores on its crop box.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from reportlab.platypus import Spacer

from .._version import __version__
from ..core.errors import InputError
from ..inputs.images import load_image
from ..report import render
from ..report.batch import join_pdfs
from ..report.names import display_name, spreadsheet_safe
from ..report.pages import FULL_WIDTH, Box, Picture, Story, banner, downscaled, grid_table, heading, para, pdf_document
from ..report.wording import MODEL_LIMITS, VERDICT_COLOURS, before_verdict
from . import audit, clip_pages, clips, duplicates

PDF_NAME, BUNDLE_NAME = "report.pdf", "bundle.zip"
STATUS_COLOURS = {"ok": "#1a7f37", "check": "#6e5500", "warning": "#b00020"}
SEEN_BEFORE_SHOWN = 5  # matches named on an item's page, strongest first
TABLE_FIELDS = ("id", "file_name", "sha256", "size", "fake_probability", "verdict", "status", "truth", "group",
                "group_spread", "largest", "best_original", "hints", "c2pa", "notes", "source", "error")


@dataclass(frozen=True)
class Report:
    pdf: Path
    bundle: Path
    pdf_sha256: str
    bundle_sha256: str


def _group_name(item) -> str:
    return f"G{item.group}" if item.group is not None else ""


def _p(item) -> str:
    return "" if item.fake_probability is None else f"{item.fake_probability:.3f}"


def _limits(lines) -> list:
    """What the detector cannot tell, before any verdict and its colour (the record's own lines,
    which name this image's sweep when one was run; the method's line stays with the map)."""
    shown = before_verdict(lines)
    return [para("Read first: what this detector cannot tell", 8.5, bold=True, after=0.02),
            *[para(line, 6.8, bullet=True) for line in shown], Spacer(1, 4)]


def _cover(case, items, entries, verification) -> Story:
    ok = [i for i in items if i.error is None]
    verdicts, statuses = Counter(i.verdict for i in ok), Counter(i.status for i in items)
    truths = Counter(i.truth or "unknown" for i in items)
    groups = {i.group for i in items if i.group is not None}
    story = Story(f"Case report: {display_name(case.name, 50)}",
                  f"case {display_name(case.name, 40)}  \u00b7  forensics {__version__}",
                  subject=f"case {case.name}", keywords=verification.head_hash)
    story.add(para(story.title, 16, bold=True, after=0.05))
    if case.title:
        story.add(para(case.title, 11, after=0.03))
    story.add(para(f"Owner {case.owner}" + (f"; shared with {', '.join(case.shared_with)}" if case.shared_with
                                             else "") + f". Created {case.created_utc[:19]} UTC, last change "
                   f"{case.changed_utc[:19]} UTC.", 9))
    if any(_demo(i) for i in ok):
        story.add(Spacer(1, 6), banner(12))
    story.add(Spacer(1, 4), *_limits(MODEL_LIMITS))
    story.add(heading("Counts"))
    story.add(para(f"{len(items)} items: {len(ok)} analysed ({verdicts['ai-generated']} likely AI-generated, "
                   f"{verdicts['real']} likely real, {verdicts['inconclusive']} inconclusive), "
                   f"{len(items) - len(ok)} unreadable or refused.", 9.5))
    story.add(para(f"Status: {statuses['ok']} ok, {statuses['check']} to check, {statuses['warning']} warning.  "
                   f"Truth: {truths['real']} real, {truths['ai']} AI-generated, {truths['unknown']} unknown.  "
                   f"Near-duplicate groups: {len(groups)}.", 9.5))
    story.add(heading("Chain of custody"))
    actions = Counter(e["action"] for e in entries)
    story.add(para(f"{len(entries)} audit entries from {entries[0]['when_utc'][:19] if entries else '-'} to "
                   f"{entries[-1]['when_utc'][:19] if entries else '-'} UTC, by "
                   f"{', '.join(sorted({e['who'] for e in entries})) or '-'}: "
                   + ", ".join(f"{n} {a}" for a, n in sorted(actions.items())) + ".", 9))
    story.add(para(f"Head of the chain (SHA-256 of the last entry before this report): {verification.head_hash}",
                   7.5, mono=True))
    if verification.ok:
        story.add(para(f"Verified when this report was made: {verification.files_checked} evidence files match "
                       "their SHA-256, every stored record matches its hash, every row matches the log, and the "
                       "chain holds.", 9, colour_="#1a7f37"))
    else:
        story.add(para(f"VERIFICATION FAILED when this report was made ({len(verification.problems)} problems):",
                       9.5, bold=True, colour_="#b00020"))
        story.add(*[para(p.message, 8, bullet=True, colour_="#b00020") for p in verification.problems[:20]])
    story.add(heading("Triage"))
    rows = [("#", "file", "P", "verdict", "status", "truth", "group", "C2PA", "generator hints")]
    colours = [None]
    for i in items:
        group = _group_name(i)
        if group and i.group_spread is not None:
            group += f" \u0394{i.group_spread:.2f}" + (" best" if i.best_original else "")
        name = display_name(i.file_name, 40) + (f" ({clips.label(i.clip)})" if i.clip else "")
        group = group or ("no detail" if i.near_duplicates else "-")
        rows.append((str(i.id), name, _p(i) or "-", i.verdict or "unreadable", i.status, i.truth or "-", group,
                     i.c2pa or "-", i.hints or ""))
        colours.append(VERDICT_COLOURS.get(i.verdict, "#a00000"))
    story.add(grid_table(rows, (0.35, 1.9, 0.45, 0.95, 0.55, 0.4, 0.85, 0.6, 0.92), size=7, right_cols=(0, 2),
                         colours=colours))
    story.add(para("P = P(AI-generated); for a clip, its strongest sampled frame's, and its verdict follows the "
                   "clip rule. Group: near-duplicates (perceptual hashes; a clip's of its strongest frame; 'no "
                   f"detail': {duplicates.TOO_LITTLE_DETAIL}), \u0394 the spread of P across the group, 'best' the "
                   "least-compressed copy (the best original candidate). Generator hints come from metadata anyone "
                   "can remove or forge and never change P.", 7, colour_="0.35"))
    return story


def _demo(item) -> bool:
    return bool(item.record and item.record.get("model", {}).get("demo"))


def _picture(image, record, width: float, height: float) -> Picture:
    """The kept original with the record's heatmap over its crop box (outlined): stored
    scores on stored geometry, drawn without the model."""
    rgb = downscaled(image)
    l, t, r, b = record["crop_box"]
    scores = np.asarray(record["patch_scores"], dtype=np.float64)  # (24, 24)
    sx, sy = rgb.shape[1] / image.width, rgb.shape[0] / image.height
    size = (max(1, round((r - l) * sx)), max(1, round((b - t) * sy)))
    crop = np.asarray(Image.fromarray(rgb).crop((round(l * sx), round(t * sy),
                                                 round(l * sx) + size[0], round(t * sy) + size[1])))
    heat = render.blend(crop, render.colorize(render.upsample(render.heat_grid(scores), size)), 0.5)
    dimmed = (rgb * render.NOT_ANALYSED_DIM).astype(np.uint8)
    return Picture(dimmed, width, height, extent=(image.width, image.height), layers=[(heat, (l, t, r, b))],
                   boxes=[Box(l, t, r, b)])


def _item_story(item, entries) -> Story:
    story = Story(f"Item {item.id}: {display_name(item.file_name, 50)}",
                  f"item {item.id}  \u00b7  sha256 {(item.sha256 or 'none')[:12]}  \u00b7  forensics {__version__}",
                  subject=item.file_name, keywords=item.sha256 or "")
    story.add(para(story.title, 13, bold=True, after=0.04))
    rec = item.record
    if rec is None:
        story.add(para("Not analysed: " + (item.error or "no record"), 10, colour_="#b00020"))
    else:
        if rec.get("model", {}).get("demo"):
            story.add(banner(11), Spacer(1, 4))
        story.add(*_limits(rec.get("limits") or MODEL_LIMITS))
        story.add(para(rec["verdict_text"], 12, bold=True, colour_=VERDICT_COLOURS[rec["verdict"]]))
        if clips.is_clip_record(rec):
            story.add(*clip_pages.flowables(item.evidence_path, rec, _picture))
        else:  # a still: P, the notes, the kept original with its heatmap
            story.add(para(f"P(AI-generated) = {rec['fake_probability']:.3f} (raw "
                           f"{rec['raw_fake_probability']:.3f}); cut-off {rec['threshold']}, inconclusive within "
                           f"\u00b1{rec['inconclusive_margin']:g}", 9))
            story.add(*[para(note, 7.5, bullet=True, colour_="#8a3b00") for note in rec.get("notes", [])])
            try:
                image, _ = load_image(item.evidence_path)
            except (InputError, OSError) as exc:
                story.add(para(f"The kept original could not be drawn: {exc}", 8, colour_="#b00020"))
            else:
                h = min(3.4, FULL_WIDTH * 0.6 * image.height / image.width)  # room for the limits and the log
                story.add(Spacer(1, 6), _picture(image, rec, h * image.width / image.height, h),
                          para("The stored patch scores as a heatmap on the analysed crop (white box); the rest "
                               "dimmed.", 7, colour_="0.35"))
    story.add(heading("Triage"))
    story.add(para(f"Status {item.status}; truth {item.truth or 'unknown'}", 9.5, bold=True,
                   colour_=STATUS_COLOURS.get(item.status, "black")))
    story.add(para("Notes: " + (item.notes or "(none)"), 9))
    if item.group is not None:
        best = (" This is the largest copy." if item.largest else "") + (
            " This is the least-compressed copy: the best original candidate." if item.best_original else "")
        story.add(para(f"Near-duplicate group G{item.group}; P(AI-generated) spread across it "
                       f"{item.group_spread:.3f}." + best
                       + (" Copies whose verdicts disagree show that delivery changed the verdict."
                          if item.group_spread and item.group_spread > 0.1 else ""), 8.5))
    elif item.near_duplicates:
        story.add(para(f"Near-duplicates: {item.near_duplicates} (a flat, blank or tiny picture: its perceptual "
                       "hashes would match any other such picture), so it is in no group.", 8.5))
    if item.seen_before:  # memory across cases: only the cases this report's analyst may see
        shown = item.seen_before[:SEEN_BEFORE_SHOWN]
        more = len(item.seen_before) - len(shown)
        story.add(para("Seen before in other cases: " + "; ".join(m.describe() for m in shown)
                       + (f"; and {more} more" if more else "") + ".", 8.5))
    story.add(heading("Evidence"))
    meta = (rec or {}).get("metadata") or {}
    rows = [("File", item.file_name), ("Source", item.source), ("SHA-256", item.sha256 or "none (not read)"),
            ("Bytes", f"{item.size:,}" if item.size is not None else "-"),
            ("Pixels", f"{item.width}\u00d7{item.height}" if item.width else "-"),
            ("Generator hints", item.hints or "none found (absence of metadata proves nothing)"),
            ("C2PA", (meta.get("c2pa") or {}).get("trust") or item.c2pa or "-"),
            ("Added (UTC)", item.added_utc[:19])]
    if rec:
        m = rec["model"]
        rows += [("Model", f"{m['source']} {m.get('revision') or ''}".strip()),
                 ("Weights SHA-256", m.get("weights_sha256") or "-"), ("Reproduce", rec["reproduce"])]
    story.add(grid_table(rows, (1.25, FULL_WIDTH - 1.25), header=False, size=7.5))
    story.add(heading("Its audit entries"))
    story.add(grid_table([(str(e["seq"]), e["when_utc"][:19], e["who"], e["action"],
                           audit.canonical(_short(e["payload"]))[:300]) for e in entries],
                         (0.35, 1.2, 0.7, 0.85, FULL_WIDTH - 3.1), header=False, size=6.5, mono_cols=(4,)))
    return story


def _short(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k not in ("model", "settings")}


class _ItemView:
    """An Item with its record, for the pages."""

    def __init__(self, item, record):
        self.item, self.record = item, record

    def __getattr__(self, name):
        return getattr(self.item, name)


def _table_csv(items) -> bytes:
    buf = io.StringIO()
    out = csv.DictWriter(buf, TABLE_FIELDS)
    out.writeheader()
    for i in items:
        out.writerow({k: spreadsheet_safe(_group_name(i) if k == "group" else getattr(i, k)) for k in TABLE_FIELDS})
    return buf.getvalue().encode("utf-8")


def write_report(store, name: str, out_dir: Path, user: str) -> Report:
    case = store.case(name, user)
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = [n for n in (PDF_NAME, BUNDLE_NAME) if (out_dir / n).exists()]
    if clash:
        raise InputError(f"{out_dir} already holds {', '.join(clash)}; reports are never overwritten. "
                         "Choose a new --out folder.")
    verification = store.verify(name, user)
    views = [_ItemView(i, store.record(name, i.id, user)) for i in store.items(name, user)]
    entries = store.audit_log(name, user)
    by_item: dict = {}
    for e in entries:
        by_item.setdefault(e["item"], []).append(e)

    pdf_path = out_dir / PDF_NAME

    def parts():  # one document per item, made as the join asks: one item's pictures in memory at a time
        yield io.BytesIO(pdf_document(_cover(case, views, entries, verification))), "Cover and triage"
        for v in views:
            yield (io.BytesIO(pdf_document(_item_story(v, by_item.get(v.id, [])))),
                   display_name(f"{v.id} {v.file_name}", 60))

    join_pdfs(pdf_path, parts(), {"/Title": f"Case report: {case.name}", "/Creator": f"forensics {__version__}"})

    files: dict[str, bytes | Path] = {PDF_NAME: pdf_path, "items.csv": _table_csv(views),
                                      "audit.jsonl": "".join(json.dumps(e, ensure_ascii=False) + "\n"
                                                             for e in entries).encode("utf-8")}
    for v in views:
        if v.record is not None:
            files[f"exports/item-{v.id}.json"] = json.dumps(v.record, ensure_ascii=False, indent=1).encode("utf-8")
        if clips.is_clip_record(v.record):  # the clip export's timeline, as `analyze` writes it
            files[f"exports/item-{v.id}-timeline.csv"] = clips.timeline_csv(v.record)
        if v.sha256 and v.evidence_path.is_file():
            files[f"evidence/{v.sha256}"] = v.evidence_path
    bundle_path = out_dir / BUNDLE_NAME
    manifest = _write_bundle(bundle_path, files, case, views)
    report = Report(pdf_path, bundle_path, _sha(pdf_path), _sha(bundle_path))
    with store._write(case.id) as conn:
        audit.append(conn, case.id, user, "report exported",
                     {"pdf_sha256": report.pdf_sha256, "bundle_sha256": report.bundle_sha256,
                      "manifest_sha256": hashlib.sha256(manifest).hexdigest(), "items": len(views),
                      "verified": verification.ok})
    return report


def _write_bundle(path: Path, files: dict, case, views) -> bytes:
    """The zip; its manifest.json lists every other member's SHA-256 and each evidence file's name."""
    listing = []
    with zipfile.ZipFile(path, "x") as z:
        for arc, content in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            kind = zipfile.ZIP_STORED if arc.startswith("evidence/") or arc.endswith(".pdf") else zipfile.ZIP_DEFLATED
            z.writestr(arc, data, compress_type=kind)
            listing.append({"path": arc, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
        names = {f"evidence/{v.sha256}": {"item": v.id, "file_name": v.file_name, "source": v.source}
                 for v in views if v.sha256}
        for entry in listing:
            entry.update(names.get(entry["path"], {}))
        manifest = json.dumps({"case": case.name, "owner": case.owner, "forensics": __version__,
                               "files": listing}, ensure_ascii=False, indent=1).encode("utf-8")
        z.writestr("manifest.json", manifest)
        z.writestr("manifest.sha256", "".join(f"{e['sha256']}  {e['path']}\n" for e in listing))
    return manifest


def _sha(path: Path) -> str:
    from .evidence import sha256_file
    return sha256_file(path)
