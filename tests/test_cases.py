"""The case store against SQLite and a real PostgreSQL (tests/pg.py): the same tests on both."""
from __future__ import annotations

import json
import os
import stat

import pytest
from sqlalchemy import text

from cases_helpers import image_bytes, scene, write_scenes, zip_with
from helpers import encode, make_photo
from forensics.cases import CaseAccessError, CaseStore
from forensics.cases import intake
from forensics.core.errors import InputError
from pg import pg_cluster, store  # noqa: F401 - the fixtures


def _case(store, name="c", owner="alice"):
    store.create_case(name, owner, "a title")
    return name


def test_add_keeps_analyses_and_reports_duplicates(store, tiny_detector, tmp_path):
    folder = tmp_path / "in"
    paths = write_scenes(folder, [1, 2, 3])
    (folder / "broken.jpg").write_bytes(b"not a picture")
    (folder / "notes.txt").write_text("a text file")
    case = _case(store)
    result = store.add_files(case, [folder], tiny_detector, "alice", batch_size=2)
    assert len(result.added) == 5 and result.analysed == 3 and not result.duplicates
    items = {i.file_name: i for i in store.items(case, "alice")}
    assert items["broken.jpg"].error and items["notes.txt"].error and items["scene1.png"].error is None
    kept = items["scene2.png"].evidence_path
    assert kept.read_bytes() == paths[1].read_bytes()
    assert kept.name == items["scene2.png"].sha256 and kept.parent.name == kept.name[:2]
    assert stat.S_IMODE(kept.stat().st_mode) == 0o444
    record = store.record(case, items["scene1.png"].id, "alice")
    assert record["input_sha256"] == items["scene1.png"].sha256
    assert record["fake_probability"] == items["scene1.png"].fake_probability
    mtime = kept.stat().st_mtime_ns
    again = store.add_files(case, [folder], tiny_detector, "alice")
    assert not again.added and len(again.duplicates) == 5   # the same files: all reported, none added twice
    assert kept.stat().st_mtime_ns == mtime                 # evidence never rewritten
    assert store.verify(case, "alice").ok


def test_mark_is_logged_and_verified(store, tiny_detector, tmp_path):
    write_scenes(tmp_path / "in", [1])
    case = _case(store)
    store.add_files(case, [tmp_path / "in"], tiny_detector, "alice")
    (item,) = store.items(case, "alice")
    assert store.mark(case, item.id, "alice", status="warning", note="looks cropped", truth="ai") == \
        ["status", "notes", "truth"]
    assert store.mark(case, item.id, "alice", status="warning") == []
    (item,) = store.items(case, "alice")
    assert (item.status, item.notes, item.truth) == ("warning", "looks cropped", "ai")
    actions = [e["action"] for e in store.audit_log(case, "alice")]
    assert actions == ["case created", "item added", "analysed", "status changed", "note changed", "truth changed"]
    with pytest.raises(InputError, match="status must be"):
        store.mark(case, item.id, "alice", status="fine")
    assert store.verify(case, "alice").ok


def _tamper(store, kind, item):
    with store.engine.begin() as conn:
        if kind == "result row":
            conn.execute(text("UPDATE items SET fake_probability = 0.01, verdict = 'real' WHERE id = :i"),
                         {"i": item.id})
        elif kind == "stored record":
            rec = json.loads(conn.execute(text("SELECT record_json FROM items WHERE id = :i"), {"i": item.id}).scalar())
            rec["fake_probability"] = 0.01
            conn.execute(text("UPDATE items SET record_json = :r WHERE id = :i"), {"r": json.dumps(rec), "i": item.id})
        elif kind == "status column":
            conn.execute(text("UPDATE items SET status = 'ok' WHERE id = :i"), {"i": item.id})
        elif kind == "audit entry":
            conn.execute(text("UPDATE audit SET who = 'mallory' WHERE item_id = :i AND action = 'analysed'"),
                         {"i": item.id})
        elif kind == "deleted row":
            conn.execute(text("DELETE FROM items WHERE id = :i"), {"i": item.id})
        elif kind == "triage column":  # what the table and the report show, not only P and the verdict
            conn.execute(text("UPDATE items SET c2pa = 'valid', robustness = 'ROBUST TO RE-ENCODING' WHERE id = :i"),
                         {"i": item.id})
    if kind == "evidence file":
        path = item.evidence_path
        os.chmod(path, 0o644)
        path.write_bytes(path.read_bytes() + b"x")
        os.chmod(path, 0o444)


