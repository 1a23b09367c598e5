"""The detector measured on the analyst's own labelled images.

`metrics` (labelled folders or CSVs -> scores -> scikit-learn metrics with intervals),
`likelihood_ratios` (out-of-fold likelihood ratios, Cllr and ELUB bounds with lir) over `folds`
(folds that keep copies, near-duplicates and groups together), `run` (the `evaluate` command:
scores.csv, metrics.json, calibration.json, report.pdf), `pdf` (that report's pages); `adapt` (the
`adapt` command: the analyst's probe and a recalibration, validated by grouped cross-validation) and
`probe` (`Probe`: the probe file, read beside the model's P by `analyze --probe` and the page).
"""
