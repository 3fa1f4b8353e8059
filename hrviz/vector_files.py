"""Vector files as hostile input: read once, bounded, headers before data (for :mod:`hrviz.loaded`).

Every file a user hands ``hrviz load`` (or the Train page's "Load vectors") may be anything: a
pipe, a link to ``/dev/zero``, a 900-byte ``.npz`` whose header claims 21 x 10^12 values, a
truncated parquet file. So this module:

- **reads each input exactly once**, into memory, and never more than the size limit plus one
  byte (:func:`hrviz.file_limit.read_bounded`: the one reader and size limit of every file a
  user gives hrviz, 2 GiB or ``$HRVIZ_LOAD_MAX_BYTES``). That is what lets
  ``hrviz load SRC <(cat vectors.tsv) meta.tsv`` work (a pipe can be read only once) and what keeps a stream without end from filling memory.
  A regular file over the limit is refused from its size alone. A device (``/dev/zero``,
  ``/dev/urandom``, a terminal), a socket or a folder is refused before any read: no vectors
  live there, and a device streams without end or waits on a person. A pipe (FIFO) is read
  up to the limit;
- **reads headers before data**: an ``.npz`` member's ``.npy`` header (shape, dtype) and the
  zip directory's sizes are checked before a byte of array data is read, so an impossible
  shape is refused without allocating it; a parquet file's footer (rows, columns, unpacked
  size) is checked before its row groups are decoded; a text table's header line before it is
  parsed;
- **says what is wrong in one short line** with no library type names: each reader turns the
  parsers' exceptions into an :class:`~hrviz.errors.InputError` in its own words.

The formats are described in :mod:`hrviz.loaded`; :func:`read_raw` returns the names and rows as
found (:class:`RawVectors`), which :func:`hrviz.loaded.read_vectors` then checks against the
hierarchy.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .file_limit import check_size, human, max_bytes, read_bounded, too_big

SUFFIXES = (".tsv", ".txt", ".csv", ".parquet", ".pq", ".npz")
#: the largest vector dimension accepted (per side): far above any embedding, low enough that a
#: header claiming millions of columns is refused before a parser builds them
MAX_DIM = 65_536
#: columns a table may have besides its vector columns (labels, depths, ...)
MAX_OTHER_COLUMNS = 1_000
LAYOUTS_SHORT = "columns node, q0.., d0.. or node, v0..; see hrviz load -h"
_NPZ_KEYS = ("names", "query", "doc", "vectors")
_HINT_NPZ = "np.savez(path, names=..., query=..., doc=...)"


@dataclass
class RawVectors:
    """What a reader found: names with their query rows and doc rows (doc None: one vector per
    node for both sides), the ``format`` and ``where`` (the file names, for messages)."""

    q_names: list[str]
    query: np.ndarray
    d_names: list[str] | None
    doc: np.ndarray | None
    format: str
    where: str


# ----- names and sizes in messages -----------------------------------------------------------

def clip(text: str, width: int = 40) -> str:
    """``text`` on one line and at most ``width`` characters: a hostile name (10,000 characters,
    or with a newline) cannot stretch or split a message."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= width else text[: width - 3] + "..."


def display_name(path_text: str) -> str:
    """How messages name a file given as a path: its base name, so a message stays one short
    line even from a deep temporary folder; a descriptor path (``/dev/fd/63``, what
    ``<(...)`` passes) as given, since its base name alone means nothing."""
    p = Path(path_text)
    if not p.name or p.parent.name == "fd" or p.parent.as_posix() in ("/dev", "/proc/self"):
        return clip(path_text, 48)
    return clip(p.name, 48)


