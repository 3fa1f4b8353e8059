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

Every hierarchy needs at least one edge: a file with nodes but no edges is an error.
Size: the file, and its decompressed content if gzip'd (against gzip bombs), may not
exceed ``max_bytes`` (default :data:`DEFAULT_MAX_BYTES`, 200 MiB).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from pathlib import Path

from ..errors import InputError
from ..hierarchy import Hierarchy

DEFAULT_MAX_BYTES = 200 * 1024 * 1024

FORMATS_HINT = "use an edge list (.csv/.tsv/.txt of child,parent rows), a .json tree or a .obo ontology, optionally gzip'd"

_EDGE_LIST_EXT = {".csv", ".tsv", ".txt", ".tab", ".edges", ".edgelist"}
_DELIMITERS = ["\t", ";", "|", ","]  # tie-break order: commas are the likeliest inside names

# Header column names (normalised: lower case, spaces and hyphens as underscores), by priority.
_CHILD_COLS = ["child", "child_id", "child_name", "node", "node_id", "node_name", "id", "name",
               "term", "term_id", "item", "concept", "category", "source", "src", "from"]
_PARENT_COLS = ["parent", "parent_id", "parent_name", "parentid", "parents", "broader", "is_a",
                "hypernym", "superclass", "target", "dst", "to"]
_LABEL_COLS = ["label", "title", "name", "display_name"]
_DESC_COLS = ["description", "desc", "definition", "def", "gloss", "comment"]


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def _size_error(what: str, size: int | None, max_bytes: int, where: str) -> InputError:
    shown = f" is {_mb(size)}," if size is not None else " is"
    return InputError(
        f"{what}{shown} over the size limit of {_mb(max_bytes)} (max_bytes={max_bytes:,})",
        where=where,
        hint="use a smaller file, or raise the limit with the max_bytes argument of load_file/parse_upload",
    )


