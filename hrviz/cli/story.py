"""CLI command ``story``: the paper's story on any hierarchy, four runs with the defaults.

    python -m hrviz story SOURCE [--max-distance N] [--seed S] [--force] [--db PATH] [--json]

Trains the chapters of :mod:`hrviz.your_story` that the store lacks on SOURCE (standard in the
paper regime, pretrain-finetune, logQ, the exact regime), then prints one sentence per chapter
and the recall by distance of each run; ``--json``: one object with ``chapters`` (per chapter its
run, recall by distance, min, overall, seconds, verdict codes) and ``sentences``.
"""

from __future__ import annotations

import json
import sys

from .. import your_story
from ..sources import load_source
from ..store import Store
from .options import add_db


def register(sub) -> None:
    p = sub.add_parser("story", help="the paper's story on any hierarchy: lost, repaired, logQ, exact (four runs)")
    p.add_argument("source", help="tree:H=4,W=5 | dag:... | wordnet | wordnet:SYNSET | FILE")
    p.add_argument("--max-distance", type=int, default=your_story.DEFAULT_MAX_DISTANCE,
                   help="cap on ancestor distance [default: 8, the paper's]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="train every chapter again, even where the store has it")
    add_db(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_story)


def cmd_story(args) -> int:
    h = load_source(args.source)

    def progress(key: str, e: dict) -> None:
        if not args.json and e["kind"] == "stage":
            print(f"  {your_story.BY_KEY[key].short}: {e['stage']} (at most {e['steps']:,} steps)", file=sys.stderr)

    with Store(args.db) as store:
        your_story.tell(args.source, store, max_distance=args.max_distance, seed=args.seed, hierarchy=h,
                        progress=progress, force=args.force)
        found = your_story.runs(store, args.source, args.max_distance)
    table = your_story.summary_table(found)
    said = your_story.sentences(found)
    if args.json:
        print(json.dumps({"source": args.source, "max_distance": args.max_distance, "chapters": table,
                          "sentences": said}))
        return 0
    print(f"The story on {h.source} ({h.n:,} nodes, distances 0-{args.max_distance}):")
    for row in table:
        rec = " ".join(f"{100 * v:5.1f}" for v in row["recall_by_distance"].values())
        print(f"  {your_story.BY_KEY[row['chapter']].short:14s} run {row['run_id']:<4} d={row['dim']:<4} "
              f"min {row['min']:.3f}  overall {row['overall']:.3f}  {row['seconds']:.0f} s | {rec}")
    for key, text in said.items():
        print(f"- {text}")
    return 0
