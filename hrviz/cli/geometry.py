"""CLI command ``geometry``: the construction of Theorem 3.1 and the smallest working d.

    python -m hrviz geometry SOURCE --dim D [--seed S] [--max-distance N] [--json]
    python -m hrviz geometry SOURCE --min-dim [--trials T] [--seed S] [--criterion global|query]
                                    [--learned [--recipe R]] [--max-dim D] [--json]

With ``--dim``: margin (global, one threshold), separated (margin > 0), query_separated
(fraction of queries separated by their own threshold) and recall (recall@auto pooled over
all relevant pairs). With ``--min-dim``: the smallest d at which the construction separates
in >= 90% of T seeded trials (doubling then bisection), or with ``--learned`` the smallest d
at which a trained dual encoder reaches recall@auto = 1.0.
"""

from __future__ import annotations

import json
import math
import time

from .. import geometry
from ..errors import InputError
from ..sources import load_source


def register(sub) -> None:
    p = sub.add_parser("geometry", help="Theorem 3.1's construction: margin, recall, smallest working d")
    p.add_argument("source", help="tree:H=4,W=5 | dag:n=500,depth=5 | wordnet | wordnet:SYNSET | FILE")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dim", type=int, help="evaluate the construction in this dimension")
    mode.add_argument("--min-dim", action="store_true", help="search the smallest working dimension")
    p.add_argument("--seed", type=int, default=0, help="random seed (trials use seed..seed+T-1)")
    p.add_argument("--max-distance", type=int, default=None,
                   help="relevant set = self + ancestors within this distance (default: all)")
    p.add_argument("--trials", type=int, default=None,
                   help="--min-dim: trials per dimension (default 10; 1 with --learned)")
    p.add_argument("--criterion", choices=["global", "query"], default="global",
                   help="--min-dim: global = one threshold for all pairs (the theorem); "
                        "query = every query separated (recall@auto = 1)")
    p.add_argument("--max-dim", type=int, default=None,
                   help="--min-dim: give up above this d (default 8192; 256 with --learned)")
    p.add_argument("--learned", action="store_true",
                   help="--min-dim: train dual encoders instead (smallest d with recall@auto = 1.0)")
    p.add_argument("--recipe", default="pretrain-finetune", help="--learned: training recipe")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=_cmd_geometry)


def _cmd_geometry(args) -> int:
    if args.dim is not None and args.dim < 1:
        raise InputError(f"--dim must be >= 1, got {args.dim}", hint="e.g. --dim 64")
    if args.trials is not None and args.trials < 1:
        raise InputError(f"--trials must be >= 1, got {args.trials}", hint="e.g. --trials 10")
    if args.max_dim is not None and args.max_dim < 1:
        raise InputError(f"--max-dim must be >= 1, got {args.max_dim}")
    if args.max_distance is not None and args.max_distance < 0:
        raise InputError(f"--max-distance must be >= 0, got {args.max_distance}")
    if args.dim is not None and (args.learned or args.trials is not None or args.max_dim is not None):
        raise InputError("--learned, --trials and --max-dim go with --min-dim, not --dim")
    t0 = time.perf_counter()
    h = load_source(args.source)
    head = {"source": h.source or args.source, "nodes": h.n, "seed": args.seed, "max_distance": args.max_distance}

    if args.dim is not None:
        rep = geometry.evaluate_construction(h, args.dim, seed=args.seed, max_distance=args.max_distance)
        out = {**head, "dim": args.dim, **rep.summary(), "seconds": round(time.perf_counter() - t0, 3)}
        if args.json:
            print(json.dumps(out))
            return 0
        print(f"{out['source']}: construction of Theorem 3.1, d={args.dim}, seed={args.seed}")
        if rep.sampled_queries:
            print(f"  (sampled: {rep.sampled_queries:,} of {h.n:,} queries, against all documents)")
        m = "inf (no irrelevant pairs)" if not math.isfinite(rep.margin) else f"{rep.margin:+.4f}"
        print(f"  margin          {m}   (min relevant {rep.min_relevant:.4f} - max irrelevant {rep.max_irrelevant:.4f})")
        print(f"  separated       {'yes' if rep.separated else 'no'} (one threshold for all pairs)")
        print(f"  query_separated {rep.query_separated:.2%} of {rep.queries:,} queries")
        print(f"  recall          {rep.recall:.2%} (recall@auto over {rep.pairs:,} relevant pairs)")
        return 0

    if args.learned:
        trials = args.trials or 1
        res = geometry.learned_min_dim(h, recipe=args.recipe, seed=args.seed, trials=trials,
                                       max_distance=args.max_distance, max_dim=args.max_dim or 256)
    else:
        trials = args.trials or 10
        res = geometry.min_dim(h, trials=trials, seed=args.seed, max_distance=args.max_distance,
                               criterion=args.criterion, max_dim=args.max_dim or 8192)
    out = {**head, "learned": bool(args.learned), **res.summary(), "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        print(json.dumps(out))
        return 0
    what = f"trained {args.recipe} dual encoder" if args.learned else "construction of Theorem 3.1"
    print(f"{out['source']}: smallest working d for the {what}")
    print(f"  min_dim   {res.min_dim}")
    print(f"  criterion {res.criterion}, {trials} trial(s) from seed {args.seed}")
    tried = ", ".join(f"{d}{'+' if ok else '-'}" for d, ok in sorted(res.tested.items()))
    print(f"  tried     {tried}  (+ passed, - failed)")
    return 0
