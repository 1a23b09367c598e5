"""The package version: recorded in every export and shown on the page."""
__version__ = "0.1.0"
