"""Model files: safetensors tensors plus a JSON-able header, shared by every model kind.

A header holds ``format`` (which kind wrote it), ``hierarchy_hash`` and ``source`` (so a model is
never silently applied to another hierarchy: :func:`check_trained_on`) and the run's ``params`` as
JSON.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import safetensors.torch
from safetensors import safe_open

from ..errors import InputError
from ..write_errors import writing


def write_model_file(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, str],
                     params: dict | None = None) -> dict:
    """Save ``tensors`` with ``meta`` (strings) and ``params`` (as JSON) to a safetensors file,
    its folder made; returns the meta with ``params`` as a dict. Shared by every model kind's
    ``save``."""
    path = Path(path)
    meta = {**meta, "params": json.dumps(params or {}, default=json_default)}
    with writing(path, "the model file"):  # a full disk or a read-only folder: one line, exit 2
        path.parent.mkdir(parents=True, exist_ok=True)
        # called through the module: a test can stand a full disk in for it
        safetensors.torch.save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path),
                                    metadata=meta)
    return {**meta, "params": params or {}}


@contextmanager
def open_model_file(path: str | Path) -> Iterator:
    """safetensors' ``safe_open`` on a model file; a missing or unreadable file (or a read inside
    the block that fails) is an :class:`InputError`. Shared by every model kind's ``load``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            yield f
    except FileNotFoundError:
        raise InputError("model file not found", where=str(path)) from None
    except Exception as e:  # safetensors raises its own error types for junk
        raise InputError(f"not a readable hrviz model file ({e})", where=str(path),
                         hint="choose a .safetensors file saved by hrviz") from None


def model_file_params(path: str | Path) -> dict:
    """The run params a model file's header records (``{}`` when it records none): what tells
    an uploaded file's kind (``params["model"]``). InputError for a file that is no safetensors
    file."""
    with open_model_file(path) as f:
        meta = f.metadata() or {}
    try:
        params = json.loads(meta.get("params") or "{}")
    except ValueError:
        params = None
    return params if isinstance(params, dict) else {}


def check_trained_on(meta: dict, hierarchy_hash: str, where: str = "model") -> None:
    """Refuse a model (its file's ``meta``) on a hierarchy other than the one it was trained on."""
    mine = meta.get("hierarchy_hash")
    if mine and mine != hierarchy_hash:
        raise InputError(
            f"this model was trained on another hierarchy ({meta.get('source')}, hash {mine}) "
            f"than the one loaded (hash {hierarchy_hash})",
            where=where,
            hint="load the hierarchy the model was trained on, or train a new model",
        )


def json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
