"""Alembic's environment: the store hands over an open connection in a transaction
(`config.attributes["connection"]`); there is no alembic.ini and no offline mode."""
from __future__ import annotations

from alembic import context

from forensics.cases.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
