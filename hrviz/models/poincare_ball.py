"""The Poincaré ball's geometry: distance with its analytic gradient, projection, lifted features.

The maths (why the lifted features rank documents exactly as the distance does, the
gradient of Nickel & Kiela's eq. 4) is in the docstring of :mod:`hrviz.models.poincare`.
The model (:mod:`.poincare`) and the training loop (:mod:`.poincare_fit`) use these.
"""

from __future__ import annotations

import numpy as np
import torch


def dist_grad(u: torch.Tensor, v: torch.Tensor, need_grad: bool = True):
    """Poincaré distance of u and v (broadcast over leading dims) and its gradients.

    Returns ``(dist, du, dv)``: ``du = d dist / d u`` (Nickel & Kiela eq. 4), same for v,
    both broadcast to the common shape (None without ``need_grad``). ``arcosh(1 + z)`` is
    computed as ``log1p(z + sqrt(z (z + 2)))`` so that nearby points keep their digits.
    """
    uu = (u * u).sum(-1, keepdim=True)  # (..., 1)
    vv = (v * v).sum(-1, keepdim=True)  # (..., 1)
    diff = u - v  # (..., d)
    s = (diff * diff).sum(-1, keepdim=True)  # |u - v|^2, (..., 1)
    a = (1 - uu).clamp_min(1e-15)
    b = (1 - vv).clamp_min(1e-15)
    z = 2 * s / (a * b)  # gamma - 1
    root = torch.sqrt(z * (z + 2))  # sqrt(gamma^2 - 1)
    dist = torch.log1p(z + root).squeeze(-1)
    if not need_grad:
        return dist, None, None
    # d gamma / d u = 4 / (a b) (u - v + s u / a); divided by sqrt(gamma^2 - 1). Where u == v
    # the numerator is exactly 0: the clamp only avoids 0 / 0.
    c = 4 / (a * b * root.clamp_min(1e-15))  # (..., 1)
    du = c * (diff + (s / a) * u)
    dv = c * (-diff + (s / b) * v)
    return dist, du, dv


class _PoincareDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, v):
        dist, du, dv = dist_grad(u, v)
        ctx.save_for_backward(du, dv)
        ctx.shapes = (u.shape, v.shape)
        return dist

    @staticmethod
    def backward(ctx, g):
        du, dv = ctx.saved_tensors
        su, sv = ctx.shapes
        gu, gv = g.unsqueeze(-1) * du, g.unsqueeze(-1) * dv
        return _sum_to(gu, su), _sum_to(gv, sv)


def _sum_to(g: torch.Tensor, shape) -> torch.Tensor:
    """Undo broadcasting: sum ``g`` down to ``shape``."""
    while g.dim() > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


def poincare_distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Hyperbolic distance of points of the Poincaré ball, broadcast over leading dims.

    Differentiable (analytic gradient, :func:`dist_grad`). Example::

        >>> u = torch.tensor([[0.0, 0.0]]); v = torch.tensor([[0.5, 0.0]])
        >>> round(float(poincare_distance(u, v)), 4)   # 2 artanh(0.5)
        1.0986
    """
    return _PoincareDistance.apply(u, v)


def project(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Pull every row with norm >= 1 - eps back to norm 1 - eps (in place; returns x)."""
    norm = x.norm(dim=-1, keepdim=True)
    over = norm >= 1 - eps
    if bool(over.any()):
        x.copy_(torch.where(over, x / norm * (1 - eps), x))
    return x


def lift_queries(x: np.ndarray) -> np.ndarray:
    """Query features [-|u|^2, -1, 2u] (n, d + 2): see the module docstring."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(1, keepdims=True)
    return np.hstack([-sq, -np.ones_like(sq), 2 * x])


def lift_docs(x: np.ndarray) -> np.ndarray:
    """Document features [1, |v|^2, v] / (1 - |v|^2) (n, d + 2): see the module docstring."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(1, keepdims=True)
    return np.hstack([np.ones_like(sq), sq, x]) / (1 - sq)