@pytest.mark.parametrize("kind", ["evidence file", "result row", "stored record", "status column", "audit entry",
                                  "deleted row", "triage column"])
def test_verify_names_the_tampered_item(store, tiny_detector, tmp_path, kind):
    write_scenes(tmp_path / "in", [1, 2, 3])
    case = _case(store)
    store.add_files(case, [tmp_path / "in"], tiny_detector, "alice")
    assert store.verify(case, "alice").ok
    target = store.items(case, "alice")[1]
    _tamper(store, kind, target)
    v = store.verify(case, "alice")
    assert not v.ok
    assert {p.item for p in v.problems} == {target.id}, v.problems


def test_zip_bounds_refuse_with_reasons(store, tiny_detector, tmp_path):
    good = image_bytes(scene(1))
    inner = zip_with([("deeper.zip", zip_with([("x.png", image_bytes(scene(4)))])), ("inner.png", image_bytes(scene(3)))])
    archive = tmp_path / "exhibit.zip"
    archive.write_bytes(zip_with([
        ("good.png", good),
        ("bomb.png", b"\0" * (8 * 1024 * 1024)),            # 8 MiB of zeros: ~1000:1
        ("../../escape.png", image_bytes(scene(2))),
        ("/etc/absolute.png", image_bytes(scene(5))),
        ("link.png", b"/etc/passwd", "symlink"),
        ("nested.zip", inner),
    ]))
    case = _case(store)
    result = store.add_files(case, [archive], tiny_detector, "alice")
    assert [s for s, _ in result.archives] == [str(archive), f"{archive}!nested.zip"]
    by_source = {i.source.split("!", 1)[1]: i for i in store.items(case, "alice")}
    assert by_source["good.png"].error is None and by_source["good.png"].verdict
    assert "zip bomb" in by_source["bomb.png"].error and by_source["bomb.png"].sha256 is None
    assert "path traversal" in by_source["../../escape.png"].error
    assert "absolute path" in by_source["/etc/absolute.png"].error
    assert "symbolic link" in by_source["link.png"].error
    assert by_source["nested.zip!inner.png"].error is None          # one level of nesting is opened
    assert "at most" in by_source["nested.zip!deeper.zip"].error    # a second level is not
    assert not (tmp_path / "escape.png").exists() and not any(tmp_path.parent.glob("escape.png"))
    assert store.verify(case, "alice").ok
    again = store.add_files(case, [archive], tiny_detector, "alice")
    assert not again.added                                           # refused members are not listed twice


def test_archive_limits(monkeypatch):
    monkeypatch.setattr(intake, "MAX_MEMBERS", 2)
    many = zip_with([(f"{n}.png", b"x") for n in range(3)])
    (c,) = list(intake.archive(many, "many.zip", "many.zip", 0))
    assert c.data == many and "at most 2" in c.error
    (c,) = list(intake.archive(b"PK\x03\x04 broken", "b.zip", "b.zip", 0))
    assert "not a readable zip" in c.error


