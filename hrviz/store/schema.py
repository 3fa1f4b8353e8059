"""The store's schema: version, statuses, the DDL of every table, column lists, the per-file
write locks, and the migration of older files (tables described in :mod:`hrviz.store`)."""

from __future__ import annotations

import os
import threading

import duckdb

DEFAULT_DB = "results/hrviz.duckdb"


def default_db() -> str:
    """The results store the app and the CLI use when none is given: ``$HRVIZ_DB``, else
    :data:`DEFAULT_DB` (relative to the working folder)."""
    return os.environ.get("HRVIZ_DB") or DEFAULT_DB

STATUSES = ("running", "finished", "failed", "stopped", "interrupted")
SCHEMA_VERSION = 2

#: seconds a Store waits for another process to release the file before "busy"
BUSY_TIMEOUT = 30.0

#: what an ``interrupted`` run gets in ``error``
STALE_ERROR = "interrupted: the process that ran it ended"

_RUNS_HINT = "list runs with `python -m hrviz runs`"
_BUSY_HINT = "use --db OTHER_PATH or stop the other process"

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE SEQUENCE IF NOT EXISTS run_ids START 1",
    "CREATE SEQUENCE IF NOT EXISTS log_seq START 1",
    f"""CREATE TABLE IF NOT EXISTS runs (
        run_id BIGINT NOT NULL DEFAULT nextval('run_ids'),
        name VARCHAR,
        created TIMESTAMP NOT NULL,
        ended TIMESTAMP,
        status VARCHAR NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
        source VARCHAR NOT NULL,
        hierarchy_hash VARCHAR NOT NULL,
        recipe VARCHAR NOT NULL,
        dim INTEGER NOT NULL,
        seed BIGINT NOT NULL,
        params VARCHAR NOT NULL,
        error VARCHAR,
        seconds DOUBLE,
        metric VARCHAR,
        overall DOUBLE,
        "min" DOUBLE,
        mean_rank DOUBLE,
        "map" DOUBLE,
        recall_by_distance VARCHAR,
        summary VARCHAR,
        model_path VARCHAR,
        pid BIGINT,
        pid_start BIGINT,
        host VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS metrics (
        run_id BIGINT NOT NULL,
        stage VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        name VARCHAR NOT NULL,
        value DOUBLE,
        seq BIGINT NOT NULL DEFAULT nextval('log_seq')
    )""",
    """CREATE TABLE IF NOT EXISTS recall (
        run_id BIGINT NOT NULL,
        stage VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        split VARCHAR NOT NULL,
        distance INTEGER NOT NULL,
        k VARCHAR NOT NULL,
        hits BIGINT NOT NULL,
        pairs BIGINT NOT NULL,
        recall DOUBLE,
        seq BIGINT NOT NULL DEFAULT nextval('log_seq')
    )""",
    """CREATE TABLE IF NOT EXISTS retrievals (
        run_id BIGINT NOT NULL,
        stage VARCHAR NOT NULL,
        query VARCHAR NOT NULL,
        rank INTEGER NOT NULL,
        doc VARCHAR NOT NULL,
        score DOUBLE,
        relevant BOOLEAN,
        distance INTEGER
    )""",
]
SCHEMA = _SCHEMA  # the same statements, public: tests rebuild an old file from them

_TABLES = ("runs", "metrics", "recall", "retrievals")

#: columns that :meth:`Store.runs` returns, in order
RUN_COLUMNS = (
    "run_id", "name", "created", "status", "source", "hierarchy_hash", "recipe", "dim", "seed",
    "params", "error", "seconds", "metric", "overall", "min", "mean_rank", "map", "model_path",
)
_RETRIEVAL_COLUMNS = ("query", "rank", "doc", "score", "relevant", "distance")

# One write lock per database file in this process: two Store objects on the same file share
# DuckDB's database instance, and their writes must not interleave either.
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()

# Rows per INSERT statement in log_metrics/log_recall (a multi-row VALUES list).
_CHUNK = 500


def _write_lock(key: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def _migrate_1_to_2(cur: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 -> 2: ``interrupted`` joins the statuses. DuckDB cannot alter a CHECK
    constraint, so ``runs`` is rebuilt with the new DDL and its rows copied (ids kept)."""
    cur.execute("ALTER TABLE runs RENAME TO runs_v1")
    cur.execute(_SCHEMA[3])  # CREATE TABLE runs with the current statuses
    cur.execute("INSERT INTO runs SELECT * FROM runs_v1")
    cur.execute("DROP TABLE runs_v1")
    cur.execute("UPDATE schema_version SET version = 2")
