"""Text encoders, node text, free-text checks and text towers (fast: hashing features)."""

import numpy as np
import pytest

from hrviz.models.text import check_text, clean_name, encode_free_text, node_texts, zero_shot
from hrviz.models.text_encoders import HashingEncoder
from hrviz.models.text_fit import TowerConfig, fit_text, holdout_leaves
from hrviz.errors import InputError
from hrviz.sources.synthetic import perfect_tree
from hrviz.training import TrainConfig


def test_hashing_is_deterministic_and_unit():
    a = HashingEncoder(64).encode(["golden retriever", "dog"])
    b = HashingEncoder(64).encode(["golden retriever", "dog"])
    assert a.dtype == np.float32 and a.shape == (2, 64)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, rtol=1e-5)


def test_clean_name_and_node_text():
    assert clean_name("golden_retriever.n.01") == "golden retriever"
    h = perfect_tree(3, 2)
    assert all(t for t in node_texts(h))


@pytest.mark.parametrize("bad", ["", "   ", "x" * 100_000, "dog\x00cat", "a\x1bb"])
def test_bad_free_text_is_a_clear_input_error(bad):
    with pytest.raises(InputError) as e:
        encode_free_text("hashing", [bad])
    assert "text" in str(e.value) and e.value.hint


def test_good_free_text_is_normalised():
    assert check_text("  golden\tretriever\npuppy ") == "golden retriever puppy"


def test_tower_beats_zero_shot_on_a_small_tree():
    h = perfect_tree(4, 3)
    zs = zero_shot(h, "hashing:dim=64", cache_dir=None, ranks=False).evaluation.overall
    r = fit_text(h, "hashing:dim=64", TrainConfig(dim=16, recipe="standard", steps=150, eval_every=150),
                 TowerConfig(head="linear"), cache_dir=None)
    assert r.seen.overall > zs + 0.2


def test_holdout_never_trains_held_out_nodes():
    h = perfect_tree(4, 3)
    held = holdout_leaves(h, 0.2, seed=0)
    assert len(held) == round(0.2 * len(h.leaves)) and set(held) <= set(h.leaves.tolist())
    seen_events = []
    r = fit_text(h, "hashing:dim=64", TrainConfig(dim=16, recipe="standard", steps=20, eval_every=20),
                 TowerConfig(head="linear"), holdout_nodes=0.2, cache_dir=None, callback=seen_events.append)
    np.testing.assert_array_equal(r.heldout_nodes, held)
    # held-out rows keep a zero residual: nothing of theirs was trained
    assert float(r.tower.res_q[held].abs().sum()) == 0 and float(r.tower.res_d[held].abs().sum()) == 0
    assert r.heldout.n_queries == len(held)
    assert "seen" in r.summary()


def test_wordllama_nearest_neighbour():
    pytest.importorskip("wordllama")
    x = encode_free_text("wordllama", ["dog", "puppy", "carburetor", "tax"])
    s = x @ x.T
    assert int(np.argsort(-s[0])[1]) == 1
