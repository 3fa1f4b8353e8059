"""Text encoders as a run kind: zero-shot evaluations and trained text towers, :data:`TEXT`.

One :class:`TextRunConfig` describes either run:

- zero-shot (``train=None``): every node's text embedded once by a frozen encoder, query =
  document, cosine. Run row: recipe ``zero-shot``, dim = the encoder's width, params
  ``{"model": "text", "recipe": "zero-shot", "encoder": ..., "max_distance": ..., "style": ...}``.
- a text tower (``train=TrainConfig(...)``): :func:`~hrviz.models.text_fit.fit_text` with the
  lookup tables' recipes and regimes. Params: the resolved TrainConfig plus ``model: "text"``,
  ``encoder``, ``tower`` (the :class:`~hrviz.models.text_fit.TowerConfig`) and ``holdout_nodes``.

Both are saved as what every run saves (the node vectors as a dual-encoder file
``models/run-ID.safetensors``; zero-shot: the unit features on both sides), so ``hrviz eval``,
Results, the Query inspector and Embeddings read them like any other run. With ``holdout_nodes``
the ``final`` rows (split ``heldout``) and the summary are the held-out leaves' queries; the seen
nodes' figures are stage ``final-seen`` and ``summary["seen"]``. A tower also saves its heads (and
residual tables) as ``models/run-ID.tower.safetensors`` (:func:`tower_path`): what free-text
queries need (:mod:`hrviz.free_text`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..evaluate import evaluate
from ..models.dual_encoder import DualEncoder
from ..models.text import CACHE_DIR, node_features
from ..models.text_encoders import get_encoder
from ..models.text_fit import TowerConfig, fit_text, holdout_leaves
from ..models.text_tower import save_tower
from ..training import TrainConfig
from .base import Final, Fitted, RunRow

#: the ``--encoder`` value that means "no text encoder": the lookup-table dual encoder
LOOKUP = "lookup"
#: a text tower's main-stage steps when the run leaves them unset (and the tables' rule asks for more)
TOWER_STEPS = 2000


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
    entirely; towers only), ``max_distance`` (zero-shot only; a tower uses
    ``train.max_distance``) and ``cache_dir`` (the embedding cache; None: off)."""

    encoder: str = "wordllama"
    train: TrainConfig | None = None
    tower: TowerConfig = field(default_factory=TowerConfig)
    holdout_nodes: float | None = None
    max_distance: int | None = 8
    cache_dir: object = CACHE_DIR

    @property
    def zero_shot(self) -> bool:
        return self.train is None

    def resolved(self, h=None) -> "TextRunConfig":
        """A checked copy (InputError for bad input). A tower's TrainConfig is resolved by
        :func:`fit_text`, on the hierarchy it trains on (without the held-out leaves)."""
        if encoder_spec(self.encoder) is None:
            raise InputError("a text run needs a text encoder, not lookup tables",
                             hint="encoder wordllama | model2vec | hashing | st:MODEL")
        if self.zero_shot and self.holdout_nodes:
            raise InputError("zero-shot runs train nothing: there is nothing to hold out",
                             hint="drop --holdout-nodes, or train a tower (hrviz train --encoder ...)")
        train = self.train
        if train is not None and train.steps is None and h is not None:
            # a tower's step costs the heads' passes over every node's features as well: at most
            # TOWER_STEPS (the grid's choice on WordNet, bench/results/text.md), fewer where the
            # tables' rule (about 200 epochs) asks for fewer
            train = replace(train, steps=min(TOWER_STEPS, train.resolved(h).steps))
        return replace(self, train=train, tower=self.tower.resolved(h))


def tower_path(model_path: str | Path) -> Path:
    """Where a tower run keeps its heads, beside its ``run-ID.safetensors``."""
    p = Path(model_path)
    return p.with_name(p.stem + ".tower.safetensors")


class TextKind:
    name = "text"
    title = "text tower"
    config_type = TextRunConfig

    def resolved(self, cfg: TextRunConfig, h) -> TextRunConfig:
        return cfg.resolved(h)

    def run_row(self, cfg: TextRunConfig, h) -> RunRow:
        """Loads the encoder (its width is the zero-shot run's dim): a missing encoder is an
        InputError before any row is made."""
        enc = get_encoder(encoder_spec(cfg.encoder))
        base = {"model": self.name, "encoder": enc.name, "style": cfg.tower.style}
        if cfg.zero_shot:
            return RunRow("zero-shot", enc.dim, 0, {**base, "recipe": "zero-shot",
                                                    "max_distance": cfg.max_distance, "seed": 0})
        r = cfg.train.resolved(h)
        return RunRow(r.recipe, r.dim, r.seed, {**asdict(r), **base, "tower": asdict(cfg.tower),
                                                "holdout_nodes": cfg.holdout_nodes})

    def fit(self, h, cfg: TextRunConfig, *, callback, stop) -> Fitted:
        t0 = time.perf_counter()
        enc = get_encoder(encoder_spec(cfg.encoder))
        if cfg.zero_shot:
            x = node_features(h, enc, style=cfg.tower.style, cache_dir=cfg.cache_dir)
            return Fitted(DualEncoder.from_vectors(x, x, normalize=True), 0, False,
                          {"encoder": enc.name, "embed_seconds": time.perf_counter() - t0, "model": self.name})
        result = fit_text(h, enc, cfg.train, cfg.tower, holdout_nodes=cfg.holdout_nodes, cache_dir=cfg.cache_dir,
                          callback=callback, stop=stop, evaluate_seen=False)
        last = max([e["step"] for e in result.history] + [0])
        tower = result.tower
        model = DualEncoder.from_vectors(tower.query_vectors(), tower.doc_vectors(), normalize=result.config.normalize)
        held = [int(i) for i in result.heldout_nodes]

        def save_heads(model_path: Path, meta: dict) -> None:
            save_tower(tower, tower_path(model_path), meta={
                "encoder": enc.name, "encoder_key": enc.key, "style": cfg.tower.style, **meta, "heldout_nodes": held})

        summary = {"recipe": result.config.recipe, "dim": result.config.dim, "encoder": enc.name,
                   "tower": asdict(cfg.tower), "seconds": time.perf_counter() - t0,
                   "train_seconds": result.train_seconds, "best_step": result.best_step, "model": self.name}
        return Fitted(model, last, result.stopped, summary, save_heads)

    def final(self, h, params: dict, model, *, k="auto", device=None) -> Final:
        """Every query (zero-shot, towers without held-out nodes), or the held-out leaves' queries
        (split ``heldout``) with the seen nodes' queries beside them (``seen``)."""
        closure = h.closure(params.get("max_distance"))
        q, d = model.query_vectors(), model.doc_vectors()
        if not params.get("holdout_nodes"):
            return Final(evaluate(q, d, closure, k=k), "all", closure)
        held = holdout_leaves(h, float(params["holdout_nodes"]), int(params.get("seed", 0)))
        seen = np.setdiff1d(np.arange(h.n), held)
        ev, ev_seen = evaluate(q, d, closure, k=k, queries=held), evaluate(q, d, closure, k=k, queries=seen)
        return Final(ev, "heldout", closure, seen=ev_seen,
                     summary={"holdout_nodes": int(len(held)), "seen": ev_seen.summary()})

    def load(self, path) -> DualEncoder:
        return DualEncoder.load(path)


TEXT = TextKind()
