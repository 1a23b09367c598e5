"""The evaluation report.pdf: a summary page, the curves (ROC, precision-recall, reliability, score
distributions), the likelihood ratios (propositions, Cllr, ELUB bounds; Tippett, PAV and ECE plots
drawn by lir), the confusion matrices and per-group table, and the worst misses with their
heatmaps (the only images that get an explanation).

Reads the metrics dict that `evaluation_report.run` builds; computes nothing it reports.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from reportlab.lib.units import inch
from reportlab.platypus import PageBreak, Spacer, Table, TableStyle

from ..analysis.detector import Detector
from .._version import __version__
from ..core.likelihood import HD, HP, NO_LR_NOTE, lr_text
from ..report import render
from ..report.pages import FULL_WIDTH, Box, Picture, Story, banner, grid_table, para, pdf_document, plot
from ..model.loading import DEMO_WARNING
from ..core.untrusted import printable
from ..core.verdict import THRESHOLD

WORST_MISSES = 6


def number_text(x, spec=".3f", none="n/a") -> str:
    """A metric for the page and the console; `none` where it is undefined (one class only)."""
    return none if x is None else format(x, spec)


def interval_text(ci) -> str:
    """The " (95% CI a-b)" that follows a metric, or "" when there is no interval."""
    return "" if not ci else f" (95% CI {ci[0]:.3f}\u2013{ci[1]:.3f})"


COLOURS = {"real": "#2b6cb0", "ai": "#c53030", "band": "#d69e2e", "cut": "#2f855a"}
TEXT_SIZE = 8.5


def _page(title: str, demo: bool, first: bool = False) -> list:
    """A page's title (after a page break unless `first`) and, with demo weights, the banner."""
    out = [] if first else [PageBreak()]
    out.append(para(title, 14, bold=True, after=0.08))
    if demo:
        out += [banner(10, pad=0.05, text=DEMO_WARNING.upper() + ": THESE NUMBERS MEAN NOTHING",),
                Spacer(1, 0.1 * inch)]
    return out


def _paragraphs(lines: list[tuple[str, dict]]) -> list:
    """(text, style) pairs as paragraphs; style keys as before: fontsize, fontweight, color, family."""
    out = []
    for text, st in lines:
        size = st.get("fontsize", TEXT_SIZE)
        out.append(para(text, size, bold=st.get("fontweight") == "bold", colour_=st.get("color", "black"),
                        mono=st.get("family") == "monospace", after=0.06))
    return out


