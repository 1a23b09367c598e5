"""The page's HTML panels: verdict card, explainer summary, deep-check panels, banners.

Pure functions from package results to HTML strings (styled by page.css). Everything that
comes from a file (its name, its metadata) is untrusted and escaped. The judgements shown
(FAITHFUL, FRAGILE, ...) come from `checks.judgements`, the one place they are decided.
"""
from __future__ import annotations

import html

from forensics import (AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION, DEMO_WARNING, GRID, MODEL_SPEC, THRESHOLD, Analysis,
                       checks, metadata, methods, render, report, verdict_for)


def method_words(name: str) -> tuple[str, str, str]:
    """What a method's map shows, from the registry: (its name for people, the quantity shared
    out over the patches, what the map means)."""
    m = methods.get(name)
    return m.label, m.quantity, m.meaning


DEMO_BANNER = (f'<div class="fx-banner"><b>&#9888; {html.escape(DEMO_WARNING)}</b>'
               "<span>This server runs the real architecture with random weights (started with --demo). "
               "Every probability, verdict and heatmap on this page is meaningless.</span></div>")
EMPTY_CARD = ('<div class="fx-card"><div class="fx-empty">No image analysed yet. Drop, paste or pick '
              "an image (or click an example); the analysis starts as soon as it is uploaded.</div></div>")
EXPLAINER_EMPTY = ('<div class="fx-panel"><p>Once an image is analysed: what the map shows, how concentrated it '
                   "is, and whether the two methods agree.</p></div>")
DEEP_HINT = ("<p>The deep check runs as soon as an image is analysed, and again for each new image or "
             "explainer setting.</p>")
ROBUST_HINT = ('<div class="fx-panel"><p>Analysts rarely hold the original: they hold what a messenger, a feed or '
               "a screenshot made of it. The sweep re-sizes the image (long edge 2048, 1080, 720, 512 px, only below "
               "the original) and re-encodes each size as JPEG at quality 95, 85, 75, 60, 45 and 30, then asks the "
               "model again: one batched pass, a few seconds on a CPU. The grid shows P(AI-generated) and the verdict "
               "of every copy.</p></div>")
DEEP_WAIT = '<div class="fx-panel"><p>Waiting for an analysed image.</p></div>'


def percent(p: float) -> str:
    if p < 0.001:
        return "&lt;0.1&thinsp;%"
    if p > 0.999:
        return "&gt;99.9&thinsp;%"
    return f"{100 * p:.1f}&thinsp;%"


def badge(level: str, label: str, **data) -> str:
    attrs = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in data.items())
    return f'<span class="fx-badge {level}"{attrs}>{html.escape(label)}</span>'


def judgement_badge(j: checks.Judgement, **data) -> str:
    return badge(j.level, j.label, judgement=j.key, **data)


def model_card(a: Analysis, spec=MODEL_SPEC) -> str:
    """About the model, from its spec: name, paper, training data, input, threshold, licence, revision."""
    lo, hi = 100 * (spec.threshold - a.inconclusive_margin), 100 * (spec.threshold + a.inconclusive_margin)
    e = html.escape
    return (
        f'<div class="fx-about"><b>About the model.</b> {e(spec.name)} (<a href="{e(spec.paper_url)}">'
        f"{e(spec.short_citation)}</a>, {e(spec.licence)} licence, revision {e(spec.revision[:8])}): input "
        f"{spec.input_size}&times;{spec.input_size} px, trained on {e(spec.training_data)}. "
        f"One output, P(AI-generated) = sigmoid(logit); the authors' threshold is {100 * spec.threshold:.0f}&nbsp;%, "
        f"and this page calls {lo:.0f}&ndash;{hi:.0f}&nbsp;% inconclusive. It sees only the centre crop of the "
        "image. <b>Limits:</b> generators unlike its training data, re-compression, resizing, screenshots and "
        f"edits can mislead it in either direction. {e(spec.limit('benchmark'))} {e(spec.limit('re-encoding'))} "
        "The heatmap shows where the model's attention flowed, not which pixels are synthetic. One lead among "
        "others, never proof on its own.</div>")


