"""hrviz.models.dual_encoder: save/load round trip and the hierarchy check."""

from __future__ import annotations

import numpy as np
import pytest

from hrviz.errors import InputError
from hrviz.models.dual_encoder import DualEncoder
from hrviz.sources import perfect_tree


def test_save_load_round_trip_and_hierarchy_check(tmp_path):
    h = perfect_tree(3, 2)
    m = DualEncoder(h.n, 4, seed=0)
    path = m.save(tmp_path / "m.safetensors", hierarchy_hash=h.hash, source="tree:H=3,W=2", params={"dim": 4})
    m2 = DualEncoder.load(path)
    np.testing.assert_array_equal(m.query_vectors(), m2.query_vectors())
    assert m2.meta["params"] == {"dim": 4} and m2.meta["source"] == "tree:H=3,W=2"
    m2.check_hierarchy(h.hash)
    with pytest.raises(InputError, match="another hierarchy"):
        m2.check_hierarchy(perfect_tree(3, 3).hash)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(InputError, match="not a readable hrviz model"):
        DualEncoder.load(junk)