@dataclass
class VectorFile:
    """One input: a path on disk, or the bytes of an upload; ``name`` is how messages name it.

    :meth:`load` reads a path once (bounded, :func:`hrviz.file_limit.read_bounded`) and keeps the
    bytes: every reader after that works on them, so a pipe is read exactly once."""

    name: str
    path: Path | None = None
    data: bytes | bytearray | None = None
    decoded: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, item) -> "VectorFile":
        """A VectorFile from a path (str or Path), a ``(name, bytes)`` pair, or itself."""
        if isinstance(item, VectorFile):
            return item
        if isinstance(item, tuple):
            return cls(name=clip(Path(str(item[0])).name or str(item[0]), 48), data=bytes(item[1]))
        return cls(name=display_name(str(item)), path=Path(item).expanduser())

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower() if self.path is None else self.path.suffix.lower()

    def load(self, limit: int | None = None) -> "VectorFile":
        """Read the content once (a path) or check its size (bytes) against ``limit`` (None: the
        size limit, :func:`hrviz.file_limit.max_bytes`); returns self."""
        if self.data is None:
            self.data = read_bounded(self.path, self.name, limit, expect="a file of vectors",
                                     hint="give a .npz, .csv, .parquet or .tsv file, or a pipe")
        else:
            check_size(len(self.data), self.name, limit)
        return self

    def content(self) -> bytes | bytearray:
        """The bytes, once :meth:`load` has read them."""
        if self.data is None:
            raise RuntimeError("VectorFile.load() first")  # a bug, not bad input
        return self.data

    def text(self) -> str:
        """The content as text (UTF-8, a byte-order mark dropped), decoded once."""
        if self.decoded is None:
            if self.content()[:2] == b"\x1f\x8b":
                raise InputError("a gzip-compressed file", where=self.name, hint="unpack it first, e.g. with gunzip")
            try:
                self.decoded = self.content().decode("utf-8-sig")
            except UnicodeDecodeError as err:
                raise InputError(f"not UTF-8 text (byte {err.start:,})", where=self.name,
                                 hint="a projector .tsv or a .csv is text") from None
        return self.decoded


# ----- the format of a file ------------------------------------------------------------------

def sniff(f: VectorFile) -> str:
    """The reader for one file: ``npz``, ``parquet``, ``csv``, ``tsv`` (a table) or ``vectors``
    (a projector vectors file, which needs its metadata). The suffix decides; a name without a
    known suffix (a pipe, ``/dev/fd/63``) is told by its first bytes."""
    suffix = f.suffix
    if suffix == ".npz":
        return "npz"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    head = f.content()[:4]
    known = suffix in (".tsv", ".txt")
    if not known:
        if head == b"PK\x03\x04":
            return "npz"
        if head == b"PAR1":
            return "parquet"
    try:
        first = first_line(f.text())
    except InputError:
        if known:
            raise
        first = None
    if first is not None:
        if "node" in [c.strip() for c in first.split("\t")]:
            return "tsv"
        if suffix not in (".tsv", ".txt") and "node" in [c.strip() for c in first.split(",")]:
            return "csv"
        if known or (first.strip() and looks_numeric(first)):
            return "vectors"
    raise InputError(f"unknown vector file type {suffix or '(no suffix)'!r}", where=f.name,
                     hint="use .npz, .csv, .parquet, or a projector pair of .tsv files")


def first_line(text: str) -> str:
    end = text.find("\n")
    return (text if end < 0 else text[:end]).rstrip("\r")


def looks_numeric(line: str) -> bool:
    try:
        [float(v) for v in line.split("\t")]
    except ValueError:
        return False
    return True


# ----- projector pairs -----------------------------------------------------------------------

