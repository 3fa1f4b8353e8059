"""One results store shared by the app and the command line at once: the app server has the store
open while the CLI trains on it, and the Train page watches a run a CLI process trains (real OS
processes; the store-only cases are in tests/store/test_shared_store.py). Nothing here asserts a
time.
"""

from __future__ import annotations

import json
import time

import pytest

from hrviz.store import Store
from tests.helpers import APP, hrviz_cli, open_page, seed_demo, start_cli_training


@pytest.mark.browser
def test_app_and_cli_share_one_store(streamlit_server, page):
    """The app server has the store open (a page was served) while the CLI trains on it."""
    db = streamlit_server["db"]
    open_page(page, streamlit_server)  # the app really opens the store
    before = len(Store(db, read_only=True).runs())
    trained = hrviz_cli("train", "tree:H=4,W=4", "--dim", "8", "--steps", "300", "--db", str(db),
                     "--json")
    assert trained.returncode == 0, trained.stderr
    rid = json.loads(trained.stdout.strip().splitlines()[-1])["run_id"]
    listed = hrviz_cli("runs", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    open_page(page, streamlit_server)
    with Store(db, read_only=True) as s:
        assert len(s.runs()) == before + 1
        assert s.run(rid)["status"] == "finished"
        assert len(s.metrics(rid)) > 0 and len(s.final_recall(rid)) > 0


def test_the_train_page_watches_a_run_a_cli_process_trains(tmp_path, monkeypatch, tiny_demo):
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "shared.duckdb"
    seed_demo(db)  # a store as a first start leaves it
    proc = start_cli_training(db, steps=1_000_000)  # a terminal's run on the app's store
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
        at = AppTest.from_file(APP, default_timeout=60).run()
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
