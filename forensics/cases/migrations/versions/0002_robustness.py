"""Items keep the judgement of the delivery-path sweep (`case add --robustness`).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The sweep's one-word judgement label ("ROBUST TO RE-ENCODING", ...); "" when not run. The
    # numbers stay in the item's record (record_json), which verify hashes.
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("robustness", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("robustness")
