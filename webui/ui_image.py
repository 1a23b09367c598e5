"""The Image tab: drop an image, read the verdict beside its evidence, explore the explanation.

`create_ui(ui)` lays it out; `create_event_handlers(ui, detector)` wires it to `handlers`.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr

from forensics import HEAD_FUSIONS, methods, render

from . import cards, handlers, views
from .alt_text import described
from .page import PRIVATE, ImageFile, Page, html_panel

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = {"grace_hopper.jpg": "Grace Hopper (public-domain photo)", "wide_street.jpg": "wide street (made here)",
            "tall_poster.png": "tall poster (made here)", "marble_texture.webp": "marble texture (made here)",
            "dalle2_00000274.png": "DALL·E 2 image from the detector authors' test set"}
METHOD_CHOICES = [(m.choice, m.name) for m in methods.methods()]
SCALE_CHOICES = [("per image", "image"),
                 (f"absolute ({100 * render.ABSOLUTE_VMAX:g} % = full colour)", "absolute")]


# The Image tab from top to bottom: the DOM order, which is also the order of keyboard focus and of a
# screen reader. The first screen (1440x900 after a drop) holds the drop zone, the verdict with its
# reasons, and the heatmap over the original with the patch ledger under it; then the metadata, the
# method settings and the other maps, and the checks on request. README "Accessibility" states it;
# tests/test_accessibility.py checks it in a browser.
IMAGE_TAB_ORDER = ("input-image", "analyze-btn", "verdict", "metadata", "overlay-original", "ledger", "patch-text",
                   "method", "explainer", "overlay-input", "grid-plot", "compare", "patch-zoom", "classic",
                   "robustness", "local-scan", "deep-toggle", "regions", "export-btn")
FIRST_SCREEN = ("input-image", "verdict", "overlay-original", "ledger")
# Perceptually uniform maps whose lightness rises monotonically for every kind of colour-vision
# deficiency (tests/test_accessibility.py simulates them); turbo does not, and is not labelled so.
COLOUR_BLIND_SAFE = ("inferno", "magma", "viridis", "cividis")


def create_ui(ui: Page) -> None:
    with gr.Tab("Image", elem_id="tab-image"):
        first_screen(ui)
        explainer_section(ui)
        classic_section(ui)
        robustness_section(ui)
        local_scan_section(ui)
        deep_section(ui)
        regions_section(ui)
        export_section(ui)


def first_screen(ui: Page) -> None:
    with gr.Row(equal_height=False, elem_classes="fx-first-screen"):
        with gr.Column(scale=3, min_width=260):
            ui["image"] = ImageFile(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                    label="Image (drop, paste or click to pick)", height=250,
                                    alt_text=views.ALT["input_image"], elem_id="input-image")
            ui["analyze_btn"] = gr.Button("Analyze", variant="primary", elem_id="analyze-btn")
            shown = {ASSETS / name: label for name, label in EXAMPLES.items() if (ASSETS / name).is_file()}
            ui["examples"] = gr.Examples([[str(p)] for p in shown], inputs=[ui["image"]],
                                         example_labels=list(shown.values()),
                                         label="Examples: pictures made here, a public-domain photo, a DALL·E 2 image")
        with gr.Column(scale=4, min_width=340):
            ui["verdict"] = html_panel(cards.EMPTY_CARD, "verdict")
            ui["robust_badge"] = html_panel("", "robust-badge")  # the sweep's judgement, once run
            ui["probe_card"] = html_panel("", "probe-card")  # the analyst's probe (app.py --probe), when loaded
            ui["metadata"] = html_panel(cards.METADATA_EMPTY, "metadata")
        with gr.Column(scale=5, min_width=400):
            ui["overlay_orig"] = gr.Image(label="Heatmap on the original: dimmed = not analysed; click to inspect "
                                                "a patch", interactive=False, format="jpeg", height=390,
                                          alt_text=views.ALT["overlay_orig"], elem_id="overlay-original",
                                          buttons=["download", "fullscreen"])
            ui["ledger_table"] = gr.Dataframe(
                headers=views.LEDGER_HEADERS, interactive=False, max_height=230, elem_id="ledger",
                label="Patch ledger, strongest first: click a row, or press Enter on it, to inspect the patch",
                datatype=["number", "number", "number", "str", "number", "number"],
                column_widths=["54px", "48px", "48px", "190px", "80px", "80px"])
            ui["patch_text"] = gr.Markdown(handlers.PATCH_HINT, elem_id="patch-text")


def explainer_section(ui: Page) -> None:
    gr.Markdown("## Where the model looked")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ui["method_pick"] = gr.Radio(
                METHOD_CHOICES, value=methods.BASELINE, label="Explanation method", elem_id="method",
                info="a method that needs gradients runs one more forward + backward pass the first time for "
                     "each image; both maps are then kept and switching back is instant")
            ui["scale_pick"] = gr.Radio(SCALE_CHOICES, value="image", label="Colour scale", elem_id="color-scale",
                                        info="absolute: the same colour means the same share in every image")
        with gr.Column(scale=2):
            ui["explainer"] = html_panel(cards.EXPLAINER_EMPTY, "explainer")
    with gr.Row():
        ui["fusion"] = gr.Radio(list(HEAD_FUSIONS), value="mean", label="Head fusion", elem_id="head-fusion",
                                info="attention rollout: how each block's attention heads are combined")
        ui["discard"] = gr.Slider(0.0, 0.95, value=0.0, step=0.05, label="Discard ratio",
                                  info="attention rollout: ignore the weakest share of attention links per block")
        ui["opacity"] = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Heatmap opacity")
        ui["cmap"] = gr.Dropdown([(f"{c} (colour-blind safe)" if c in COLOUR_BLIND_SAFE else c, c)
                                  for c in render.COLORMAPS], value=render.DEFAULT_COLORMAP, label="Colour map")
    with gr.Row(equal_height=False):
        ui["overlay_in"] = gr.Image(label="Heatmap on the 384×384 model input (what the model saw)",
                                    interactive=False, format="png", height=460, elem_id="overlay-input",
                                    alt_text=views.ALT["overlay_in"], buttons=["download", "fullscreen"])
        ui["grid_plot"] = gr.Plot(label="Patch scores on the 24×24 grid", show_label=False, format="png",
                                  elem_id="grid-plot")
    with gr.Row(equal_height=False):
        ui["compare"] = gr.ImageSlider(label="Original ⟷ heatmap: drag the handle", interactive=False,
                                       format="jpeg", max_height=460, elem_id="compare")
        ui["patch_zoom"] = gr.Image(label="Patch close-up", interactive=False, format="png", height=280,
                                    alt_text=views.ALT["patch_zoom"], elem_id="patch-zoom")


def regions_section(ui: Page) -> None:
    ui["region_corner"] = gr.State(None)  # the first corner clicked, original pixels
    # Folded until the analyst opens it: empty, these panels took ~1,500 px of page.
    with gr.Accordion("Regions at full resolution, and faces", open=False, elem_id="regions"):
        regions_panels(ui)


def regions_panels(ui: Page) -> None:
    with gr.Row(equal_height=False):
        ui["region_canvas"] = gr.Image(label="Click two opposite corners of a region", interactive=False,
                                       format="jpeg", height=420, alt_text=views.ALT["region_canvas"],
                                       elem_id="region-canvas", scale=3)
        with gr.Column(scale=2):
            with gr.Row():
                for name, label in zip(handlers.REGION_BOX, ("left", "top", "right", "bottom")):
                    ui[name] = gr.Number(label=label, precision=0, minimum=0, elem_id=name.replace("_", "-"),
                                         min_width=60)
            ui["region_btn"] = gr.Button("Analyse region", variant="primary", elem_id="region-btn")
            ui["region_card"] = html_panel(cards.REGION_HINT, "region-card")
    with gr.Row(equal_height=False):
        ui["region_overlay"] = gr.Image(label="Region: heatmap on the original (cyan = the region, white = what "
                                              "the model saw)", interactive=False, format="jpeg", height=420,
                                        alt_text=views.ALT["region_overlay"], elem_id="region-overlay")
        ui["region_input"] = gr.Image(label="Region: heatmap on the 384×384 model input", interactive=False,
                                      format="png", height=420, alt_text=views.ALT["region_input"],
                                      elem_id="region-input")
    ui["faces_btn"] = gr.Button("Find and analyse faces", elem_id="faces-btn")
    ui["faces_note"] = gr.Markdown("", elem_id="faces-note")
    with gr.Row(equal_height=False):
        ui["faces_overview"] = gr.Image(label="Faces found (numbered)", interactive=False, format="jpeg",
                                        height=360, alt_text=views.ALT["faces_overview"], elem_id="faces-overview",
                                        scale=2)
        ui["faces_gallery"] = gr.Gallery(label="Each face: the face, and where the model looked in it",
                                         columns=4, height=360, elem_id="faces-gallery", scale=3)
    ui["faces_table"] = gr.Dataframe(headers=views.FACE_HEADERS, interactive=False, elem_id="faces-table",
                                     label="Faces: each analysed as a region")


def classic_section(ui: Page) -> None:
    with gr.Accordion("Classic forensic views: error level analysis and noise residual", open=False,
                      elem_id="classic"):
        gr.Markdown("Independent of the model and never part of its verdict. Computed on request on the "
                    "full-resolution original; what each can and cannot show is written under it.")
        ui["classic_btn"] = gr.Button("Compute the classic views", size="sm", elem_id="classic-btn")
        with gr.Row(equal_height=False):
            ui["ela_image"] = gr.Image(label="Error level analysis", interactive=False, format="png", height=420,
                                       alt_text=views.ALT["ela_image"], elem_id="ela-image",
                                       buttons=["download", "fullscreen"])
            ui["noise_image"] = gr.Image(label="Noise residual", interactive=False, format="png", height=420,
                                         alt_text=views.ALT["noise_image"], elem_id="noise-image",
                                         buttons=["download", "fullscreen"])


def robustness_section(ui: Page) -> None:
    ui["robustness"] = gr.State(None)  # session.HeldRobustness: the sweep, for the image it was run on
    with gr.Accordion("Does the verdict survive re-encoding?", open=False, elem_id="robustness"):
        ui["robust_btn"] = gr.Button("Run the delivery-path sweep", size="sm", elem_id="robust-btn")
        with gr.Row(equal_height=False):
            ui["robust_plot"] = gr.Plot(label="P(AI-generated) of each re-sized and re-encoded copy",
                                        show_label=False, format="png", elem_id="robust-grid", scale=3)
            with gr.Column(scale=2):
                ui["robust_card"] = html_panel(cards.ROBUST_HINT, "robust-card")


def local_scan_section(ui: Page) -> None:
    with gr.Accordion("Local scan: is one region AI-generated?", open=False, elem_id="local-scan"):
        gr.Markdown("384&times;384 windows over the original at native resolution (stride 192 px), each asked "
                    "separately; a whole-image call *real* with a region called AI-generated becomes inconclusive. "
                    "Pick a hotspot to analyse it as a region.")
        ui["scan_btn"] = gr.Button("Scan at native resolution", size="sm", elem_id="scan-btn")
        with gr.Row(equal_height=False):
            ui["scan_image"] = gr.Image(label="P(AI-generated) of the windows over the original; hotspots boxed",
                                        interactive=False, format="jpeg", height=420, elem_id="scan-image",
                                        alt_text=views.ALT["scan_image"], scale=3)
            with gr.Column(scale=2):
                ui["scan_card"] = html_panel(cards.SCAN_HINT, "scan-card")
                ui["scan_pick"] = gr.Dropdown([], label="Analyse a hotspot as a region", interactive=True,
                                              elem_id="scan-pick")


def deep_section(ui: Page) -> None:
    gr.Markdown("## Deep check")
    ui["deep_toggle"] = gr.Checkbox(False, label="Deep check: faithfulness, stability, full coverage, reliability",
                                    elem_id="deep-toggle",
                                    info="about 20 more forward passes (seconds on a CPU); while on, it follows "
                                         "each new image and explainer setting")
    with gr.Column(visible=False, elem_id="deep-panel") as ui["deep_panel"]:
        ui["deep_note"] = html_panel(cards.DEEP_HINT, "deep-status")  # HTML: the file name is untrusted
        with gr.Row(equal_height=False):
            with gr.Column():
                ui["faith_html"] = html_panel(cards.DEEP_WAIT, "deep-faithfulness")
                ui["deletion_plot"] = gr.Plot(label="Deletion curve", show_label=False, format="png",
                                              elem_id="deletion-plot")
            with gr.Column():
                ui["stab_html"] = html_panel(cards.DEEP_WAIT, "deep-stability")
                ui["stab_table"] = gr.Dataframe(headers=views.STABILITY_HEADERS, interactive=False,
                                                max_height=240, label="Re-runs on innocent changes",
                                                elem_id="stability-table")
        with gr.Row(equal_height=False):
            ui["cov_image"] = gr.Image(label="Full coverage: every tile's attention rollout stitched over the "
                                             "whole image; numbered boxes = tiles", interactive=False,
                                       format="jpeg", height=420, alt_text=views.ALT["cov_image"],
                                       elem_id="coverage-overlay", scale=4,
                                       buttons=["download", "fullscreen"])
            with gr.Column(scale=3):  # a Column: gr.HTML takes no share of a Row by itself
                ui["cov_html"] = html_panel(cards.DEEP_WAIT, "deep-coverage")
        with gr.Row(equal_height=False):
            ui["rel_image"] = gr.Image(label="Reliability mask on the 384×384 model input", interactive=False,
                                       format="png", height=420, alt_text=views.ALT["rel_image"],
                                       elem_id="reliability-overlay", scale=2,
                                       buttons=["download", "fullscreen"])
            with gr.Column(scale=2):
                ui["rel_html"] = html_panel(cards.DEEP_WAIT, "deep-reliability")


def export_section(ui: Page) -> None:
    gr.Markdown("## Export for the case file")
    with gr.Row(equal_height=False):
        ui["notes"] = gr.Textbox(label="Analyst notes (added to the exports)", lines=3, scale=3)
        with gr.Column(scale=2):
            ui["export_btn"] = gr.Button("Prepare exports", elem_id="export-btn")
            with gr.Row():
                for fmt, name in handlers.DOWNLOADS.items():
                    ui[name] = gr.DownloadButton(f"Download {fmt.upper()}", visible=False, size="sm",
                                                 elem_id=f"download-{fmt}")


def create_event_handlers(ui: Page, detector) -> None:
    """Connect the controls to the handlers; whatever changes the map, the deep check follows."""
    looks = ui.each("opacity", "cmap", "scale_pick")
    downloads = ui.each(*handlers.DOWNLOADS.values())
    result_views = [*ui.each("analysis", "verdict", *handlers.RESULT_VIEWS, "patch_text", "patch_zoom"), *downloads]
    deep_views = ui.each("deep_checks", "deep_note", *[n for pair in handlers.DEEP_VIEWS.values() for n in pair])

    def follow(a, held, deep_on, alpha, colormap, color_scale, progress=gr.Progress()):
        return ui.out(handlers.follow_deep(detector, a, held, deep_on, alpha, colormap, color_scale, progress))

    follow_event = dict(fn=follow, inputs=ui.each("analysis", "deep_checks", "deep_toggle", *looks),
                        outputs=[*deep_views, *downloads], **PRIVATE)

    def on(event, handler, inputs, outputs, **kw):
        def run(*args):  # the heatmaps go with words that say where their strongest patches lie
            result = handler(*args)
            shown = result.get("analysis", args[0]) if isinstance(result, dict) else None
            return ui.out(described(result, shown))
        return event(run, inputs, outputs, **PRIVATE, **kw)

    new_image = [ui["image"], ui["method_pick"], ui["fusion"], ui["discard"], *looks]
    region_views = ui.each("region_canvas", "region_corner", "region_card", "region_overlay", "region_input",
                           *handlers.REGION_BOX, "faces_overview", "faces_gallery", "faces_table", "faces_note")
    robust_views = ui.each(*handlers.ROBUST_VIEWS)
    image_views = [*result_views, ui["metadata"], *deep_views, *ui.each(*handlers.CLASSIC_VIEWS), *region_views,
                   *robust_views, *ui.each(*handlers.SCAN_VIEWS)]
    # The verdict first, then the pictures: drawing and sending them takes longer than the model.
    views_event = dict(fn=lambda a, *look: ui.out(described(handlers.show_views(a, *look), a)),
                       inputs=[ui["analysis"], *looks], outputs=image_views, **PRIVATE)
    # One event per act of the analyst: a drop or paste, the clear button, an example. Not .change:
    # Gradio 6's image fires it twice when a new file replaces the one shown, and the page analysed
    # every later image twice at once, each at half speed on a small CPU.
    # always_last: an image dropped while one is analysed is analysed next, not ignored.
    acts = {ui["image"].upload: {"trigger_mode": "always_last"}, ui["image"].clear: {},
            ui["examples"].load_input_event.then: {}}
    # Step 1's pending animation on the verdict card alone: on some forty cleared views it kept
    # the browser busy while the model ran, on the same cores (bench/RESULTS.md).
    step1 = dict(show_progress_on=[ui["verdict"]])
    for event, mode in acts.items():
        on(event, partial(handlers.analyze_verdict, detector), new_image[:4], image_views, **mode, **step1).then(
            **views_event).then(**follow_event)
    on(ui["analyze_btn"].click, partial(handlers.reanalyze, detector), new_image[:4],
       image_views, **step1).then(**views_event).then(**follow_event)
    # .input: only the analyst's choice, not the handler's own reset after a failure.
    on(ui["method_pick"].input, partial(handlers.switch_method, detector),
       ui.each("analysis", "image", "method_pick", *looks), [*result_views, ui["method_pick"]]).then(**follow_event)
    rollout = [ui["analysis"], ui["fusion"], ui["discard"], *looks]
    on(ui["fusion"].change, handlers.reroll, rollout, result_views).then(**follow_event)
    # .change, not .release: typing into a slider's number box fires no release.
    on(ui["discard"].change, handlers.reroll, rollout, result_views, trigger_mode="always_last").then(**follow_event)
    restyling = ui.each("analysis", "deep_checks", "deep_toggle", *looks)
    restyled = [*ui.each(*handlers.RESULT_VIEWS), *downloads, ui["cov_image"], ui["rel_image"]]
    restyled_all = [ui["analysis"], ui["verdict"], *restyled]
    on(ui["opacity"].change, handlers.restyle, restyling, restyled_all, trigger_mode="always_last")
    on(ui["cmap"].change, handlers.restyle, restyling, restyled_all)
    on(ui["scale_pick"].change, handlers.restyle, restyling, restyled_all)
    on(ui["deep_toggle"].change, handlers.toggle_deep, [ui["deep_toggle"]],
       [ui["deep_panel"], *downloads]).then(**follow_event)
    patch = ui.each("patch_text", "patch_zoom")
    ui["overlay_orig"].select(handlers.inspect_original, [ui["analysis"]], patch, **PRIVATE)
    ui["overlay_in"].select(handlers.inspect_input, [ui["analysis"]], patch, **PRIVATE)
    ui["ledger_table"].select(handlers.inspect_row, [ui["analysis"]], patch, **PRIVATE)
    def pick_corner(a, corner, evt: gr.SelectData):
        return ui.out(handlers.pick_corner(a, corner, evt))

    ui["region_canvas"].select(pick_corner, ui.each("analysis", "region_corner"),
                               ui.each("region_corner", "region_canvas", *handlers.REGION_BOX), **PRIVATE)
    on(ui["region_btn"].click, partial(handlers.analyze_region, detector),
       ui.each("analysis", *handlers.REGION_BOX, *looks),
       ui.each("region_card", "region_overlay", "region_input", "region_canvas"))
    on(ui["faces_btn"].click, partial(handlers.find_faces, detector), ui.each("analysis", *looks),
       ui.each("faces_overview", "faces_gallery", "faces_table", "faces_note"))
    on(ui["classic_btn"].click, handlers.show_classic, [ui["analysis"]], ui.each("ela_image", "noise_image"))
    def sweep(a, progress=gr.Progress()):
        return ui.out(handlers.run_robustness(detector, a, progress))

    ui["robust_btn"].click(sweep, [ui["analysis"]], [*robust_views, *ui.each("analysis", "verdict")], **PRIVATE)

    def scan(a, progress=gr.Progress()):
        return ui.out(handlers.run_local_scan(detector, a, progress))

    ui["scan_btn"].click(scan, [ui["analysis"]], ui.each("analysis", "verdict", "scan_image", "scan_card", "scan_pick"),
                         **PRIVATE)
    ui["scan_pick"].select(handlers.pick_hotspot, [ui["analysis"]], ui.each(*handlers.REGION_BOX),
                           **PRIVATE)
    on(ui["export_btn"].click, handlers.export,
       ui.each("analysis", "deep_checks", "deep_toggle", "notes", *looks, "robustness"), downloads)
