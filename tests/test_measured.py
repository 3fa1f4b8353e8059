"""Home's full-WordNet rows come from a data file shipped in the package
(hrviz/measurements/wordnet_paper.jsonl, read by hrviz.measured): three rows and one sentence of
conclusion, every line (a new one too, without a code change) in the full map behind them, and a
broken line reported in words."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hrviz import measured
from hrviz.paper import WORDNET
from tests.helpers import APP, ROOT

ROW = {"setting": "pf-1000", "what": "pretrain-finetune, the regime's finetune", "seed": 0,
       "config": {"dim": 64, "recipe": "pretrain-finetune", "regime": "paper", "steps": 1000},
       "recall_by_distance": {str(d): 0.9 - d / 100 for d in range(9)}, "overall": 0.91, "min": 0.82,
       "train_seconds": 1500.0}


def test_the_shipped_file_is_package_data_and_reads():
    assert "measurements/*.jsonl" in (ROOT / "pyproject.toml").read_text()
    runs = measured.wordnet_paper()
    assert runs, "hrviz/measurements/wordnet_paper.jsonl ships measured rows"
    for run in runs:
        assert run.config.get("regime") == "paper" and run.config.get("dim") == 64
        assert set(run.recall_by_distance) == set(range(9)) and 0 <= run.overall <= 1
        assert run.command.startswith("python ")


def test_a_line_becomes_a_run_with_a_command_and_a_table_row(tmp_path):
    path = tmp_path / "m.jsonl"
    logq = {**ROW, "setting": "logq", "what": "", "command": "python -m hrviz train wordnet --logq",
            "config": {**ROW["config"], "recipe": "standard", "logq": 1.0}}
    path.write_text(json.dumps(ROW) + "\n\n" + json.dumps(logq) + "\n")
    pf, lq = measured.read(path)
    assert pf.recall_by_distance[8] == pytest.approx(0.82) and pf.min == 0.82 and pf.seconds == 1500.0
    assert pf.command == "python bench/wordnet_paper.py --only pf-1000"
    assert pf.label == "hrviz pf-1000: pretrain-finetune, the regime's finetune"
    assert lq.logq == 1.0 and lq.label == "hrviz logq: standard + logQ 1, 1,000 steps"
    assert lq.command == "python -m hrviz train wordnet --logq"
    assert (pf.name, lq.name) == ("hrviz pf-1000", "hrviz logq")
    table = measured.table([pf, lq], {"paper, d=64: standard": WORDNET[(64, "standard")]})
    assert list(table["row"]) == ["paper, d=64: standard", pf.name, lq.name]
    assert list(table.columns) == ["row", *(f"d{d}" for d in range(9)), "min", "overall", "what", "seconds",
                                   "command"]
    assert table.loc[0, "d8"] == WORDNET[(64, "standard")]["recall_by_distance"][8]
    assert table.loc[1, "what"] == "pretrain-finetune, the regime's finetune"
    assert measured.table([pf], percent=True).loc[0, "d8"] == 82.0
    assert len(measured.frame([pf, lq])) == 18
    assert measured.read(tmp_path / "none.jsonl") == []
    path.write_text(json.dumps(ROW) + "\n{broken\n")
    with pytest.raises(ValueError, match="m.jsonl, line 2"):
        measured.read(path)


def test_home_shows_every_row_of_the_file(app_env, tmp_path, monkeypatch):
    path = tmp_path / "wordnet_paper.jsonl"
    shipped = measured.wordnet_paper()
    new = {**ROW, "setting": "brand-new"}
    path.write_text("".join(json.dumps({"setting": r.setting, "what": r.what, "config": r.config,
                                        "recall_by_distance": r.recall_by_distance, "overall": r.overall})
                            + "\n" for r in shipped) + json.dumps(new) + "\n")
    monkeypatch.setattr(measured, "WORDNET_PAPER", path)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    assert any(h.value.endswith(" · Full WordNet (82,115 nodes), measured offline") for h in at.header)
    assert len(at.dataframe[0].value) == 3  # the three rows
    full = [e for e in at.expander if e.label.startswith("The full map: every measured setting")]
    assert len(full) == 1 and full[0].label.endswith(f"({len(shipped) + 1})")
    shown = full[0].dataframe[0].value
    assert list(shown["row"])[:2] == ["paper: standard", "paper: pretrain-finetune"]
    assert list(shown["row"])[2:] == [r.name for r in shipped] + ["hrviz brand-new"]
    assert list(shown["d0"])[-1] == 90.0  # in %
    assert any("--only brand-new" in c.value for c in at.code)
    path.write_text("{broken\n")
    at.run()
    assert any("could not be read" in w.value and "line 1" in w.value for w in at.warning)
    assert any("No measured full-WordNet runs" in i.value for i in at.info)


PAPER = {"standard": WORDNET[(64, "standard")], "pretrain-finetune": WORDNET[(64, "pretrain-finetune")]}


def test_home_tells_full_wordnet_in_three_rows_and_one_sentence():
    """The paper's two rows beside hrviz's runs in the paper regime, and the logQ row; the numbers
    are the shipped file's (bench/results/wordnet_paper.md has the same)."""
    runs = measured.wordnet_paper()
    rows = measured.home_rows(runs, PAPER)
    assert list(rows["row"]) == ["standard", "pretrain-finetune", "logQ correction, one stage"]
    assert list(rows["hrviz setting"]) == ["std-1000", "pf-dup", "std-logq"]
    assert list(rows["paper: distance 8"][:2]) == [19.4, 75.7] and pd.isna(rows["paper: distance 8"][2])
    assert list(rows["hrviz: distance 8"]) == [0.6, 0.7, 76.5]
    assert list(rows["hrviz: distance 0"]) == [96.8, 96.8, 48.7]
    assert list(rows["hrviz: overall"]) == [40.4, 40.4, 86.1]
    sentence = measured.conclusion(runs, PAPER["pretrain-finetune"])
    assert sentence == ("In the paper regime, pretrain-finetune does not repair full WordNet (distance 8 at "
                        "0.7% after the finetune, where the paper reports 75.7%); the logQ correction does, in "
                        "one stage (distance 8 at 76.5%), at a cost at distance 0 (48.7%, against 96.8% "
                        "without it).")
    note = measured.note(runs)
    assert "learning rate x 0.1, temperature 500, no distance-0 anchor (not today's default" in note
    assert "pf-s1024" in note and "90.5% overall" in note  # hrviz's best setting, outside the regime
    frame = measured.home_frame(runs)
    assert sorted(set(frame["run"])) == ["hrviz: logQ correction, one stage", "hrviz: pretrain-finetune",
                                         "hrviz: standard"] and len(frame) == 27
    # a file without those settings: rows say so, no sentence
    other = [r for r in runs if r.setting != "std-logq"]
    assert measured.conclusion(other, PAPER["pretrain-finetune"]) is None
    assert measured.home_rows(other, PAPER)["hrviz setting"][2] == "std-logq (not measured)"
