"""Run gensim's PoincareModel on a closure TSV (child<TAB>ancestor); print a JSON line.

Runs inside a separate environment that has gensim (never hrviz's): called by
``bench/hyperbolic.py`` as ``GENSIM_PYTHON bench/hyperbolic_gensim.py PAIRS.tsv OUT.npz DIM EPOCHS [OTHER.npz]``; OTHER.npz
(names, x) holds another model's points, scored by gensim's ReconstructionEvaluation too.
"""
import json
import sys
import time

import numpy as np
from gensim.models.poincare import PoincareKeyedVectors, PoincareModel, PoincareRelations, ReconstructionEvaluation

tsv, out, dim, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
relations = PoincareRelations(tsv, delimiter="\t")
t0 = time.perf_counter()
model = PoincareModel(relations, size=dim, negative=10, burn_in=10, workers=1, seed=0)
model.train(epochs=epochs, batch_size=10)
seconds = time.perf_counter() - t0
t1 = time.perf_counter()
ev = ReconstructionEvaluation(tsv, model.kv).evaluate(max_n=None)
names = list(model.kv.index_to_key)
np.savez(out, names=np.array(names), x=np.stack([model.kv[n] for n in names]))
res = {"seconds": seconds, "mean_rank": ev["mean_rank"], "map": ev["MAP"], "eval_seconds": time.perf_counter() - t1}
if len(sys.argv) > 5:
    other = np.load(sys.argv[5])
    kv = PoincareKeyedVectors(dim, 0, dtype=np.float64)  # empty: add_vectors appends
    kv.add_vectors([str(n) for n in other["names"]], other["x"].astype(np.float64))
    ev2 = ReconstructionEvaluation(tsv, kv).evaluate(max_n=None)
    res.update(other_mean_rank=ev2["mean_rank"], other_map=ev2["MAP"])
print(json.dumps(res))
