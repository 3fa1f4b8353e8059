"""Synthetic hierarchies: perfect trees and random layered DAGs (seeded)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..hierarchy import Hierarchy


def perfect_tree(height: int, width: int) -> Hierarchy:
    """Perfect tree of ``height`` *levels* (the paper's convention): the root at depth 0, the
    leaves at depth ``height - 1``, ``width`` children per inner node.

    ``perfect_tree(4, 5)`` (``tree:H=4,W=5``) is the paper's synthetic tree:
    1 + 5 + 25 + 125 = 156 nodes, and a leaf has H = 4 relevant documents (itself and its
    3 ancestors). In general it has (W^H - 1) / (W - 1) nodes (H when W = 1). H must be at
    least 2: H = 1 would be the root alone, with nothing to retrieve.

    Nodes are numbered breadth-first and named by their path of child indices:
    ``r`` is the root, ``r.0.3`` is child 3 of child 0 of the root.
    """
    if height < 2 or width < 1:
        raise InputError(f"a tree needs H >= 2 levels and W >= 1 children, got H={height}, W={width}",
                         hint="H counts levels (root at depth 0, leaves at depth H-1; H=1 would be a "
                              "single node): for example tree:H=4,W=5, the paper's 156-node tree")
    n = sum(width**h for h in range(height))
    if n > 2_000_000:
        raise InputError(f"tree:H={height},W={width} would have {n:,} nodes", hint="keep it under 2,000,000")
    names = ["r"]
    child, parent = [], []
    level = [0]
    for _ in range(height - 1):
        nxt = []
        for p in level:
            for k in range(width):
                i = len(names)
                names.append(f"{names[p]}.{k}")
                child.append(i)
                parent.append(p)
                nxt.append(i)
        level = nxt
    return Hierarchy(names, np.array(child, dtype=np.int64), np.array(parent, dtype=np.int64),
                     source=f"tree:H={height},W={width}")


def random_dag(nodes: int = 500, depth: int = 5, parents: int = 2, p_extra: float = 0.3,
               seed: int = 0) -> Hierarchy:
    """Random layered DAG.

    Parameters:
        nodes: total number of nodes (>= depth + 1). One root at level 0; the other
            nodes are spread over levels 1..depth (every level gets at least one).
        depth: number of levels below the root.
        parents: the most parents a node can have (>= 1).
        p_extra: probability of each extra parent beyond the first (so the mean
            number of parents is 1 + p_extra * (parents - 1)).
        seed: random seed; the same parameters and seed give the same DAG.

    Each node at level l > 0 takes its first parent uniformly from level l - 1 (so the
    longest path to the root is exactly its level) and each extra parent uniformly
    from levels 0..l-1, without repeats.
    """
    if depth < 1 or nodes < depth + 1 or parents < 1 or not 0 <= p_extra <= 1:
        raise InputError(
            f"bad DAG parameters nodes={nodes}, depth={depth}, parents={parents}, p={p_extra}",
            hint="need depth >= 1, nodes >= depth + 1, parents >= 1, 0 <= p <= 1",
        )
    if nodes > 2_000_000:
        raise InputError(f"dag with {nodes:,} nodes is too large", hint="keep it under 2,000,000")
    rng = np.random.default_rng(seed)
    rest = nodes - 1 - depth
    extra = np.bincount(rng.integers(0, depth, size=rest), minlength=depth) if rest > 0 else np.zeros(depth, int)
    sizes = [1] + [1 + int(e) for e in extra]
    starts = np.cumsum([0] + sizes)
    names = [f"L{lvl}_{k}" for lvl, s in enumerate(sizes) for k in range(s)]
    child, parent = [], []
    for lvl in range(1, depth + 1):
        lo_prev, hi_prev = starts[lvl - 1], starts[lvl]
        for i in range(starts[lvl], starts[lvl + 1]):
            ps = {int(rng.integers(lo_prev, hi_prev))}
            for _ in range(parents - 1):
                if rng.random() < p_extra:
                    ps.add(int(rng.integers(0, hi_prev)))
            for p in sorted(ps):
                child.append(i)
                parent.append(p)
    return Hierarchy(names, np.array(child, dtype=np.int64), np.array(parent, dtype=np.int64),
                     source=f"dag:n={nodes},depth={depth},parents={parents},p={p_extra},seed={seed}")
