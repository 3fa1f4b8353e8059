"""Writes of the store: runs (create, finish, model path, interrupted, delete) and the logs
(metrics, recall, retrievals), each in one transaction with every value bound."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import duckdb
import pandas as pd

from ..errors import InputError
from .buffered import BufferedLog
from .schema import STATUSES, STALE_ERROR, _RETRIEVAL_COLUMNS
from .values import _to_json, _int, _float, _text, _now
from .liveness import _process_start, _is_dead


class WritesMixin:
    """The write methods of :class:`~hrviz.store.Store`."""

    def buffered(self, every: float = 0.5):
        """A :class:`~hrviz.store.buffered.BufferedLog` of this store: ``log_metrics`` and
        ``log_recall`` queued and flushed together at most every ``every`` seconds."""
        return BufferedLog(self, every)

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
