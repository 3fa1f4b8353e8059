"""Two-dimensional maps of embeddings: PCA (exact, instant) and UMAP (cached on disk, run in the
background).

- :func:`pca`: principal components of the centred matrix, exact, in float64; each
  component's sign is fixed (its largest loading is positive), so the same matrix always gives
  the same picture.
- :func:`umap_project`: UMAP (McInnes et al. 2018) with a disk cache keyed by the sha256 of the
  array's bytes (:func:`embedding_hash`) and the parameters. Each result is an ``.npy`` file plus
  a JSON sidecar that records the parameters, the embedding hash, the shape, the time it took and
  the umap version. ``umap`` is imported inside the function: importing it costs ~15 s and its
  first call compiles numba code (~30-50 s), so it never runs at import or inside a request.
- :class:`UmapJob` / :class:`UmapJobs`: one UMAP in a daemon thread with a status (``running``,
  ``done``, ``failed`` with the error), a progress fraction and a message, so a page can start it
  with a button and poll it.
- What the map shows for each point (a seeded node sample, the subtree of each point, recall
  of each query, one data frame with coordinates and node attributes) is :mod:`hrviz.map_points`.

Nothing here imports Streamlit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import warnings
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError

__all__ = [
    "METRICS", "embedding_hash", "pca", "umap_params", "cache_key", "load_cached", "umap_project", "UmapJob",
    "UmapJobs",
]

#: UMAP parameters as :func:`umap_project` takes them, with their defaults
#: distance metrics offered for UMAP (any name umap accepts works in the library)
METRICS = ("cosine", "euclidean", "correlation", "manhattan")
#: fewest points UMAP is run on (its spectral initialisation needs a few)
MIN_UMAP_POINTS = 10

Progress = Callable[[float, str], None]


# ----------------------------------------------------------------------------- hashing and PCA


def embedding_hash(x: np.ndarray) -> str:
    """sha256 (first 24 hex digits) of an array's dtype, shape and bytes (C order)."""
    a = np.ascontiguousarray(x)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:24]


