"""The case store: a folder with the evidence and (by default) an embedded SQLite database.

    store/
      cases.db            SQLite (WAL, foreign keys on), unless a --db URL names a server
      evidence/ab/ab...   each original once, by SHA-256, read-only

Opening a store runs Alembic's `upgrade head`, so a store made by an older version opens in
this one. Every write is one transaction that holds its case's chain lock, appends the audit
entries of what it did, and commits: a process killed at any moment leaves whole items and a
valid chain.
"""
from __future__ import annotations

import getpass
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event, func, or_, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from ..core.errors import InputError
from . import audit
from .evidence import EvidenceFolder
from .schema import cases, items, shares, users
from .users import check_name, hash_password, password_matches

ENV_STORE = "FORENSICS_STORE"
ENV_DB = "FORENSICS_DB"
ENV_USER = "FORENSICS_USER"
DB_FILE = "cases.db"
STATUSES = ("ok", "check", "warning")
TRUTHS = ("real", "ai")


class CaseAccessError(InputError):
    """No case of that name that this user may see (the same words whether it exists or not)."""


def default_store() -> Path:
    """$FORENSICS_STORE as given (the same folder `--store` names), else a store in the user's data folder."""
    if os.environ.get(ENV_STORE):
        return Path(os.environ[ENV_STORE])
    from platformdirs import user_data_dir
    return Path(user_data_dir("forensics", appauthor=False)) / "store"


