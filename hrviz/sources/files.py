"""Hierarchies from files: edge lists (CSV/TSV/TXT), JSON trees or edge lists, OBO ontologies.

:func:`load_file` reads a path, :func:`parse_upload` takes the bytes and original file
name of an upload (the app); both run the same code and return a validated
:class:`~hrviz.hierarchy.Hierarchy`, or raise :class:`~hrviz.errors.InputError` naming the
file, the line (or JSON path) and how to fix it.

Any file may be gzip'd (detected by its magic bytes, not only by ``.gz``). The format is
chosen by the extension left after stripping ``.gz``: ``.csv``/``.tsv``/``.txt``/``.tab``
edge list, ``.json``, ``.obo``; any other extension is sniffed from the content (OBO if it
has a ``[Term]`` line, JSON if it starts with ``{`` or ``[``, else an edge list).

Edge lists
    One ``child,parent`` row per edge. The delimiter (tab, comma, semicolon or pipe) is
    detected; fields follow CSV quoting (``"Shoes, Kids",Footwear``) and are stripped of
    surrounding whitespace. A row with one field declares a node without parents (a
    root). Blank rows and rows starting with ``#`` are skipped; duplicate rows merge.
    A first row naming a child column (``child``, ``node``, ``id``, ``name``...) and a
    parent column (``parent``, ``parent_id``...) is a header; columns are then picked by
    name, and ``label``/``description`` columns, if present, give node labels and
    descriptions. With a header an empty parent cell means "no parent" (a root, as in a
    node table exported from a database); without one an empty name is an error.
    Without a header, rows with more than two fields use the first two.

JSON
    - a nested tree ``{"name": ..., "children": [...]}``: the node's name is ``"id"`` if
      present, else ``"name"``; its label ``"label"`` (or ``"name"`` when ``"id"`` named
      it); its description ``"description"`` (or ``"desc"``/``"definition"``). A name
      that appears in several places under different parents makes a DAG;
    - a list of such trees (a forest);
    - ``{"edges": [[child, parent], ...]}`` (pairs, or objects with ``child``/``parent``),
      optionally with ``"nodes": [...]``: names, or objects with a name/id, label and
      description. A bare list of ``[child, parent]`` pairs is read as edges too.

OBO (e.g. the Gene Ontology)
    ``[Term]`` stanzas: ``id:`` is the node, ``name:`` its label, ``def:`` its description
    (the quoted text, without the references), and each ``is_a: PARENT ! comment`` an
    edge. Only ``is_a`` is read: ``relationship:`` lines (``part_of``...) are ignored, as
    are ``[Typedef]``/``[Instance]`` stanzas and the header. Terms with
    ``is_obsolete: true`` are dropped; an ``is_a`` to an unknown or dropped term is
    dropped silently.

Every hierarchy needs at least one edge: a file with nodes but no edges is an error, and a
header-less edge list that reads as prose (sentences, an "edge" taken from a ``;`` in a
sentence) is refused. What is allowed but maybe not meant (isolated nodes, several roots, a
name under several parents) comes back as ``h.warnings`` (:mod:`hrviz.sources.checks`). A name
under several parents is one node (``duplicates="merge"``, the default) or one node per parent,
``"x (parent)"`` (``duplicates="by-parent"``); OBO ids are identifiers, always merged.
Size: the file, and its decompressed content if gzip'd (against gzip bombs), may not
exceed ``max_bytes``: by default hrviz's one limit on every file a user gives it
(:func:`hrviz.file_limit.max_bytes`: 2 GiB, ``$HRVIZ_LOAD_MAX_BYTES`` sets it), read by
:func:`hrviz.file_limit.read_bounded` (once, never more than the limit).
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..file_limit import check_size, gunzip_bounded, read_bounded
from ..hierarchy import Hierarchy
from .checks import check_duplicates
from .obo import parse_obo
from .parsers import parse_edge_list, parse_json

FORMATS_HINT = "use an edge list (.csv/.tsv/.txt of child,parent rows), a .json tree or a .obo ontology, optionally gzip'd"

_EDGE_LIST_EXT = {".csv", ".tsv", ".txt", ".tab", ".edges", ".edgelist"}


# ----- entry points ------------------------------------------------------
def load_file(path, max_bytes: int | None = None, duplicates: str = "merge") -> Hierarchy:
    """Read the hierarchy file at ``path`` (see the module docstring for the formats and
    ``duplicates``); ``max_bytes``: the size limit (None: :func:`hrviz.file_limit.max_bytes`)."""
    data = read_bounded(path, str(path), max_bytes, expect="a hierarchy file", hint=FORMATS_HINT)
    return parse_upload(bytes(data), str(path), max_bytes=max_bytes, duplicates=duplicates)


def parse_upload(data: bytes, filename: str, max_bytes: int | None = None,
                 duplicates: str = "merge") -> Hierarchy:
    """Parse the bytes of an uploaded file; ``filename`` (the original name) picks the format
    and names the file in error messages and in ``Hierarchy.source``. ``duplicates``: how a
    name under several parents is read, ``"merge"`` or ``"by-parent"`` (module docstring)."""
    check_duplicates(duplicates)
    where = filename
    check_size(len(data), where, max_bytes)
    if data[:2] == b"\x1f\x8b":
        data = gunzip_bounded(data, where, max_bytes)
    text = _decode(data, where)
    if not text.strip():
        raise InputError("the file is empty", where=where, hint=FORMATS_HINT)

    name = Path(filename).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    ext = Path(name).suffix
    if ext in _EDGE_LIST_EXT:
        kind = "edges"
    elif ext == ".json":
        kind = "json"
    elif ext == ".obo":
        kind = "obo"
    elif re.search(r"^\s*\[Term\]\s*$", text, re.M):
        kind = "obo"
    elif text.lstrip()[:1] in ("{", "["):
        kind = "json"
    else:
        kind = "edges"
    if kind == "obo":
        return parse_obo(text, filename, ext)
    parse = {"edges": parse_edge_list, "json": parse_json}[kind]
    return parse(text, filename, ext, duplicates=duplicates)


def hierarchy_json(h: Hierarchy) -> str:
    """``h`` as a JSON edge list ``{"nodes": [...], "edges": [[child, parent], ...]}`` that
    :func:`parse_upload` reads back as the same hierarchy (the same names in the same order, the
    same edges, labels and descriptions: the same ``hash``). The app keeps an upload read with
    ``duplicates="by-parent"`` this way, so that its path reloads what was read."""
    import json

    nodes = []
    for i, name in enumerate(h.names):
        label = h.labels[i] if h.labels else ""
        desc = h.descriptions[i] if h.descriptions else ""
        node = {"id": name, **({"label": label} if label else {}), **({"description": desc} if desc else {})}
        nodes.append(node if len(node) > 1 else name)
    child = np.repeat(np.arange(h.n), h.n_parents)
    edges = [[h.names[int(c)], h.names[int(p)]] for c, p in zip(child, h.parent_idx)]
    return json.dumps({"nodes": nodes, "edges": edges}, ensure_ascii=False, indent=0)


# ----- bytes to text -------------------------------------------------------
def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


# files people pick by mistake, known by their first bytes: said in words, not as "binary data"
_BINARY_KINDS = [(b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
                 (b"%PDF", "a PDF document"), (b"SQLite format 3\x00", "an SQLite database"),
                 (b"PAR1", "a Parquet file"), (b"\x93NUMPY", "a NumPy array"), (b"\x7fELF", "a program")]


def _decode(data: bytes, where: str) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte order mark (Excel, Notepad)
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise InputError(f"invalid UTF-16 text at byte offset {e.start}", where=where,
                             hint="save the file as UTF-8 text") from None
    for magic, kind in _BINARY_KINDS:
        if data.startswith(magic):
            raise InputError(f"this is {kind}, not a text file", where=where, hint=FORMATS_HINT)
    if data[:4] == b"PK\x03\x04":
        raise InputError("this is a ZIP archive (an Excel .xlsx file?), not a text file", where=where,
                         hint="export the sheet as CSV, or unzip it; " + FORMATS_HINT)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"binary data (a NUL byte) at byte offset {nul}, line {_line_of(data, nul)}: "
                         "this is not a text file", where=where, hint=FORMATS_HINT)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        start = e.start + (3 if data[:3] == b"\xef\xbb\xbf" else 0)
        bad = data[start:start + 4]
        raise InputError(f"not valid UTF-8 text: byte 0x{bad[0]:02x} at byte offset {start}, "
                         f"line {_line_of(data, start)}", where=where,
                         hint="save the file as UTF-8 (e.g. 'CSV UTF-8' in Excel)") from None
