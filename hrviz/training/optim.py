"""Optimisers for the two embedding tables, by name (``TrainConfig.optimizer``), and one training
step (:func:`table_step`), on any torch device.

A step gathers the rows it needs (the batch's queries, the candidate documents) as leaf
tensors, computes the loss and its gradient for those rows only, and hands
(rows, gradient) to the optimiser. On the CPU the rows are gathered once each (``unique``:
a query drawn twice is one row, scattered to its two places in the batch); on a GPU they may
repeat (finding the unique rows would make the step wait for the host), and so may the ranks'
rows of a data-parallel step: the optimisers then sum the gradients of a row's copies, so the
update is the one of the summed gradient, as if the rows were unique. ``rows=None`` means
every row (full negatives: the whole document table).

- ``lazy-adam`` (:class:`RowOptimizer`): Adam on the touched rows only, moments of other
  rows wait (TensorFlow's LazyAdam; bias correction by the global step). No (n, d) work
  beyond a scratch buffer that sums repeated rows.
- ``sgd``: plain SGD on the touched rows (identical to dense SGD: untouched rows get 0).
- ``adagrad``: torch's ``Adagrad`` (a zero gradient leaves a row and its state unchanged, so
  dense Adagrad is row-only Adagrad).
- ``adam`` (dense): torch's ``Adam`` on a dense (n, d) gradient that is zero outside the
  touched rows, so every row keeps moving on its momentum: what ``torch.optim.Adam`` does
  on an ``nn.Embedding`` in the usual training script. Costs O(n d) per step.

:func:`frozen` wraps any of them so that one table stays fixed (a finetune's ``freeze``).
"""

from __future__ import annotations

import math

import torch

from ..errors import InputError
from ..models.dual_encoder import DualEncoder
from .loss import SoftmaxLoss


class RowOptimizer:
    """Lazy Adam or SGD: updates only the table rows a step used (rows may repeat)."""

    def __init__(self, model: DualEncoder, lr: float, kind: str = "lazy-adam", betas=(0.9, 0.999),
                 eps: float = 1e-8):
        self.model, self.lr, self.kind, self.betas, self.eps = model, lr, kind, betas, eps
        self.t = 0
        self._sum: dict[str, torch.Tensor] = {}  # (n, d) zeros between steps: sums repeated rows
        if kind == "lazy-adam":
            self.state = {name: (torch.zeros_like(p), torch.zeros_like(p)) for name, p in (("q", model.q), ("d", model.d))}

    def begin(self) -> None:
        self.t += 1

    @torch.no_grad()
    def update(self, name: str, rows: torch.Tensor | None, grad: torch.Tensor, unique: bool = False) -> None:
        """Apply the gradient ``grad`` (R, d) of table ``name`` ("q" or "d") at ``rows`` (R,)
        (None: every row, R = n); ``unique``: no row repeats (nothing to sum)."""
        param = getattr(self.model, name).data
        if self.kind == "sgd":
            if rows is None:
                param.add_(grad, alpha=-self.lr)
            else:
                param.index_add_(0, rows, grad, alpha=-self.lr)
            return
        if rows is not None and not unique:  # each copy of a row gets the sum of its copies' gradients
            buf = self._sum.get(name)
            if buf is None:
                buf = self._sum[name] = torch.zeros_like(param)
            grad = buf.index_add_(0, rows, grad).index_select(0, rows)               # (R, d)
            buf.index_fill_(0, rows, 0)
        b1, b2 = self.betas
        bc1, bc2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        m_all, v_all = self.state[name]
        m = m_all if rows is None else m_all.index_select(0, rows)                 # (R, d), or in place
        v = v_all if rows is None else v_all.index_select(0, rows)
        m.lerp_(grad, 1 - b1)
        v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        # lr (m / bc1) / (sqrt(v / bc2) + eps), with the corrections folded into scalars
        # (as torch.optim.Adam does): fewer passes over the rows
        step = m / v.sqrt().add_(self.eps * math.sqrt(bc2))
        alpha = -self.lr * math.sqrt(bc2) / bc1
        if rows is None:
            param.add_(step, alpha=alpha)
            return
        # (index_select / index_copy_: row copies several times faster than t[rows] on the CPU)
        m_all.index_copy_(0, rows, m)  # the copies of a row write identical values
        v_all.index_copy_(0, rows, v)
        if unique:
            param.index_add_(0, rows, step, alpha=alpha)
        else:
            param.index_copy_(0, rows, param.index_select(0, rows).add_(step, alpha=alpha))


