"""CLI commands of text encoders: ``encode`` (zero-shot), ``query`` (free text), and ``train
--encoder NAME`` (a text tower; the flags join ``train``'s own, see :func:`add_train_args`).

    python -m hrviz encode SOURCE --encoder wordllama [--max-distance 8] [--db X] [--json]
    python -m hrviz train SOURCE --dim 64 --encoder wordllama [--holdout-nodes 0.1] [--json]
    python -m hrviz query RUN_ID "golden retriever puppy" [--k 20] [--db X] [--json]

Encoder names: ``lookup`` (the lookup tables, ``train``'s default), ``wordllama``, ``model2vec``,
``hashing`` (tests), ``st:MODEL`` (a sentence-transformers model on disk). Nothing downloads.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..experiment import run_training
from ..free_text import open_text_run, query_text
from ..kinds.text import TextRunConfig, encoder_spec
from ..models.text import check_text
from ..models.text_fit import TowerConfig
from ..sources import load_source
from ..store import Store
from ..training import TrainConfig, apply_threads
from .options import add_db
from .output import peak_rss_mb, print_recall, result_json

ENCODER_HELP = ("text encoder: lookup (no text: lookup tables), wordllama, model2vec, hashing (tests), "
                "st:MODEL (a sentence-transformers model on disk)")


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


def add_train_args(p) -> None:
    """``train``'s text flags: ``--encoder`` and the tower's knobs."""
    base = TowerConfig()
    p.add_argument("--encoder", default="lookup", help=f"{ENCODER_HELP} [default: lookup]")
    g = p.add_argument_group("text tower (with --encoder other than lookup)")
    g.add_argument("--holdout-nodes", type=float, default=None,
                   help="hold out this share of the leaves entirely (text and pairs never trained); the "
                        "JSON's recall figures are then theirs, the seen nodes' go in 'seen'")
    g.add_argument("--head", choices=["linear", "mlp"], default=base.head, help=f"tower heads [default: {base.head}]")
    g.add_argument("--hidden", type=int, default=base.hidden, help=f"MLP hidden width [default: {base.hidden}]")
    g.add_argument("--residual", action=argparse.BooleanOptionalAction, default=base.residual,
                   help="per-node residual tables [default: on]")
    g.add_argument("--residual-dropout", type=float, default=base.residual_dropout,
                   help=f"share of steps a node's residual is left out [default: {base.residual_dropout}]")
    g.add_argument("--head-lr", type=float, default=base.head_lr,
                   help=f"Adam lr of the heads [default: {base.head_lr}]")
    g.add_argument("--style", choices=["label-description", "label"], default=base.style, help="node text")


def _summary_json(run: dict) -> dict:
    summary = run["summary"] or {}
    res = result_json(run, summary, run["seconds"])
    params = run["params"]
    res.update(model="text", encoder=params.get("encoder"))
    for key in ("seen", "holdout_nodes", "embed_seconds", "train_seconds", "tower"):
        if key in summary:
            res[key] = summary[key]
    if res.get("seen"):
        res["seen"] = {k: res["seen"][k] for k in ("recall_by_distance", "overall", "min", "mean_rank", "map")
                       if k in res["seen"]}
    return res


def _print(res: dict) -> None:
    print(f"{res['encoder']} · " + ("zero-shot" if res["recipe"] == "zero-shot" else "text tower"))
    print_recall(res)
    if res.get("seen"):
        s = res["seen"]
        print(f"  held-out leaves: {res['holdout_nodes']:,} (figures above); seen nodes: overall "
              f"{s['overall']:.3f}  min {s['min']:.3f}")


def cmd_encode(args) -> int:
    if encoder_spec(args.encoder) is None:
        raise InputError("encode needs a text encoder, not lookup tables",
                         hint="--encoder wordllama | model2vec | hashing | st:MODEL")
    cfg = TextRunConfig(encoder=args.encoder, max_distance=args.max_distance, tower=TowerConfig(style=args.style))
    h = load_source(args.source)
    with Store(args.db) as store:
        run_id = run_training(args.source, cfg, store, hierarchy=h, name=args.name)
        res = _summary_json(store.run(run_id))
    print(json.dumps(res)) if args.json else _print(res)
    return 0


def cmd_train_text(args) -> int:
    """``train SOURCE --encoder NAME ...``: a text tower, stored as a run."""
    if getattr(args, "model", "dual-encoder") != "dual-encoder":
        raise InputError("--encoder trains a text tower; it does not combine with --model poincare")
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)})
    if cfg.distributed:
        raise InputError("text towers train on one process", hint="drop --distributed")
    tower = TowerConfig(head=args.head, hidden=args.hidden, residual=args.residual,
                        residual_dropout=args.residual_dropout, head_lr=args.head_lr, style=args.style)
    h = load_source(args.source)
    apply_threads(cfg.resolved(h))

    def progress(e: dict) -> None:
        if not args.json and e["kind"] == "recall":
            print(f"  [{e['stage']} step {e['step']}] val overall {e['overall']:.3f} min {e['min']:.3f}",
                  file=sys.stderr)

    text = TextRunConfig(encoder=args.encoder, train=cfg, tower=tower, holdout_nodes=args.holdout_nodes)
    with Store(args.db) as store:
        run_id = run_training(args.source, text, store, hierarchy=h, name=args.name, progress=progress)
        res = _summary_json(store.run(run_id))
    res["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(res)) if args.json else _print(res)
    return 0


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
    kind = "zero-shot" if model.run["recipe"] == "zero-shot" else "text tower"
    print(f"run {args.run_id} ({model.encoder}, {kind}): {info['text']!r}")
    if info["match"] is not None:
        print(f"  names node {h.names[info['match']]}: {info['found']} of its {info['relevant']} relevant "
              "documents retrieved within the top |S(q)| (✓)")
    for r in top.itertuples():
        mark = " ✓" if r.hit else ("" if pd.isna(r.distance) else " ✗")
        print(f"  {r.rank:>4}  {r.score:7.4f}  {r.label}{'' if r.label == r.name else f'  ({r.name})'}{mark}")
    return 0