def _snippet(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# ----- entry points ------------------------------------------------------
def load_file(path, max_bytes: int = DEFAULT_MAX_BYTES) -> Hierarchy:
    """Read the hierarchy file at ``path`` (see the module docstring for the formats)."""
    p = Path(path)
    where = str(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise InputError("is a folder, not a file", where=where, hint=FORMATS_HINT)
        if size > max_bytes:
            raise _size_error("the file", size, max_bytes, where)
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError("no such file", where=where, hint="check the path") from None
    except PermissionError:
        raise InputError("cannot read the file: permission denied", where=where,
                         hint="check the file's permissions") from None
    return parse_upload(data, where, max_bytes=max_bytes)


def parse_upload(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Hierarchy:
    """Parse the bytes of an uploaded file; ``filename`` (the original name) picks the format
    and names the file in error messages and in ``Hierarchy.source``."""
    where = filename
    if len(data) > max_bytes:
        raise _size_error("the file", len(data), max_bytes, where)
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, where, max_bytes)
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
    parse = {"edges": _parse_edge_list, "json": _parse_json, "obo": _parse_obo}[kind]
    return parse(text, filename, ext)


# ----- bytes to text -------------------------------------------------------
def _gunzip(data: bytes, where: str, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as g:
            out = g.read(max_bytes + 1)  # never more than the limit + 1 (gzip bombs)
    except EOFError:
        raise InputError("the gzip file is truncated (the compressed data ends early)", where=where,
                         hint="copy or download the file again; `gzip -t FILE` checks it") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        raise InputError(f"the gzip file is corrupt ({e})", where=where,
                         hint="copy or download the file again; `gzip -t FILE` checks it") from None
    if len(out) > max_bytes:
        raise _size_error("the decompressed content", None, max_bytes, where)
    return out


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, where: str) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte order mark (Excel, Notepad)
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise InputError(f"invalid UTF-16 text at byte offset {e.start}", where=where,
                             hint="save the file as UTF-8 text") from None
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


def _build(edges, nodes, labels, descriptions, filename: str, what: str) -> Hierarchy:
    if not edges:
        found = f"{len(nodes)} node{'s' if len(nodes) != 1 else ''} but no edges" if nodes else "no nodes"
        raise InputError(f"found {found}: a hierarchy needs at least one child -> parent edge",
                         where=filename, hint=what)
    return Hierarchy.from_names(edges, nodes=nodes, labels=labels or None, descriptions=descriptions or None,
                                source=filename, where=filename)


# ----- edge lists ------------------------------------------------------------
def _norm(col: str) -> str:
    return re.sub(r"[\s\-]+", "_", col.strip().lower())


def _sniff_delimiter(text: str, ext: str) -> str:
    sample = []
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            sample.append(line)
            if len(sample) >= 200:
                break
    order = ["\t"] + [d for d in _DELIMITERS if d != "\t"] if ext == ".tsv" else _DELIMITERS
    best, best_score = order[-1] if ext != ".tsv" else "\t", (0, 0)
    for d in order:
        counts = [len(r) for r in csv.reader(sample, delimiter=d, skipinitialspace=True)]
        multi = [c for c in counts if c >= 2]
        if not multi:
            continue
        modal = max(set(multi), key=multi.count)
        score = (len(multi), multi.count(modal))
        if score > best_score:
            best, best_score = d, score
    return best


def _header_columns(fields: list[str]) -> dict[str, int] | None:
    """Column positions if ``fields`` is a header naming a child and a parent column."""
    normed = [_norm(f) for f in fields]
    child = next((normed.index(c) for c in _CHILD_COLS if c in normed), None)
    parent = next((normed.index(c) for c in _PARENT_COLS if c in normed and normed.index(c) != child), None)
    if child is None or parent is None:
        return None
    cols = {"child": child, "parent": parent}
    taken = {child, parent}
    for key, names in (("label", _LABEL_COLS), ("description", _DESC_COLS)):
        pos = next((normed.index(c) for c in names if c in normed and normed.index(c) not in taken), None)
        if pos is not None:
            cols[key] = pos
            taken.add(pos)
    return cols


def _parse_edge_list(text: str, filename: str, ext: str) -> Hierarchy:
    delim = _sniff_delimiter(text, ext)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, skipinitialspace=True)
    edges: list[tuple[str, str]] = []
    seen_edges: set[tuple[str, str]] = set()
    nodes: dict[str, None] = {}  # ordered set, first appearance
    labels: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    cols: dict[str, int] | None = None
    first = True
    end = 0  # line number where the previous row ended
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            fields = [f.strip() for f in row]
            if not any(fields) or fields[0].startswith("#"):
                continue
            line = start
            if end > start and any("\n" in f or "\r" in f for f in fields):
                raise InputError(f"a quote opened on line {start} is not closed before line {end}",
                                 where=f"{filename}, line {start}",
                                 hint='close the quote: "Shoes, Kids",Footwear; a name cannot span lines')
            if first:
                first = False
                cols = _header_columns(fields)
                if cols is not None:
                    continue
            if cols is None:
                child = fields[0]
                parent = fields[1] if len(fields) > 1 else None
                if parent == "" and len(fields) >= 2:
                    raise InputError(
                        f"the parent name is empty in row {_snippet(delim.join(row))}",
                        where=f"{filename}, line {line}",
                        hint="write child,parent; to declare a root, put its name alone on the line")
            else:
                child = fields[cols["child"]] if cols["child"] < len(fields) else ""
                parent = fields[cols["parent"]] if cols["parent"] < len(fields) else ""
                parent = parent or None  # an empty parent cell marks a root in a node table
            if not child:
                raise InputError(f"the child name is empty in row {_snippet(delim.join(row))}",
                                 where=f"{filename}, line {line}",
                                 hint="every row needs a child name in its first column (child,parent)")
            if child == parent:
                raise InputError(f"node {child!r} is its own parent (self-loop)",
                                 where=f"{filename}, line {line}", hint="remove this row")
            nodes.setdefault(child)
            if parent is not None:
                nodes.setdefault(parent)
                if (child, parent) not in seen_edges:
                    seen_edges.add((child, parent))
                    edges.append((child, parent))
            if cols is not None:
                for key, store in (("label", labels), ("description", descriptions)):
                    pos = cols.get(key)
                    if pos is not None and pos < len(fields) and fields[pos] and child not in store:
                        store[child] = fields[pos]
    except csv.Error as e:
        raise InputError(f"cannot read the row: {e}", where=f"{filename}, line {reader.line_num}",
                         hint="check the quotes on this line: a quoted name must end with a quote") from None
    return _build(edges, list(nodes), labels, descriptions, filename,
                  "write one child,parent row per edge (tab, comma, semicolon or pipe between them)")


# ----- JSON --------------------------------------------------------------------
def _json_type(value) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a number")


def _json_name(value, path: str, filename: str, what: str = "name") -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"at {path}: the {what} must be a string, got {_json_type(value)} {_snippet(json.dumps(value))}",
                         where=filename, hint="node names are strings, e.g. \"Shoes\"")
    name = str(value).strip()
    if not name:
        raise InputError(f"at {path}: the {what} is empty", where=filename, hint="give every node a non-empty name")
    return name


