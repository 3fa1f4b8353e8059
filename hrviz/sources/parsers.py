"""The parsers behind :mod:`hrviz.sources.files`: edge-list and JSON text to a Hierarchy.

Each ``parse_*`` function takes the decoded text, the file name (for error messages and
``Hierarchy.source``) and the extension left after stripping ``.gz``, and returns a validated
:class:`~hrviz.hierarchy.Hierarchy` or raises :class:`~hrviz.errors.InputError` naming the
line (or JSON path) and how to fix it. The formats themselves are described in the docstring
of :mod:`hrviz.sources.files`, which picks the parser; OBO has its own module,
:mod:`hrviz.sources.obo`.

Every parser collects what it reads in a :class:`Found`: nodes in first-seen order, edges
without duplicates, and the first label and description given for each node. Its
:meth:`Found.build` also reads a name under several parents as ``duplicates`` says (merged, or
kept apart by parent) and attaches the warnings of :mod:`hrviz.sources.checks` to the result.
"""

from __future__ import annotations

import csv
import io
import json
import re

from ..errors import InputError
from ..hierarchy import Hierarchy
from .checks import check_duplicates, keep_apart, prose_reason, repeated_names, warnings_for

_DELIMITERS = ["\t", ";", "|", ","]  # tie-break order: commas are the likeliest inside names

# Header column names (normalised: lower case, spaces and hyphens as underscores), by priority.
_CHILD_COLS = ["child", "child_id", "child_name", "node", "node_id", "node_name", "id", "name",
               "term", "term_id", "item", "concept", "category", "source", "src", "from"]
_PARENT_COLS = ["parent", "parent_id", "parent_name", "parentid", "parents", "broader", "is_a",
                "hypernym", "superclass", "target", "dst", "to"]
_LABEL_COLS = ["label", "title", "name", "display_name"]
_DESC_COLS = ["description", "desc", "definition", "def", "gloss", "comment"]


