"""``python -m hrviz train SOURCE --model poincare --dim D [--epochs E] [--json]``: a Poincaré run.

Shares the dual encoder's flags where they mean the same: ``--seed``, ``--max-distance``,
``--lr``, ``--batch-size``, ``--finetune-lr-ratio``, ``--threads``; ``--recipe`` is not used
(``--finetune-epochs E`` > 0 adds the finetune stage, recorded as pretrain-finetune).
"""

from __future__ import annotations

import json
import sys

from ..experiment import run_training
from ..models.poincare_fit import PoincareConfig
from ..sources import load_source
from ..store import Store
from .output import peak_rss_mb, print_recall, result_json

#: train's flags -> PoincareConfig fields (given ones only; the rest keep Nickel & Kiela's defaults)
FLAGS = (("epochs", "epochs"), ("burn_in", "burn_in"), ("finetune_epochs", "finetune_epochs"),
         ("lr", "lr"), ("batch_size", "batch"), ("finetune_lr_ratio", "finetune_lr_ratio"))


def cmd_train_poincare(args) -> int:
    kw = {"dim": args.dim, "seed": args.seed, "max_distance": args.max_distance, "threads": args.threads or 1}
    for flag, key in FLAGS:
        if getattr(args, flag, None) is not None:
            kw[key] = getattr(args, flag)
    cfg = PoincareConfig(**kw)
    h = load_source(args.source)

    def progress(e: dict) -> None:
        if not args.json and e["kind"] == "loss" and e["epoch"] % 10 == 0:
            print(f"  [{e['stage']} epoch {e['epoch']}] loss {e['loss']:.3f}", file=sys.stderr)

    with Store(args.db) as store:
        run_id = run_training(args.source, cfg, store, hierarchy=h, name=args.name, progress=progress)
        run = store.run(run_id)
    res = result_json(run, run["summary"], run["seconds"])
    res["model"] = "poincare"
    res["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(res)) if args.json else print_recall(res)
    return 0
