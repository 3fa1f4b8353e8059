"""The story Home tells, as runs in the store: the paper's own synthetic experiment, then four
runs on one hierarchy: the failure, the repair, the cause removed, the cause corrected.

The paper's synthetic tree (:data:`TREE_CHAPTERS`): ``tree:H=4,W=5`` (156 nodes) at dimension 3 in
the paper regime, with what defines the paper's synthetic experiment (PAPER_SYNTHETIC in
hrviz/training/config.py: leaves as queries, distances 0-2, per-document pairs, full softmax,
free norms) and every training value from the rule (hrviz/rule.py), like any hierarchy's:
standard ~62% overall with distance 0 at 99%, rebalanced p=0.03 distance 0 ~0%,
pretrain-finetune ~99.7% (bench/results/synthetic_paper.md). A few seconds each.

On the WordNet mammal subtree (``wordnet:mammal.n.01``: 1,182 synsets, ancestors up to distance 8,
not full WordNet's 82,115), dimension 64:

1. ``lost``: the paper regime (in-batch negatives, no masking, dense Adam), standard training:
   recall falls with distance (min over distances <= 0.30, distance 0 >= 0.90). Not
   under-training: 4x and 13x longer runs end no better at distance 8 (bench/results/recipes.md).
2. ``repaired``: the same regime, pretrain-finetune with the one finetune hrviz has everywhere
   (:data:`hrviz.training.config.FINETUNE`): every non-exact pair (distance >= 1), half of each
   batch distance-0 pairs (an anchor), the other ancestors masked, at the pretraining's learning
   rate and temperature, ended by the plateau rule; a guard keeps the pretrained model unless a
   checkpoint is better without costing any distance more than 2 points: min >= 0.80,
   distance 0 >= 0.90.
3. ``cause removed``: the exact regime (full softmax, hierarchy-aware masking), standard
   training: ~100% at every distance. Popular far ancestors, counted as negatives of every
   query they are not the target of, were the cause.
4. ``corrected``: the lost run's regime and recipe with the logQ correction (``logq=1``): each
   in-batch logit minus log of the document's share of positives (bench/results/logq.md),
   beside the repair.

The WordNet chapters (:data:`CHAPTERS`): the recipe study (``bench/recipes.py``; its headline
sweep ``bench/specs/recipes-headline.toml``) measured the first three cells over 3 seeds,
bench/logq.py the fourth; ``tests/test_story.py`` and ``tests/test_story_chapters.py`` train
them and keep this true. Every size (batch, step budget, plateau) is the rule's, as on any
hierarchy; only the dimension is fixed (the paper's 64).

A first start of the app trains the missing runs in the background (:func:`start_story`: one
job per job registry, i.e. per process and store) and Home follows them through the store
(:func:`progress`: each chapter's run, its status and the ``progress`` its loss events logged).

Home's words: :data:`HIERARCHIES` names each hierarchy with its size, :data:`GLOSSARY` explains
every term the page uses, :func:`rebalanced_gap` says why the rebalanced tree run reads ~67%
where the paper reads 40.7%.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .charts.recall import final_recall_frame
from .experiment import run_training
from .kinds.poincare import POINCARE
from .kinds.tables import TABLES
from .paper import SYNTHETIC, SYNTHETIC_MAX_DISTANCE, WORDNET_NOUNS
from .rule import BUDGET_EPOCHS, EVALS_PER_BUDGET, MAX_BUDGET, MIN_BUDGET, PATIENCE, PLATEAU_DELTA
from .sources import load_source

if TYPE_CHECKING:  # the configs' modules import torch: imported where a run is configured, so Home
    #               and what only reads the story's runs load without it
    from .models.poincare_fit import PoincareConfig
    from .training import TrainConfig

SOURCE = "wordnet:mammal.n.01"
MAX_DISTANCE = 8
DIM = 64
NAME = "story"  # the runs' name in the store
JOB_KEY = NAME  # the story's job in a job registry (hrviz.jobs): kind "story", this key


#: the paper's synthetic tree (its Table: standard, rebalanced p=0.03, pretrain-finetune at d=3)
TREE_SOURCE = "tree:H=4,W=5"
TREE_DIM = 3
TREE_MAX_DISTANCE = SYNTHETIC_MAX_DISTANCE  # the paper's table: distances 0-2 (PAPER_SYNTHETIC's too)

#: how Home names each of its hierarchies, with its size (nodes; tests/test_story_chapters.py
#: checks the sizes against the loaded hierarchies): a heading never says "WordNet" alone
HIERARCHIES = {
    SOURCE: ("WordNet mammals", 1_182),
    TREE_SOURCE: ("the paper's tree", 156),
    "wordnet": ("full WordNet", WORDNET_NOUNS),
}


def where(source: str) -> str:
    """A hierarchy in words with its size: ``WordNet mammals (1,182 nodes)``."""
    title, nodes = HIERARCHIES[source]
    return f"{title} ({nodes:,} nodes)"


#: every term Home uses, explained in a line (Home's "Words on this page")
GLOSSARY = {
    "distance": "The number of hops from a query up to one of its ancestors: 0 is the query itself, 1 "
                "its parent, 2 its grandparent. The x axis of every chart here. Where a DAG offers "
                "several paths, the shortest counts.",
    "|S(q)|": "The number of documents relevant to a query q: q itself and its ancestors within the "
              "distance cap.",
    "recall@auto": "For each query, the share of its relevant documents found among its top |S(q)| "
                   "results (k = |S(q)|: as many as are relevant), counted per distance. A perfect "
                   "embedding scores 100% everywhere. *Overall* pools every pair; *worst distance* "
                   "is the recall of the weakest distance.",
    "dimension": "The length of each embedding vector. Written *dim 64* or *dimension 64* on this page, "
                 "never with the letter d, so that it cannot be read as a distance.",
    "dual encoder": "Two tables of vectors, one for nodes as queries and one for nodes as documents; a "
                    "query retrieves the documents with the highest dot products.",
    "in-batch negatives": "The softmax compares a pair's document only with the other documents of "
                          "the same training batch, not with every node: cheap, but a popular far "
                          "ancestor is a negative in almost every batch.",
    "false negatives": "Documents counted as negatives although they are relevant to the query (another "
                       "of its ancestors in the same batch): the loss pushes the query away from what "
                       "it must retrieve.",
    "masking": "Taking the false negatives out of the softmax's denominator, so that a query is never "
               "pushed away from its own ancestors.",
    "full softmax": "Every document in the softmax's denominator, not only the batch's.",
    "paper regime": "In-batch negatives, nothing masked, dense Adam: the regime in which standard "
                    "training loses the far ancestors, as in the paper.",
    "exact regime": "hrviz's default: the full softmax (sampled above 20,000 documents) with the false "
                    "negatives masked.",
    "pretrain-finetune": "Two stages: pretrain on all pairs, then finetune on the long-distance "
                         "pairs. hrviz's finetune, the default everywhere: every pair at distance "
                         ">= 1, half of each batch distance-0 pairs (an anchor), the other ancestors "
                         "masked, at the pretraining's learning rate and temperature; a guard keeps "
                         "the pretrained model unless a checkpoint is better without costing any "
                         "distance more than 2 points.",
    "plateau": f"How a training stage ends: it is validated every {EVALS_PER_BUDGET}th of its step "
               f"budget (about {BUDGET_EPOCHS} passes over the pairs, {MIN_BUDGET:,} to "
               f"{MAX_BUDGET:,} steps) and stops after {PATIENCE} validations in a row without a "
               f"gain of {100 * PLATEAU_DELTA:g} points. The budget is a ceiling, not the length.",
    "logQ": "The logQ correction of sampled softmax (Yi et al. 2019): each in-batch logit of a document "
            "minus alpha x log of its share of the positives, so a popular document is not "
            "over-penalised as a negative (alpha 1 here).",
    "rebalanced": "One stage in which distance 0 gets a share p of the samples (the paper's 3%) and "
                  "every other distance an equal share.",
    "per-document pairs": "Training pairs drawn a document first, then one of the queries it is "
                          "relevant to: a far ancestor gets as many pairs as a leaf.",
    "free norms": "Vectors not scaled to unit length, scored by dot product / temperature (the paper's "
                  "tree in dimension 3: the unit sphere cannot hold it).",
    "temperature": "How sharply the softmax separates scores (logits = cosine x temperature).",
    "MAP, mean rank": "Mean average precision and the mean rank of the relevant documents (Nickel & "
                      "Kiela 2017), for comparison with hyperbolic embeddings.",
}


@dataclass(frozen=True)
class Chapter:
    key: str        # lost, repaired, cause-removed; tree-standard, tree-rebalanced, tree-repaired
    short: str      # lost, repaired, cause removed: legends and labels
    title: str
    regime: str
    recipe: str
    caption: str
    source: str = SOURCE
    dim: int = DIM
    max_distance: int | None = MAX_DISTANCE
    paper_synthetic: bool = False  # its run takes what defines the paper's synthetic experiment
    logq: float = 0.0  # the logQ correction's strength (0: off)
    beside: str = ""  # the key of a chapter whose run Home draws beside this one's
    seconds: float = 5.0  # about how long its run takes on one core (measured, busy 2 cores):
    #                       balances the job's threads and weighs its share of the progress bar

    @property
    def settings(self) -> tuple:
        """(field, value) pairs of its TrainConfig beyond the regime's: on the paper's tree the
        named experiment ``paper-synthetic`` (what defines it: ``PAPER_SYNTHETIC`` in
        hrviz/training/config.py); none on WordNet (the rule's steps, batch and plateau,
        hrviz/rule.py, as on any hierarchy)."""
        return (("experiment", "paper-synthetic"),) if self.paper_synthetic else ()

    @property
    def label(self) -> str:
        """Its name in a story job's progress line: the short name, "(tree)" after a tree's."""
        return self.short if self.source == SOURCE else f"{self.short} (tree)"

    def matches(self, source: str, dim, params) -> bool:
        """Whether a stored run (its source, d and parsed params) is this chapter's setting."""
        kind = getattr(params, "kind", TABLES.name)
        return (source == self.source and int(dim) == self.dim and kind == TABLES.name
                and params.get("regime") == self.regime and params.get("recipe") == self.recipe
                and params.get("max_distance") == self.max_distance
                and float(params.get("logq") or 0.0) == float(self.logq))


