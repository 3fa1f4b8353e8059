"""Runs of every model kind: created, fitted, finally evaluated, saved and logged by one path.

This is the one place that ties the layers together for the CLI, the app, sweeps, the story and
uploads: :func:`run_training` (blocking), :func:`launch` (background thread), :func:`evaluate_run`
(re-evaluate a stored run), :func:`load_run_model` and :func:`export_projector` (TensorBoard
projector TSVs). What differs between model kinds (tables, Poincaré ball, text) is behind
:class:`hrviz.kinds.ModelKind`; the registry :data:`hrviz.kinds.KINDS` picks it from the config.

What a run writes (see ``hrviz/store/schema.py`` for the schema), through the buffered log:
- metrics ``loss``, ``progress`` (0..1), ``eta_seconds`` per stage and step; ``lr`` (and
  ``temperature``) at each stage start; ``best_step`` when a checkpoint is selected;
- recall rows, split ``val``, k ``auto``, during training (a seeded sample of queries);
- at the end, stage ``final``: recall on the pairs the kind's final evaluation counts (split
  ``all``, or ``heldout`` for held-out pairs or nodes), the summary (overall, min, mean rank,
  MAP and the kind's own fields) on the run, the model file (``models/run-ID.safetensors``
  beside the DB) and the top-10 lists of a seeded sample of queries in ``retrievals``.
A crash marks the run ``failed`` with the error; a stop marks it ``stopped`` after
evaluating the model it has.
"""

from __future__ import annotations

import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .errors import InputError
from .evaluate import Evaluation, query_report
from .hierarchy import Hierarchy
from .kinds import Fitted, ModelKind, kind_for_config, kind_of
from .sources import load_source
from .pairs import query_nodes
from .rule import measure
from .store import Store
from .verdict import verdict

DEMO_SOURCE = "tree:H=4,W=5"  # the paper's synthetic tree: a new session's hierarchy
DEMO_RECIPES = ("standard", "pretrain-finetune")


def models_dir(store: Store) -> Path:
    base = Path(store.path).parent if str(store.path) != ":memory:" else Path("results")
    return base / "models"


def log_retrievals(store: Store, run_id: int, h: Hierarchy, closure, q, d, seed: int, n: int = 50) -> None:
    """The top-10 lists of a seeded sample of ``n`` queries, stage ``final``."""
    rng = np.random.default_rng(seed)
    frames = []
    for query in np.sort(rng.choice(h.n, size=min(n, h.n), replace=False)):
        top, _ = query_report(q, d, closure, int(query), k=10)
        top.insert(0, "query", int(query))
        frames.append(top)
    store.log_retrievals(run_id, "final", pd.concat(frames, ignore_index=True))


def create_run(source: str, cfg, store: Store, h: Hierarchy, *, name: str | None = None,
               tags: dict | None = None) -> tuple[int, ModelKind, object]:
    """Check ``cfg`` (its kind's ``resolved``) and make the run row (status running); returns
    (run_id, kind, resolved config). ``tags`` (e.g. ``{"sweep": {...}}``) join the params."""
    kind = kind_for_config(cfg)
    resolved = kind.resolved(cfg, h)
    row = kind.run_row(resolved, h)
    run_id = store.create_run(source=source, hierarchy_hash=h.hash, recipe=row.recipe, dim=row.dim,
                              seed=row.seed, params={**row.params, **(tags or {})}, name=name)
    return run_id, kind, resolved


def run_training(source: str, cfg, store: Store, *, hierarchy: Hierarchy | None = None,
                 stop: threading.Event | None = None, run_id: int | None = None, name: str | None = None,
                 progress: Callable[[dict], None] | None = None, tags: dict | None = None) -> int:
    """Train (a run of any kind: the config's type picks it), evaluate, save; returns the run id.
    Errors mark the run failed and are re-raised.

    ``run_id``: a row made by :func:`create_run` (the background launch), else a new one.
    ``tags`` (e.g. ``{"sweep": {"name": ..., "cell": ...}}``) are stored in the run's params
    beside the resolved configuration. ``progress`` gets every training event.
    """
    h = hierarchy or load_source(source)
    if run_id is None:
        run_id, kind, cfg = create_run(source, cfg, store, h, name=name, tags=tags)
    else:
        kind = kind_for_config(cfg)
    t0 = time.perf_counter()
    with failures_recorded(store, run_id, t0):
        resolved = kind.resolved(cfg, h)  # a row made by create_run holds a resolved config: unchanged
        params = store.run(run_id)["params"]
        with store.buffered() as log:  # one connect per ~0.5 s of logging; flushed also on error
            fitted = kind.fit(h, resolved, callback=event_logger(log, run_id, progress), stop=stop)
        conclude(store, run_id, h, source, kind, params, fitted, t0, device=params.get("device"))
    return run_id


