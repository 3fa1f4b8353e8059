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

Validation happens before anything is written (:func:`read_vectors`): a file over the size
limit (:func:`max_bytes`: 2 GiB, or ``$HRVIZ_LOAD_MAX_BYTES`` bytes), an unreadable format,
node names the hierarchy lacks and nodes without vectors (a few named, and the count),
a node given twice, mixed dimensions, NaN or infinite values each raise one
:class:`~hrviz.errors.InputError`. :data:`hrviz.kinds.loaded.LOADED` (the model kind ``loaded``) then makes the run through
the one run pipeline (:func:`hrviz.experiment.run_training`) and writes its final stage as a
trained run does (recall on all pairs, summary, model file, the top-10 lists
of a seeded query sample); a failure after that (e.g. a full disk) marks the run failed.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .errors import InputError
from .hierarchy import Hierarchy

#: the default size limit of one file: 2 GiB (``$HRVIZ_LOAD_MAX_BYTES`` overrides, in bytes)
DEFAULT_MAX_BYTES = 2 * 1024 ** 3
MAX_BYTES_ENV = "HRVIZ_LOAD_MAX_BYTES"
KIND = "loaded"  # the model kind (params["model"]) and recipe of a loaded run
SUFFIXES = (".tsv", ".txt", ".csv", ".parquet", ".pq", ".npz")
_LAYOUTS = ("columns node, q0..q{d-1}, d0..d{d-1}; or node, v0..v{d-1}; "
            "parquet also node, query, doc (lists) or node, vector")
_SHOWN = 5  # names shown in a message


