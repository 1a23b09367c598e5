"""The Case tab's handlers (webui/case.py) against a real store in tmp_path, no browser."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from cases_helpers import image_bytes, scene, write_scenes, zip_with
from forensics.cases import CaseAccessError, CaseStore
from forensics.cli.main import main as cli
from webui import case, handlers
from webui.case import CaseRoom

ALICE, BOB = "alice", "bob"
P, VERDICT, STATUS, TRUTH, NOTES, FILE = (case.TABLE_HEADERS.index(h)
                                          for h in ("P(AI)", "verdict", "status", "truth", "notes", "file"))


@pytest.fixture
def room(tmp_path):
    r = CaseRoom(tmp_path / "store")
    yield r
    r.store().close()


@pytest.fixture
def exhibit(tmp_path):
    """Two pictures, a zip of two more, and a file that only claims to be a picture."""
    files = write_scenes(tmp_path / "in", [1, 2])
    archive = tmp_path / "in" / "more.zip"
    archive.write_bytes(zip_with([("a/scene3.png", image_bytes(scene(3))), ("scene4.jpg", image_bytes(scene(4), "JPEG"))]))
    broken = tmp_path / "in" / "letter.png"
    broken.write_bytes(b"Dear analyst, this is a letter.\n" * 10)
    return [*files, archive, broken]


def opened(room, user, name="exhibit-7", title="Reported uploads"):
    out = case.create_case(room, user, name, title)
    assert out["case_open"] == f"{user}/{name}", out.get("case_note")
    return out["case_open"]


def added(room, user, key, paths, detector):
    told = []
    out = case.add_files(room, user, key, paths, detector, lambda *a, **k: told.append((a, k)))
    return out, told


def test_create_add_a_zip_and_a_broken_file_then_the_table_lists_every_item(room, exhibit, tiny_detector):
    key = opened(room, ALICE)
    out, told = added(room, ALICE, key, exhibit, tiny_detector)

    rows = out["case_table"]
    assert sorted(r[FILE] for r in rows) == ["letter.png", "scene1.png", "scene2.png", "scene3.png", "scene4.jpg"]
    assert len(told) == 6 and told[-1][1]["desc"] == "analysed letter.png"  # a step per file: the zip, its members
    broken = next(r for r in rows if r[FILE] == "letter.png")
    assert broken[VERDICT] == "unreadable" and broken[P] is None and "not an image" in broken[NOTES]
    assert broken[0] == ""                                                 # no thumbnail for it
    for r in (r for r in rows if r[FILE] != "letter.png"):
        assert r[0].startswith("![thumbnail](data:image/jpeg;base64,")      # inline: no file route involved
        assert 0 <= r[P] <= 1 and r[VERDICT] in ("ai-generated", "real", "inconclusive") and r[STATUS] == "check"
    assert "4 analysed, 1 unreadable (letter.png:" in out["case_note"] and "1 zip archive" in out["case_note"]
    assert "Reported uploads" in out["case_heading"] and "5 items" in out["case_heading"]
    assert out["case_files"] is None                                       # the drop zone is emptied

    again, _ = added(room, ALICE, key, exhibit[:1], tiny_detector)          # the same file once more
    assert len(again["case_table"]) == 5 and "1 already in the case" in again["case_note"]


def test_a_drop_without_an_open_case_or_too_many_files_is_refused_with_words(room, exhibit, tiny_detector, monkeypatch):
    assert "Create or open a case first" in case.add_files(room, ALICE, None, exhibit, tiny_detector)["case_note"]
    key = opened(room, ALICE)
    monkeypatch.setattr(case, "MAX_DROP_FILES", 2)
    out = case.add_files(room, ALICE, key, exhibit, tiny_detector)
    assert "at most 2" in out["case_note"] and room.store().items(key, ALICE) == []


def test_the_case_list_shows_cases_made_from_the_command_line(room, tmp_path, monkeypatch):
    monkeypatch.setenv("FORENSICS_USER", ALICE)
    assert cli(["case", "new", "from-cli", "--title", "made in a terminal", "--store", str(room.store_dir)]) == 0
    opened(room, ALICE, "from-page")
    listed = case.load_page(room, None, None, None)
    assert [r[0] for r in listed["case_list"]] == ["from-page", "from-cli"]   # last changed first
    assert listed["case_list"][1][2] == "made in a terminal"
    assert ("from-cli", "alice/from-cli") in listed["case_pick"].choices
    assert "<b>alice</b>" in listed["case_banner"]


def test_the_filter_reads_any_column_and_compares_numbers(room, exhibit, tiny_detector):
    key = opened(room, ALICE)
    rows = added(room, ALICE, key, exhibit, tiny_detector)[0]["case_table"]
    ps = sorted(r[P] for r in rows if r[P] is not None)
    middle = (ps[1] + ps[2]) / 2

    def names(column, text):
        return sorted(r[FILE] for r in case.filter_table(room, ALICE, key, column, text)["case_table"])

    assert names("P(AI)", f">{middle}") == sorted(r[FILE] for r in rows if r[P] is not None and r[P] > middle)
    assert len(names("P(AI)", f">{middle}")) == 2 and len(names("P(AI)", f"<={middle}")) == 2
    assert names("verdict", "UNREAD") == ["letter.png"]                    # case-insensitive contains
    assert names(case.ANY_COLUMN, "scene3") == ["scene3.png"]
    assert names("file", "jpg") == ["scene4.jpg"]
    assert names("notes", "scene") == []                                   # only the column named
    assert len(names(case.ANY_COLUMN, "")) == 5


def test_marks_set_from_the_page_are_kept_and_shown(room, exhibit, tiny_detector):
    key = opened(room, ALICE)
    added(room, ALICE, key, exhibit[:2], tiny_detector)
    first = room.store().items(key, ALICE)[0]
    assert case.pick_item(room, ALICE, key, first.id) == {"case_status": "check", "case_truth": "",
                                                          "case_mark_note": ""}

    out = case.mark(room, ALICE, key, first.id, "warning", "ai", "cropped and re-encoded")
    assert "status, notes, truth changed" in out["case_note"]
    row = next(r for r in out["case_table"] if r[1] == first.id)
    assert (row[STATUS], row[TRUTH], row[NOTES]) == ("warning", "ai", "cropped and re-encoded")
    kept = room.store().items(key, ALICE)[0]
    assert (kept.status, kept.truth, kept.notes) == ("warning", "ai", "cropped and re-encoded")
    actions = [e["action"] for e in room.store().audit_log(key, ALICE)]
    assert {"status changed", "truth changed", "note changed"} <= set(actions)

    assert "nothing to change" in case.mark(room, ALICE, key, first.id, "warning", "ai", "cropped and re-encoded")[
        "case_note"]
    assert "truth" in case.mark(room, ALICE, key, first.id, "warning", "", "cropped and re-encoded")["case_note"]
    assert room.store().items(key, ALICE)[0].truth is None                 # "unknown" clears it
    assert "status must be one of" in case.mark(room, ALICE, key, first.id, "fine", "", "")["case_note"]


def test_a_row_opens_a_copy_of_the_item_in_the_image_tab(room, exhibit, tiny_detector):
    key = opened(room, ALICE)
    rows = added(room, ALICE, key, exhibit[:2], tiny_detector)[0]["case_table"]
    item = room.store().items(key, ALICE)[1]
    case.mark(room, ALICE, key, item.id, "ok", "", "seen")
    row = next(r for r in rows if r[1] == item.id)

    out = case.open_item(room, ALICE, key, row)
    copy = Path(out["image"])
    assert copy.name == "scene2.png" and copy != item.evidence_path
    assert not copy.is_relative_to(room.store_dir)                           # the store folder is never handed out
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == item.sha256
    assert out["notes"] == "seen" and out["case_item"] == item.id and out["case_status"] == "ok"
    # What the Analyze button then runs on it gives the stored verdict.
    shown = handlers.analyze_verdict(tiny_detector, str(copy), "attention-rollout", "mean", 0.0)
    assert shown["analysis"].fake_probability == pytest.approx(item.fake_probability, abs=1e-6)
    assert shown["analysis"].input_sha256 == item.sha256


def test_the_report_and_bundle_download_from_the_page(room, exhibit, tiny_detector):
    key = opened(room, ALICE)
    added(room, ALICE, key, exhibit[:2], tiny_detector)
    out = case.report(room, ALICE, key)
    pdf, bundle = Path(out["case_pdf"].value["path"]), Path(out["case_bundle"].value["path"])
    assert pdf.name == "exhibit-7-report.pdf" and pdf.read_bytes().startswith(b"%PDF")
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
    assert "audit.jsonl" in names and sum(n.startswith("evidence/") for n in names) == 2
    assert out["case_pdf"].visible and out["case_bundle"].visible
    assert "report exported" in [e["action"] for e in room.store().audit_log(key, ALICE)]
    second = case.report(room, ALICE, key)                                   # a fresh folder each time
    assert Path(second["case_pdf"].value["path"]) != pdf and pdf.is_file()


def test_another_users_case_is_refused_by_every_handler(room, exhibit, tiny_detector):
    key = opened(room, ALICE)
    added(room, ALICE, key, exhibit[:2], tiny_detector)
    item = room.store().items(key, ALICE)[0]
    row = [None, item.id, item.file_name]
    CaseStore.add_user(room.store(), BOB, "bob's secret")

    with pytest.raises(CaseAccessError):
        case.open_case(room, BOB, key)
    assert "bob has no case named" in case.add_files(room, BOB, key, exhibit[2:3], tiny_detector)["case_note"]
    assert "bob has no case named" in case.mark(room, BOB, key, item.id, "ok", "", "")["case_note"]
    assert "bob has no case named" in case.filter_table(room, BOB, key, case.ANY_COLUMN, "")["case_note"]
    assert "bob has no case named" in case.pick_item(room, BOB, key, item.id)["case_note"]
    assert "bob has no case named" in case.report(room, BOB, key)["case_note"]
    with pytest.raises(gr.Error, match="bob has no case named"):
        case.open_item(room, BOB, key, row)
    assert case.case_rows(room, BOB) == [] and len(room.store().items(key, ALICE)) == 2
    assert room.store().items(key, ALICE)[0].status == "check"               # bob's mark changed nothing

    room.store().share("exhibit-7", BOB, user=ALICE)                         # shared: now bob may
    assert case.case_choices(room, BOB) == [("exhibit-7 (shared by alice)", key)]
    assert len(case.open_case(room, BOB, key)["case_table"]) == 2


def test_with_login_the_acting_user_is_the_logged_in_one(tmp_path):
    room = CaseRoom(tmp_path / "store", login=True)
    assert room.user(SimpleNamespace(username="carol"), "visitor-forged") == "carol"
    with pytest.raises(gr.Error, match="Log in first"):
        room.user(SimpleNamespace(username=None), None)
    with pytest.raises(Exception, match="no accounts yet"):
        room.auth()
    room.store().add_user("carol", "correct horse")
    check = room.auth()
    assert check("carol", "correct horse") and not check("carol", "wrong") and not check("mallory", "x")
    reloaded = case.load_page(room, None, "alice/exhibit-7", SimpleNamespace(username="carol"))
    assert reloaded["case_last"] is None and reloaded["case_list"] == []     # another's case is not reopened
    with pytest.raises(Exception, match="--login needs --store"):
        CaseRoom(None, login=True)
    room.store().close()


def test_without_a_store_each_session_has_its_own_ephemeral_cases(exhibit, tiny_detector, monkeypatch):
    monkeypatch.setenv("FORENSICS_DB", "postgresql+psycopg://nobody@nowhere/never")  # never used for ephemeral
    room = CaseRoom()
    first = case.load_page(room, None, None, None)
    second = case.load_page(room, None, None, None)
    one, two = first["case_visitor"], second["case_visitor"]
    assert one != two and "ephemeral" in first["case_banner"] and "--store DIR" in first["case_banner"]
    key = opened(room, one)
    added(room, one, key, exhibit[:1], tiny_detector)
    assert case.case_rows(room, two) == [] and len(case.case_rows(room, one)) == 1
    assert case.api_case_list(room, None)["store"] == "ephemeral"
    evidence = room.store().items(key, one)[0].evidence_path
    assert evidence.is_file() and not evidence.is_relative_to(Path(gr.utils.get_upload_folder()))
    room.forget_visitor(one)                                                 # the session ended
    assert not evidence.exists() and room.store().items(key, one) == []
    room.store().close()


def test_the_case_list_api_answers_for_the_acting_user_only(room):
    opened(room, ALICE, "mine")
    room.store().add_user(BOB, "pw")
    room.store().create_case("bobs", owner=BOB)
    login = CaseRoom(room.store_dir, login=True)
    listed = case.api_case_list(login, SimpleNamespace(username=ALICE))
    assert [c["name"] for c in listed["cases"]] == ["mine"] and listed["user"] == ALICE
    assert [c["name"] for c in case.api_case_list(login, SimpleNamespace(username=BOB))["cases"]] == ["bobs"]
    with pytest.raises(gr.Error):
        case.api_case_list(login, SimpleNamespace(username=None))
    login.store().close()


def test_file_names_from_a_case_cannot_escape_the_scratch_folder():
    assert case.safe_file_name("../../etc/passwd") == "passwd"
    assert case.safe_file_name("..\\..\\boot.ini") == "boot.ini"
    assert case.safe_file_name("a<b>|c?.png") == "a_b__c_.png"
    assert case.safe_file_name("..") == "item"


@pytest.mark.slow
def test_with_login_calls_need_an_account_and_users_see_only_their_own_cases(tiny_detector, tmp_path):
    """The app as `python app.py --store DIR --login` serves it: Gradio's auth over the store."""
    import asyncio

    import httpx
    from gradio_client import Client

    import webui
    from test_app import free_port

    room = CaseRoom(tmp_path / "store", login=True)
    for name in (ALICE, BOB):
        room.store().add_user(name, f"{name}'s password")
    key = opened(room, ALICE, "alice-only")
    added(room, ALICE, key, write_scenes(tmp_path / "in", [5]), tiny_detector)
    evidence = room.store().items(key, ALICE)[0].evidence_path
    blocks = webui.build_app(tiny_detector, cases=room)
    blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                  auth=room.auth(), **webui.LAUNCH_OPTIONS)
    url = blocks.local_url
    try:
        # No login: the page, the API and the file route all refuse.
        assert httpx.get(url + "gradio_api/info").status_code == 401
        assert httpx.post(url + "gradio_api/call/case_list", json={"data": []}).status_code == 401
        assert httpx.get(f"{url}gradio_api/file={evidence}").status_code in (401, 403)
        with pytest.raises(Exception):
            Client(url, verbose=False, analytics_enabled=False)
        with pytest.raises(Exception):
            Client(url, auth=(BOB, "a guess"), verbose=False, analytics_enabled=False)

        alice = Client(url, auth=(ALICE, "alice's password"), verbose=False, analytics_enabled=False)
        bob = Client(url, auth=(BOB, "bob's password"), verbose=False, analytics_enabled=False)
        assert [c["name"] for c in alice.predict(api_name="/case_list")["cases"]] == ["alice-only"]
        assert bob.predict(api_name="/case_list") == {"store": "kept", "user": BOB, "cases": []}
        # Logged in, bob still cannot fetch alice's evidence from the store folder by path.
        cookies = httpx.post(url + "login", data={"username": BOB, "password": "bob's password"}).cookies
        assert httpx.get(f"{url}gradio_api/file={evidence}", cookies=cookies).status_code == 403

        # MCP carries no login: its case_list tool answers with a refusal, never a case.
        from mcp import ClientSession
        from mcp.client.streamable_http import streamablehttp_client

        async def mcp_case_list():
            async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    tools = [t.name for t in (await session.list_tools()).tools]
                    name = next(t for t in tools if "case_list" in t)
                    return await session.call_tool(name, {})

        try:
            answer = asyncio.run(mcp_case_list())
        except Exception as exc:  # refused at the door is a refusal too
            answer = exc
        assert "alice-only" not in str(answer)
        if not isinstance(answer, Exception):
            assert answer.isError and "login" in str(answer.content).lower()  # Gradio's refusal, or ours
    finally:
        blocks.close()
        room.store().close()


def test_the_triage_table_shows_whether_each_verdict_survives_re_encoding(room, tmp_path, tiny_detector):
    key = opened(room, ALICE, "sweep")
    files = write_scenes(tmp_path / "sweep", [5, 6])
    column = case.TABLE_HEADERS.index("re-encoding")
    plain = case.add_files(room, ALICE, key, files[:1], tiny_detector)["case_table"]
    assert [r[column] for r in plain] == [""]  # not asked: nothing claimed
    swept = case.add_files(room, ALICE, key, files[1:], tiny_detector, robustness=True)["case_table"]
    row = next(r for r in swept if r[FILE] == files[1].name)
    assert row[column] in ("robust to re-encoding", "depends on the delivery path")
    item = next(i for i in room.store().items("sweep", ALICE) if i.file_name == files[1].name)
    record = room.store().record("sweep", item.id, ALICE)
    assert record["robustness"]["judgement"]["label"].lower() == row[column]
