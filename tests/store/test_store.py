"""Tests of the DuckDB results store (hrviz/store.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import duckdb
import numpy as np
import pandas as pd
import pytest

from hrviz.errors import InputError
from hrviz.store import DEFAULT_DB, RUN_COLUMNS, STALE_ERROR, STATUSES, Store
from tests.helpers import ROOT
EVIL = "it's \"quoted\" '; DROP TABLE runs; --"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "sub" / "hrviz.duckdb"


@pytest.fixture
def store(db):
    s = Store(db)
    yield s
    s.close()


def new_run(store: Store, **kw) -> int:
    args = dict(source="tree:H=4,W=2", hierarchy_hash="h1", recipe="standard", dim=8, seed=0,
                params={"lr": 0.1})
    args.update(kw)
    return store.create_run(**args)


def retrieval_frame(n_queries=3, k=4, with_distance=True) -> pd.DataFrame:
    rows = []
    for q in range(n_queries):
        for r in range(1, k + 1):
            rows.append({"query": f"q{q}", "rank": r, "doc": f"d{q}-{r}", "score": 1.0 / r,
                         "relevant": r % 2 == 1, "distance": r if r % 2 == 1 else None})
    frame = pd.DataFrame(rows)
    frame["distance"] = frame["distance"].astype("Int64")
    return frame if with_distance else frame.drop(columns="distance")


def test_constants():
    assert DEFAULT_DB == "results/hrviz.duckdb"
    assert STATUSES == ("running", "finished", "failed", "stopped", "interrupted")


def test_create_finish_and_read_runs(store, db):
    assert db.exists() and store.path == db
    a = new_run(store, name="first", params={"lr": np.float32(0.5), "layers": np.int64(2),
                                             "dims": np.array([1, 2]), np.int64(7): "x"})
    b = new_run(store, recipe="pretrain-finetune", dim=np.int64(16), seed=np.int32(3))
    assert isinstance(a, int) and b > a

    run = store.run(a)
    assert run["status"] == "running" and run["name"] == "first"
    assert run["params"] == {"lr": 0.5, "layers": 2, "dims": [1, 2], "7": "x"}
    assert run["pid"] == os.getpid() and run["host"]
    assert run["seconds"] is None and run["overall"] is None

    store.finish_run(a, status="finished", seconds=12.5, summary={
        "overall": np.float64(0.75), "min": np.float32(0.25), "mean_rank": 3.5, "map": 0.6,
        "metric": "recall@auto", "recall_by_distance": {np.int64(1): 1.0, 2: np.float32(0.5)}})
    run = store.run(a)
    assert run["status"] == "finished" and run["seconds"] == 12.5
    assert (run["overall"], run["min"], run["mean_rank"], run["map"]) == (0.75, 0.25, 3.5, 0.6)
    assert run["metric"] == "recall@auto"
    assert run["recall_by_distance"] == {"1": 1.0, "2": 0.5}
    assert run["summary"]["overall"] == 0.75
    assert run["ended"] is not None and run["ended"] >= run["created"]

    store.set_model_path(b, "results/models/run2.npz")
    assert store.run(b)["model_path"] == "results/models/run2.npz"

    runs = store.runs()
    assert list(runs.columns) == list(RUN_COLUMNS)
    assert list(runs["run_id"]) == [b, a]  # newest first
    assert list(store.runs(status="finished")["run_id"]) == [a]
    assert list(store.runs(status="running")["run_id"]) == [b]
    assert list(store.runs(recipe="pretrain-finetune")["run_id"]) == [b]
    assert store.runs(source="nope").empty
    assert store.run(b)["dim"] == 16 and store.run(b)["seed"] == 3


def test_seconds_default_to_elapsed_time(store):
    rid = new_run(store)
    store.finish_run(rid, status="stopped")
    run = store.run(rid)
    assert run["status"] == "stopped" and 0 <= run["seconds"] < 60


def test_statuses_and_invalid_status(store):
    rid = new_run(store)
    for bad in ("done", "", "running", "FINISHED"):
        with pytest.raises(InputError, match="status"):
            store.finish_run(rid, status=bad)
    assert store.run(rid)["status"] == "running"
    with pytest.raises(InputError, match="unknown status"):
        store.runs(status="bogus")
    for status in STATUSES[1:]:
        store.finish_run(rid, status=status)
        assert store.run(rid)["status"] == status


def test_failed_run_keeps_rows_and_error(store):
    rid = new_run(store)
    for step in range(5):
        store.log_metrics(rid, "train", step, {"loss": 1.0 / (step + 1)})
        store.log_recall(rid, "train", step, "test", "auto", {1: step}, {1: 10})
    store.log_retrievals(rid, "train", retrieval_frame())
    store.finish_run(rid, status="failed", error="RuntimeError: nan loss")
    run = store.run(rid)
    assert run["status"] == "failed" and run["error"] == "RuntimeError: nan loss"
    assert len(store.metrics(rid)) == 5
    assert len(store.recall(rid)) == 5
    assert len(store.retrievals(rid)) == 12


def test_metrics_and_recall_round_trip(store):
    a, b = new_run(store), new_run(store)
    store.log_metrics(a, "pretrain", 0, {"loss": 2.0, "lr": np.float32(0.5)})
    store.log_metrics(a, "finetune", 0, {"loss": 1.0})
    store.log_metrics(b, "train", np.int64(3), {"loss": 0.5})
    store.log_metrics(a, "finetune", 1, {})  # nothing to log: no rows, no error

    m = store.metrics(a)
    assert list(m.columns) == ["run_id", "stage", "step", "name", "value"]
    # in the order logged: pretrain before finetune although "f" < "p"
    assert list(zip(m["stage"], m["name"], m["value"])) == [
        ("pretrain", "loss", 2.0), ("pretrain", "lr", 0.5), ("finetune", "loss", 1.0)]
    assert len(store.metrics([a, b])) == 4 and set(store.metrics([a, b])["run_id"]) == {a, b}
    assert list(store.metrics(b)["step"]) == [3]
    assert store.metrics([]).empty

    store.log_recall(a, "train", 10, "test", "auto", hits={1: 3, 3: 0}, pairs={3: 4, 1: 4, 2: 5})
    store.log_recall(a, "train", 10, "train", 50, hits={1: 4}, pairs={1: 4, 2: 0})
    r = store.recall(a)
    assert list(r.columns) == ["run_id", "stage", "step", "split", "distance", "k", "hits",
                               "pairs", "recall"]
    test = r[r["split"] == "test"]
    assert list(test["distance"]) == [1, 2, 3]
    assert list(test["hits"]) == [3, 0, 0] and list(test["pairs"]) == [4, 5, 4]
    assert list(test["recall"]) == [0.75, 0.0, 0.0]
    assert set(test["k"]) == {"auto"}
    train = store.recall(a, split="train")
    assert list(train["k"]) == ["50", "50"] and train["recall"].iloc[0] == 1.0
    assert pd.isna(train["recall"].iloc[1])  # 0 pairs: no recall, not a division error
    assert store.recall(b).empty


def test_bad_log_input(store):
    rid = new_run(store)
    with pytest.raises(InputError, match="hits"):
        store.log_recall(rid, "train", 0, "test", "auto", {1: 5}, {1: 4})
    with pytest.raises(InputError, match="no pairs"):
        store.log_recall(rid, "train", 0, "test", "auto", {2: 1}, {1: 4})
    with pytest.raises(InputError, match="step"):
        store.log_metrics(rid, "train", 1.5, {"loss": 1.0})
    with pytest.raises(InputError, match="number"):
        store.log_metrics(rid, "train", 1, {"loss": "high"})
    with pytest.raises(InputError, match="doc"):
        store.log_retrievals(rid, "final", retrieval_frame().drop(columns="doc"))
    with pytest.raises(InputError, match="dim"):
        new_run(store, dim=0)
    assert store.metrics(rid).empty and store.recall(rid).empty  # nothing half-written


def test_final_recall_picks_last_step(store):
    rid = new_run(store)
    assert store.final_recall(rid).empty
    store.log_recall(rid, "final", 5, "test", "auto", {1: 1, 2: 0}, {1: 2, 2: 2})
    store.log_recall(rid, "train", 99, "test", "auto", {1: 0}, {1: 2})  # other stage: ignored
    store.log_recall(rid, "final", 9, "test", "auto", {1: 2, 2: 1}, {1: 2, 2: 2})
    store.log_recall(rid, "final", 7, "test", "auto", {1: 0, 2: 0}, {1: 2, 2: 2})
    f = store.final_recall(rid)
    assert list(f.columns) == ["split", "k", "distance", "hits", "pairs", "recall"]
    assert list(f["distance"]) == [1, 2]
    assert list(f["hits"]) == [2, 1] and list(f["recall"]) == [1.0, 0.5]
    # the same step logged again (e.g. re-evaluated): the later rows win, no duplicates
    store.log_recall(rid, "final", 9, "test", "auto", {1: 1, 2: 2}, {1: 2, 2: 2})
    assert list(store.final_recall(rid)["hits"]) == [1, 2]


def test_retrievals_round_trip(store):
    rid = new_run(store)
    frame = retrieval_frame()
    store.log_retrievals(rid, "final", frame)
    store.log_retrievals(rid, "pretrain", retrieval_frame(n_queries=1, with_distance=False))
    got = store.retrievals(rid, stage="final")
    assert list(got.columns) == ["stage", "query", "rank", "doc", "score", "relevant", "distance"]
    pd.testing.assert_frame_equal(
        got.drop(columns="stage").reset_index(drop=True).astype({"rank": "int64"}),
        frame.astype({"query": got["query"].dtype, "doc": got["doc"].dtype}),
        check_dtype=False)
    q1 = store.retrievals(rid, "q1")
    assert set(q1["query"]) == {"q1"} and len(q1) == 4
    assert list(q1["rank"]) == [1, 2, 3, 4]
    pre = store.retrievals(rid, stage="pretrain")
    assert len(pre) == 4 and pre["distance"].isna().all()
    assert store.retrievals(rid, "nobody").empty


def test_log_retrievals_large_frame(store):
    rid = new_run(store)
    n = 100_000
    frame = pd.DataFrame({"query": np.repeat(np.arange(n // 50), 50).astype(str),
                          "rank": np.tile(np.arange(1, 51), n // 50),
                          "doc": np.arange(n).astype(str), "score": np.linspace(1, 0, n),
                          "relevant": np.arange(n) % 3 == 0,
                          "distance": np.where(np.arange(n) % 3 == 0, 1, -1)})
    frame["distance"] = frame["distance"].astype("Int64").where(frame["relevant"])
    store.log_retrievals(rid, "final", frame)
    counts = store.query("SELECT count(*) AS n, count(distance) AS d, sum(relevant::INT) AS r "
                         "FROM retrievals WHERE run_id = ?", [rid])
    assert counts.iloc[0].tolist() == [n, frame["relevant"].sum(), frame["relevant"].sum()]


def test_delete_run(store):
    a, b = new_run(store), new_run(store)
    for rid in (a, b):
        store.log_metrics(rid, "train", 0, {"loss": 1.0})
        store.log_recall(rid, "final", 0, "test", "auto", {1: 1}, {1: 1})
        store.log_retrievals(rid, "final", retrieval_frame())
    store.delete_run(a)
    with pytest.raises(InputError, match=f"no run {a}"):
        store.run(a)
    assert list(store.runs()["run_id"]) == [b]
    for table in ("metrics", "recall", "retrievals"):
        left = store.query(f"SELECT DISTINCT run_id FROM {table}")
        assert list(left["run_id"]) == [b]
    with pytest.raises(InputError):
        store.delete_run(a)
    assert new_run(store) > b  # ids are never reused


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export(store, tmp_path, fmt):
    rid = new_run(store, name=EVIL, params={"lr": 0.25})
    other = new_run(store)
    for step in range(3):
        store.log_metrics(rid, "train", step, {"loss": 1.0 / (step + 1)})
        store.log_recall(rid, "final", step, "test", "auto", {1: step}, {1: 4, 2: 4})
    store.log_metrics(other, "train", 0, {"loss": 9.0})
    store.log_retrievals(rid, "final", retrieval_frame())
    store.finish_run(rid, status="finished", summary={"overall": 0.5})

    out = tmp_path / "export dir"
    paths = store.export(rid, out, fmt=fmt)
    assert [p.name for p in paths] == [f"run{rid}_{t}.{fmt}"
                                       for t in ("runs", "metrics", "recall", "retrievals")]
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    runs_f, metrics_f, recall_f, retr_f = (read(p) for p in paths)

    assert len(runs_f) == 1 and runs_f["run_id"].iloc[0] == rid
    assert runs_f["name"].iloc[0] == EVIL and runs_f["overall"].iloc[0] == 0.5
    mine = store.metrics(rid)
    assert list(metrics_f["value"]) == list(mine["value"]) and set(metrics_f["run_id"]) == {rid}
    rec = store.recall(rid)
    assert list(recall_f["hits"]) == list(rec["hits"]) and list(recall_f["k"]) == list(rec["k"])
    np.testing.assert_allclose(recall_f["recall"], rec["recall"])
    ret = store.retrievals(rid)
    assert list(retr_f["doc"]) == list(ret["doc"]) and list(retr_f["rank"]) == list(ret["rank"])
    assert list(retr_f["relevant"]) == list(ret["relevant"])
    assert retr_f["distance"].isna().sum() == ret["distance"].isna().sum() == 6

    with pytest.raises(InputError, match="format"):
        store.export(rid, out, fmt="xlsx")
    with pytest.raises(InputError, match="no run"):
        store.export(12345, out)


def test_unknown_run(store):
    with pytest.raises(InputError) as err:
        store.run(42)
    assert "no run 42" in str(err.value) and "python -m hrviz runs" in err.value.hint
    for call in (lambda: store.finish_run(42, status="finished"),
                 lambda: store.log_metrics(42, "train", 0, {"loss": 1.0}),
                 lambda: store.log_recall(42, "train", 0, "test", "auto", {}, {1: 1}),
                 lambda: store.log_retrievals(42, "final", retrieval_frame()),
                 lambda: store.set_model_path(42, "x"),
                 lambda: store.final_recall(42),
                 lambda: store.retrievals(42)):
        with pytest.raises(InputError, match="no run 42"):
            call()
    assert store.query("SELECT count(*) AS n FROM metrics")["n"].iloc[0] == 0


def test_injection_looking_strings_are_stored_verbatim(store):
    rid = new_run(store, source=EVIL, name=EVIL, recipe=EVIL, hierarchy_hash=EVIL,
                  params={EVIL: EVIL})
    store.log_metrics(rid, EVIL, 0, {EVIL: 1.0})
    store.log_recall(rid, EVIL, 0, EVIL, EVIL, {1: 1}, {1: 2})
    store.log_retrievals(rid, EVIL, pd.DataFrame({"query": [EVIL], "rank": [1], "doc": [EVIL],
                                                  "score": [0.5], "relevant": [True]}))
    store.finish_run(rid, status="failed", error=EVIL, summary={"metric": EVIL})
    store.set_model_path(rid, EVIL)
    run = store.run(rid)
    for key in ("source", "name", "recipe", "hierarchy_hash", "error", "metric", "model_path"):
        assert run[key] == EVIL
    assert run["params"] == {EVIL: EVIL}
    assert list(store.runs(source=EVIL)["run_id"]) == [rid]
    assert list(store.runs(recipe=EVIL)["run_id"]) == [rid]
    assert store.metrics(rid)[["stage", "name"]].iloc[0].tolist() == [EVIL, EVIL]
    assert store.recall(rid, split=EVIL)["k"].tolist() == [EVIL]
    assert store.retrievals(rid, EVIL)["doc"].tolist() == [EVIL]
    tables = set(store.query("SHOW TABLES")["name"])
    assert {"runs", "metrics", "recall", "retrievals", "schema_version"} <= tables


def test_query_is_read_only(store):
    rid = new_run(store)
    assert store.query("SELECT run_id FROM runs WHERE source = ?", ["tree:H=4,W=2"])[
        "run_id"].tolist() == [rid]
    for sql in ("DELETE FROM runs", "DROP TABLE runs", "UPDATE runs SET status = 'failed'",
                "SELECT 1; DELETE FROM runs", "COPY runs TO 'x.csv'"):
        with pytest.raises(InputError):
            store.query(sql)
    assert len(store.runs()) == 1 and store.run(rid)["status"] == "running"


def test_reopen_and_read_only(db):
    with Store(db) as s:
        rid = new_run(s)
        s.log_metrics(rid, "train", 0, {"loss": 1.5})
    with Store(db, read_only=True) as ro:
        assert ro.run(rid)["status"] == "running"
        assert ro.metrics(rid)["value"].tolist() == [1.5]
        with pytest.raises(InputError, match="read-only"):
            ro.log_metrics(rid, "train", 1, {"loss": 1.0})
    with Store(db) as s:
        assert new_run(s) == rid + 1
    with pytest.raises(InputError, match="no results store"):
        Store(db.parent / "missing.duckdb", read_only=True)
    assert not (db.parent / "missing.duckdb").exists()


def test_concurrent_writer_and_reader(store):
    """The app trains in a background thread while pages read from the same Store."""
    runs = [new_run(store), new_run(store)]
    steps, errors = 120, []

    def write(rid):
        try:
            for step in range(steps):
                store.log_metrics(rid, "train", step, {"loss": 1.0 / (step + 1), "lr": 0.1})
                store.log_recall(rid, "train", step, "test", "auto",
                                 {1: step % 4, 2: 1}, {1: 4, 2: 4, 3: 4})
            store.finish_run(rid, status="finished", summary={"overall": 0.5})
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    writers = [threading.Thread(target=write, args=(rid,)) for rid in runs]
    for w in writers:
        w.start()
    reads = 0
    try:
        while any(w.is_alive() for w in writers) or reads == 0:
            m, r = store.metrics(runs), store.recall(runs, split="test")
            assert len(m) % 2 == 0 and len(r) % 3 == 0  # never a half-written step
            store.runs()
            reads += 1
    finally:
        for w in writers:
            w.join()
    assert not errors, errors
    assert reads > 1
    for rid in runs:
        assert len(store.metrics(rid)) == 2 * steps
        assert len(store.recall(rid)) == 3 * steps
        assert store.run(rid)["status"] == "finished"
    # cursors of threads that ended are closed when another thread opens one
    t = threading.Thread(target=store.runs)
    t.start()
    t.join()
    assert store.open_cursors == 0  # a file store keeps no connection between operations


HOLDER = """
import sys
import duckdb
from hrviz.store import Store
s = Store(sys.argv[1])
rid = s.create_run(source="tree:H=3,W=2", hierarchy_hash="h", recipe="standard", dim=4, seed=0,
                   params={})
