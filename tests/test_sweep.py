"""Sweeps: spec parsing and its errors, one run per cell tagged with the sweep, resuming."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hrviz.errors import InputError
from hrviz.store import Store
from hrviz.sweep import finished_cells, parse_spec, run_sweep, sweep_runs

SPEC = """
name = "small"
[fixed]
source = "tree:H=3,W=3"
dim = 4
steps = 30
finetune_steps = 10
eval_every = 10
[grid]
recipe = ["standard", "pretrain-finetune"]
seed = [0, 1]
"""


def test_spec_is_the_cartesian_product_with_fixed_values():
    spec = parse_spec(SPEC)
    assert spec.name == "small" and len(spec.cells) == 4
    assert {(c.config.recipe, c.config.seed) for c in spec.cells} == {
        ("standard", 0), ("standard", 1), ("pretrain-finetune", 0), ("pretrain-finetune", 1)}
    assert all(c.config.dim == 4 and c.source == "tree:H=3,W=3" for c in spec.cells)
    assert len({c.key for c in spec.cells}) == 4


@pytest.mark.parametrize("text, match", [
    ("[grid]\nseed=[0]", "needs a name"),
    ('name="x"\n[grid]\nsource=["tree:H=3,W=2"]\nwarp=[1]', "unknown key 'warp'"),
    ('name="x"\n[grid]\nsource="tree:H=3,W=2"', "must be a non-empty list"),
    ('name="x"\n[fixed]\ndim=3', "no source"),
    ('name="x"\n[fixed]\nsource="t"\n[grid]\nsource=["u"]', "both fixed and in the grid"),
    ('name = "x', "not valid TOML"),
])
def test_spec_errors_name_the_problem(text, match):
    with pytest.raises(InputError, match=match):
        parse_spec(text, where="spec.toml")


def test_sweep_trains_each_cell_once_and_resumes(tmp_path):
    db = str(tmp_path / "s.duckdb")
    spec = parse_spec(SPEC)
    first = run_sweep(spec, db)
    assert len(first["trained"]) == 4 and first["skipped"] == 0 and not first["failed"]
    again = run_sweep(spec, db)
    assert again["trained"] == [] and again["skipped"] == 4
    # a grown grid trains only the new cells
    grown = parse_spec(SPEC.replace("seed = [0, 1]", "seed = [0, 1, 2]"))
    third = run_sweep(grown, db)
    assert len(third["trained"]) == 2 and third["skipped"] == 4
    with Store(db) as store:
        runs = sweep_runs(store, "small")
        assert len(runs) == 6 and set(runs["status"]) == {"finished"}
        assert sorted(runs["seed"].tolist()) == [0, 0, 1, 1, 2, 2]
        params = store.run(int(runs["run_id"].iloc[0]))["params"]
        assert params["sweep"]["name"] == "small"


def test_a_failed_cell_is_recorded_and_trained_again(tmp_path):
    db = str(tmp_path / "s.duckdb")
    bad = parse_spec(SPEC.replace('source = "tree:H=3,W=3"', 'source = "tree:H=3,W=3"\nlong_threshold = 9'))
    out = run_sweep(bad, db)
    # standard ignores the threshold; pretrain-finetune has no pairs at distance >= 9
    assert len(out["trained"]) == 2 and len(out["failed"]) == 2
    assert "no pairs with distance >= 9" in out["failed"][0][1]
    with Store(db) as store:
        assert len(finished_cells(store, "small")) == 2
        assert set(store.runs()["status"]) == {"finished", "failed"}
    fixed = run_sweep(bad, db)  # the failure is real: it fails again rather than being skipped
    assert fixed["skipped"] == 2 and len(fixed["failed"]) == 2


def test_cli_sweep_json_and_dry_run(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("seed = [0, 1]", "seed = [0]"))
    db = str(tmp_path / "s.duckdb")
    cmd = [sys.executable, "-m", "hrviz", "sweep", str(spec), "--db", db]
    done = subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True)
    res = json.loads(done.stdout.strip().splitlines()[-1])
    assert res["cells"] == 2 and len(res["trained"]) == 2
    dry = subprocess.run(cmd + ["--dry-run", "--json"], capture_output=True, text=True, check=True)
    cells = json.loads(dry.stdout.strip().splitlines()[-1])["cells"]
    assert all(c["run_id"] in res["trained"] for c in cells)
    bad = subprocess.run([sys.executable, "-m", "hrviz", "sweep", str(tmp_path / "none.toml")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "cannot read the sweep spec" in bad.stderr