def heatmap_fact(a: Analysis) -> str:
    """The verdict card's line on the explanation: method, its settings, concentration, agreement."""
    name, quantity, _ = method_words(a.method)
    rollout = f"{a.head_fusion} head fusion, discard {a.discard_ratio:.2f}"
    share = f"the top 10&nbsp;% of patches hold {a.top_share(0.1):.0%} of the {quantity}"
    if a.method != methods.BASELINE:
        baseline = methods.get(methods.BASELINE).label
        text = f"{name} for the AI-generated logit; {share}; {baseline} beside it: {rollout}"
    else:
        text = f"{name}, {rollout}; {share}"
    if a.method_agreement is not None:
        text += (f"; the two methods agree {a.method_agreement:.2f} (IoU of their top "
                 f"{100 * AGREEMENT_TOP_FRACTION:.0f}&nbsp;%)")
    return text


def probability_bar(p: float, margin: float) -> str:
    """The 0-100 % bar with the inconclusive band, the threshold and a marker at `p`."""
    lo, hi = 100 * (THRESHOLD - margin), 100 * (THRESHOLD + margin)
    return (f'<div class="fx-bar"><div class="seg-real" style="width:{lo:.1f}%"></div>'
            f'<div class="seg-inc" style="width:{hi - lo:.1f}%"></div><div class="seg-ai" style="flex:1"></div>'
            f'<div class="fx-threshold" style="left:{100 * THRESHOLD:.0f}%"></div>'
            f'<div class="fx-marker" style="left:{100 * p:.2f}%"></div></div>'
            f'<div class="fx-scale"><span>0&nbsp;% real</span><span>inconclusive {lo:.0f}&ndash;{hi:.0f}&nbsp;% '
            f'&middot; threshold {100 * THRESHOLD:.0f}&nbsp;%</span><span>100&nbsp;% AI-generated</span></div>')


def facts_table(rows) -> str:
    return '<table class="fx-facts">' + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def analysed_fact(a: Analysis) -> str:
    """Which pixels the model saw: the centre crop of the whole image, or a region's window."""
    l, t, r, b = a.crop_box
    if a.region is None:
        return f"centre crop ({l}, {t})&ndash;({r}, {b}), {a.coverage:.0%} of the image area"
    rl, rt, rr, rb = a.region
    how = {"native": "at native resolution", "resized": f"brought down (scale {a.region_scale:.3g})",
           "upscaled": f"upscaled (scale {a.region_scale:.3g})"}.get(a.region_mode, a.region_mode)
    return (f"region ({rl}, {rt})&ndash;({rr}, {rb}) {how}; the model saw ({l}, {t})&ndash;({r}, {b})")


def compact_card(a: Analysis, title: str) -> str:
    """A region's or a face's own verdict: probability, wording, what was seen, caveats."""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in a.notes())
    return (f'<div class="fx-card {a.verdict}" data-verdict="{a.verdict}">'
            f'<div class="fx-label">{html.escape(title)}: {probability_label(a)}</div>'
            f'<div class="fx-prob">{percent(a.fake_probability)}</div>{calibration_line(a)}'
            f'<div class="fx-verdict">{html.escape(a.verdict_text)}</div>'
            f'{probability_bar(a.fake_probability, a.inconclusive_margin)}'
            f'{facts_table([("Analysed", analysed_fact(a)), ("Heatmap", heatmap_fact(a))])}'
            f'{f"<ul class=fx-notes>{notes}</ul>" if notes else ""}</div>')


REGION_HINT = ('<div class="fx-panel"><p>Click two opposite corners of a region on the picture (or type its box '
               "in original pixels), then <b>Analyse region</b>. A region that fits 384&times;384 pixels is seen at "
               "native resolution; a larger one is brought down to 384 on its short side.</p></div>")


