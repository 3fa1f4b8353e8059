"""The training loop (:func:`fit`): one loop, on any torch device, that runs a recipe's stages
over a regime.

Per step, in order: draw a batch of pair indices from the stage's sampler (on the device,
seeded by a ``torch.Generator``), turn them into (query, positive) ids, and take one step
(:func:`~hrviz.training.optim.table_step`: the candidate columns and their masking
(:meth:`SoftmaxLoss.columns`), forward, the fused masked softmax loss, backward, row
updates); every ``eval_every`` steps evaluate a seeded validation sample of queries
(recall@auto by distance, :func:`~hrviz.training.device.evaluate_on_device`) and emit it.
Nothing in a step is read back to the host: the loss is read only when it is emitted.

The same loop runs on the CPU, on a GPU (``cfg.device``), and data-parallel over the ranks of
``torch.distributed`` (``cfg.distributed``: each rank draws its own pairs, gradients are
gathered before the update, :mod:`hrviz.training.distributed`). A CPU run is repeatable for a
seed.

The loss, its masking and the temperature convention are documented in
:mod:`hrviz.training.loss`; regimes in :mod:`hrviz.training.config`; recipes in
:mod:`hrviz.training.recipes`. Temperature convention, settled by experiment on the paper's
tree (H=4, W=5, d=3; docs/science-notes.md): the paper's T=20 pretraining and T=500
finetuning only make sense as a *scale on cosine scores* of unit vectors (as in
sentence-transformers' MultipleNegativesRankingLoss, scale=20). Read as a divisor of raw dot
products, T=500 flattens the softmax to uniform and finetuning does nothing.

The finetune stage of ``pretrain-finetune`` keeps its checkpoint with the best validation
recall (``select_by``), the pretrained model itself included as step 0, so finetuning can
never end worse on the validation criterion than it started.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..hierarchy import Hierarchy
from ..models.dual_encoder import DualEncoder
from ..pairs import split_pairs
from . import distributed as D
from .config import TrainConfig
from .device import evaluate_on_device
from .loss import SoftmaxLoss
from .optim import frozen, make_optimizer, table_step
from .recipes import build_stages
from ..rule import Plateau


@dataclass
class TrainResult:
    model: DualEncoder
    config: TrainConfig
    stopped: bool = False
    seconds: float = 0.0
    best_step: dict[str, int] = field(default_factory=dict)
    stages: dict[str, dict] = field(default_factory=dict)  # per stage: steps, plateau, ... (run_stages)
    history: list[dict] = field(default_factory=list)


Callback = Callable[[dict], None]


def fit(h: Hierarchy, cfg: TrainConfig | None = None, *, callback: Callback | None = None,
        stop: threading.Event | None = None, model: DualEncoder | None = None) -> TrainResult:
    """Train a dual encoder on hierarchy ``h`` with the recipe of ``cfg``.

    ``callback`` receives events (dicts with ``kind`` "stage", "loss", "recall",
    "checkpoint" or "plateau"); ``stop`` ends training early, leaving a consistent model (the
    best finetune checkpoint so far when finetuning). Steps count globally across stages.

    Devices: ``cfg.device`` ("cpu" or "cuda") is where every per-step piece runs; with
    ``cfg.distributed`` the run is data-parallel over torch.distributed ranks (only rank 0
    emits events).

    Threads: torch's thread count is process-wide, and the app may run two fits at once. While
    fits run, the process uses the smallest ``cfg.threads`` any of them asked for; the count
    from before is restored when the last one ends (:func:`_threads`).
    """
    cfg = (cfg or TrainConfig()).resolved(h)
    with _threads(cfg.threads):
        return _fit(h, cfg, callback, stop, model)


_THREADS_LOCK = threading.Lock()
_THREADS_ACTIVE: list[int] = []  # the thread counts the running fits asked for
_THREADS_BEFORE: list[int] = []


@contextmanager
def _threads(wanted: int | None):
    """Run with at most ``wanted`` torch threads, shared safely by concurrent fits."""
    if not wanted:
        yield
        return
    with _THREADS_LOCK:
        if not _THREADS_ACTIVE:
            _THREADS_BEFORE[:] = [torch.get_num_threads()]
        _THREADS_ACTIVE.append(wanted)
        torch.set_num_threads(min(_THREADS_ACTIVE))
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_ACTIVE.remove(wanted)
            torch.set_num_threads(min(_THREADS_ACTIVE) if _THREADS_ACTIVE else _THREADS_BEFORE[0])


def validation_event(ev, stage: str, step: int, select_by: str) -> dict:
    """The ``recall`` event of a validation evaluation, with its checkpoint ``criterion``
    (mean over distances, min, or overall validation recall, as ``select_by`` says)."""
    crit = {"mean": float(np.mean(list(ev.recall_by_distance.values()))), "min": ev.min,
            "overall": ev.overall}[select_by]
    return {"kind": "recall", "stage": stage, "step": step, "split": "val", "k": "auto",
            "hits": ev.hits, "pairs": ev.pairs, "recall": ev.recall_by_distance,
            "overall": ev.overall, "min": ev.min, "criterion": crit}


def validation_queries(h: Hierarchy, split, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """The seeded validation sample: up to ``eval_queries`` of the query nodes (all nodes, or
    the leaves when ``cfg.queries`` says so)."""
    nodes = np.arange(h.n) if split.query_nodes is None else split.query_nodes
    return np.sort(rng.choice(nodes, size=min(cfg.eval_queries, len(nodes)), replace=False))


def apply_threads(cfg: TrainConfig) -> None:
    """Set the process's torch threads from a resolved config (command-line runs only)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)


