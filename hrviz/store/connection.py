"""Connections to the store's file: short-lived, serialised per file within a process, retried
with back-off while another process holds DuckDB's lock (the choice is argued in
:mod:`hrviz.store`). :class:`StoreBase` opens, closes, batches, and creates or migrates the schema."""

from __future__ import annotations

import random
import re
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pandas as pd

from ..errors import InputError
from ..write_errors import writing
from .schema import (
    BUSY_TIMEOUT, DEFAULT_DB, SCHEMA_VERSION, _BUSY_HINT, _CHUNK, _RUNS_HINT, _SCHEMA, _TABLES,
    _migrate_1_to_2, _write_lock,
)
from .values import _int


class StoreBase:
    """Opening, closing, transactions and the schema of a :class:`~hrviz.store.Store`."""

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

    def __enter__(self) -> "StoreBase":
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

    @property
    def open_cursors(self) -> int:
        """How many per-thread cursors of the persistent connection are open (a file store
        keeps none between operations: it connects per operation)."""
        with self._cursors_guard:
            return len(self._cursors)

    @property
    def held_connection(self) -> duckdb.DuckDBPyConnection | None:
        """The connection this thread holds open inside :meth:`batch` (or a buffered flush);
        None outside such a block."""
        return getattr(self._local, "con", None)

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
    def batch(self) -> Iterator["StoreBase"]:
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
            with writing(self.path, "the results store"):  # a full disk: one line naming the file
                cur.begin()
                self._local.in_tx = True
                try:
                    yield cur
                except BaseException:
                    try:
                        cur.rollback()
                    except duckdb.Error:
                        pass  # a failed commit or write leaves nothing to roll back
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