#: the story on WordNet mammals, in the order Home tells it
CHAPTERS = (
    Chapter("lost", "lost", "Standard training: lost in the long distance", "paper", "standard",
            "In-batch negatives, nothing masked: a far ancestor such as *mammal* sits in almost every "
            "batch as somebody else's positive, so every query learns to push it away. Recall falls "
            "with distance.", seconds=4.0),
    Chapter("repaired", "repaired", "Pretrain-finetune: the far ancestors come back", "paper", "pretrain-finetune",
            "The same run, then hrviz's finetune, the same on every hierarchy: every pair at distance "
            ">= 1, with half of each batch distance-0 pairs (an anchor) and the other ancestors "
            "masked, at the pretraining's learning rate and temperature, until its plateau. A guard "
            "keeps the pretrained model unless a checkpoint is better without costing any distance "
            "more than 2 points.", seconds=20.0),
    Chapter("cause-removed", "cause removed", "Exact training: the cause removed", "exact", "standard",
            "A full softmax with the other ancestors masked out of the denominator: no false "
            "negatives, and standard training retrieves every ancestor.", seconds=10.0),
    Chapter("corrected", "logQ", "The cause, corrected: logQ", "paper", "standard",
            "The lost run's in-batch negatives, nothing masked, one stage, with the **logQ "
            "correction** (Yi et al. 2019, alpha = 1): every in-batch logit of a document minus "
            "alpha x log of its share of the positives. *mammal* is somebody's positive in almost "
            "every batch, so its logit drops the most: as a negative it is no longer "
            "over-penalised, and the far ancestors stay without a second stage (distance 0 pays a "
            "little at 300 steps).", logq=1.0, beside="repaired", seconds=5.0),
)
#: the paper's own synthetic experiment (tree:H=4,W=5, d=3, the paper regime with the values that
#: define the experiment, PAPER_SYNTHETIC: leaves as queries, distances 0-2; the rest the rule's)
TREE_CHAPTERS = tuple(
    Chapter(f"tree-{key}", short, title, "paper", recipe, caption, source=TREE_SOURCE, dim=TREE_DIM,
            max_distance=TREE_MAX_DISTANCE, paper_synthetic=True, seconds=seconds)
    for key, short, title, recipe, caption, seconds in (
        ("standard", "standard", "standard", "standard",
         "Pairs drawn per document, so each ancestor gets as many pairs as a leaf: distance 0 is "
         "learnt, the far ancestors are not.", 5.0),
        ("rebalanced", "rebalanced p=0.03", "rebalanced", "rebalanced",
         "Distance 0 gets only 3% of the samples: the far ancestors are found, but a leaf no "
         "longer retrieves itself.", 3.0),
        ("repaired", "pretrain-finetune", "pretrain-finetune", "pretrain-finetune",
         "The standard run, then a finetune on the long-distance pairs (distance >= 1) that keeps "
         "distance 0 in half of each batch: every distance near 100%.", 9.0),
    ))
