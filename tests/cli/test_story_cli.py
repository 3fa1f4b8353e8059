"""python -m hrviz story SOURCE: the four chapters with the defaults, one sentence each, found
again in the store (a second call trains nothing)."""

from __future__ import annotations

import json
import subprocess
import sys


def story(*args, db):
    out = subprocess.run([sys.executable, "-m", "hrviz", "story", *args, "--db", str(db), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_story_trains_four_chapters_and_states_each(tmp_path):
    db = tmp_path / "s.duckdb"
    res = story("tree:H=4,W=3", "--max-distance", "3", db=db)
    chapters = {c["chapter"]: c for c in res["chapters"]}
    assert list(chapters) == ["lost", "repaired", "corrected", "cause-removed"]
    assert chapters["lost"]["regime"] == "paper" and chapters["cause-removed"]["regime"] == "exact"
    assert chapters["corrected"]["logq"] == 1.0 and chapters["repaired"]["recipe"] == "pretrain-finetune"
    assert set(res["sentences"]) == set(chapters)
    for key, text in res["sentences"].items():
        assert "%" in text, (key, text)  # the numbers are in the sentence
    assert all(isinstance(c["verdict"], list) and c["verdict"] for c in res["chapters"])
    again = story("tree:H=4,W=3", "--max-distance", "3", db=db)  # found in the store: no new runs
    assert [c["run_id"] for c in again["chapters"]] == [c["run_id"] for c in res["chapters"]]


def test_train_json_carries_a_verdict_and_the_stages(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hrviz", "train", "tree:H=3,W=3", "--db", str(tmp_path / "t.duckdb"),
                          "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["verdict"] and res["verdict"][0]["code"] == "good"
    assert set(res["stages"]) == {"pretrain", "finetune"} and "kept_pretrained" in res["stages"]["finetune"]
