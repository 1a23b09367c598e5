"""The detector measured on the analyst's own labelled images.

`metrics` (labelled folders or CSVs -> scores -> scikit-learn metrics with intervals), `run`
(the `evaluate` command: scores.csv, metrics.json, calibration.json, report.pdf), `pdf` (that
report's pages).
"""