def acting_user(given: str | None = None) -> str:
    """--user, else $FORENSICS_USER, else the OS login name."""
    name = given or os.environ.get(ENV_USER)
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            name = "analyst"
    return check_name(name)


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"--db {url!r} is not a database URL; e.g. sqlite:///cases.db or "
                         "postgresql+psycopg://user@host/dbname") from None
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    engine = create_engine(parsed, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi, _record):
        dbapi.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi.cursor()
        for pragma in ("busy_timeout=60000", "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # a writer takes the write lock at BEGIN, so two writers queue instead of deadlocking
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


def alembic_config():
    """Alembic's configuration for the store's schema scripts (forensics/cases/migrations/)."""
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", "forensics.cases:migrations")
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Alembic `upgrade head` (or to `revision`) on this database, one opener at a time."""
    from alembic import command
    cfg = alembic_config()
    with engine.connect() as conn:
        conn = conn.execution_options(write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x0F0E_FFFF})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)


@dataclass(frozen=True)
class Case:
    id: int
    name: str
    owner: str
    title: str
    created_utc: str
    changed_utc: str
    items: int = 0
    shared_with: tuple[str, ...] = ()


class BaseStore:
    """Opening, transactions, users and cases; the item work is in `CaseStore` (casestore.py)."""

    def __init__(self, root: Path, engine: Engine):
        self.root = Path(root)
        self.engine = engine
        self.evidence = EvidenceFolder(self.root / "evidence")
        # item id -> its stored embedding bytes, read once per open store: an embedding is written
        # with its item and never changed (verify checks the rows themselves), and reading 10^5 of
        # them again for every listing cost seconds (memory.py, bench/bench_memory.py).
        self.embedding_cache: dict[int, bytes] = {}

    @classmethod
    def open(cls, store_dir=None, db_url: str | None = None):
        """The store in `store_dir` (default $FORENSICS_STORE, else the user data folder); the
        database at `db_url` (default $FORENSICS_DB, else store_dir/cases.db). Created and
        upgraded as needed."""
        root = Path(store_dir) if store_dir else default_store()
        root.mkdir(parents=True, exist_ok=True)
        (root / "evidence").mkdir(exist_ok=True)
        url = db_url or os.environ.get(ENV_DB) or f"sqlite:///{(root / DB_FILE).resolve()}"
        engine = make_engine(url)
        upgrade(engine)
        return cls(root, engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def _write(self, case_id=None):
        """One write transaction holding the chain lock of `case_id` (None: the store's)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with conn.begin():
                audit.lock_chain(conn, case_id)
                yield conn

    @contextmanager
    def _read(self):
        with self.engine.connect() as conn:
            yield conn

    # -- users ---------------------------------------------------------------------------
    def _ensure_user(self, conn, name: str) -> None:
        check_name(name)
        if conn.execute(select(users.c.name).where(users.c.name == name)).first() is None:
            conn.execute(users.insert().values(name=name, password_hash=None, created_utc=audit.now_utc()))
            audit.append(conn, None, name, "user created", {"user": name, "password": False})

    def add_user(self, name: str, password: str | None = None, by: str | None = None) -> None:
        """A new account (argon2id hash when a password is given). An account that exists only
        because it acted from the command line may be given its first password."""
        check_name(name)
        hashed = hash_password(password) if password is not None else None
        with self._write() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
            if row is not None and (row.password_hash or hashed is None):
                raise InputError(f"user {name} already exists")
            if row is None:
                conn.execute(users.insert().values(name=name, password_hash=hashed, created_utc=audit.now_utc()))
                action = "user created"
            else:
                conn.execute(users.update().where(users.c.name == name).values(password_hash=hashed))
                action = "password set"
            audit.append(conn, None, by or name, action, {"user": name, "password": hashed is not None})

    def authenticate(self, name: str, password: str) -> bool:
        with self._read() as conn:
            stored = conn.execute(select(users.c.password_hash).where(users.c.name == name)).scalar()
        return password_matches(stored, password)

    def user_names(self) -> list[str]:
        with self._read() as conn:
            return list(conn.execute(select(users.c.name).order_by(users.c.name)).scalars())

    # -- cases ---------------------------------------------------------------------------
    def create_case(self, name: str, owner: str, title: str = "", by: str | None = None) -> Case:
        name = _case_name(name)
        check_name(owner)
        with self._write() as conn:
            self._ensure_user(conn, owner)
            if conn.execute(select(cases.c.id).where(cases.c.owner == owner, cases.c.name == name)).first():
                raise InputError(f"{owner} already has a case named {name}")
            now = audit.now_utc()
            case_id = conn.execute(cases.insert().values(name=name, owner=owner, title=title or "",
                                                         created_utc=now, changed_utc=now)).inserted_primary_key[0]
            audit.lock_chain(conn, case_id)  # the case's own chain starts with its creation
            audit.append(conn, case_id, by or owner, "case created", {"case": name, "owner": owner, "title": title})
        return self.case(name, owner)

    def _visible(self, user: str):
        shared = select(shares.c.case_id).where(shares.c.user == user)
        return or_(cases.c.owner == user, cases.c.id.in_(shared))

    def _case_row(self, conn, name: str, user: str):
        """The case `name` (or OWNER/NAME) that `user` may see, else CaseAccessError."""
        owner, _, bare = name.rpartition("/")
        query = select(cases).where(self._visible(user), cases.c.name == bare)
        if owner:
            query = query.where(cases.c.owner == owner)
        rows = conn.execute(query).all()
        if not rows:
            raise CaseAccessError(f"{user} has no case named {name!r} (own or shared). "
                                  "`forensics case list` shows yours; the owner can share theirs with "
                                  f"`forensics case share {bare} {user}`.")
        if len(rows) > 1:
            owners = ", ".join(f"{r.owner}/{r.name}" for r in rows)
            raise InputError(f"more than one case named {bare!r} is open to {user}: say which, one of {owners}")
        return rows[0]

    def case(self, name: str, user: str) -> Case:
        with self._read() as conn:
            row = self._case_row(conn, name, user)
            return self._summary(conn, row)

    def _summary(self, conn, row) -> Case:
        n = conn.execute(select(func.count()).select_from(items)
                         .where(items.c.case_id == row.id, items.c.removed.is_(False))).scalar_one()
        with_ = tuple(conn.execute(select(shares.c.user).where(shares.c.case_id == row.id)
                                   .order_by(shares.c.user)).scalars())
        return Case(row.id, row.name, row.owner, row.title, row.created_utc, row.changed_utc, n, with_)

    def list_cases(self, user: str) -> list[Case]:
        """The cases `user` owns or that are shared with them, last changed first."""
        with self._read() as conn:
            rows = conn.execute(select(cases).where(self._visible(user))
                                .order_by(cases.c.changed_utc.desc(), cases.c.id)).all()
            return [self._summary(conn, r) for r in rows]

    def share(self, name: str, with_user: str, user: str) -> None:
        """Open the case to `with_user` (an existing account); only its owner may."""
        with self._read() as conn:
            row = self._case_row(conn, name, user)
        if row.owner != user:
            raise InputError(f"only the owner ({row.owner}) can share case {row.name}")
        with self._write(row.id) as conn:
            if conn.execute(select(users.c.name).where(users.c.name == with_user)).first() is None:
                raise InputError(f"no user named {with_user}; add the account first: forensics user add {with_user}")
            if with_user == row.owner or conn.execute(select(shares).where(
                    shares.c.case_id == row.id, shares.c.user == with_user)).first():
                return
            conn.execute(shares.insert().values(case_id=row.id, user=with_user))
            audit.append(conn, row.id, user, "case shared", {"with": with_user})
            self._touch(conn, row.id)

    def _touch(self, conn, case_id) -> None:
        conn.execute(cases.update().where(cases.c.id == case_id).values(changed_utc=audit.now_utc()))

    def audit_log(self, name: str, user: str) -> list[dict]:
        """The case's chain, oldest first, as plain dicts (the bundle's audit.jsonl)."""
        with self._read() as conn:
            row = self._case_row(conn, name, user)
            return [entry_dict(e) for e in audit.entries(conn, row.id)]


def entry_dict(e) -> dict:
    return {"case": e.case_id, "seq": e.seq, "who": e.who, "when_utc": e.when_utc, "action": e.action,
            "item": e.item_id, "payload": json.loads(e.payload), "prev_hash": e.prev_hash, "hash": e.hash}


def _case_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or "/" in name or len(name) > 200 or not name.isprintable():
        raise InputError(f"case name {name!r} is not usable: 1-200 printable characters, no '/'")
    return name.strip()
