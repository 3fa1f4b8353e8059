"""Stored runs of text encoders: zero-shot evaluations and trained text towers, in the results store.

The text twin of :func:`hrviz.experiment.run_training` (and of :mod:`.poincare_run`). One
:class:`TextRunConfig` describes either run:

- zero-shot (``train=None``): every node's text embedded once by a frozen encoder, query =
  document, cosine. Run row: recipe ``zero-shot``, dim = the encoder's width, params
  ``{"model": "text", "recipe": "zero-shot", "encoder": ..., "max_distance": ..., "style": ...}``.
- a text tower (``train=TrainConfig(...)``): :func:`~.text_train.fit_text` with the lookup
  tables' recipes and regimes. Params: the resolved TrainConfig plus ``model: "text"``,
  ``encoder``, ``tower`` (the :class:`~.text_train.TowerConfig`) and ``holdout_nodes``.

Both write what every run writes, so ``hrviz eval``, Results, the Query inspector and Embeddings
read them like any other run: metrics (loss, progress, eta; towers only), recall rows (``val``
during training; stage ``final``), the summary, the node vectors as a dual-encoder file
``models/run-ID.safetensors`` (zero-shot: the unit features on both sides) and the top-10 lists
of a seeded query sample. With ``holdout_nodes`` the ``final`` rows (split ``heldout``) and the
summary are the held-out leaves' queries; the seen nodes' figures are stage ``final-seen`` and
``summary["seen"]``. A tower also saves its heads (and residual tables) as
``models/run-ID.tower.safetensors`` (:func:`~.text_tower.save_tower`): what free-text queries need.

Free text (:func:`query_text`): a stored text run, a user's text -> the top-k documents with
scores; when the text names a node exactly (:func:`text_match`) its relevant documents are
marked (hit: retrieved within the top |S(q)|).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import InputError
from ..hierarchy import Hierarchy
from ..training import TrainConfig
from .text import CACHE_DIR, check_text, get_encoder, node_features, search_text
from .text_train import TowerConfig, fit_text

#: the encoder name that means "no text encoder": the lookup-table dual encoder
LOOKUP = "lookup"
#: names the command line and the Train page offer (``st:MODEL`` too, on the command line)
ENCODER_NAMES = {
    LOOKUP: "lookup tables (no text): the paper's dual encoder",
    "wordllama": "WordLlama 256-d static embeddings (shipped in its wheel)",
    "model2vec": "model2vec distilled from all-MiniLM-L6-v2 (shipped in data/)",
    "hashing": "character n-gram hashing (tests; not semantic)",
    "st:MODEL": "a sentence-transformers model already on disk",
}


def encoder_spec(name: str | None) -> str | None:
    """A ``--encoder`` value as :func:`get_encoder` takes it; None for the lookup tables."""
    name = (name or "").strip()
    if name in ("", LOOKUP):
        return None
    if name.startswith("st:"):
        return "sentence-transformers:" + name[3:]
    return name


@dataclass
class TextRunConfig:
    """A text run: ``encoder`` (a :func:`get_encoder` name), ``train`` (None: zero-shot),
    ``tower`` (head, residuals, node text style), ``holdout_nodes`` (share of leaves held out
    entirely; towers only) and ``max_distance`` (zero-shot only; a tower uses
    ``train.max_distance``)."""

    encoder: str = "wordllama"
    train: TrainConfig | None = None
    tower: TowerConfig = field(default_factory=TowerConfig)
    holdout_nodes: float | None = None
    max_distance: int | None = 8

    @property
    def zero_shot(self) -> bool:
        return self.train is None

    def check(self) -> None:
        if encoder_spec(self.encoder) is None:
            raise InputError("a text run needs a text encoder, not lookup tables",
                             hint="encoder wordllama | model2vec | hashing | st:MODEL")
        if self.zero_shot and self.holdout_nodes:
            raise InputError("zero-shot runs train nothing: there is nothing to hold out",
                             hint="drop --holdout-nodes, or train a tower (hrviz train --encoder ...)")
        self.tower.check()


def is_text_run(run: dict) -> bool:
    """Whether a run (``store.run`` dict) is a text run (zero-shot or tower)."""
    return (run.get("params") or {}).get("model") == "text"


def tower_path(model_path: str | Path) -> Path:
    """Where a tower run keeps its heads, beside its ``run-ID.safetensors``."""
    p = Path(model_path)
    return p.with_name(p.stem + ".tower.safetensors")


def create_text_run(source: str, cfg: TextRunConfig, store, h: Hierarchy, *, name: str | None = None) -> int:
    """The run row of a text run (status running); returns its id. Loads the encoder (its width
    is the zero-shot run's dim): a missing encoder is an InputError before any row is made."""
    cfg.check()
    enc = get_encoder(encoder_spec(cfg.encoder))
    base = {"model": "text", "encoder": enc.name, "style": cfg.tower.style}
    if cfg.zero_shot:
        params = {**base, "recipe": "zero-shot", "max_distance": cfg.max_distance, "seed": 0}
        return store.create_run(source=source, hierarchy_hash=h.hash, recipe="zero-shot", dim=enc.dim,
                                seed=0, params=params, name=name)
    r = cfg.train.resolved(h)
    params = {**asdict(r), **base, "tower": asdict(cfg.tower), "holdout_nodes": cfg.holdout_nodes}
    return store.create_run(source=source, hierarchy_hash=h.hash, recipe=r.recipe, dim=r.dim, seed=r.seed,
                            params=params, name=name)


def run_text(source: str, cfg: TextRunConfig, store, *, hierarchy: Hierarchy | None = None,
             stop: threading.Event | None = None, name: str | None = None,
             progress: Callable[[dict], None] | None = None, run_id: int | None = None,
             cache_dir=CACHE_DIR) -> int:
    """Evaluate (zero-shot) or train, evaluate and save a text run; returns the run id.

    ``run_id``: a row made by :func:`create_text_run` (the background launch), else a new one.
    ``stop`` ends a tower's training at the next step (evaluated, marked ``stopped``). Errors
    mark the run failed and are re-raised.
    """
    from ..experiment import failures_recorded
    from ..sources import load_source

    h = hierarchy or load_source(source)
    if run_id is None:
        run_id = create_text_run(source, cfg, store, h, name=name)
    t0 = time.perf_counter()
    with failures_recorded(store, run_id, t0):
        if cfg.zero_shot:
            _zero_shot_run(source, cfg, store, h, run_id, t0, cache_dir)
        else:
            _tower_run(source, cfg, store, h, run_id, t0, stop, progress, cache_dir)
    return run_id


def _save_vectors(store, run_id: int, h: Hierarchy, source: str, q: np.ndarray, d: np.ndarray,
                  normalize: bool, params: dict) -> Path:
    """The node vectors as a dual-encoder file (what every page and ``hrviz eval`` load)."""
    import torch

    from ..experiment import models_dir
    from ..model import DualEncoder

    m = DualEncoder(1, 1, normalize=normalize)
    m.n, m.dim = q.shape
    m.q = torch.nn.Parameter(torch.from_numpy(np.array(q, np.float32)))  # copies: q and d may be one array
    m.d = torch.nn.Parameter(torch.from_numpy(np.array(d, np.float32)))
    path = models_dir(store) / f"run-{run_id}.safetensors"
    m.save(path, hierarchy_hash=h.hash, source=source, params={**params, "run_id": run_id})
    store.set_model_path(run_id, str(path))
    return path


def _zero_shot_run(source, cfg: TextRunConfig, store, h, run_id, t0, cache_dir) -> None:
    from ..evaluate import evaluate
    from ..experiment import _log_retrievals

    enc = get_encoder(encoder_spec(cfg.encoder))
    x = node_features(h, enc, style=cfg.tower.style, cache_dir=cache_dir)
    embed_seconds = time.perf_counter() - t0
    closure = h.closure(cfg.max_distance)
    ev = evaluate(x, x, closure)
    store.log_recall(run_id, "final", 0, "all", "auto", ev.hits, ev.pairs)
    _save_vectors(store, run_id, h, source, x, x, True, store.run(run_id)["params"])
    _log_retrievals(store, run_id, h, closure, x, x, 0)
    summary = {**ev.summary(), "encoder": enc.name, "embed_seconds": embed_seconds, "model": "text"}
    store.finish_run(run_id, status="finished", summary=summary, seconds=time.perf_counter() - t0)


def _tower_run(source, cfg: TextRunConfig, store, h, run_id, t0, stop, progress, cache_dir) -> None:
    from ..experiment import _log_retrievals, event_logger, models_dir
    from .text_tower import save_tower

    enc = get_encoder(encoder_spec(cfg.encoder))
    with store.buffered() as log:  # one connect per ~0.5 s of logging; flushed also on error
        result = fit_text(h, enc, cfg.train, cfg.tower, holdout_nodes=cfg.holdout_nodes, cache_dir=cache_dir,
                          callback=event_logger(log, run_id, progress), stop=stop, ranks=True)
    last = max([e["step"] for e in result.history] + [0])
    held = result.heldout is not None
    main = result.heldout if held else result.seen
    if held:
        store.log_recall(run_id, "final-seen", last, "all", "auto", result.seen.hits, result.seen.pairs)
    store.log_recall(run_id, "final", last, "heldout" if held else "all", "auto", main.hits, main.pairs)
    q, d = result.tower.query_vectors(), result.tower.doc_vectors()
    params = store.run(run_id)["params"]
    _save_vectors(store, run_id, h, source, q, d, result.config.normalize, params)
    save_tower(result.tower, tower_path(models_dir(store) / f"run-{run_id}.safetensors"),
               meta={"encoder": enc.name, "encoder_key": enc.key, "style": cfg.tower.style,
                     "hierarchy_hash": h.hash, "source": source, "run_id": run_id,
                     "heldout_nodes": [int(i) for i in result.heldout_nodes]})
    _log_retrievals(store, run_id, h, h.closure(result.config.max_distance), q, d, result.config.seed)
    summary = {**result.summary(), "train_seconds": result.train_seconds, "best_step": result.best_step,
               "model": "text"}
    store.finish_run(run_id, status="stopped" if result.stopped else "finished", summary=summary,
                     seconds=time.perf_counter() - t0)


def launch_text(source: str, cfg: TextRunConfig, store, h: Hierarchy, *, stop: threading.Event | None = None,
                name: str | None = None) -> tuple[int, threading.Thread]:
    """:func:`hrviz.experiment.launch` for a :class:`TextRunConfig`: the run row now, the work in a
    daemon thread that honours ``stop``; returns (run_id, thread)."""
    from ..experiment import in_background

    run_id = create_text_run(source, cfg, store, h, name=name)
    return run_id, in_background(run_id, "text", lambda: run_text(
        source, cfg, store, hierarchy=h, stop=stop, run_id=run_id))


# ----- free text ----------------------------------------------------------------
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
    from ..experiment import load_run_model
    from .text_tower import load_tower

    run = store.run(int(run_id))
    if not is_text_run(run):
        raise InputError(f"run {run_id} is not a text run: free text needs a text encoder",
                         hint="pick a run of `hrviz encode SOURCE --encoder NAME` or "
                              "`hrviz train SOURCE --encoder NAME ...`")
    model, run = load_run_model(store, int(run_id))
    encoder = run["params"]["encoder"]
    head = None
    if run["recipe"] != "zero-shot":
        tower, _ = load_tower(tower_path(run["model_path"]))
        head = tower.query_from_features
    return TextRunModel(run, encoder, model.doc_vectors(), head)


def text_match(h: Hierarchy, text: str) -> int | None:
    """The node a free text names exactly (case-insensitive), or None: its name, else a node whose
    first label (WordNet: first lemma) is the text, else one with the text among its labels or as
    its cleaned name; ties go to the smaller name."""
    from .text import clean_name

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
