"""Asymmetric text towers: frozen text features, a trainable query head and document head.

For node i with frozen, unit-normalised encoder features f_i (D,)::

    q_i = head_q(f_i) + R_q[i]        x_i = head_d(f_i) + R_d[i]        score = <q_i, x_i'>

with ``head`` linear (D -> d) or a small MLP (D -> hidden -> d, GELU), and optional per-node
residual tables R_q, R_d (n, d), initialised at zero. Vectors are unit-normalised when
``normalize`` (the cosine convention of the training loss, T scales cosines). A text that is no
node (free text, a held-out node) has no residual: its vectors come from the heads alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .files import json_default, open_model_file, write_model_file

HEADS = ("linear", "mlp")


def _head(kind: str, d_in: int, d_out: int, hidden: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(d_in, d_out)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))
    raise InputError(f"head must be one of {HEADS}, got {kind!r}")


class TextTower(nn.Module):
    """Query and document heads over frozen features ``features`` (n, D), optional residuals.

    Args:
        features: float32 array (n, D), frozen (a buffer, not a parameter).
        dim: int, output width d.
        head: str (optional, default "mlp"): "linear" or "mlp".
        hidden: int (optional, default 512): MLP hidden width.
        residual: bool (optional, default True): per-node residual tables R_q, R_d.
        normalize: bool (optional, default True): unit output vectors.
        seed: int (optional, default 0): seeds the head initialisation.
    """

    def __init__(self, features: np.ndarray, dim: int, *, head: str = "mlp", hidden: int = 512,
                 residual: bool = True, normalize: bool = True, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("features", torch.as_tensor(np.ascontiguousarray(features, dtype=np.float32)))
        n, d_in = self.features.shape
        self.dim, self.normalize, self.head_kind, self.hidden = int(dim), normalize, head, hidden
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
            self.head_q = _head(head, d_in, dim, hidden)
            self.head_d = _head(head, d_in, dim, hidden)
        self.res_q = nn.Parameter(torch.zeros(n, dim)) if residual else None
        self.res_d = nn.Parameter(torch.zeros(n, dim)) if residual else None

    @property
    def n(self) -> int:
        return self.features.shape[0]

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head_q.parameters()) + list(self.head_d.parameters())

    def residual_parameters(self) -> list[nn.Parameter]:
        return [p for p in (self.res_q, self.res_d) if p is not None]

    def _out(self, v: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(v, dim=-1) if self.normalize else v

    def query(self, ids: torch.Tensor | None = None, *, residual_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Query vectors of node ``ids`` (all when None): (B, d). ``residual_keep`` (B,) bool
        drops the residual of some rows (residual dropout: the head must stand alone)."""
        f = self.features if ids is None else self.features[ids]       # (B, D)
        v = self.head_q(f)                                              # (B, d)
        if self.res_q is not None:
            r = self.res_q if ids is None else self.res_q[ids]          # (B, d)
            v = v + (r if residual_keep is None else r * residual_keep[:, None])
        return self._out(v)

    def doc(self, ids: torch.Tensor | None = None) -> torch.Tensor:
        """Document vectors of node ``ids`` (all when None): (C, d)."""
        f = self.features if ids is None else self.features[ids]       # (C, D)
        v = self.head_d(f)                                              # (C, d)
        if self.res_d is not None:
            v = v + (self.res_d if ids is None else self.res_d[ids])
        return self._out(v)

    @torch.no_grad()
    def query_from_features(self, f: np.ndarray) -> np.ndarray:
        """Query vectors of texts that are no node (free text): features (B, D) -> (B, d)."""
        return self._out(self.head_q(torch.as_tensor(np.asarray(f, np.float32)))).numpy()

    @torch.no_grad()
    def query_vectors(self) -> np.ndarray:
        return self.query().numpy()

    @torch.no_grad()
    def doc_vectors(self) -> np.ndarray:
        return self.doc().numpy()

    def state_copy(self) -> dict:
        return {k: v.detach().clone() for k, v in self.state_dict().items() if k != "features"}

    def load_state(self, state: dict) -> None:
        self.load_state_dict(state, strict=False)

    @torch.no_grad()
    def expanded(self, features: np.ndarray, node_ids: np.ndarray) -> "TextTower":
        """This tower over new ``features`` (N, D), its residual rows placed at ``node_ids``
        (training row i is node ``node_ids[i]`` of the new set); other rows get no residual."""
        t = TextTower(features, self.dim, head=self.head_kind, hidden=self.hidden,
                      residual=self.res_q is not None, normalize=self.normalize)
        t.head_q.load_state_dict(self.head_q.state_dict())
        t.head_d.load_state_dict(self.head_d.state_dict())
        if self.res_q is not None:
            idx = torch.as_tensor(np.asarray(node_ids, np.int64))
            t.res_q[idx] = self.res_q
            t.res_d[idx] = self.res_d
        return t


# ----- persistence ------------------------------------------------------------
TOWER_FORMAT = "hrviz-text-tower/1"


def save_tower(tower: TextTower, path, *, meta: dict | None = None) -> Path:
    """Save the trained parts of ``tower`` (heads, residual tables; not the frozen features) as a
    model file (:func:`~.files.write_model_file`) whose header holds the architecture plus ``meta``
    (encoder, hierarchy hash, node text style...). Returns the path."""
    header = {"format": TOWER_FORMAT, "n": str(tower.n), "d_in": str(tower.features.shape[1]),
              "dim": str(tower.dim), "head": tower.head_kind, "hidden": str(tower.hidden),
              "residual": str(tower.res_q is not None), "normalize": str(bool(tower.normalize)),
              "meta": json.dumps(meta or {}, default=json_default)}
    write_model_file(path, tower.state_copy(), header)
    return Path(path)


def load_tower(path, features: np.ndarray | None = None) -> tuple[TextTower, dict]:
    """A tower saved by :func:`save_tower` and its ``meta``. ``features`` (n, D): the frozen
    features to put back (recompute them with :func:`hrviz.models.text.node_features`); without
    them the buffer is zeros, enough for free text (:meth:`TextTower.query_from_features`) and
    anything that passes features in. Raises InputError for a missing or foreign file."""
    path = Path(path)
    with open_model_file(path) as f:
        header = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    if header.get("format") != TOWER_FORMAT:
        raise InputError("not an hrviz text tower file", where=str(path))
    n, d_in = int(header["n"]), int(header["d_in"])
    if features is None:
        features = np.zeros((n, d_in), np.float32)
    elif features.shape != (n, d_in):
        raise InputError(f"features are {features.shape}, the tower was trained on ({n}, {d_in})", where=str(path))
    tower = TextTower(features, int(header["dim"]), head=header["head"], hidden=int(header["hidden"]),
                      residual=header["residual"] == "True", normalize=header["normalize"] == "True")
    tower.load_state_dict(state, strict=False)
    tower.eval()
    return tower, json.loads(header.get("meta") or "{}")
