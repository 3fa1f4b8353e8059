"""The exact rank counter behind evaluation: counts against a plain numpy count, ties, NaN,
threads, and the shape checks."""

import numpy as np
import pytest

from hrviz.rank_count import count_at_or_above


def _case(seed, rows=40, n=300, ties=True):
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((rows, n)).astype(np.float32)
    if ties:
        S[:, : n // 3] = np.round(S[:, : n // 3])  # many exact ties
    m = rng.integers(0, 12, rows)
    ptr = np.r_[0, np.cumsum(m)].astype(np.int64)
    owner = np.repeat(np.arange(rows), m)
    cols = np.concatenate([rng.choice(n, k, replace=False) for k in m])
    return S, ptr, owner, S[owner, cols]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("threads", [1, 3])
def test_counts_match_numpy_with_ties(seed, threads):
    S, ptr, owner, s = _case(seed)
    expected = np.array([np.count_nonzero(S[o] >= v) for o, v in zip(owner, s)])
    assert np.array_equal(count_at_or_above(S, ptr, s, threads=threads), expected)


def test_a_tied_row_ranks_every_pair_last():
    S = np.zeros((2, 50), dtype=np.float32)
    ptr = np.array([0, 3, 4])
    assert count_at_or_above(S, ptr, np.zeros(4, np.float32)).tolist() == [50, 50, 50, 50]


def test_nan_scores_are_never_counted():
    S = np.array([[1.0, np.nan, 0.5, 2.0]], dtype=np.float32)
    out = count_at_or_above(S, np.array([0, 2]), np.array([0.5, np.nan], dtype=np.float32))
    assert out.tolist() == [3, 0]


def test_disagreeing_shapes_are_refused():
    with pytest.raises(ValueError, match="disagree"):
        count_at_or_above(np.zeros((2, 3), np.float32), np.array([0, 1]), np.zeros(1, np.float32))
