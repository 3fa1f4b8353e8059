"""hrviz.cli.runs: the train, eval, runs and export commands, their JSON and their errors."""

from __future__ import annotations

import json

import numpy as np


def test_cli_train_eval_runs_export(tmp_path, capsys):
    from hrviz.cli import main

    db = str(tmp_path / "c.duckdb")
    assert main(["train", "tree:H=3,W=3", "--dim", "4", "--recipe", "standard", "--steps", "100",
                 "--db", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"run_id", "recipe", "dim", "metric", "recall_by_distance", "overall", "min", "seconds"} <= set(out)
    assert out["metric"] == "recall@auto" and out["recipe"] == "standard" and out["dim"] == 4
    assert set(out["recall_by_distance"]) == {"0", "1", "2"}
    assert main(["eval", str(out["run_id"]), "--db", db, "--json", "--k", "2"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["metric"] == "recall@2"
    assert main(["runs", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["run_id"] == out["run_id"]
    assert main(["export", str(out["run_id"]), "--db", db, "--format", "projector", "--out", str(tmp_path / "p")]) == 0
    vec = np.loadtxt(tmp_path / "p" / f"run{out['run_id']}_vectors.tsv", delimiter="\t")
    assert vec.shape == (2 * 13, 4)
    assert main(["eval", "999", "--db", db]) == 2
    assert "no run 999" in capsys.readouterr().err
    assert main(["eval", str(out["run_id"]), "--db", db, "--k", "abc"]) == 2
    assert "--k must be auto or an integer" in capsys.readouterr().err
