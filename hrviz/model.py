"""The dual encoder: two lookup tables (query and document vectors), dot-product score.

Every node has a free query vector and a separate, free document vector (the paper's
setting: asymmetric, no text encoder). With ``normalize=True`` (the default) both are
unit vectors and the score is a cosine; the temperature then acts as a scale on it
(see :mod:`hrviz.training.loop` for why).

Save/load uses safetensors: the two tables plus a JSON header with the hierarchy's
hash, source and the run's parameters, so a model is never silently applied to
another hierarchy (:meth:`DualEncoder.check_hierarchy`).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .errors import InputError


class DualEncoder(torch.nn.Module):
    """Query table ``q`` and document table ``d``, each (n, dim).

    Example::

        >>> m = DualEncoder(n=10, dim=4, seed=0)
        >>> m.scores(torch.tensor([0, 1])).shape
        torch.Size([2, 10])
    """

    def __init__(self, n: int, dim: int, *, normalize: bool = True, seed: int = 0, init_scale: float = 1.0):
        super().__init__()
        if dim < 1:
            raise InputError(f"dimension must be >= 1, got {dim}")
        g = torch.Generator().manual_seed(seed)
        self.n, self.dim, self.normalize = n, dim, normalize
        scale = init_scale / np.sqrt(dim)
        self.q = torch.nn.Parameter(torch.randn(n, dim, generator=g) * scale)
        self.d = torch.nn.Parameter(torch.randn(n, dim, generator=g) * scale)
        self.meta: dict = {}

    def query(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        v = self.q if idx is None else self.q[idx]
        return torch.nn.functional.normalize(v, dim=-1) if self.normalize else v

    def doc(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        v = self.d if idx is None else self.d[idx]
        return torch.nn.functional.normalize(v, dim=-1) if self.normalize else v

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """Scores of the given queries against every document: (len(queries), n)."""
        return self.query(queries) @ self.doc().T

    @torch.no_grad()
    def query_vectors(self) -> np.ndarray:
        return self.query().detach().float().numpy().copy()

    @torch.no_grad()
    def doc_vectors(self) -> np.ndarray:
        return self.doc().detach().float().numpy().copy()

    def state_copy(self) -> dict[str, torch.Tensor]:
        return {"q": self.q.detach().clone(), "d": self.d.detach().clone()}

    @torch.no_grad()
    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.q.copy_(state["q"])
        self.d.copy_(state["d"])

    # ----- persistence ---------------------------------------------------
    def save(self, path: str | Path, *, hierarchy_hash: str, source: str, params: dict | None = None) -> Path:
        meta = {"format": "hrviz-dual-encoder/1", "hierarchy_hash": hierarchy_hash, "source": source,
                "n": str(self.n), "dim": str(self.dim), "normalize": str(self.normalize)}
        self.meta = write_model_file(path, {"q": self.q, "d": self.d}, meta, params)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "DualEncoder":
        path = Path(path)
        with open_model_file(path) as f:
            meta = f.metadata() or {}
            q, d = f.get_tensor("q"), f.get_tensor("d")
        if meta.get("format") != "hrviz-dual-encoder/1" or q.shape != d.shape:
            raise InputError("not an hrviz dual-encoder model", where=str(path),
                             hint="choose a .safetensors file saved by hrviz")
        m = cls(q.shape[0], q.shape[1], normalize=meta.get("normalize") == "True")
        m.load_state({"q": q, "d": d})
        m.meta = {**meta, "params": json.loads(meta.get("params", "{}"))}
        return m

    def check_hierarchy(self, hierarchy_hash: str, where: str = "model") -> None:
        """Refuse to apply a model to a hierarchy other than the one it was trained on."""
        check_trained_on(self.meta, hierarchy_hash, where)


def write_model_file(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, str],
                     params: dict | None = None) -> dict:
    """Save ``tensors`` with ``meta`` (strings) and ``params`` (as JSON) to a safetensors file,
    its folder made; returns the meta with ``params`` as a dict. Shared by every model kind's
    ``save``."""
    from safetensors.torch import save_file

    from .write_errors import writing

    path = Path(path)
    meta = {**meta, "params": json.dumps(params or {}, default=_json_default)}
    with writing(path, "the model file"):  # a full disk or a read-only folder: one line, exit 2
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
    return {**meta, "params": params or {}}


@contextmanager
def open_model_file(path: str | Path) -> Iterator:
    """safetensors' ``safe_open`` on a model file; a missing or unreadable file (or a read inside
    the block that fails) is an :class:`InputError`. Shared by every model kind's ``load``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            yield f
    except FileNotFoundError:
        raise InputError("model file not found", where=str(path)) from None
    except Exception as e:  # safetensors raises its own error types for junk
        raise InputError(f"not a readable hrviz model file ({e})", where=str(path),
                         hint="choose a .safetensors file saved by hrviz") from None


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


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
