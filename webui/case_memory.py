"""The Case tab's memory across cases (forensics.cases.memory): the "seen before" cell, the
NOTABLE lines after an intake, "More like this" and the case's families."""
from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from forensics import InputError
from forensics.cases import memory

from .cards import case_note

if TYPE_CHECKING:
    from .case import CaseRoom


def seen_cell(matches) -> str:
    """The "seen before" cell: the strongest match, e.g. "case A #3, near-duplicate, marked
    AI-generated (+2 more)"; blank when the item was met nowhere else."""
    if not matches:
        return ""
    m = matches[0]
    words = ", ".join(filter(None, [f"case {m.case} #{m.item}", m.relation, m.marked]))
    return words + (f" (+{len(matches) - 1} more)" if len(matches) > 1 else "")


def notable_note(notable) -> str:
    """The Autopsy "notable" pattern on the page: one line per new item met in another case where it
    was marked AI-generated or "warning" (its strongest such match; `AddResult.notable`)."""
    first = {}
    for item_id, source, m in notable:
        first.setdefault(item_id, (source, m))
    return "".join(case_note(f"NOTABLE: item {item_id} ({Path(source).name}) seen before in case {m.case} item "
                           f"{m.item}, {m.marked} ({m.relation}"
                           + ("" if m.similarity is None else f", cosine {m.similarity:.4f}") + ").", "notable")
                   for item_id, (source, m) in first.items())


def _html_table(caption: str, headers: list[str], rows: list[list]) -> str:
    """An escaped HTML table with a caption (screen readers read it as the table's name)."""
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return (f'<table class="fx-case-memory"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _p(value) -> str:
    return "" if value is None else f"{value:.3f}"


def similar_items(room: CaseRoom, user: str, key: str | None, item_id, all_cases: bool = False,
                  top: int = 10) -> dict:
    """"More like this" for the selected item: the `top` nearest items by the model's embedding, in
    the case or (`all_cases`) in every case this user may see, as a table."""
    if not key:
        return {"case_memory": case_note("Open a case first.", "error")}
    if item_id in (None, ""):
        return {"case_memory": case_note("Pick an item first: click its row in the table, or choose it under "
                                       "\"Item to mark\".", "error")}
    try:
        found = room.store().similar(key, item_id, user, all_cases=bool(all_cases), top=top)
    except InputError as exc:
        return {"case_memory": case_note(str(exc), "error")}
    where = "in all the cases you may see" if all_cases else "in this case"
    if not found:
        return {"case_memory": case_note(f"No other item {where} to compare item {item_id} with (same model and "
                                       "input transform).")}
    rows = [[m.case, m.item, m.file_name, _p(m.fake_probability), m.truth or "", m.status, m.relation,
             "" if m.similarity is None else f"{m.similarity:.4f}"] for m in found]
    table = _html_table(f"More like item {item_id}, {where}: nearest first, by cosine of the model's embedding",
                        ["case", "item", "file", "P(AI)", "truth", "status", "relation", "similarity"], rows)
    return {"case_memory": table + case_note(f"similar: cosine >= {memory.SIMILAR_COSINE}; nearest: among the "
                                           "closest, but below it. Alike to this model, not made by the same "
                                           "generator.")}


def families_view(room: CaseRoom, user: str, key: str | None) -> dict:
    """The open case's visually and forensically similar families (never generator attribution)."""
    if not key:
        return {"case_memory": case_note("Open a case first.", "error")}
    try:
        found = room.store().families(key, user)
        names = {i.id: i.file_name for i in room.store().items(key, user, seen_before=False)}
    except InputError as exc:
        return {"case_memory": case_note(str(exc), "error")}
    several = [f for f in found if len(f.items) > 1]
    alone = len(found) - len(several)
    if not several:
        return {"case_memory": case_note(f"No visually and forensically similar families in this case: "
                                       f"{alone} analysed item(s), each alone.")}
    rows = [[f.id, len(f.items), ", ".join(f"#{i} {names.get(i, '')}".strip() for i in f.items),
             "" if f.p_min is None else f"{f.p_min:.3f}-{f.p_max:.3f} (spread {f.spread:.3f})",
             ", ".join(f"{n} {'AI-generated' if t == 'ai' else t}" for t, n in sorted(f.truths.items()))
             or "none marked"] for f in several]
    table = _html_table(f"Visually and forensically similar families: {len(several)} of two or more items, "
                        f"{alone} item(s) alone", ["family", "items", "members", "P(AI) spread", "truths known"],
                        rows)
    return {"case_memory": table + case_note("Items the model represents alike (embedding cosine, average linkage, "
                                           f"distance below {memory.FAMILY_DISTANCE}). A family is never a "
                                           "statement about which generator made its pictures (docs/CASES.md).")}
