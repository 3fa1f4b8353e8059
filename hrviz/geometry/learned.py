"""The smallest dimension at which a TRAINED dual encoder retrieves perfectly.

The learned counterpart of :func:`hrviz.geometry.search.min_dim`: d passes when every one of
``trials`` models trained at d (``hrviz.training.fit``, seeds seed..seed+trials-1) reaches
recall@auto >= ``target`` (default 1.0, i.e. every query ranks its whole relevant set S(q)
first). The same doubling and bisection (:func:`~hrviz.geometry.search.search_min_dim`);
training is not monotone in d either, so the result is an observed boundary.
"""

from __future__ import annotations

import time

from ..errors import InputError
from ..evaluate import evaluate
from ..hierarchy import Hierarchy
from .search import MinDimResult, search_min_dim


def learned_min_dim(
    h: Hierarchy,
    *,
    recipe: str = "pretrain-finetune",
    seed: int = 0,
    trials: int = 1,
    max_distance: int | None = None,
    target: float = 1.0,
    start: int = 1,
    max_dim: int = 256,
    config: dict | None = None,
    on_fit=None,
) -> MinDimResult:
    """Smallest d at which a TRAINED dual encoder reaches recall@auto >= ``target`` (default 1.0).

    Each d trains ``trials`` models (seeds seed..seed+trials-1) with ``hrviz.training.fit`` and
    passes when all of them reach the target (with one trial: that one). The same doubling and
    bisection as :func:`min_dim`; training is not monotone in d either, so the result is an
    observed boundary (passes at min_dim, fails at min_dim - 1). ``config`` adds TrainConfig
    fields; ``on_fit(dim, seed, overall)`` is called after every fit (progress).
    """
    import torch  # here, with the training stack: the geometry page and charts load without torch

    from ..training import TrainConfig, fit

    if trials < 1:
        raise InputError(f"trials must be >= 1, got {trials}", hint="e.g. --trials 1")
    t0 = time.perf_counter()
    recalls: dict[int, list[float]] = {}
    closure = h.closure(max_distance)
    extra = dict(config or {})
    if max_distance is not None:
        extra.setdefault("max_distance", max_distance)

    def passes(dim: int) -> bool:
        got = recalls.setdefault(dim, [])
        for s in range(seed, seed + trials):
            result = fit(h, TrainConfig(dim=dim, recipe=recipe, seed=s, **extra))
            ev = evaluate(result.model.query_vectors(), result.model.doc_vectors(), closure)
            got.append(float(ev.overall))
            if on_fit is not None:
                on_fit(dim, s, float(ev.overall))
            if ev.overall < target - 1e-9:
                return False
        return True

    threads = torch.get_num_threads()  # fit() may set it from config: leave the process as it was
    try:
        d, tested = search_min_dim(passes, start=start, max_dim=max_dim)
    finally:
        torch.set_num_threads(threads)
    return MinDimResult(d, tested, trials, seed, f"recall@auto >= {target:g} ({recipe})",
                        time.perf_counter() - t0,
                        {"recipe": recipe, "recall": {str(k): v for k, v in sorted(recalls.items())}})
