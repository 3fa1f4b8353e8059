"""Published numbers of You et al., "Hierarchical Retrieval: The Geometry and a
Pretrain-Finetune Recipe" (NeurIPS 2025, arXiv 2509.16411), as reference marks.

Recall values are fractions in [0, 1]. ``overall`` pools all relevant pairs; ``min`` is
the minimum over distances. Only the cells the paper reports are filled in.
"""

from __future__ import annotations

# Synthetic perfect tree H=4, W=5, d=3 (overall recall; per-distance values where reported). H counts
# levels, as in the paper and in hrviz's tree:H=..,W=..: 156 nodes; its tables report distances 0-2.
SYNTHETIC = {
    "setting": {"source": "tree:H=4,W=5", "dim": 3},
    "standard": {"overall": 0.66, "recall_by_distance": {0: 1.0}},
    "rebalanced": {"overall": 0.407, "recall_by_distance": {0: 0.028}},
    "pretrain-finetune": {"overall": 0.97, "recall_by_distance": {0: 1.0, 1: 1.0, 2: 1.0}},
}
SYNTHETIC_MAX_DISTANCE = 2  # its tables' distances, 0-2 (the cap of PAPER_SYNTHETIC, hrviz/training/config.py)

_WN = {
    (32, "standard"): [100.0, 90.8, 79.2, 62.3, 46.4, 31.8, 20.1, 14.8, 8.4, 8.4, 61.8],
    (32, "pretrain-finetune"): [100.0, 77.3, 76.5, 80.4, 83.5, 84.2, 84.3, 80.1, 67.3, 67.3, 87.3],
    (64, "standard"): [100.0, 93.9, 86.9, 76.8, 60.2, 46.8, 36.1, 28.8, 19.4, 19.4, 71.4],
    (64, "pretrain-finetune"): [100.0, 90.8, 91.6, 92.7, 92.6, 91.8, 90.9, 87.3, 75.7, 75.7, 92.3],
}

# WordNet 3.0 nouns, pairs with distance <= 8: {(dim, recipe): {...}}
WORDNET = {
    key: {
        "recall_by_distance": {d: v / 100 for d, v in enumerate(row[:9])},
        "min": row[9] / 100,
        "overall": row[10] / 100,
    }
    for key, row in _WN.items()
}
WORDNET_MAX_DISTANCE = 8
WORDNET_NOUNS = 82_115  # noun synsets of WordNet 3.0: the paper's full WordNet

# Poincaré embeddings (Nickel & Kiela 2017), WordNet nouns reconstruction, d=10.
POINCARE_MAP_D10 = 0.87


def reference(source: str, dim: int, recipe: str, max_distance: int | None = None) -> dict | None:
    """The paper's numbers for a run's setting, or None when the paper has none."""
    if source == "tree:H=4,W=5" and dim == 3 and recipe in SYNTHETIC:
        return SYNTHETIC[recipe]
    if source == "wordnet" and max_distance == WORDNET_MAX_DISTANCE and (dim, recipe) in WORDNET:
        return WORDNET[(dim, recipe)]
    return None