def conclude(store: Store, run_id: int, h: Hierarchy, source: str, kind: ModelKind, params: dict,
             fitted: Fitted, t0: float, *, device: str | None = None) -> None:
    """The end of every run: the kind's final evaluation on ``device`` (None: the CPU; recall rows
    of stage ``final``), the model file, the retrieval lists, the summary and the status
    (``stopped`` or ``finished``)."""
    final = kind.final(h, params, fitted.model, device=device)
    ev = final.evaluation
    if final.seen is not None:
        store.log_recall(run_id, "final-seen", fitted.step, "all", "auto", final.seen.hits, final.seen.pairs)
    store.log_recall(run_id, "final", fitted.step, final.split, "auto", ev.hits, ev.pairs)
    path = models_dir(store) / f"run-{run_id}.safetensors"
    fitted.model.save(path, hierarchy_hash=h.hash, source=source, params={**params, "run_id": run_id})
    if fitted.extra_files is not None:
        fitted.extra_files(path, {"hierarchy_hash": h.hash, "source": source, "run_id": run_id})
    store.set_model_path(run_id, str(path))
    log_retrievals(store, run_id, h, final.closure, fitted.model.query_vectors(), fitted.model.doc_vectors(),
                   int(params.get("seed") or 0))
    summary = {**ev.summary(), **final.summary, **fitted.summary}
    summary["verdict"] = run_verdict(summary, params, h)
    store.finish_run(run_id, status="stopped" if fitted.stopped else "finished", summary=summary,
                     seconds=time.perf_counter() - t0)


def run_verdict(summary: dict, params: dict, h: Hierarchy) -> list[dict]:
    """The run's findings (:func:`hrviz.verdict.verdict`), with the dimension check for runs
    whose ``dim`` the rule sizes (those trained with a TrainConfig: it records a ``regime``)."""
    measures = None
    if params.get("dim") and "regime" in params:
        measures = measure(h, params.get("max_distance"), query_nodes(h, params.get("queries") or "all"))
    return verdict(summary, params, measures)


def record_model(source: str, model, store: Store, h: Hierarchy, *, params: dict, name: str | None = None) -> int:
    """A model made elsewhere (an uploaded model file) as a finished run on ``h``: the row (recipe,
    seed and kind from ``params``, e.g. the file's own), then :func:`conclude` as for a trained
    run. Returns the run id; an error marks the run failed and is re-raised."""
    run_id = store.create_run(source=source, hierarchy_hash=h.hash, recipe=str(params.get("recipe", "uploaded")),
                              dim=int(model.dim), seed=int(params.get("seed", 0) or 0), params=params, name=name)
    t0 = time.perf_counter()
    with failures_recorded(store, run_id, t0):
        params = store.run(run_id)["params"]
        conclude(store, run_id, h, source, kind_of(params), params, Fitted(model), t0)
    return run_id


def event_logger(log, run_id: int, progress: Callable[[dict], None] | None = None) -> Callable[[dict], None]:
    """A fit callback that writes its events to the store through ``log`` (a Store, or its
    :meth:`~hrviz.store.Store.buffered` log): ``loss`` (with ``progress`` and ``eta_seconds``),
    validation ``recall``, a ``stage``'s lr (and temperature), a ``checkpoint``'s step; then
    hands each event to ``progress``. Every model kind's fit speaks these events."""
    def on_event(e: dict) -> None:
        kind = e["kind"]
        if kind == "loss":
            log.log_metrics(run_id, e["stage"], e["step"], {
                "loss": e["loss"], "progress": e["progress"], "eta_seconds": e["eta_seconds"]})
        elif kind == "recall":
            log.log_recall(run_id, e["stage"], e["step"], e["split"], e["k"], e["hits"], e["pairs"])
        elif kind == "stage":
            log.log_metrics(run_id, e["stage"], e["step"], {k: e[k] for k in ("lr", "temperature") if k in e})
        elif kind == "checkpoint":
            log.log_metrics(run_id, e["stage"], e["step"], {"best_step": e["step"]})
        if progress:
            progress(e)
    return on_event


