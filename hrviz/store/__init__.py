"""The results store: one DuckDB file that holds every run and every number a page shows.

The training engine writes to it while it trains, the CLI and the Streamlit app read from it, and
a notebook can query it (:meth:`Store.query`) or export one run (:meth:`Store.export`).

Schema (version :data:`SCHEMA_VERSION`; no indexes, DuckDB scans these tables fast enough):

``schema_version``
    ``version`` INTEGER: the schema the file was written with (one row).

``runs``: one row per training or evaluation run.
    ``run_id`` BIGINT (from the sequence ``run_ids``, never reused), ``name`` VARCHAR (optional,
    free text), ``created`` and ``ended`` TIMESTAMP (UTC, without time zone), ``status`` VARCHAR
    (one of :data:`STATUSES`), ``source`` VARCHAR (the hierarchy source, e.g. ``tree:H=4,W=5``),
    ``hierarchy_hash`` VARCHAR, ``recipe`` VARCHAR, ``dim`` INTEGER, ``seed`` BIGINT, ``params``
    VARCHAR (JSON object of hyper-parameters), ``error`` VARCHAR (why a run failed or stopped),
    ``seconds`` DOUBLE (wall time), ``metric`` VARCHAR (e.g. ``recall@auto``), ``overall``,
    ``min``, ``mean_rank``, ``map`` DOUBLE (the final summary), ``recall_by_distance`` VARCHAR
    (JSON object from distance, as a string, to recall), ``summary`` VARCHAR (the whole summary
    dict as JSON), ``model_path`` VARCHAR (where the trained model was saved), ``pid`` BIGINT,
    ``pid_start`` BIGINT and ``host`` VARCHAR (the process that created the run, so that runs left
    ``running`` by a process that died can be read as ``interrupted``).

``metrics``: scalar curves (loss, learning rate, ...), one row per name and step.
    ``run_id`` BIGINT, ``stage`` VARCHAR (free text: ``pretrain``, ``finetune``, ``train``,
    ``final``, ...), ``step`` BIGINT, ``name`` VARCHAR, ``value`` DOUBLE, ``seq`` BIGINT (write
    order, from the sequence ``log_seq``).

``recall``: recall by hierarchy distance, one row per distance and evaluation.
    ``run_id`` BIGINT, ``stage`` VARCHAR, ``step`` BIGINT, ``split`` VARCHAR (e.g. ``train``,
    ``test``, ``all``), ``distance`` INTEGER, ``k`` VARCHAR (``auto`` or a number), ``hits``
    BIGINT, ``pairs`` BIGINT, ``recall`` DOUBLE (hits / pairs, NULL when pairs is 0), ``seq``
    BIGINT (write order).

``retrievals``: the ranked lists of the queries that pages inspect.
    ``run_id`` BIGINT, ``stage`` VARCHAR, ``query`` VARCHAR (node name), ``rank`` INTEGER,
    ``doc`` VARCHAR (node name), ``score`` DOUBLE, ``relevant`` BOOLEAN (doc is an ancestor of
    query), ``distance`` INTEGER (hierarchy distance query -> doc, NULL when not relevant).

Concurrency (the app and CLI runs share one file at once). DuckDB locks a file per process: a
read-write connection excludes every other process, read-only ones coexist only with each
other. So nobody holds the file while idle: each operation opens a connection (under a lock per
file in this process, so threads serialise), works in one transaction and closes it. When another
process holds the lock, the connect is retried with exponential back-off and jitter (10 ms doubling
to 0.5 s) for :data:`BUSY_TIMEOUT` seconds (``timeout=``), then a "busy" :class:`InputError`.
A connect costs about 30 ms on this 2-core machine under load (an open connection reads in ~1 ms);
a write with its close (which checkpoints) about 80 ms. Alternatives weighed: one writer process
that owns the file (a server to start, stop and talk to: more machinery than a desktop tool
needs) and per-run files that the store reads (no lock contention, but every page read would
attach many files and the schema would be spread out). Short-lived connections keep one file
and the same API; the price is the connect per operation. ``":memory:"`` stores keep one
persistent connection (a closed in-memory database is gone).

Runs: a ``running`` run of this host whose process is gone (pid missing, or reused: another start
time) reads as ``interrupted`` in :meth:`Store.runs` and :meth:`Store.run`, and is written so when
the Store may write. A run of another host cannot be checked and stays ``running``. Schema 2 adds
``interrupted`` to the statuses; a schema-1 file is migrated when opened read-write.

Every user value is bound as a parameter (``?``); nothing the user typed is formatted into SQL.
A run that fails or is stopped keeps every row written before, only its status changes.
"""

