"""The command line: ``python -m hrviz COMMAND ...`` (the contract: README.md, section "Command line").

Every command prints human-readable text, or with ``--json`` one JSON object as the
last line of stdout. Bad input exits with code 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import (geometry as cli_geometry, load as cli_load, runs as cli_runs, story as cli_story, sweep as cli_sweep,
               text_commands as cli_text, train as cli_train)
from ..errors import InputError
from ..write_errors import is_write_failure, write_failure
from ..sources import load_source


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="counts of a hierarchy: nodes, edges, roots, leaves, depth, closure pairs")
    p.add_argument("source", help="tree:H=4,W=5 | dag:n=500,depth=5 | wordnet | wordnet:SYNSET | FILE")
    p.add_argument("--max-distance", type=int, default=None, help="cap ancestor distance for closure_pairs")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_info)


def _cmd_info(args) -> int:
    h = load_source(args.source)
    info = h.info(args.max_distance)
    if args.json:  # a file's warnings (isolated nodes, several roots, merged names): hrviz.sources.checks
        print(json.dumps({**info, "warnings": [w.as_dict() for w in h.warnings]}))
    else:
        print(f"{h.source}")
        for k, v in info.items():
            print(f"  {k:14s} {v:,}")
        for w in h.warnings:
            print(f"warning: {w}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrviz", description="Hierarchical retrieval with dual encoders.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_info(sub)

    cli_train.register(sub)
    cli_runs.register(sub)
    cli_sweep.register(sub)
    cli_geometry.register(sub)
    cli_text.register(sub)
    cli_load.register(sub)
    cli_story.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        print(f"hrviz {args.command}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a full disk or a read-only folder is bad input too: one line, exit 2
        if not is_write_failure(e):
            raise
        print(f"hrviz {args.command}: {write_failure(e, None, 'a file')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hrviz {args.command}: interrupted", file=sys.stderr)
        return 130
