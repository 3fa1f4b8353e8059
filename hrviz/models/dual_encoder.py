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
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from .files import check_trained_on, open_model_file, write_model_file


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

    @classmethod
    def from_vectors(cls, q: np.ndarray, d: np.ndarray, *, normalize: bool = True) -> "DualEncoder":
        """A dual encoder whose tables are copies of given vectors ``q`` and ``d`` (n, dim): what
        a text run or a set of loaded vectors saves, so every page reads it as a table run."""
        q, d = np.asarray(q, np.float32), np.asarray(d, np.float32)
        if q.ndim != 2 or q.shape != d.shape:
            raise InputError(f"query and document vectors must be two (n, dim) arrays of one shape, "
                             f"got {q.shape} and {d.shape}")
        m = cls(q.shape[0], q.shape[1], normalize=normalize)
        m.load_state({"q": torch.from_numpy(q.copy()), "d": torch.from_numpy(d.copy())})
        return m

    def check_hierarchy(self, hierarchy_hash: str, where: str = "model") -> None:
        """Refuse to apply a model to a hierarchy other than the one it was trained on."""
        check_trained_on(self.meta, hierarchy_hash, where)
