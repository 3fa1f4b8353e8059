"""CLI command ``train``: a run of any model kind that trains (:data:`hrviz.kinds.KINDS`), stored.

    python -m hrviz train SOURCE [--model KIND] [--dim D] [--recipe R] [--seed S] [--max-distance N]
                         [hyper-parameters] [the kind's own flags] [--name NAME] [--db PATH] [--json]

Every hyper-parameter of :class:`hrviz.training.TrainConfig` is a flag (``--batch-size``,
``--finetune-lr-ratio``, ...) with the same default, and every kind adds its own settings
(:class:`hrviz.kinds.base.Setting`) as flags grouped under its title; ``python -m hrviz train -h``
lists them. ``--model`` picks the kind (default: :data:`hrviz.kinds.DEFAULT`, the dual encoder); a
kind's picking flag does too (``--encoder NAME``: a text tower). A flag of another kind than the
one trained is refused, naming its kind.

The driver is the same for every kind, and for ``encode`` and ``load`` (:func:`store_and_report`):
the config from the flags (:meth:`~hrviz.kinds.base.ModelKind.config`), one run through
:func:`hrviz.experiment.run_training`, then the ``--json`` object (:func:`run_json`: the figures,
``model`` and the kind's own fields) or a few lines of text.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from dataclasses import MISSING, fields

from ..errors import InputError
from ..experiment import run_training
from ..hierarchy import Hierarchy
from ..kinds import DEFAULT, KINDS, ModelKind, Setting, trainable
from ..kinds.base import given
from ..pairs import query_nodes
from ..rule import dim_warning, measure
from ..sources import load_source
from ..store import Store
from ..training import RECIPES, TrainConfig, apply_threads
from .options import add_db
from .output import peak_rss_mb, print_recall, result_json

#: TrainConfig fields with a flag of their own above the hyper-parameters (every kind's)
_SKIP = {"dim", "recipe", "seed", "max_distance"}


def _config_args(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with the field's own help text and choices."""
    hints = typing.get_type_hints(TrainConfig)
    g = p.add_argument_group("hyper-parameters")
    for f in fields(TrainConfig):
        if f.name in _SKIP:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        kind = hints[f.name]
        text = TrainConfig.help(f.name)
        if kind is bool or bool in typing.get_args(kind):  # bool | None: None means the regime's
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
            continue
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        choices = TrainConfig.choices(f.name)
        shown = "" if default is None else f" [default: {default}]"
        const = TrainConfig.const(f.name)
        if const is not None:  # the bare flag means `const`: --logq is --logq 1
            g.add_argument(flag, type=base, default=default, nargs="?", const=const, help=f"{text}{shown}")
            continue
        g.add_argument(flag, type=base, default=default, choices=choices, help=f"{text}{shown}")


def add_setting(g, s: Setting) -> None:
    """A kind's setting as a flag: ``--NAME`` (``--NAME/--no-NAME`` for a bool), its choices'
    values unless ``open``, the default shown."""
    text = s.help + ("" if s.default is None else f" [default: {s.default}]")
    if s.type is bool:
        g.add_argument(s.flag, action=argparse.BooleanOptionalAction, default=s.default, help=text)
        return
    choices = list(s.choices.values()) if s.choices and not s.open else None
    g.add_argument(s.flag, type=s.type, default=s.default, choices=choices, help=text)


