"""The Poincaré model: one table of points of the open unit ball, scored by minus the distance.

:class:`PoincareModel` quacks like :class:`hrviz.model.DualEncoder` (lifted query and document
vectors, safetensors persistence, the hierarchy check); :func:`is_poincare_file` tells its files
apart. Why the lifted vectors rank exactly like the distance: :mod:`hrviz.encoders.poincare`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..model import check_trained_on, open_model_file, write_model_file
from .poincare_ball import _dist_grad, lift_docs, lift_queries, poincare_distance

FORMAT = "hrviz-poincare/1"
DTYPE = torch.float64  # the table: the boundary region needs the digits (gensim is float64 too)


class PoincareModel(torch.nn.Module):
    """One table ``x`` (n, dim) of points in the open unit ball; score = -distance.

    Quacks like :class:`hrviz.model.DualEncoder` where pages and the evaluator need it:
    ``n``, ``dim``, ``scores``, ``query_vectors``/``doc_vectors`` (lifted, dim + 2),
    ``state_copy``/``load_state``, ``save``/``load``, ``check_hierarchy``, ``meta``.

    Example::

        >>> m = PoincareModel(n=5, dim=2, seed=0)
        >>> m.scores(torch.tensor([0, 1])).shape
        torch.Size([2, 5])
        >>> m.query_vectors().shape
        (5, 4)
    """

    kind = "poincare"

    def __init__(self, n: int, dim: int, *, seed: int = 0, init_range: float = 1e-3, eps: float = 1e-5):
        super().__init__()
        if dim < 1:
            raise InputError(f"dimension must be >= 1, got {dim}")
        g = torch.Generator().manual_seed(seed)
        self.n, self.dim, self.eps = n, dim, eps
        x = (torch.rand(n, dim, generator=g, dtype=DTYPE) * 2 - 1) * init_range
        self.x = torch.nn.Parameter(x, requires_grad=False)
        self.meta: dict = {}

    @property
    def lifted_dim(self) -> int:
        return self.dim + 2

    def distance(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return poincare_distance(self.x[i], self.x[j])

    @torch.no_grad()
    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """Minus the distance of the given queries to every document: (len(queries), n)."""
        u = self.x[queries]  # (Q, d)
        return -_dist_grad(u[:, None, :], self.x[None, :, :], need_grad=False)[0]  # (Q, n)

    @torch.no_grad()
    def points(self) -> np.ndarray:
        """The points of the ball (n, dim), float64 (for d=2: the Poincaré disk, no projection)."""
        return self.x.detach().numpy().copy()

    @torch.no_grad()
    def query_vectors(self) -> np.ndarray:
        return lift_queries(self.points()).astype(np.float32)

    @torch.no_grad()
    def doc_vectors(self) -> np.ndarray:
        return lift_docs(self.points()).astype(np.float32)

    def state_copy(self) -> dict[str, torch.Tensor]:
        return {"x": self.x.detach().clone()}

    @torch.no_grad()
    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.x.copy_(state["x"])

    # ----- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path, *, hierarchy_hash: str, source: str, params: dict | None = None) -> Path:
        meta = {"format": FORMAT, "hierarchy_hash": hierarchy_hash, "source": source,
                "n": str(self.n), "dim": str(self.dim), "eps": repr(self.eps)}
        self.meta = write_model_file(path, {"x": self.x}, meta, params)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "PoincareModel":
        path = Path(path)
        with open_model_file(path) as f:
            meta = f.metadata() or {}
            x = f.get_tensor("x") if "x" in f.keys() else None
        if meta.get("format") != FORMAT or x is None or x.dim() != 2:
            raise InputError("not an hrviz Poincaré model", where=str(path),
                             hint="choose a .safetensors file saved by hrviz with --model poincare")
        m = cls(x.shape[0], x.shape[1], eps=float(meta.get("eps", 1e-5)))
        m.load_state({"x": x.to(DTYPE)})
        m.meta = {**meta, "params": json.loads(meta.get("params", "{}"))}
        return m

    def check_hierarchy(self, hierarchy_hash: str, where: str = "model") -> None:
        """Refuse to apply a model to a hierarchy other than the one it was trained on."""
        check_trained_on(self.meta, hierarchy_hash, where)


def is_poincare_file(path: str | Path) -> bool:
    """True when ``path`` is a safetensors file written by :meth:`PoincareModel.save`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("format") == FORMAT
    except Exception:
        return False
