"""Options several commands share: where the results store is."""

from __future__ import annotations

import argparse

from ..store import DEFAULT_DB, default_db


def add_db(p: argparse.ArgumentParser) -> None:
    """``--db PATH``: the results store; default ``$HRVIZ_DB``, else ``results/hrviz.duckdb``,
    the store the app opens, so a run started here shows in the app while it trains."""
    p.add_argument("--db", default=default_db(), help=f"results store [default: $HRVIZ_DB, else {DEFAULT_DB}]")
