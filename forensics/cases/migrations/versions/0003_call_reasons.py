"""Items keep why their final call differs from P alone, and the local scan's judgement.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both copied from the item's record (record_json, which verify hashes) for the triage table:
    # the verdict reasons joined by "; " ("" when the call is P's own), and the local scan's
    # one-line judgement ("" when no scan was run).
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("reasons", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("local_scan", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("local_scan")
        batch.drop_column("reasons")
