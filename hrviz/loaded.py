"""Your own vectors as a run: read, validate, evaluate and store embeddings made elsewhere.

A *loaded* run is a dual encoder whose query and document vectors come from files, not from
training: model kind ``loaded`` (``params["model"]``), recipe ``loaded``. It is evaluated
exactly (:func:`hrviz.evaluate.evaluate`, the dot product of the vectors as given, no
normalisation) and stored like a trained run, so every page and ``hrviz eval``/``export`` read it.

Accepted files (node names are the hierarchy's, e.g. ``mammal.n.01`` or ``r.0.1``; every node
needs its vectors, once):

1. A TensorBoard projector pair, as ``hrviz export --format projector`` writes it: a vectors
   file (``.tsv``, one vector per line, values separated by tabs, no header) and a metadata file
   (``.tsv``, a header line, then one line per vector line) with the columns ``name`` and
   ``side`` (``query`` or ``doc``); other columns (``label``, ``depth``) are ignored. Without a
   ``side`` column every vector is used on both sides (a symmetric embedding); a metadata file
   of one column without header (TensorBoard's own form) holds the names. The two files may
   come in either order.
2. A table, ``.csv`` (or ``.tsv``) or ``.parquet``, one row per node: a column ``node`` (the
   name) and either ``q0 .. q{d-1}`` plus ``d0 .. d{d-1}`` (query and document vectors), or
   ``v0 .. v{d-1}`` (one vector for both sides). A parquet file may instead hold list columns
   ``query`` and ``doc``, or ``vector``. Other columns are ignored.
3. An ``.npz`` (``np.savez``) with ``names`` (a string array, n) and ``query`` and ``doc``
   (float arrays, n x d), or ``names`` and ``vectors`` (one vector for both sides). Saved
   without pickling: ``np.array(names, dtype=str)``.

Every input is treated as hostile (:mod:`hrviz.vector_files` reads them): each is read exactly
once (so a pipe works: ``hrviz load SRC <(cat vectors.tsv) metadata.tsv``) and never beyond the
size limit of every file a user gives hrviz (:func:`hrviz.file_limit.max_bytes`: 2 GiB, or
``$HRVIZ_LOAD_MAX_BYTES`` bytes); a device, socket or folder is refused unread; headers come before data (an ``.npz`` whose header claims more values
than it holds is refused without allocating them; a parquet footer's size before its rows).

Validation happens before anything is written (:func:`read_vectors`): an unreadable format, node
names the hierarchy lacks and nodes without vectors (a few named, and the count), a node given
twice, mixed dimensions, NaN or infinite values, and **scores float32 cannot hold**
(:func:`check_scores`) each raise one :class:`~hrviz.errors.InputError` of one short line
(:func:`brief`). Scores stay float32, as for every other run (the model file, ``hrviz eval``,
the pages all score in float32), so vectors whose dot products would overflow float32 (values
near 1e20) or vanish below its range (values near 1e-30) are refused with the fix (scale one
side by a constant: rankings do not change), not scored in float64 here and float32 elsewhere.

The run's distance cap (``max_distance``, ``hrviz load --max-distance N``; the app passes the
active hierarchy's cap) decides which ancestors are relevant, as for a trained run: a run
exported as projector files and loaded back with its cap reads the same numbers.
:data:`hrviz.kinds.loaded.LOADED` (the model kind ``loaded``) then makes the run through the one
run pipeline (:func:`hrviz.experiment.run_training`) and writes its final stage as a trained run
does (recall on all pairs within the cap, summary, model file, the top-10 lists of a seeded
query sample); a failure after that (e.g. a full disk) marks the run failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .errors import InputError
from .file_limit import MAX_BYTES_ENV
from .hierarchy import Hierarchy
from .vector_files import SUFFIXES, RawVectors, VectorFile, clip, read_raw  # noqa: F401 - SUFFIXES, VectorFile: public here

#: the largest score accepted: float32 holds up to 3.4e38; the margin keeps sums of products finite
LARGEST_SCORE = 1e38
#: the smallest largest-score a nonzero vector may have: float32's smallest normal number divided
#: by its precision (1.2e-38 / 1.2e-7, about 1e-31). Below it a score's own rounding step is finer
#: than float32's normal range, so products that underflow (or that hardware flushes to zero)
#: change its ranking; values near 1e-30 give products near 1e-60, which float32 holds as 0
SMALLEST_SCORE = float(np.finfo(np.float32).tiny / np.finfo(np.float32).eps)
#: the longest message (``hrviz load: `` goes before it; the whole line stays under 200)
MAX_MESSAGE = 185
_SHOWN = 3  # names shown in a message


@dataclass
class LoadedVectors:
    """Validated vectors in the hierarchy's node order: ``query`` and ``doc`` (n x dim, float32),
    ``symmetric`` when one vector serves both sides, ``format`` (projector, csv, parquet, npz),
    the input ``files`` (names) and the run's distance cap ``max_distance``."""

    query: np.ndarray
    doc: np.ndarray
    symmetric: bool
    format: str
    files: list[str] = field(default_factory=list)
    max_distance: int | None = None  # the run's distance cap (None: every ancestor)

    @property
    def dim(self) -> int:
        return int(self.query.shape[1])


