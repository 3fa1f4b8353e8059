"""CLI commands of text runs: ``encode`` (a frozen encoder, zero-shot) and ``query`` (free text
against a stored text run). A text tower trains with ``train --encoder NAME`` (:mod:`hrviz.cli.train`;
its flags are the text kind's settings, :mod:`hrviz.kinds.text`).

    python -m hrviz encode SOURCE --encoder wordllama [--max-distance 8] [--db X] [--json]
    python -m hrviz train SOURCE --dim 64 --encoder wordllama [--holdout-nodes 0.1] [--json]
    python -m hrviz query RUN_ID "golden retriever puppy" [--k 20] [--db X] [--json]

Encoder names: ``lookup`` (the lookup tables, ``train``'s default), ``wordllama``, ``model2vec``,
``hashing`` (tests), ``st:MODEL`` (a sentence-transformers model on disk). Nothing downloads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..free_text import open_text_run, query_text
from ..kinds.text import ENCODER_HELP, TEXT, encoder_spec
from ..models.text import check_text
from ..sources import load_source
from ..store import Store
from .options import add_db
from .train import store_and_report


def register(sub) -> None:
    p = sub.add_parser("encode", help="evaluate a frozen text encoder zero-shot and store the run",
                       description="Embed every node's text with a frozen encoder (query = document, cosine), "
                                   "evaluate exactly and store the run (recipe zero-shot).")
    p.add_argument("source", help="tree:H=4,W=5 | dag:... | wordnet | wordnet:SYNSET | FILE")
    p.add_argument("--encoder", required=True, help=ENCODER_HELP)
    p.add_argument("--max-distance", type=int, default=8, help="cap on ancestor distance [default: 8]")
    p.add_argument("--style", choices=["label-description", "label"], default="label-description",
                   help="node text: 'label: description' (WordNet: lemma: gloss) or the label alone")
    p.add_argument("--name", default=None, help="a free-text name for the run")
    add_db(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("query", help="free text against a stored text run: the retrieved documents",
                       description="Embed free text with a stored text run's encoder (and query head) and print "
                                   "the retrieved documents with rank, score and label; where the text names a "
                                   "node, its relevant documents are marked.")
    p.add_argument("run_id", type=int)
    p.add_argument("text", help='the text, e.g. "golden retriever puppy"')
    p.add_argument("--k", type=int, default=10, help="documents to list [default: 10]")
    add_db(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_query)


def cmd_encode(args) -> int:
    if encoder_spec(args.encoder) is None:
        raise InputError("encode needs a text encoder, not lookup tables",
                         hint="--encoder wordllama | model2vec | hashing | st:MODEL")
    h = load_source(args.source)
    cfg = TEXT.config({"encoder": args.encoder, "zero_shot": True, "max_distance": args.max_distance,
                       "style": args.style}, h)
    return store_and_report(args, TEXT, TEXT.resolved(cfg, h), h)


def cmd_query(args) -> int:
    check_text(args.text, where="query text")  # bad text fails before anything loads
    if args.k < 1:
        raise InputError(f"--k must be at least 1, got {args.k}")
    if not Path(args.db).exists():
        raise InputError(f"no results store at {args.db}", hint="pass --db, or train a run first")
    with Store(args.db, read_only=True) as store:
        model = open_text_run(store, args.run_id)
    h = load_source(model.run["source"])
    top, info = query_text(model, h, args.text, k=args.k)
    if args.json:
        rows = [{"rank": int(r.rank), "doc": int(r.doc), "name": r.name, "label": r.label,
                 "score": float(r.score), "distance": None if pd.isna(r.distance) else int(r.distance),
                 "hit": bool(r.hit)} for r in top.itertuples()]
        print(json.dumps({"run_id": args.run_id, "encoder": model.encoder, **info, "results": rows}))
        return 0
    kind = TEXT.run_title(model.run["params"])
    print(f"run {args.run_id} ({model.encoder}, {kind}): {info['text']!r}")
    if info["match"] is not None:
        print(f"  names node {h.names[info['match']]}: {info['found']} of its {info['relevant']} relevant "
              "documents retrieved within the top |S(q)| (✓)")
    for r in top.itertuples():
        mark = " ✓" if r.hit else ("" if pd.isna(r.distance) else " ✗")
        print(f"  {r.rank:>4}  {r.score:7.4f}  {r.label}{'' if r.label == r.name else f'  ({r.name})'}{mark}")
    return 0
