"""The architecture holds: the import contracts of pyproject.toml ([tool.importlinter], run with
lint-imports) and no import cycle between any two modules of the project (TYPE_CHECKING imports and
imports inside functions count).

Each check also runs on a copy of the code with one bad import added, and must fail there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("catalogue", "curation", "gallery", "generator", "installation", "minting")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# Imports that close a cycle today and that another branch of issue 22 removes. Each one must still be
# there (delete it here when it is gone), as import-linter's ignore_imports must match.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()


def import_graph() -> grimp.ImportGraph:
    """The graph of the packages first on sys.path (run in a fresh process for a copy of the code:
    packages this process imported are found where they were imported from)."""
    return grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=False)


def module_cycles(graph: grimp.ImportGraph, allowed: set[tuple[str, str]] = frozenset()) -> list[list[str]]:
    """Every strongly connected set of two or more modules (an import cycle), without ``allowed`` edges."""
    edges = {m: sorted(w for w in graph.find_modules_directly_imported_by(m) if (m, w) not in allowed)
             for m in graph.modules}
    # Tarjan's algorithm, iterative (no recursion limit on a deep import chain).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges[w])))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    cycles.append(sorted(comp))
    return cycles


def run_in(root: Path, *cmd: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tempfile.gettempdir()}
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return run_in(root, str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache")


def cycles_in_copy(root: Path) -> list[list[str]]:
    done = run_in(root, sys.executable, __file__)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def copy_code(dest: Path) -> Path:
    """The project's Python packages and pyproject.toml (not data, weights or node_modules)."""
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=lambda d, names: [
            n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir()) or n in ("node_modules",
                                                                                           "__pycache__")])
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def add_import(root: Path, module: str, line: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = root / module.replace(".", "/") / "__init__.py"
    path.write_text(path.read_text() + f"\n\ndef _added():\n    {line}\n")


def test_import_contracts_are_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_import_cycle():
    assert cycles_in_copy(ROOT) == []


def test_known_cycle_edges_still_exist():
    """An allowance for a cycle another branch removes goes as soon as the import does."""
    graph = import_graph()
    stale = [e for e in sorted(KNOWN_CYCLE_EDGES) if not graph.direct_import_exists(importer=e[0], imported=e[1])]
    assert stale == [], f"these imports are gone: delete them from KNOWN_CYCLE_EDGES: {stale}"


BAD_IMPORTS = [
    # (module that gets the import, the import, the contract it breaks)
    ("catalogue.store", "from gallery.config import Settings", "front door > features"),
    ("installation.media", "import minting.settings", "front door > features"),
    ("generator.latent", "import curation.sets", "front door > features"),
    ("gallery.errors", "import gallery.logs", "front door > features"),
    ("curation.search", "import generator.stylegan.model", "curation uses only generator's public"),
    ("installation.settings", "import torch", "never imports torch"),
    ("catalogue.drafts", "import catalogue.api", "no import cycle between the sibling modules"),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return copy_code(tmp_path_factory.mktemp("code"))


@pytest.mark.parametrize(("module", "line", "contract"), BAD_IMPORTS, ids=[b[0] + ":" + b[1] for b in BAD_IMPORTS])
def test_each_contract_catches_a_bad_import(tmp_path, pristine, module, line, contract):
    root = tmp_path / "code"
    shutil.copytree(pristine, root)
    add_import(root, module, line)
    done = lint_imports(root)
    assert done.returncode != 0
    broken = [ln for ln in done.stdout.splitlines() if re.search(r" BROKEN( \(\d+ ignored imports?\))?$", ln)]
    assert len(broken) == 1 and contract in broken[0], done.stdout[-3000:]


def test_cycle_check_finds_a_cycle_through_a_function_level_import(tmp_path, pristine):
    root = tmp_path / "code"
    shutil.copytree(pristine, root)
    add_import(root, "gallery.errors", "from catalogue import api")  # catalogue.api imports gallery.errors
    cycles = cycles_in_copy(root)
    assert any({"gallery.errors", "catalogue.api"} <= set(c) for c in cycles), cycles


if __name__ == "__main__":  # the cycles of the packages on PYTHONPATH, as JSON (cycles_in_copy)
    print(json.dumps(module_cycles(import_graph(), KNOWN_CYCLE_EDGES)))
