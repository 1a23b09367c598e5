"""The tables of a case store (SQLAlchemy Core). Alembic revisions in migrations/ create them;
this module is what the code queries. Change both together (a new revision per change).

Text, not DB-native types, for times and JSON: the audit hash is computed over exactly these
strings, so SQLite and PostgreSQL must give them back byte for byte.
"""
from __future__ import annotations

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (Boolean, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table,
                        Text, UniqueConstraint)

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("name", String(200), primary_key=True),
    Column("password_hash", Text),            # argon2id; NULL: an account that cannot log in
    Column("created_utc", String(40), nullable=False),
)

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), ForeignKey("users.name"), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("created_utc", String(40), nullable=False),
    Column("changed_utc", String(40), nullable=False),
    UniqueConstraint("owner", "name", name="uq_cases_owner_name"),
)

shares = Table(
    "shares", metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("user", String(200), ForeignKey("users.name"), primary_key=True),
)

items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("source", Text, nullable=False),    # the path, "archive.zip!member", or "upload"
    Column("sha256", String(64)),              # NULL: refused before its bytes were read (a zip member)
    Column("size", Integer),
    Column("record_json", Text),               # report.record(analysis), as stored
    Column("record_sha256", String(64)),       # sha256 of record_json: verify finds a changed row
    Column("error", Text),                     # why it could not be kept or analysed
    # copied from the record so a listing never parses 10,000 records
    Column("fake_probability", Float),
    Column("verdict", String(20)),
    Column("hints", Text, nullable=False, default=""),
    Column("c2pa", String(20), nullable=False, default=""),
    Column("width", Integer),                  # upright pixels, for the best-original candidate
    Column("height", Integer),
    Column("quality", Integer),                # 100 lossless; a JPEG's estimated quality; NULL unknown
    Column("phash", String(16)),               # perceptual hashes (imagehash), hex
    Column("dhash", String(16)),
    Column("dup_group", Integer),              # id of the first item of its near-duplicate group
    # what the analyst sets; every change is also an audit entry
    Column("robustness", Text, nullable=False, default="", server_default=""),  # the sweep's judgement (0002)
    Column("reasons", Text, nullable=False, default="", server_default=""),     # why the call is not P's (0003)
    Column("local_scan", Text, nullable=False, default="", server_default=""),  # the local scan's judgement (0003)
    Column("embedding", LargeBinary),          # Analysis.embedding, float32 bytes; NULL: not analysed (0004)
    Column("extractor", String(200)),          # what made it: model, weights, layer, transform (memory.py)
    Column("status", String(10), nullable=False, default="check"),
    Column("notes", Text, nullable=False, default=""),
    Column("truth", String(4)),
    Column("removed", Boolean, nullable=False, default=False),
    Column("added_utc", String(40), nullable=False),
    UniqueConstraint("case_id", "sha256", name="uq_items_case_sha256"),
)
Index("ix_items_case", items.c.case_id, items.c.id)
Index("ix_items_sha256", items.c.sha256)      # identical files across cases (0004)

# Only on PostgreSQL with the pgvector extension (0004 creates it when it can): the embeddings as
# `vector` values for cosine search in SQL. Its own MetaData: a store without it is complete.
vector_metadata = MetaData()
item_vectors = Table(
    "item_vectors", vector_metadata,
    Column("item_id", Integer, primary_key=True),   # items.id
    Column("extractor", String(200), nullable=False),
    Column("embedding", VECTOR(), nullable=False),  # no fixed width; HNSW indexes cast per extractor
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id")),   # NULL: the store's own chain (users)
    Column("seq", Integer, nullable=False),               # 1, 2, ... within its chain
    Column("item_id", Integer),
    Column("who", String(200), nullable=False),
    Column("when_utc", String(40), nullable=False),
    Column("action", String(40), nullable=False),
    Column("payload", Text, nullable=False),               # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_audit_case_seq"),
)
Index("ix_audit_case", audit.c.case_id, audit.c.seq)
