"""The Study page's layer: cell tables of a sweep, phase frames and their heatmap."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hrviz.charts.study import SELECTION, phase_chart, phase_frame
from hrviz.sweep import cell_table, varying_keys


def runs() -> pd.DataFrame:
    rows = []
    rid = 0
    for regime in ("paper", "exact"):
        for recipe in ("standard", "pretrain-finetune"):
            for seed in (0, 1):
                rid += 1
                d8 = {"paper": {"standard": 0.1, "pretrain-finetune": 0.8}, "exact": {"standard": 1.0,
                      "pretrain-finetune": 1.0}}[regime][recipe] + 0.02 * seed
                rows.append({"run_id": rid, "status": "finished", "overall": 0.5, "min": d8, "seconds": 1.0,
                             "recall_by_distance": json.dumps({"0": 1.0, "8": d8}),
                             "regime": regime, "recipe": recipe, "seed": seed, "dim": 64})
    rows.append({**rows[0], "run_id": 99, "status": "failed", "recall_by_distance": None, "min": None})
    return pd.DataFrame(rows)


def test_cell_table_keeps_finished_runs_and_spreads_recall_by_distance():
    cells = cell_table(runs())
    assert len(cells) == 8 and 99 not in cells["run_id"].tolist()
    assert {"d0", "d8"} <= set(cells.columns) and "d3" not in cells.columns
    assert varying_keys(cells) == ["regime", "recipe"]  # seed is averaged, dim is fixed


def test_phase_frame_means_over_seeds_and_lists_run_ids():
    frame = phase_frame(cell_table(runs()), "regime", "recipe", "d8")
    cell = frame[(frame.row == "paper") & (frame.col == "standard")].iloc[0]
    assert cell["mean"] == pytest.approx(0.11) and cell["seeds"] == 2 and cell["run_ids"] == [1, 2]
    assert cell["label"] == "11"
    only = phase_frame(cell_table(runs()), "regime", "seed", "min", where={"recipe": "standard"})
    assert set(only["col"]) == {"0", "1"} and len(only) == 4
    with pytest.raises(ValueError):
        phase_frame(cell_table(runs()), "regime", "regime")


def test_phase_chart_is_a_clickable_heatmap_of_the_means():
    frame = phase_frame(cell_table(runs()), "regime", "recipe", "min")
    spec = phase_chart(frame, rows="regime", cols="recipe").to_dict()
    assert spec["layer"][0]["mark"]["type"] == "rect"
    params = spec.get("params") or spec["layer"][0]["params"]
    assert params[0]["name"] == SELECTION
    data = next(iter(spec["datasets"].values()))
    assert sorted(round(d["mean"], 2) for d in data) == [0.11, 0.81, 1.01, 1.01]
