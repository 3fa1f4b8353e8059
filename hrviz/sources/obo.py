"""The OBO parser behind :mod:`hrviz.sources.files` (e.g. the Gene Ontology).

``[Term]`` stanzas: ``id:`` is the node, ``name:`` its label, ``def:`` its description, each
``is_a:`` an edge; the rest of the format's rules are in the docstring of
:mod:`hrviz.sources.files`. What was read is collected in a :class:`~hrviz.sources.parsers.Found`,
as the other parsers do.
"""

from __future__ import annotations

import re

from ..errors import InputError
from ..hierarchy import Hierarchy
from .parsers import Found, snippet

_DEF_RE = re.compile(r'^"((?:[^"\\]|\\.)*)"')


def _obo_value(value: str) -> str:
    """Strip a trailing ``! comment`` and ``{qualifiers}`` from an OBO tag value."""
    value = re.split(r"\s+!\s|\s+!$", value, maxsplit=1)[0]
    value = re.sub(r"\s*\{[^}]*\}\s*$", "", value)
    return value.strip()


def _merge_term(terms: dict[str, dict], term: dict | None, filename: str, stanza_line: int) -> None:
    """File the [Term] stanza just closed; OBO allows a term to be split over several stanzas."""
    if term is None:
        return
    if not term["id"]:
        raise InputError("a [Term] stanza has no id: line", where=f"{filename}, line {stanza_line}",
                         hint="every [Term] needs a line like id: GO:0008150")
    old = terms.get(term["id"])
    if old is None:
        terms[term["id"]] = term
    else:
        old["is_a"].extend(term["is_a"])
        old["obsolete"] = old["obsolete"] or term["obsolete"]
        old["name"] = old["name"] or term["name"]
        old["def"] = old["def"] or term["def"]


def _obo_tag(term: dict, tag: str, value: str, lineno: int) -> None:
    """Record one ``tag: value`` line of a [Term] stanza (the tags hrviz reads)."""
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


def _obo_terms(text: str, filename: str) -> dict[str, dict]:
    """id -> {"id", "name", "def", "is_a": [(parent, line), ...], "obsolete"} of every [Term]."""
    terms: dict[str, dict] = {}
    term: dict | None = None
    stanza_line = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("[") and line.endswith("]"):
            _merge_term(terms, term, filename, stanza_line)
            stanza = line[1:-1].strip()
            term = {"id": "", "name": "", "def": "", "is_a": [], "obsolete": False} if stanza == "Term" else None
            stanza_line = lineno
            continue
        if term is None:
            continue  # header lines, [Typedef] and [Instance] stanzas
        tag, sep, value = line.partition(":")
        if not sep:
            raise InputError(f"expected 'tag: value' in a [Term] stanza, got {snippet(line)}",
                             where=f"{filename}, line {lineno}", hint="OBO lines look like is_a: GO:0008150 ! name")
        _obo_tag(term, tag.strip(), value.strip(), lineno)
    _merge_term(terms, term, filename, stanza_line)
    return terms


def parse_obo(text: str, filename: str, ext: str) -> Hierarchy:
    """[Term] stanzas: ``id`` the node, ``name`` its label, ``def`` its description, ``is_a`` edges."""
    terms = _obo_terms(text, filename)
    if not terms:
        raise InputError("no [Term] stanzas found", where=filename,
                         hint="an OBO file lists terms as [Term] blocks with id:, name: and is_a: lines")
    live = {t: v for t, v in terms.items() if not v["obsolete"]}
    found = Found()
    for tid, t in live.items():
        found.node(tid, t["name"], t["def"])
    for tid, t in live.items():
        for parent, lineno in t["is_a"]:
            if parent == tid:
                raise InputError(f"term {tid!r} is_a itself (self-loop)", where=f"{filename}, line {lineno}",
                                 hint="remove this is_a line")
            if parent in live:
                found.edge(tid, parent)
    return found.build(filename, "terms need is_a: lines pointing to other (non-obsolete) terms of the file")
