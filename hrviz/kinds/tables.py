"""The dual encoder of two lookup tables (the paper's model) as a run kind: :data:`TABLES`.

Config :class:`~hrviz.training.TrainConfig` (every knob of :mod:`hrviz.training`: ``hrviz
train``'s hyper-parameter flags and the Train page's training settings), fit
:func:`hrviz.training.fit`, model :class:`~hrviz.models.dual_encoder.DualEncoder`. The final
evaluation counts every pair, or in generalisation mode only the held-out ones (split
``heldout``), on the run's device. Its name, ``dual-encoder``, is also the kind of a stored run
that records none (the runs made before kinds were recorded).
"""

from __future__ import annotations

from dataclasses import asdict, fields

from .base import Final, Fitted, RunRow


def train_config(params: dict):
    """The :class:`TrainConfig` a run's params record (unknown keys left out)."""
    from ..training import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in params.items() if k in known})


def final_evaluation(h, cfg, q, d, *, k: str | int = "auto", device: str = "cpu") -> Final:
    """The stored final numbers of vectors ``q``, ``d`` trained with ``cfg`` (a TrainConfig):
    every pair, or in generalisation mode only the held-out ones; chunked ``Q @ D.T`` + top-k on
    a CUDA device."""
    from ..evaluate import evaluate
    from ..pairs import split_pairs
    from ..training.device import evaluate_on_device, resolve_device

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
    name = "dual-encoder"
    title = "dual encoder"
    summary = "the paper's dual encoder: two lookup tables (a query and a document vector per node), score = dot product"
    trainable = True
    uses_training = True
    settings = ()  # every knob is TrainConfig's
    run_titles = (title,)

    @property
    def config_type(self) -> type:
        from ..training import TrainConfig

        return TrainConfig

    def config(self, values: dict, h, train=None):
        from ..errors import InputError

        if train is None:
            raise InputError("the dual encoder trains with the training settings, and they are not valid")
        return train

    def plan(self, cfg, h) -> str:
        return ""

    def run_title(self, params: dict) -> str:
        return self.title

    def result(self, run: dict) -> dict:
        device = run["params"].get("device")
        return {} if device is None else {"device": device}

    def resolved(self, cfg, h):
        return cfg.resolved(h)

    def run_row(self, cfg, h) -> RunRow:
        return RunRow(cfg.recipe, cfg.dim, cfg.seed, {**asdict(cfg), "model": self.name})

    def fit(self, h, cfg, *, callback, stop) -> Fitted:
        from ..training import fit

        result = fit(h, cfg, callback=callback, stop=stop)
        last = max([e["step"] for e in result.history] + [0])
        return Fitted(result.model, last, result.stopped,
                      {"train_seconds": result.seconds, "best_step": result.best_step,
                       "stages": result.stages})

    def final(self, h, params: dict, model, *, k="auto", device=None) -> Final:
        return final_evaluation(h, train_config(params), model.query_vectors(), model.doc_vectors(), k=k,
                                device=device or "cpu")

    def load(self, path):
        from ..models.dual_encoder import DualEncoder

        return DualEncoder.load(path)


TABLES = TablesKind()
