"""One results store shared by several processes at once (the app and the command line).

Real OS processes: two writers, a reader beside a training run, a training killed with SIGKILL,
and the app server with a CLI training on its store. Nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hrviz.store import Store

ROOT = Path(__file__).resolve().parents[1]

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


def _hrviz(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hrviz", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kw)


def _train(db: Path, steps: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hrviz", "train", "tree:H=4,W=4", "--dim", "8",
                             "--steps", str(steps), "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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
    out = _hrviz("train", "tree:H=3,W=3", "--dim", "4", "--steps", "20", "--json", env=env)
    assert out.returncode == 0, out.stderr
    rid = json.loads(out.stdout.strip().splitlines()[-1])["run_id"]
    listed = _hrviz("runs", env=env)
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
    proc = _train(db, 100_000)
    try:
        rid = _wait_for_rows(db)
        listed = _hrviz("runs", "--db", str(db), "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["status"] for r in json.loads(listed.stdout)] == ["running"]
        assert proc.poll() is None  # the training went on
    finally:
        proc.kill()
        proc.wait()
    assert rid == 1


def test_killed_training_reads_as_interrupted(tmp_path):
    db = tmp_path / "hrviz.duckdb"
    proc = _train(db, 100_000)
    rid = _wait_for_rows(db)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    listed = _hrviz("runs", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["run_id"] == rid and run["status"] == "interrupted"
    with Store(db) as s:
        assert len(s.metrics(rid)) >= 1  # what was written is kept


@pytest.mark.browser
def test_app_and_cli_share_one_store(streamlit_server, page):
    """The app server has the store open (a page was served) while the CLI trains on it."""
    from test_browser import open_page

    db = streamlit_server["db"]
    open_page(page, streamlit_server)  # the app really opens the store
    before = len(Store(db, read_only=True).runs())
    trained = _hrviz("train", "tree:H=4,W=4", "--dim", "8", "--steps", "300", "--db", str(db),
                     "--json")
    assert trained.returncode == 0, trained.stderr
    rid = json.loads(trained.stdout.strip().splitlines()[-1])["run_id"]
    listed = _hrviz("runs", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    open_page(page, streamlit_server)
    with Store(db, read_only=True) as s:
        assert len(s.runs()) == before + 1
        assert s.run(rid)["status"] == "finished"
        assert len(s.metrics(rid)) > 0 and len(s.final_recall(rid)) > 0


def test_the_train_page_watches_a_run_a_cli_process_trains(tmp_path, monkeypatch, tiny_demo):
    from conftest import seed_demo
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "shared.duckdb"
    seed_demo(db)  # a store as a first start leaves it
    proc = _train(db, steps=1_000_000)  # a terminal's run on the app's store
    try:
        deadline, rid = time.monotonic() + 120, None
        while rid is None and time.monotonic() < deadline:  # the terminal run's row, once it logs
            with Store(db, read_only=True) as s:
                running = s.runs(status="running")
                if len(running) and len(s.metrics(int(running["run_id"].iloc[0]))):
                    rid = int(running["run_id"].iloc[0])
            time.sleep(0.2)
        assert rid is not None, "the terminal run never logged"
        monkeypatch.setenv("HRVIZ_DB", str(db))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        at.switch_page("pages/2_train.py").run()
        assert not at.exception, at.exception
        assert any(f"Run #{rid} is training in another process" in i.value for i in at.info)
        at.button(key="t_watch").click().run()
        assert not at.exception, at.exception
        assert at.session_state["run_id"] == rid
        bars = [b.proto.text for b in at.get("progress")]
        assert any(f"Run #{rid}" in t and "running" in t for t in bars), bars
    finally:
        proc.kill()
        proc.wait()
    with Store(db) as s:  # the killed terminal run is not left "running"
        assert s.run(rid)["status"] == "interrupted"
