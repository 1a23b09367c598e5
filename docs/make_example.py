"""Make docs/example.png: every explanation method and deep check on one photograph.

    python docs/make_example.py [IMAGE]

Uses FORENSICS_MODEL's weights when set, else the untrained demo weights (says so in the title).
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matplotlib.figure import Figure  # noqa: E402

from forensics import Detector
from forensics import checks
from forensics import render  # noqa: E402


def main(argv):
    image = argv[1] if len(argv) > 1 else ROOT / "assets" / "grace_hopper.jpg"
    det = Detector.from_pretrained() if os.environ.get("FORENSICS_MODEL") else Detector.demo()
    a = det.analyze(image, method="grad-rollout", keep_attention=True)
    deep = checks.deep_check(det, a)
    rollout = a.with_method("attention-rollout")

    fig = Figure(figsize=(13, 8.4), dpi=100, layout="constrained")
    axes = fig.subplots(2, 3)
    panels = [
        (render.overlay_original(rollout), f"Attention rollout on the original\n(dimmed: not analysed)"),
        (render.overlay_input(a), f"grad-rollout on the 384 input\nagreement IoU {a.method_agreement:.2f}"
                                  + (" - UNSTABLE" if a.explanation_unstable else "")),
        (render.reliability_overlay(rollout, deep.reliability), "Reliability mask\n(grey: flat/clipped; boxes: outlier tokens)"),
    ]
    if deep.coverage:
        panels.append((render.coverage_overlay(a, deep.coverage),
                       f"Full coverage, {len(deep.coverage.tiles)} tiles\nmax P(AI) {deep.coverage.probability:.2f}"))
    for ax, (img, title) in zip(axes.flat, panels):
        ax.imshow(img)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    render.draw_deletion(axes.flat[4], deep.faithfulness)
    ax = axes.flat[5]
    ax.axis("off")
    lines = [f"P(AI-generated) {a.fake_probability:.1%}: {a.verdict_text}", ""]
    lines += [f"{p.name}: P {p.probability:.1%}, {'FLIPS' if p.flipped else 'same verdict'}, r = {p.heatmap_correlation:.2f}"
              for p in deep.stability.perturbations]
    lines += ["", f"top-10% share: {rollout.top_share(0.1):.1%}", ""] + [s for s in deep.summaries()]
    ax.text(0, 1, "\n".join(lines), va="top", fontsize=8, wrap=True)
    weights = "UNTRAINED DEMO WEIGHTS - mechanics only, not a forensic result" if a.demo else a.model.label
    fig.suptitle(f"{Path(image).name} - {weights}", fontsize=11, color="red" if a.demo else "black")
    out = ROOT / "docs" / "example.png"
    fig.savefig(out)
    print(out.relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv)
