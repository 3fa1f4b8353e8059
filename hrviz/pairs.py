"""Relevant pairs, splits and samplers.

A *pair* is (query, doc, distance) with doc in S(query) (itself or an ancestor),
distance the shortest hop count, capped by ``max_distance``. Pairs come straight from
:meth:`Hierarchy.closure`, grouped by query.

Evaluation modes (docs/science-notes.md, Definitions):
- ``reconstruction`` (default): train on every pair, evaluate on every pair;
- ``generalisation``: a seeded fraction of the pairs with distance >= 1 is held out of
  training and evaluated; self pairs always stay in training.

Query nodes (``queries``): every node (``"all"``, the default) or only the leaves
(``"leaves"``: the paper's synthetic tree, where a leaf retrieves itself and its ancestors).
With leaves, training pairs are the leaves' pairs only and :attr:`Split.query_nodes` names the
queries evaluation counts; every node is still a document.

Samplers draw batches of pair indices (into :class:`Pairs` arrays), seeded by a torch generator:
- :class:`UniformSampler` ("regular", ``pairs="uniform"``): uniform over training pairs;
- :class:`GroupedSampler` (``pairs="per-query"`` / ``"per-document"``): a query (or a
  document) uniformly among those with training pairs, then one of its pairs uniformly. Per
  document, a far ancestor such as the root is one document among thousands, so the pairs
  that reach it are drawn rarely: short-distance pairs dominate (the paper's explanation of
  "lost in the long distance"); :func:`regular_sampler` picks one by name;
- :class:`DistanceWeightedSampler`: pair probability proportional to a weight per
  distance. :func:`rebalanced_weights` turns the paper's p into weights: distance 0
  gets a share p of the samples, each other distance an equal share of 1 - p. (Uniform
  sampling over a perfect tree H=4, W=5 gives distance 0 a share of 21%; the paper's
  p=0.03 starves it, which is the "distance-0 collapse" the paper reports.);
- :class:`LongDistanceSampler`: uniform over pairs with distance >= a threshold;
- :class:`MixtureSampler`: a fixed mix of samplers (the ``joint`` recipe, the finetune's anchor).

Every sampler draws on any torch device: ``sample(gen, size)`` takes a ``torch.Generator``
and returns ``size`` pair indices (int64) on the generator's device, in tensors of fixed shape
(a step never waits for the host). The sampler's arrays are copied to a device once, on its
first draw there. The draws are seeded by the generator alone, so a CPU run is repeatable.

Every sampler also states its own distribution: ``pair_probability()`` is the probability of
each pair (over all of the :class:`Pairs`, 0 outside the sampler's support) and
``doc_marginal(n)`` the probability that a drawn pair's document is each document, i.e. its
expected share of a batch's positives. The logQ correction of in-batch and sampled negatives
(:mod:`hrviz.training.loss`) reads it.

torch is imported where a sampler first draws: this module is also read by what only shows
results (the run pipeline's ``query_nodes``), which loads without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .closure import Closure
from .hierarchy import Hierarchy


@dataclass
class Pairs:
    """Parallel arrays of relevant pairs plus the closure they came from."""

    closure: Closure
    query: np.ndarray
    doc: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.query)

    def count_by_distance(self) -> dict[int, int]:
        c = np.bincount(self.distance)
        return {int(t): int(v) for t, v in enumerate(c) if v}

    def as_closure(self, n: int) -> Closure:
        """These pairs as a Closure (grouped by query): the relevance a loss may use."""
        if len(self) == self.closure.n_pairs:
            return self.closure
        order = np.lexsort((self.doc, self.distance, self.query))
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.query, minlength=n), out=ptr[1:])
        return Closure(ptr, self.query[order], self.doc[order], self.distance[order], self.closure.max_distance)


@dataclass
class Split:
    train: Pairs
    eval: Pairs
    mode: str
    query_nodes: np.ndarray | None = None  # the nodes that are queries (None: all nodes)

    def eval_mask(self) -> np.ndarray | None:
        """Bool over the closure's pairs: which ones are evaluated (None: all of them)."""
        if self.mode == "reconstruction":
            return None
        c = self.train.closure
        n = len(c.ptr) - 1
        key = c.query.astype(np.int64) * n + c.doc  # not sorted: pairs are in distance order per query
        order = np.argsort(key, kind="stable")
        mask = np.zeros(c.n_pairs, dtype=bool)
        mask[order[np.searchsorted(key[order], self.eval.query.astype(np.int64) * n + self.eval.doc)]] = True
        return mask


