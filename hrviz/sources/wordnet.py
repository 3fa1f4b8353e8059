"""WordNet 3.0 nouns from ``data/`` (edges child<TAB>parent, nodes name<TAB>lemmas<TAB>gloss)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..hierarchy import Hierarchy

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
EDGES = "wordnet_nouns_edges.tsv.gz"
NODES = "wordnet_nouns_nodes.tsv.gz"


@lru_cache(maxsize=2)
def wordnet(data_dir: str | None = None) -> Hierarchy:
    """All 82,115 noun synsets; labels are the lemmas, descriptions the glosses. Cached."""
    d = Path(data_dir) if data_dir else DATA_DIR
    try:
        with gzip.open(d / NODES, "rt", encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        with gzip.open(d / EDGES, "rt", encoding="utf-8") as f:
            edges = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    except FileNotFoundError as e:
        raise InputError(f"WordNet data file missing: {e.filename}",
                         hint="data/ must hold wordnet_nouns_edges.tsv.gz and wordnet_nouns_nodes.tsv.gz") from None
    names = [r[0] for r in rows]
    index = {name: i for i, name in enumerate(names)}
    labels = [r[1].replace("_", " ") if len(r) > 1 else "" for r in rows]
    glosses = [r[2] if len(r) > 2 else "" for r in rows]
    for c, p in edges:  # every edge end must be a known synset
        if c not in index or p not in index:
            raise InputError(f"edge {c} -> {p} names an unknown synset", where=str(d / EDGES))
    child = np.fromiter((index[c] for c, _ in edges), dtype=np.int64, count=len(edges))
    parent = np.fromiter((index[p] for _, p in edges), dtype=np.int64, count=len(edges))
    h = Hierarchy(names, child, parent, labels=labels, descriptions=glosses, source="wordnet")
    h._index = index
    return h


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