def register(sub) -> None:
    kinds = trainable()
    p = sub.add_parser("train", help="train a model of any kind and store the run: "
                                     + ", ".join(k.title for k in kinds))
    p.add_argument("source", help="tree:H=4,W=5 | dag:... | wordnet | wordnet:SYNSET | FILE")
    p.add_argument("--model", choices=[k.name for k in kinds], default=None,
                   help="model kind [default: " + DEFAULT.name + "]: "
                        + "; ".join(f"{k.name}: {k.summary}" for k in kinds))
    p.add_argument("--dim", type=int, default=None,
                   help="embedding dimension d [default: the hierarchy's, hrviz.rule (64 on "
                        "WordNet) for lookup tables and text towers; 10 for --model poincare]")
    p.add_argument("--recipe", choices=list(RECIPES), default="pretrain-finetune",
                   help=TrainConfig.help("recipe"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-distance", type=int, default=None, help="cap on ancestor distance")
    p.add_argument("--name", default=None, help="a free-text name for the run")
    add_db(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    _config_args(p)
    flags = {"source", "model", "name", "db", "json"} | {f.name for f in fields(TrainConfig)}  # taken above
    for kind in kinds:
        own = [s for s in kind.settings if s.cli and s.name not in flags]
        if own:
            g = p.add_argument_group(f"{kind.title} (--model {kind.name})")
            for s in own:
                add_setting(g, s)
                flags.add(s.name)
    p.set_defaults(func=cmd_train)


def chosen_kind(args) -> ModelKind:
    """The kind ``train``'s flags ask for: ``--model``, else the kind a picking flag names, else
    the default; InputError for a flag of another kind."""
    values = vars(args)
    kinds = trainable()
    picked = [k for k in kinds if any(s.cli and s.picks and given(values, s) for s in k.settings)]
    if args.model is None and len(picked) > 1:
        raise InputError("these flags ask for several model kinds: " + ", ".join(k.name for k in picked),
                         hint="pick one with --model")
    kind = KINDS[args.model] if args.model else (picked[0] if picked else DEFAULT)
    own = {s.name for s in kind.settings}
    for other in kinds:
        extra = [s for s in other.settings if other is not kind and s.cli and s.name not in own and given(values, s)]
        if extra:
            pick = next((s for s in other.settings if s.cli and s.picks), None)
            raise InputError(f"{', '.join(s.flag for s in extra)}: {'a setting' if len(extra) == 1 else 'settings'} "
                             f"of the {other.title} (--model {other.name}), not of the {kind.title}",
                             hint=f"add {pick.flag} NAME" if pick and args.model is None else f"use --model {other.name}")
    return kind


def train_config(args) -> TrainConfig:
    """The TrainConfig of ``train``'s flags (what the kinds that use training take); a flag left
    unset (None) keeps the config's own default (``--dim``: the kinds' defaults differ)."""
    given_ = {f.name: getattr(args, f.name, None) for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in given_.items() if v is not None})


def progress_printer(args):
    """Training events on stderr: a bar on a terminal, else the validation recall and a loss
    line every tenth of the run; nothing with ``--json``."""
    if args.json:
        return None, None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=100, unit="%", file=sys.stderr)

        def on_bar(e: dict) -> None:
            if e["kind"] == "loss":
                bar.n = round(100 * e["progress"])
                bar.set_postfix(stage=e["stage"], loss=f"{e['loss']:.3f}")
                bar.refresh()
        return on_bar, bar
    tenth = [-1]

    def on_line(e: dict) -> None:
        if e["kind"] == "recall":
            print(f"  [{e['stage']} step {e['step']}] val overall {e['overall']:.3f} min {e['min']:.3f}",
                  file=sys.stderr)
        elif e["kind"] == "loss" and int(10 * e["progress"]) > tenth[0]:
            tenth[0] = int(10 * e["progress"])
            print(f"  [{e['stage']} step {e['step']}] loss {e['loss']:.3f}", file=sys.stderr)
    return on_line, None


def cmd_train(args) -> int:
    kind = chosen_kind(args)
    h = load_source(args.source)
    train = None
    if kind.uses_training:
        train = train_config(args)
        resolved = train.resolved(h)
        apply_threads(resolved)
        small = dim_warning(measure(h, resolved.max_distance, query_nodes(h, resolved.queries)), resolved.dim)
        if small and not args.json:  # said before training (with --json: in the verdict)
            print(f"warning: {small}", file=sys.stderr)
    cfg = kind.resolved(kind.config(vars(args), h, train), h)
    if getattr(cfg, "distributed", False):  # data-parallel: rank 0 stores the run, the others train in lockstep
        from ..training import distributed

        rank, _ = distributed.init(cfg.device)
        if rank != 0:
            kind.fit(h, cfg, callback=lambda e: None, stop=None)
            distributed.finish()
            return 0
        code = store_and_report(args, kind, cfg, h, extra={"world_size": distributed.dist.get_world_size()})
        distributed.finish()
        return code
    return store_and_report(args, kind, cfg, h)


def run_json(run: dict, kind: ModelKind) -> dict:
    """The ``--json`` object of a stored run: :func:`result_json`'s figures, ``model`` (the
    kind's name), the kind's own fields (:meth:`~hrviz.kinds.base.ModelKind.result`), and the
    run's verdict (and training stages where it has them)."""
    summary = run["summary"] or {}
    res = {**result_json(run, summary, run["seconds"]), "model": kind.name, **kind.result(run)}
    res["verdict"] = summary.get("verdict", [])
    if "stages" in summary:
        res["stages"] = summary["stages"]
    return res


def store_and_report(args, kind: ModelKind, cfg, h: Hierarchy, *, extra: dict | None = None) -> int:
    """Run ``cfg`` (a config of ``kind``, checked) on ``h`` through the run pipeline into
    ``args.db``, then print the run: the ``--json`` object, or the kind's plan and the figures."""
    progress, bar = progress_printer(args) if kind.trainable else (None, None)
    with Store(args.db) as store:
        run_id = run_training(args.source, cfg, store, hierarchy=h, name=args.name, progress=progress)
        if bar is not None:
            bar.close()
        run = store.run(run_id)
    res = {**run_json(run, kind), "peak_rss_mb": peak_rss_mb(), **(extra or {})}
    if args.json:
        print(json.dumps(res))
        return 0
    plan = kind.plan(cfg, h)
    if plan:
        print(plan)
    print_recall(res)
    if res.get("seen"):  # held-out nodes: the figures above are theirs, the seen nodes' beside
        s = res["seen"]
        print(f"  held-out leaves: {res['holdout_nodes']:,} (figures above); seen nodes: overall "
              f"{s['overall']:.3f}  min {s['min']:.3f}")
    return 0