def snippet(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class Found:
    """What a parser has read so far, in the order it was read."""

    def __init__(self) -> None:
        self.nodes: dict[str, None] = {}  # an ordered set: first appearance
        self.edges: list[tuple[str, str]] = []
        self.labels: dict[str, str] = {}
        self.descriptions: dict[str, str] = {}
        self.occurrences: list[tuple[str, int | None]] | None = None  # a JSON tree's node objects
        self._seen: set[tuple[str, str]] = set()

    def occurrence(self, name: str, parent: int | None) -> int:
        """Note a node object of a JSON tree, under the object ``parent`` (an index) or at the
        top; its index. Only a tree says which place of a repeated name a child is under."""
        if self.occurrences is None:
            self.occurrences = []
        self.occurrences.append((name, parent))
        return len(self.occurrences) - 1

    def node(self, name: str, label: str = "", description: str = "") -> None:
        """Add a node; the first non-empty label and description given for it are kept."""
        self.nodes.setdefault(name)
        if label and name not in self.labels:
            self.labels[name] = label
        if description and name not in self.descriptions:
            self.descriptions[name] = description

    def edge(self, child: str, parent: str) -> None:
        """Add both ends (if new) and the edge child -> parent (once)."""
        self.nodes.setdefault(child)
        self.nodes.setdefault(parent)
        if (child, parent) not in self._seen:
            self._seen.add((child, parent))
            self.edges.append((child, parent))

    def build(self, filename: str, what: str, duplicates: str | None = None) -> Hierarchy:
        """The Hierarchy, with its ``warnings``; ``what`` is the hint when there are no edges.

        duplicates: ``"merge"`` or ``"by-parent"``, how a name under several parents is read
        (:mod:`hrviz.sources.checks`); None where names are identifiers (OBO ids): a term with
        several ``is_a`` is one node with several parents, and no warning.
        """
        if not self.edges:
            n = len(self.nodes)
            found = f"{n} node{'s' if n != 1 else ''} but no edges" if n else "no nodes"
            raise InputError(f"found {found}: a hierarchy needs at least one child -> parent edge",
                             where=filename, hint=what)
        h = Hierarchy.from_names(self.edges, nodes=list(self.nodes), labels=self.labels or None,
                                 descriptions=self.descriptions or None, source=filename, where=filename)
        repeated = repeated_names(h, self.occurrences) if duplicates is not None else {}
        kept = None
        if repeated and check_duplicates(duplicates) == "by-parent":
            h, kept = keep_apart(h, self.occurrences, repeated, filename)
        h.warnings = warnings_for(h, repeated, kept)
        return h


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


def _cell(fields: list[str], pos: int | None) -> str:
    return fields[pos] if pos is not None and pos < len(fields) else ""


def _row_edge(fields: list[str], row: list[str], cols: dict[str, int] | None, delim: str,
              where: str) -> tuple[str, str | None]:
    """(child, parent or None for a root) of one data row, checked."""
    if cols is None:
        child = fields[0]
        parent = fields[1] if len(fields) > 1 else None
        if parent == "" and len(fields) >= 2:
            raise InputError(f"the parent name is empty in row {snippet(delim.join(row))}", where=where,
                             hint="write child,parent; to declare a root, put its name alone on the line")
    else:
        child = _cell(fields, cols["child"])
        parent = _cell(fields, cols["parent"]) or None  # an empty parent cell marks a root in a node table
    if not child:
        raise InputError(f"the child name is empty in row {snippet(delim.join(row))}", where=where,
                         hint="every row needs a child name in its first column (child,parent)")
    if child == parent:
        raise InputError(f"node {child!r} is its own parent (self-loop)", where=where, hint="remove this row")
    return child, parent


def parse_edge_list(text: str, filename: str, ext: str, duplicates: str = "merge") -> Hierarchy:
    """One ``child,parent`` row per edge, delimiter detected, optional header; a header-less
    file that reads as prose is refused. ``duplicates``: see :meth:`Found.build`."""
    check_duplicates(duplicates)
    delim = _sniff_delimiter(text, ext)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, skipinitialspace=True)
    found = Found()
    cols: dict[str, int] | None = None
    first = True
    end = 0  # line number where the previous row ended
    rows: list[list[str]] = []  # the data rows of a header-less file, for the prose check
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            fields = [f.strip() for f in row]
            if not any(fields) or fields[0].startswith("#"):
                continue
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
                rows.append(fields)
            child, parent = _row_edge(fields, row, cols, delim, f"{filename}, line {start}")
            found.node(child)
            if parent is not None:
                found.edge(child, parent)
            if cols is not None:
                found.node(child, _cell(fields, cols.get("label")), _cell(fields, cols.get("description")))
    except csv.Error as e:
        raise InputError(f"cannot read the row: {e}", where=f"{filename}, line {reader.line_num}",
                         hint="check the quotes on this line: a quoted name must end with a quote") from None
    why = prose_reason(rows) if cols is None else None
    if why:
        raise InputError(f"this reads as prose, not as a hierarchy: {why}", where=filename,
                         hint="write one child,parent row per edge, e.g. Dog,Mammal")
    return found.build(filename, "write one child,parent row per edge (tab, comma, semicolon or pipe between them)",
                       duplicates)


# ----- JSON --------------------------------------------------------------------
_TREE_SHAPE = ('a tree {"name": ..., "children": [...]}, a list of such trees, '
               'or {"edges": [[child, parent], ...]}')


def _json_type(value) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a number")


def _json_name(value, path: str, filename: str, what: str = "name") -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"at {path}: the {what} must be a string, got {_json_type(value)} {snippet(json.dumps(value))}",
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


def _is_pair(x) -> bool:
    return isinstance(x, list) and len(x) == 2


def _json_node(obj: dict, path: str, found: Found, filename: str) -> str:
    """Add the node object ``obj`` (name or id, label, description); its name."""
    key = "id" if "id" in obj else "name" if "name" in obj else None
    if key is None:
        raise InputError(f'at {path}: a node needs a "name" (or "id"), found keys {sorted(obj)}',
                         where=filename, hint='write nodes as {"name": "Shoes", "children": [...]}')
    name = _json_name(obj[key], f"{path}.{key}", filename)
    found.node(name, _json_text(obj, ("label", "name") if key == "id" else ("label",)),
               _json_text(obj, ("description", "desc", "definition")))
    return name


