"""Layers that hold: imports flow one way (no cycles between the modules of hrviz/ and
hrviz_app/, no private name taken from another package), the library never imports Streamlit,
and what only reads results loads without torch: the charts, and the library imports of every
page but Train (docs/architecture.md, "Layers")."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("hrviz", "hrviz_app")


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of hrviz/ and hrviz_app/."""
    out = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def package_of(module: str, files: dict[str, Path]) -> str:
    return module if files[module].name == "__init__.py" else module.rpartition(".")[0]


def imports_of(module: str, files: dict[str, Path]):
    """(imported module, name or None) for every import in ``module`` (at any depth: inside
    functions too), resolved to the modules of ``files``."""
    package = package_of(module, files)
    for node in ast.walk(ast.parse(files[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in files:
                    yield f"{target}.{alias.name}", None
                elif target in files:
                    yield target, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in files:
                    yield alias.name, None


def test_no_import_cycles_and_no_private_cross_package_imports():
    files = module_files()
    graph = {m: set() for m in files}
    private = []
    for module in files:
        for target, name in imports_of(module, files):
            if target != module:
                graph[module].add(target)
            if name and name.startswith("_") and not name.startswith("__") \
                    and package_of(target, files) != package_of(module, files):
                private.append(f"{module} takes {target}.{name}")
    assert not private, private
    # strongly connected components (Tarjan): a component of more than one module is a cycle
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_the_library_never_imports_streamlit():
    found = []
    for path in sorted((ROOT / "hrviz").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert not found, found


def loaded_after(code: str) -> list[str]:
    """Which heavy packages a fresh interpreter holds after running ``code`` in the repository."""
    probe = code + "\nimport json, sys\nprint(json.dumps([m for m in ('torch',) if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def library_imports(page: Path) -> str:
    """The page's own ``import``s of hrviz and hrviz_app, as code."""
    tree = ast.parse(page.read_text(encoding="utf-8"))
    return "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                     and (getattr(n, "module", None) or n.names[0].name).split(".")[0] in PACKAGES)


def test_the_charts_load_without_torch():
    charts = sorted(p.stem for p in (ROOT / "hrviz" / "charts").glob("*.py") if p.stem != "__init__")
    assert loaded_after("import hrviz.charts\n" + "\n".join(f"import hrviz.charts.{c}" for c in charts)) == []


#: the one page that trains imports the training stack (torch) by design
TRAINS = "2_train.py"


@pytest.mark.parametrize("page", [p.name for p in sorted((ROOT / "pages").glob("*.py")) if p.name != TRAINS])
def test_pages_that_only_read_results_load_without_torch(page):
    assert loaded_after(library_imports(ROOT / "pages" / page)) == [], page
