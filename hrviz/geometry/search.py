"""The smallest dimension at which the construction separates, and a prediction of it.

Separation at d, for one seed: the global margin of Algorithm 1's vectors is > 0
(``criterion="global"``: one threshold for all pairs, Theorem 3.1's claim), or every query's
own margin is > 0 (``criterion="query"``: recall@auto = 1.0, the weaker property retrieval
needs). d *passes* when it separates for at least ``success`` (90%) of the seeds
seed..seed+trials-1.

:func:`search_min_dim` finds the smallest passing d by doubling from ``start``, then bisection.
It is exact for a monotone ``passes``; separation is monotone only in expectation, so the
result is an observed boundary: passes(min_dim) and not passes(min_dim - 1).
:func:`predicted_min_dim` is a back-of-envelope d with explicit constants.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..errors import InputError
from ..hierarchy import Hierarchy
from .margins import MAX_EXACT, SAMPLE_QUERIES, evaluate_construction

CRITERIA = ("global", "query")


def _check_criterion(criterion: str) -> None:
    if criterion not in CRITERIA:
        raise InputError(f"unknown criterion {criterion!r}", hint="use global or query")


@dataclass
class MinDimResult:
    """Outcome of a smallest-d search. ``tested`` maps each d tried to whether it passed."""

    min_dim: int
    tested: dict[int, bool]
    trials: int
    seed: int
    criterion: str
    seconds: float
    details: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "min_dim": self.min_dim,
            "trials": self.trials,
            "seed": self.seed,
            "criterion": self.criterion,
            "tested": {str(d): ok for d, ok in sorted(self.tested.items())},
            "seconds": round(self.seconds, 3),
            **self.details,
        }


def search_min_dim(passes, *, start: int = 1, max_dim: int = 8192) -> tuple[int, dict[int, bool]]:
    """Smallest d with ``passes(d)``: doubling from ``start``, then bisection.

    Doubling finds a failing lo and a passing hi = 2 lo; bisection narrows (lo, hi] down to
    hi = lo + 1. This is exact when ``passes`` is monotone in d. Separation of the construction
    is monotone only in expectation (the margin's noise shrinks like 1/sqrt(d)); for any fixed
    seeds the result is a boundary that was actually observed: passes(min_dim) is True and
    passes(min_dim - 1) is False (unless min_dim == start).
    """
    if start < 1 or max_dim < start:
        raise InputError(f"bad search range start={start}, max_dim={max_dim}", hint="need 1 <= start <= max_dim")
    tested: dict[int, bool] = {}

    def test(d: int) -> bool:
        if d not in tested:
            tested[d] = bool(passes(d))
        return tested[d]

    lo, hi = start - 1, start
    while not test(hi):
        if hi >= max_dim:
            raise InputError(f"no dimension up to {max_dim} works", hint="raise --max-dim")
        lo, hi = hi, min(2 * hi, max_dim)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid
    return hi, tested


def separation_passes(
    h: Hierarchy,
    dim: int,
    *,
    trials: int = 10,
    seed: int = 0,
    max_distance: int | None = None,
    success: float = 0.9,
    max_exact: int = MAX_EXACT,
    sample: int = SAMPLE_QUERIES,
    criterion: str = "global",
) -> bool:
    """True when the construction separates for >= ``success`` of the seeds seed..seed+trials-1.

    ``criterion="global"``: one threshold for all pairs (global margin > 0), Theorem 3.1's claim.
    ``criterion="query"``: every query separated on its own (per-query margin > 0, which is
    recall@auto = 1.0), the weaker property retrieval needs. Stops as soon as the outcome is decided.
    """
    _check_criterion(criterion)
    need = math.ceil(success * trials - 1e-9)
    ok = bad = 0
    for s in range(seed, seed + trials):
        rep = evaluate_construction(h, dim, seed=s, max_distance=max_distance, max_exact=max_exact,
                                    sample=sample, recall=False, stop=criterion)
        good = rep.separated if criterion == "global" else bool(rep.query_separated == 1.0 and not rep.early_exit)
        ok += good
        bad += not good
        if ok >= need:
            return True
        if bad > trials - need:
            return False
    return ok >= need


def min_dim(
    h: Hierarchy,
    *,
    trials: int = 10,
    seed: int = 0,
    max_distance: int | None = None,
    success: float = 0.9,
    start: int = 1,
    max_dim: int = 8192,
    max_exact: int = MAX_EXACT,
    sample: int = SAMPLE_QUERIES,
    criterion: str = "global",
) -> MinDimResult:
    """Smallest d at which the construction separates in >= 90% (``success``) of ``trials``
    seeded trials (seeds seed..seed+trials-1), by doubling then bisection (:func:`search_min_dim`).
    ``criterion``: "global" (one threshold, the default) or "query" (see :func:`separation_passes`)."""
    _check_criterion(criterion)
    if trials < 1:
        raise InputError(f"trials must be >= 1, got {trials}", hint="e.g. --trials 10")
    if not 0 < success <= 1:
        raise InputError(f"success must be in (0, 1], got {success}")
    t0 = time.perf_counter()
    d, tested = search_min_dim(
        lambda dim: separation_passes(h, dim, trials=trials, seed=seed, max_distance=max_distance,
                                      success=success, max_exact=max_exact, sample=sample,
                                      criterion=criterion),
        start=start, max_dim=max_dim)
    what = "global margin > 0" if criterion == "global" else "every query separated"
    return MinDimResult(d, tested, trials, seed, f"{what} in >= {success:.0%} of trials",
                        time.perf_counter() - t0, {"sampled_queries": sample if h.n > max_exact else None})



def predicted_min_dim(h: Hierarchy, max_distance: int | None = None) -> float:
    """A back-of-envelope d for the construction with explicit constants (not the theorem's O()).

    With s = the largest |S(q)|, a relevant score is about 1/sqrt(s) + N(0, (s-1)/(s d)) and an
    irrelevant one about N(0, 1/d). One threshold works when the lowest relevant score beats the
    highest irrelevant one; with Gaussian maxima sqrt(2 ln N) over N pairs that is

        d ~ s * (sqrt(2 ln N_irrelevant) + sqrt((s-1)/s * 2 ln N_relevant))^2

    For a perfect tree of H levels ln N_irrelevant ~ 2 (H-1) ln W and s = H, so
    d ~ 4 H (H-1) ln W + lower-order terms:
    the O(H^2 log W) of the theorem with a constant of about 4 and an additive part.
    """
    c = h.closure(max_distance)
    s = int(c.sizes().max())
    n_rel = c.n_pairs
    n_irr = max(h.n * h.n - n_rel, 1)
    z_irr = math.sqrt(2 * math.log(max(n_irr, 2)))
    z_rel = math.sqrt((s - 1) / s * 2 * math.log(max(n_rel, 2)))
    return s * (z_irr + z_rel) ** 2