def verdict_card(a: Analysis) -> str:
    """The verdict panel: probability, wording with the inconclusive band, caveats, provenance."""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in a.notes())
    info, m = a.input, a.model
    file_line = ", ".join(x for x in (
        info.format, f"{info.width}&times;{info.height} px",
        f"{info.num_bytes:,} bytes" if info.num_bytes else None,
        f"{info.frames} frames" if info.frames > 1 else None) if x)
    model_line = html.escape(m.label)
    if m.weights_sha256:
        model_line += f"<br><small>weights sha256 <code>{m.weights_sha256[:16]}&hellip;</code>"
        model_line += " &middot; the pinned release</small>" if m.pinned else "</small>"
    prep = a.preprocessing.describe()
    resize = (f"shortest edge to {prep.get('size')}" if prep.get("resize", "shortest_edge") == "shortest_edge"
              else f"squashed to {prep.get('size')}&times;{prep.get('size')}")
    facts = [
        ("File", f"{html.escape(info.name or 'upload')} &mdash; {file_line}"),
        ("SHA-256", f"<code>{info.sha256 or 'n/a (in-memory image)'}</code>"),
        ("Analysed", analysed_fact(a)),
        ("Model", model_line),
        ("Input", f"{html.escape(str(prep.get('name')))} transform: {resize}, {prep.get('resample')}, "
                  f"centre crop {prep.get('crop_size')}"),
        ("Heatmap", heatmap_fact(a)),
        ("Logit", f"{a.logit:+.4f} &middot; analysed {html.escape(a.created_utc)}"),
    ]
    demo = f'<div class="fx-demo">&#9888; {html.escape(DEMO_WARNING)}</div>' if a.demo else ""
    return (f'<div class="fx-card {a.verdict}" data-verdict="{a.verdict}">{demo}'
            f'<div class="fx-label">{probability_label(a)}</div><div class="fx-prob">{percent(a.fake_probability)}</div>'
            f'{calibration_line(a)}<div class="fx-verdict">{html.escape(a.verdict_text)}</div>'
            f'{call_worth(a)}'
            f'{probability_bar(a.fake_probability, a.inconclusive_margin)}'
            f'{f"<ul class=fx-notes>{notes}</ul>" if notes else ""}'
            f"{facts_table(facts)}{model_card(a)}</div>")


SCAN_HINT = ('<div class="fx-panel"><p>Scans the picture at native resolution for one AI-edited region: about one '
             "forward pass per window (a 12 MP photo: 88 windows; at most 96).</p></div>")


def scan_card(scan, refused: str | None = None) -> str:
    """Beside the local scan's map: its summary, the hotspots and what the scan cannot show."""
    if scan is None:
        return f'<div class="fx-panel" data-scan="refused"><p>{html.escape(refused or "")}</p></div>'
    rows = "".join(f"<tr><td>{n}</td><td>({', '.join(str(int(v)) for v in h.box)})</td>"
                   f"<td>{h.fake_probability:.3f}</td><td>{len(h.tiles)}</td></tr>"
                   for n, h in enumerate(scan.hotspots, start=1))
    table = ('<table class="fx-facts"><tr><th scope="col">#</th><th scope="col">box (l, t, r, b)</th>'
             f'<th scope="col">P</th><th scope="col">windows</th></tr>{rows}</table>') if rows else ""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in scan.notes)
    return (f'<div class="fx-panel" data-scan="{"called" if scan.called else "clear"}" '
            f'data-hotspots="{len(scan.hotspots)}"><p><b>{html.escape(scan.summary)}</b></p>{table}'
            f'{f"<ul>{notes}</ul>" if notes else ""}<p><small>{html.escape(report.LOCAL_SCAN_LIMIT)}</small></p></div>')


def call_worth(a: Analysis) -> str:
    """Beside the call: why it differs from P alone, the conditions outside the validated domain,
    and the likelihood ratio (or why there is none). Words, never colour alone."""
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in a.verdict_reasons)
    conditions = "".join(f"<li>{html.escape(line)}</li>" for line in report.condition_lines(a))
    return (f'<div class="fx-worth" data-model-verdict="{a.model_verdict}" data-reasons="{len(a.verdict_reasons)}">'
            + (f'<div class="fx-reasons"><b>Why inconclusive</b><ul>{reasons}</ul></div>' if reasons else "")
            + (f'<ul class="fx-conditions">{conditions}</ul>' if conditions else "")
            + f'<div class="fx-lr">{html.escape(report.likelihood_line(a))}</div></div>')


def probability_label(a: Analysis) -> str:
    return "P(AI-generated), calibrated" if a.calibration is not None else "P(AI-generated)"


def calibration_line(a: Analysis) -> str:
    """Nobody sees a calibrated number without being told it is calibrated and on what data."""
    if a.calibration is None:
        return ""
    return (f'<div class="fx-calibration" data-raw="{a.raw_probability:.6f}"><b>Calibrated</b> &middot; raw model '
            f"P(AI-generated) {percent(a.raw_probability)}; the verdict band applies to the calibrated value."
            f"<br><small>{html.escape(a.calibration.label)}</small></div>")