def lines_of(text: str) -> list[str]:
    """The lines of ``text``, trailing blank lines dropped."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _first_bad_value(lines: list[str], name: str, first_line_no: int = 1) -> InputError:
    """The first value that is not a number, named by line and column; one line at a time, so
    memory stays that of one line whatever the file."""
    for i, line in enumerate(lines):
        for j, v in enumerate(line.split("\t")):
            try:
                float(v)
            except ValueError:
                return InputError(f"not a number in column {j + 1}: {clip(v.strip())!r}",
                                  where=f"{name}, line {i + first_line_no}")
    return InputError("values that are not numbers", where=name)


def read_projector_vectors(f: VectorFile) -> np.ndarray:
    """A projector vectors file: one vector a line, tab-separated, no header."""
    lines = lines_of(f.text())
    if not lines:
        raise InputError("no vectors in the file", where=f.name)
    tabs = np.array([line.count("\t") for line in lines])
    if tabs[0] + 1 > MAX_DIM:
        raise InputError(f"{tabs[0] + 1:,} values on the first line, over the largest dimension "
                         f"{MAX_DIM:,}", where=f.name)
    if (tabs != tabs[0]).any():
        i = int(np.flatnonzero(tabs != tabs[0])[0])
        raise InputError(f"mixed dimensions: {tabs[i] + 1} values on this line, {tabs[0] + 1} on the first",
                         where=f"{f.name}, line {i + 1}", hint="every vector needs the same dimension")
    try:  # the C parser: WordNet's 164k x 64 values in about a second
        return pd.read_csv(io.StringIO("\n".join(lines)), sep="\t", header=None, dtype=np.float64,
                           na_filter=False, engine="c").to_numpy()
    except (ValueError, TypeError, pd.errors.ParserError):
        raise _first_bad_value(lines, f.name) from None


def _metadata_rows(meta: VectorFile, n_vectors: int, vec_name: str):
    """(names column, side column or None, rows, first line number, header) of a metadata file."""
    lines = lines_of(meta.text())
    header = [c.strip() for c in lines[0].split("\t")] if lines else []
    if "name" in header:
        col, side_col = header.index("name"), header.index("side") if "side" in header else None
        rows, first = [line.split("\t") for line in lines[1:]], 2
    elif len(header) == 1 and len(lines) == n_vectors:  # TensorBoard's one column, no header
        col, side_col, rows, first = 0, None, [[line] for line in lines], 1
    else:
        raise InputError("the metadata file needs a header line with a 'name' column (and 'side': "
                         "query or doc)", where=meta.name, hint="as `hrviz export --format projector` writes it")
    if len(rows) != n_vectors:
        raise InputError(f"{len(rows):,} metadata lines for {n_vectors:,} vectors", where=meta.name,
                         hint=f"one metadata line per line of {vec_name}")
    need = max(col, side_col or 0) + 1
    for i, row in enumerate(rows):
        if len(row) < need:
            raise InputError(f"{len(row)} columns, the header has {len(header)}", where=f"{meta.name}, line {i + first}")
    return col, side_col, rows, first


def read_projector(vec_file: VectorFile, meta_file: VectorFile) -> RawVectors:
    """A projector pair (either order): vectors, and metadata with ``name`` and maybe ``side``."""
    a, b = (first_line(x.text()) for x in (vec_file, meta_file))
    if a and b and not looks_numeric(a) and looks_numeric(b):
        vec_file, meta_file = meta_file, vec_file  # given as metadata, vectors
    vectors = read_projector_vectors(vec_file)
    col, side_col, rows, first = _metadata_rows(meta_file, len(vectors), vec_file.name)
    names = [row[col] for row in rows]
    where = f"{vec_file.name} + {meta_file.name}"
    if side_col is None:
        return RawVectors(names, vectors, None, None, "projector", where)
    sides = [row[side_col].strip().lower() for row in rows]  # Query, DOC: the same sides
    bad = next((i for i, s in enumerate(sides) if s not in ("query", "doc")), None)
    if bad is not None:
        raise InputError(f"side must be query or doc, got {clip(sides[bad], 30)!r}",
                         where=f"{meta_file.name}, line {bad + first}")
    q = [i for i, s in enumerate(sides) if s == "query"]
    d = [i for i, s in enumerate(sides) if s == "doc"]
    if not q or not d:
        raise InputError(f"no {'query' if not q else 'doc'} vectors (side column)", where=meta_file.name,
                         hint="give both sides, or drop the side column for one vector per node")
    return RawVectors([names[i] for i in q], vectors[q], [names[i] for i in d], vectors[d], "projector", where)


# ----- tables (csv, tsv, parquet) --------------------------------------------------------------

_FLAT = re.compile(r"^([qdv])(\d+)$")
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _max_columns() -> int:
    return 2 * MAX_DIM + MAX_OTHER_COLUMNS


def _name_text(x) -> str:
    """A node name as found in a table cell: text as is, bytes decoded, missing as ''."""
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return str(x)


def _flat_block(df: pd.DataFrame, letter: str, name: str) -> np.ndarray | None:
    cols = {int(m.group(2)): c for c in df.columns if (m := _FLAT.match(str(c))) and m.group(1) == letter}
    if not cols:
        return None
    if sorted(cols) != list(range(len(cols))):
        gap = min(set(range(len(cols))) - set(cols))
        raise InputError(f"the columns {letter}0..{letter}{len(cols) - 1} lack {letter}{gap}", where=name,
                         hint=f"number the vector columns {letter}0, {letter}1, ... without gaps")
    out = np.empty((len(df), len(cols)), dtype=np.float64)
    for i in range(len(cols)):
        column = df[cols[i]]
        try:
            values = pd.to_numeric(column, errors="coerce")
            bad = (values.isna() & column.notna()).to_numpy()
            out[:, i] = values.to_numpy(np.float64, na_value=np.nan)
        except (ValueError, TypeError):  # lists, mixed objects: not numbers either
            bad = np.ones(len(df), dtype=bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"not a number in column {clip(cols[i], 20)}: {clip(column.iloc[row])!r}",
                             where=f"{name}, row {row + 1}")
    return out


def _list_column(df: pd.DataFrame, col: str, name: str) -> np.ndarray:
    """A column holding one list of numbers per row -> (rows, d) floats."""
    rows = []
    for i, v in enumerate(df[col].tolist()):
        try:
            a = np.asarray(v, dtype=np.float64)
        except (ValueError, TypeError):
            raise InputError(f"column {col} must hold a list of numbers per row", where=f"{name}, row {i + 1}") from None
        if a.ndim != 1:
            raise InputError(f"column {col} must hold a flat list of numbers per row", where=f"{name}, row {i + 1}")
        if rows and len(a) != len(rows[0]):
            raise InputError(f"mixed dimensions in column {col}: {len(rows[0])} values in row 1, "
                             f"{len(a)} here", where=f"{name}, row {i + 1}")
        rows.append(a)
    if not rows:
        return np.zeros((0, 0))
    return np.vstack(rows)


def _table_error(err: Exception, fmt: str, name: str) -> InputError:
    """A parser's complaint about a table in words of its own: no class names, nothing cut
    mid-sentence, no repeated format hint."""
    text = str(err)
    if m := _FIELDS.search(text):
        return InputError(f"{m.group(3)} fields on this line, {m.group(1)} in the header",
                          where=f"{name}, line {m.group(2)}", hint="every row needs the header's columns")
    if isinstance(err, UnicodeDecodeError):
        return InputError(f"not UTF-8 text (byte {err.start:,})", where=name)
    if isinstance(err, pd.errors.EmptyDataError):
        return InputError("the file is empty", where=name)
    if fmt == "parquet":
        if "magic" in text.lower() or "footer" in text.lower():
            return InputError("not a readable parquet file: no footer (truncated, or not parquet)", where=name)
        return InputError("not a readable parquet file: its data does not decode (damaged?)", where=name)
    return InputError(f"not a readable {fmt} table", where=name, hint=LAYOUTS_SHORT)


def _check_csv_header(text: str, sep: str, name: str) -> None:
    columns = first_line(text).count(sep) + 1
    if columns > _max_columns():
        raise InputError(f"{columns:,} columns in the header, over the {_max_columns():,} a table may have "
                         f"(dimension up to {MAX_DIM:,})", where=name)


def _parquet_frame(f: VectorFile, limit: int) -> pd.DataFrame:
    """A parquet file's footer first (rows, columns, unpacked size), then its data."""
    import pyarrow.parquet as pq  # pandas' parquet engine, pinned in requirements.txt

    try:
        pf = pq.ParquetFile(io.BytesIO(f.content()))
        md = pf.metadata
        unpacked = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
        rows, columns = md.num_rows, md.num_columns
    except Exception as err:  # noqa: BLE001 - pyarrow raises several kinds for a bad footer
        raise _table_error(err, "parquet", f.name) from None
    if columns > _max_columns():
        raise InputError(f"{columns:,} columns, over the {_max_columns():,} a table may have", where=f.name)
    if unpacked > limit or rows * max(columns, 1) * 8 > limit:
        raise too_big(f"the table claims {rows:,} rows x {columns:,} columns, unpacked",
                      max(unpacked, rows * max(columns, 1) * 8), limit, f.name)
    try:
        return pf.read().to_pandas()
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001
        raise _table_error(err, "parquet", f.name) from None