ALL_CHAPTERS = CHAPTERS + TREE_CHAPTERS  # what a story job trains, in this order
CHAPTERS_BY_KEY = {ch.key: ch for ch in ALL_CHAPTERS}


def config(chapter: Chapter, seed: int = 0) -> TrainConfig:
    """The run of one chapter (the study's headline cell; on the tree, the paper's synthetic
    experiment)."""
    from .training import TrainConfig  # torch: only where a run is configured
    return TrainConfig(dim=chapter.dim, recipe=chapter.recipe, regime=chapter.regime, seed=seed,
                       max_distance=chapter.max_distance, **dict(chapter.settings),
                       **({"logq": chapter.logq} if chapter.logq else {}))


def chapter_of(params: dict, source: str | None = None, dim: int | None = None) -> Chapter | None:
    """The chapter a stored run's params belong to (by regime, recipe and logQ; by source, d and
    distance cap too where ``source`` is given), or None."""
    for ch in ALL_CHAPTERS:
        if source is not None:
            if ch.matches(source, dim if dim is not None else ch.dim, params):
                return ch
        elif (params.get("regime") == ch.regime and params.get("recipe") == ch.recipe
              and float(params.get("logq") or 0.0) == float(ch.logq)):
            return ch
    return None


def story_runs(store, prefer: list[int] | None = None, chapters=CHAPTERS) -> dict[str, dict]:
    """chapter key -> run (dict): the newest finished run of each of ``chapters`` (default: the
    WordNet story's; :data:`TREE_CHAPTERS`, :data:`ALL_CHAPTERS`) in its setting, runs named
    :data:`NAME` first; runs in ``prefer`` before all others."""
    runs = store.runs(status="finished")
    if runs.empty:
        return {}
    settings = {(ch.source, ch.dim) for ch in chapters}
    runs = runs[[(s, int(d)) in settings for s, d in zip(runs["source"], runs["dim"])]]
    if runs.empty:
        return {}
    rank = (~runs["run_id"].isin([int(r) for r in prefer or []])).astype(int) * 2 + (runs["name"] != NAME)
    runs = runs.assign(_rank=rank.values).sort_values(["_rank", "run_id"], ascending=[True, False])
    out: dict[str, dict] = {}
    for row in runs.drop(columns="_rank").to_dict("records"):
        for ch in chapters:
            if ch.key not in out and ch.matches(row["source"], row["dim"], row["params"]):
                out[ch.key] = row
                break
    return out


