import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import encode, make_photo
from forensics.batch import engine as batch
from forensics import cli
from test_report import pdf_pages

# (relative path, format, size): duplicate stems in different folders, a space, non-ASCII.
GOOD = [("a.jpg", "JPEG", (200, 150)), ("b.png", "PNG", (150, 260)), ("sub/a.jpg", "JPEG", (240, 160)),
        ("sub/deep/a.webp", "WEBP", (160, 160)), ("sub/c d.jpg", "JPEG", (180, 120)),
        ("sub/Ünï.png", "PNG", (130, 170))]
BROKEN = {"empty.jpg": b"", "sub/notes.jpg": b"this is a text file, renamed\n"}


def make_tree(root: Path) -> Path:
    for i, (rel, fmt, size) in enumerate(GOOD):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(encode(make_photo(*size, seed=i), fmt))
    for rel, data in BROKEN.items():
        (root / rel).write_bytes(data)
    (root / "readme.txt").write_text("not an image extension: never picked up")
    (root / ".hidden.jpg").write_bytes(b"")  # hidden files are skipped, and listed as such
    return root


def summary_rows(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def batch_run(tiny_model_dir, tmp_path_factory):
    """One CLI run over a tree of 6 good and 2 broken files, shared by the tests that read it."""
    root = make_tree(tmp_path_factory.mktemp("in"))
    out = tmp_path_factory.mktemp("results") / "out"
    code = cli.main(["analyze", str(root), "--out", str(out), "--model", str(tiny_model_dir),
                     "--batch-size", "4", "--notes", "Case 42"])
    return root, out, code


def test_batch_exit_status_and_outputs(batch_run):
    root, out, code = batch_run
    assert code == 0
    rows = summary_rows(out)
    ok = [r for r in rows if r["status"] == "ok"]
    assert sorted(os.path.relpath(r["file"], root) for r in ok) == sorted(str(Path(g[0])) for g in GOOD)
    written = [name for r in ok for name in r["outputs"].split(";")]
    assert len(written) == len(set(written)) == 4 * len(GOOD)  # four files each, no name reused
    for r in ok:
        names = r["outputs"].split(";")
        assert [Path(n).suffix for n in names] == [".png", ".pdf", ".json", ".csv"]
        assert len({Path(n).stem for n in names}) == 1
        for name in names:
            assert (out / name).stat().st_size > 0
        record = json.loads((out / Path(names[0]).with_suffix(".json")).read_text())
        source = Path(r["file"]).read_bytes()
        assert record["input_sha256"] == r["sha256"] == hashlib.sha256(source).hexdigest()
        assert record["analyst_notes"] == "Case 42"
    stems = {Path(n).stem for n in written}
    assert {"a", "a-1", "a-2", "b", "c_d", "Ünï"} == stems  # letters of every script are kept
    assert pdf_pages(out / "report.pdf") == 1 + len(GOOD)


def test_batch_report_joins_each_image_pdf_after_the_cover(batch_run):
    """report.pdf is the cover, then each image's own PDF page for page (drawn once, copied), in
    the summary's order, with a bookmark per image."""
    from pypdf import PdfReader
    _, out, _ = batch_run
    ok = [r for r in summary_rows(out) if r["status"] == "ok"]
    joined = PdfReader(out / "report.pdf")
    assert [item.title for item in joined.outline] == ["Batch summary"] + [r["file"] for r in ok]
    pages = [page.extract_text() for page in joined.pages]
    assert "Forensic batch report" in pages[0]
    own = [PdfReader(out / next(n for n in r["outputs"].split(";") if n.endswith(".pdf"))) for r in ok]
    assert pages[1:] == [page.extract_text() for doc in own for page in doc.pages]
    assert len({text for text in pages[1:]}) == len(ok)  # each image's own page, not one repeated


def test_batch_lists_broken_files_with_reasons(batch_run):
    root, out, _ = batch_run
    errors = {os.path.relpath(r["file"], root): r["error"] for r in summary_rows(out) if r["status"] == "error"}
    assert set(errors) == {str(Path(p)) for p in BROKEN}
    assert "empty (0 bytes)" in errors["empty.jpg"]
    hashes = {os.path.relpath(r["file"], root): r["sha256"] for r in summary_rows(out) if r["status"] == "error"}
    assert hashes == {str(Path(p)): hashlib.sha256(data).hexdigest() for p, data in BROKEN.items()}
    assert "not an image we can read" in errors[str(Path("sub/notes.jpg"))]
    skipped = {os.path.relpath(r["file"], root): r["error"] for r in summary_rows(out) if r["status"] == "skipped"}
    assert set(skipped) == {"readme.txt", ".hidden.jpg"}  # nothing in a folder is dropped silently
    assert "extension .txt" in skipped["readme.txt"] and "hidden file" in skipped[".hidden.jpg"]


def test_rerun_gives_identical_records(batch_run, tiny_model_dir, tmp_path):
    root, out, _ = batch_run
    assert cli.main(["analyze", str(root), "--out", str(tmp_path), "--model", str(tiny_model_dir),
                     "--batch-size", "4", "--notes", "Case 42", "--format", "json"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["summary.csv"] + [f"{s}.json" for s in ("a", "a-1", "a-2", "b", "c_d", "Ünï")])
    strip = lambda p: re.sub(r'"created_utc": "[^"]*"', "", p.read_text())  # noqa: E731
    for path in tmp_path.glob("*.json"):
        assert strip(path) == strip(out / path.name)


def test_rerun_into_same_folder_never_overwrites(batch_run, tiny_model_dir, tmp_path):
    root, _, _ = batch_run
    args = ["analyze", str(root / "b.png"), "--out", str(tmp_path), "--model", str(tiny_model_dir),
            "--format", "csv"]
    assert cli.main(args) == 0 and cli.main(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b-1.csv", "b.csv", "summary-1.csv", "summary.csv"]


def test_only_broken_files_exit_1(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.jpg").write_bytes(b"")
    code = cli.main(["analyze", str(tmp_path / "in"), str(tmp_path / "missing.jpg"),
                     "--out", str(tmp_path / "out"), "--model", str(tiny_model_dir)])
    assert code == 1
    rows = summary_rows(tmp_path / "out")
    assert [r["status"] for r in rows] == ["error", "error"]
    assert "No file or folder" in rows[0]["error"] and "empty" in rows[1]["error"]
    assert "Analysed 0 of 2" in capsys.readouterr().out


def test_no_images_found_exit_1(tmp_path, capsys):
    assert cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), "--demo"]) == 1
    assert "no image or video files found" in capsys.readouterr().err


def test_model_unavailable_exit_1_without_traceback(tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(encode(make_photo(64, 64)))
    code = cli.main(["analyze", str(tmp_path / "x.png"), "--out", str(tmp_path / "out"),
                     "--model", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code == 1
    assert "No model folder" in err and "--demo" in err and "Traceback" not in err


def test_demo_run_is_marked(tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(encode(make_photo(300, 200)))
    assert cli.main(["analyze", str(tmp_path / "x.png"), "--out", str(tmp_path / "out"), "--demo",
                     "--format", "json", "--head-fusion", "max", "--discard-ratio", "0.5"]) == 0
    record = json.loads((tmp_path / "out" / "x.json").read_text())
    assert record["model"]["demo"] is True
    assert record["reproduce"] == ("python -m forensics analyze x.png --out DIR --head-fusion max "
                                   "--discard-ratio 0.5 --demo")
    assert "not a forensic result" in capsys.readouterr().err


def test_grad_rollout_run(tiny_model_dir, tmp_path):
    (tmp_path / "x.png").write_bytes(encode(make_photo(300, 200)))
    assert cli.main(["analyze", str(tmp_path / "x.png"), "--out", str(tmp_path / "out"), "--format", "json",
                     "--model", str(tiny_model_dir), "--method", "grad-rollout"]) == 0
    record = json.loads((tmp_path / "out" / "x.json").read_text())
    assert record["method"]["name"] == "grad-rollout" and record["method"]["agreement_top10_iou"] is not None
    assert "--method grad-rollout" in record["reproduce"]


@pytest.mark.parametrize("extra", [
    ["--discard-ratio", "1.5"], ["--format", "png,docx"], ["--batch-size", "0"], ["--head-fusion", "median"],
    ["--demo", "--model", "somewhere"],
])
def test_usage_errors_exit_2(extra, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), *extra])
    assert exc.value.code == 2


def test_out_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "file"), "--demo"])
    assert exc.value.code == 2


