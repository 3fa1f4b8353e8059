"""The lookup-table dual encoder (the paper's model) as a run kind: :data:`TABLES`.

Config :class:`~hrviz.training.TrainConfig`, fit :func:`hrviz.training.fit`, model
:class:`~hrviz.models.dual_encoder.DualEncoder`. The final evaluation counts every pair, or in
generalisation mode only the held-out ones (split ``heldout``), on the run's device.
"""

from __future__ import annotations

from dataclasses import asdict, fields

from ..evaluate import evaluate
from ..models.dual_encoder import DualEncoder
from ..pairs import split_pairs
from ..store import DEFAULT_KIND
from ..training import TrainConfig, fit
from ..training.device import evaluate_on_device, resolve_device
from .base import Final, Fitted, RunRow


def train_config(params: dict) -> TrainConfig:
    """The :class:`TrainConfig` a run's params record (unknown keys left out)."""
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in params.items() if k in known})


def final_evaluation(h, cfg: TrainConfig, q, d, *, k: str | int = "auto", device: str = "cpu") -> Final:
    """The stored final numbers of vectors ``q``, ``d`` trained with ``cfg``: every pair, or in
    generalisation mode only the held-out ones; chunked ``Q @ D.T`` + top-k on a CUDA device."""
    split = split_pairs(h, cfg.max_distance, mode=cfg.mode, holdout=cfg.holdout, seed=cfg.seed,
                        queries=cfg.queries or "all")
    mask = split.eval_mask()
    qs = split.query_nodes  # None: every node is a query
    if resolve_device(device) == "cuda":
        ev = evaluate_on_device(q, d, split.train.closure, device="cuda", k=k, queries=qs, pair_mask=mask)
    else:
        ev = evaluate(q, d, split.train.closure, k=k, queries=qs, pair_mask=mask)
    return Final(ev, "heldout" if mask is not None else "all", split.train.closure)


class TablesKind:
    name = DEFAULT_KIND
    title = "dual encoder"
    config_type = TrainConfig

    def resolved(self, cfg: TrainConfig, h) -> TrainConfig:
        return cfg.resolved(h)

    def run_row(self, cfg: TrainConfig, h) -> RunRow:
        return RunRow(cfg.recipe, cfg.dim, cfg.seed, {**asdict(cfg), "model": self.name})

    def fit(self, h, cfg: TrainConfig, *, callback, stop) -> Fitted:
        result = fit(h, cfg, callback=callback, stop=stop)
        last = max([e["step"] for e in result.history] + [0])
        return Fitted(result.model, last, result.stopped,
                      {"train_seconds": result.seconds, "best_step": result.best_step})

    def final(self, h, params: dict, model, *, k="auto", device=None) -> Final:
        return final_evaluation(h, train_config(params), model.query_vectors(), model.doc_vectors(), k=k,
                                device=device or "cpu")

    def load(self, path) -> DualEncoder:
        return DualEncoder.load(path)


TABLES = TablesKind()
