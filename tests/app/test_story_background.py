"""A first start that does not block: Home's story runs train in the background (one job per
process and store), every other page works at once, Home shows the progress and then the runs.

The story's training is held at a gate (an Event that the patched ``fit`` waits on before it
trains) so "still training" is a state, not a race: the tests open the gate when they are done
looking. Each test has its own empty store (a new file: a new job registry in the process).
"""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from hrviz import story
from hrviz.jobs import Jobs
from hrviz.store import Store
from tests.helpers import APP, ROOT, app_at, free_port, wait_healthy



@pytest.fixture
def gate(monkeypatch, tiny_demo):
    """The story's runs (tiny configs) wait in ``fit`` until the returned Event is set; the
    calls that reached the gate are in ``gate.reached`` (one Event per call, in order)."""
    import hrviz.training as table_kind  # the table kind fits through hrviz.training.fit, looked up at each call

    real_fit = table_kind.fit
    opened = threading.Event()
    opened.reached = []

    def held_fit(h, cfg, *args, **kwargs):
        here = threading.Event()
        opened.reached.append(here)
        here.set()
        assert opened.wait(120), "the test never opened the gate"
        return real_fit(h, cfg, *args, **kwargs)

    monkeypatch.setattr(table_kind, "fit", held_fit)
    try:
        yield opened
    finally:
        opened.set()  # never leave a thread waiting for the next test


@pytest.fixture
def empty_store(tmp_path, monkeypatch):
    db = tmp_path / "first.duckdb"
    monkeypatch.setenv("HRVIZ_DB", str(db))
    yield db
    from hrviz_app.story import story_job

    job = story_job()
    if job is not None:  # the gate is open by now: let the runs end before the store goes
        job.wait(120)


app = app_at  # the app run once, then switched to a page


def wait_reached(gate, n: int) -> None:
    """Until ``n`` story runs wait at the gate (they start in the job's threads)."""
    deadline = threading.Event()
    for _ in range(600):
        if len(gate.reached) >= n:
            return
        deadline.wait(0.1)
    raise AssertionError(f"{len(gate.reached)} runs reached the gate, not {n}")


def progress_bars(at: AppTest) -> list:
    return [e.proto for e in at.get("progress")]


# ----------------------------------------------------------------------------- the library


def test_start_story_starts_one_job_however_many_ask_at_once(tmp_path, monkeypatch, tiny_demo):
    calls = []
    real = story.ensure_story
    release = threading.Event()

    def counted(store, **kwargs):
        calls.append(kwargs)
        assert release.wait(60)
        return real(store, **kwargs)

    monkeypatch.setattr(story, "ensure_story", counted)
    jobs = Jobs()
    with Store(tmp_path / "s.duckdb") as store:
        barrier = threading.Barrier(6)
        got = []

        def ask():
            barrier.wait()
            got.append(story.start_story(jobs, store))

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 6 and len({id(j) for j in got}) == 1
        job = got[0]
        assert job.kind == "story" and job.alive
        assert job.info["chapters"] == [ch.key for ch in story.ALL_CHAPTERS] and job.info["after"] == 0
        assert story.start_story(jobs, store, force=True) is job  # a live job is never replaced
        release.set()
        assert job.wait(120) and job.status == "done", job.error
        assert len(calls) == 1
        assert sorted(job.result) == sorted(ch.key for ch in story.ALL_CHAPTERS)
        assert story.start_story(jobs, store) is job  # ended, not forced: the same job, nothing new
        assert story.start_story(Jobs(), store) is None  # another registry: the store has them all
        again = story.start_story(jobs, store, force=True, seed=7)  # a re-run: a new job
        assert again is not job and again.info["force"] and again.info["after"] == max(job.result.values())
        assert again.wait(120) and again.status == "done" and len(calls) == 2
        assert len(store.runs()) == 2 * len(story.ALL_CHAPTERS)