def _summary_page(m: dict) -> list:
    demo = m["model"]["demo"]
    c, r, d, b, t = m["counts"], m["ranking"], m["at_threshold_0_5"], m["inconclusive_band"], m["at_target_fpr"]
    cal = m["calibration"]
    lines = [
        (f"{c['scored']} images scored: {c['real']} real, {c['ai_generated']} AI-generated, "
         f"in {len([g for g in m['groups'] if g['n']])} group(s); {len(m['data']['unreadable'])} unreadable, "
         f"{len(m['data']['not_scored'])} other file(s) not scored. Source: {m['data']['source']}.", {}),
        *([(f"Every P below is CALIBRATED: {m['probabilities']['calibration_applied']['label']}. The raw model P "
            "is in scores.csv (raw_fake_probability).", {"fontweight": "bold", "color": "#975a16"})]
          if m["probabilities"]["calibration_applied"] else []),
        ("Ranking (threshold-free)", {"fontweight": "bold", "fontsize": 10}),
        (f"ROC AUC {number_text(r['roc_auc'])}{interval_text(r['roc_auc_ci95'])}: the chance that a random AI-generated image scores "
         f"above a random real one. Average precision {number_text(r['average_precision'])} "
         f"(a random ranking scores {r['average_precision_baseline']:.3f}). {r.get('note', '')}", {}),
        ("At the authors' cut-off 0.5", {"fontweight": "bold", "fontsize": 10}),
        (f"Accuracy {number_text(d['accuracy'])}{interval_text(d['accuracy_ci95'])}; balanced accuracy {number_text(d['balanced_accuracy'])}. "
         f"AI-generated images caught (TPR) {number_text(d['tpr'])} "
         f"({d['confusion']['ai_called_ai']} of {c['ai_generated']}); real images cleared (TNR) {number_text(d['tnr'])}; "
         f"real images flagged (FPR) {number_text(d['fpr'])} ({d['confusion']['real_called_ai']} of {c['real']}).", {}),
        (f"With the inconclusive band {b['band'][0]:.2f}\u2013{b['band'][1]:.2f}: {b['n_inconclusive']} of {c['scored']} "
         f"({b['share_inconclusive']:.0%}) fall inside it; accuracy on the other {b['n_conclusive']} is "
         f"{number_text(b['accuracy_on_conclusive'])}.", {}),
        (f"At your target false-positive rate {t['target_fpr']:g}", {"fontweight": "bold", "fontsize": 10}),
        ((f"Cut-off {t['cut_off']:.4f}: FPR {t['fpr']:.3f} ({t['confusion']['real_called_ai']} of {c['real']} real), "
          f"TPR {t['tpr']:.3f} ({t['confusion']['ai_called_ai']} of {c['ai_generated']} AI-generated). "
          if t.get("cut_off") is not None else "") + t.get("note", "") + " " + t.get("resolution_note", ""), {}),
        ("At your base rate", {"fontweight": "bold", "fontsize": 10}),
        *[(v["statement"], {}) for v in m["prevalence"].values()],
        ("Calibration", {"fontweight": "bold", "fontsize": 10}),
        (f"Expected calibration error {cal['expected_calibration_error']:.3f} over {cal['n_bins']} bins "
         f"(0 = P matches the observed share of AI images in every bin); Brier score {cal['brier_score']:.3f}. "
         + (f"calibration.json ({m['calibration_map']['method']}) brings the ECE to "
            f"{m['calibration_map']['expected_calibration_error_after_in_sample']:.3f} on these same images "
            "(optimistic: check on a second set)." if m["calibration_map"] else ""), {}),
    ]
    lr = m["likelihood_ratio"]
    lines += [("Likelihood ratios", {"fontweight": "bold", "fontsize": 10}),
              ((f"Out of fold: Cllr {lr['cllr']:.3f} (cllr_min {lr['cllr_min']:.3f}); LRs bounded to "
                f"{lr_text(10 ** lr['log10_bounds'][0])}–{lr_text(10 ** lr['log10_bounds'][1])} (ELUB). "
                "The page on likelihood ratios states the propositions and how to read its plots."
                if lr.get("cllr") is not None else lr["reason"][:1].upper() + lr["reason"][1:] + "."), {})]
    if m["warnings"]:
        lines.append(("Warnings", {"fontweight": "bold", "fontsize": 10, "color": "#c53030"}))
        lines += [("\u2022 " + w, {"color": "#9b2c2c"}) for w in m["warnings"]]
    lines += [
        ("Provenance", {"fontweight": "bold", "fontsize": 10}),
        (f"Model: {m['model']['label']}; weights sha256 {m['model']['weights_sha256'] or 'none'}; preprocessing "
         f"{m['preprocessing']['name']}. forensics {m['software']['forensics']}, scikit-learn "
         f"{m['software']['scikit-learn']}. Created {m['created_utc']}. scores.csv sha256 "
         f"{m['data']['scores_csv_sha256']}. Intervals: {m['bootstrap']['method']}, "
         f"{m['bootstrap']['resamples']} resamples, seed {m['bootstrap']['seed']}; rate intervals exact binomial.", {}),
        (f"Re-create: {m['reproduce']}", {"family": "monospace", "fontsize": 7}),
    ]
    return [*_page("How often is the model wrong on these images?", demo, first=True), *_paragraphs(lines)]