def test_near_duplicates_share_a_group(store, tiny_detector, tmp_path):
    base = scene(7)
    w, h = base.size
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_original.png").write_bytes(image_bytes(base))
    (folder / "b_resized.png").write_bytes(image_bytes(base.resize((w // 2, h // 2))))
    (folder / "c_reencoded.jpg").write_bytes(image_bytes(base, "JPEG", quality=40))
    (folder / "d_cropped.png").write_bytes(image_bytes(base.crop((int(w * .03), int(h * .03), int(w * .97), int(h * .97)))))
    for s in (8, 9, 10):
        (folder / f"other{s}.png").write_bytes(image_bytes(scene(s)))
    case = _case(store)
    store.add_files(case, [folder], tiny_detector, "alice")
    items = {i.file_name: i for i in store.items(case, "alice")}
    copies = [items[n] for n in ("a_original.png", "b_resized.png", "c_reencoded.jpg", "d_cropped.png")]
    assert len({c.group for c in copies}) == 1 and copies[0].group is not None
    assert all(items[f"other{s}.png"].group is None for s in (8, 9, 10))
    ps = [c.fake_probability for c in copies]
    assert copies[0].group_spread == pytest.approx(max(ps) - min(ps))
    assert [c.file_name for c in copies if c.largest] == ["a_original.png"]
    assert [c.file_name for c in copies if c.best_original] == ["a_original.png"]  # PNG beats q40 JPEG


def test_users_see_only_their_own_and_shared_cases(store, tiny_detector, tmp_path):
    _case(store, "alices", "alice")
    store.add_user("bob", "correct horse")
    assert [c.name for c in store.list_cases("alice")] == ["alices"]
    assert store.list_cases("bob") == []
    for call in (lambda: store.items("alices", "bob"), lambda: store.verify("alices", "bob"),
                 lambda: store.mark("alices", 1, "bob", status="ok"), lambda: store.labelled("alices", "bob"),
                 lambda: store.add_files("alices", [], tiny_detector, "bob")):
        with pytest.raises(CaseAccessError, match="bob has no case named 'alices'"):
            call()
    store.create_case("bobs", "bob")
    with pytest.raises(CaseAccessError):
        store.share("bobs", "alice", "alice")                  # not hers to share: she cannot even see it
    store.share("alices", "bob", "alice")
    assert sorted((c.name, c.owner) for c in store.list_cases("bob")) == [("alices", "alice"), ("bobs", "bob")]
    assert [c.name for c in store.list_cases("alice")] == ["alices"]
    assert store.items("alices", "bob") == []
    with pytest.raises(InputError, match="only the owner"):
        store.share("alices", "bob", "bob")
    with pytest.raises(InputError, match="no user named carol"):
        store.share("alices", "carol", "alice")


def test_passwords_are_argon2_hashes(store):
    store.add_user("bob", "correct horse")
    assert store.authenticate("bob", "correct horse")
    assert not store.authenticate("bob", "wrong") and not store.authenticate("nobody", "correct horse")
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE name = 'bob'")).scalar()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    with pytest.raises(InputError, match="already exists"):
        store.add_user("bob", "again")


def test_remove_keeps_evidence_until_purge(store, tiny_detector, tmp_path):
    write_scenes(tmp_path / "in", [1, 2])
    case = _case(store)
    store.add_files(case, [tmp_path / "in"], tiny_detector, "alice")
    first, second = store.items(case, "alice")
    store.remove(case, first.id, "alice")
    assert [i.id for i in store.items(case, "alice")] == [second.id]
    assert first.evidence_path.exists() and store.verify(case, "alice").ok
    with pytest.raises(InputError, match="removed"):
        store.mark(case, first.id, "alice", status="ok")
    assert store.purge(case, "alice") == [first.sha256]
    assert not first.evidence_path.exists() and second.evidence_path.exists()
    v = store.verify(case, "alice")
    assert v.ok, v.problems
    assert [e["action"] for e in store.audit_log(case, "alice")][-2:] == ["item removed", "evidence purged"]


def test_labelled_items_are_the_marked_ones(store, tiny_detector, tmp_path):
    write_scenes(tmp_path / "in", [1, 2, 3])
    case = _case(store)
    store.add_files(case, [tmp_path / "in"], tiny_detector, "alice")
    a, b, _ = store.items(case, "alice")
    store.mark(case, a.id, "alice", truth="ai")
    store.mark(case, b.id, "alice", truth="real")
    assert store.labelled(case, "alice") == [(a.evidence_path, "ai", a.file_name), (b.evidence_path, "real", b.file_name)]


def test_report_writes_pdf_and_bundle(store, tiny_detector, tmp_path):
    import zipfile
    import hashlib
    write_scenes(tmp_path / "in", [1, 2])
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG broken")
    case = _case(store)
    store.add_files(case, [tmp_path / "in"], tiny_detector, "alice")
    done = store.report(case, tmp_path / "out", "alice")
    assert done.pdf.read_bytes().startswith(b"%PDF")
    from pypdf import PdfReader
    assert len(PdfReader(done.pdf).pages) >= 4     # cover + one page per item
    with zipfile.ZipFile(done.bundle) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        for f in manifest["files"]:
            assert hashlib.sha256(z.read(f["path"])).hexdigest() == f["sha256"]
        log = [json.loads(line) for line in z.read("audit.jsonl").decode().splitlines()]
    items = store.items(case, "alice")
    assert {f"evidence/{i.sha256}" for i in items} <= names
    assert {f"exports/item-{i.id}.json" for i in items if i.error is None} <= names
    assert {"report.pdf", "items.csv", "audit.jsonl"} <= names
    assert log == store.audit_log(case, "alice")[:-1]   # the export itself is the entry after
    assert store.audit_log(case, "alice")[-1]["action"] == "report exported"
    with pytest.raises(InputError, match="never overwritten"):
        store.report(case, tmp_path / "out", "alice")


def test_schema_revision_matches_the_tables(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from forensics.cases.schema import metadata
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
    assert diff == []


def test_a_store_made_by_the_previous_version_opens_in_this_one(tmp_path, tiny_detector):
    """A store at revision 0001 (before the robustness column) is upgraded on open, items intact."""
    from sqlalchemy import create_engine, inspect
    from forensics.cases import store as store_module
    folder = tmp_path / "old-store"
    folder.mkdir()
    engine = create_engine(f"sqlite:///{folder / 'cases.db'}")
    store_module.upgrade(engine, "0001")
    with engine.begin() as conn:
        assert "robustness" not in {c["name"] for c in inspect(conn).get_columns("items")}
    engine.dispose()
    s = CaseStore.open(folder)
    try:
        s.create_case("old", owner="alice")
        photo = tmp_path / "photo.png"
        photo.write_bytes(encode(make_photo(300, 200, seed=3)))
        s.add_files("old", [photo], tiny_detector, "alice", robustness=True)
        (item,) = s.items("old", "alice")
        assert item.robustness in ("ROBUST TO RE-ENCODING", "DEPENDS ON THE DELIVERY PATH")
        assert s.record("old", item.id, "alice")["robustness"]["variants"]
        assert s.verify("old", "alice").ok
    finally:
        s.close()


def test_the_store_environment_variable_names_the_same_folder_as_the_option(tmp_path, monkeypatch):
    """`FORENSICS_STORE=DIR` and `--store DIR` open the same store (a case made by one is seen by the other)."""
    from forensics.cases import default_store
    monkeypatch.setenv("FORENSICS_STORE", str(tmp_path / "shared"))
    assert default_store() == tmp_path / "shared"
    s = CaseStore.open(tmp_path / "shared")
    s.create_case("one", owner="alice")
    s.close()
    again = CaseStore.open()
    try:
        assert [c.name for c in again.list_cases("alice")] == ["one"]
    finally:
        again.close()



def test_a_zip_of_many_small_members_of_zeros_is_refused_as_a_whole(tmp_path):
    """Each 512 KiB member of zeros is under the per-member floor; the archive, ~1000:1, is not."""
    bomb = zip_with([(f"part{n}.png", b"\0" * (512 * 1024)) for n in range(8)])
    path = tmp_path / "parts.zip"
    path.write_bytes(bomb)
    (found,) = list(intake.expand([path]))
    assert found.data is not None and not found.archive  # the archive kept as evidence, nothing unpacked
    assert "compressed" in found.error and "overall" in found.error and "zip bomb" in found.error


def test_links_and_special_files_in_a_folder_are_listed_not_read(tmp_path):
    folder = tmp_path / "in"
    write_scenes(folder, [1])
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the case")
    (folder / "linked.png").symlink_to(secret)
    os.mkfifo(folder / "pipe.png")
    found = {c.name: c for c in intake.expand([folder])}
    assert found["scene1.png"].data is not None
    assert found["linked.png"].data is None and "link" in found["linked.png"].error
    assert found["pipe.png"].data is None and "not a regular file" in found["pipe.png"].error
