"""Files a user uploads: hierarchy files (kept by hash beside the store, so a run can reload
them) and saved model files of any model kind (registered as finished runs and evaluated)."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from hrviz.errors import InputError
from hrviz.experiment import models_dir, record_model
from hrviz.hierarchy import Hierarchy
from hrviz.kinds import read_model_file
from hrviz.sources import parse_upload

from .paths import uploads_dir
from .resources import get_store

_UPLOAD_EXT = re.compile(r"^[a-z0-9]{1,8}$")


def upload_ext(filename: str) -> str:
    """``taxonomy.CSV`` -> ``csv``; ``x.tsv.gz`` -> ``tsv.gz``; unusable -> ``txt``."""
    suffixes = [s.lstrip(".").lower() for s in Path(filename).suffixes]
    if suffixes and suffixes[-1] == "gz" and len(suffixes) > 1 and _UPLOAD_EXT.match(suffixes[-2]):
        return f"{suffixes[-2]}.gz"
    if suffixes and _UPLOAD_EXT.match(suffixes[-1]):
        return suffixes[-1]
    return "txt"


def save_upload(data: bytes, filename: str, folder: Path | None = None) -> tuple[Hierarchy, Path]:
    """Parse an uploaded file and keep it as ``folder/<hierarchy hash>.<ext>``.

    The saved path is a SOURCE string that later pages, runs and the CLI can reload. Raises
    :class:`InputError` (with what was wrong and where) for a file that is not a hierarchy;
    nothing is written then.
    """
    h = parse_upload(data, filename)
    folder = Path(folder) if folder is not None else uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{h.hash}.{upload_ext(filename)}"
    if path.suffix == ".gz" and data[:2] != b"\x1f\x8b":  # named .gz but sent plain
        data = gzip.compress(data, mtime=0)
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return h, path


def _check_model(data: bytes, filename: str, h: Hierarchy, folder: Path):
    """Keep an uploaded model file under ``folder`` when it is an hrviz model of ``h``, of any
    kind (its header names the kind: :func:`hrviz.kinds.read_model_file`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"uploaded-{hashlib.sha256(data).hexdigest()[:16]}.safetensors"
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    try:
        _, model = read_model_file(tmp)
        model.check_hierarchy(h.hash, where=filename)
        if model.n != h.n:
            raise InputError(f"the model has {model.n:,} nodes, the hierarchy {h.n:,}", where=filename)
    except InputError as err:
        tmp.unlink(missing_ok=True)
        if err.where == str(tmp):  # name the file as the user knows it
            err = InputError(err.message, where=filename, hint=err.hint)
        raise err from None
    tmp.replace(path)
    return model, path


def import_model(data: bytes, filename: str, h: Hierarchy, source: str) -> int:
    """Register an uploaded model file as a finished run on hierarchy ``h`` and evaluate it, as
    the end of a trained run does (:func:`hrviz.experiment.record_model`).

    The file is kept under ``models/`` next to the store. A file that is not an hrviz model, or
    one trained on another hierarchy (its hierarchy hash differs from ``h.hash``), raises
    :class:`InputError` saying so, and nothing is kept.
    """
    store = get_store()
    model, _ = _check_model(data, filename, h, models_dir(store))
    params = {**(model.meta.get("params") or {}), "uploaded_from": filename}
    return record_model(source, model, store, h, params=params, name=f"uploaded {filename}")
