"""The local engine of `forensics analyze`: collect files and folders (saying why any is
skipped), analyse them in batches, and write each one's exports beside a summary.
"""
