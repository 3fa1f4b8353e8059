"""One results store shared by several processes at once (the command line, other writers).

Real OS processes: two writers, a reader beside a training run, a training killed with SIGKILL
(the app beside a CLI training: tests/app/test_shared_store.py). Nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hrviz.store import Store
from tests.helpers import ROOT, hrviz_cli, start_cli_training

WRITER = """
import sys
from hrviz.store import Store
s = Store(sys.argv[1])
rid = s.create_run(source="tree:H=3,W=2", hierarchy_hash="h", recipe="standard", dim=4, seed=0,
                   params={})
for step in range(200):
    s.log_metrics(rid, "train", step, {"loss": 1.0 / (step + 1)})
s.finish_run(rid, status="finished")
print(rid)
"""


def _wait_for_rows(db: Path, at_least: int = 1, timeout: float = 120) -> int:
    """The id of the first run once it has logged ``at_least`` metric rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with Store(db, read_only=True) as s:
                runs = s.runs()
                if len(runs) and len(s.metrics(int(runs["run_id"].iloc[-1]))) >= at_least:
                    return int(runs["run_id"].iloc[-1])
        time.sleep(0.2)
    raise TimeoutError("the training wrote nothing")


def test_the_cli_uses_the_apps_store_from_hrviz_db(tmp_path):
    db = tmp_path / "app" / "hrviz.duckdb"  # what the app opens with HRVIZ_DB set
    env = {**os.environ, "HRVIZ_DB": str(db)}
    out = hrviz_cli("train", "tree:H=3,W=3", "--dim", "4", "--steps", "20", "--json", env=env)
    assert out.returncode == 0, out.stderr
    rid = json.loads(out.stdout.strip().splitlines()[-1])["run_id"]
    listed = hrviz_cli("runs", env=env)
    assert listed.returncode == 0 and f"{rid}" in listed.stdout and "finished" in listed.stdout
    with Store(db, read_only=True) as s:
        assert list(s.runs()["run_id"]) == [rid]  # the run went to $HRVIZ_DB, not results/


def test_two_writer_processes_lose_no_row(tmp_path):
    db = tmp_path / "hrviz.duckdb"
    Store(db).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    ids = [int(out) for out, _ in outs]
    with Store(db, read_only=True) as s:
        for rid in ids:
            assert len(s.metrics(rid)) == 200
            assert s.run(rid)["status"] == "finished"


def test_reader_lists_runs_while_a_training_writes(tmp_path):
    db = tmp_path / "hrviz.duckdb"
    proc = start_cli_training(db, 100_000)
    try:
        rid = _wait_for_rows(db)
        listed = hrviz_cli("runs", "--db", str(db), "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["status"] for r in json.loads(listed.stdout)] == ["running"]
        assert proc.poll() is None  # the training went on
    finally:
        proc.kill()
        proc.wait()
    assert rid == 1


def test_killed_training_reads_as_interrupted(tmp_path):
    db = tmp_path / "hrviz.duckdb"
    proc = start_cli_training(db, 100_000)
    rid = _wait_for_rows(db)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    listed = hrviz_cli("runs", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["run_id"] == rid and run["status"] == "interrupted"
    with Store(db) as s:
        assert len(s.metrics(rid)) >= 1  # what was written is kept
