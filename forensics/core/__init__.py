"""The ground every capability stands on; imports nothing else of the package.

`errors` (InputError, ModelUnavailableError), `verdict` (the cut-off, the inconclusive band and
their wording), `calibration` (fitting and applying a map from raw to calibrated P), `untrusted`
(text from files made safe to print and to put in a spreadsheet), `preprocess` (the input
transform and the geometry that maps the 24x24 patch grid back to the original).
"""
