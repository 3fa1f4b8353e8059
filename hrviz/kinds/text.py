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
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..models.text import CACHE_DIR
from .base import Final, Fitted, RunRow, Setting

if TYPE_CHECKING:
    from ..models.text_fit import TowerConfig
    from ..training import TrainConfig

#: the ``--encoder`` value that means "no text encoder": the lookup-table dual encoder
LOOKUP = "lookup"
#: a text tower's main-stage steps when the run leaves them unset (and the tables' rule asks for more)
TOWER_STEPS = 2000
#: the Train page's encoders: display name -> encoder name
ENCODERS = {"wordllama": "wordllama", "model2vec": "model2vec", "hashing (no model, not semantic)": "hashing"}
ENCODER_HELP = ("the frozen encoder of every node's text (WordNet: lemma: gloss; uploads: label: description): "
                "wordllama, model2vec, hashing (tests: no model, not semantic) or st:MODEL (a "
                "sentence-transformers model on disk); lookup: none, the lookup-table dual encoder")


def encoder_spec(name: str | None) -> str | None:
    """A ``--encoder`` value as :func:`get_encoder` takes it; None for the lookup tables."""
    name = (name or "").strip()
    if name in ("", LOOKUP):
        return None
    if name.startswith("st:"):
        return "sentence-transformers:" + name[3:]
    return name


def _tower_config(**kw):
    from ..models.text_fit import TowerConfig

    return TowerConfig(**kw)


@dataclass
class TextRunConfig:
    """A text run: ``encoder`` (a :func:`get_encoder` name), ``train`` (a TrainConfig; None:
    zero-shot), ``tower`` (a :class:`~hrviz.models.text_fit.TowerConfig`: head, residuals, node
    text style), ``holdout_nodes`` (share of leaves held out entirely; towers only),
    ``max_distance`` (zero-shot only; a tower uses ``train.max_distance``) and ``cache_dir`` (the
    embedding cache; None: off)."""

    encoder: str = "wordllama"
    train: TrainConfig | None = None
    tower: TowerConfig = field(default_factory=_tower_config)
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
                             hint="--encoder wordllama | model2vec | hashing | st:MODEL")
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


#: the tower's knobs among the settings (TowerConfig fields)
TOWER_KEYS = ("head", "hidden", "residual", "residual_dropout", "head_lr", "style")