s.log_metrics(rid, "train", 0, {"loss": 3.0})
con = duckdb.connect(sys.argv[1])  # a foreign holder of the file lock
print(rid, flush=True)
sys.stdin.read()   # hold the file until the test closes stdin, then exit without finishing
"""


def test_busy_file_and_interrupted_run(db):
    """Another process holds the file past the timeout: a clear InputError; when that process
    dies its run reads as interrupted."""
    Store(db).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        rid = int(proc.stdout.readline())
        for read_only in (False, True):
            with pytest.raises(InputError) as err:
                Store(db, read_only=read_only, timeout=0.3)
            text = str(err.value)
            assert str(db) in text and "busy" in text and "another hrviz process" in text
            assert str(proc.pid) in text
            assert "--db OTHER_PATH" in err.value.hint and "stop the other process" in err.value.hint
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
    with Store(db, read_only=True) as ro:  # read-only: reported, not written
        assert ro.run(rid)["status"] == "interrupted"
        assert list(ro.runs(status="interrupted")["run_id"]) == [rid]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT status FROM runs WHERE run_id = ?", [rid]).fetchone() == ("running",)
    con.close()
    with Store(db) as s:
        own = new_run(s)  # this process is alive: not stale
        run = s.run(rid)
        assert run["status"] == "interrupted" and run["error"] == STALE_ERROR
        assert s.metrics(rid)["value"].tolist() == [3.0]  # rows written before are kept
        assert s.run(own)["status"] == "running"
        assert s.fail_stale_runs() == 0  # the read above persisted it
        assert s.query("SELECT status, seconds FROM runs WHERE run_id = ?", [rid]).iloc[0][
            "status"] == "interrupted"


def test_stale_runs_other_host_or_reused_pid(db):
    with Store(db) as s:
        other_host, reused, mine = new_run(s), new_run(s), new_run(s)
    con = duckdb.connect(str(db))
    con.execute("UPDATE runs SET host = 'elsewhere' WHERE run_id = ?", [other_host])
    con.execute("UPDATE runs SET pid_start = pid_start + 1 WHERE run_id = ?", [reused])
    con.close()
    with Store(db) as s:
        assert s.fail_stale_runs() == 1
        assert s.run(reused)["status"] == "interrupted"
        assert s.run(other_host)["status"] == "running"  # cannot be checked from here
        assert s.run(mine)["status"] == "running"


OLD_RUNS_DDL = """CREATE TABLE runs (
    run_id BIGINT NOT NULL DEFAULT nextval('run_ids'), name VARCHAR, created TIMESTAMP NOT NULL,
    ended TIMESTAMP,
    status VARCHAR NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'stopped')),
    source VARCHAR NOT NULL, hierarchy_hash VARCHAR NOT NULL, recipe VARCHAR NOT NULL,
    dim INTEGER NOT NULL, seed BIGINT NOT NULL, params VARCHAR NOT NULL, error VARCHAR,
    seconds DOUBLE, metric VARCHAR, overall DOUBLE, "min" DOUBLE, mean_rank DOUBLE, "map" DOUBLE,
    recall_by_distance VARCHAR, summary VARCHAR, model_path VARCHAR, pid BIGINT,
    pid_start BIGINT, host VARCHAR)"""


def test_migration_from_schema_1(db):
    """A file written with schema 1 (CHECK without ``interrupted``) is migrated on open."""
    from hrviz.store.schema import SCHEMA

    db.parent.mkdir(parents=True)
    con = duckdb.connect(str(db))
    for statement in SCHEMA[:3] + [OLD_RUNS_DDL] + SCHEMA[4:]:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("""INSERT INTO runs (created, status, source, hierarchy_hash, recipe, dim, seed,
                   params, pid, pid_start, host) VALUES (now(), 'running', 's', 'h', 'standard',
                   4, 0, '{}', 999999999, 1, ?)""", [__import__("socket").gethostname()])
    con.execute("INSERT INTO metrics (run_id, stage, step, name, value) VALUES (1, 't', 0, 'x', 1)")
    con.close()
    with Store(db, read_only=True) as ro:  # read-only: reads the old file as it is
        assert ro.schema_version == 1 and ro.run(1)["status"] == "interrupted"
    with Store(db) as s:
        assert s.schema_version == 2
        assert s.query("SELECT version FROM schema_version")["version"].tolist() == [2]
        assert s.run(1)["status"] == "interrupted" and len(s.metrics(1)) == 1
        assert new_run(s) == 2  # the sequence goes on
        s.finish_run(2, status="interrupted")
    with Store(db) as s:
        assert list(s.runs()["status"]) == ["interrupted", "interrupted"]


def test_closed_store(db):
    s = Store(db)
    s.close()
    s.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        s.runs()
    with Store(db) as again:  # the file was released
        assert again.runs().empty


def test_batch_reuses_one_connection(store):
    rid = new_run(store)
    with store.batch() as s:
        con = s.held_connection
        s.log_metrics(rid, "train", 0, {"loss": 1.0})
        assert len(s.metrics(rid)) == 1 and s.run(rid)["status"] == "running"
        assert s.held_connection is con
    assert store.held_connection is None  # released at the end of the block


def test_buffered_log_writes_everything_in_flushes(store):
    rid = new_run(store)
    with store.buffered(every=3600) as log:  # never by time: only at flush() and at the end
        for step in range(5):
            log.log_metrics(rid, "main", step, {"loss": 1.0 / (step + 1)})
        assert store.metrics(rid).empty  # queued, not written
        log.flush()
        assert list(store.metrics(rid)["step"]) == [0, 1, 2, 3, 4]
        log.log_recall(rid, "main", 5, "val", "auto", {0: 3}, {0: 4})
    assert store.recall(rid)["recall"].tolist() == [0.75]  # flushed when the block ended


def test_buffered_log_flushes_on_error_and_a_bad_write_writes_nothing(store):
    rid = new_run(store)
    with pytest.raises(RuntimeError):
        with store.buffered(every=3600) as log:
            log.log_metrics(rid, "main", 0, {"loss": 0.5})
            raise RuntimeError("training died")
    assert list(store.metrics(rid)["value"]) == [0.5]  # what a dying run logged is kept
    log = store.buffered(every=3600)
    log.log_metrics(rid, "main", 1, {"loss": 0.4})
    log.log_metrics(rid, "main", 2, {"loss": "not a number"})
    with pytest.raises(InputError):
        log.flush()
    assert list(store.metrics(rid)["step"]) == [0]  # one transaction: all of a flush or none
