"""The hierarchy: a DAG of named nodes, edges child -> parent.

Names live outside, integer ids (0..n-1) inside. Parents and children are kept
as CSR arrays (``parent_ptr``/``parent_idx``, ``child_ptr``/``child_idx``) so
every graph walk is a handful of vectorised numpy operations, never a Python
loop per pair. The WordNet noun closure (82,115 nodes, 743,241 ancestor pairs)
takes well under a second; see ``bench/hierarchy.py``.

Definitions (docs/science-notes.md, Definitions):
- the relevant set of a query q is q itself plus all its ancestors;
- the distance of a pair (q, a) is the *shortest* number of parent hops from q to a;
- the depth of a node is the *longest* path from it to a root (so in a DAG a node
  is always deeper than each of its parents).

The closure (all relevant pairs) is computed in :mod:`hrviz.closure` (:class:`~hrviz.closure.Closure`).
"""

from __future__ import annotations

import hashlib
from functools import cached_property

import numpy as np

from .errors import InputError
from .closure import Closure, cap_closure, compute_closure
from .sparse import expand_rows, group_rows, sorted_unique


def _expand(ptr: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each entry r of ``rows``, all (position in rows, idx value) pairs of CSR row r."""
    owner, at = expand_rows(ptr, rows)
    return owner, idx[at]


class Hierarchy:
    """A validated DAG. Build one with :meth:`from_edges` or :meth:`from_names`.

    Attributes: ``names`` (list of str), ``labels``/``descriptions`` (lists or None),
    ``n`` nodes, ``n_edges``, CSR arrays ``parent_ptr``/``parent_idx`` and
    ``child_ptr``/``child_idx``, ``source`` (how it was made, for display), ``warnings`` (what a
    parsed file holds that is allowed but maybe not meant: a list of
    :class:`hrviz.sources.checks.SourceWarning`, empty unless a file parser filled it).
    """

    def __init__(
        self,
        names: list[str],
        child: np.ndarray,
        parent: np.ndarray,
        *,
        labels: list[str] | None = None,
        descriptions: list[str] | None = None,
        source: str = "",
        where: str | None = None,
    ):
        n = len(names)
        self.names = list(names)
        self.n = n
        self.source = source
        self.labels = labels
        self.descriptions = descriptions
        self.warnings: list = []
        child = np.asarray(child, dtype=np.int64)
        parent = np.asarray(parent, dtype=np.int64)
        if n == 0:
            raise InputError("the hierarchy has no nodes", where=where, hint="give at least one child,parent edge")
        loops = np.flatnonzero(child == parent)
        if len(loops):
            raise InputError(
                f"node {self.names[child[loops[0]]]!r} is its own parent (self-loop)",
                where=where,
                hint="remove the edge from that node to itself",
            )
        # Duplicate edges are merged, not errors.
        key = sorted_unique(child * n + parent)
        child, parent = key // n, key % n
        self.n_edges = len(key)
        self.parent_ptr, self.parent_idx = group_rows(child, parent, n)
        self.child_ptr, self.child_idx = group_rows(parent, child, n)
        self._depth = self._longest_depth(where)
        self._closures: dict[int | None, Closure] = {}
        self._index: dict[str, int] | None = None

    # ----- construction -------------------------------------------------
    @classmethod
    def from_names(
        cls,
        edges: list[tuple[str, str]],
        *,
        nodes: list[str] | None = None,
        labels: dict[str, str] | None = None,
        descriptions: dict[str, str] | None = None,
        source: str = "",
        where: str | None = None,
    ) -> "Hierarchy":
        """Build from (child, parent) name pairs; ``nodes`` adds isolated or ordered nodes."""
        index: dict[str, int] = {}
        names: list[str] = []

        def node_id(name: str) -> int:
            i = index.get(name)
            if i is None:
                i = index[name] = len(names)
                names.append(name)
            return i

        for name in nodes or ():
            node_id(name)
        child = np.fromiter((node_id(c) for c, _ in edges), dtype=np.int64, count=len(edges))
        parent = np.fromiter((node_id(p) for _, p in edges), dtype=np.int64, count=len(edges))
        lab = [labels.get(x, "") for x in names] if labels else None
        desc = [descriptions.get(x, "") for x in names] if descriptions else None
        h = cls(names, child, parent, labels=lab, descriptions=desc, source=source, where=where)
        h._index = index
        return h

    # ----- basic structure ----------------------------------------------
    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self.names)}
        return self._index

    def id_of(self, name: str) -> int:
        try:
            return self.index[name]
        except KeyError:
            raise InputError(f"no node named {name!r}", where=self.source or None,
                             hint="check the spelling; search by part of the name") from None

    def parents(self, i: int) -> np.ndarray:
        return self.parent_idx[self.parent_ptr[i]: self.parent_ptr[i + 1]]

    def children(self, i: int) -> np.ndarray:
        return self.child_idx[self.child_ptr[i]: self.child_ptr[i + 1]]

    @cached_property
    def n_parents(self) -> np.ndarray:
        return np.diff(self.parent_ptr)

    @cached_property
    def n_children(self) -> np.ndarray:
        return np.diff(self.child_ptr)

    @cached_property
    def roots(self) -> np.ndarray:
        return np.flatnonzero(self.n_parents == 0)

    @cached_property
    def leaves(self) -> np.ndarray:
        return np.flatnonzero(self.n_children == 0)

    @property
    def depth(self) -> np.ndarray:
        """Longest path (in edges) from each node to a root."""
        return self._depth

    @property
    def max_depth(self) -> int:
        return int(self._depth.max())

    @cached_property
    def is_tree(self) -> bool:
        """True when no node has more than one parent (a forest)."""
        return bool((self.n_parents <= 1).all())

    @cached_property
    def hash(self) -> str:
        """Content hash of names and edges: a model trained here is only applied here."""
        h = hashlib.sha256()
        h.update("\n".join(self.names).encode())
        h.update(self.parent_ptr.astype(np.int64).tobytes())
        h.update(self.parent_idx.astype(np.int32).tobytes())
        return h.hexdigest()[:16]

    def label(self, i: int) -> str:
        """A short human label: the node's label when it has one, else its name."""
        if self.labels and self.labels[i]:
            return self.labels[i]
        return self.names[i]

    # ----- depth and cycles --------------------------------------------
    def _longest_depth(self, where: str | None) -> np.ndarray:
        """Kahn's algorithm level by level; leftover nodes mean a cycle, which we report."""
        n = self.n
        depth = np.zeros(n, dtype=np.int32)
        remaining = np.diff(self.parent_ptr)
        frontier = np.flatnonzero(remaining == 0)
        done = len(frontier)
        while len(frontier):
            owner, kids = _expand(self.child_ptr, self.child_idx, frontier)
            if not len(kids):
                break
            np.maximum.at(depth, kids, depth[frontier[owner]] + 1)
            np.subtract.at(remaining, kids, 1)
            uniq = sorted_unique(kids)
            frontier = uniq[remaining[uniq] == 0]
            done += len(frontier)
        if done < n:
            cycle = self._find_cycle(remaining > 0)
            shown = " -> ".join(self.names[i] for i in cycle)
            raise InputError(
                f"the hierarchy has a cycle: {shown}",
                where=where,
                hint="a hierarchy must be acyclic: remove one edge of the cycle",
            )
        return depth

    def _find_cycle(self, stuck: np.ndarray) -> list[int]:
        """Every stuck node has a stuck parent, so walking up stuck parents must loop."""
        start = int(np.flatnonzero(stuck)[0])
        seen: dict[int, int] = {}
        path: list[int] = []
        v = start
        while v not in seen:
            seen[v] = len(path)
            path.append(v)
            ps = self.parents(v)
            v = int(ps[stuck[ps]][0])
        cycle = path[seen[v]:]
        return cycle + [cycle[0]]

    # ----- ancestors -------------------------------------------------------
    def closure(self, max_distance: int | None = None) -> Closure:
        """Every (query, ancestor-or-self, shortest distance) pair, capped at ``max_distance``.

        Computed breadth-first by :func:`hrviz.closure.compute_closure` (or cut from the full
        closure when that is cached); cached per cap.
        """
        if max_distance is not None and max_distance < 0:
            raise InputError("max distance must be >= 0", hint="use 0 for self pairs only, or omit it")
        if max_distance is not None and max_distance >= self.max_depth:
            max_distance = None  # the cap removes nothing
        if max_distance in self._closures:
            return self._closures[max_distance]
        if max_distance is not None and None in self._closures:
            c = cap_closure(self._closures[None], max_distance)
        else:
            c = compute_closure(self.parent_ptr, self.parent_idx, self.is_tree, max_distance)
        self._closures[max_distance] = c
        return c

    def ancestors(self, i: int, max_distance: int | None = None) -> dict[int, int]:
        """{ancestor id: shortest distance} for one node, itself included at distance 0."""
        docs, dist = self.closure(max_distance).of(i)
        return dict(zip(docs.tolist(), dist.tolist()))

    # ----- subsets and paths (for the UI) ---------------------------------
    def descendants(self, i: int) -> np.ndarray:
        """Node i and everything below it, sorted ids."""
        seen = np.zeros(self.n, dtype=bool)
        seen[i] = True
        frontier = np.array([i])
        while len(frontier):
            _, kids = _expand(self.child_ptr, self.child_idx, frontier)
            kids = sorted_unique(kids)
            kids = kids[~seen[kids]]
            seen[kids] = True
            frontier = kids
        return np.flatnonzero(seen)

    def induced(self, nodes: np.ndarray, *, source: str = "") -> "Hierarchy":
        """The sub-hierarchy on ``nodes`` with every edge between two of them."""
        nodes = np.unique(np.asarray(nodes, dtype=np.int64))
        new_id = np.full(self.n, -1, dtype=np.int64)
        new_id[nodes] = np.arange(len(nodes))
        child = np.repeat(np.arange(self.n), self.n_parents)
        parent = self.parent_idx.astype(np.int64)
        keep = (new_id[child] >= 0) & (new_id[parent] >= 0)
        pick = nodes.tolist()
        return Hierarchy(
            [self.names[i] for i in pick],
            new_id[child[keep]],
            new_id[parent[keep]],
            labels=[self.labels[i] for i in pick] if self.labels else None,
            descriptions=[self.descriptions[i] for i in pick] if self.descriptions else None,
            source=source,
        )

    def subtree(self, name: str) -> "Hierarchy":
        """The node called ``name`` and everything below it."""
        i = self.id_of(name)
        return self.induced(self.descendants(i), source=f"{self.source}:{name}" if self.source else name)

    def paths_to_root(self, i: int, limit: int = 20) -> list[list[int]]:
        """Up to ``limit`` paths from node i up to a root (node first, root last)."""
        out: list[list[int]] = []
        stack: list[list[int]] = [[i]]
        while stack and len(out) < limit:
            path = stack.pop()
            ps = self.parents(path[-1])
            if not len(ps):
                out.append(path)
            for p in ps[::-1].tolist():
                stack.append(path + [p])
        return out

    def search(self, text: str, limit: int = 50) -> list[int]:
        """Ids whose name or label contains ``text`` (case-insensitive); exact name first."""
        t = text.strip().lower()
        if not t:
            return []
        exact = [self.index[text.strip()]] if text.strip() in self.index else []
        hits = []
        for i, name in enumerate(self.names):
            if t in name.lower() or (self.labels and t in self.labels[i].lower()):
                if not exact or i != exact[0]:
                    hits.append(i)
        # rank all hits before cutting: cutting first kept the first `limit` ids, not the best
        hits.sort(key=lambda i: (len(self.names[i]), self.names[i]))
        return (exact + hits)[:limit]

    # ----- summaries -----------------------------------------------------
    def info(self, max_distance: int | None = None) -> dict:
        """The counts `hrviz info` prints."""
        return {
            "nodes": self.n,
            "edges": self.n_edges,
            "roots": int(len(self.roots)),
            "leaves": int(len(self.leaves)),
            "max_depth": self.max_depth,
            "closure_pairs": self.closure(max_distance).n_ancestor_pairs,
        }

    def __repr__(self) -> str:
        return f"Hierarchy({self.source or 'unnamed'!s}: {self.n} nodes, {self.n_edges} edges)"