def test_progress_reads_each_chapters_run_from_the_store(tmp_path):
    from dataclasses import asdict

    keys = [ch.key for ch in story.CHAPTERS][:3]  # lost, repaired, cause removed
    with Store(tmp_path / "p.duckdb") as store:
        old = store.create_run(source=story.SOURCE, hierarchy_hash="h", recipe="standard", dim=story.DIM,
                               seed=0, params=asdict(story.config(story.CHAPTERS[0])), name=story.NAME)
        assert [p.status for p in story.progress(store, keys, after=old)] == ["waiting"] * 3
        assert story.overall(story.progress(store, keys, after=old)) == 0.0

        def run(ch):
            cfg = story.config(story.CHAPTERS_BY_KEY[ch])
            return store.create_run(source=story.SOURCE, hierarchy_hash="h", recipe=cfg.recipe, dim=story.DIM,
                                    seed=0, params=asdict(cfg), name=story.NAME)

        rep, lost = run("repaired"), run("lost")
        store.log_metrics(rep, "pretrain", 30, {"loss": 1.0, "progress": 0.1})
        store.log_metrics(rep, "finetune", 450, {"loss": 1.0, "progress": 0.5})
        store.finish_run(lost, status="finished", summary={"overall": 0.7, "min": 0.1})
        other = store.create_run(source=story.SOURCE, hierarchy_hash="h", recipe="standard", dim=story.DIM,
                                 seed=0, params=asdict(story.config(story.CHAPTERS[0])), name="mine")
        states = {p.chapter.key: p for p in story.progress(store, keys, after=old)}
        assert (states["lost"].status, states["lost"].fraction, states["lost"].run_id) == ("finished", 1.0, lost)
        assert (states["repaired"].status, states["repaired"].fraction) == ("running", 0.5)
        assert states["cause-removed"].status == "waiting" and other not in {p.run_id for p in states.values()}
        # weighted by each chapter's seconds: lost all done, repaired half, cause removed nothing
        lost_s, rep_s, cause_s = (story.CHAPTERS_BY_KEY[k].seconds for k in keys)
        share = (lost_s + rep_s / 2) / (lost_s + rep_s + cause_s)
        assert story.overall(list(states.values())) == pytest.approx(share)
        assert story.progress_line([states[k] for k in keys]) == (
            f"Story runs, {share:.0%}: training: repaired 50% · waiting: cause removed · done: lost")
        store.finish_run(rep, status="failed", error="RuntimeError: boom\ntrace")
        failed = story.progress(store, ["repaired"], after=old)[0]
        assert failed.status == "failed" and failed.error.startswith("RuntimeError: boom")


# ----------------------------------------------------------------------------- the app