def _curves_page(m: dict, y: np.ndarray, p: np.ndarray) -> list:
    from sklearn.metrics import precision_recall_curve, roc_curve
    fig = Figure(figsize=(FULL_WIDTH, 9.0))
    axes = fig.subplots(2, 2, gridspec_kw={"left": 0.1, "right": 0.97, "top": 0.96, "bottom": 0.06,
                                             "hspace": 0.3, "wspace": 0.3})
    both = 0 < y.sum() < len(y)
    (roc, pr), (rel, hist) = axes
    d, t = m["at_threshold_0_5"], m["at_target_fpr"]
    if both:
        fpr, tpr, _ = roc_curve(y, p)
        roc.plot(fpr, tpr, color="black", lw=1.5, label=f"AUC {m['ranking']['roc_auc']:.3f}")
        roc.plot(d["fpr"], d["tpr"], "o", color=COLOURS["band"], label="cut-off 0.5")
        if t.get("cut_off") is not None:
            roc.plot(t["fpr"], t["tpr"], "s", color=COLOURS["cut"], label=f"cut-off {t['cut_off']:.3g} (FPR \u2264 {t['target_fpr']:g})")
        roc.plot([0, 1], [0, 1], ":", color="grey", lw=1)
        roc.legend(fontsize=7, loc="lower right")
        precision, recall, _ = precision_recall_curve(y, p)
        pr.plot(recall, precision, color="black", lw=1.5, label=f"AP {m['ranking']['average_precision']:.3f}")
        pr.axhline(m["ranking"]["average_precision_baseline"], ls=":", color="grey", lw=1, label="random")
        pr.legend(fontsize=7, loc="lower left")
    else:
        for ax in (roc, pr):
            ax.text(0.5, 0.5, "undefined:\nonly one class", ha="center", va="center", transform=ax.transAxes)
    roc.set(xlabel="false-positive rate (real flagged)", ylabel="true-positive rate (AI caught)", title="ROC",
            xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    pr.set(xlabel="recall (AI caught)", ylabel="precision (flags that are AI)",
           title="Precision-recall (at this sample's AI share)", xlim=(-0.02, 1.02), ylim=(-0.02, 1.05))

    bins = m["calibration"]["bins"]
    rel.plot([0, 1], [0, 1], ":", color="grey", lw=1, label="perfect calibration")
    rel.plot([b["mean_fake_probability"] for b in bins], [b["fraction_ai"] for b in bins], "o-", color="black",
             label=f"ECE {m['calibration']['expected_calibration_error']:.3f}")
    for b in bins:
        rel.annotate(str(b["n"]), (b["mean_fake_probability"], b["fraction_ai"]), textcoords="offset points",
                     xytext=(0, 6), ha="center", fontsize=6, color="dimgrey")
    rel.set(xlabel="mean P(AI-generated) in bin", ylabel="share of AI-generated images in bin",
            title="Reliability diagram (labels: images per bin)", xlim=(-0.02, 1.02), ylim=(-0.02, 1.08))
    rel.legend(fontsize=7, loc="upper left")

    edges = np.linspace(0, 1, 21)
    hist.hist([p[y == 0], p[y == 1]], bins=edges, color=[COLOURS["real"], COLOURS["ai"]],
              label=[f"real (n={int((y == 0).sum())})", f"AI-generated (n={int(y.sum())})"], stacked=False)
    band = m["inconclusive_band"]["band"]
    hist.axvspan(band[0], band[1], color=COLOURS["band"], alpha=0.15, label="inconclusive band")
    hist.axvline(THRESHOLD, color=COLOURS["band"], lw=1)
    if t.get("cut_off") is not None:
        hist.axvline(t["cut_off"], color=COLOURS["cut"], lw=1, ls="--", label="target-FPR cut-off")
    hist.set(xlabel="P(AI-generated)", ylabel="images", title="Scores by true class", xlim=(0, 1))
    hist.legend(fontsize=7)
    for ax in axes.ravel():
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
    return [*_page("Curves: ranking, precision and calibration", m["model"]["demo"]), plot(fig, FULL_WIDTH, dpi=110)]


# One sentence under each plot of the likelihood-ratio page: how to read it.
HOW_TO_READ = {
    "tippett": "Tippett plot. Each curve is the share of one class's images whose out-of-fold LR is at least "
               "the value on the x-axis. AI-generated images should get LRs above 1 (right of 0), real ones below; "
               "at 0, the real curve's height is the share of real images given a misleading LR, and the "
               "AI-generated curve's height the share of AI images given a right one.",
    "pav": "PAV plot. Each image's reported log10 LR (x) against the same LRs after the best monotone "
           "recalibration of these data (y, pool adjacent violators). On the diagonal the LRs are as strong "
           "as the data support; flatter than the diagonal they overstate the evidence, steeper they "
           "understate it.",
    "ece": "Empirical cross-entropy plot. The information still missing (lower is better) at each prior "
           "log10 odds of Hp: for these LRs (solid), after PAV recalibration (dashed: the best this ranking "
           "allows) and for an uninformative LR of 1 (dotted). Solid below dotted means the LRs help at that "
           "prior; at prior log odds 0 the solid curve is Cllr and the dashed one cllr_min.",
}


def _lr_plots(rows: list[dict]) -> list:
    """Tippett, PAV and ECE plots (lir's own drawing) of the out-of-fold LRs, each beside its sentence."""
    import lir.plotting as lir_plot  # here: ~2 s to import, and only this page draws with it
    from lir.data.models import LLRData
    ok = [r for r in rows if r.get("log10_lr") is not None]
    data = LLRData(features=np.array([r["log10_lr"] for r in ok], dtype=np.float64),
                   labels=np.array([r["label"] == "ai" for r in ok], dtype=int))
    cells = []
    for name, title in (("tippett", "Tippett plot"), ("pav", "PAV calibration plot"),
                        ("ece", "Empirical cross-entropy (ECE)")):
        fig = Figure(figsize=(3.4, 2.1))
        ax = fig.add_axes((0.16, 0.2, 0.8, 0.7))
        if name == "tippett":
            lir_plot.tippett(data, ax=ax)
            for line, colour_, label in zip(ax.get_lines(), (COLOURS["ai"], COLOURS["real"]),
                                            ("AI-generated (Hp true)", "real (Hd true)")):
                line.set_color(colour_)
                line.set_label(label)
        elif name == "pav":
            lir_plot.pav(data, ax=ax)
        else:
            lir_plot.ece(data, ax=ax)
        handles, labels = ax.get_legend_handles_labels()  # lir's H1/H2: the classes of Hp and Hd
        ax.legend(handles, [t.replace("H1 (", "AI-generated (").replace("H2 (", "real (") for t in labels])
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.xaxis.label.set_fontsize(7)
        ax.yaxis.label.set_fontsize(7)
        if ax.get_legend() is not None:
            for text in ax.get_legend().get_texts():
                text.set_fontsize(6)
        cells.append([plot(fig, 3.4, dpi=130), para(HOW_TO_READ[name], TEXT_SIZE)])
    table = Table(cells, colWidths=[3.55 * inch, (FULL_WIDTH - 3.55) * inch], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 0.05 * inch)]))
    return [table]