class TextKind:
    name = "text"
    title = "text tower"
    summary = ("a frozen text encoder over every node's text with trained query and document heads "
               "(or zero-shot, the encoder alone); free text can be queried")
    trainable = True
    uses_training = True
    config_type = TextRunConfig
    run_titles = (title, "text zero-shot")

    @property
    def settings(self) -> tuple[Setting, ...]:
        base = _tower_config()
        return (
            Setting("encoder", "Encoder", ENCODER_HELP, str, default=LOOKUP, start="wordllama",
                    choices=ENCODERS, open=True, picks=True),
            Setting("zero_shot", "Zero-shot only (no training)", "evaluate the frozen encoder as it is: query = "
                    "document = the node text's embedding, cosine score; recorded as recipe zero-shot "
                    "(the command line: hrviz encode)", bool, default=False, cli=False),
            Setting("holdout_nodes", "Held-out leaves (share)", "hold out this share of the leaves entirely: "
                    "neither their text nor their pairs are trained; their queries are evaluated against all "
                    "documents (new items), the seen nodes' figures beside them. 0: none", float, start=0.1,
                    low=0.0, high=0.5, step=0.05, slider=True, off_when="zero_shot"),
            Setting("head", "Heads", "query and document heads over the frozen features: a small MLP or "
                    "linear", str, default=base.head, start="mlp", choices={"mlp": "mlp", "linear": "linear"},
                    off_when="zero_shot"),
            Setting("hidden", "MLP hidden width", "MLP hidden width", int, default=base.hidden, page=False),
            Setting("residual", "Per-node residuals", "per-node residual tables", bool, default=base.residual,
                    page=False),
            Setting("residual_dropout", "Residual dropout", "share of steps a node's residual is left out",
                    float, default=base.residual_dropout, page=False),
            Setting("head_lr", "Head learning rate", "Adam lr of the heads", float, default=base.head_lr,
                    page=False),
            Setting("style", "Node text", "node text: 'label: description' (WordNet: lemma: gloss) or the "
                    "label alone", str, default=base.style,
                    choices={"label-description": "label-description", "label": "label"}, page=False),
        )

    def config(self, values: dict, h, train=None) -> TextRunConfig:
        from ..models.text_encoders import available_encoders

        zero = bool(values.get("zero_shot"))
        encoder = values.get("encoder") or LOOKUP
        if available_encoders().get(encoder_spec(encoder)) is False:
            raise InputError(f"the {encoder} encoder is not installed here",
                             hint="see README (Text encoders) to add it, or choose another encoder")
        if not zero and train is None:
            raise InputError("a text tower trains with the training settings, and they are not valid")
        if train is not None and not zero and train.distributed:
            raise InputError("text towers train on one process", hint="drop --distributed")
        holdout = None if zero or not values.get("holdout_nodes") else float(values["holdout_nodes"])
        if holdout is not None:
            from ..models.text_fit import holdout_leaves

            holdout_leaves(h, holdout)  # refuses a share that holds out no leaf, or all
        tower = _tower_config(**{k: values[k] for k in TOWER_KEYS if values.get(k) is not None})
        return TextRunConfig(encoder=encoder, train=None if zero else train, tower=tower, holdout_nodes=holdout,
                             max_distance=values.get("max_distance"))

    def plan(self, cfg: TextRunConfig, h) -> str:
        if cfg.zero_shot:
            return f"Text: {cfg.encoder} features of every node's text, evaluated zero-shot (no training)."
        held = cfg.holdout_nodes
        return (f"Text: {cfg.encoder} features of every node's text, {cfg.tower.head} heads"
                + (" and per-node residuals" if cfg.tower.residual else "") + " trained with the training settings"
                + (f"; {held:.0%} of the leaves held out entirely." if held else "."))

    def run_title(self, params: dict) -> str:
        return self.run_titles[1] if params.get("recipe") == "zero-shot" else self.title

    def result(self, run: dict) -> dict:
        summary = run.get("summary") or {}
        out = {"encoder": run["params"].get("encoder")}
        for key in ("seen", "holdout_nodes", "embed_seconds", "train_seconds", "tower"):
            if key in summary:
                out[key] = summary[key]
        if out.get("seen"):
            out["seen"] = {k: out["seen"][k] for k in ("recall_by_distance", "overall", "min", "mean_rank", "map")
                           if k in out["seen"]}
        return out

    def resolved(self, cfg: TextRunConfig, h) -> TextRunConfig:
        return cfg.resolved(h)

    def run_row(self, cfg: TextRunConfig, h) -> RunRow:
        """Loads the encoder (its width is the zero-shot run's dim): a missing encoder is an
        InputError before any row is made."""
        from ..models.text_encoders import get_encoder

        enc = get_encoder(encoder_spec(cfg.encoder))
        base = {"model": self.name, "encoder": enc.name, "style": cfg.tower.style}
        if cfg.zero_shot:
            return RunRow("zero-shot", enc.dim, 0, {**base, "recipe": "zero-shot",
                                                    "max_distance": cfg.max_distance, "seed": 0})
        r = cfg.train.resolved(h)
        return RunRow(r.recipe, r.dim, r.seed, {**asdict(r), **base, "tower": asdict(cfg.tower),
                                                "holdout_nodes": cfg.holdout_nodes})

    def fit(self, h, cfg: TextRunConfig, *, callback, stop) -> Fitted:
        from ..models.dual_encoder import DualEncoder
        from ..models.text import node_features
        from ..models.text_encoders import get_encoder
        from ..models.text_fit import fit_text
        from ..models.text_tower import save_tower

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
        from ..evaluate import evaluate
        from ..models.text_fit import holdout_leaves

        closure = h.closure(params.get("max_distance"))
        q, d = model.query_vectors(), model.doc_vectors()
        if not params.get("holdout_nodes"):
            return Final(evaluate(q, d, closure, k=k), "all", closure)
        held = holdout_leaves(h, float(params["holdout_nodes"]), int(params.get("seed", 0)))
        seen = np.setdiff1d(np.arange(h.n), held)
        ev, ev_seen = evaluate(q, d, closure, k=k, queries=held), evaluate(q, d, closure, k=k, queries=seen)
        return Final(ev, "heldout", closure, seen=ev_seen,
                     summary={"holdout_nodes": int(len(held)), "seen": ev_seen.summary()})

    def load(self, path):
        from ..models.dual_encoder import DualEncoder

        return DualEncoder.load(path)


TEXT = TextKind()