def test_pages_render_at_once_while_the_story_trains(empty_store, gate):
    from hrviz_app.story import story_job

    at = app("pages/1_hierarchy.py")
    wait_reached(gate, 2)  # the repair and the lost run, in two threads, held
    job = story_job()
    assert job is not None and job.alive and not gate.is_set()
    assert at.title[0].value == "Hierarchy"
    assert at.radio(key="h_mode").value and at.slider(key="h_H").value == 4
    assert {m.label: m.value for m in at.metric}["Nodes"] == "156"
    assert len(at.get("vega_lite_chart")) == 3
    at.slider(key="h_H").set_value(2).run()
    assert not at.exception and at.session_state["source"] == "tree:H=2,W=5"

    train = app("pages/2_train.py")
    assert train.title[0].value == "Train"
    assert not train.button(key="t_start").disabled and train.selectbox(key="t_recipe").value
    notes = [i.value for i in train.info]
    assert any("is one of Home's story runs, training in the background" in n for n in notes), notes
    assert not any("another process" in n for n in notes)  # they are this process's, not a terminal's
    assert job.alive and story_job() is job  # still the one job, still held

    # a terminal trains into the same store meanwhile: neither waits for the other
    import json
    import subprocess
    import sys

    cli = subprocess.run([sys.executable, "-m", "hrviz", "train", "tree:H=3,W=3", "--dim", "4", "--steps", "20",
                          "--db", str(empty_store), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    rid = json.loads(cli.stdout.strip().splitlines()[-1])["run_id"]
    assert job.alive and not gate.is_set()
    gate.set()
    assert job.wait(120) and job.status == "done", job.error
    from hrviz_app.resources import get_store

    runs = get_store().runs()
    assert len(runs) == len(story.ALL_CHAPTERS) + 1 and set(runs["status"]) == {"finished"} and rid in set(runs["run_id"])


def test_home_shows_progress_then_the_runs(empty_store, gate):
    from hrviz_app.resources import get_store
    from hrviz_app.story import story_job

    at = app()
    wait_reached(gate, 2)
    at.run()  # drawn again now that the two first runs are in the store
    assert not at.exception, at.exception
    notes = [i.value for i in at.info]
    assert any("First start" in n and "in the background" in n and story.SOURCE in n for n in notes)
    assert any("is training in the background" in n for n in notes)  # a chapter whose run trains
    assert any("starts when the run before it ends" in n for n in notes)  # cause removed waits
    bars = progress_bars(at)
    assert len(bars) == 1 and "training: " in bars[0].text and "waiting: cause removed" in bars[0].text
    assert not at.metric and len(at.get("vega_lite_chart")) == 2  # the task's tree, the measured WordNet runs
    assert at.button(key="home_rerun").disabled

    gate.set()
    job = story_job()
    assert job.wait(120) and job.status == "done", job.error
    at.run()
    assert not at.exception, at.exception
    assert not progress_bars(at)
    note = [i.value for i in at.info if "First start" in i.value]
    assert len(note) == 1 and "has just trained 7 (lost, repaired, cause-removed, corrected, tree-" in note[0]
    runs = story.story_runs(get_store())
    assert sorted(runs) == ["cause-removed", "corrected", "lost", "repaired"]
    assert {r["run_id"] for r in runs.values()} == {job.result[k] for k in runs}
    assert len(at.get("vega_lite_chart")) == 8  # the task, the tree, four chapters, together, measured
    assert f"Overall ({story.CHAPTERS_BY_KEY['lost'].short})" in {m.label for m in at.metric}
    tree = story.story_runs(get_store(), chapters=story.TREE_CHAPTERS)  # the session's hierarchy's
    assert at.session_state["run_id"] == max(r["run_id"] for r in tree.values())
    assert not at.button(key="home_rerun").disabled


def test_the_story_starts_once_per_store_however_many_sessions(empty_store, gate, monkeypatch):
    from hrviz_app.resources import get_store
    from hrviz_app.story import story_job

    calls = []
    real = story.ensure_story
    monkeypatch.setattr(story, "ensure_story", lambda *a, **k: calls.append(k) or real(*a, **k))
    first, second = app(), app()  # two sessions (two tabs) open Home
    wait_reached(gate, 2)
    third = app("pages/2_train.py")
    first.run()
    second.run()
    assert not first.exception and not second.exception and not third.exception
    assert len(calls) == 1
    running = get_store().runs(status="running")
    assert len(running) == 2 and set(running["name"]) == {story.NAME}  # the third waits its turn
    job = story_job()
    gate.set()
    assert job.wait(120) and job.status == "done", job.error
    first.run()
    app()
    assert len(calls) == 1 and len(gate.reached) == 7  # seven runs trained, once each
    assert len(get_store().runs()) == 7 and set(get_store().runs()["status"]) == {"finished"}


def test_a_failed_story_run_shows_on_home_and_the_other_pages_work(empty_store, monkeypatch, tiny_demo):
    import hrviz.training as table_kind  # the table kind fits through hrviz.training.fit, looked up at each call
    from hrviz_app.story import story_job

    real_fit = table_kind.fit

    def broken_fit(h, cfg, *args, **kwargs):
        if cfg.regime == "paper" and cfg.recipe == "standard" and cfg.dim == 64 and not cfg.logq:  # lost only
            raise RuntimeError("no memory left for the lost run")
        return real_fit(h, cfg, *args, **kwargs)

    monkeypatch.setattr(table_kind, "fit", broken_fit)
    app()
    job = story_job()
    assert job.wait(120) and job.status == "failed"
    at = app()
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "no memory left for the lost run" in warnings[0]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "*lost* run #" in errors[0] and "failed: RuntimeError" in errors[0]
    assert len(at.get("vega_lite_chart")) == 7  # the task, the tree, three chapters, together, measured
    hier = app("pages/1_hierarchy.py")
    assert hier.title[0].value == "Hierarchy" and not hier.warning
    assert story_job() is job  # a failed first start is not retried on every request


# ----------------------------------------------------------------------------- a real browser

HELD_SERVER = """
import os, sys, time
sys.path.insert(0, os.getcwd())  # the repository root: the package tests
from tests import helpers
import hrviz.training as table_kind  # the table kind fits through hrviz.training.fit, looked up at each call
from hrviz import story

helpers.full_story_config()  # as the tiny_demo fixture does
story.config = helpers.tiny_story_config  # the story's setting, few steps
real_fit, gate = table_kind.fit, sys.argv[1]

def held_fit(*args, **kwargs):  # each story run waits for the test's gate file
    while not os.path.exists(gate):
        time.sleep(0.05)
    return real_fit(*args, **kwargs)

table_kind.fit = held_fit
from streamlit.web import cli
sys.argv = ["streamlit", "run", "app.py", *sys.argv[2:]]
cli.main()
"""


@pytest.mark.browser
def test_a_fresh_server_serves_pages_while_the_story_trains_and_home_fills_in(browser, tmp_path):
    """In Chromium, on a fresh server with an empty store: the Hierarchy page renders while the
    story is held; Home shows the progress bar, and after the gate opens its charts appear
    without a reload (Home's fragment polls and reruns the page when a run ends)."""
    import os
    import subprocess
    import sys

    gate = tmp_path / "open"
    port = free_port()
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-c", HELD_SERVER, str(gate), "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, "HRVIZ_DB": str(tmp_path / "hrviz.duckdb")}, stdout=log,
        stderr=subprocess.STDOUT)
    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc, timeout=60)
        hier = context.new_page()
        hier.goto(f"http://127.0.0.1:{port}/hierarchy")
        hier.wait_for_selector(idle, timeout=60_000)
        assert hier.locator("h1").first.inner_text().strip() == "Hierarchy"
        assert hier.locator('[data-testid="stException"]').count() == 0
        hier.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000)
        home = context.new_page()
        home.goto(f"http://127.0.0.1:{port}/")
        bar = home.locator('[data-testid="stProgress"]')
        bar.first.wait_for(timeout=30_000)
        assert "training: " in bar.first.inner_text() and "waiting: cause removed" in bar.first.inner_text()
        assert not gate.exists()  # still held: the page above rendered while the story trains
        gate.touch()
        home.wait_for_function(  # the task, the tree, four chapters, together, measured; no reload
            "document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= 8", timeout=120_000)
        # the bar goes when the job ends (the page reruns itself): no reload
        home.wait_for_function("document.querySelectorAll('[data-testid=\"stProgress\"]').length == 0",
                               timeout=120_000)
        home.wait_for_selector(idle, timeout=60_000)
        assert "has just trained 7" in home.locator('[data-testid="stAlert"]').first.inner_text()
        assert home.locator('[data-testid="stException"]').count() == 0
    finally:
        gate.touch()
        context.close()
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