def final_frame(store, runs: dict[str, dict], shorts: dict[str, str] | None = None) -> pd.DataFrame:
    """The final recall by distance (all pairs) of :func:`story_runs`' runs, with a ``chapter``
    column (each chapter's short name: ``shorts[key]``, default this story's); empty without runs."""
    if not runs:
        return pd.DataFrame()
    shorts = shorts or {k: ch.short for k, ch in CHAPTERS_BY_KEY.items()}
    rec = store.recall([int(r["run_id"]) for r in runs.values()], split="all")
    out = final_recall_frame(rec[rec["stage"] == "final"])
    out["chapter"] = out["run_id"].map({int(r["run_id"]): shorts[k] for k, r in runs.items()})
    return out


def tree_reference(chapter: Chapter) -> dict | None:
    """The paper's numbers for a :data:`TREE_CHAPTERS` chapter (:data:`hrviz.paper.SYNTHETIC`)."""
    return SYNTHETIC.get(chapter.recipe) if chapter in TREE_CHAPTERS else None


def rebalanced_gap(recall_by_distance: dict[int, float], overall: float) -> str:
    """One sentence on why the rebalanced tree run reads about 67% where the paper reads 40.7%:
    every leaf has one pair at each distance 0, 1 and 2, so overall is their mean; distance 0 at
    ~0% and distances 1-2 at ~100% make two of three right, and the paper's 40.7% with its
    distance 0 at 2.8% means its distances 1-2 averaged about 60%, not 100%."""
    paper = SYNTHETIC["rebalanced"]
    p0, pall = paper["recall_by_distance"][0], paper["overall"]
    implied = (3 * pall - p0) / 2  # the paper's distances 1 and 2, on average
    here = ", ".join(f"{recall_by_distance[t]:.0%}" for t in (0, 1, 2) if t in recall_by_distance)
    return (f"Rebalanced reads {overall:.1%} here and {pall:.1%} in the paper: every leaf has one pair at "
            f"each distance 0, 1 and 2, so overall is their mean (here {here}); distance 0 at 0% with "
            f"distances 1 and 2 at 100% gives 66.7%, and the paper's {pall:.1%} with distance 0 at "
            f"{p0:.1%} means its distances 1 and 2 averaged only {implied:.0%}: its far pairs were not "
            f"all retrieved either.")