def probe_card(probe, a: Analysis | None) -> str:
    """Beside the verdict card when `python app.py --probe FILE` loaded one: the analyst's probe's P,
    labelled as theirs, with what it was trained and validated on. It never changes the card above."""
    if probe is None or a is None:
        return ""
    t, v = probe.trained_on, probe.validated
    try:
        shown = f"P = {percent(probe.probability(a))}"
    except ValueError as exc:  # InputError: an analysis it cannot read
        shown = f"not applied: {html.escape(str(exc))}"
    auc, model_auc = v.get("auc"), v.get("model_auc")
    return (f'<div class="fx-calibration fx-probe"><b>Analyst&rsquo;s probe (second opinion, not the model):</b> '
            f"{shown}, trained on {t.get('n_items', '?')} items ({t.get('n_real', '?')} real, {t.get('n_ai', '?')} "
            f"AI-generated) from {html.escape(str(t.get('source', '?')))}, grouped-CV AUC "
            f"{'n/a' if auc is None else f'{auc:.3f}'}"
            f"{'' if model_auc is None else f' (the model on the same items: {model_auc:.3f})'}."
            "<br><small>The verdict above is the model&rsquo;s; this probe never changes it.</small></div>")


def error_card(message: str) -> str:
    return ('<div class="fx-card error" data-verdict="error">'
            '<div class="fx-label">Could not analyse this file</div>'
            f'<p style="font-size:16px">{html.escape(message)}</p>'
            "<p>Nothing was analysed. Try another file; the page keeps working.</p></div>")


def explainer_card(a: Analysis, color_scale: str = "image") -> str:
    """Beside the method selector: what the map shows, how concentrated it is, whether the two
    methods agree (with the "explanation unstable" badge), and what full colour means."""
    name, quantity, meaning = method_words(a.method)
    top = a.top_share(0.1)
    j = checks.agreement_judgement(a)
    share = f"{100 * AGREEMENT_TOP_FRACTION:.0f}&nbsp;%"
    if a.method_agreement is None:
        others = " or ".join(m.label for m in methods.methods() if m.name != methods.BASELINE)
        agree = (f"<p>{judgement_badge(j)}Method agreement not computed: select {others} to compute both "
                 "methods and compare them.</p>")
    elif a.explanation_unstable:
        agree = (f"<p>{judgement_badge(j, unstable='true')}Method agreement <b>{a.method_agreement:.2f}</b>: "
                 f"the two methods' top-{share} patches overlap less than {AGREEMENT_THRESHOLD:g} (IoU). "
                 "Do not present either map alone.</p>")
    else:
        agree = (f"<p>{judgement_badge(j)}Method agreement <b>{a.method_agreement:.2f}</b> (IoU of the two "
                 f"methods' top-{share} patches; unstable below {AGREEMENT_THRESHOLD:g}; random maps score "
                 "about 0.05).</p>")
    scale = html.escape(render.scale_text(a.patch_scores, color_scale))
    return (f'<div class="fx-panel{" bad" if a.explanation_unstable else ""}" data-method="{a.method}">'
            f"<p><b>Showing {name}</b>: {meaning}.</p>"
            f'<p><span class="fx-big" data-top-share="{top:.4f}">{top:.0%}</span>of the {quantity} lies in the '
            f"top 10&nbsp;% of patches (10&nbsp;% if spread evenly).</p>{agree}"
            f"<p><small>Heatmap colours: {scale}.</small></p></div>")


# -- deep checks ------------------------------------------------------------------------------

def faithfulness_panel(a: Analysis, f: checks.Faithfulness, j: checks.Judgement) -> str:
    name = method_words(a.method)[0]
    fractions = ", ".join(f"{100 * x:g}" for x in f.fractions)
    return (f'<div class="fx-panel">{judgement_badge(j, faithful=str(f.faithful).lower())}'
            f"<b>Faithfulness</b><p>{html.escape(f.summary)}</p>"
            f"<p><small>The {name} map's strongest {fractions}&nbsp;% of patches were mean-filled and the model "
            f"re-run, against as many random patches; &ldquo;faithful&rdquo; needs {checks.FAITHFUL_RATIO}&times; "
            "the random change. It shows the patches matter to the model, not that they matter for the right "
            "reason.</small></p></div>")