def _json_text(obj: dict, keys: tuple[str, ...]) -> str:
    for k in keys:
        v = obj.get(k)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip():
            return str(v).strip()
    return ""


_TREE_SHAPE = ('a tree {"name": ..., "children": [...]}, a list of such trees, '
               'or {"edges": [[child, parent], ...]}')


def _parse_json(text: str, filename: str, ext: str) -> Hierarchy:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg} at column {e.colno}",
                         where=f"{filename}, line {e.lineno}", hint="check the JSON syntax near that spot") from None
    except RecursionError:
        raise InputError("the JSON is nested too deeply to read", where=filename,
                         hint='use {"edges": [[child, parent], ...]} for very deep hierarchies') from None
    nodes: dict[str, None] = {}
    labels: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    seen_edges: set[tuple[str, str]] = set()

    def add_node(obj: dict, path: str, key_name: bool = True) -> str:
        key = "id" if "id" in obj else "name" if "name" in obj else None
        if key is None:
            raise InputError(f'at {path}: a node needs a "name" (or "id"), found keys {sorted(obj)}',
                             where=filename, hint='write nodes as {"name": "Shoes", "children": [...]}')
        name = _json_name(obj[key], f"{path}.{key}", filename)
        nodes.setdefault(name)
        label = _json_text(obj, ("label", "name") if key == "id" else ("label",))
        desc = _json_text(obj, ("description", "desc", "definition"))
        if label and name not in labels:
            labels[name] = label
        if desc and name not in descriptions:
            descriptions[name] = desc
        return name

    def add_edge(c: str, p: str):
        if (c, p) not in seen_edges:
            seen_edges.add((c, p))
            edges.append((c, p))

    def is_pair(x) -> bool:
        return isinstance(x, list) and len(x) == 2

    if isinstance(doc, dict) and "edges" in doc:
        raw_edges, raw_nodes = doc["edges"], doc.get("nodes", [])
        if not isinstance(raw_edges, list):
            raise InputError(f'"edges" must be a list of [child, parent] pairs, got {_json_type(raw_edges)}',
                             where=filename, hint='e.g. {"edges": [["dog", "mammal"], ["cat", "mammal"]]}')
        if not isinstance(raw_nodes, list):
            raise InputError(f'"nodes" must be a list, got {_json_type(raw_nodes)}', where=filename,
                             hint='e.g. "nodes": ["mammal", {"name": "dog", "label": "Dog"}]')
        for k, item in enumerate(raw_nodes):
            path = f"$.nodes[{k}]"
            if isinstance(item, dict):
                add_node(item, path)
            else:
                nodes.setdefault(_json_name(item, path, filename))
        pairs = raw_edges
    elif isinstance(doc, list) and doc and all(is_pair(x) and not isinstance(x[0], (dict, list)) for x in doc):
        pairs = doc  # a bare list of [child, parent] pairs
    elif isinstance(doc, (dict, list)):
        pairs = None
    else:
        raise InputError(f"expected {_TREE_SHAPE}; got {_json_type(doc)}", where=filename,
                         hint='e.g. {"name": "Animal", "children": [{"name": "Dog"}]}')

    if pairs is not None:
        for k, e in enumerate(pairs):
            path = f"$.edges[{k}]" if isinstance(doc, dict) else f"$[{k}]"
            if is_pair(e):
                c, p = e
            elif isinstance(e, dict) and "child" in e and "parent" in e:
                c, p = e["child"], e["parent"]
            else:
                raise InputError(f"at {path}: expected a [child, parent] pair, got {_snippet(json.dumps(e))}",
                                 where=filename, hint='write each edge as ["child", "parent"]')
            c = _json_name(c, f"{path}[0]", filename, "child name")
            p = _json_name(p, f"{path}[1]", filename, "parent name")
            nodes.setdefault(c)
            nodes.setdefault(p)
            add_edge(c, p)
    else:
        trees = doc if isinstance(doc, list) else [doc]
        # iterative walk (no recursion limit): (object, its JSON path, parent name or None)
        stack = [(t, f"$[{k}]" if isinstance(doc, list) else "$", None) for k, t in enumerate(trees)][::-1]
        while stack:
            obj, path, parent = stack.pop()
            if not isinstance(obj, dict):
                raise InputError(f"at {path}: expected a node object {{\"name\": ..., \"children\": [...]}}, "
                                 f"got {_snippet(json.dumps(obj))}", where=filename,
                                 hint=f"the file should hold {_TREE_SHAPE}")
            name = add_node(obj, path)
            if parent is not None:
                if name == parent:
                    raise InputError(f"at {path}: node {name!r} is its own child (self-loop)", where=filename,
                                     hint="remove that child")
                add_edge(name, parent)
            kids = obj.get("children")
            if kids is None:
                continue
            if not isinstance(kids, list):
                raise InputError(f'at {path}.children: "children" must be a list, got {_json_type(kids)}',
                                 where=filename, hint='write "children": [{"name": ...}, ...]')
            for k in range(len(kids) - 1, -1, -1):
                stack.append((kids[k], f"{path}.children[{k}]", name))
    return _build(edges, list(nodes), labels, descriptions, filename,
                  f"the file should hold {_TREE_SHAPE} with at least one parent-child link")


