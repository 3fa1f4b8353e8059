"""One rule for the training defaults, from what the hierarchy measures.

No value depends on a hierarchy's name or source: :func:`measure` reads the hierarchy (nodes,
depth, the distance cap in effect, the relevant pairs, the leaf share, the fan-out) and
:func:`defaults` turns those measures into the values a run leaves at ``None``:

- **dimension** :func:`recommended_dim`: the theorem's shape, d ~ s log m (s relevant documents
  per query, m documents), scaled to what training needs: the smallest power of two at least
  ``0.5 x mean |S(q)| x ln n``, between 16 and 128. Full WordNet at cap 8 gives 64 (the paper's
  d), the mammal subtree 32; a run below half of it is warned about before training
  (:func:`dim_warning`: the taxonomy that reached d0 62% at d=16 asks for 64).
- **batch size**: the power of two nearest to 30 epochs within the 4,000-step budget
  (30 x pairs / 4,000), between 256 and 2,048 (:func:`batch_size`).
- **steps**: a *budget*, about 200 epochs clamped to [3,000, 4,000]; the plateau rule
  (:class:`Plateau`) ends a stage earlier once its validation stops improving, so the budget
  is a ceiling, not the length of a run. The finetune's budget is the pretraining's.
- **threads**: one up to 20,000 nodes, else every core (:func:`threads`);
- **validation**: every ``budget / 40`` steps (at least 10); a stage stops after ``patience``
  (5) validations in a row without a gain of ``plateau_delta`` (0.002) in its criterion.

The measurements the rule was chosen from are in ``docs/defaults.md`` and
``bench/results/defaults.md`` (``bench/defaults.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .hierarchy import Hierarchy

MIN_DIM, MAX_DIM = 16, 128
MIN_BATCH, MAX_BATCH = 256, 2048
EPOCHS_IN_BUDGET = 30
BUDGET_EPOCHS = 200
MIN_BUDGET, MAX_BUDGET = 3000, 4000
EVALS_PER_BUDGET = 40
PATIENCE = 5
PLATEAU_DELTA = 0.002


@dataclass(frozen=True)
class Measures:
    """What the rule reads from a hierarchy at a distance cap."""

    nodes: int
    depth: int            # longest path to a root
    max_distance: int     # the largest distance with pairs under the cap
    pairs: int            # relevant pairs within the cap (the queries' S(q), all queries)
    queries: int
    mean_relevant: float  # mean |S(q)|
    max_relevant: int
    leaf_share: float
    mean_fanout: float    # children per inner node
    max_fanout: int

    def as_dict(self) -> dict:
        return asdict(self)


def measure(h: Hierarchy, max_distance: int | None = None, queries: np.ndarray | None = None) -> Measures:
    """The hierarchy's measures at cap ``max_distance`` (None: every ancestor), over
    ``queries`` (default: every node)."""
    closure = h.closure(max_distance)
    sizes = closure.sizes()
    if queries is not None:
        sizes = sizes[queries]
    children = h.n_children
    inner = children[children > 0]
    counts = closure.count_by_distance()
    return Measures(
        nodes=h.n, depth=int(h.max_depth), max_distance=max((t for t, c in counts.items() if c), default=0),
        pairs=int(sizes.sum()), queries=int(len(sizes)),
        mean_relevant=float(sizes.mean()) if len(sizes) else 0.0,
        max_relevant=int(sizes.max()) if len(sizes) else 0,
        leaf_share=float((children == 0).mean()),
        mean_fanout=float(inner.mean()) if len(inner) else 0.0,
        max_fanout=int(children.max()) if h.n else 0)


def recommended_dim(m: Measures) -> int:
    """The smallest power of two >= 0.5 x mean |S(q)| x ln(nodes), within [16, 128]."""
    raw = 0.5 * max(m.mean_relevant, 1.0) * math.log(max(m.nodes, 2))
    return int(min(MAX_DIM, max(MIN_DIM, 2 ** math.ceil(math.log2(max(raw, 1.0))))))


def batch_size(m: Measures) -> int:
    """The power of two nearest to ``EPOCHS_IN_BUDGET`` epochs of the pairs within the largest
    budget (30 x pairs / 4,000), in [256, 2,048]: a step's cost grows with the batch, the steps a
    run needs shrink more slowly (torch's 12,600-node file tree: batch 2,048 took 569 s, 512 took
    249 s for the same quality; docs/defaults.md)."""
    want = EPOCHS_IN_BUDGET * max(m.pairs, 1) / MAX_BUDGET
    return int(min(MAX_BATCH, max(MIN_BATCH, 2 ** round(math.log2(max(want, 1.0))))))


def step_budget(m: Measures, batch: int) -> int:
    """About 200 epochs of the relevant pairs, clamped to [3,000, 4,000] steps."""
    return int(min(MAX_BUDGET, max(MIN_BUDGET, BUDGET_EPOCHS * m.pairs / batch)))


def eval_every(budget: int) -> int:
    return max(10, budget // EVALS_PER_BUDGET)


def defaults(m: Measures) -> dict:
    """The values the rule gives a run on a hierarchy with measures ``m``."""
    batch = batch_size(m)
    steps = step_budget(m, batch)
    return {"dim": recommended_dim(m), "batch_size": batch, "steps": steps, "finetune_steps": steps,
            "eval_every": eval_every(steps), "patience": PATIENCE}


#: above this many nodes a run uses every core
PARALLEL_NODES = 20_000


def threads(nodes: int, cores: int) -> int:
    """Torch threads of a run: 1 up to :data:`PARALLEL_NODES` nodes, else every core. One
    thread wins on 2 cores shared with anything else: a 12,600-node file tree at batch 2,048
    stepped in 0.34 s on one thread and 0.81 s on two while another run trained
    (docs/defaults.md, "Threads"); a node count, not a step's size, because a small-step run must
    stay one thread when the app trains two at once."""
    return 1 if nodes <= PARALLEL_NODES else max(1, int(cores))


def dim_warning(m: Measures, dim: int) -> str | None:
    """A sentence when ``dim`` is below half of what the rule recommends for ``m``, else None."""
    want = recommended_dim(m)
    if dim * 2 > want:
        return None
    return (f"d={dim} is small for this hierarchy: the rule asks for d={want} "
            f"({m.nodes:,} nodes, {m.mean_relevant:.1f} relevant documents per query); "
            f"expect the near distances to suffer (a 14,000-node taxonomy at d=16 kept distance 0 at 62%).")


class Plateau:
    """The stopping rule of one stage: after each validation, :meth:`update` with its
    criterion; :attr:`stopped` turns true once ``patience`` validations in a row brought no
    gain of at least ``delta`` over the best so far. ``patience`` 0 never stops."""

    def __init__(self, patience: int, delta: float = PLATEAU_DELTA):
        self.patience, self.delta = patience, delta
        self.best = -math.inf
        self.since = 0

    def update(self, value: float) -> bool:
        """Record one validation; True when the stage should stop."""
        if value >= self.best + self.delta:  # (small gains add up against the stale best,
            self.best, self.since = value, 0  # as in Keras' EarlyStopping min_delta)
        else:
            self.since += 1
        return self.stopped

    @property
    def stopped(self) -> bool:
        return self.patience > 0 and self.since >= self.patience
