"""Memory across cases: each item keeps its embedding and the identity of what made it.

Revision ID: 0004
Revises: 0003

`embedding`: the detector's final layer-normed CLS (Analysis.embedding) as float32 bytes;
`extractor`: which model, layer and transform made it (items of different extractors are never
compared). An index on sha256 finds identical files across cases. On PostgreSQL with the
pgvector extension available, a side table `item_vectors` holds the same vectors as pgvector
`vector` values for cosine search in SQL (forensics/cases/memory.py builds its HNSW indexes
after bulk loads); without the extension the store searches in NumPy, as on SQLite.
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("extractor", sa.String(200), nullable=True))
    op.create_index("ix_items_sha256", "items", ["sha256"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first() is None:
        return
    try:  # creating an extension may need rights this account lacks: then NumPy search, as without it
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError:
        return
    # No fixed dimension: models of different widths share the table; the HNSW indexes are
    # per extractor, on embedding::vector(d) (pgvector's documented way for mixed dimensions).
    op.execute("CREATE TABLE item_vectors (item_id integer PRIMARY KEY REFERENCES items (id), "
               "extractor varchar(200) NOT NULL, embedding vector NOT NULL)")
    op.execute("CREATE INDEX ix_item_vectors_extractor ON item_vectors (extractor)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS item_vectors")
    op.drop_index("ix_items_sha256", "items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("extractor")
        batch.drop_column("embedding")