from __future__ import annotations

import json
import os
import re
import socket
import random
import threading
import time
import uuid
import weakref
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pandas as pd

from ..errors import InputError

__all__ = ["DEFAULT_DB", "STATUSES", "SCHEMA_VERSION", "Store"]

DEFAULT_DB = "results/hrviz.duckdb"
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


def _plain(value: Any) -> Any:
    """Plain JSON-able Python values from numpy scalars/arrays, paths, sets, tuples, and dict
    keys of any scalar type (``json`` itself refuses numpy keys and cannot sort mixed keys)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if hasattr(key, "item") and getattr(key, "ndim", None) == 0:
                key = key.item()  # numpy scalar key
            if not isinstance(key, str):
                key = json.dumps(key) if key is None or isinstance(key, (bool, int, float)) else str(key)
            out[key] = _plain(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy/torch scalar
        return value.item()
    if hasattr(value, "tolist"):  # numpy array
        return _plain(value.tolist())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(_plain(value), sort_keys=True)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what} cannot be stored as JSON: {err}",
                         hint="use numbers, strings, lists and dicts") from None


def _int(value: Any, what: str) -> int:
    """A Python int from an int-like value (numpy ints included, bools and floats refused)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InputError(f"{what} must be an integer, got {value!r}")
    return int(value.__index__())


def _float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None


def _text(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise InputError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), to tell a reused pid apart.

    None where /proc is not available or the process does not exist.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may contain spaces: split after it
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])  # field 22 of the whole line: starttime
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int | None, pid_start: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to someone else
    except (OSError, OverflowError, ValueError):
        return False
    if pid_start is not None:
        now_start = _process_start(int(pid))
        if now_start is not None and now_start != pid_start:
            return False  # the pid was reused by another process
    return True


def _is_dead(status: str, pid: Any, pid_start: Any, host: Any) -> bool:
    """A ``running`` run of this host whose process is gone (another host: cannot tell)."""
    if status != "running" or host != socket.gethostname():
        return False
    pid = None if pd.isna(pid) else int(pid)
    pid_start = None if pid_start is None or pd.isna(pid_start) else int(pid_start)
    return not _pid_alive(pid, pid_start)


def _ids(run_ids: int | list[int]) -> list[int]:
    if isinstance(run_ids, (list, tuple, set, frozenset)) or hasattr(run_ids, "tolist"):
        values = run_ids.tolist() if hasattr(run_ids, "tolist") else list(run_ids)
        return [_int(v, "run id") for v in values]
    return [_int(run_ids, "run id")]


