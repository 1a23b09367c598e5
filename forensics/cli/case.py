"""`forensics case ...`: cases kept with a chain of custody (forensics.cases)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..explain import registry
from ..cases import STATUSES, TRUTHS, CaseStore, acting_user, memory
from ..cases.store import ENV_DB, ENV_STORE, ENV_USER
from ..core.errors import InputError, ModelUnavailableError
from ..core.untrusted import printable
from ..explain.rollout import HEAD_FUSIONS
from ..model.loading import DEMO_WARNING
from .options import _pem_file, _positive, add_model_arguments, load_detector

EPILOG = """\
the store (--store DIR, else $FORENSICS_STORE, else your user data folder) holds:
  cases.db            the database (SQLite), unless --db URL (or $FORENSICS_DB) names a server,
                      e.g. postgresql+psycopg://user@host/forensics
  evidence/ab/ab...   every original, once, named by its SHA-256, read-only

examples:
  forensics case new exhibit-7 --title "Reported uploads, March"
  forensics case add exhibit-7 photos/ bundle.zip --demo
  forensics case show exhibit-7
  forensics case mark exhibit-7 3 --status warning --note "re-encoded twice" --truth ai
  forensics case report exhibit-7 --out exhibit-7-report
  forensics case verify exhibit-7            # exit 1 when anything was changed
  forensics case similar exhibit-7 3 --all-cases   # more like item 3, in every case you may see
  forensics case families exhibit-7          # visually and forensically similar families
  forensics evaluate --case exhibit-7 --out exhibit-7-eval