def pca(x: np.ndarray, n_components: int = 2, *, return_variance: bool = False):
    """Project the rows of ``x`` (n, d) on their first ``n_components`` principal components.

    Exact, in float64: the eigenvectors of the d x d scatter matrix of the centred rows (a thin
    SVD when there are fewer rows than columns), ordered by explained variance; 82k x 64 takes
    a fraction of a second (``bench/projection.py``). The sign of each component is fixed so that its
    largest-magnitude loading is positive: the same input always draws the same picture.
    Exact SVD needs no randomness, so there is no seed. Components beyond the rank of ``x`` are
    zeros.

    Returns the (n, n_components) float32 coordinates, and with ``return_variance`` also the
    fraction of the total variance each component explains.

    Example::

        >>> pca(np.array([[0., 0.], [2., 0.], [4., 0.1]])).shape
        (3, 2)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"pca needs a 2-d array (points x dimensions), got shape {x.shape}")
    if n_components < 1:
        raise InputError(f"n_components must be >= 1, got {n_components}")
    n, d = x.shape
    out = np.zeros((n, n_components), dtype=np.float64)
    ratio = np.zeros(n_components)
    if n >= 2 and d >= 1:
        xc = x - x.mean(axis=0)
        if n >= d:  # the usual case: eigenvectors of the small d x d scatter matrix
            evals, evecs = np.linalg.eigh(xc.T @ xc)
            order = np.argsort(evals)[::-1]
            var, vt = np.clip(evals[order], 0.0, None), evecs[:, order].T
        else:
            _, sv, vt = np.linalg.svd(xc, full_matrices=False)
            var = sv ** 2
        k = min(n_components, len(var))
        vt = vt[:k]
        big = np.argmax(np.abs(vt), axis=1)
        vt = vt * np.sign(vt[np.arange(k), big])[:, None]
        out[:, :k] = xc @ vt.T
        total = float(var.sum())
        if total > 0:
            ratio[:k] = var[:k] / total
    out = out.astype(np.float32)
    return (out, ratio) if return_variance else out


# ----------------------------------------------------------------------------- UMAP with a disk cache


def umap_params(n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "cosine", seed: int = 0,
                n_epochs: int | None = None) -> dict:
    """The parameters of one UMAP run, checked and as plain JSON values (the cache key's part).

    ``n_neighbors``: size of the local neighbourhood (larger: more global structure);
    ``min_dist``: how tightly points may pack in the map (0 to 1); ``metric``: distance in the
    embedding space (``cosine`` matches a dual encoder's normalised dot product); ``seed``: the
    random state (makes the run deterministic and single-threaded); ``n_epochs``: layout
    optimisation epochs (None: umap's default, 500 below 10,000 points, else 200).
    """
    if int(n_neighbors) < 2:
        raise InputError(f"n_neighbors must be >= 2, got {n_neighbors}")
    if not 0.0 <= float(min_dist) <= 1.0:
        raise InputError(f"min_dist must be in [0, 1], got {min_dist}")
    if not isinstance(metric, str) or not metric:
        raise InputError(f"metric must be a distance name such as cosine, got {metric!r}")
    if n_epochs is not None and int(n_epochs) < 1:
        raise InputError(f"n_epochs must be >= 1 or None, got {n_epochs}")
    return {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric,
            "seed": int(seed), "n_epochs": None if n_epochs is None else int(n_epochs)}


def cache_key(x_hash: str, params: dict) -> str:
    """File stem of a cached UMAP result: sha256 of the embedding hash and the parameters."""
    text = json.dumps({"embedding": x_hash, **umap_params(**params)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _paths(cache_dir: str | Path, key: str) -> tuple[Path, Path]:
    folder = Path(cache_dir)
    return folder / f"umap-{key}.npy", folder / f"umap-{key}.json"


def load_cached(x: np.ndarray, cache_dir: str | Path, *, x_hash: str | None = None,
                **params) -> tuple[np.ndarray, dict] | None:
    """``(coords, info)`` of a cached UMAP of ``x`` with these parameters, or None.

    ``info`` is the JSON sidecar: params, embedding hash, shape, seconds, umap version, created.
    A damaged or mismatched file counts as missing.
    """
    params = umap_params(**params)
    x_hash = x_hash or embedding_hash(x)
    npy, meta = _paths(cache_dir, cache_key(x_hash, params))
    if not (npy.exists() and meta.exists()):
        return None
    try:
        info = json.loads(meta.read_text())
        coords = np.load(npy, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if info.get("embedding_hash") != x_hash or coords.shape != (len(x), 2):
        return None
    return coords, info


def _save(cache_dir: str | Path, key: str, coords: np.ndarray, info: dict) -> None:
    """Write the .npy then the sidecar, each to a temporary name first: readers see whole files."""
    npy, meta = _paths(cache_dir, key)
    npy.parent.mkdir(parents=True, exist_ok=True)
    tag = f".{os.getpid()}.{threading.get_ident()}.part"
    tmp = npy.with_name(npy.name + tag)
    with open(tmp, "wb") as f:
        np.save(f, coords, allow_pickle=False)
    tmp.replace(npy)
    tmp = meta.with_name(meta.name + tag)
    tmp.write_text(json.dumps(info, indent=1, sort_keys=True))
    tmp.replace(meta)


class _TqdmSink:
    """A file for umap's tqdm bar (``bar_format="{n}/{total}"``): turns epochs into progress."""

    _STEP = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Progress, lo: float, hi: float):
        self.progress, self.lo, self.hi = progress, lo, hi

    def write(self, text: str) -> int:
        found = self._STEP.findall(text)
        if found:
            n, total = (int(v) for v in found[-1])
            if total:
                self.progress(self.lo + (self.hi - self.lo) * n / total, f"layout: epoch {n} of {total}")
        return len(text)

    def flush(self) -> None:
        pass


def _fit_umap(x: np.ndarray, params: dict, progress: Progress | None = None) -> np.ndarray:
    """One real UMAP fit (the expensive part; tests count its calls)."""
    report = progress or (lambda fraction, message: None)
    report(0.0, "loading umap (the first run in a process also compiles it: 30-60 s)")
    import umap  # noqa: PLC0415 - heavy (numba): imported only when a map is computed

    n = len(x)
    kwargs = dict(n_components=2, n_neighbors=min(params["n_neighbors"], n - 1),
                  min_dist=params["min_dist"], metric=params["metric"],
                  random_state=params["seed"], n_epochs=params["n_epochs"], verbose=False,
                  tqdm_kwds={"disable": False, "file": _TqdmSink(report, 0.3, 0.99),
                             "bar_format": "{n}/{total}", "mininterval": 0.25, "ascii": True})
    report(0.05, f"nearest neighbours and initial layout of {n:,} points")
    with warnings.catch_warnings():
        # "n_jobs overridden to 1 by setting random_state": expected, the seed makes it repeatable
        warnings.simplefilter("ignore", UserWarning)
        coords = umap.UMAP(**kwargs).fit_transform(np.asarray(x, dtype=np.float32))
    return np.asarray(coords, dtype=np.float32)


def umap_project(x: np.ndarray, *, n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "cosine",
                 seed: int = 0, n_epochs: int | None = None, cache_dir: str | Path | None = None,
                 progress: Progress | None = None) -> np.ndarray:
    """UMAP of the rows of ``x`` to 2-d, (n, 2) float32. See :func:`umap_params` for the knobs.

    With ``cache_dir``, a result for the same bytes and parameters is read back instead of
    recomputed, and a new one is saved there (``umap-KEY.npy`` + ``umap-KEY.json``).
    ``progress(fraction, message)`` is called as the run advances (epochs of the layout).
    """
    params = umap_params(n_neighbors, min_dist, metric, seed, n_epochs)
    x = np.asarray(x)
    if x.ndim != 2 or len(x) < MIN_UMAP_POINTS:
        raise InputError(f"UMAP needs at least {MIN_UMAP_POINTS} points of a 2-d array, got shape {x.shape}",
                         hint="use PCA for tiny sets")
    x_hash = embedding_hash(x)
    if cache_dir is not None:
        hit = load_cached(x, cache_dir, x_hash=x_hash, **params)
        if hit is not None:
            if progress:
                progress(1.0, "read from the cache")
            return hit[0]
    t0 = time.perf_counter()
    coords = _fit_umap(x, params, progress)
    seconds = time.perf_counter() - t0
    if cache_dir is not None:
        info = {"params": params, "embedding_hash": x_hash, "shape": list(x.shape),
                "seconds": round(seconds, 3), "umap_version": version("umap-learn"),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        _save(cache_dir, cache_key(x_hash, params), coords, info)
    if progress:
        progress(1.0, f"done in {seconds:.1f} s")
    return coords


class UmapJob:
    """One :func:`umap_project` in a daemon thread.

    Attributes a page polls: ``status`` (``running``, ``done``, ``failed``), ``progress`` (0..1),
    ``message``, ``error`` (text, when failed), ``result`` ((n, 2) array, when done),
    ``params``, ``key`` (the cache key), ``seconds`` (so far, or in all).
    """

    def __init__(self, x: np.ndarray, *, cache_dir: str | Path | None = None, **params):
        self.x = np.asarray(x)
        self.params = umap_params(**params)
        self.cache_dir = cache_dir
        self.key = cache_key(embedding_hash(self.x), self.params)
        self.status = "running"
        self.progress = 0.0
        self.message = "starting"
        self.error: str | None = None
        self.result: np.ndarray | None = None
        self.started = time.time()
        self.ended: float | None = None
        self._thread = threading.Thread(target=self._work, name=f"hrviz-umap-{self.key[:8]}", daemon=True)

    def start(self) -> "UmapJob":
        self._thread.start()
        return self

    def _report(self, fraction: float, message: str) -> None:
        self.progress = max(self.progress, min(1.0, float(fraction)))
        self.message = message

    def _work(self) -> None:
        try:
            self.result = umap_project(self.x, cache_dir=self.cache_dir, progress=self._report, **self.params)
            self.status = "done"
        except BaseException as e:  # noqa: BLE001 - a page shows it; the app must go on
            self.error = str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
            self.status = "failed"
        finally:
            self.ended = time.time()
            self.x = None  # the input is no longer needed

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests, scripts); True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


class UmapJobs:
    """Background UMAP jobs by cache key: asking twice for the same map starts it once.

    A page keeps one of these per process (``st.cache_resource``) and calls :meth:`start`
    from a button, then :meth:`get` on every rerun.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, UmapJob] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> UmapJob | None:
        return self._jobs.get(key)

    def start(self, x: np.ndarray, *, cache_dir: str | Path | None = None, **params) -> UmapJob:
        """The running or finished job for this map, else a new one (a failed one is retried)."""
        job = UmapJob(x, cache_dir=cache_dir, **params)
        with self._lock:
            old = self._jobs.get(job.key)
            if old is not None and old.status != "failed":
                return old
            self._jobs[job.key] = job
        return job.start()

    def running(self) -> list[UmapJob]:
        return [j for j in self._jobs.values() if j.status == "running"]
