"""The first schema: users, cases, shares, items, audit.

Revision ID: 0001
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("password_hash", sa.Text()),
        sa.Column("created_utc", sa.String(40), nullable=False))
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), sa.ForeignKey("users.name"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("created_utc", sa.String(40), nullable=False),
        sa.Column("changed_utc", sa.String(40), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_cases_owner_name"))
    op.create_table(
        "shares",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("user", sa.String(200), sa.ForeignKey("users.name"), primary_key=True))
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size", sa.Integer()),
        sa.Column("record_json", sa.Text()),
        sa.Column("record_sha256", sa.String(64)),
        sa.Column("error", sa.Text()),
        sa.Column("fake_probability", sa.Float()),
        sa.Column("verdict", sa.String(20)),
        sa.Column("hints", sa.Text(), nullable=False),
        sa.Column("c2pa", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("quality", sa.Integer()),
        sa.Column("phash", sa.String(16)),
        sa.Column("dhash", sa.String(16)),
        sa.Column("dup_group", sa.Integer()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("truth", sa.String(4)),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("added_utc", sa.String(40), nullable=False),
        sa.UniqueConstraint("case_id", "sha256", name="uq_items_case_sha256"))
    op.create_index("ix_items_case", "items", ["case_id", "id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id")),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer()),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("when_utc", sa.String(40), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_audit_case_seq"))
    op.create_index("ix_audit_case", "audit", ["case_id", "seq"])


def downgrade() -> None:
    for table in ("audit", "items", "shares", "cases", "users"):
        op.drop_table(table)