def query_nodes(h: Hierarchy, queries: str = "all") -> np.ndarray | None:
    """The nodes that are queries: None for ``"all"``, the leaves for ``"leaves"``."""
    if queries == "all":
        return None
    if queries == "leaves":
        return np.asarray(h.leaves, dtype=np.int64)
    raise InputError(f"unknown query set {queries!r}", hint="use all or leaves")


def all_pairs(h: Hierarchy, max_distance: int | None = None, queries: str = "all") -> Pairs:
    """Every relevant pair within the cap; with ``queries="leaves"`` the leaves' pairs only."""
    c = h.closure(max_distance)
    nodes = query_nodes(h, queries)
    if nodes is None:
        return Pairs(c, c.query, c.doc, c.distance)
    keep = np.zeros(h.n, dtype=bool)
    keep[nodes] = True
    m = keep[c.query]
    return Pairs(c, c.query[m], c.doc[m], c.distance[m])


def split_pairs(h: Hierarchy, max_distance: int | None = None, *, mode: str = "reconstruction",
                holdout: float = 0.1, seed: int = 0, queries: str = "all") -> Split:
    """Training and evaluation pairs for a mode (see the module docstring)."""
    p = all_pairs(h, max_distance, queries)
    nodes = query_nodes(h, queries)
    if mode == "reconstruction":
        return Split(p, p, mode, nodes)
    if mode != "generalisation":
        raise InputError(f"unknown evaluation mode {mode!r}", hint="use reconstruction or generalisation")
    if not 0 < holdout < 1:
        raise InputError(f"holdout must be in (0, 1), got {holdout}")
    rng = np.random.default_rng(seed)
    held = (rng.random(len(p)) < holdout) & (p.distance > 0)
    take = lambda m: Pairs(p.closure, p.query[m], p.doc[m], p.distance[m])  # noqa: E731
    return Split(take(~held), take(held), mode, nodes)


class _Sampler:
    """What every sampler shares: ``doc_marginal`` from ``pair_probability`` and the pairs'
    documents (``self.doc``), and its arrays as tensors on a device (``_on``), made once."""

    doc: np.ndarray

    def pair_probability(self) -> np.ndarray:  # pragma: no cover - every sampler defines it
        raise NotImplementedError

    def doc_marginal(self, n: int) -> np.ndarray:
        """float64 (n,): P(the document of a drawn pair is j); sums to 1."""
        return np.bincount(self.doc, weights=self.pair_probability(), minlength=n)

    def _tensors(self, device) -> dict:  # pragma: no cover - every sampler defines it
        raise NotImplementedError

    def _on(self, device) -> dict:
        """The sampler's arrays as tensors on ``device`` (cached per device)."""
        cache = self.__dict__.setdefault("_device_tensors", {})
        key = str(device)
        if key not in cache:
            cache[key] = self._tensors(device)
        return cache[key]


def _tensor(a, device, dtype=None):
    import torch

    return torch.as_tensor(np.asarray(a), dtype=dtype or torch.int64, device=device)


class UniformSampler(_Sampler):
    """Uniform over the given pair indices."""

    def __init__(self, pairs: Pairs, index: np.ndarray | None = None):
        self.index = np.arange(len(pairs)) if index is None else index
        if len(self.index) == 0:
            raise InputError("no training pairs to sample from",
                             hint="lower the long-distance threshold or raise the max distance")
        self.doc = pairs.doc

    def pair_probability(self) -> np.ndarray:
        """1 / |index| for each pair of the index (a pair listed twice counts twice)."""
        return np.bincount(self.index, minlength=len(self.doc)) / len(self.index)

    def _tensors(self, device) -> dict:
        return {"index": _tensor(self.index, device)}

    def sample(self, gen, size: int):
        """``size`` pair indices (int64, on ``gen``'s device), uniform over the index."""
        import torch

        index = self._on(gen.device)["index"]
        return index.index_select(0, torch.randint(0, len(index), (size,), generator=gen, device=index.device))


