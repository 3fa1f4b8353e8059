"""Where hierarchies come from. :func:`load_source` turns a SOURCE string into a Hierarchy.

SOURCE is one of
- ``tree:H=4,W=5``: perfect tree of H *levels* (the paper's convention: root at depth 0, leaves at
  depth H-1, W children per inner node; H=4, W=5 is the paper's 156-node tree; H >= 2);
- ``dag:n=500,depth=5,parents=2,p=0.3,seed=0``: random layered DAG (see :func:`random_dag`;
  every key is optional);
- ``wordnet``: the 82,115 WordNet 3.0 noun synsets; ``wordnet:SYNSET``: that synset and below;
- a path to a file: edge list ``.csv``/``.tsv``/``.txt``, ``.json``, ``.obo``, each optionally ``.gz``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..hierarchy import Hierarchy
from .checks import DUPLICATES, SourceWarning
from .files import hierarchy_json, load_file, parse_upload
from .synthetic import perfect_tree, random_dag
from .wordnet import wordnet, wordnet_subtree

__all__ = ["load_source", "perfect_tree", "random_dag", "wordnet", "wordnet_subtree",
           "load_file", "parse_upload", "DUPLICATES", "SourceWarning", "hierarchy_json", "parse_params",
           "parse_source"]

_DAG_KEYS = {"n": ("nodes", int), "nodes": ("nodes", int), "depth": ("depth", int),
             "parents": ("parents", int), "p": ("p_extra", float), "seed": ("seed", int)}


def parse_params(text: str, spec: str) -> dict[str, str]:
    """``H=4,W=5`` -> {"H": "4", "W": "5"} with a clear error for anything else."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise InputError(f"cannot read {part!r} in source {spec!r}", hint="write KEY=VALUE pairs, e.g. tree:H=4,W=5")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _number(kind, value: str, key: str, spec: str):
    try:
        return kind(value)
    except ValueError:
        raise InputError(f"{key}={value!r} is not a number in source {spec!r}", hint="e.g. tree:H=4,W=5") from None


def parse_source(spec: str) -> tuple[str, dict]:
    """``(kind, arguments)`` of a SOURCE string, checked: ``("tree", {"H": 4, "W": 5})``,
    ``("dag", {"nodes": 500, ...})`` (random_dag's keyword names), ``("wordnet", {})``,
    ``("wordnet", {"synset": "mammal.n.01"})`` or ``("file", {"path": spec})``."""
    spec = spec.strip()
    head, _, rest = spec.partition(":")
    if head == "tree" and rest:
        params = parse_params(rest, spec)
        unknown = set(params) - {"H", "W"}
        if unknown or not {"H", "W"} <= set(params):
            raise InputError(f"a tree source needs exactly H and W, got {sorted(params)}", hint="e.g. tree:H=4,W=5")
        return "tree", {k: _number(int, params[k], k, spec) for k in ("H", "W")}
    if head == "dag":
        kwargs = {}
        for k, v in parse_params(rest, spec).items():
            if k not in _DAG_KEYS:
                raise InputError(f"unknown DAG parameter {k!r} in {spec!r}",
                                 hint="known: n, depth, parents, p, seed (e.g. dag:n=500,depth=5,parents=2,p=0.3,seed=0)")
            name, kind = _DAG_KEYS[k]
            kwargs[name] = _number(kind, v, k, spec)
        return "dag", kwargs
    if spec == "wordnet":
        return "wordnet", {}
    if head == "wordnet" and rest:
        return "wordnet", {"synset": rest}
    return "file", {"path": spec}


#: what each kind of :func:`parse_source` builds from its arguments (``max_bytes``: files only)
BUILDERS = {
    "tree": lambda a, max_bytes: perfect_tree(a["H"], a["W"]),
    "dag": lambda a, max_bytes: random_dag(**a),
    "wordnet": lambda a, max_bytes: wordnet_subtree(a["synset"]) if "synset" in a else wordnet(),
    "file": lambda a, max_bytes: _file(a["path"], max_bytes),
}


def load_source(spec: str, *, max_bytes: int | None = None) -> Hierarchy:
    """Load any SOURCE string (see the module docstring): :func:`parse_source` reads it, the
    one branch on its form, and its kind's builder makes it. ``max_bytes``: a file's size limit
    (None: :func:`hrviz.file_limit.max_bytes`)."""
    kind, args = parse_source(spec)
    return BUILDERS[kind](args, max_bytes)


def _file(spec: str, max_bytes: int | None) -> Hierarchy:
    path = Path(spec)
    if path.exists():
        return load_file(path, max_bytes=max_bytes)
    raise InputError(
        f"unknown source {spec!r}",
        hint="use tree:H=4,W=5, dag:n=500,depth=5, wordnet, wordnet:mammal.n.01, or a path to a .csv/.tsv/.json/.obo file",
    )