"""


def store_arguments(p: argparse.ArgumentParser) -> None:
    """--store, --db and --user: shared by every case and user command."""
    p.add_argument("--store", type=Path, metavar="DIR",
                   help=f"the case store folder (default: ${ENV_STORE}, else the user data folder)")
    p.add_argument("--db", metavar="URL",
                   help=f"a SQLAlchemy database URL instead of DIR/cases.db (default: ${ENV_DB})")
    p.add_argument("--user", metavar="NAME", help=f"who is acting (default: ${ENV_USER}, else your login name)")


def open_store(args) -> CaseStore:
    return CaseStore.open(args.store, args.db)


def add_parser(commands) -> argparse.ArgumentParser:
    p = commands.add_parser("case", help="cases: keep, analyse, triage, report and verify many items",
                            description="Cases: many items kept byte for byte with a tamper-evident chain of "
                                        "custody.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="case_command", metavar="ACTION", required=True)

    def action(name, help_, handler):
        q = sub.add_parser(name, help=help_, description=help_)
        store_arguments(q)
        q.set_defaults(handler=_guarded(handler))
        return q

    q = action("new", "create a case", new)
    q.add_argument("name", metavar="NAME")
    q.add_argument("--title", default="", metavar="T")
    q.add_argument("--owner", metavar="USER", help="who owns it (default: --user)")

    q = action("add", "keep and analyse files, folders and zip archives", add)
    q.add_argument("name", metavar="NAME")
    q.add_argument("paths", nargs="+", metavar="FILES_OR_FOLDERS")
    add_model_arguments(q)
    q.add_argument("--method", choices=registry.names(), default=registry.BASELINE)
    q.add_argument("--head-fusion", choices=HEAD_FUSIONS, default="mean")
    q.add_argument("--batch-size", type=_positive, default=8, metavar="N", help="images per forward pass (default: 8)")
    q.add_argument("--c2pa-trust", type=_pem_file, metavar="FILE.pem", help="PEM trust anchors for C2PA")
    q.add_argument("--robustness", action="store_true",
                   help="also re-size and re-encode each item along the delivery path and record whether the "
                        "verdict survives (about 20-30 more forward passes per item; see analyze --robustness)")
    q.add_argument("--local-scan", action="store_true",
                   help="also scan each item at native resolution for one AI-edited region (about one forward "
                        "pass per 384x384 window; see analyze --local-scan)")

    q = action("show", "list every item of a case", show)
    q.add_argument("name", metavar="NAME")
    q.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    q.add_argument("--removed", action="store_true", help="also list removed items")

    q = action("similar", "the items nearest to one item by the model's embedding", similar)
    q.add_argument("name", metavar="NAME")
    q.add_argument("item", metavar="ITEM", help="the item number `case show` gives")
    q.add_argument("--all-cases", action="store_true", help="search every case you own or were given, not only NAME")
    q.add_argument("--top", type=_positive, default=10, metavar="K", help="how many (default: 10)")
    q.add_argument("--min-similarity", type=_cosine, default=memory.SIMILAR_COSINE, metavar="COS",
                   help=f"cosine from which an item is called similar (default: {memory.SIMILAR_COSINE}; "
                        "docs/CASES.md)")
    q.add_argument("--json", action="store_true", help="one JSON document instead of the table")

    q = action("families", "the case's items in visually and forensically similar families", families)
    q.add_argument("name", metavar="NAME")
    q.add_argument("--distance", type=float, default=memory.FAMILY_DISTANCE, metavar="D",
                   help=f"average-linkage cosine distance below which families merge (default: "
                        f"{memory.FAMILY_DISTANCE}; docs/CASES.md)")
    q.add_argument("--json", action="store_true", help="one JSON document instead of the list")

    q = action("mark", "set an item's status, note or truth", mark)
    q.add_argument("name", metavar="NAME")
    q.add_argument("item", metavar="ITEM", help="the item number `case show` gives")
    q.add_argument("--status", choices=STATUSES)
    q.add_argument("--note", metavar="T", help="the item's note (replaces it; the log keeps the old one)")
    q.add_argument("--truth", choices=TRUTHS, help="what the item really is, once known")

    q = action("report", "write report.pdf and bundle.zip", report)
    q.add_argument("name", metavar="NAME")
    q.add_argument("--out", type=Path, required=True, metavar="DIR")

    q = action("verify", "check every evidence file, record and audit entry (exit 1 on any change)", verify)
    q.add_argument("name", metavar="NAME")

    action("list", "the cases you own or that are shared with you", list_)

    q = action("remove", "take an item out of a case (its evidence stays until purge)", remove)
    q.add_argument("name", metavar="NAME")
    q.add_argument("item", metavar="ITEM")

    q = action("purge", "delete the evidence of removed items", purge)
    q.add_argument("name", metavar="NAME")
    q.add_argument("--yes", action="store_true", help="required: evidence deleted is gone")

    q = action("share", "open a case to another user", share)
    q.add_argument("name", metavar="NAME")
    q.add_argument("with_user", metavar="USER")
    return p


def _guarded(handler):
    def run(args, parser) -> int:
        try:
            return handler(args, parser, acting_user(args.user))
        except (InputError, ModelUnavailableError) as exc:
            print(f"error: {printable(str(exc))}", file=sys.stderr)
            return 1
    return run


def new(args, parser, user) -> int:
    with open_store(args) as store:
        case = store.create_case(args.name, owner=args.owner or user, title=args.title, by=user)
    print(f"Created case {case.name} (owner {case.owner}) in {args.store or 'the default store'}.")
    return 0


def add(args, parser, user) -> int:
    from tqdm import tqdm
    if args.demo and (args.revision or args.preprocessing != "training"):
        parser.error("--revision and --preprocessing hub need real weights, not --demo")
    with open_store(args) as store:
        store.case(args.name, user)  # refuse before loading a model
        det = load_detector(args)
        if det.model_info.demo:
            print(f"warning: {DEMO_WARNING.lower()}", file=sys.stderr)
        with tqdm(unit="file", desc="adding", file=sys.stderr, dynamic_ncols=True) as bar:
            result = store.add_files(args.name, args.paths, det, user, progress=lambda done, source: bar.update(1),
                                     batch_size=args.batch_size, c2pa_trust=args.c2pa_trust, method=args.method,
                                     head_fusion=args.head_fusion, robustness=args.robustness,
                                     local_scan=args.local_scan)
    for item_id, source, error in result.added:
        if error:
            print(printable(f"item {item_id} {source}: not analysed: {error}"), file=sys.stderr)
    for source, item_id in result.duplicates:
        print(printable(f"duplicate: {source} is already item {item_id} (same SHA-256); not added again"))
    for item_id, source, m in result.notable:
        print(printable(f"NOTABLE: item {item_id} {source}: seen before in case {m.case} item {m.item}, "
                        f"{_marked(m)} ({m.relation}" + ("" if m.similarity is None else f", cosine {m.similarity:.4f}")
                        + ")"))
    print(f"Added {len(result.added)} item(s): {result.analysed} analysed, "
          f"{len(result.added) - result.analysed} unreadable or refused (kept with the reason); "
          f"{len(result.duplicates)} duplicate(s).")
    return 0


def _cell(v, width):
    text = printable("" if v is None else str(v))
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def show(args, parser, user) -> int:
    with open_store(args) as store:
        case = store.case(args.name, user)
        rows = store.items(args.name, user, include_removed=args.removed)
    if args.json:
        json.dump({"case": case.name, "owner": case.owner, "title": case.title,
                   "items": [i.to_json() for i in rows]}, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    print(f"case {case.name} ({case.owner}): {len(rows)} item(s)")
    print(f"{'id':>5}  {'file':<28} {'sha256':<12} {'P':>6} {'verdict':<13} {'status':<7} {'truth':<5} "
          f"{'group':<12} {'seen before':<14} {'c2pa':<8} {'robustness':<12} {'local scan':<12} hints")
    for i in rows:
        p = "" if i.fake_probability is None else f"{i.fake_probability:.3f}"
        group = "" if i.group is None else f"G{i.group} \u0394{i.group_spread:.2f}" + ("*" if i.best_original else "")
        group = "no detail" if i.near_duplicates else group  # too flat or tiny to compare: in no group
        name = i.file_name if i.clip is None else f"{i.file_name} (clip)"
        print(f"{i.id:>5}  {_cell(name, 28):<28} {(i.sha256 or '-')[:12]:<12} {p:>6} "
              f"{_cell(i.verdict or 'unreadable', 13):<13} {i.status:<7} {i.truth or '-':<5} {group:<12} "
              f"{_cell(_seen(i.seen_before), 14):<14} "
              f"{_cell(i.c2pa, 8):<8} {_cell(i.robustness or '-', 12):<12} {_cell(i.local_scan or '-', 12):<12} "
              f"{_cell(i.hints, 40)}" + ("  [removed]" if i.removed else ""))
        if i.reasons:  # why the call is not P's own, under its row
            print(f"       why {i.verdict}: {_cell(i.reasons, 104)}")
        if i.error:
            print(f"       {_cell(i.error, 110)}")
    print("P = P(AI-generated); group: near-duplicates, \u0394 = spread of P, * = best original candidate, "
          "no detail = too flat or tiny to compare; seen before: CASE#ITEM in your other cases (AI: marked AI-generated there, warn: status warning)")
    return 0


def _marked(m) -> str:
    said = (["marked AI-generated"] if m.truth == "ai" else []) + (["status warning"] if m.status == "warning" else [])
    return ", ".join(said) or "not marked"


def _seen(matches) -> str:
    """The strongest match, its marks, and how many more: "A#3 AI +2"."""
    if not matches:
        return "-"
    m = matches[0]
    marks = (" AI" if m.truth == "ai" else "") + (" warn" if m.status == "warning" else "")
    return f"{m.case}#{m.item}{marks}" + (f" +{len(matches) - 1}" if len(matches) > 1 else "")


def _cosine(text_: str) -> float:
    try:
        value = float(text_)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text_!r} is not a number") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a cosine is between -1 and 1, got {value}")
    return value


def similar(args, parser, user) -> int:
    with open_store(args) as store:
        found = store.similar(args.name, args.item, user, all_cases=args.all_cases, top=args.top,
                              threshold=args.min_similarity)
    if args.json:
        json.dump({"case": args.name, "item": int(args.item), "all_cases": args.all_cases,
                   "min_similarity": args.min_similarity, "similar": [m.to_json() for m in found]},
                  sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    where = "in the cases you may see" if args.all_cases else f"in case {args.name}"
    if not found:
        print(printable(f"no other item {where} to compare item {args.item} with (same model and transform)"))
        return 0
    print(printable(f"nearest to item {args.item} {where}, by cosine of the model's embedding:"))
    print(f"{'case':<20} {'item':>5}  {'cosine':>7} {'relation':<15} {'P':>6} {'truth':<5} {'status':<7} file")
    for m in found:
        p = "" if m.fake_probability is None else f"{m.fake_probability:.3f}"
        print(f"{_cell(m.case, 20):<20} {m.item:>5}  {m.similarity:>7.4f} {m.relation:<15} {p:>6} "
              f"{m.truth or '-':<5} {m.status:<7} {_cell(m.file_name, 40)}")
    print(f"similar: cosine >= {args.min_similarity}; nearest: among the closest but below it. Similar means "
          "alike to this model, not made by the same generator.")
    return 0


def families(args, parser, user) -> int:
    with open_store(args) as store:
        found = store.families(args.name, user, distance_threshold=args.distance)
    if args.json:
        json.dump({"case": args.name, "distance_threshold": args.distance,
                   "families": [f.to_json() for f in found]}, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    several = [f for f in found if len(f.items) > 1]
    print(printable(f"case {args.name}: {len(several)} famil{'y' if len(several) == 1 else 'ies'} of two or more, "
                    f"{len(found) - len(several)} item(s) alone"))
    for f in several:
        spread = "" if f.spread is None else f"P {f.p_min:.2f}-{f.p_max:.2f}"
        truths = ", ".join(f"{n} {t}" for t, n in sorted(f.truths.items())) or "no truth marked"
        print(f"  family {f.id}: {len(f.items)} items {list(f.items)}  {spread}  ({truths})")
    print("Visually and forensically similar families by the model's embedding: never a statement about which "
          "generator made them (docs/CASES.md).")
    return 0


def mark(args, parser, user) -> int:
    if args.status is None and args.note is None and args.truth is None:
        parser.error("give --status, --note or --truth")
    with open_store(args) as store:
        changed = store.mark(args.name, args.item, user, status=args.status, note=args.note, truth=args.truth)
    print(f"item {args.item}: " + (f"changed {', '.join(changed)}" if changed else "nothing changed"))
    return 0


def report(args, parser, user) -> int:
    with open_store(args) as store:
        done = store.report(args.name, args.out, user)
    print(f"Report: {done.pdf}\nBundle: {done.bundle} (sha256 {done.bundle_sha256})")
    return 0


def verify(args, parser, user) -> int:
    with open_store(args) as store:
        v = store.verify(args.name, user)
    for p in v.problems:
        where = f"item {p.item}" if p.item is not None else "case"
        print(printable(f"CHANGED {where}: {p.message}"))
    print(f"{'OK' if v.ok else 'FAILED'}: {v.items_checked} item(s), {v.files_checked} evidence file(s), "
          f"{v.entries_checked} audit entries checked; chain head {v.head_hash}")
    return 0 if v.ok else 1


def list_(args, parser, user) -> int:
    with open_store(args) as store:
        found = store.list_cases(user)
    if not found:
        print(f"{user} has no cases yet: forensics case new NAME")
    for c in found:
        whose = "" if c.owner == user else f" (shared by {c.owner})"
        print(printable(f"{c.name}{whose}: {c.items} item(s), last change {c.changed_utc[:19]} UTC"
                        + (f" - {c.title}" if c.title else "")))
    return 0


def remove(args, parser, user) -> int:
    with open_store(args) as store:
        store.remove(args.name, args.item, user)
    print(f"item {args.item} removed (its evidence stays until `forensics case purge {args.name} --yes`)")
    return 0


def purge(args, parser, user) -> int:
    if not args.yes:
        parser.error("purge deletes evidence for good: add --yes")
    with open_store(args) as store:
        gone = store.purge(args.name, user)
    print(f"deleted {len(gone)} evidence file(s) of removed items")
    return 0


def share(args, parser, user) -> int:
    with open_store(args) as store:
        store.share(args.name, args.with_user, user)
    print(f"case {args.name} is open to {args.with_user}")
    return 0
