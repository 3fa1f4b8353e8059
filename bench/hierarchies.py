"""The bench of varied hierarchies the defaults are chosen on and reported on
(``bench/defaults.py``, ``bench/results/defaults.md``).

Each entry is a SOURCE string hrviz reads: WordNet subtrees of different shapes, full WordNet,
synthetic DAGs (skewed fan-out, deep chains, shallow and wide, layered with several parents),
and real hierarchies built here from data that the installed packages ship: the file tree of
an installed package (directories are the parents of their files) and the class-inheritance
DAG of Python's standard library and installed packages (a class's parents are its bases).
The built ones are written as ``child,parent`` edge lists under ``bench/data/`` (not in git;
rebuilt on demand, deterministic for a pinned environment).

``TUNE`` holds the hierarchies the rule was chosen on, ``REPORT`` those it is reported on
without having been looked at while choosing.

    python bench/hierarchies.py          # build the files, print each hierarchy's measures
"""

from __future__ import annotations

import csv
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"


def _write(name: str, edges: list[tuple[str, str]]) -> str:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{name}.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["child", "parent"])
        w.writerows(edges)
    return str(path)


def package_files(name: str, package: str, *, max_nodes: int = 30_000) -> str:
    """The file tree of an installed package: every file and directory a node, its directory
    its parent (``__pycache__`` left out). Real, deep in places, with a skewed fan-out."""
    root = Path(importlib.import_module(package).__file__).parent
    edges = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        rel, parent = path.relative_to(root.parent), path.parent.relative_to(root.parent)
        edges.append((str(rel), str(parent)))
        if len(edges) >= max_nodes:
            break
    return _write(name, edges)


def site_files(name: str, max_nodes: int) -> str:
    """The file tree of the installed packages (the ``site-packages`` folder torch lives in),
    the first ``max_nodes`` paths in sorted order: a real tree of ~30,000 nodes."""
    root = Path(importlib.import_module("torch").__file__).parent.parent
    edges = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        edges.append((str(path.relative_to(root)), str(path.parent.relative_to(root))))
        if len(edges) >= max_nodes:
            break
    return _write(name, edges)


def python_classes(name: str, packages: tuple[str, ...]) -> str:
    """The class-inheritance DAG of the classes defined in ``packages`` and the standard
    library modules they reach: a class's parents are its bases (``object`` the root; several
    bases give several parents). Real, a DAG, shallow and wide."""
    seen: dict[type, None] = {}
    for pkg in packages:
        mod = importlib.import_module(pkg)
        mods = [mod]
        for info in pkgutil.walk_packages(getattr(mod, "__path__", []), prefix=pkg + "."):
            if any(part.startswith("_") or part in ("tests", "testing") for part in info.name.split(".")[1:]):
                continue
            try:
                mods.append(importlib.import_module(info.name))
            except Exception:  # noqa: BLE001 (optional parts of a package may not import)
                continue
        for m in mods:
            for _, cls in inspect.getmembers(m, inspect.isclass):
                for c in cls.__mro__:
                    seen.setdefault(c, None)
    label = lambda c: f"{c.__module__}.{c.__qualname__}"  # noqa: E731
    edges = sorted({(label(c), label(b)) for c in seen for b in c.__bases__ if c is not object})
    return _write(name, edges)


def skewed_tree(name: str, n: int, seed: int = 0) -> str:
    """A preferential-attachment tree: node i takes a parent with probability proportional to
    (children + 1)^1.2 among the earlier nodes: a few hubs with thousands of children, long
    thin tails (a power-law fan-out, as in product taxonomies)."""
    rng = np.random.default_rng(seed)
    weight = np.zeros(n)
    weight[0] = 1.0
    edges = []
    for i in range(1, n):
        p = int(rng.choice(i, p=weight[:i] / weight[:i].sum()))
        edges.append((f"s{i}", f"s{p}"))
        weight[p] = (weight[p] ** (1 / 1.2) + 1) ** 1.2
        weight[i] = 1.0
    return _write(name, edges)


def deep_tree(name: str, n: int, recent: int = 6, seed: int = 0) -> str:
    """A deep, thin tree: each new node hangs below one of the ``recent`` newest nodes, so
    chains run 20 to 40 levels deep with side branches."""
    rng = np.random.default_rng(seed)
    edges = []
    for i in range(1, n):
        p = int(rng.integers(max(0, i - recent), i))
        edges.append((f"c{i}", f"c{p}"))
    return _write(name, edges)


def shallow_wide(name: str, widths: tuple[int, ...], seed: int = 0) -> str:
    """A shallow, wide tree: the root, then ``widths[0]`` children, each with a random number
    of children around ``widths[1]``, and so on (depth = len(widths))."""
    rng = np.random.default_rng(seed)
    level, edges, count = ["w0"], [], 1
    for w in widths:
        nxt = []
        for p in level:
            for _ in range(max(1, int(rng.poisson(w)))):
                c = f"w{count}"
                count += 1
                edges.append((c, p))
                nxt.append(c)
        level = nxt
    return _write(name, edges)


BUILDERS = {
    "torch-files": lambda: package_files("torch-files", "torch", max_nodes=16_000),
    "pandas-files": lambda: package_files("pandas-files", "pandas"),
    "site-files-30k": lambda: site_files("site-files-30k", 30_000),
    "site-files-15k": lambda: site_files("site-files-15k", 15_000),  # the story's timing (15,000 nodes)
    "py-classes": lambda: python_classes("py-classes", ("numpy", "pandas", "altair", "duckdb", "networkx",
                                                          "email", "xml", "json", "collections", "asyncio")),
    "skewed-8k": lambda: skewed_tree("skewed-8k", 8000),
    "deep-3k": lambda: deep_tree("deep-3k", 3000),
    "shallow-wide": lambda: shallow_wide("shallow-wide", (60, 40)),
}

#: the rule was chosen on these
TUNE = ("wordnet:mammal.n.01", "wordnet:plant.n.02", "bench:torch-files", "bench:skewed-8k",
        "dag:n=2000,depth=6,parents=3,p=0.5,seed=0")
#: ... and is reported on these, untouched while choosing
REPORT = ("wordnet:act.n.02", "wordnet:artifact.n.01", "wordnet:person.n.01", "bench:py-classes",
          "bench:pandas-files", "bench:deep-3k", "bench:shallow-wide",
          "dag:n=20000,depth=10,parents=2,p=0.3,seed=1", "bench:site-files-30k", "wordnet")


def source(entry: str) -> str:
    """The SOURCE string of a bench entry (``bench:NAME`` is built on demand)."""
    if not entry.startswith("bench:"):
        return entry
    name = entry.split(":", 1)[1]
    path = DATA / f"{name}.csv"
    return str(path) if path.exists() else BUILDERS[name]()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from hrviz.sources import load_source
    from hrviz.rule import measure

    for entry in TUNE + REPORT:
        if entry == "wordnet" and "--all" not in sys.argv:
            continue
        h = load_source(source(entry))
        print(entry, measure(h, 8))