def _likelihood_page(m: dict, rows: list[dict]) -> list:
    lr = m["likelihood_ratio"]
    out = _page("Likelihood ratios: how much the score is worth as evidence", m["model"]["demo"])
    lines = [(f"Propositions. Hp: {HP}. Hd: {HD}. The likelihood ratio (LR) is how much more probable the "
              "model's logit is if Hp is true than if Hd is true; it is not the probability that the image is "
              "AI-generated.", {})]
    if lr.get("cllr") is None:
        lines += [(lr["reason"][:1].upper() + lr["reason"][1:] + ".", {"fontweight": "bold", "color": "#975a16"}),
                  (NO_LR_NOTE, {})]
        return out + _paragraphs(lines)
    low, high = lr["log10_bounds"]
    plan = lr["fold_plan"]
    lines += [
        (f"Out of fold. Each image's LR comes from a calibrator (lir's LogitCalibrator: a logistic regression on the "
         f"logit) fitted without its fold: {lr['folds']} folds that keep {', '.join(plan['kept_together'])} "
         f"together ({plan['units']} units, {plan['near_duplicate_pairs']} near-duplicate pairs). "
         + " ".join(plan["notes"]), {}),
        (f"Cllr {lr['cllr']:.3f} (0 is perfect; 1 is what an LR of 1 for every image scores): cllr_min "
         f"{lr['cllr_min']:.3f} is what the model's ranking allows, cllr_cal {lr['cllr_cal']:.3f} is lost to "
         f"calibration. {lr['n_real']} real and {lr['n_ai']} AI-generated images.", {}),
        (f"ELUB bounds (Vergeer et al. 2016): LR from {lr_text(10 ** low)} to {lr_text(10 ** high)} (log10 "
         f"{low:+.2f} to {high:+.2f}); {lr['n_capped']} out-of-fold LR(s) lay beyond them and were set to the "
         "bound. This much data cannot vouch for a stronger LR, whatever the model says.", {}),
        (("calibration.json carries the calibrator fitted on all these images, with these bounds and this "
          "validation: analyses with it carry an LR and its ENFSI words." if lr.get("file") else
          lr["reason"][:1].upper() + lr["reason"][1:] + "."), {}),
        ("An LR is only as good as the likeness of these images to the case's, and it weighs the model's score, "
         "not the picture's history.", {"fontweight": "bold"}),
    ]
    return out + _paragraphs(lines) + [Spacer(1, 0.05 * inch)] + _lr_plots(rows)