# ----- OBO ---------------------------------------------------------------------
_DEF_RE = re.compile(r'^"((?:[^"\\]|\\.)*)"')


def _obo_value(value: str) -> str:
    """Strip a trailing ``! comment`` and ``{qualifiers}`` from an OBO tag value."""
    value = re.split(r"\s+!\s|\s+!$", value, maxsplit=1)[0]
    value = re.sub(r"\s*\{[^}]*\}\s*$", "", value)
    return value.strip()


def _parse_obo(text: str, filename: str, ext: str) -> Hierarchy:
    terms: dict[str, dict] = {}  # id -> {"name", "def", "is_a": [...], "obsolete"}
    stanza: str | None = None
    term: dict | None = None
    stanza_line = 0

    def close():
        if term is None:
            return
        if not term["id"]:
            raise InputError("a [Term] stanza has no id: line", where=f"{filename}, line {stanza_line}",
                             hint="every [Term] needs a line like id: GO:0008150")
        old = terms.get(term["id"])
        if old is None:
            terms[term["id"]] = term
        else:  # OBO allows a term to be split over several stanzas
            old["is_a"].extend(term["is_a"])
            old["obsolete"] = old["obsolete"] or term["obsolete"]
            old["name"] = old["name"] or term["name"]
            old["def"] = old["def"] or term["def"]

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("[") and line.endswith("]"):
            close()
            stanza = line[1:-1].strip()
            term = {"id": "", "name": "", "def": "", "is_a": [], "obsolete": False} if stanza == "Term" else None
            stanza_line = lineno
            continue
        if term is None:
            continue  # header lines, [Typedef] and [Instance] stanzas
        tag, sep, value = line.partition(":")
        if not sep:
            raise InputError(f"expected 'tag: value' in a [Term] stanza, got {_snippet(line)}",
                             where=f"{filename}, line {lineno}", hint="OBO lines look like is_a: GO:0008150 ! name")
        tag, value = tag.strip(), value.strip()
        if tag == "id":
            term["id"] = _obo_value(value)
        elif tag == "name":
            term["name"] = value
        elif tag == "def":
            m = _DEF_RE.match(value)
            term["def"] = re.sub(r"\\(.)", r"\1", m.group(1)) if m else _obo_value(value)
        elif tag == "is_a":
            parent = _obo_value(value)
            if parent:
                term["is_a"].append((parent, lineno))
        elif tag == "is_obsolete":
            term["obsolete"] = _obo_value(value).lower() == "true"
    close()

    if not terms:
        raise InputError("no [Term] stanzas found", where=filename,
                         hint="an OBO file lists terms as [Term] blocks with id:, name: and is_a: lines")
    live = {t: v for t, v in terms.items() if not v["obsolete"]}
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for tid, t in live.items():
        for parent, lineno in t["is_a"]:
            if parent == tid:
                raise InputError(f"term {tid!r} is_a itself (self-loop)", where=f"{filename}, line {lineno}",
                                 hint="remove this is_a line")
            if parent in live and (tid, parent) not in seen:
                seen.add((tid, parent))
                edges.append((tid, parent))
    labels = {t: v["name"] for t, v in live.items() if v["name"]}
    descriptions = {t: v["def"] for t, v in live.items() if v["def"]}
    return _build(edges, list(live), labels, descriptions, filename,
                  "terms need is_a: lines pointing to other (non-obsolete) terms of the file")