@contextmanager
def failures_recorded(store: Store, run_id: int, t0: float):
    """Any exception inside marks run ``run_id`` failed (:func:`record_failure`) and goes on."""
    try:
        yield
    except BaseException as e:  # noqa: BLE001 - every failure must leave a marked run
        try:
            record_failure(store, run_id, e, t0)
        except Exception:  # noqa: BLE001 - e.g. a full disk: the store cannot take the mark either;
            pass           # the run then reads "interrupted" once this process has ended
        raise


def in_background(run_id: int, kind: str, work: Callable[[], object]) -> threading.Thread:
    """Start ``work`` in a daemon thread ``hrviz-KIND-run-ID``; its errors are not raised there:
    the run functions record them in the store."""
    def guarded():
        try:
            work()
        except BaseException:  # noqa: BLE001 - already recorded as failed in the store
            pass

    t = threading.Thread(target=guarded, name=f"hrviz-{kind}-run-{run_id}", daemon=True)
    t.start()
    return t


def record_failure(store: Store, run_id: int, err: BaseException, t0: float) -> None:
    """Mark run ``run_id`` failed: a user error's message, else the exception and a short trace."""
    msg = str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    store.finish_run(run_id, status="failed", error=msg, seconds=time.perf_counter() - t0)


def launch(source: str, cfg, store: Store, *, hierarchy: Hierarchy | None = None,
           stop: threading.Event | None = None, name: str | None = None) -> tuple[int, threading.Thread]:
    """Create the run row now (a bad config raises here), train in a daemon thread that honours
    ``stop``; returns (run_id, thread). Any kind: the config's type picks it."""
    h = hierarchy or load_source(source)
    run_id, kind, resolved = create_run(source, cfg, store, h, name=name)
    return run_id, in_background(run_id, kind.name, lambda: run_training(
        source, resolved, store, hierarchy=h, stop=stop, run_id=run_id))


def load_run_model(store: Store, run_id: int):
    """The model of a stored run, read by its kind (refuses a missing file with a clear message);
    returns (model, run dict)."""
    run = store.run(run_id)
    path = run.get("model_path")
    if not path or not Path(path).exists():
        raise InputError(f"run {run_id} has no model file", hint="it may have failed before saving; train it again")
    return kind_of(run["params"]).load(path), run


def evaluate_run(store: Store, run_id: int, *, k: str | int = "auto", hierarchy: Hierarchy | None = None,
                 device: str | None = None) -> tuple[Evaluation, dict]:
    """Re-evaluate a stored run exactly, counting the pairs its final evaluation counted (the
    held-out pairs in generalisation mode, the held-out leaves' queries of a text tower trained
    with ``holdout_nodes``), on ``device`` (None: the CPU); returns (Evaluation, run dict)."""
    model, run = load_run_model(store, run_id)
    h = hierarchy or load_source(run["source"])
    model.check_hierarchy(h.hash, where=f"run {run_id}")
    final = kind_of(run["params"]).final(h, run["params"], model, k=k, device=device)
    return final.evaluation, run


def export_projector(store: Store, run_id: int, out_dir: str | Path, *, hierarchy: Hierarchy | None = None) -> list[Path]:
    """TensorBoard projector files: vectors.tsv (query then document vectors) and metadata.tsv."""
    model, run = load_run_model(store, run_id)
    h = hierarchy or load_source(run["source"])
    model.check_hierarchy(h.hash, where=f"run {run_id}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vec = np.vstack([model.query_vectors(), model.doc_vectors()])
    vpath, mpath = out / f"run{run_id}_vectors.tsv", out / f"run{run_id}_metadata.tsv"
    np.savetxt(vpath, vec, delimiter="\t", fmt="%.6g")
    clean = lambda s: str(s).replace("\t", " ").replace("\n", " ")  # noqa: E731
    with open(mpath, "w", encoding="utf-8") as f:
        f.write("name\tlabel\tside\tdepth\n")
        for side in ("query", "doc"):
            for i in range(h.n):
                f.write(f"{clean(h.names[i])}\t{clean(h.label(i))}\t{side}\t{int(h.depth[i])}\n")
    return [vpath, mpath]
