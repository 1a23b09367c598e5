"""The house rules, checked by tools rather than memory: imports go one way (pyproject.toml's
import-linter contracts), no circles, nothing imports the package root from inside, the page and
the app use public names only, and the top level of forensics/ stays small."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "forensics"
MAX_TOP_LEVEL_MODULES = 6  # besides __init__, __main__ and _version


def modules(folder: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(folder.rglob("*.py")):
        if "migrations" in path.parts and "versions" in path.parts:
            continue  # Alembic revision scripts are loaded by Alembic, not imported
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, *, top_level_only: bool) -> list[tuple[str, int, list[str]]]:
    """(imported module, line, names) for each import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno, [a.name for a in node.names]))
    return out


def test_import_linter_contracts_are_kept():
    # layers (core ... cli), webui above forensics, gradio only in webui, ray only in scale
    result = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports; "
                             "raise SystemExit(lint_imports())"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") >= 4


def test_no_module_inside_the_package_imports_the_package_root():
    found = []
    for name, path in modules(PACKAGE).items():
        if name == "forensics" or path.name == "__main__.py":
            continue
        for target, line, names in imports_of(name, path, top_level_only=False):
            # `from .. import report` names a subpackage; `from .. import Detector` reads the face.
            from_face = [n for n in names if f"forensics.{n}" not in modules(PACKAGE)]
            if target == "forensics" and from_face:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {from_face} from the package root")
    assert found == []


def test_no_import_circles_between_modules():
    mods = modules(PACKAGE)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps = set()
        for target, _, names in imports_of(name, path, top_level_only=True):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in mods and candidate != name:
                    deps.add(candidate)
                    break
        # A package's __init__ importing its own submodules is how a face is built, not a circle.
        graph[name] = {d for d in deps if not (path.name == "__init__.py" and d.startswith(name + "."))}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("folder", ["webui", "app.py"])
def test_the_page_and_the_app_use_public_names_only(folder):
    """webui/ and app.py import from `forensics` or a subpackage's face, never a module inside it."""
    path = ROOT / folder
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    deep = []
    for file in files:
        name = ".".join(file.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for target, line, _ in imports_of(name, file, top_level_only=False):
            if target.startswith("forensics.") and target.count(".") > 1:
                deep.append(f"{file.relative_to(ROOT)}:{line} imports {target}")
    assert deep == []


def test_the_top_level_shows_the_capabilities():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "_version.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    for sub in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"forensics/{sub.name}/__init__.py should say what the subpackage holds"


def test_the_grad_rollout_literal_lives_with_its_method():
    """Methods are read from the registry: the name of the gradient method appears where it is
    defined, and nowhere else in the package or the page."""
    literal = "grad" + "-rollout"
    holders = sorted(str(p.relative_to(ROOT)) for folder in ("forensics", "webui") for p in (ROOT / folder).rglob("*.py")
                     if literal in p.read_text(encoding="utf-8"))
    assert holders == ["forensics/explain/relevance.py"]


def test_no_module_hides_a_circle_behind_type_checking():
    """A TYPE_CHECKING import is how two modules that need each other pretend they do not."""
    guarded = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                     if "TYPE_CHECKING" in p.read_text(encoding="utf-8"))
    assert guarded == []