def _migrate_1_to_2(cur: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 -> 2: ``interrupted`` joins the statuses. DuckDB cannot alter a CHECK
    constraint, so ``runs`` is rebuilt with the new DDL and its rows copied (ids kept)."""
    cur.execute("ALTER TABLE runs RENAME TO runs_v1")
    cur.execute(_SCHEMA[3])  # CREATE TABLE runs with the current statuses
    cur.execute("INSERT INTO runs SELECT * FROM runs_v1")
    cur.execute("DROP TABLE runs_v1")
    cur.execute("UPDATE schema_version SET version = 2")


class Store:
    """The DuckDB results store (see the module docstring for the schema).

    Parameters
    ----------
    path:
        The database file; its parent directory and the schema are created when missing.
        ``":memory:"`` gives a private in-memory store (tests, demos).
    read_only:
        Open without write access: several read-only processes may share a file, but not with a
        writer. Write methods then raise :class:`InputError`.

    Use one Store per process and file (``st.cache_resource`` in the app), from any thread;
    :meth:`close` it (or use ``with Store(...) as store:``) to release the file.
    """

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False,
                 timeout: float | None = None):
        self.memory = str(path) == ":memory:"
        self.path = Path(path) if self.memory else Path(path).expanduser()
        self.read_only = bool(read_only)
        where = str(self.path)
        if not self.memory:
            if self.read_only and not self.path.exists():
                raise InputError("no results store here", where=where,
                                 hint="train a run first, or pass --db PATH to an existing store")
            if self.path.is_dir():
                raise InputError("is a directory, not a DuckDB file", where=where,
                                 hint="pass --db PATH/hrviz.duckdb")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise InputError(f"cannot create the folder for the results store: {err}",
                                 where=where) from None
        self.timeout = BUSY_TIMEOUT if timeout is None else float(timeout)
        self._con = duckdb.connect(":memory:") if self.memory else None
        self._lock = _write_lock(f"memory:{id(self)}" if self.memory
                                 else str(self.path.resolve()))
        self._local = threading.local()
        self._cursors: list[tuple[weakref.ref, duckdb.DuckDBPyConnection]] = []
        self._cursors_guard = threading.Lock()
        self._closed = False
        try:
            self._init_schema()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ plumbing

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"Store({str(self.path)!r}, {mode}{', closed' if self._closed else ''})"

    def close(self) -> None:
        """Close every thread's cursor and the connection, releasing the file. Idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        with self._cursors_guard:
            cursors, self._cursors = self._cursors, []
        for _, cur in cursors:
            try:
                cur.close()
            except duckdb.Error:
                pass
        if self._con is not None:
            self._con.close()

    def _cur(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (a DuckDB connection object must not be shared by threads)."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        cur = getattr(self._local, "cur", None)
        if cur is None:
            me = threading.current_thread()
            with self._cursors_guard:
                if self._closed:
                    raise RuntimeError(f"{self!r} is closed")
                # Streamlit runs every rerun in a new thread: close the cursors of dead threads
                # so that a long session does not pile up connections.
                alive = []
                for thread, old in self._cursors:
                    if thread() is None or not thread().is_alive():
                        try:
                            old.close()
                        except duckdb.Error:
                            pass
                    else:
                        alive.append((thread, old))
                cur = self._con.cursor()
                alive.append((weakref.ref(me), cur))
                self._cursors = alive
            self._local.cur = cur
        return cur

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A new connection to the file, retried with exponential back-off and jitter while
        another process holds DuckDB's lock; after :attr:`timeout` seconds the "busy" error."""
        where, delay = str(self.path), 0.01
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return duckdb.connect(where, read_only=self.read_only)
            except duckdb.IOException as err:
                text = str(err)
                if "lock" not in text.lower():
                    raise InputError(f"cannot open the results store: {text}", where=where) from None
                left = deadline - time.monotonic()
                if left <= 0:
                    holder = re.search(r"PID (\d+)", text)
                    who = f" (PID {holder.group(1)})" if holder else ""
                    raise InputError(
                        f"the results store is busy: another hrviz process (app or CLI){who} "
                        f"has held it for more than {self.timeout:g} s",
                        where=where, hint=_BUSY_HINT) from None
                time.sleep(min(left, delay * (0.5 + random.random())))
                delay = min(delay * 2, 0.5)
            except duckdb.ConnectionException as err:
                raise InputError(
                    f"the results store is already open in this process in another mode: {err}",
                    where=where, hint="share one Store (read-write) between threads") from None
            except duckdb.Error as err:
                raise InputError(f"not a DuckDB results store: {err}", where=where,
                                 hint="pass --db PATH to an hrviz .duckdb file") from None

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation: opened under the file's in-process lock and closed
        at the end, so that no process holds the file while idle. Nested calls of one thread
        reuse the open connection; ``:memory:`` stores use their one persistent connection."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self.memory:
            yield self._cur()
            return
        held = getattr(self._local, "con", None)
        if held is not None:
            yield held
            return
        with self._lock:
            con = self._connect()
            self._local.con = con
            try:
                yield con
            finally:
                self._local.con = None
                con.close()

    @contextmanager
    def batch(self) -> Iterator["Store"]:
        """Run several operations on one connection (one connect instead of one each), e.g. the
        reads of a page rerun: ``with store.batch(): store.runs(); store.metrics(ids)``. The
        file is held while inside, so keep the block short and free of waiting."""
        with self._open():
            yield self

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside a transaction, under the file's lock; rolled back on error."""
        if self.read_only:
            raise InputError("the results store is open read-only", where=str(self.path),
                             hint="open it without read_only to write")
        with self._lock, self._open() as cur:
            if getattr(self._local, "in_tx", False):
                yield cur
                return
            cur.begin()
            self._local.in_tx = True
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            finally:
                self._local.in_tx = False
            cur.commit()

    def _df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with self._open() as cur:
            return cur.execute(sql, params or []).df()

    def _init_schema(self) -> None:
        with self._open() as cur:
            tables = {r[0] for r in cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()}
            if self.read_only:
                missing = [t for t in ("schema_version", *_TABLES) if t not in tables]
                if missing:
                    raise InputError(f"not an hrviz results store (no table {missing[0]})",
                                     where=str(self.path), hint="pass --db PATH to an hrviz store")
            version = (cur.execute("SELECT max(version) FROM schema_version").fetchone()[0]
                       if "schema_version" in tables else None)
            if version is not None and version > SCHEMA_VERSION:
                raise InputError(f"the results store has schema version {version}, this hrviz "
                                 f"reads up to {SCHEMA_VERSION}", where=str(self.path),
                                 hint="upgrade hrviz or use another --db PATH")
            if self.read_only:
                self.schema_version = version
                return
            with self._write() as cur:
                for statement in _SCHEMA:
                    cur.execute(statement)
                if version is None:
                    cur.execute("DELETE FROM schema_version")
                    cur.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
                elif version < 2:
                    _migrate_1_to_2(cur)
            self.schema_version = SCHEMA_VERSION

    def _require_run(self, cur: duckdb.DuckDBPyConnection, run_id: Any) -> int:
        run_id = _int(run_id, "run id")
        if cur.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone() is None:
            raise InputError(f"no run {run_id}", where=str(self.path), hint=_RUNS_HINT)
        return run_id

    @staticmethod
    def _insert_rows(cur: duckdb.DuckDBPyConnection, table: str, columns: str,
                     rows: list[tuple]) -> None:
        """Insert rows with one multi-row ``VALUES`` statement per chunk, all values bound."""
        if not rows:
            return
        width = len(rows[0])
        one = "(" + ", ".join("?" * width) + ")"
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            sql = f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * len(chunk))
            cur.execute(sql, [v for row in chunk for v in row])

    # ------------------------------------------------------------------ runs

    def create_run(self, *, source: str, hierarchy_hash: str, recipe: str, dim: int, seed: int,
                   params: dict, name: str | None = None) -> int:
        """Add a run with status ``running`` and return its new id.

        The pid, its start time and the host of this process are stored with it, so that
        :meth:`fail_stale_runs` can tell when the process died without finishing the run.
        """
        source = _text(source, "source")
        hierarchy_hash = _text(hierarchy_hash, "hierarchy_hash", empty=True)
        recipe = _text(recipe, "recipe")
        dim = _int(dim, "dim")
        if dim < 1:
            raise InputError(f"dim must be at least 1, got {dim}")
        seed = _int(seed, "seed")
        if not isinstance(params, dict):
            raise InputError(f"params must be a dict, got {type(params).__name__}")
        if name is not None:
            name = _text(name, "name", empty=True)
        pid = os.getpid()
        with self._write() as cur:
            (run_id,) = cur.execute(
                """INSERT INTO runs (name, created, status, source, hierarchy_hash, recipe, dim,
                                     seed, params, pid, pid_start, host)
                   VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id""",
                [name, _now(), source, hierarchy_hash, recipe, dim, seed,
                 _to_json(params, "params"), pid, _process_start(pid), socket.gethostname()],
            ).fetchone()
        return int(run_id)

    def finish_run(self, run_id: int, *, status: str, summary: dict | None = None,
                   error: str | None = None, seconds: float | None = None) -> None:
        """End a run: ``status`` is ``finished``, ``failed`` or ``stopped``.

        ``summary`` may hold ``overall``, ``min``, ``mean_rank``, ``map`` (numbers), ``metric``
        (e.g. ``"recall@auto"``) and ``recall_by_distance`` (a dict distance -> recall); those go
        to their columns and the whole dict to ``summary`` as JSON. Without ``seconds`` the time
        since the run was created is stored. Rows logged so far are kept whatever the status.
        """
        if status not in STATUSES or status == "running":
            raise InputError(f"unknown final status {status!r}",
                             hint="use one of " + ", ".join(STATUSES[1:]))
        summary = dict(summary or {})
        if error is not None and not isinstance(error, str):
            error = str(error)
        rbd = summary.get("recall_by_distance")
        if rbd is not None and not isinstance(rbd, dict):
            raise InputError("summary['recall_by_distance'] must be a dict distance -> recall")
        rbd_json = None if rbd is None else _to_json(
            {str(d): _float(r, f"recall at distance {d}") for d, r in rbd.items()},
            "recall_by_distance")
        metric = summary.get("metric")
        values = [status, error, _float(seconds, "seconds"),
                  None if metric is None else str(metric),
                  *(_float(summary.get(key), f"summary[{key!r}]")
                    for key in ("overall", "min", "mean_rank", "map")),
                  rbd_json, _to_json(summary, "summary") if summary else None]
        ended = _now()
        with self._write() as cur:
            run_id = self._require_run(cur, run_id)
            cur.execute(
                """UPDATE runs SET status = ?, error = ?,
                          seconds = coalesce(?, epoch(CAST(? AS TIMESTAMP) - created)),
                          metric = coalesce(?, metric), overall = coalesce(?, overall),
                          "min" = coalesce(?, "min"), mean_rank = coalesce(?, mean_rank),
                          "map" = coalesce(?, "map"),
                          recall_by_distance = coalesce(?, recall_by_distance),
                          summary = coalesce(?, summary), ended = ?
                   WHERE run_id = ?""",
                [values[0], values[1], values[2], ended, *values[3:], ended, run_id],
            )

    def set_model_path(self, run_id: int, path: str) -> None:
        """Record where the run's trained model was saved."""
        path = _text(str(path) if isinstance(path, Path) else path, "model path")
        with self._write() as cur:
            run_id = self._require_run(cur, run_id)
            cur.execute("UPDATE runs SET model_path = ? WHERE run_id = ?", [path, run_id])

    def fail_stale_runs(self) -> int:
        """Mark ``interrupted`` every ``running`` run of this host whose process has ended (its
        pid is gone or was reused: another start time); return how many. A run of another host
        cannot be checked and stays ``running``. Reads report such runs the same way."""
        with self._open() as cur:
            rows = cur.execute(
                "SELECT run_id, status, pid, pid_start, host FROM runs WHERE status = 'running'"
            ).fetchall()
            dead = [rid for rid, *rest in rows if _is_dead(*rest)]
            self._persist_interrupted(dead)
        return len(dead)

    def _persist_interrupted(self, run_ids: list[int]) -> None:
        """Write ``interrupted`` for runs found dead, when this Store may write."""
        if not run_ids or self.read_only:
            return
        ended = _now()
        with self._write() as cur:
            cur.executemany(
                """UPDATE runs SET status = 'interrupted', error = coalesce(error, ?), ended = ?,
                          seconds = coalesce(seconds, epoch(CAST(? AS TIMESTAMP) - created))
                   WHERE run_id = ? AND status = 'running'""",
                [[STALE_ERROR, ended, ended, rid] for rid in run_ids])

    def delete_run(self, run_id: int) -> None:
        """Remove the run and all its rows (metrics, recall, retrievals)."""
        with self._write() as cur:
            run_id = self._require_run(cur, run_id)
            for table in ("metrics", "recall", "retrievals", "runs"):
                cur.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])

    # ------------------------------------------------------------------ logging

    def log_metrics(self, run_id: int, stage: str, step: int, values: dict[str, float]) -> None:
        """Log scalar values (``{"loss": 0.3, "lr": 1e-3}``) at ``step`` of ``stage``: one row each."""
        stage = _text(stage, "stage")
        step = _int(step, "step")
        rows = [(None, stage, step, _text(name, "metric name"), _float(v, f"metric {name!r}"))
                for name, v in values.items()]
        if not rows:
            return
        with self._write() as cur:
            run_id = self._require_run(cur, run_id)
            self._insert_rows(cur, "metrics", "run_id, stage, step, name, value",
                              [(run_id, *row[1:]) for row in rows])

    def log_recall(self, run_id: int, stage: str, step: int, split: str, k: str,
                   hits: dict[int, int], pairs: dict[int, int]) -> None:
        """Log recall by distance: ``hits[d]`` of ``pairs[d]`` relevant pairs found in the top k.

        One row per distance in ``pairs`` (a distance missing from ``hits`` has 0 hits);
        ``recall`` is hits / pairs, NULL where pairs is 0. ``k`` is ``"auto"`` or a number.
        """
        stage = _text(stage, "stage")
        step = _int(step, "step")
        split = _text(split, "split")
        k = str(_int(k, "k")) if not isinstance(k, str) else _text(k, "k")
        pairs_ = {_int(d, "distance"): _int(n, f"pairs at distance {d}") for d, n in pairs.items()}
        hits_ = {_int(d, "distance"): _int(n, f"hits at distance {d}") for d, n in hits.items()}
        extra = sorted(set(hits_) - set(pairs_))
        if extra:
            raise InputError(f"hits at distance {extra[0]} but no pairs count for it")
        rows = []
        for d in sorted(pairs_):
            n, h = pairs_[d], hits_.get(d, 0)
            if n < 0 or h < 0 or h > n:
                raise InputError(f"at distance {d}: {h} hits of {n} pairs is impossible")
            rows.append((split, d, k, h, n, h / n if n else None))
        if not rows:
            return
        with self._write() as cur:
            run_id = self._require_run(cur, run_id)
            self._insert_rows(cur, "recall",
                              "run_id, stage, step, split, distance, k, hits, pairs, recall",
                              [(run_id, stage, step, *row) for row in rows])

    def log_retrievals(self, run_id: int, stage: str, rows: pd.DataFrame) -> None:
        """Store ranked lists: a DataFrame with columns query, rank, doc, score, relevant and
        distance (distance may be missing or null). Inserted in one ``INSERT ... SELECT``."""
        stage = _text(stage, "stage")
        if not isinstance(rows, pd.DataFrame):
            raise InputError(f"retrievals must be a pandas DataFrame, got {type(rows).__name__}")
        missing = [c for c in _RETRIEVAL_COLUMNS[:-1] if c not in rows.columns]
        if missing:
            raise InputError("retrievals lack the column(s) " + ", ".join(missing),
                             hint="columns: " + ", ".join(_RETRIEVAL_COLUMNS))
        if len(rows) == 0:
            return
        frame = rows.loc[:, [c for c in _RETRIEVAL_COLUMNS if c in rows.columns]]
        if "distance" not in frame.columns:
            frame = frame.assign(distance=pd.array([None] * len(frame), dtype="Int64"))
        view = f"_hrviz_retrievals_{uuid.uuid4().hex}"  # our own name, not user text
        with self._write() as cur:
            run_id = self._require_run(cur, run_id)
            cur.register(view, frame)
            try:
                cur.execute(
                    f"""INSERT INTO retrievals
                        SELECT ?, ?, CAST("query" AS VARCHAR), CAST("rank" AS INTEGER),
                               CAST(doc AS VARCHAR), CAST(score AS DOUBLE),
                               CAST(relevant AS BOOLEAN), CAST(distance AS INTEGER)
                        FROM {view}""",
                    [run_id, stage],
                )
            except duckdb.ConversionException as err:
                raise InputError(f"retrievals have a value of the wrong type: {err}",
                                 hint="rank and distance are integers, score a number, "
                                      "relevant a boolean") from None
            except duckdb.ConstraintException as err:
                raise InputError(f"retrievals have a missing value: {err}",
                                 hint="query, rank and doc must be set on every row") from None
            finally:
                cur.unregister(view)

    # ------------------------------------------------------------------ reads

    def runs(self, *, status: str | None = None, source: str | None = None,
             recipe: str | None = None) -> pd.DataFrame:
        """All runs, newest first, optionally filtered; columns :data:`RUN_COLUMNS`."""
        where, params = [], []
        if status is not None and status not in STATUSES:
            raise InputError(f"unknown status {status!r}", hint="use one of " + ", ".join(STATUSES))
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if recipe is not None:
            where.append("recipe = ?")
            params.append(recipe)
        cols = ", ".join(f'"{c}"' for c in (*RUN_COLUMNS, "pid", "pid_start", "host"))
        sql = f"SELECT {cols} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        df = self._df(sql + " ORDER BY run_id DESC", params)
        dead = [int(r.run_id) for r in df.itertuples()
                if _is_dead(r.status, r.pid, r.pid_start, r.host)]
        if dead:
            gone = df["run_id"].isin(dead)
            df.loc[gone, "status"] = "interrupted"
            df.loc[gone, "error"] = df.loc[gone, "error"].fillna(STALE_ERROR)
            self._persist_interrupted(dead)
        if status is not None:
            df = df[df["status"] == status].reset_index(drop=True)
        return df.loc[:, list(RUN_COLUMNS)]

    def run(self, run_id: int) -> dict:
        """One run as a dict of every column; ``params``, ``summary`` and ``recall_by_distance``
        parsed from JSON (recall_by_distance keys are distances as strings, like the CLI's
        ``--json``). Unknown id: :class:`InputError`."""
        run_id = _int(run_id, "run id")
        with self._open() as con:
            cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
            row = cur.fetchone()
            if row is None:
                raise InputError(f"no run {run_id}", where=str(self.path), hint=_RUNS_HINT)
            out = dict(zip([d[0] for d in cur.description], row))
        if _is_dead(out["status"], out["pid"], out["pid_start"], out["host"]):
            out["status"], out["error"] = "interrupted", out["error"] or STALE_ERROR
            self._persist_interrupted([run_id])
        out["params"] = json.loads(out["params"]) if out.get("params") else {}
        for key in ("summary", "recall_by_distance"):
            out[key] = json.loads(out[key]) if out.get(key) else None
        return out

    def metrics(self, run_ids: int | list[int]) -> pd.DataFrame:
        """Columns run_id, stage, step, name, value; by run, then in the order logged."""
        ids = _ids(run_ids)
        return self._df(
            """SELECT run_id, stage, step, name, value FROM metrics
               WHERE list_contains(?, run_id) ORDER BY run_id, seq""", [ids])

    def recall(self, run_ids: int | list[int], *, split: str | None = None) -> pd.DataFrame:
        """Columns run_id, stage, step, split, distance, k, hits, pairs, recall; by run, then in
        the order logged (distances ascending within one evaluation)."""
        ids = _ids(run_ids)
        sql = """SELECT run_id, stage, step, split, distance, k, hits, pairs, recall FROM recall
                 WHERE list_contains(?, run_id)"""
        params: list = [ids]
        if split is not None:
            sql += " AND split = ?"
            params.append(split)
        return self._df(sql + " ORDER BY run_id, seq", params)

    def final_recall(self, run_id: int, *, split: str | None = None) -> pd.DataFrame:
        """Recall by distance at the last step of stage ``final``.

        Columns split, k, distance, hits, pairs, recall (by split, k, distance). Where the same
        (split, k, distance) was logged twice at that step the later row wins. Empty when the run
        has no ``final`` rows; unknown run: :class:`InputError`.
        """
        with self._open() as cur:
            return self._final_recall(cur, run_id, split)

    def _final_recall(self, cur, run_id, split) -> pd.DataFrame:
        run_id = self._require_run(cur, run_id)
        extra, params = "", [run_id]
        if split is not None:
            extra, params = " AND split = ?", [run_id, split]
        return cur.execute(
            f"""WITH f AS (SELECT * FROM recall WHERE run_id = ? AND stage = 'final'{extra})
                SELECT split, k, distance, hits, pairs, recall FROM f
                WHERE step = (SELECT max(step) FROM f)
                QUALIFY row_number() OVER (PARTITION BY split, k, distance ORDER BY seq DESC) = 1
                ORDER BY split, k, distance""", params).df()

    def retrievals(self, run_id: int, query: str | None = None, *,
                   stage: str | None = None) -> pd.DataFrame:
        """Columns stage, query, rank, doc, score, relevant, distance (by stage, query, rank),
        optionally for one query and/or stage. Unknown run: :class:`InputError`."""
        with self._open() as cur:
            return self._retrievals(cur, run_id, query, stage)

    def _retrievals(self, cur, run_id, query, stage) -> pd.DataFrame:
        run_id = self._require_run(cur, run_id)
        sql = """SELECT stage, "query", "rank", doc, score, relevant, distance FROM retrievals
                 WHERE run_id = ?"""
        params: list = [run_id]
        if query is not None:
            sql += ' AND "query" = ?'
            params.append(query)
        if stage is not None:
            sql += " AND stage = ?"
            params.append(stage)
        return cur.execute(sql + ' ORDER BY stage, "query", "rank"', params).df()

    def export(self, run_id: int, out_dir: str | Path, fmt: str = "parquet") -> list[Path]:
        """Write one file per table (runs, metrics, recall, retrievals) with that run's rows to
        ``out_dir/run{ID}_{table}.{fmt}``; ``fmt`` is ``parquet`` or ``csv``. Returns the paths.

        DuckDB writes the files itself (a relation with the bound run id); neither the id nor
        the path is formatted into SQL.
        """
        if fmt not in ("parquet", "csv"):
            raise InputError(f"unknown export format {fmt!r}", hint="use parquet or csv")
        with self._open() as cur:
            return self._export(cur, run_id, out_dir, fmt)

    def _export(self, cur, run_id, out_dir, fmt) -> list[Path]:
        run_id = self._require_run(cur, run_id)
        out = Path(out_dir).expanduser()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the export folder: {err}", where=str(out)) from None
        order = {"runs": "", "metrics": " ORDER BY seq", "recall": " ORDER BY seq",
                 "retrievals": ' ORDER BY stage, "query", "rank"'}
        paths = []
        for table in _TABLES:
            path = out / f"run{run_id}_{table}.{fmt}"
            rel = cur.sql(f"SELECT * FROM {table} WHERE run_id = $1{order[table]}",
                          params=[run_id])
            try:
                if fmt == "parquet":
                    rel.write_parquet(str(path))
                else:
                    rel.write_csv(str(path), header=True)
            except duckdb.IOException as err:
                raise InputError(f"cannot write the export: {err}", where=str(path)) from None
            paths.append(path)
        return paths

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run one read-only statement (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)
        with bound ``params`` and return a DataFrame. Anything that writes: :class:`InputError`."""
        with self._open() as cur:
            return self._query(cur, sql, params)

    def _query(self, cur, sql, params) -> pd.DataFrame:
        try:
            statements = cur.extract_statements(sql)
        except duckdb.Error as err:
            raise InputError(f"bad SQL: {err}") from None
        if len(statements) != 1:
            raise InputError(f"give one statement, got {len(statements)}")
        kind = statements[0].type
        if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
            raise InputError(f"query() only reads; this is a {kind.name} statement",
                             hint="write through the Store methods")
        try:
            return cur.execute(sql, params or []).df()
        except duckdb.Error as err:
            raise InputError(f"query failed: {err}") from None