def _load_json(text: str, filename: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg} at column {e.colno}",
                         where=f"{filename}, line {e.lineno}", hint="check the JSON syntax near that spot") from None
    except RecursionError:
        raise InputError("the JSON is nested too deeply to read", where=filename,
                         hint='use {"edges": [[child, parent], ...]} for very deep hierarchies') from None


def _json_edge_list(doc, found: Found, filename: str) -> list | None:
    """The raw edges of an edge-list document (its "nodes" added to ``found``); None for trees."""
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
                _json_node(item, path, found, filename)
            else:
                found.node(_json_name(item, path, filename))
        return raw_edges
    if isinstance(doc, list) and doc and all(_is_pair(x) and not isinstance(x[0], (dict, list)) for x in doc):
        return doc  # a bare list of [child, parent] pairs
    if isinstance(doc, (dict, list)):
        return None
    raise InputError(f"expected {_TREE_SHAPE}; got {_json_type(doc)}", where=filename,
                     hint='e.g. {"name": "Animal", "children": [{"name": "Dog"}]}')


def _json_pairs(pairs: list, in_object: bool, found: Found, filename: str) -> None:
    for k, e in enumerate(pairs):
        path = f"$.edges[{k}]" if in_object else f"$[{k}]"
        if _is_pair(e):
            c, p = e
        elif isinstance(e, dict) and "child" in e and "parent" in e:
            c, p = e["child"], e["parent"]
        else:
            raise InputError(f"at {path}: expected a [child, parent] pair, got {snippet(json.dumps(e))}",
                             where=filename, hint='write each edge as ["child", "parent"]')
        found.edge(_json_name(c, f"{path}[0]", filename, "child name"),
                   _json_name(p, f"{path}[1]", filename, "parent name"))


def _json_trees(doc, found: Found, filename: str) -> None:
    """Walk a tree or a list of trees iteratively (no recursion limit)."""
    trees = doc if isinstance(doc, list) else [doc]
    # (object, its JSON path, parent name or None, the parent object's occurrence or None)
    stack = [(t, f"$[{k}]" if isinstance(doc, list) else "$", None, None) for k, t in enumerate(trees)][::-1]
    while stack:
        obj, path, parent, up = stack.pop()
        if not isinstance(obj, dict):
            raise InputError(f"at {path}: expected a node object {{\"name\": ..., \"children\": [...]}}, "
                             f"got {snippet(json.dumps(obj))}", where=filename,
                             hint=f"the file should hold {_TREE_SHAPE}")
        name = _json_node(obj, path, found, filename)
        here = found.occurrence(name, up)
        if parent is not None:
            if name == parent:
                raise InputError(f"at {path}: node {name!r} is its own child (self-loop)", where=filename,
                                 hint="remove that child")
            found.edge(name, parent)
        kids = obj.get("children")
        if kids is None:
            continue
        if not isinstance(kids, list):
            raise InputError(f'at {path}.children: "children" must be a list, got {_json_type(kids)}',
                             where=filename, hint='write "children": [{"name": ...}, ...]')
        for k in range(len(kids) - 1, -1, -1):
            stack.append((kids[k], f"{path}.children[{k}]", name, here))


def parse_json(text: str, filename: str, ext: str, duplicates: str = "merge") -> Hierarchy:
    """A nested tree, a forest, or an edge list (``{"edges": ...}`` or bare pairs).
    ``duplicates``: see :meth:`Found.build`."""
    check_duplicates(duplicates)
    doc = _load_json(text, filename)
    found = Found()
    pairs = _json_edge_list(doc, found, filename)
    if pairs is not None:
        _json_pairs(pairs, isinstance(doc, dict), found, filename)
    else:
        _json_trees(doc, found, filename)
    return found.build(filename, f"the file should hold {_TREE_SHAPE} with at least one parent-child link",
                       duplicates)