def test_help_in_a_subprocess():
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-m", "forensics", "--help"], capture_output=True, text=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert run.returncode == 0 and "analyze" in run.stdout


def test_analyze_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--model", "--demo", "--method", "grad-rollout", "--head-fusion",
                   "--discard-ratio", "--format", "--notes", "--batch-size", "--revision", "--preprocessing",
                   "--inconclusive-margin", "--device", "FORENSICS_MODEL", "summary.csv", "report.pdf",
                   "exit status", "--deep-check", "faithfulness", "stability", "coverage", "reliability",
                   "FRAGILE", "coverage_probability", "--color-scale", "absolute"):
        assert option in text


def test_no_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    assert "analyze" in capsys.readouterr().err


def test_output_folder_inside_the_input_is_not_analysed(tiny_model_dir, tmp_path):
    (tmp_path / "x.png").write_bytes(encode(make_photo(64, 64)))
    args = ["analyze", str(tmp_path), "--out", str(tmp_path / "results"), "--model", str(tiny_model_dir),
            "--format", "png,json"]
    assert cli.main(args) == 0 and cli.main(args) == 0  # the second run must not pick up x.png's outputs
    with open(tmp_path / "results" / "summary-1.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["file"]).name for r in rows if r["status"] == "ok"] == ["x.png"]
    assert [(Path(r["file"]).name, r["status"]) for r in rows if r["status"] != "ok"] == [("results", "skipped")]
    assert "output folder" in rows[0]["error"]


# -- deep check and colour scale -------------------------------------------------------------------

DEEP_IMAGES = [("wide.jpg", "JPEG", (320, 180)), ("tall.png", "PNG", (150, 260)), ("strip.png", "PNG", (2000, 20))]


@pytest.fixture(scope="module")
def deep_run(tiny_model_dir, tmp_path_factory):
    """--deep-check on three images (one too elongated to tile), absolute colours, grad-rollout."""
    root = tmp_path_factory.mktemp("deep_in")
    for i, (name, fmt, size) in enumerate(DEEP_IMAGES):
        (root / name).write_bytes(encode(make_photo(*size, seed=i), fmt))
    out = tmp_path_factory.mktemp("deep_results") / "out"
    code = cli.main(["analyze", str(root), "--out", str(out), "--model", str(tiny_model_dir), "--deep-check",
                     "--color-scale", "absolute", "--method", "grad-rollout", "--batch-size", "2"])
    return root, out, code


def test_deep_check_run_writes_every_check(deep_run):
    root, out, code = deep_run
    assert code == 0
    rows = {Path(r["file"]).name: r for r in summary_rows(out)}
    assert set(rows) == {name for name, _, _ in DEEP_IMAGES}
    for name, r in rows.items():
        assert r["status"] == "ok" and r["faithful"] in ("yes", "no") and r["fragile"] in ("yes", "no")
        record = json.loads((out / f"{Path(name).stem}.json").read_text())
        deep = record["deep_check"]
        assert {"faithfulness", "stability", "coverage", "reliability"} <= set(deep)
        assert r["faithful"] == ("yes" if deep["faithfulness"]["faithful"] else "no")
        assert r["fragile"] == ("yes" if deep["stability"]["fragile"] else "no")
        assert record["color_scale"]["name"] == "absolute"
        assert record["reproduce"].endswith("--method grad-rollout --model " + record["model"]["source"]
                                            + " --deep-check --color-scale absolute")
        assert record["method_agreement"] is not None
        if name == "strip.png":
            assert deep["coverage"] is None and "elongated" in deep["coverage_error"]
            assert r["coverage_probability"] == ""
        else:
            assert float(r["coverage_probability"]) == pytest.approx(deep["coverage"]["probability"], abs=1e-6)
        assert pdf_pages(out / f"{Path(name).stem}.pdf") == 2  # the verdict page and the deep-check page
    assert pdf_pages(out / "report.pdf") == 1 + 2 * len(DEEP_IMAGES)


def test_summary_has_no_deep_columns_without_deep_check(batch_run):
    _, out, _ = batch_run
    with open(out / "summary.csv", newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header) == batch.SUMMARY_FIELDS


def test_deep_check_progress_is_shown(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(encode(make_photo(200, 150)))
    assert cli.main(["analyze", str(tmp_path / "x.png"), "--out", str(tmp_path / "out"), "--format", "json",
                     "--model", str(tiny_model_dir), "--deep-check"]) == 0
    err = capsys.readouterr().err
    assert "deep check" in err and "x.png: deep check: coverage" in err
    record = json.loads((tmp_path / "out" / "x.json").read_text())
    assert record["reproduce"].endswith("--deep-check") and record["color_scale"]["name"] == "image"


def test_bad_color_scale_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), "--color-scale", "loud"])
    assert exc.value.code == 2
