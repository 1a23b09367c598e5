"""Alembic migrations of the case store, run by `store.upgrade` (never by hand): env.py and one
revision per schema change in versions/."""