def _few(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(repr(clip(n, 30)) for n in names[:_SHOWN])
    return shown + (", ..." if len(names) > _SHOWN else "")


def brief(err: InputError, width: int = MAX_MESSAGE) -> InputError:
    """``err`` as one line of at most ``width`` characters: the hint goes first, then the
    message is shortened at a word. A refusal is read in a terminal or an error box: one line."""
    if len(str(err)) <= width:
        return err
    short = InputError(err.message, where=err.where)
    if len(str(short)) <= width:
        return short
    room = width - (len(err.where) + 2 if err.where else 0)
    text = err.message[: max(room - 4, 20)].rsplit(" ", 1)[0] + " ..."
    return InputError(text, where=err.where)


# ----- validation against the hierarchy ------------------------------------------------------

def _align(names: list[str], rows: np.ndarray, h: Hierarchy, where: str, side: str) -> np.ndarray:
    """``rows`` in the hierarchy's node order; unknown, repeated or missing names refused."""
    index = h.index
    unknown = [n for n in names if n not in index]
    if unknown:
        raise InputError(f"{len(unknown):,} node name(s) the hierarchy lacks: {_few(dict.fromkeys(unknown))}",
                         where=where,
                         hint=f"use the hierarchy's node names, e.g. {clip(h.names[0], 30)!r}")
    pos = np.fromiter((index[n] for n in names), dtype=np.int64, count=len(names))
    counts = np.bincount(pos, minlength=h.n)
    if (counts > 1).any():
        twice = [h.names[i] for i in np.flatnonzero(counts > 1)]
        raise InputError(f"{len(twice):,} node(s) given more than once ({_side(side)}): {_few(twice)}", where=where,
                         hint="one vector per node and side")
    if len(names) < h.n:
        missing = [h.names[i] for i in np.flatnonzero(counts == 0)]
        raise InputError(f"vectors for {len(missing):,} of the hierarchy's {h.n:,} nodes are missing "
                         f"({_side(side)}): {_few(missing)}", where=where,
                         hint="every node needs a query and a document vector")
    out = np.empty((h.n, rows.shape[1]), dtype=np.float64)
    out[pos] = rows
    return out


def _side(side: str) -> str:
    return "both sides" if side == "both" else f"{side} side"


def _check_finite(x: np.ndarray, h: Hierarchy, where: str, side: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InputError(f"{int(bad.sum()):,} value(s) are NaN, infinite or missing ({_side(side)}), first at "
                         f"node {clip(h.names[rows[0]], 30)!r}", where=where, hint="every value must be a finite number")
    largest = float(np.abs(x).max(initial=0.0))
    if largest > float(np.finfo(np.float32).max):
        raise InputError(f"a value of {largest:.2g} ({_side(side)}), beyond float32's range (3.4e+38)", where=where,
                         hint="scale them down: dividing one side by a constant keeps every ranking")


def check_scores(q: np.ndarray, d: np.ndarray, h: Hierarchy, where: str, symmetric: bool) -> None:
    """Refuse vectors whose dot products float32 cannot hold (scores are float32 everywhere).

    No n x n product is formed: by Cauchy-Schwarz every score of query i, and every partial
    sum of its products, is at most |q_i| * max_j |d_j| (norms in float64). Too large (over
    :data:`LARGEST_SCORE`): the largest query and document could overflow to inf, and recall
    would read 0 while MAP and mean rank disagree. A nonzero vector whose largest possible score
    is below :data:`SMALLEST_SCORE` underflows: its scores flush to 0 in float32, so its ranking
    (a float64 evaluation would have one) becomes ties. Zero vectors are allowed (they score 0
    in any precision)."""
    nq, nd = np.linalg.norm(q, axis=1), np.linalg.norm(d, axis=1)
    top_q, top_d = float(nq.max(initial=0.0)), float(nd.max(initial=0.0))
    if top_q * top_d > LARGEST_SCORE:
        raise InputError(f"scores would overflow float32: largest vector norms {top_q:.2g} (query) x "
                         f"{top_d:.2g} (doc) > {LARGEST_SCORE:.0e}", where=where,
                         hint="scale them down: dividing one side by a constant keeps every ranking")
    for side, norms, other in (("query", nq, top_d), ("doc", nd, top_q)):
        tiny = (norms > 0) & (norms * other < SMALLEST_SCORE)
        if tiny.any():
            i = int(np.flatnonzero(tiny)[0])
            label = _side("both" if symmetric else side)
            raise InputError(f"{int(tiny.sum()):,} vector(s) too small for float32 scores ({label}, up to "
                             f"{norms[i] * other:.1g}), first at node {clip(h.names[i], 30)!r}", where=where,
                             hint="scale them up: multiplying one side by a constant keeps every ranking")
        if symmetric:
            break


def check_cap(max_distance, h: Hierarchy) -> int | None:
    """The run's distance cap: None (every ancestor) or a whole number >= 0."""
    if max_distance is None:
        return None
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) or max_distance < 0:
        raise InputError(f"the distance cap must be a whole number >= 0, got {clip(max_distance, 20)}",
                         hint=f"0 keeps self pairs only; {h.max_depth} or more keeps every ancestor")
    return int(max_distance)


def _validated(raw: RawVectors, h: Hierarchy) -> tuple[np.ndarray, np.ndarray]:
    """The float64 query and doc rows in node order, every check against ``h`` passed."""
    if raw.query.ndim != 2 or raw.query.shape[1] < 1:
        raise InputError("the vectors have no values (dimension 0)", where=raw.where)
    if raw.doc is not None and raw.doc.shape[1] != raw.query.shape[1]:
        raise InputError(f"mixed dimensions: query vectors have {raw.query.shape[1]} values, doc vectors "
                         f"{raw.doc.shape[1]}", where=raw.where)
    symmetric = raw.doc is None
    q = _align(raw.q_names, raw.query, h, raw.where, "both" if symmetric else "query")
    _check_finite(q, h, raw.where, "both" if symmetric else "query")
    d = q
    if not symmetric:
        d = _align(raw.d_names, raw.doc, h, raw.where, "doc")
        _check_finite(d, h, raw.where, "doc")
    check_scores(q, d, h, raw.where, symmetric)
    return q, d


def read_vectors(h: Hierarchy, files, *, max_distance: int | None = None) -> LoadedVectors:
    """Read and validate vectors for hierarchy ``h`` from ``files`` (paths, ``(name, bytes)``
    pairs or :class:`~hrviz.vector_files.VectorFile`), for a run with distance cap
    ``max_distance``: every check of the module docstring, before anything is written.

    Raises :class:`InputError` of one line under :data:`MAX_MESSAGE` characters: what, where,
    and how to fix it. A parser's own failure on a hostile file (any exception while reading)
    becomes such a line too, so no file can end in a traceback."""
    files = [VectorFile.of(x) for x in files]
    where = " + ".join(f.name for f in files) or "the files"
    try:
        cap = check_cap(max_distance, h)
        raw = read_raw(files)
        q, d = _validated(raw, h)
    except InputError as err:
        raise brief(err) from None
    except MemoryError:
        raise brief(InputError("not enough memory to read the vectors", where=where,
                               hint=f"set {MAX_BYTES_ENV} lower to refuse such files early")) from None
    except RecursionError:
        raise brief(InputError("the file nests too deeply to read", where=where)) from None
    except Exception as err:  # noqa: BLE001 - a parser failing on a hostile file is bad input, not a crash
        raise brief(InputError("the file could not be read as vectors", where=where,
                               hint="use .npz, .csv, .parquet, or a projector pair of .tsv files")) from err
    q32 = q.astype(np.float32)
    return LoadedVectors(query=q32, doc=q32.copy() if raw.doc is None else d.astype(np.float32),
                         symmetric=raw.doc is None, format=raw.format, files=[f.name for f in files],
                         max_distance=cap)