def stability_panel(s: checks.Stability, j: checks.Judgement) -> str:
    return (f'<div class="fx-panel">{judgement_badge(j, fragile=str(s.fragile).lower())}'
            f"<b>Stability</b><p>{html.escape(s.summary)}</p>"
            "<p><small>Re-runs on innocent changes: a JPEG quality-90 copy, a 0.9&times; rescale, an "
            f"{checks.STABILITY_SHIFT}-pixel shift. Fragile: any verdict flip, or an attention-rollout correlation "
            f"below {checks.FRAGILE_CORRELATION} over the region both runs saw.</small></p></div>")


def coverage_panel(a: Analysis, deep: checks.DeepCheck, j: checks.Judgement) -> str:
    c = deep.coverage
    if c is None:
        return (f'<div class="fx-panel">{judgement_badge(j)}<b>Full coverage</b>'
                f"<p>{html.escape(deep.coverage_error or 'not run')}</p></div>")
    top = max(range(len(c.tiles)), key=lambda i: c.tiles[i].probability)
    rows = "".join(
        f'<tr{" class=top" if i == top else ""}><td>{i + 1}</td><td class=num>({t.box_original[0]}, '
        f"{t.box_original[1]})&ndash;({t.box_original[2]}, {t.box_original[3]})</td>"
        f"<td class=num>{percent(t.probability)}</td><td>{verdict_for(t.probability, a.inconclusive_margin)}</td>"
        "</tr>" for i, t in enumerate(c.tiles))
    return (f'<div class="fx-panel">{judgement_badge(j, probability=f"{c.probability:.6f}")}'
            f"<b>Full coverage</b>"
            f'<p><span class="fx-big">{percent(c.probability)}</span>whole image: the most suspicious of '
            f"{len(c.tiles)} overlapping tiles ({c.aggregation}): {html.escape(j.detail)}</p>"
            f'<p><span class="fx-big">{percent(c.centre_probability)}</span>centre crop alone: the verdict '
            f"above ({a.verdict})</p>"
            f'<table class="fx-tiles"><tr><th>tile</th><th>box in original</th><th>P(AI)</th><th>verdict</th></tr>'
            f"{rows}</table><p><small>Each tile is a 384&times;384 crop of the image resized to a 440-pixel short "
            "side, as the model was trained; the map stitches the tiles' attention rollout (scaled to its own "
            "maximum).</small></p></div>")


def reliability_legend(r: checks.Reliability) -> str:
    return (f'<div class="fx-panel"><b>Reliability mask</b> on the 384&times;384 model input'
            '<ul class="fx-legend">'
            f'<li><span class="fx-swatch weak"></span><span><b>grey</b> = flat or clipped patches, weak evidence: '
            f"{int(r.flat.sum())} flat (pixel std below {checks.FLAT_STD:g} of 255), {int(r.clipped.sum())} "
            f"clipped (over {checks.CLIPPED_SHARE:.0%} of the samples at 0 or 255)</span></li>"
            f'<li><span class="fx-swatch outlier"></span><span><b>cyan boxes</b> = high-norm outlier tokens: '
            f"{int(r.outliers.sum())} (norm over {checks.OUTLIER_MADS:g} MADs above the median; such tokens carry "
            "global information, not their patch's pixels)</span></li>"
            '<li><span class="fx-swatch dimmed"></span><span><b>dimmed</b> = outside the analysed crop (on the '
            "original; the model input is all inside it)</span></li></ul></div>")


def deep_status(a: Analysis, seconds: float | None, only_deletion: bool = False) -> str:
    name = method_words(a.method)[0]
    when = "kept from earlier: no new pass" if seconds is None else f"ran in {seconds:.1f} s"
    if seconds is not None and only_deletion:
        when += " (the deletion check only: the others do not depend on the method)"
    demo = f" <b>{html.escape(DEMO_WARNING)}: every number here is meaningless.</b>" if a.demo else ""
    return (f"<p>Deep check of the {name} map ({a.head_fusion} head fusion, discard {a.discard_ratio:.2f}) "
            f"for {html.escape(a.input.name or 'the image')}: {when}.{demo}</p>")