def _confusion(ax, decision: dict, title: str) -> None:
    c = decision["confusion"]
    grid = np.array([[c["real_called_real"], c["real_called_ai"]], [c["ai_called_real"], c["ai_called_ai"]]])
    ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(1, grid.max()))
    for (i, j), v in np.ndenumerate(grid):
        row = grid[i].sum()
        ax.text(j, i, f"{v}\n({v / row:.0%} of row)" if row else "0", ha="center", va="center", fontsize=9,
                color="white" if v > grid.max() / 2 else "black")
    ax.set_xticks([0, 1], ["called real", "called AI"], fontsize=8)
    ax.set_yticks([0, 1], ["real", "AI-generated"], fontsize=8)
    ax.set_title(title, fontsize=9)


def _groups_page(m: dict) -> list:
    t = m["at_target_fpr"]
    fig = Figure(figsize=(FULL_WIDTH, 2.9))
    left = fig.add_axes((0.12, 0.12, 0.33, 0.76))
    _confusion(left, m["at_threshold_0_5"], "at cut-off 0.5")
    right = fig.add_axes((0.62, 0.12, 0.33, 0.76))
    if t.get("cut_off") is not None or "confusion" in t:
        cut = f"{t['cut_off']:.4g}" if t.get("cut_off") is not None else "none"
        _confusion(right, t, f"at cut-off {cut} (target FPR {t['target_fpr']:g})")
    else:
        right.set_axis_off()
        right.text(0.5, 0.5, "target-FPR cut-off undefined:\nonly one class", ha="center", va="center")
    out = [*_page("Decisions and groups", m["model"]["demo"]), plot(fig, FULL_WIDTH, dpi=120), Spacer(1, 0.15 * inch),
           *_paragraphs([("Per group (folder), at cut-off 0.5. A group with one class cannot have "
                          "an AUC: its accuracy is that class's detection rate (TPR) or clearance "
                          "rate (TNR).", {})])]
    rows = [[g["group"][:40], str(g["n"]), str(g["n_real"]), str(g["n_ai"]), number_text(g["accuracy_at_0_5"]),
             number_text(g["mean_fake_probability"]), number_text(g["roc_auc"]), g["note"][:48]] for g in m["groups"][:30]]
    if rows:
        widths = [2.0, 0.35, 0.4, 0.35, 0.65, 0.6, 0.45]
        table = grid_table([["group", "n", "real", "AI", "accuracy", "mean P", "AUC", "note"], *rows],
                           [*widths, FULL_WIDTH - sum(widths)], size=7, right_cols={1, 2, 3, 4, 5, 6})
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, "#000000"), ("LEFTPADDING", (0, 0), (-1, -1), 3),
                                   ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
        out.append(table)
    if len(m["groups"]) > 30:
        out.append(para(f"{len(m['groups']) - 30} more groups in metrics.json", 7))
    return out


