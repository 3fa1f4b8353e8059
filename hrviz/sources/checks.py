"""What a parsed hierarchy file is warned about, and the two readings of a repeated name.

A file can be read without error and still not be what its author meant. The parsers
(:mod:`hrviz.sources.parsers`, :mod:`hrviz.sources.obo`) attach a list of
:class:`SourceWarning` to the Hierarchy they return (``h.warnings``): isolated nodes
(no parent, no child), several roots, and names that stand under several parents. The CLI
(``hrviz info``) and the app's Hierarchy page show them with counts and examples.

A name under several parents has two readings, chosen with ``duplicates``:

- ``"merge"`` (the default): one node with several parents (a DAG). This is how an edge
  list says "x is both an a and a b", and how a JSON tree shares a node between branches.
- ``"by-parent"``: different things that happen to share a name ("Other" under every
  category). Each is kept apart as ``"x (a)"``, ``"x (b)"``: one node per parent, named after
  it. In a JSON tree each copy keeps the children nested under it. An edge list does not say
  which copy a child of ``x`` belongs to, so the children (and their subtrees) are copied under
  every copy; a result over :data:`MAX_GROWTH` times the merged node count is refused (that
  file is a DAG by design).

A file that reads as prose (sentences, an "edge" taken from a ``;`` in a sentence) is refused
by :func:`prose_reason`, with the reason in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..hierarchy import Hierarchy

DUPLICATES = ("merge", "by-parent")  # the readings of a name under several parents
MAX_GROWTH = 10  # by-parent: at most this many times the merged node count (+ MIN_ROOM)
MIN_ROOM = 10_000
EXAMPLES = 3  # examples named in a warning


@dataclass(frozen=True)
class SourceWarning:
    """Something a file holds that is allowed but maybe not meant.

    ``kind``: ``"isolated"``, ``"roots"``, ``"merged_names"`` or ``"kept_apart"``; ``count``:
    how many nodes or names; ``examples``: a few of them; ``message``: one line saying it all.
    """

    kind: str
    count: int
    examples: tuple[str, ...]
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "count": self.count, "examples": list(self.examples),
                "message": self.message}

    def __str__(self) -> str:
        return self.message


def check_duplicates(duplicates: str) -> str:
    """``duplicates`` when it is one of :data:`DUPLICATES`, else an InputError."""
    if duplicates not in DUPLICATES:
        raise InputError(f"unknown reading of repeated names {duplicates!r}",
                         hint="duplicates is 'merge' (one node, several parents) or 'by-parent' "
                              "(one node per parent, named 'x (parent)')")
    return duplicates


def _q(name) -> str:
    text = str(name)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _some(names: list, total: int | None = None) -> str:
    """``'a', 'b', 'c' and 4 more``."""
    total = len(names) if total is None else total
    shown = ", ".join(_q(n) for n in names[:EXAMPLES])
    return shown + (f" and {total - EXAMPLES:,} more" if total > EXAMPLES else "")


def _s(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


# ----- warnings -------------------------------------------------------------------
def structure_warnings(h: Hierarchy) -> list[SourceWarning]:
    """Isolated nodes and several roots, with counts and examples."""
    out = []
    roots = h.roots
    isolated = roots[h.n_children[roots] == 0]
    if len(isolated):
        names = [h.names[int(i)] for i in isolated[:EXAMPLES]]
        out.append(SourceWarning(
            "isolated", int(len(isolated)), tuple(names),
            f"{_s(len(isolated), 'isolated node', 'isolated nodes')} (no parent, no child): "
            f"{_some(names, len(isolated))}; each is relevant only to itself"))
    if len(roots) > 1:
        names = [h.names[int(i)] for i in roots[:EXAMPLES]]
        out.append(SourceWarning(
            "roots", int(len(roots)), tuple(names),
            f"{len(roots):,} roots (nodes without a parent): {_some(names, len(roots))}; "
            "nodes under different roots share no ancestor"))
    return out


def repeated_names(h: Hierarchy, occurrences: list[tuple[str, int | None]] | None) -> dict[str, list]:
    """Names that stand under several parents -> their parents (None for a top-level place),
    in the order read. ``occurrences`` (a JSON tree's node objects, each ``(name, index of its
    parent's object or None)``) or, for an edge list, the merged hierarchy's parents."""
    if occurrences is None:
        return {h.names[i]: [h.names[int(p)] for p in h.parents(i)] for i in np.flatnonzero(h.n_parents > 1)}
    places: dict[str, dict] = {}
    for name, parent in occurrences:
        places.setdefault(name, {})[None if parent is None else occurrences[parent][0]] = None
    return {name: list(ps) for name, ps in places.items() if len(ps) > 1}


def merged_warning(repeated: dict[str, list]) -> SourceWarning:
    names = list(repeated)
    first, worst = names[0], max(len(p) for p in repeated.values())
    parents = ["(the top level)" if p is None else p for p in repeated[first]]
    where = ", ".join(p if p == "(the top level)" else _q(p) for p in parents[:EXAMPLES]) + (
        f" and {len(parents) - EXAMPLES:,} more" if len(parents) > EXAMPLES else "")
    if len(names) == 1:
        what = f"1 name stands under {worst:,} parents and was merged into one node: {_q(first)} under {where}"
    else:
        what = (f"{len(names):,} names stand under several parents (up to {worst:,}) and were merged "
                f"into one node each: {_some(names)}; e.g. {_q(first)} under {where}")
    return SourceWarning("merged_names", len(names), tuple(names[:EXAMPLES]),
                         what + ". If they are different things, keep them apart by their parent")


def warnings_for(h: Hierarchy, repeated: dict[str, list], kept_apart: SourceWarning | None) -> list[SourceWarning]:
    """Every warning of a parsed file, the name reading first."""
    head = [kept_apart] if kept_apart is not None else [merged_warning(repeated)] if repeated else []
    return head + structure_warnings(h)


# ----- keeping repeated names apart -------------------------------------------------
def _fresh(base: str, taken: set[str]) -> str:
    name, k = base, 2
    while name in taken:
        name, k = f"{base} [{k}]", k + 1
    return name


def keep_apart(h: Hierarchy, occurrences: list[tuple[str, int | None]] | None, repeated: dict[str, list],
               filename: str) -> tuple[Hierarchy, SourceWarning]:
    """The hierarchy with every name under several parents split into one node per parent,
    ``"x (parent)"``, and the warning that says so (see the module docstring).

    h: the merged hierarchy; occurrences: a JSON tree's node objects (None for an edge list);
    repeated: :func:`repeated_names`, the names the file itself puts under several parents."""
    if occurrences is None:  # an edge list: one item per name, its parents by name
        item_name = list(h.names)
        item_parents = [h.parents(i).tolist() for i in range(h.n)]
    else:  # a JSON tree: one item per node object, its parent object
        item_name = [name for name, _ in occurrences]
        item_parents = [[] if p is None else [p] for _, p in occurrences]
    items_of: dict[str, list[int]] = {}
    for it, name in enumerate(item_name):
        items_of.setdefault(name, []).append(it)
    limit = MAX_GROWTH * h.n + MIN_ROOM
    taken = set(h.names)
    copies: list[list[str]] = [[] for _ in item_name]  # the new names of each item
    new_of: dict[str, list[str]] = {}  # original name -> its new names
    origin: dict[str, str] = {}  # new name -> original name
    edges: list[tuple[str, str]] = []
    split, total = [], 0
    for i in np.argsort(h.depth, kind="stable").tolist():  # parents before their children
        name = h.names[i]
        cands = [[c for p in item_parents[it] for c in copies[p]] or [None] for it in items_of[name]]
        distinct = list(dict.fromkeys(c for cs in cands for c in cs))
        if len(distinct) <= 1:
            mine = {None: name, distinct[0]: name}
        else:
            split.append(name)
            mine = {}
            for c in distinct:
                mine[c] = name if c is None else _fresh(f"{name} ({c})", taken)
                taken.add(mine[c])
        for it, cs in zip(items_of[name], cands):
            copies[it] = list(dict.fromkeys(mine[c] for c in cs))
        new_of[name] = list(dict.fromkeys(mine[c] for c in distinct))
        for c in distinct:
            origin[mine[c]] = name
            if c is not None:
                edges.append((mine[c], c))
        total += len(new_of[name])
        if total > limit:
            raise InputError(
                f"keeping names apart by their parent would make more than {limit:,} nodes from "
                f"{h.n:,}: the children of each copy are copied too, so this file is a DAG by design",
                where=filename, hint="merge the repeated names (one node with several parents)")
    nodes = [new for name in h.names for new in new_of[name]]
    lab = {new: h.labels[h.index[old]] for new, old in origin.items()} if h.labels else None
    desc = {new: h.descriptions[h.index[old]] for new, old in origin.items()} if h.descriptions else None
    out = Hierarchy.from_names(edges, nodes=nodes, labels=lab, descriptions=desc, source=filename, where=filename)
    primary = [n for n in split if n in repeated]
    copied = [n for n in split if n not in repeated]  # split because a parent was
    made = sum(len(new_of[n]) for n in primary)
    why = ("as an edge list does not say which one they belong to" if occurrences is None
           else "as they are nested under each")
    note = (f"; {_s(len(copied), 'name', 'names')} below them ({_some(copied)}) "
            f"{'was' if len(copied) == 1 else 'were'} copied under each copy, {why}") if copied else ""
    return out, SourceWarning(
        "kept_apart", len(primary), tuple(primary[:EXAMPLES]),
        f"{_s(len(primary), 'name', 'names')} under several parents {'was' if len(primary) == 1 else 'were'} "
        f"kept apart, one node per parent ({made:,} nodes): e.g. {_some(new_of[primary[0]], made)}{note}")


# ----- prose ---------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"\w[.!?]$")
_ABBREVIATION = re.compile(r"\b(inc|co|ltd|corp|llc|plc|gmbh|st|dr|mr|mrs|ms|no|jr|sr|vs|etc|approx)\.$", re.I)


def _sentence_like(field: str) -> bool:
    """Three words or more ending in ``.``, ``!`` or ``?`` (not in ``Inc.``, ``St.``...)."""
    return (len(field.split()) >= 3 and bool(_SENTENCE_END.search(field))
            and not _ABBREVIATION.search(field))


def prose_reason(rows: list[list[str]]) -> str | None:
    """Why the data rows of a header-less edge list read as prose, or None when they do not.

    rows: the non-blank, non-comment rows as fields. Prose: half the names or more (at least two)
    are sentences (three words or more ending in ``.``, ``!`` or ``?``; a file of names has few
    that end so), or most lines have no delimiter and their names average three words or more."""
    names = [f for r in rows for f in r[:2] if f]
    if not names:
        return None
    sentences = [f for f in names if _sentence_like(f)]
    if len(sentences) >= 2 and 2 * len(sentences) >= len(names):
        return (f"{len(sentences)} of its {len(names)} names read as sentences, "
                f"e.g. {_q(sentences[0])}")
    single = [r for r in rows if len(r) < 2 or not r[1]]
    words = sum(len(f.split()) for f in names) / len(names)
    if len(single) >= 2 and 2 * len(single) > len(rows) and words >= 3:
        return (f"{len(single)} of its {len(rows)} lines have no delimiter and its names average "
                f"{words:.0f} words, e.g. {_q(single[0][0])}")
    return None