class GroupedSampler(_Sampler):
    """A group (a query, or a document) uniformly among those with pairs, then one of its pairs.

    ``by="query"``: every query is drawn equally often, whatever the size of S(q).
    ``by="doc"``: every document is drawn equally often, so a pair's probability is
    1 / (documents with pairs x queries of its document): pairs to popular documents (far
    ancestors) are rare.
    """

    def __init__(self, pairs: Pairs, by: str):
        if by not in ("query", "doc"):
            raise ValueError(f"by must be 'query' or 'doc', got {by!r}")
        if len(pairs) == 0:
            raise InputError("no training pairs to sample from")
        key = pairs.query if by == "query" else pairs.doc
        self.order = np.argsort(key, kind="stable")
        counts = np.bincount(key)
        self.groups = np.flatnonzero(counts)
        self.counts = counts[self.groups]
        self.starts = (np.cumsum(counts) - counts)[self.groups]
        self.by = by
        self.doc = pairs.doc
        self._key = key

    def pair_probability(self) -> np.ndarray:
        """1 / (groups x pairs of the pair's group)."""
        return 1.0 / (len(self.groups) * np.bincount(self._key)[self._key])

    def _tensors(self, device) -> dict:
        return {"order": _tensor(self.order, device), "counts": _tensor(self.counts, device),
                "starts": _tensor(self.starts, device)}

    def sample(self, gen, size: int):
        import torch

        t = self._on(gen.device)
        dev = t["order"].device
        g = torch.randint(0, len(t["counts"]), (size,), generator=gen, device=dev)           # (B,) groups
        c = t["counts"].index_select(0, g)                                                    # (B,)
        offset = (torch.rand(size, generator=gen, device=dev, dtype=torch.float64) * c).long()
        return t["order"].index_select(0, t["starts"].index_select(0, g) + torch.minimum(offset, c - 1))

def regular_sampler(pairs: Pairs, draw: str = "uniform"):
    """The sampler of regular pairs for ``draw`` = uniform, per-query or per-document."""
    if draw == "uniform":
        return UniformSampler(pairs)
    if draw == "per-query":
        return GroupedSampler(pairs, "query")
    if draw == "per-document":
        return GroupedSampler(pairs, "doc")
    raise InputError(f"unknown pair draw {draw!r}", hint="use uniform, per-query or per-document")


class DistanceWeightedSampler(_Sampler):
    """Pair probability proportional to ``weights[distance]`` (missing distances: 0)."""

    def __init__(self, pairs: Pairs, weights: dict[int, float]):
        w = np.array([weights.get(int(t), 0.0) for t in range(int(pairs.distance.max()) + 1)], dtype=np.float64)
        prob = w[pairs.distance]
        if prob.sum() <= 0:
            raise InputError("the distance weights give every pair probability 0")
        self.prob = prob / prob.sum()
        self.cdf = np.cumsum(self.prob)
        self.weights = weights
        self.doc = pairs.doc

    def pair_probability(self) -> np.ndarray:
        return self.prob

    def _tensors(self, device) -> dict:
        import torch

        return {"cdf": _tensor(self.cdf, device, torch.float64)}

    def sample(self, gen, size: int):
        import torch

        cdf = self._on(gen.device)["cdf"]
        u = torch.rand(size, generator=gen, device=cdf.device, dtype=torch.float64)
        return torch.searchsorted(cdf, u).clamp_(max=len(cdf) - 1)


def rebalanced_weights(pairs: Pairs, p: float) -> dict[int, float]:
    """Per-pair weights giving distance 0 a share ``p`` and each other distance (1 - p) / D."""
    counts = pairs.count_by_distance()
    others = [t for t in counts if t > 0]
    if not 0 <= p <= 1:
        raise InputError(f"rebalance p must be in [0, 1], got {p}")
    w = {0: p / counts[0]} if 0 in counts else {}
    for t in others:
        w[t] = (1 - p) / len(others) / counts[t]
    return w


class LongDistanceSampler(UniformSampler):
    """Uniform over pairs with distance >= ``threshold``."""

    def __init__(self, pairs: Pairs, threshold: int):
        idx = np.flatnonzero(pairs.distance >= threshold)
        if len(idx) == 0:
            raise InputError(f"no pairs with distance >= {threshold}",
                             hint=f"the largest distance is {int(pairs.distance.max())}: lower the long-distance threshold")
        super().__init__(pairs, idx)
        self.threshold = threshold


class MixtureSampler(_Sampler):
    """Each pair of a batch comes from ``samplers[i]`` with probability ``weights[i]``."""

    def __init__(self, samplers: list, weights: list[float]):
        self.samplers = samplers
        self.weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
        self.doc = samplers[0].doc

    def pair_probability(self) -> np.ndarray:
        """The components' pair probabilities mixed by ``weights``."""
        return sum(w * s.pair_probability() for s, w in zip(self.samplers, self.weights))

    def _tensors(self, device) -> dict:
        import torch

        return {"weights": _tensor(self.weights, device, torch.float64)}

    def sample(self, gen, size: int):
        import torch

        # each pair picks its component; every component draws a whole batch (a fixed shape)
        comp = torch.multinomial(self._on(gen.device)["weights"], size, replacement=True, generator=gen)  # (B,)
        draws = torch.stack([s.sample(gen, size) for s in self.samplers])                  # (K, B)
        return draws.gather(0, comp[None]).squeeze(0)
