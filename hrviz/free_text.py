"""Free text against a stored text run: the retrieved documents, with hits where the text names a node.

:func:`open_text_run` reads what a text run needs for free text (its encoder, document vectors and,
for a tower, the query head; :mod:`hrviz.kinds.text`); :func:`query_text` embeds a user's text and
returns the top-k documents with scores; when the text names a node exactly (:func:`text_match`)
its relevant documents are marked (hit: retrieved within the top |S(q)|).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .errors import InputError
from .experiment import load_run_model
from .hierarchy import Hierarchy
from .kinds.text import TEXT, tower_path
from .models.text import check_text, clean_name, search_text


@dataclass
class TextRunModel:
    """What free-text queries of a stored text run need: the encoder, the document vectors and
    the query head (None: zero-shot, the text's own unit embedding is the query)."""

    run: dict
    encoder: str
    docs: np.ndarray
    query_head: Callable[[np.ndarray], np.ndarray] | None

    def search(self, text: str, k: int = 20) -> tuple[np.ndarray, np.ndarray]:
        return search_text(self.encoder, text, self.docs, k=k, query_head=self.query_head)


def open_text_run(store, run_id: int) -> TextRunModel:
    """The free-text side of a stored text run; InputError for another kind of run or a missing file."""
    run = store.run(int(run_id))
    if run["params"].kind != TEXT.name:
        raise InputError(f"run {run_id} is not a text run: free text needs a text encoder",
                         hint="pick a run of `hrviz encode SOURCE --encoder NAME` or "
                              "`hrviz train SOURCE --encoder NAME ...`")
    model, run = load_run_model(store, int(run_id))
    encoder = run["params"]["encoder"]
    head = None
    if run["recipe"] != "zero-shot":
        from .models.text_tower import load_tower  # torch: only once a tower's head is needed

        tower, _ = load_tower(tower_path(run["model_path"]))
        head = tower.query_from_features
    return TextRunModel(run, encoder, model.doc_vectors(), head)


def text_match(h: Hierarchy, text: str) -> int | None:
    """The node a free text names exactly (case-insensitive), or None: its name, else a node whose
    first label (WordNet: first lemma) is the text, else one with the text among its labels or as
    its cleaned name; ties go to the smaller name."""
    t = " ".join(text.split()).casefold()
    if text.strip() in h.index:
        return int(h.index[text.strip()])
    first, other = [], []
    for i, name in enumerate(h.names):
        labels = [s.strip().casefold() for s in (h.labels[i].split(",") if h.labels and h.labels[i] else [])]
        if labels and labels[0] == t:
            first.append(i)
        elif t in labels or clean_name(name).casefold() == t:
            other.append(i)
    best = first or other
    return min(best, key=lambda i: h.names[i]) if best else None


def query_text(model: TextRunModel, h: Hierarchy, text: str, k: int = 20) -> tuple[pd.DataFrame, dict]:
    """Free text against a text run: ``(top, info)``. ``top``: rank, doc, name, label, score, and
    where the text names a node (:func:`text_match`) its ``distance`` and ``hit`` (a relevant
    document within the top |S(q)|) per row. ``info``: text (cleaned), match (node id or None),
    relevant (|S(q)|), found (hits among them), k."""
    clean = check_text(text)
    match = text_match(h, clean)
    rel: dict[int, int] = {}
    if match is not None:
        cap = (model.run.get("params") or {}).get("max_distance")
        docs, dist = h.closure(cap).of(match)
        rel = dict(zip(docs.tolist(), dist.tolist()))
    kk = max(int(k), len(rel))
    ids, scores = model.search(clean, k=kk)
    top = pd.DataFrame({"rank": np.arange(1, len(ids) + 1), "doc": ids.astype(int),
                        "name": [h.names[int(i)] for i in ids], "label": [h.label(int(i)) for i in ids],
                        "score": scores.astype(float)})
    top["distance"] = pd.array([rel.get(int(i)) for i in ids], dtype="Int64")
    top["hit"] = [int(i) in rel and r <= len(rel) for i, r in zip(ids, top["rank"])]
    found = int(top["hit"].sum())
    info = {"text": clean, "match": match, "relevant": len(rel), "found": found, "k": int(k)}
    return top.head(int(k)).reset_index(drop=True), info
