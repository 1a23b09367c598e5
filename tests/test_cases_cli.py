"""`forensics case ...`, `forensics user add` and `forensics evaluate --case` as a user runs them,
plus the crash and concurrency tests in real processes."""
from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cases_helpers import write_scenes
from forensics.cli.main import main
from helpers import hang_guard
from pg import pg_cluster  # noqa: F401 - the fixture

REPO = Path(__file__).resolve().parents[1]


def cli(store, *argv, user="alice"):
    return main([*argv[:2], "--store", str(store), "--user", user, *argv[2:]])


def test_case_commands_end_to_end(tmp_path, tiny_model_dir, capsys, monkeypatch):
    store, photos = tmp_path / "store", tmp_path / "photos"
    write_scenes(photos, range(1, 9))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    assert cli(store, "case", "new", "ex7", "--title", "Reported uploads") == 0
    assert cli(store, "case", "add", "ex7", str(photos), "--model", str(tiny_model_dir), "--batch-size", "4") == 0
    assert "Added 9 item(s): 8 analysed, 1 unreadable" in capsys.readouterr().out
    assert cli(store, "case", "add", "ex7", str(photos), "--model", str(tiny_model_dir)) == 0
    assert "9 duplicate(s)" in capsys.readouterr().out

    assert cli(store, "case", "show", "ex7", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["items"]) == 9
    first = shown["items"][0]
    for key in ("id", "file_name", "sha256", "fake_probability", "verdict", "status", "truth", "group", "hints", "c2pa"):
        assert key in first
    ids = [i["id"] for i in shown["items"] if i["error"] is None]
    for n, item in enumerate(ids):  # truth for evaluate --case: four of each
        assert cli(store, "case", "mark", "ex7", str(item), "--truth", "ai" if n % 2 else "real") == 0
    assert cli(store, "case", "mark", "ex7", str(ids[0]), "--status", "warning", "--note", "odd EXIF") == 0
    assert cli(store, "case", "verify", "ex7") == 0
    assert "OK:" in capsys.readouterr().out

    assert main(["evaluate", "--case", "ex7", "--store", str(store), "--user", "alice", "--out", str(tmp_path / "ev"),
                 "--model", str(tiny_model_dir), "--bootstrap", "20"]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["counts"]["real"] == 4 and metrics["counts"]["ai_generated"] == 4
    assert "--case ex7" in metrics["reproduce"]
    assert main(["evaluate", "--case", "ex7", "--store", str(store), "--user", "bob", "--out", str(tmp_path / "ev2"),
                 "--demo"]) == 1
    assert "bob has no case named 'ex7'" in capsys.readouterr().err

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    assert cli(store, "user", "add", "bob", "--password-stdin") == 0
    assert cli(store, "case", "list", user="bob") == 0
    assert "bob has no cases yet" in capsys.readouterr().out
    assert cli(store, "case", "show", "ex7", user="bob") == 1
    assert cli(store, "case", "share", "ex7", "bob") == 0
    assert cli(store, "case", "list", user="bob") == 0
    assert "ex7 (shared by alice): 9 item(s)" in capsys.readouterr().out

    assert cli(store, "case", "report", "ex7", "--out", str(tmp_path / "rep")) == 0
    assert (tmp_path / "rep" / "report.pdf").exists() and (tmp_path / "rep" / "bundle.zip").exists()

    victim = next(i for i in shown["items"] if i["id"] == ids[2])
    path = Path(victim["evidence_path"])
    os.chmod(path, 0o644)
    path.write_bytes(b"swapped")
    capsys.readouterr()
    assert cli(store, "case", "verify", "ex7") == 1
    out = capsys.readouterr().out
    assert f"CHANGED item {victim['id']}: item {victim['id']} ({victim['file_name']}): evidence file changed" in out
    assert "FAILED" in out

    assert cli(store, "case", "remove", "ex7", str(ids[2])) == 0
    with pytest.raises(SystemExit):
        cli(store, "case", "purge", "ex7")                 # --yes is required
    assert cli(store, "case", "purge", "ex7", "--yes") == 0
    assert not path.exists()
    assert cli(store, "case", "verify", "ex7") == 0         # the changed file was removed and purged, on the record


def _db_items(store: Path) -> int:
    with sqlite3.connect(store / "cases.db", timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


@pytest.mark.slow
def test_kill_9_during_add_loses_nothing_committed(tmp_path, tiny_model_dir):
    store, photos = tmp_path / "store", tmp_path / "photos"
    write_scenes(photos, range(1, 41))
    assert cli(store, "case", "new", "crash") == 0
    cmd = [sys.executable, "-m", "forensics", "case", "add", "crash", str(photos), "--store", str(store),
           "--user", "alice", "--model", str(tiny_model_dir), "--batch-size", "1"]
    with hang_guard(240):
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and (not (store / "cases.db").exists() or _db_items(store) < 3):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    committed = _db_items(store)
    assert 3 <= committed < 40, "the run should have been cut off part way"
    assert cli(store, "case", "verify", "crash") == 0
    assert cli(store, "case", "add", "crash", str(photos), "--model", str(tiny_model_dir)) == 0
    assert _db_items(store) == 40
    assert cli(store, "case", "verify", "crash") == 0


WRITER = """
import sys
from forensics.analysis.detector import Detector
from forensics.cases import CaseStore
store, url, model, *paths = sys.argv[1:]
s = CaseStore.open(store, url or None)
r = s.add_files("shared", paths, Detector.from_pretrained(model, device="cpu"), "alice", batch_size=1)
print(len(r.added), len(r.duplicates))
"""


def _concurrent_writers(tmp_path, tiny_model_dir, url):
    from forensics.cases import CaseStore
    store = tmp_path / "store"
    s = CaseStore.open(store, url)
    s.create_case("shared", "alice")
    common = write_scenes(tmp_path / "common", [100, 101])
    procs = []
    for w in range(4):  # each writer: five files of its own and the two everyone adds
        own = write_scenes(tmp_path / f"w{w}", range(10 * w + 1, 10 * w + 6))
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, str(store), url or "", str(tiny_model_dir),
                                       *map(str, own + common)], cwd=REPO, stdout=subprocess.PIPE, text=True))
    with hang_guard(300):
        outs = [p.communicate()[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    added = [tuple(map(int, o.split())) for o in outs]
    assert sum(a for a, _ in added) == 22 and sum(d for _, d in added) == 6
    assert len(s.items("shared", "alice")) == 22
    v = s.verify("shared", "alice")
    assert v.ok, v.problems
    s.close()


@pytest.mark.slow
def test_four_concurrent_writers_lose_no_item_sqlite(tmp_path, tiny_model_dir):
    _concurrent_writers(tmp_path, tiny_model_dir, None)


@pytest.mark.slow
def test_four_concurrent_writers_lose_no_item_postgresql(tmp_path, tiny_model_dir, pg_cluster):
    _concurrent_writers(tmp_path, tiny_model_dir, pg_cluster.new_database())
