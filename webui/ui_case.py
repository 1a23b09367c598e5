"""The Case tab: the analyst's cases, many files dropped at once, a triage table, marks, the
case report; a row clicked opens that item in the Image tab.

`CaseTab(room)` has the tab modules' `create_ui(ui)` and `create_event_handlers(ui, detector)`,
bound to the room (the store and how users are known), plus `on_load(app, ui)` for the page
load. The handlers are in `case`; every wrapper here names the acting user from the request.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from forensics import InputError
from forensics.cases import STATUSES

from . import case, case_memory
from .cards import case_note
from .page import PRIVATE, Page, html_panel

# After a row is opened: show the Image tab and press its Analyze button, so the item runs
# through exactly the chain an analyst's own click runs (verdict, views, deep check if on).
# Focus goes to the Image tab's name, so a keyboard user goes on from the top of the item's analysis.
OPEN_IN_IMAGE_TAB = """() => {
  const tab = document.querySelector('#tab-image-button');
  tab?.click();
  tab?.focus();
  setTimeout(() => document.querySelector('#analyze-btn')?.click(), 50);
}"""
# Single keys on the focused row of the triage table (the keys panel's js_on_load).
TRIAGE_JS = (Path(__file__).resolve().parent / "triage.js").read_text(encoding="utf-8")
# Not a secret: the browser keeps only the last open case's name, and reopening it is checked.
LAST_CASE_KEY = "forensics-last-case"


class CaseTab:
    def __init__(self, room: case.CaseRoom):
        self.room = room

    def create_ui(self, ui: Page) -> None:
        ui["case_visitor"] = gr.State(None, delete_callback=self.room.forget_visitor)
        ui["case_open"] = gr.State(None)  # OWNER/NAME of the open case
        ui["case_last"] = gr.BrowserState(None, storage_key=LAST_CASE_KEY, secret=LAST_CASE_KEY)
        with gr.Tab("Case", elem_id="tab-case"):
            ui["case_banner"] = html_panel("", "case-banner")
            with gr.Row(equal_height=False):
                with gr.Column(scale=2, min_width=300):
                    ui["case_list"] = gr.Dataframe(headers=case.LIST_HEADERS, interactive=False, max_height=260,
                                                   label="Your cases (own and shared): click one to open it",
                                                   elem_id="case-list")
                    ui["case_pick"] = gr.Dropdown([], label="Open a case", elem_id="case-pick")
                    with gr.Row():
                        ui["case_new_name"] = gr.Textbox(label="New case name", elem_id="case-new-name",
                                                         max_length=200)
                        ui["case_new_title"] = gr.Textbox(label="Title (optional)", elem_id="case-new-title",
                                                          max_length=500)
                    ui["case_create_btn"] = gr.Button("Create case", elem_id="case-create")
                with gr.Column(scale=3, min_width=340):
                    ui["case_heading"] = gr.Markdown("No case open.", elem_id="case-heading")
                    ui["case_files"] = gr.File(file_count="multiple", label="Drop pictures, clips or a zip into "
                                               "the case (each kept byte for byte, then analysed)", elem_id="case-files")
                    ui["case_robust"] = gr.Checkbox(False, label="Also test each item along the delivery path "
                                                    "(re-sized and re-encoded copies: about 25 more passes each)",
                                                    elem_id="case-robust")
                    ui["case_note"] = html_panel("", "case-note")
            with gr.Row():
                ui["case_filter_col"] = gr.Dropdown(case.FILTER_COLUMNS, value=case.ANY_COLUMN, label="Filter on",
                                                    elem_id="case-filter-col", scale=1)
                ui["case_filter"] = gr.Textbox(label="Filter: text the cell contains, or on id and P(AI) a "
                                                     "comparison such as >0.5", elem_id="case-filter", scale=3)
            ui["case_keys"] = gr.HTML(case.keys_panel(), js_on_load=TRIAGE_JS, elem_id="case-keys")
            ui["case_table"] = gr.Dataframe(
                headers=case.TABLE_HEADERS, datatype=case.TABLE_TYPES, interactive=False, max_height=520,
                label="Triage: click a column to sort, a row to open the item in the Image tab",
                elem_id="case-table", column_widths=["76px", "52px", "180px", "72px", "130px", "120px", "80px",
                                                     "120px", "120px", "80px", "70px", "200px"])
            with gr.Row(equal_height=False):
                ui["case_item"] = gr.Dropdown([], label="Item to mark", elem_id="case-item", scale=2)
                ui["case_status"] = gr.Radio(list(STATUSES), value="check", label="Status", elem_id="case-status",
                                             scale=2)
                ui["case_truth"] = gr.Radio(case.TRUTH_CHOICES, value="", label="Truth, once known",
                                            elem_id="case-truth", scale=2)
                ui["case_mark_note"] = gr.Textbox(label="Note", elem_id="case-mark-note", scale=3, max_length=4000)
                ui["case_mark_btn"] = gr.Button("Save mark", elem_id="case-mark", scale=1)
            with gr.Row(equal_height=False):  # memory across cases, for the item picked above
                ui["case_similar_btn"] = gr.Button("More like this", elem_id="case-similar", scale=1)
                ui["case_all_cases"] = gr.Checkbox(False, label="Search all my cases", elem_id="case-all-cases",
                                                   scale=1)
                ui["case_families_btn"] = gr.Button("Families in this case", elem_id="case-families", scale=1)
            ui["case_memory"] = html_panel("", "case-memory")
            with gr.Row():
                ui["case_report_btn"] = gr.Button("Make the case report and bundle", elem_id="case-report")
                ui["case_pdf"] = gr.DownloadButton("Download report (PDF)", visible=False, elem_id="case-pdf")
                ui["case_bundle"] = gr.DownloadButton("Download bundle (zip)", visible=False, elem_id="case-bundle")
            with gr.Column(visible=False):  # the API: /case_list
                ui["case_api_result"] = gr.JSON(label="cases")
                ui["case_api_btn"] = gr.Button("case_list")

    def create_event_handlers(self, ui: Page, detector) -> None:
        room = self.room
        filt = ui.each("case_filter_col", "case_filter")
        opened = ui.each("case_open", "case_last", "case_heading", "case_table", "case_pdf", "case_bundle",
                         "case_item", "case_pick")
        listing = ui.each("case_list", "case_pick")
        note = [ui["case_note"]]

        def create(visitor, name, title, request: gr.Request):
            made = case.create_case(room, room.user(request, visitor), name, title)
            return ui.out({**made, **cleared} if "case_open" in made else made)  # refused: still the same case

        # Opening another case clears the memory panel: its lists belong to the case left behind.
        cleared = {"case_memory": ""}

        ui["case_create_btn"].click(create, ui.each("case_visitor", "case_new_name", "case_new_title"),
                                    [*opened, *note, *ui.each("case_new_name", "case_new_title", "case_memory")],
                                    **PRIVATE).then(self._relist(ui), [ui["case_visitor"], ui["case_open"]],
                                                    listing, **PRIVATE)

        def pick(visitor, key, column, text, request: gr.Request):
            try:
                return ui.out({**case.open_case(room, room.user(request, visitor), key, column, text), **cleared})
            except InputError as exc:  # a case this user may not see, or a name that is ambiguous
                return ui.out({"case_note": case_note(str(exc), "error")})

        switched = [*opened, *note, ui["case_memory"]]
        ui["case_pick"].input(pick, ui.each("case_visitor", "case_pick", *filt), switched, **PRIVATE)

        def pick_listed(visitor, column, text, evt: gr.SelectData, request: gr.Request):
            name, owner = (evt.row_value or [None, None])[:2]
            return pick(visitor, f"{owner}/{name}" if name else None, column, text, request)

        ui["case_list"].select(pick_listed, ui.each("case_visitor", *filt), switched, **PRIVATE)

        def add(visitor, key, paths, column, text, sweep, request: gr.Request, progress=gr.Progress()):
            return ui.out(case.add_files(room, room.user(request, visitor), key, paths, detector, progress,
                                         column, text, robustness=bool(sweep)))

        ui["case_files"].upload(add, ui.each("case_visitor", "case_open", "case_files", *filt, "case_robust"),
                                [*opened, *note, ui["case_files"]], **PRIVATE).then(
            self._relist(ui), [ui["case_visitor"], ui["case_open"]], listing, **PRIVATE)

        def refilter(visitor, key, column, text, request: gr.Request):
            return ui.out(case.filter_table(room, room.user(request, visitor), key, column, text))

        for box in filt:
            box.change(refilter, ui.each("case_visitor", "case_open", *filt), [ui["case_table"], *note], **PRIVATE)

        marks = ui.each("case_status", "case_truth", "case_mark_note")

        def pick_item(visitor, key, item_id, request: gr.Request):
            return ui.out(case.pick_item(room, room.user(request, visitor), key, item_id) or gr.skip())

        ui["case_item"].input(pick_item, ui.each("case_visitor", "case_open", "case_item"), [*marks, *note],
                              **PRIVATE)

        def mark(visitor, key, item_id, status, truth, text_note, column, text, request: gr.Request):
            return ui.out(case.mark(room, room.user(request, visitor), key, item_id, status, truth, text_note,
                                    column, text))

        ui["case_mark_btn"].click(mark, ui.each("case_visitor", "case_open", "case_item", *marks, *filt),
                                  [*opened, *note], **PRIVATE).then(
            self._relist(ui), [ui["case_visitor"], ui["case_open"]], listing, **PRIVATE)

        def key_act(visitor, key, column, text, evt: gr.EventData, request: gr.Request):
            data = evt._data or {}  # what triage.js sent: the key and the focused row's item id
            pressed, item_id = str(data.get("key", "")), data.get("item")
            return ui.out(case.key_act(room, room.user(request, visitor), key, item_id, pressed, column, text))

        ui["case_keys"].submit(key_act, ui.each("case_visitor", "case_open", *filt),
                               [*opened, *note, ui["case_keys"], *marks], **PRIVATE).then(
            self._relist(ui), [ui["case_visitor"], ui["case_open"]], listing, **PRIVATE)

        def open_item(visitor, key, evt: gr.SelectData, request: gr.Request):
            return ui.out(case.open_item(room, room.user(request, visitor), key, evt.row_value))

        ui["case_table"].select(open_item, ui.each("case_visitor", "case_open"),
                                ui.each("image", "notes", "case_item", *marks), **PRIVATE).success(
            None, js=OPEN_IN_IMAGE_TAB, **PRIVATE)

        def more_like_this(visitor, key, item_id, all_cases, request: gr.Request):
            return ui.out(case_memory.similar_items(room, room.user(request, visitor), key, item_id, all_cases))

        ui["case_similar_btn"].click(more_like_this, ui.each("case_visitor", "case_open", "case_item",
                                                             "case_all_cases"), [ui["case_memory"]], **PRIVATE)

        def families(visitor, key, request: gr.Request):
            return ui.out(case_memory.families_view(room, room.user(request, visitor), key))

        ui["case_families_btn"].click(families, ui.each("case_visitor", "case_open"), [ui["case_memory"]],
                                      **PRIVATE)

        def make_report(visitor, key, request: gr.Request):
            return ui.out(case.report(room, room.user(request, visitor), key))

        ui["case_report_btn"].click(make_report, ui.each("case_visitor", "case_open"),
                                    [*ui.each("case_pdf", "case_bundle"), *note], **PRIVATE)

        def case_list(request: gr.Request):
            """The cases of the logged-in analyst: their own and those shared with them, last changed first.

            Returns JSON: store ("kept", or "ephemeral" when this server keeps no cases), user, and cases, each with name, owner, title, items (live items), created_utc, changed_utc and shared_with. Another analyst's cases are never listed.
            """
            return case.api_case_list(room, request)

        ui["case_api_btn"].click(case_list, [], [ui["case_api_result"]], api_name="case_list")

    def _relist(self, ui: Page):
        room = self.room

        def relist(visitor, key, request: gr.Request):
            return ui.out(case.refresh_list(room, room.user(request, visitor), key))
        return relist

    def on_load(self, app: gr.Blocks, ui: Page) -> None:
        room = self.room

        def load(visitor, last, request: gr.Request):
            return ui.out(case.load_page(room, visitor, last, request))

        app.load(load, ui.each("case_visitor", "case_last"),
                 ui.each("case_visitor", "case_banner", "case_list", "case_pick", "case_open", "case_last",
                         "case_heading", "case_table", "case_pdf", "case_bundle", "case_item", "case_note"),
                 **PRIVATE)