def eligible(event: dict, base: dict, guard: float) -> bool:
    """Whether a finetune checkpoint (its validation ``event``) may replace the pretrained
    model (``base``, the stage's first validation): no distance more than ``guard`` below the
    pretrained model's, and distance 0 at least min(0.90, the pretrained's)."""
    now, then = event["recall"], base["recall"]
    if any(now.get(t, 0.0) < r - guard for t, r in then.items()):
        return False
    return 0 not in then or now.get(0, 0.0) >= min(0.90, then[0])


def run_stages(stages, cfg: TrainConfig, result: TrainResult, emit: Callback, validate, stage_step,
                stop, t_start: float) -> None:
    """The stage loop both fits share: per stage a "stage" event, its steps with "loss" events
    and validation every ``eval_every`` steps, and for a ``select_best`` stage the best
    checkpoint (the stage's start included) loaded back at its end.

    A stage ends at its step budget or earlier on a plateau (:class:`hrviz.rule.Plateau`:
    ``patience`` validations in a row without a gain of ``plateau_delta`` in the criterion),
    with a "plateau" event. A ``select_best`` stage keeps its best checkpoint among those that
    pass the guard (:func:`eligible`, ``finetune_guard``): the pretrained model is kept unless a
    checkpoint beats it without costing any distance more than the guard, so a finetune never
    ends worse than its start on validation. ``result.stages`` records per stage its steps,
    whether it ended on a plateau, and for a ``select_best`` stage the pretrained validation
    recall and whether the pretrained model was kept.

    ``stage_step(stage)`` makes the stage's optimiser and returns a function that takes one
    step and returns its loss; ``validate(stage_name, step)`` returns the "recall" event.
    """
    model = result.model
    total = sum(s.steps for s in stages)
    step = 0
    for stage in stages:
        emit({"kind": "stage", "stage": stage.name, "step": step, "steps": stage.steps,
              "lr": stage.lr, "temperature": stage.temperature})
        one_step = stage_step(stage)
        plateau = Plateau(cfg.patience or 0, cfg.plateau_delta)
        best = base = None
        start = step
        if stage.select_best:
            base = validate(stage.name, step)
            best = (base["criterion"], step, model.state_copy())
            plateau.update(base["criterion"])  # a finetune that never beats its start stops
        record = {"start": start, "budget": stage.steps, "plateau": False}
        for i in range(1, stage.steps + 1):
            if stop is not None and stop.is_set():  # (a distributed run is never stopped this way)
                result.stopped = True
                break
            loss = one_step()
            step += 1
            if i % max(1, cfg.eval_every // 4) == 0 or i == stage.steps:
                elapsed = time.perf_counter() - t_start
                done = step / total
                emit({"kind": "loss", "stage": stage.name, "step": step, "loss": float(loss),
                      "progress": done, "eta_seconds": elapsed / done * (1 - done)})
            if i % cfg.eval_every == 0 or i == stage.steps:
                ev = validate(stage.name, step)
                if best is not None and ev["criterion"] > best[0] and eligible(ev, base, cfg.finetune_guard):
                    best = (ev["criterion"], step, model.state_copy())
                if plateau.update(ev["criterion"]) and i < stage.steps:
                    record["plateau"] = True
                    emit({"kind": "plateau", "stage": stage.name, "step": step, "budget": start + stage.steps})
                    total -= stage.steps - i  # the progress of the stages after it
                    break
        record["steps"] = step - start
        if best is not None:
            model.load_state(best[2])
            result.best_step[stage.name] = best[1]
            record.update(pretrained=dict(base["recall"]), kept_pretrained=best[1] == start)
            emit({"kind": "checkpoint", "stage": stage.name, "step": best[1], "criterion": best[0]})
        result.stages[stage.name] = record
        if result.stopped:
            break


def _ranks(cfg):
    """(device, rank, world size, gradient reduce, model broadcast) of a fit; reduce and
    broadcast are None unless the run is data-parallel over several torch.distributed ranks."""
    if not cfg.distributed:
        return torch.device(cfg.device), 0, 1, None, None
    rank, world = D.init(cfg.device)
    dev = D.rank_device(cfg.device)
    if world == 1:
        return dev, rank, world, None, None
    return dev, rank, world, D.gather_rows(world), D.broadcast_model


def _fit(h, cfg, callback, stop, model) -> TrainResult:
    # ----- where: the device, and the ranks of a data-parallel run -----
    dev, rank, world, reduce, broadcast = _ranks(cfg)
    emit = (callback or (lambda e: None)) if rank == 0 else (lambda e: None)
    t_start = time.perf_counter()

    # ----- data: the pairs, the recipe's stages, the seeds -----
    split = split_pairs(h, cfg.max_distance, mode=cfg.mode, holdout=cfg.holdout, seed=cfg.seed,
                        queries=cfg.queries)
    closure = split.train.closure
    stages = build_stages(cfg, split.train)
    rng = np.random.default_rng(cfg.seed)  # the validation queries: the same on every device
    val_queries = validation_queries(h, split, cfg, rng)
    val_mask = split.eval_mask()
    gen = torch.Generator(device=dev).manual_seed(cfg.seed * 1_000_003 + rank)  # the batches: each rank its own
    # samplers index the training pairs (all pairs in reconstruction mode)
    pair_q = torch.as_tensor(split.train.query.astype(np.int64), device=dev)     # (P,)
    pair_d = torch.as_tensor(split.train.doc.astype(np.int64), device=dev)       # (P,)
    batch = max(1, cfg.batch_size // world)                                      # one rank's pairs

    # ----- model and loss -----
    model = model or DualEncoder(h.n, cfg.dim, normalize=cfg.normalize, seed=cfg.seed,
                                  init_scale=cfg.init_scale)
    model.to(dev)
    # relevance the loss may know: the training pairs only (in generalisation mode the held-out
    # ancestors are not masked: a real holdout gives the model no hint about them)
    loss_fn = SoftmaxLoss(split.train.as_closure(h.n), h.n, negatives=cfg.negatives, n_negatives=cfg.n_negatives,
                          temperature_mode=cfg.temperature_mode, masking=cfg.masking,
                          normalize_queries=cfg.normalize_queries, logq=cfg.logq, device=dev,
                          compact=False if reduce is not None else None)  # ranks all-gather fixed shapes
    result = TrainResult(model=model, config=cfg)

    def validate(stage: str, step: int) -> dict:
        if broadcast is not None:  # the ranks' tables cannot drift apart
            broadcast(model)
        with torch.no_grad():
            ev = evaluate_on_device(model.query(), model.doc(), closure, device=dev, queries=val_queries,
                                    pair_mask=val_mask, ranks=False)
        event = validation_event(ev, stage, step, cfg.select_by)
        result.history.append(event)
        emit(event)
        return event

    def stage_step(stage):
        opt = frozen(make_optimizer(model, stage.lr, cfg.optimizer), stage.freeze)
        stage_loss = loss_fn if stage.masking in (None, cfg.masking) else loss_fn.with_masking(stage.masking)
        if cfg.logq:  # the correction's q: this stage's own sampler, per rank's batch
            stage_loss.set_proposal(stage.sampler.doc_marginal(h.n), batch)

        def one_step() -> torch.Tensor:
            idx = stage.sampler.sample(gen, batch)                                 # (b,) pair indices
            return table_step(opt, stage_loss, pair_q.index_select(0, idx), pair_d.index_select(0, idx),
                              stage.temperature, gen, reduce)

        return one_step

    # ----- the stages: steps, validation, plateau, the finetune's checkpoint -----
    run_stages(stages, cfg, result, emit, validate, stage_step, stop, t_start)
    model.to("cpu")
    result.seconds = time.perf_counter() - t_start
    return result
