"""Reads of the store: runs (with dead processes reported as interrupted), metrics, recall,
retrievals, and free SQL for notebooks (:meth:`query`)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from ..errors import InputError
from .schema import STATUSES, STALE_ERROR, _RUNS_HINT, RUN_COLUMNS
from .values import RunParams, _ids, _int
from .liveness import _is_dead


class ReadsMixin:
    """The read methods of :class:`~hrviz.store.Store`."""

    # ------------------------------------------------------------------ reads

    def runs(self, *, status: str | None = None, source: str | None = None,
             recipe: str | None = None) -> pd.DataFrame:
        """All runs, newest first, optionally filtered; columns :data:`RUN_COLUMNS`, ``params`` as
        :class:`~hrviz.store.values.RunParams` (as :meth:`run` gives them)."""
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
        df = df.loc[:, list(RUN_COLUMNS)]
        df["params"] = [RunParams.parse(v) for v in df["params"]]  # as :meth:`run` gives them
        return df

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
        out["params"] = RunParams.parse(out.get("params"))
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
