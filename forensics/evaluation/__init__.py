"""The detector measured on the analyst's own labelled images.

`metrics` (labelled folders or CSVs -> scores -> scikit-learn metrics with intervals),
`likelihood_ratios` (out-of-fold likelihood ratios, Cllr and ELUB bounds with lir) over `folds`
(folds that keep copies, near-duplicates and groups together), `run` (the `evaluate` command:
scores.csv, metrics.json, calibration.json, report.pdf), `pdf` (that report's pages).
"""