def threads_for(chapters) -> list[list[Chapter]]:
    """``chapters`` in two groups, one per thread: the WordNet story's first (the longest of
    them, the repair, alone; the others after each other, in story order), then the rest (the
    tree's) each onto the group with less work so far (:attr:`Chapter.seconds`, the longest
    first); empty groups left out."""
    story_first = [ch for ch in CHAPTERS if ch in chapters]
    groups: list[list[Chapter]] = [[], []]
    if story_first:
        longest = max(story_first, key=lambda ch: ch.seconds)
        groups = [[longest], [ch for ch in story_first if ch is not longest]]
    load = [sum(ch.seconds for ch in g) for g in groups]
    for ch in sorted((c for c in chapters if c not in story_first), key=lambda c: -c.seconds):
        i = load.index(min(load))
        groups[i].append(ch)
        load[i] += ch.seconds
    return [g for g in groups if g]


def ensure_story(store, *, seed: int = 0, force: bool = False, hierarchy=None) -> dict[str, int]:
    """Every chapter's run (:data:`ALL_CHAPTERS`: the paper's tree and the WordNet story) in
    ``store`` (chapter key -> run id), trained now where missing (all with ``force``, e.g. a new
    seed).

    The runs train in two threads of about equal work (:func:`threads_for`): a first start,
    imports included, took 28 s (load 3.6) to 52 s (load 4.6) on 2 shared cores
    (``bench/app_response.py``; the tree's small steps share the interpreter lock). Each fit uses one
    torch thread (:func:`hrviz.training.fit`'s guard), so the two do not oversubscribe the
    cores. ``hierarchy``: the loaded :data:`SOURCE` (others are loaded here). An error in any
    run is re-raised after both threads end; the run itself is already marked failed.
    """
    have = {} if force else {k: int(r["run_id"]) for k, r in story_runs(store, chapters=ALL_CHAPTERS).items()}
    todo = [ch for ch in ALL_CHAPTERS if ch.key not in have]
    if not todo:
        return have
    loaded = {SOURCE: hierarchy} if hierarchy is not None else {}
    for src in dict.fromkeys(ch.source for ch in todo):
        if src not in loaded:
            loaded[src] = load_source(src)
    made: dict[str, int] = {}
    errors: list[BaseException] = []

    def train(chapters):
        for ch in chapters:
            try:
                made[ch.key] = run_training(ch.source, config(ch, seed), store, hierarchy=loaded[ch.source],
                                            name=NAME)
            except BaseException as err:  # noqa: BLE001 - re-raised below, in the caller's thread
                errors.append(err)

    threads = [threading.Thread(target=train, args=(g,), name=f"hrviz-story-{i}")
               for i, g in enumerate(threads_for(todo))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return {**have, **made}


def missing(store) -> list[Chapter]:
    """The chapters (:data:`ALL_CHAPTERS`) without a finished run in ``store``, in story order."""
    have = story_runs(store, chapters=ALL_CHAPTERS)
    return [ch for ch in ALL_CHAPTERS if ch.key not in have]


def start_story(jobs, store, *, seed: int = 0, force: bool = False, hierarchy=None):
    """Train the story's missing runs (all of them with ``force``, e.g. a new seed) in the
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
    todo = list(ALL_CHAPTERS) if force else missing(store)
    if not todo:
        return job
    runs = store.runs()
    info = {"chapters": [ch.key for ch in todo], "after": int(runs["run_id"].max()) if len(runs) else 0,
            "seed": int(seed), "force": bool(force)}
    return jobs.start_once("story", JOB_KEY,
                           lambda job: ensure_story(store, seed=seed, force=force, hierarchy=hierarchy),
                           again=force, info=info)


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
    ``chapters``, its newest run named :data:`NAME` in its setting (source, d, ...) with a run id
    above ``after``, its status and its last ``progress`` metric (the fraction of its steps
    done, logged with its losses); ``waiting`` while the chapter has no run yet."""
    out = {key: ChapterProgress(CHAPTERS_BY_KEY[key]) for key in chapters}
    runs = store.runs()
    if not runs.empty:
        runs = runs[(runs["run_id"] > int(after)) & (runs["name"] == NAME)]
    for row in runs.sort_values("run_id").to_dict("records") if not runs.empty else []:  # newest last: it wins
        ch = next((CHAPTERS_BY_KEY[k] for k in chapters
                   if CHAPTERS_BY_KEY[k].matches(row["source"], row["dim"], row["params"])), None)
        if ch is not None:
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
    """The fraction of a story job's work done (chapters weighted by :attr:`Chapter.seconds`)."""
    total = sum(p.chapter.seconds for p in states)
    return sum(p.fraction * p.chapter.seconds for p in states) / total if total else 1.0


def progress_line(states: list[ChapterProgress]) -> str:
    """A story job's progress in one line: ``Story runs, 40%: training: lost 80%, repaired 25% ·
    waiting: cause removed`` (then ``done: ...``; other states as they are)."""
    groups: dict[str, list[str]] = {}
    for p in states:
        label = {"running": "training", "finished": "done"}.get(p.status, p.status)
        groups.setdefault(label, []).append(
            f"{p.chapter.label} {p.fraction:.0%}" if p.status == "running" else p.chapter.label)
    order = ["training", "waiting", "done"]
    parts = [f"{label}: {', '.join(groups[label])}"
             for label in sorted(groups, key=lambda g: order.index(g) if g in order else len(order))]
    return f"Story runs, {overall(states):.0%}: " + " · ".join(parts)


# ----- beside the story: a Poincaré ball on the same hierarchy (why not hyperbolic?)


def poincare_config(seed: int = 0) -> PoincareConfig:
    """The Poincaré model Home compares with the story: same hierarchy, d and distance cap;
    Nickel & Kiela's training (50 epochs after a burn-in of 10), about 6 s on one core."""
    from .models.poincare_fit import PoincareConfig  # torch: only where a run is configured
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