def _csv_frame(f: VectorFile, sep: str, fmt: str) -> pd.DataFrame:
    text = f.text()
    _check_csv_header(text, sep, f.name)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype={"node": str}, keep_default_na=True,
                           engine="c", low_memory=False)
    except (ValueError, TypeError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as err:
        raise _table_error(err, fmt, f.name) from None


def read_table(f: VectorFile, fmt: str, limit: int) -> RawVectors:
    """A table (``csv``, ``tsv`` or ``parquet``), one row per node: ``node`` and the vectors."""
    if fmt == "parquet":
        df = _parquet_frame(f, limit)
    else:
        df = _csv_frame(f, "\t" if fmt == "tsv" else ",", fmt)
        fmt = "csv"
    if "node" not in df.columns:
        raise InputError("no column 'node'", where=f.name, hint=LAYOUTS_SHORT)
    try:
        names = [_name_text(n) for n in df["node"].tolist()]
    except Exception:  # noqa: BLE001 - text columns convert lazily: bad UTF-8 fails only here
        raise InputError("column node holds text that is not valid UTF-8", where=f.name) from None
    if "query" in df.columns and "doc" in df.columns:
        q, d = _list_column(df, "query", f.name), _list_column(df, "doc", f.name)
    elif "vector" in df.columns:
        q, d = _list_column(df, "vector", f.name), None
    else:
        q, d = _flat_block(df, "q", f.name), _flat_block(df, "d", f.name)
        if (q is None) != (d is None):
            have, lack = ("q0..", "d0..") if q is not None else ("d0..", "q0..")
            raise InputError(f"columns {have} without {lack}", where=f.name, hint=LAYOUTS_SHORT)
        if q is None:
            q = _flat_block(df, "v", f.name)
        if q is None:
            raise InputError("no vector columns", where=f.name, hint=LAYOUTS_SHORT)
    if d is not None and q.shape[1] != d.shape[1]:
        raise InputError(f"mixed dimensions: query vectors have {q.shape[1]} values, doc vectors "
                         f"{d.shape[1]}", where=f.name, hint="query and doc vectors need the same dimension")
    return RawVectors(names, q, None if d is None else names, d, fmt, f.name)


# ----- npz: the zip directory and every .npy header before any data -----------------------------

_KINDS = {"f": "floats", "i": "integers", "u": "integers", "b": "true/false values", "c": "complex numbers",
          "U": "text", "S": "bytes", "O": "Python objects", "V": "records", "M": "dates", "m": "durations"}


def _kind_words(dtype: np.dtype) -> str:
    return _KINDS.get(dtype.kind, "values of an unknown kind")


@dataclass
class _Member:
    """One array of an .npz, from its zip entry and its .npy header (nothing read beyond)."""

    key: str
    info: zipfile.ZipInfo
    shape: tuple
    dtype: np.dtype
    fortran: bool


def _npy_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, name: str) -> _Member:
    """Shape and dtype from a member's .npy header; an impossible shape (more bytes than the
    member holds) or Python objects are refused here, before any data is read."""
    try:
        with zf.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise InputError(f"'{key}' is saved in .npy format {version[0]}.{version[1]}, which hrviz "
                                 "does not read", where=name, hint=_HINT_NPZ)
            header_end = fp.tell()
    except InputError:
        raise
    except RuntimeError:  # zipfile: encrypted
        raise InputError(f"'{key}' is encrypted", where=name, hint=_HINT_NPZ) from None
    except NotImplementedError:
        raise InputError(f"'{key}' is compressed in a way hrviz cannot read", where=name, hint=_HINT_NPZ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise InputError(f"not a readable .npz: '{key}' is damaged", where=name, hint=_HINT_NPZ) from None
    except Exception:  # noqa: BLE001 - numpy raises several kinds for a bad header
        raise InputError(f"'{key}' has no readable .npy header", where=name, hint=_HINT_NPZ) from None
    if dtype.hasobject:
        raise InputError("the .npz holds Python objects (pickled)", where=name,
                         hint="save names as a string array: np.array(names, dtype=str)")
    if any(s < 0 for s in shape):
        raise InputError(f"'{key}' has an impossible shape {shape}", where=name)
    count = math.prod(shape)
    need = count * dtype.itemsize
    holds = info.file_size - header_end
    if need > holds:
        raise InputError(f"'{key}' claims {count:,} values ({human(need)}) but holds {human(max(holds, 0))}",
                         where=name, hint="a damaged or truncated .npz")
    return _Member(key, info, tuple(shape), dtype, fortran)


def _npz_members(f: VectorFile, limit: int) -> tuple[zipfile.ZipFile, dict[str, _Member]]:
    data = f.content()
    if data[:4] != b"PK\x03\x04":  # np.load would take anything else for a pickle
        raise InputError("not a readable .npz (not a zip archive of arrays)", where=f.name, hint=_HINT_NPZ)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception:  # noqa: BLE001 - zipfile raises several kinds for a damaged directory
        raise InputError("not a readable .npz (a damaged zip archive)", where=f.name, hint=_HINT_NPZ) from None
    found: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if key in _NPZ_KEYS:
            if key in found:
                raise InputError(f"the .npz holds '{key}' twice", where=f.name, hint=_HINT_NPZ)
            found[key] = info
    unpacked = sum(i.file_size for i in found.values())
    if unpacked > limit:
        raise too_big("its arrays unpack to", unpacked, limit, f.name)
    others = sorted(clip(i.filename, 20) for i in infos if i not in found.values())[:5]
    if "names" not in found:
        listed = ", ".join(sorted(found) + others) or "none"
        raise InputError(f"no array 'names' (found: {clip(listed, 80)})", where=f.name,
                         hint=_HINT_NPZ + " or names=..., vectors=...")
    return zf, {k: _npy_header(zf, i, k, f.name) for k, i in found.items()}


def _npz_shapes(members: dict[str, _Member], name: str) -> tuple[str, ...]:
    """Which arrays to read, once their headers agree: names (n,), query and doc (n, d)."""
    names = members["names"]
    if len(names.shape) != 1 or names.dtype.kind not in "US":
        shape = "x".join(map(str, names.shape)) or "scalar"
        raise InputError(f"'names' must be a 1-d array of text, got {shape} {_kind_words(names.dtype)}",
                         where=name, hint="np.array(names, dtype=str)")
    if "query" in members and "doc" in members:
        keys = ("query", "doc")
    elif "vectors" in members:
        keys = ("vectors",)
    else:
        raise InputError("no arrays 'query' and 'doc' (or 'vectors')", where=name, hint=_HINT_NPZ)
    for key in keys:
        m = members[key]
        if len(m.shape) != 2 or m.dtype.kind not in "fiu":
            shape = "x".join(map(str, m.shape)) or "scalar"
            raise InputError(f"'{key}' must be a 2-d array of numbers, got {shape} {_kind_words(m.dtype)}", where=name)
        if m.shape[0] != names.shape[0]:
            raise InputError(f"{names.shape[0]:,} names for {m.shape[0]:,} rows of '{key}'", where=name)
        if m.shape[1] > MAX_DIM:
            raise InputError(f"'{key}' has {m.shape[1]:,} values per row, over the largest dimension "
                             f"{MAX_DIM:,}", where=name)
    if len(keys) == 2 and members["query"].shape[1] != members["doc"].shape[1]:
        raise InputError(f"mixed dimensions: query vectors have {members['query'].shape[1]} values, doc vectors "
                         f"{members['doc'].shape[1]}", where=name)
    return ("names",) + keys


def _npz_array(zf: zipfile.ZipFile, m: _Member, name: str) -> np.ndarray:
    """One member's data, its header already checked (the allocation fits in the member)."""
    try:
        with zf.open(m.info) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - truncated data, a bad checksum, a damaged stream
        raise InputError(f"'{m.key}' is damaged or truncated", where=name, hint=_HINT_NPZ) from None


def read_npz(f: VectorFile, limit: int) -> RawVectors:
    """An ``.npz``: ``names`` with ``query`` and ``doc``, or with ``vectors``; every header
    checked before any array is read."""
    zf, members = _npz_members(f, limit)
    keys = _npz_shapes(members, f.name)
    arrays = {k: _npz_array(zf, members[k], f.name) for k in keys}
    names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in arrays["names"].tolist()]
    if "vectors" in arrays:
        return RawVectors(names, arrays["vectors"].astype(np.float64), None, None, "npz", f.name)
    return RawVectors(names, arrays["query"].astype(np.float64), names, arrays["doc"].astype(np.float64),
                      "npz", f.name)


# ----- one entry point -----------------------------------------------------------------------

def read_raw(files: list[VectorFile], limit: int | None = None) -> RawVectors:
    """Read every file once (bounded by ``limit`` bytes; None: the size limit,
    :func:`hrviz.file_limit.max_bytes`) and parse it: one file (.npz, a table) or a projector
    pair. Raises :class:`InputError` for anything that is not vectors."""
    if len(files) not in (1, 2):
        raise InputError(f"{len(files)} files: give one file (.npz, .csv, .parquet) or a projector "
                         "pair (vectors.tsv metadata.tsv)")
    limit = max_bytes() if limit is None else limit
    for f in files:
        if not f.load(limit).content():
            raise InputError("the file is empty", where=f.name)
    if len(files) == 2:
        return read_projector(files[0], files[1])
    f = files[0]
    fmt = sniff(f)
    if fmt == "npz":
        return read_npz(f, limit)
    if fmt == "vectors":
        raise InputError("a projector vectors file needs its metadata file", where=f.name,
                         hint="python -m hrviz load SOURCE vectors.tsv metadata.tsv")
    return read_table(f, fmt, limit)