def worst_misses(rows: list[dict], k: int = WORST_MISSES) -> list[dict]:
    """The k images the model got most confidently wrong at 0.5 (real with high P, AI with low P)."""
    wrong = [r for r in rows if r["fake_probability"] is not None
             and (r["fake_probability"] >= THRESHOLD) != (r["label"] == "ai")]
    return sorted(wrong, key=lambda r: -abs(r["fake_probability"] - (r["label"] == "ai")))[:k]


def _misses_page(m: dict, rows: list[dict], det: Detector, paths: dict) -> list:
    out = _page("Worst misses: the most confident wrong answers at 0.5", m["model"]["demo"])
    misses = worst_misses(rows)
    if not misses:
        return out + [Spacer(1, 3 * inch), para("No image is misclassified at cut-off 0.5.", 11, align="center")]
    out += _paragraphs([("Each pair: the original (white box: the centre crop the model saw) and where "
                         "attention flowed (attention rollout, brighter = more). Look for what these images "
                         "share: a source, a subject, a compression.", {})])
    cells, side = [], 1.65
    for r in misses:
        a = det.analyze(paths[r["path"]], name=r["path"])
        thumb = np.asarray(a.image.convert("RGB").resize(_thumb(a.image.size)))
        heat = render.overlay_original(a, max_side=400)
        h = side * min(1.0, thumb.shape[0] / thumb.shape[1])
        w = h * thumb.shape[1] / thumb.shape[0]
        wrong = "real, called AI" if r["label"] == "real" else "AI-generated, called real"
        pair = Table([[Picture(thumb, w, h, extent=a.image.size, boxes=[Box(*a.crop_box, width=1.0)]),
                       Picture(heat, w, h)]], colWidths=[(side + 0.1) * inch] * 2, hAlign="LEFT")
        pair.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        cells.append([pair, para(f"{_short(r['path'], 60)}\n{wrong}: P = {r['fake_probability']:.3f}; "
                                 f"group {_short(r['group'], 30)}", 7)])
    grid = [cells[i:i + 2] + [""] * (2 - len(cells[i:i + 2])) for i in range(0, len(cells), 2)]
    table = Table(grid, colWidths=[FULL_WIDTH / 2 * inch] * 2, hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 0.2 * inch)]))
    return out + [Spacer(1, 0.1 * inch), table]


def _thumb(size: tuple[int, int], side: int = 400) -> tuple[int, int]:
    s = min(1.0, side / max(size))
    return max(1, round(size[0] * s)), max(1, round(size[1] * s))


def _short(text: str, n: int) -> str:
    text = printable(text)
    return text if len(text) <= n else text[: n // 2 - 1] + "\u2026" + text[-(n // 2):]


def write_pdf(path: Path, m: dict, rows: list[dict], det: Detector, found) -> Path:
    """The five pages; `found` (evaluate.Collected) maps scores.csv paths back to files for the misses."""
    from .metrics import scored_arrays
    y, p, _ = scored_arrays(rows)
    paths = {it.name: it.path for it in found.items}
    story = Story("Detector evaluation", f"forensics {__version__}  \u00b7  evaluation of {_short(m['data']['source'], 60)}",
                  subject=f"scores.csv sha256 {m['data']['scores_csv_sha256']}",
                  keywords=f"evaluation, forensics {__version__}", continued="")  # each page has its own title
    story.add(_summary_page(m), _curves_page(m, y, p), _likelihood_page(m, rows), _groups_page(m),
              _misses_page(m, rows, det, paths))
    Path(path).write_bytes(pdf_document(story))
    return path
