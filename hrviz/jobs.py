"""One registry for the background jobs of a process: training runs and UMAP maps.

A :class:`Job` is a daemon thread with a ``stop`` event and the fields a page polls:

- ``kind``: ``"training"``, ``"umap"``, ``"story"`` or ``"your-story"`` (:mod:`hrviz.your_story`, key: source and cap); ``key``: the run id (training), the map's
  cache key, or the story's name (:func:`hrviz.story.start_story`: Home's runs of a first start);
- ``status``: ``running``, ``done``, ``failed`` or ``stopped``; ``progress`` (0..1), ``message``;
- ``error`` (text, when failed), ``result`` (what the work returned: the map's coordinates);
- ``seconds`` (so far, or in all).

Cancelling a job sets its stop event. A training run checks it between steps (``fit``'s
``stop``) and ends ``stopped`` in the store with what it logged; a UMAP job checks it in its
progress callback (every few epochs of the layout) and ends ``stopped`` without writing the cache.

:class:`Jobs` keeps jobs by ``(kind, key)``: asking twice for the same job starts it once
(:meth:`Jobs.start_once`, under the registry's lock), and :meth:`Jobs.start_training` lets one run
train at a time. Nothing here imports Streamlit; the app keeps one registry per process and store.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import InputError
from . import projection
from .experiment import launch

KINDS = ("training", "umap", "story", "your-story")


class Cancelled(Exception):
    """Raised inside a job's work when its stop event is set."""


class Job:
    """One piece of work in a daemon thread; see the module docstring for its fields."""

    def __init__(self, kind: str, key, work: Callable[["Job"], Any], *, thread: threading.Thread | None = None,
                 stop: threading.Event | None = None, info: dict | None = None):
        if kind not in KINDS:
            raise InputError(f"unknown job kind {kind!r}", hint=f"one of {', '.join(KINDS)}")
        self.kind, self.key, self.info = kind, key, dict(info or {})
        self.stop = stop or threading.Event()
        self.status, self.progress, self.message = "running", 0.0, "starting"
        self.error: str | None = None
        self.result: Any = None
        self.started, self.ended = time.time(), None
        self._work = work
        self._thread = thread or threading.Thread(target=self._run, name=f"hrviz-{kind}-{key}", daemon=True)

    def start(self) -> "Job":
        if not self._thread.is_alive() and self.ended is None:
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._work(self)
            self.status = "stopped" if self.stop.is_set() else "done"
        except Cancelled:
            self.status = "stopped"
        except BaseException as e:  # noqa: BLE001 - a page shows it; the app must go on
            self.error = str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
            self.status = "failed"
        finally:
            self.ended = time.time()

    def report(self, fraction: float, message: str) -> None:
        """Progress callback for the work; raises :class:`Cancelled` once the job is stopped."""
        if self.stop.is_set():
            raise Cancelled(self.key)
        self.progress = max(self.progress, min(1.0, float(fraction)))
        self.message = message

    def cancel(self) -> bool:
        """Ask the job to stop; False when it is not running."""
        if not self.alive:
            return False
        self.stop.set()
        return True

    @property
    def alive(self) -> bool:
        alive = self._thread.is_alive()
        if not alive and self.ended is None and self._thread.ident is not None:  # a thread of its own
            self.ended = time.time()                                             # (a training run)
            self.status = "stopped" if self.stop.is_set() else "done"
        return alive

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests, scripts); True when it has."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self.alive


class Jobs:
    """The background jobs of a process, by ``(kind, key)``."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, Any], Job] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, key) -> Job | None:
        return self._jobs.get((kind, key))

    def running(self, kind: str | None = None) -> dict[Any, Job]:
        """key -> job of the live jobs (of one kind)."""
        return {k: j for (kd, k), j in list(self._jobs.items()) if j.alive and kind in (None, kd)}

    def cancel(self, kind: str, key) -> bool:
        job = self.get(kind, key)
        return job is not None and job.cancel()

    def start_once(self, kind: str, key, work: Callable[[Job], Any], *, again: bool = False,
                   info: dict | None = None) -> Job:
        """The job ``(kind, key)``, live or ended, else a new one running ``work``; with ``again``
        an ended job is replaced (a live one is still returned). Two threads asking at once get
        the same job: the check and the start happen under the registry's lock."""
        with self._lock:
            old = self._jobs.get((kind, key))
            if old is not None and (not again or old.alive):
                return old
            job = self._jobs[(kind, key)] = Job(kind, key, work, info=info)
            return job.start()

    def start_umap(self, x: np.ndarray, *, cache_dir: str | Path | None = None, **params) -> Job:
        """The running or finished map of ``x`` with ``params``, else a new job (a failed or
        stopped one is started again). The result is cached on disk under ``cache_dir``."""
        params = projection.umap_params(**params)
        key = projection.cache_key(projection.embedding_hash(np.asarray(x)), params)
        data = {"x": np.asarray(x)}

        def work(job: Job):
            try:
                return projection.umap_project(data.pop("x"), cache_dir=cache_dir, progress=job.report, **params)
            finally:
                data.clear()  # the input is no longer needed

        with self._lock:
            old = self._jobs.get(("umap", key))
            if old is not None and old.status in ("running", "done"):
                return old
            job = self._jobs[("umap", key)] = Job("umap", key, work, info={"params": params})
        return job.start()

    def start_training(self, source: str, cfg, store, *, hierarchy=None, name: str | None = None) -> Job:
        """Create the run row and train it in the background (one run at a time per registry);
        the job's key is the run id. Raises :class:`InputError` while another run trains."""
        with self._lock:
            if self.running("training"):
                raise InputError("a run is already training in this app",
                                 hint="stop it on the Train page, or wait for it to finish")
            stop = threading.Event()
            run_id, thread = launch(source, cfg, store, hierarchy=hierarchy, stop=stop, name=name)
            job = Job("training", int(run_id), lambda j: None, thread=thread, stop=stop,
                      info={"source": source})
            job.message = "training"
            self._jobs[("training", int(run_id))] = job
        return job
