"""The paper's story on any hierarchy: four runs with the defaults, and what happened, in numbers.

Home tells the story on the paper's tree and on WordNet mammals (:mod:`hrviz.story`). This module
tells it on the hierarchy a user brings (``python -m hrviz story SOURCE``, the "Tell the story
on this hierarchy" button of Home and the Train page). The four chapters train with the
defaults of :mod:`hrviz.rule` (dimension, batch, step budget, plateau rule), no value chosen by
the hierarchy's name:

1. ``lost``: the paper regime (in-batch negatives, nothing masked), standard training;
2. ``repaired``: the same, pretrain-finetune (the anchored, masked finetune with its guard);
3. ``corrected``: the lost run's regime with the logQ correction (alpha 1);
4. ``cause-removed``: the exact regime (full softmax, the other ancestors masked), standard.

:func:`sentences` states per chapter what happened on this hierarchy, in numbers; the chart is
:func:`hrviz.charts.recall_by_distance_chart` over :func:`final_frame`, with the paper's
full-WordNet ticks where they apply (a cap of 8, the paper's).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .experiment import run_training
from .hierarchy import Hierarchy
from .kinds.tables import TABLES
from .sources import load_source

if TYPE_CHECKING:  # imports torch: imported where a run is configured, so Home loads without it
    from .training import TrainConfig

NAME = "your-story"  # the runs' name in the store
JOB_KIND = "your-story"  # its jobs' kind in a job registry (hrviz.jobs); the key: source and cap
DEFAULT_MAX_DISTANCE = 8  # the paper's WordNet cap


@dataclass(frozen=True)
class Chapter:
    key: str
    short: str
    regime: str
    recipe: str
    logq: float = 0.0
    what: str = ""


CHAPTERS = (
    Chapter("lost", "lost", "paper", "standard",
            what="the paper regime (in-batch negatives, nothing masked), standard training"),
    Chapter("repaired", "repaired", "paper", "pretrain-finetune",
            what="the same, pretrain-finetune"),
    Chapter("corrected", "logQ", "paper", "standard", logq=1.0,
            what="the lost run's regime with the logQ correction"),
    Chapter("cause-removed", "cause removed", "exact", "standard",
            what="the exact regime: full softmax, the other ancestors masked"),
)
BY_KEY = {ch.key: ch for ch in CHAPTERS}


def config(ch: Chapter, max_distance: int | None, seed: int = 0) -> TrainConfig:
    """A chapter's run: the regime, recipe and logQ of the chapter, everything else the rule's."""
    from .training import TrainConfig  # torch: only where a run is configured
    return TrainConfig(regime=ch.regime, recipe=ch.recipe, max_distance=max_distance, seed=seed,
                       logq=ch.logq)


def chapter_of(params: dict) -> Chapter | None:
    for ch in CHAPTERS:
        if (params.get("regime") == ch.regime and params.get("recipe") == ch.recipe
                and float(params.get("logq") or 0.0) == ch.logq):
            return ch
    return None


def runs(store, source: str, max_distance: int | None) -> dict[str, dict]:
    """chapter key -> the newest finished run of the chapter on ``source`` at the cap (the
    story's runs first, then any run in the chapter's setting with the rule's defaults)."""
    rows = store.runs(source=source, status="finished")
    out: dict[str, dict] = {}
    if rows.empty:
        return out
    rows = rows.assign(_own=(rows["name"] == NAME)).sort_values(["_own", "run_id"], ascending=[False, False])
    for row in rows.drop(columns="_own").to_dict("records"):
        p = row["params"]
        if p.get("max_distance") != max_distance or p.kind != TABLES.name:
            continue
        ch = chapter_of(p)
        if ch is not None and ch.key not in out:
            out[ch.key] = store.run(int(row["run_id"]))  # with its summary (stages, verdict)
    return out


def tell(source: str, store, *, max_distance: int | None = DEFAULT_MAX_DISTANCE, seed: int = 0,
         hierarchy: Hierarchy | None = None, progress=None, stop: threading.Event | None = None,
         force: bool = False) -> dict[str, int]:
    """Train the chapters missing on ``source`` (all with ``force``), one after the other (each
    uses both cores); chapter key -> run id. ``progress(key, event)`` sees every training event."""
    h = hierarchy or load_source(source)
    have = {} if force else {k: int(r["run_id"]) for k, r in runs(store, source, max_distance).items()}
    for ch in CHAPTERS:
        if ch.key in have:
            continue
        if stop is not None and stop.is_set():
            break
        cb = None if progress is None else (lambda e, key=ch.key: progress(key, e))
        have[ch.key] = run_training(source, config(ch, max_distance, seed), store, hierarchy=h, name=NAME,
                                    progress=cb, stop=stop)
    return have


def job_key(source: str, max_distance: int | None) -> tuple:
    return (source, max_distance)


def start(jobs, store, source: str, *, max_distance: int | None = DEFAULT_MAX_DISTANCE, seed: int = 0,
          hierarchy: Hierarchy | None = None, force: bool = False):
    """Tell the story on ``source`` in the background, as one job of ``jobs`` (a
    :class:`hrviz.jobs.Jobs`, kind :data:`JOB_KIND`, one per source and cap: asking twice gives
    the same job while it trains); its progress (0..1, and which chapter trains) on the job, its
    result :func:`tell`'s. Stopping the job stops the chapter that trains (marked stopped)."""
    def work(job):
        done: list[str] = []

        def progress(key: str, e: dict) -> None:
            if e["kind"] == "loss":
                i = [ch.key for ch in CHAPTERS].index(key)
                job.progress = min(1.0, (i + float(e.get("progress", 0.0))) / len(CHAPTERS))
                job.message = f"training: {BY_KEY[key].short} ({e['stage']}, step {e['step']:,})"
            elif e["kind"] == "stage" and key not in done:
                done.append(key)
        return tell(source, store, max_distance=max_distance, seed=seed, hierarchy=hierarchy,
                    progress=progress, stop=job.stop, force=force)

    return jobs.start_once(JOB_KIND, job_key(source, max_distance), work, again=True,
                           info={"source": source, "max_distance": max_distance, "seed": seed})


def final_frame(store, found: dict[str, dict]) -> pd.DataFrame:
    """Final recall by distance of the chapters' runs, with a ``chapter`` column."""
    from .story import final_frame as chapters_frame

    return chapters_frame(store, found, {k: ch.short for k, ch in BY_KEY.items()})


def _pct(x) -> str:
    return f"{100 * float(x):.1f}%"


def _rbd(run: dict) -> dict[int, float]:
    return {int(t): float(r) for t, r in (run["summary"] or {}).get("recall_by_distance", {}).items()}


def _worst(rbd: dict[int, float]) -> tuple[int, float]:
    t = min(rbd, key=rbd.get)
    return t, rbd[t]


def sentences(found: dict[str, dict]) -> dict[str, str]:
    """chapter key -> one sentence that states what happened on this hierarchy, in numbers."""
    out: dict[str, str] = {}
    lost = found.get("lost")
    if lost:
        r = _rbd(lost)
        t, w = _worst(r)
        under = [d for d, v in r.items() if d > 0 and v < 0.5]
        if under:
            out["lost"] = (f"Standard training in the paper regime is lost in the long distance here: "
                           f"distance 0 at {_pct(r.get(0, 0))}, {len(under)} distance"
                           f"{'s' if len(under) > 1 else ''} under 50% (from distance {min(under)}), the worst "
                           f"{_pct(w)} at distance {t}; overall {_pct(lost['overall'])}.")
        else:
            out["lost"] = (f"Standard training in the paper regime is *not* lost here: every distance stays at "
                           f"50% or more (the worst {_pct(w)} at distance {t}; overall {_pct(lost['overall'])}).")
    rep = found.get("repaired")
    if rep:
        r = _rbd(rep)
        t, w = _worst(r)
        stages = (rep["summary"] or {}).get("stages") or {}
        kept = (stages.get("finetune") or {}).get("kept_pretrained")
        base = _worst(_rbd(lost))[1] if lost else None
        lift = f", {100 * (w - base):+.1f} points on the worst distance against the lost run" if base is not None else ""
        if kept:
            out["repaired"] = (f"Pretrain-finetune did not help here: no finetune checkpoint beat the pretrained "
                               f"model without costing a distance, so it was kept (worst {_pct(w)} at distance {t}).")
        else:
            out["repaired"] = (f"Pretrain-finetune brings the far ancestors back: the worst distance is "
                               f"{_pct(w)} (distance {t}){lift}, distance 0 at {_pct(r.get(0, 0))}, overall "
                               f"{_pct(rep['overall'])}.")
    cor = found.get("corrected")
    if cor:
        r = _rbd(cor)
        t, w = _worst(r)
        out["corrected"] = (f"The logQ correction, in one stage: the worst distance is {_pct(w)} (distance {t}), "
                            f"distance 0 at {_pct(r.get(0, 0))}, overall {_pct(cor['overall'])}"
                            + (" (distance 0 pays for the far end)." if r.get(0, 1) < 0.9 else "."))
    ex = found.get("cause-removed")
    if ex:
        r = _rbd(ex)
        t, w = _worst(r)
        out["cause-removed"] = (f"With the other ancestors masked out of the softmax (the exact regime), standard "
                                f"training {'retrieves every ancestor' if w >= 0.9 else 'does better'}: the worst "
                                f"distance is {_pct(w)} (distance {t}), overall {_pct(ex['overall'])}.")
    return out


def summary_table(found: dict[str, dict]) -> list[dict]:
    """One row per chapter (its run, recall by distance, min, overall, seconds, verdict codes)."""
    rows = []
    for ch in CHAPTERS:
        run = found.get(ch.key)
        if not run:
            continue
        s = run["summary"] or {}
        rows.append({"chapter": ch.key, "run_id": int(run["run_id"]), "regime": ch.regime, "recipe": ch.recipe,
                     "logq": ch.logq, "dim": int(run["dim"]),
                     "recall_by_distance": {str(k): v for k, v in _rbd(run).items()},
                     "min": s.get("min"), "overall": s.get("overall"), "seconds": run.get("seconds"),
                     "verdict": [f["code"] for f in s.get("verdict", [])]})
    return rows
