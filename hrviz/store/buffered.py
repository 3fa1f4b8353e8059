"""Buffered logging for a training run: its metric and recall writes queued and flushed
together, one connection and one transaction per flush instead of one per write.

Why: the store opens a connection per operation so that no process holds the file while idle
(:mod:`hrviz.store.connection`). A connect plus its checkpointing close costs ~30 ms, and a run
logs a loss every few steps: on the 900-step story run that was 369 connects, half its wall
time, and two runs in one process waited on each other's connects. Flushing at most every
``every`` seconds (0.5 s; the app's live view redraws every second) keeps the live view live and
pays one connect per flush. A flush also happens on :meth:`BufferedLog.flush` and when the
``with`` block ends, on success or error, so an interrupted run keeps what it logged.
"""

from __future__ import annotations

import time


class BufferedLog:
    """``with store.buffered() as log: log.log_metrics(...); log.log_recall(...)``."""

    def __init__(self, store, every: float = 0.5):
        self.store, self.every = store, float(every)
        self._pending: list[tuple] = []
        self._last = time.monotonic()

    def log_metrics(self, *args, **kwargs) -> None:
        self._add(self.store.log_metrics, args, kwargs)

    def log_recall(self, *args, **kwargs) -> None:
        self._add(self.store.log_recall, args, kwargs)

    def _add(self, write, args, kwargs) -> None:
        self._pending.append((write, args, kwargs))
        if time.monotonic() - self._last >= self.every:
            self.flush()

    def flush(self) -> None:
        """Write everything queued, in one transaction (all of it or, on error, none)."""
        pending, self._pending = self._pending, []
        self._last = time.monotonic()
        if not pending:
            return
        with self.store._write():  # nested writes of this thread join this transaction
            for write, args, kwargs in pending:
                write(*args, **kwargs)

    def __enter__(self) -> "BufferedLog":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()
