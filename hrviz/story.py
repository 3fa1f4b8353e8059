"""The story Home tells, as three runs on one hierarchy: the failure, the repair, the cause removed.

On the WordNet mammal subtree (1,182 synsets, ancestors up to distance 8), d=64:

1. ``lost``: the paper regime (in-batch negatives, no masking, dense Adam), standard training:
   recall falls with distance, distance 8 ends near 6% (min over distances <= 0.30). Not
   under-training: 4x and 13x longer runs end no better at distance 8 (bench/results/recipes.md).
2. ``repaired``: the same regime, pretrain-finetune: finetune on every non-exact pair
   (distance >= 1) at lr x 1/10, T = 500, best checkpoint kept: min >= 0.80, distance 0 >= 0.90.
3. ``cause removed``: the exact regime (full softmax, hierarchy-aware masking), standard
   training: ~100% at every distance. Popular far ancestors, counted as negatives of every
   query they are not the target of, were the cause.

The recipe study (``bench/recipes.py``; its headline sweep ``bench/specs/recipes-headline.toml``)
measured these cells over 3 seeds; ``tests/test_story.py`` trains them and keeps this true. The
three runs are 300 + 600 steps at batch 256 (the repair) and 300 steps each (the other two).

A first start of the app trains the missing runs in the background (:func:`start_story`: one
job per job registry, i.e. per process and store) and Home follows them through the store
(:func:`progress`: each chapter's run, its status and the ``progress`` its loss events logged).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .experiment import run_training
from .kinds.poincare import POINCARE
from .kinds.tables import TABLES
from .models.poincare_fit import PoincareConfig
from .sources import load_source
from .training import TrainConfig

SOURCE = "wordnet:mammal.n.01"
MAX_DISTANCE = 8
DIM = 64
NAME = "story"  # the runs' name in the store
JOB_KEY = NAME  # the story's job in a job registry (hrviz.jobs): kind "story", this key


@dataclass(frozen=True)
class Chapter:
    key: str        # lost, repaired, cause-removed
    short: str      # lost, repaired, cause removed: legends and labels
    title: str
    regime: str
    recipe: str
    caption: str


CHAPTERS = (
    Chapter("lost", "lost", "Standard training: lost in the long distance", "paper", "standard",
            "In-batch negatives, nothing masked: a far ancestor such as *mammal* sits in almost every "
            "batch as somebody else's positive, so every query learns to push it away. Recall falls "
            "with distance."),
    Chapter("repaired", "repaired", "Pretrain-finetune: the far ancestors come back", "paper", "pretrain-finetune",
            "The same run, then a finetune on long-distance pairs only (distance >= 1, lr x 1/10, "
            "temperature 500), keeping the best checkpoint: the far distances recover, distance 0 "
            "pays a little."),
    Chapter("cause-removed", "cause removed", "Exact training: the cause removed", "exact", "standard",
            "A full softmax with the other ancestors masked out of the denominator: no false "
            "negatives, and standard training retrieves every ancestor."),
)
CHAPTERS_BY_KEY = {ch.key: ch for ch in CHAPTERS}


def config(chapter: Chapter, seed: int = 0) -> TrainConfig:
    """The run of one chapter (the study's headline cell)."""
    return TrainConfig(dim=DIM, recipe=chapter.recipe, regime=chapter.regime, seed=seed,
                       max_distance=MAX_DISTANCE, steps=300, finetune_steps=600, batch_size=256)


def chapter_of(params: dict) -> Chapter | None:
    """The chapter a stored run's params belong to (by regime and recipe), or None."""
    for ch in CHAPTERS:
        if params.get("regime") == ch.regime and params.get("recipe") == ch.recipe:
            return ch
    return None


def story_runs(store, prefer: list[int] | None = None) -> dict[str, dict]:
    """chapter key -> run (dict): the newest finished run of each chapter on :data:`SOURCE` at
    d = :data:`DIM`, runs named :data:`NAME` first; runs in ``prefer`` before all others."""
    runs = store.runs(source=SOURCE, status="finished")
    if runs.empty:
        return {}
    runs = runs[runs["dim"] == DIM]
    rank = (~runs["run_id"].isin([int(r) for r in prefer or []])).astype(int) * 2 + (runs["name"] != NAME)
    runs = runs.assign(_rank=rank.values).sort_values(["_rank", "run_id"], ascending=[True, False])
    out: dict[str, dict] = {}
    for row in runs.drop(columns="_rank").to_dict("records"):
        params = row["params"]
        if params.get("max_distance") != MAX_DISTANCE or params.kind != TABLES.name:
            continue
        ch = chapter_of(params)
        if ch is not None and ch.key not in out:
            out[ch.key] = row
    return out


def ensure_story(store, *, seed: int = 0, force: bool = False, hierarchy=None) -> dict[str, int]:
    """The three chapters' runs in ``store`` (chapter key -> run id), trained now where missing
    (all three with ``force``, e.g. a new seed).

    The runs train in two threads (the repair, the longest, beside the other two): a first
    start, imports included, took 19 s on 2 cores (``bench/app_response.py``). Each fit uses one torch thread (:func:`hrviz.training.fit`'s guard), so the two
    do not oversubscribe the cores. An error in any run is re-raised after both threads end;
    the run itself is already marked failed in the store.
    """
    have = {} if force else {k: int(r["run_id"]) for k, r in story_runs(store).items()}
    todo = [ch for ch in CHAPTERS if ch.key not in have]
    if not todo:
        return have
    h = hierarchy or load_source(SOURCE)
    made: dict[str, int] = {}
    errors: list[BaseException] = []

    def train(chapters):
        for ch in chapters:
            try:
                made[ch.key] = run_training(SOURCE, config(ch, seed), store, hierarchy=h, name=NAME)
            except BaseException as err:  # noqa: BLE001 - re-raised below, in the caller's thread
                errors.append(err)

    longest = max(todo, key=lambda ch: ch.recipe == "pretrain-finetune")
    groups = [[longest], [ch for ch in todo if ch is not longest]]
    threads = [threading.Thread(target=train, args=(g,), name=f"hrviz-story-{i}") for i, g in enumerate(groups) if g]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return {**have, **made}


def missing(store) -> list[Chapter]:
    """The chapters without a finished run in ``store`` (:func:`story_runs`), in story order."""
    have = story_runs(store)
    return [ch for ch in CHAPTERS if ch.key not in have]


def start_story(jobs, store, *, seed: int = 0, force: bool = False, hierarchy=None):
    """Train the story's missing runs (all three with ``force``, e.g. a new seed) in the
    background, as one job of ``jobs`` (a :class:`hrviz.jobs.Jobs`); the job, or None when
    nothing is missing and no story job was started before.

    Once only: while a story job of ``jobs`` exists (live, or ended: done or failed) it is
    returned and nothing new starts, however many sessions ask at once (:meth:`Jobs.start_once`
    checks and starts under the registry's lock); ``force`` replaces an ended job, never a live
    one. The job's ``info``: ``chapters`` (keys it trains), ``after`` (the store's last run id
    before it, so :func:`progress` finds its runs), ``seed``, ``force``; its ``result`` is
    :func:`ensure_story`'s (chapter key -> run id). A failed run is marked failed in the store
    and the job ends ``failed`` with the first error (after the other runs end).
    """
    job = jobs.get("story", JOB_KEY)
    if job is not None and (job.alive or not force):
        return job
    todo = list(CHAPTERS) if force else missing(store)
    if not todo:
        return job
    runs = store.runs()
    info = {"chapters": [ch.key for ch in todo], "after": int(runs["run_id"].max()) if len(runs) else 0,
            "seed": int(seed), "force": bool(force)}
    return jobs.start_once("story", JOB_KEY,
                           lambda job: ensure_story(store, seed=seed, force=force, hierarchy=hierarchy),
                           again=force, info=info)


def steps(chapter: Chapter) -> int:
    """All training steps of a chapter's run (both stages of the repair)."""
    cfg = config(chapter)
    return cfg.steps + (cfg.finetune_steps if cfg.recipe == "pretrain-finetune" else 0)


@dataclass
class ChapterProgress:
    """Where one chapter's run of a story job stands, read from the store."""

    chapter: Chapter
    status: str = "waiting"  # waiting (no run yet), or the run's status: running, finished, failed, ...
    fraction: float = 0.0    # the run's last logged ``progress`` (1.0 once finished)
    run_id: int | None = None
    error: str | None = None


def progress(store, chapters: list[str], after: int = 0) -> list[ChapterProgress]:
    """The runs of a story job (:func:`start_story`'s ``info``): for each chapter key in
    ``chapters``, its newest run named :data:`NAME` on :data:`SOURCE` at d = :data:`DIM` with a
    run id above ``after``, its status and its last ``progress`` metric (the fraction of its
    steps done, logged with its losses); ``waiting`` while the chapter has no run yet."""
    out = {key: ChapterProgress(CHAPTERS_BY_KEY[key]) for key in chapters}
    runs = store.runs(source=SOURCE)
    runs = runs[(runs["run_id"] > int(after)) & (runs["name"] == NAME) & (runs["dim"] == DIM)]
    for row in runs.sort_values("run_id").to_dict("records"):  # newest last: it wins
        ch = chapter_of(row["params"])
        if ch is not None and ch.key in out:
            err = row.get("error")
            out[ch.key] = ChapterProgress(ch, row["status"], 1.0 if row["status"] == "finished" else 0.0,
                                          int(row["run_id"]), err if isinstance(err, str) and err else None)
    live = [p.run_id for p in out.values() if p.status == "running"]
    if live:
        m = store.metrics(live)
        last = m[m["name"] == "progress"].groupby("run_id")["value"].last()
        for p in out.values():
            if p.run_id in last.index and p.status == "running":
                p.fraction = min(1.0, max(0.0, float(last[p.run_id])))
    return [out[key] for key in chapters]


def overall(states: list[ChapterProgress]) -> float:
    """The fraction of a story job's training steps done (chapters weighted by :func:`steps`)."""
    total = sum(steps(p.chapter) for p in states)
    return sum(p.fraction * steps(p.chapter) for p in states) / total if total else 1.0


def progress_line(states: list[ChapterProgress]) -> str:
    """A story job's progress in one line: ``Story runs, 40%: training: lost 80%, repaired 25% ·
    waiting: cause removed`` (then ``done: ...``; other states as they are)."""
    groups: dict[str, list[str]] = {}
    for p in states:
        label = {"running": "training", "finished": "done"}.get(p.status, p.status)
        groups.setdefault(label, []).append(
            f"{p.chapter.short} {p.fraction:.0%}" if p.status == "running" else p.chapter.short)
    order = ["training", "waiting", "done"]
    parts = [f"{label}: {', '.join(groups[label])}"
             for label in sorted(groups, key=lambda g: order.index(g) if g in order else len(order))]
    return f"Story runs, {overall(states):.0%}: " + " · ".join(parts)


# ----- beside the story: a Poincaré ball on the same hierarchy (why not hyperbolic?)


def poincare_config(seed: int = 0) -> PoincareConfig:
    """The Poincaré model Home compares with the story: same hierarchy, d and distance cap;
    Nickel & Kiela's training (50 epochs after a burn-in of 10), about 6 s on one core."""
    return PoincareConfig(dim=DIM, max_distance=MAX_DISTANCE, seed=seed, threads=1)


def poincare_run(store) -> dict | None:
    """The newest finished Poincaré run on :data:`SOURCE` at d = :data:`DIM` with the story's
    distance cap (any name), as a dict with parsed params; None when there is none."""
    runs = store.runs(source=SOURCE, status="finished")
    for row in runs[runs["dim"] == DIM].sort_values("run_id", ascending=False).to_dict("records"):
        if row["params"].kind == POINCARE.name and row["params"].get("max_distance") == MAX_DISTANCE:
            return row
    return None


def train_poincare(store, seed: int = 0, *, hierarchy=None) -> int:
    """Train and store :func:`poincare_config`'s model (named :data:`NAME`); its run id."""
    return run_training(SOURCE, poincare_config(seed), store, hierarchy=hierarchy, name=NAME)