class TorchTableOptimizer:
    """A ``torch.optim`` optimiser over the two tables, fed (rows, gradient) pairs.

    ``kind="adam"``: dense Adam (the gradient is summed into an (n, d) zero tensor);
    ``kind="adagrad"``: Adagrad, fed the same dense gradient.
    """

    def __init__(self, model: DualEncoder, lr: float, kind: str = "adam"):
        self.model, self.lr, self.kind = model, lr, kind
        params = [model.q, model.d]
        self.opt = (torch.optim.Adam(params, lr=lr) if kind == "adam"
                    else torch.optim.Adagrad(params, lr=lr))
        self._pending: dict[str, tuple[torch.Tensor | None, torch.Tensor]] = {}

    def begin(self) -> None:
        self._pending = {}

    def update(self, name: str, rows: torch.Tensor | None, grad: torch.Tensor, unique: bool = False) -> None:
        self._pending[name] = (rows, grad)
        if len(self._pending) == 2:
            self._apply()

    @torch.no_grad()
    def _apply(self) -> None:
        for name, (rows, grad) in self._pending.items():
            param = getattr(self.model, name)
            param.grad = grad.clone() if rows is None else torch.zeros_like(param).index_add_(0, rows, grad)
        self.opt.step()
        self.model.q.grad = self.model.d.grad = None


class _Frozen:
    """An optimiser that leaves one table fixed: its gradient is replaced by zeros. The
    optimiser is new for each stage (no momentum yet), so a zero gradient moves nothing."""

    def __init__(self, opt, table: str):
        self.opt, self.table = opt, table
        self.model = opt.model

    def begin(self) -> None:
        self.opt.begin()

    def update(self, name, rows, grad, unique: bool = False) -> None:
        self.opt.update(name, rows, torch.zeros_like(grad) if name == self.table else grad, unique)


def frozen(opt, freeze: str | None):
    """``opt``, or a wrapper of it that leaves the ``freeze`` table ("documents": "d",
    "queries": "q") fixed."""
    if freeze in (None, "none"):
        return opt
    return _Frozen(opt, {"documents": "d", "queries": "q"}[freeze])


def make_optimizer(model: DualEncoder, lr: float, kind: str):
    """The optimiser named ``kind`` (see the module docstring)."""
    if kind in ("lazy-adam", "sgd"):
        return RowOptimizer(model, lr, kind)
    if kind in ("adam", "adagrad"):
        return TorchTableOptimizer(model, lr, kind)
    raise InputError(f"unknown optimizer {kind!r}")


def table_step(opt, loss_fn: SoftmaxLoss, queries: torch.Tensor, positives: torch.Tensor, temperature: float,
               gen: torch.Generator, reduce=None) -> torch.Tensor:
    """One step on a batch of pairs (``queries``, ``positives``: (B,) int64 on the model's
    device): columns, gather, fused loss, backward, (reduce), update. Touches only the rows it
    gathers; nothing is read back to the host. Returns the loss (a 0-d tensor). Rows move by
    ``index_select`` / ``index_copy_``, never ``t[idx]``: with two threads on the CPU, torch's
    advanced indexing took about 8 ms for 2,048 rows where ``index_select`` takes 0.01 ms.

    ``gen`` draws the sampled negatives; ``reduce(name, rows, grad) -> (rows, grad)`` combines
    the ranks' gradients of a data-parallel step (:func:`hrviz.training.distributed.gather_rows`).
    Rows are gathered once each where the loss compacts its columns (the CPU), else as they come.
    """
    m = opt.model
    cols = loss_fn.columns(gen, queries, positives)
    unique = loss_fn.compact
    q_rows, q_at = _rows(queries, unique)                                                  # (R_q,), (B,)
    d_rows, d_at = (cols.docs, None) if cols.docs is None or not loss_fn.in_batch else _rows(cols.docs, unique)
    q_leaf = m.q.detach().index_select(0, q_rows).requires_grad_(True)                    # (R_q, d)
    d_leaf = (m.d.detach().clone() if d_rows is None
              else m.d.detach().index_select(0, d_rows)).requires_grad_(True)             # (R_d, d)
    norm = (lambda x: torch.nn.functional.normalize(x, dim=-1)) if m.normalize else (lambda x: x)
    qv = norm(q_leaf) if q_at is None else norm(q_leaf).index_select(0, q_at)             # (B, d)
    dv = norm(d_leaf) if d_at is None else norm(d_leaf).index_select(0, d_at)             # (C, d)
    loss = loss_fn.loss(qv, dv, cols, temperature)
    loss.backward()
    updates = [("q", q_rows, q_leaf.grad), ("d", d_rows, d_leaf.grad)]
    if reduce is not None:  # the ranks' rows together repeat
        updates = [(name, *reduce(name, rows, grad)) for name, rows, grad in updates]
        unique = False
    opt.begin()
    for name, rows, grad in updates:
        opt.update(name, rows, grad, unique)
    return loss.detach()


def _rows(ids: torch.Tensor, unique: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(rows to gather, where each id finds its row): each row once when ``unique`` (sorted
    rows and the inverse), else the ids themselves (and None)."""
    if not unique:
        return ids, None
    return torch.unique(ids, return_inverse=True)
