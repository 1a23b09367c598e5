"""A throwaway PostgreSQL cluster for the store tests (DESIGN.md: "Facts checked").

Debian's server binaries (/usr/lib/postgresql/N/bin) are run as the `postgres` user when the
tests run as root (the server refuses root), on a Unix socket only (listen_addresses=''), in a
temporary folder; `stop()` shuts it down with `-m immediate` and removes the folder.
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

INSTALL_HINT = ("no PostgreSQL server (Debian: apt-get install postgresql; .ci/run installs it): "
                "the store tests ran on SQLite only")


def server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


class Cluster:
    def __init__(self):
        self.bin = server_bin()
        if self.bin is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.root = Path(tempfile.mkdtemp(prefix="forensics-pg-"))
        self.data, self.socket = self.root / "data", self.root / "sock"
        self.socket.mkdir()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket, "postgres")
        self._names = itertools.count(1)

    def _run(self, *cmd) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run(prefix + [str(c) for c in cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> "Cluster":
        self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-t", "60",
                  "-o", f"-k {self.socket} -c listen_addresses='' -c fsync=off", "start")
        return self

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{db}?host={self.socket}"

    def new_database(self) -> str:
        """A fresh, empty database -> its SQLAlchemy URL."""
        import psycopg
        name = f"t{next(self._names)}"
        with psycopg.connect(host=str(self.socket), user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway cluster for the session (import it into a test module to use it); skips
    with the install hint where Debian's server is absent."""
    if server_bin() is None:
        pytest.skip(INSTALL_HINT)
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A case store on SQLite, then on a fresh database of the session's cluster (import it with
    `pg_cluster` into a test module to use it)."""
    from forensics.cases import CaseStore
    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgresql" else None
    s = CaseStore.open(tmp_path / "store", url)
    yield s
    s.close()