def patch_text(a: Analysis, entry: dict | None) -> str:
    """Markdown for the patch inspector: the clicked patch's score and where it lies."""
    if entry is None:
        return "That point lies **outside the analysed centre crop** (dimmed): the model never saw it."
    l, t, r, b = entry["box_original"]
    quantity = method_words(a.method)[1]
    return (f"**Patch row {entry['row']}, column {entry['col']}**: rank {entry['rank']} of {GRID * GRID}, "
            f"score {entry['score']:.6f} = **{entry['share_percent']:.3f} %** of the {quantity} flow "
            f"(a uniform share would be {100 / GRID ** 2:.3f} %). Original pixels ({l}, {t})&ndash;({r}, {b}), "
            "outlined in yellow below with one patch of context.")


# -- provenance and metadata: beside the verdict, never part of it -------------------------------

METADATA_EMPTY = ('<div class="fx-panel fx-meta"><b>Provenance and metadata</b><p>Content credentials (C2PA), '
                  "EXIF, XMP and text chunks of the analysed file appear here, with any generator traces "
                  "found in them.</p></div>")


def metadata_card(a: Analysis) -> str:
    """Generator hints first (or what their absence means), then every field read, collapsed.

    The file's metadata is untrusted text: every value is escaped. GPS coordinates are shown
    here (the analyst's own screen); exports can leave them out (--redact-location).
    """
    view = metadata.panel(a.input.metadata)
    if view["hints"]:
        hints = "".join(f"<li>{html.escape(h)}</li>" for h in view["hints"])
        head = (f'<p>{badge("warn", "GENERATOR TRACES", hints=len(view["hints"]))}Found in the file\'s metadata:'
                f'</p><ul class="fx-hints">{hints}</ul>')
    else:
        head = f'<p>{badge("info", "NO GENERATOR TRACES")}</p>'
    if view["laundering"]:  # how the file was last saved: beside the hints, never in P
        signs = "".join(f"<li>{html.escape(line)}</li>" for line in view["laundering"])
        head += (f'<p>{badge("info", "RE-SHARED COPY?", laundering=len(view["laundering"]))}'
                 f'{html.escape(view["laundering_note"])}</p><ul class="fx-hints">{signs}</ul>')
    errors = "".join(f"<li>{html.escape(e)}</li>" for e in view["errors"])
    rows = facts_table((html.escape(k), html.escape(v)) for k, v in view["rows"])
    fields = (f'<details class="fx-fields"><summary>All metadata fields ({len(view["rows"])})</summary>{rows}'
              "</details>" if view["rows"] else "")
    return (f'<div class="fx-panel fx-meta" data-hints="{len(view["hints"])}"><b>Provenance and metadata</b>'
            f'{head}<p><small>{html.escape(view["note"])}</small></p>'
            f'{f"<ul class=fx-notes>{errors}</ul>" if errors else ""}{fields}</div>')


# -- robustness along the delivery path -------------------------------------------------------

def robustness_badge(rob: checks.Robustness) -> str:
    """Beside the verdict card: does the verdict survive re-encoding, in one badge and a line."""
    j = checks.robustness_judgement(rob)
    return f'<div class="fx-panel" id="robust-judgement">{judgement_badge(j)}{html.escape(rob.summary)}</div>'


def robustness_card(rob: checks.Robustness) -> str:
    """Under the grid: the judgement, the numbers, and what a changed verdict means."""
    j = checks.robustness_judgement(rob)
    first = []
    if rob.first_quality_change is not None:
        first.append(f"the verdict first changes at JPEG quality {rob.first_quality_change}")
    if rob.first_size_change is not None:
        first.append(f"at a long edge of {rob.first_size_change} px")
    where = (" &mdash; " + " and ".join(first)) if first else ""
    return (f'<div class="fx-panel">{judgement_badge(j)}<p>{html.escape(rob.summary)}</p>'
            f"<p>{len(rob.variants)} copies; the verdict holds in {rob.holds:.0%}{where}. P(AI-generated) ranges "
            f"{rob.lowest_probability:.3f}&ndash;{rob.highest_probability:.3f} against {rob.probability:.3f} for the "
            f"file as given. Cells marked * disagree with it.</p><p><small>{html.escape(report.ROBUSTNESS_MEANING)} "
            "Weigh it with the laundering indicators in the metadata panel.</small></p></div>")


def case_note(text: str, kind: str = "info") -> str:
    """A line for the Case tab's note panel (escaped: it may carry file and case names)."""
    return f'<div class="fx-case-note {kind}">{html.escape(text)}</div>'