@dataclass
class VectorFile:
    """One input file: a path on disk, or the bytes of an upload; ``name`` is how the user
    knows it (shown in messages)."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    @classmethod
    def of(cls, item) -> "VectorFile":
        """A VectorFile from a path (str or Path), a ``(name, bytes)`` pair, or itself."""
        if isinstance(item, VectorFile):
            return item
        if isinstance(item, tuple):
            return cls(name=str(item[0]), data=bytes(item[1]))
        return cls(name=str(item), path=Path(item).expanduser())

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()

    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            raise InputError("file not found", where=self.name) from None
        except OSError as err:
            raise InputError(f"cannot read the file: {err.strerror}", where=self.name) from None

    def open(self):
        """A binary file object of the contents."""
        if self.data is not None:
            return io.BytesIO(self.data)
        try:
            return open(self.path, "rb")
        except OSError as err:
            raise InputError(f"cannot read the file: {err.strerror}", where=self.name) from None

    def text(self) -> str:
        with self.open() as f:
            raw = f.read()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise InputError(f"not a UTF-8 text file (byte {err.start})", where=self.name,
                             hint="a projector .tsv or a .csv is text") from None


@dataclass
class LoadedVectors:
    """Validated vectors in the hierarchy's node order: ``query`` and ``doc`` (n x dim, float32),
    ``symmetric`` when one vector serves both sides, ``format`` (projector, csv, parquet, npz)
    and the input ``files`` (names)."""

    query: np.ndarray
    doc: np.ndarray
    symmetric: bool
    format: str
    files: list[str] = field(default_factory=list)
    max_distance: int | None = None  # the run's distance cap (None: every ancestor)

    @property
    def dim(self) -> int:
        return int(self.query.shape[1])


@dataclass
class _Raw:
    """What a reader found: names with their query rows and doc rows (doc None: symmetric)."""

    q_names: list[str]
    query: np.ndarray
    d_names: list[str] | None
    doc: np.ndarray | None
    format: str
    where: str


def max_bytes() -> int:
    """The size limit of one file in bytes: ``$HRVIZ_LOAD_MAX_BYTES``, else 2 GiB."""
    text = os.environ.get(MAX_BYTES_ENV)
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"{MAX_BYTES_ENV} must be a positive number of bytes, got {text!r}")
    return value


def _human(n: int) -> str:
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _few(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:_SHOWN])
    return shown + (", ..." if len(names) > _SHOWN else "")


# ----- readers ------------------------------------------------------------------------------

def _floats(rows: list[list[str]], f: VectorFile, first_line: int = 1) -> np.ndarray:
    """Rows of number strings -> float64 array; the first bad value is named by line."""
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                try:
                    float(v)
                except ValueError:
                    raise InputError(f"not a number in column {j + 1}: {v.strip()[:40]!r}",
                                     where=f"{f.name}, line {i + first_line}") from None
        raise


def _lines(text: str) -> list[str]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _read_projector_vectors(f: VectorFile) -> np.ndarray:
    lines = _lines(f.text())
    if not lines:
        raise InputError("no vectors in the file", where=f.name)
    tabs = np.array([line.count("\t") for line in lines])
    if (tabs != tabs[0]).any():
        i = int(np.flatnonzero(tabs != tabs[0])[0])
        raise InputError(f"mixed dimensions: {tabs[i] + 1} values on this line, {tabs[0] + 1} on the first",
                         where=f"{f.name}, line {i + 1}", hint="every vector needs the same dimension")
    try:  # the C parser: WordNet's 164k x 64 values in about a second
        return pd.read_csv(io.StringIO("\n".join(lines)), sep="\t", header=None, dtype=np.float64,
                           na_filter=False, engine="c").to_numpy()
    except ValueError:
        return _floats([line.split("\t") for line in lines], f)  # names the first bad value's line


def _looks_numeric(line: str) -> bool:
    try:
        [float(v) for v in line.split("\t")]
    except ValueError:
        return False
    return True


def _read_projector(vec_file: VectorFile, meta_file: VectorFile) -> _Raw:
    first = [_lines(x.text())[:1] for x in (vec_file, meta_file)]
    if first[0] and first[1] and not _looks_numeric(first[0][0]) and _looks_numeric(first[1][0]):
        vec_file, meta_file = meta_file, vec_file  # given as metadata, vectors
    vectors = _read_projector_vectors(vec_file)
    lines = _lines(meta_file.text())
    header = lines[0].split("\t") if lines else []
    if "name" in header:
        col, side_col = header.index("name"), header.index("side") if "side" in header else None
        rows = [line.split("\t") for line in lines[1:]]
        first_line = 2
    elif len(header) == 1 and len(lines) == len(vectors):  # TensorBoard's one column, no header
        col, side_col, rows, first_line = 0, None, [[line] for line in lines], 1
    else:
        raise InputError("the metadata file needs a header line with a 'name' column (and 'side': "
                         "query or doc)", where=meta_file.name,
                         hint="as `hrviz export --format projector` writes it")
    if len(rows) != len(vectors):
        raise InputError(f"{len(rows):,} metadata lines for {len(vectors):,} vectors", where=meta_file.name,
                         hint=f"one metadata line per line of {vec_file.name}")
    need = max(col, side_col or 0) + 1
    for i, row in enumerate(rows):
        if len(row) < need:
            raise InputError(f"{len(row)} columns, the header has {len(header)}",
                             where=f"{meta_file.name}, line {i + first_line}")
    names = [row[col] for row in rows]
    where = f"{vec_file.name} + {meta_file.name}"
    if side_col is None:
        return _Raw(names, vectors, None, None, "projector", where)
    sides = np.array([row[side_col].strip() for row in rows])
    bad = sorted(set(sides) - {"query", "doc"})
    if bad:
        i = int(np.flatnonzero(sides == bad[0])[0])
        raise InputError(f"side must be query or doc, got {bad[0]!r}", where=f"{meta_file.name}, line {i + first_line}")
    q, d = np.flatnonzero(sides == "query"), np.flatnonzero(sides == "doc")
    if len(q) == 0 or len(d) == 0:
        raise InputError(f"no {'query' if len(q) == 0 else 'doc'} vectors (side column)", where=meta_file.name,
                         hint="give both sides, or drop the side column for one vector per node")
    return _Raw([names[i] for i in q], vectors[q], [names[i] for i in d], vectors[d], "projector", where)


_FLAT = re.compile(r"^([qdv])(\d+)$")


def _flat_block(df: pd.DataFrame, letter: str, f: VectorFile) -> np.ndarray | None:
    cols = {int(m.group(2)): c for c in df.columns if (m := _FLAT.match(str(c))) and m.group(1) == letter}
    if not cols:
        return None
    if sorted(cols) != list(range(len(cols))):
        gap = min(set(range(len(cols))) - set(cols))
        raise InputError(f"the columns {letter}0..{letter}{len(cols) - 1} lack {letter}{gap}", where=f.name,
                         hint=f"number the vector columns {letter}0, {letter}1, ... without gaps")
    block = df[[cols[i] for i in range(len(cols))]]
    try:
        return block.apply(pd.to_numeric, errors="raise").to_numpy(np.float64)
    except (ValueError, TypeError):
        for c in block.columns:
            bad = pd.to_numeric(block[c], errors="coerce").isna() & block[c].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(f"not a number in column {c}: {str(block[c].iloc[row])[:40]!r}",
                                 where=f"{f.name}, row {row + 1}") from None
        raise


def _list_column(df: pd.DataFrame, col: str, f: VectorFile) -> np.ndarray:
    values = df[col].tolist()
    lengths = set()
    for i, v in enumerate(values):
        if v is None or not hasattr(v, "__len__"):
            raise InputError(f"column {col} must hold a list of numbers per row", where=f"{f.name}, row {i + 1}")
        lengths.add(len(v))
    if len(lengths) > 1:
        raise InputError(f"mixed dimensions in column {col}: lists of {sorted(lengths)[0]} and "
                         f"{sorted(lengths)[-1]} values", where=f.name)
    try:
        return np.array([np.asarray(v, dtype=np.float64) for v in values]).reshape(len(values), -1)
    except (ValueError, TypeError):
        raise InputError(f"column {col} holds a value that is not a number", where=f.name) from None


def _read_table(f: VectorFile) -> _Raw:
    fmt = "parquet" if f.suffix in (".parquet", ".pq") else "csv"
    try:
        with f.open() as handle:
            if fmt == "parquet":
                df = pd.read_parquet(handle)
            else:
                df = pd.read_csv(handle, sep="\t" if f.suffix in (".tsv", ".txt") else ",",
                                 dtype={"node": str}, keep_default_na=True)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - pandas/pyarrow raise many kinds for junk
        raise InputError(f"not a readable {fmt} table ({str(err).splitlines()[0][:120]})", where=f.name,
                         hint=_LAYOUTS) from None
    if "node" not in df.columns:
        raise InputError("no column 'node'", where=f.name, hint=_LAYOUTS)
    names = [str(n) for n in df["node"].tolist()]
    if "query" in df.columns and "doc" in df.columns:
        q, d = _list_column(df, "query", f), _list_column(df, "doc", f)
    elif "vector" in df.columns:
        q, d = _list_column(df, "vector", f), None
    else:
        q, d = _flat_block(df, "q", f), _flat_block(df, "d", f)
        if (q is None) != (d is None):
            raise InputError(f"columns {'q0..' if q is not None else 'd0..'} without "
                             f"{'d0..' if q is not None else 'q0..'}", where=f.name, hint=_LAYOUTS)
        if q is None:
            q = _flat_block(df, "v", f)
        if q is None:
            raise InputError("no vector columns", where=f.name, hint=_LAYOUTS)
    if d is not None and q.shape[1] != d.shape[1]:
        raise InputError(f"mixed dimensions: query vectors have {q.shape[1]} values, doc vectors "
                         f"{d.shape[1]}", where=f.name, hint="query and doc vectors need the same dimension")
    return _Raw(names, q, None if d is None else names, d, fmt, f.name)


def _read_npz(f: VectorFile) -> _Raw:
    with f.open() as handle:
        magic = handle.read(4)
    if magic != b"PK\x03\x04":  # np.load would take anything else for a pickle
        raise InputError("not a readable .npz (not a zip archive of arrays)", where=f.name,
                         hint="np.savez(path, names=..., query=..., doc=...)")
    try:
        with f.open() as handle, np.load(handle, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise InputError("the .npz holds Python objects (pickled)", where=f.name,
                             hint="save the names as a string array: np.array(names, dtype=str)") from None
        raise InputError(f"not a readable .npz ({err})", where=f.name) from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"not a readable .npz ({err})", where=f.name) from None
    if "names" not in arrays:
        raise InputError(f"no array 'names' (found: {', '.join(sorted(arrays)) or 'none'})", where=f.name,
                         hint="np.savez(path, names=..., query=..., doc=...) or names=..., vectors=...")
    names = arrays["names"]
    if names.ndim != 1 or names.dtype.kind not in "UST":
        raise InputError("'names' must be a 1-d string array", where=f.name,
                         hint="np.array(names, dtype=str)")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
    if "query" in arrays and "doc" in arrays:
        q, d = arrays["query"], arrays["doc"]
    elif "vectors" in arrays:
        q, d = arrays["vectors"], None
    else:
        raise InputError("no arrays 'query' and 'doc' (or 'vectors')", where=f.name,
                         hint="np.savez(path, names=..., query=..., doc=...)")
    for key, a in (("query", q), ("doc", d)):
        if a is None:
            continue
        if a.ndim != 2 or a.dtype.kind not in "fiu":
            raise InputError(f"'{key if d is not None else 'vectors'}' must be a 2-d array of numbers, "
                             f"got {a.ndim}-d {a.dtype}", where=f.name)
        if len(a) != len(names):
            raise InputError(f"{len(names):,} names for {len(a):,} rows of '{key}'", where=f.name)
    if d is not None and q.shape[1] != d.shape[1]:
        raise InputError(f"mixed dimensions: query vectors have {q.shape[1]} values, doc vectors "
                         f"{d.shape[1]}", where=f.name)
    return _Raw(names, q.astype(np.float64), None if d is None else names,
                None if d is None else d.astype(np.float64), "npz", f.name)


def _read(files: list[VectorFile]) -> _Raw:
    if len(files) == 2:
        return _read_projector(files[0], files[1])
    if len(files) != 1:
        raise InputError(f"{len(files)} files: give one file (.npz, .csv, .parquet) or a projector "
                         "pair (vectors.tsv metadata.tsv)")
    f = files[0]
    if f.suffix == ".npz":
        return _read_npz(f)
    if f.suffix in (".csv", ".parquet", ".pq"):
        return _read_table(f)
    if f.suffix in (".tsv", ".txt"):
        head = _lines(f.text())[:1]
        if head and "node" in head[0].split("\t"):
            return _read_table(f)
        raise InputError("a projector vectors file needs its metadata file", where=f.name,
                         hint="python -m hrviz load SOURCE vectors.tsv metadata.tsv")
    raise InputError(f"unknown vector file type {f.suffix or '(none)'!r}", where=f.name,
                     hint="use .npz, .csv, .parquet, or a projector pair of .tsv files")


# ----- validation against the hierarchy ------------------------------------------------------

def _align(names: list[str], rows: np.ndarray, h: Hierarchy, where: str, side: str) -> np.ndarray:
    index = {n: i for i, n in enumerate(h.names)}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise InputError(f"{len(unknown):,} node name(s) the hierarchy lacks: {_few(unknown)}", where=where,
                         hint=f"use the hierarchy's node names (e.g. {h.names[0]!r}); loading onto "
                              f"{h.source or 'this hierarchy'}")
    pos = np.fromiter((index[n] for n in names), dtype=np.int64, count=len(names))
    counts = np.bincount(pos, minlength=h.n)
    if (counts > 1).any():
        twice = [h.names[i] for i in np.flatnonzero(counts > 1)]
        raise InputError(f"{len(twice):,} node(s) given more than once ({side} side): {_few(twice)}", where=where,
                         hint="one vector per node and side")
    if len(names) < h.n:
        missing = [h.names[i] for i in np.flatnonzero(counts == 0)]
        raise InputError(f"vectors for {len(missing):,} of the hierarchy's {h.n:,} nodes are missing "
                         f"({side} side): {_few(missing)}", where=where,
                         hint="every node needs a query and a document vector")
    out = np.empty((h.n, rows.shape[1]), dtype=np.float64)
    out[pos] = rows
    return out


def _check_finite(x: np.ndarray, h: Hierarchy, where: str, side: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InputError(f"{int(bad.sum()):,} value(s) are NaN, infinite or missing ({side} side), first at "
                         f"node {h.names[rows[0]]!r}", where=where, hint="every value must be a finite number")
    if np.abs(x).max(initial=0.0) > np.finfo(np.float32).max:
        raise InputError(f"values beyond float32 range ({side} side)", where=where)


def read_vectors(h: Hierarchy, files) -> LoadedVectors:
    """Read and validate vectors for hierarchy ``h`` from ``files`` (paths, ``(name, bytes)``
    pairs or :class:`VectorFile`): every check of the module docstring, before anything is
    written. Raises :class:`InputError` with one line: what, where, and how to fix it."""
    files = [VectorFile.of(x) for x in files]
    limit = max_bytes()
    for f in files:
        size = f.size()
        if size > limit:
            raise InputError(f"the file is {_human(size)}, over the limit of {_human(limit)}", where=f.name,
                             hint=f"set {MAX_BYTES_ENV} (bytes) to allow more")
    raw = _read(files)
    if raw.query.shape[1] < 1:
        raise InputError("the vectors have no values (dimension 0)", where=raw.where)
    if raw.doc is not None and raw.doc.shape[1] != raw.query.shape[1]:
        raise InputError(f"mixed dimensions: query vectors have {raw.query.shape[1]} values, doc vectors "
                         f"{raw.doc.shape[1]}", where=raw.where)
    q = _align(raw.q_names, raw.query, h, raw.where, "query" if raw.doc is not None else "both")
    _check_finite(q, h, raw.where, "query" if raw.doc is not None else "both")
    if raw.doc is None:
        d = q
    else:
        d = _align(raw.d_names, raw.doc, h, raw.where, "doc")
        _check_finite(d, h, raw.where, "doc")
    q32 = q.astype(np.float32)
    return LoadedVectors(query=q32, doc=q32.copy() if raw.doc is None else d.astype(np.float32),
                         symmetric=raw.doc is None, format=raw.format, files=[f.name for f in files])
