"""hrviz.pairs: the samplers' distributions and errors, the generalisation split and its mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrviz.errors import InputError
from hrviz.pairs import DistanceWeightedSampler, LongDistanceSampler, all_pairs, rebalanced_weights, split_pairs
from hrviz.sources import perfect_tree, random_dag


def test_rebalanced_weights_give_distance_zero_share_p():
    h = perfect_tree(5, 5)
    pairs = all_pairs(h)
    s = DistanceWeightedSampler(pairs, rebalanced_weights(pairs, 0.03))
    draws = pairs.distance[s.sample(torch.Generator().manual_seed(0), 200_000).numpy()]
    share = np.bincount(draws) / len(draws)
    assert share[0] == pytest.approx(0.03, abs=0.003)
    assert share[1:] == pytest.approx(np.full(4, 0.97 / 4), abs=0.005)


def test_long_distance_sampler_and_errors():
    h = perfect_tree(4, 2)
    pairs = all_pairs(h)
    s = LongDistanceSampler(pairs, 2)
    assert (pairs.distance[s.sample(torch.Generator().manual_seed(0), 1000).numpy()] >= 2).all()
    with pytest.raises(InputError, match="no pairs with distance >= 9"):
        LongDistanceSampler(pairs, 9)


def test_generalisation_split_holds_out_ancestor_pairs_only():
    h = perfect_tree(4, 3)
    sp = split_pairs(h, mode="generalisation", holdout=0.3, seed=0)
    assert len(sp.train) + len(sp.eval) == h.closure().n_pairs
    assert (sp.eval.distance > 0).all() and len(sp.eval) > 0
    assert (sp.train.distance == 0).sum() == h.n


def test_eval_mask_marks_exactly_the_held_out_pairs():
    h = random_dag(nodes=80, depth=5, parents=3, p_extra=0.5, seed=4)
    sp = split_pairs(h, mode="generalisation", holdout=0.3, seed=1)
    mask = sp.eval_mask()
    c = sp.train.closure
    got = set(zip(c.query[mask].tolist(), c.doc[mask].tolist()))
    assert got == set(zip(sp.eval.query.tolist(), sp.eval.doc.tolist()))
    assert split_pairs(h).eval_mask() is None
