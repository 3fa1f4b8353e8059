"""WordNet 3.0 nouns (edges child<TAB>parent, nodes name<TAB>lemmas<TAB>gloss).

The data files are found, in this order (:func:`find_data_dir`):

1. the folder named by the environment variable ``HRVIZ_DATA``;
2. the repository's top-level ``data/`` when hrviz runs from a checkout;
3. the package data ``hrviz/data`` (a link to ``data/`` in the repository, real files in an
   installed wheel), read through :mod:`importlib.resources`.
"""

from __future__ import annotations

import gzip
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..hierarchy import Hierarchy

ENV = "HRVIZ_DATA"
EDGES = "wordnet_nouns_edges.tsv.gz"
NODES = "wordnet_nouns_nodes.tsv.gz"
CHECKOUT_DATA = Path(__file__).resolve().parents[2] / "data"


def find_data_dir():
    """The folder holding the data files (a Path, or an importlib.resources Traversable).

    Raises InputError when ``HRVIZ_DATA`` names a folder without them, or when no place holds them.
    """
    env = os.environ.get(ENV)
    if env:
        d = Path(env).expanduser()
        if not (d / EDGES).is_file():
            raise InputError(f"{ENV} names a folder without the WordNet data files", where=str(d),
                             hint=f"put {EDGES} and {NODES} there, or unset {ENV} to use the bundled data")
        return d
    if (CHECKOUT_DATA / EDGES).is_file():
        return CHECKOUT_DATA
    bundled = resources.files("hrviz").joinpath("data")
    if bundled.joinpath(EDGES).is_file():
        return bundled
    raise InputError("the WordNet data files are not installed", where=f"{CHECKOUT_DATA} or the hrviz package",
                     hint=f"set {ENV} to a folder holding {EDGES} and {NODES}, or reinstall hrviz")


def _rows(d, name: str) -> list[list[str]]:
    with gzip.open(d.joinpath(name).open("rb"), "rt", encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def wordnet(data_dir: str | None = None) -> Hierarchy:
    """All 82,115 noun synsets; labels are the lemmas, descriptions the glosses. Cached per folder.

    ``data_dir`` defaults to :func:`find_data_dir` (``HRVIZ_DATA``, the checkout, the package).
    """
    return _load(Path(data_dir) if data_dir else find_data_dir())


@lru_cache(maxsize=2)
def _load(d) -> Hierarchy:
    try:
        rows, edges = _rows(d, NODES), _rows(d, EDGES)
    except FileNotFoundError as e:
        raise InputError("WordNet data file missing", where=str(e.filename or d),
                         hint=f"the folder must hold {EDGES} and {NODES} (or set {ENV} to one that does)") from None
    names = [r[0] for r in rows]
    index = {name: i for i, name in enumerate(names)}
    labels = [r[1].replace("_", " ") if len(r) > 1 else "" for r in rows]
    glosses = [r[2] if len(r) > 2 else "" for r in rows]
    for c, p in edges:  # every edge end must be a known synset
        if c not in index or p not in index:
            raise InputError(f"edge {c} -> {p} names an unknown synset", where=str(d.joinpath(EDGES)))
    child = np.fromiter((index[c] for c, _ in edges), dtype=np.int64, count=len(edges))
    parent = np.fromiter((index[p] for _, p in edges), dtype=np.int64, count=len(edges))
    h = Hierarchy(names, child, parent, labels=labels, descriptions=glosses, source="wordnet")
    h._index = index
    return h


wordnet.cache_clear = _load.cache_clear  # type: ignore[attr-defined]


def wordnet_subtree(synset: str) -> Hierarchy:
    """A synset and every synset below it, e.g. ``mammal.n.01``."""
    full = wordnet()
    if synset not in full.index:
        close = [full.names[i] for i in full.search(synset.split(".")[0], limit=5)]
        raise InputError(f"no WordNet noun synset named {synset!r}",
                         hint=f"names look like dog.n.01; close matches: {', '.join(close) or 'none'}")
    h = full.subtree(synset)
    h.source = f"wordnet:{synset}"
    return h
