"""Data-parallel training: 2 CPU processes (gloo) under torch.distributed.run against one process
with the same total batch.

The ranks draw different pairs (seeded by rank) than the single process, so the runs are
not bitwise equal: the test states a tolerance on the final exact recall, |overall_2 -
overall_1| <= 0.08, and checks that only rank 0 wrote a run to the store.
"""

import json
import subprocess
import sys

import pytest

from hrviz.evaluate import evaluate
from hrviz.sources import load_source
from hrviz.training import TrainConfig, fit
from tests.helpers import free_port

ARGS = ["tree:H=4,W=4", "--dim", "4", "--recipe", "standard", "--steps", "120", "--batch-size", "128",
        "--device", "cpu", "--eval-every", "60"]


@pytest.mark.parametrize("negatives", ["full", "sampled"])
def test_two_ranks_match_one_process(tmp_path, negatives):
    """Full negatives all-reduce the document table's gradient; sampled ones all-gather the rows
    each rank touched (shapes the same on every rank: nothing compacted)."""
    db = tmp_path / "d.duckdb"
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                        "-m", "hrviz", "train", *ARGS, "--negatives", negatives, "--n-negatives", "30",
                        "--distributed", "--json", "--db", str(db)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    outs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(outs) == 1 and outs[0]["world_size"] == 2 and outs[0]["run_id"] == 1  # rank 0 only
    h = load_source("tree:H=4,W=4")
    one = fit(h, TrainConfig(dim=4, recipe="standard", steps=120, batch_size=128, device="cpu", eval_every=60,
                             negatives=negatives, n_negatives=30))
    ev = evaluate(one.model.query_vectors(), one.model.doc_vectors(), h.closure())
    assert abs(outs[0]["overall"] - ev.overall) <= 0.08, (outs[0]["overall"], ev.overall)
