"""Where the app keeps its files: the results store (``$HRVIZ_DB`` or the store's
``DEFAULT_DB``), uploaded hierarchies and uploaded models beside it."""

from __future__ import annotations

from pathlib import Path

from hrviz.store import default_db


def db_path() -> Path:
    """The results store: ``$HRVIZ_DB`` or ``results/hrviz.duckdb``."""
    return Path(default_db())


def db_key() -> str:
    """The store's resolved path: the key of every per-store cache of the process."""
    return str(db_path().resolve())


def uploads_dir() -> Path:
    """Where uploaded hierarchy files are kept: ``uploads/`` next to the store."""
    return db_path().parent / "uploads"
