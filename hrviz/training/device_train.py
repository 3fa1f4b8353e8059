"""The per-step pieces of device training: the ancestor table, samplers, the loss, the optimisers
and one step.

Every piece works on tensors of fixed shape on the training device, so a step never waits for
the host (the design is described in the docstring of :mod:`hrviz.training.device`). The loop that drives them is ``_fit_device`` in
:mod:`hrviz.training.loop`.
"""

from __future__ import annotations


import numpy as np
import torch

from ..errors import InputError
from .. import pairs as P
from .loss import fused_ce_backward, fused_ce_forward, logq_bias


# ----- the ancestor table ------------------------------------------------------------------

class AncestorTable:
    """S(q) for queries ``queries`` (default all) of ``closure`` as padded tensors (Q, L).

    ``doc``: document ids sorted per row, padded with ``n_docs``; ``dist``: their distances
    (-1 pad); ``pair``: their pair index into the closure (-1 pad); ``size``: |S(q)|.
    """

    def __init__(self, closure, n_docs: int, device, queries: np.ndarray | None = None, *,
                 with_pairs: bool = False):
        n_q = len(closure.ptr) - 1
        qs = np.arange(n_q) if queries is None else np.asarray(queries, dtype=np.int64)
        starts = closure.ptr[qs]
        counts = closure.ptr[qs + 1] - starts
        L = max(int(counts.max()) if len(qs) else 1, 1)
        owner = np.repeat(np.arange(len(qs)), counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        pidx = np.repeat(starts, counts) + offs
        docs = closure.doc[pidx].astype(np.int64)
        order = np.lexsort((docs, owner))  # rows stay contiguous: owner[order] == owner
        doc = np.full((len(qs), L), n_docs, dtype=np.int64)
        doc[owner, offs] = docs[order]
        self.n, self.L = n_docs, L
        self.doc = torch.from_numpy(doc).to(device)
        self.size = torch.from_numpy(counts.astype(np.int64)).to(device)
        if with_pairs:
            dist = np.full((len(qs), L), -1, dtype=np.int64)
            pair = np.full((len(qs), L), -1, dtype=np.int64)
            dist[owner, offs] = closure.distance[pidx[order]]
            pair[owner, offs] = pidx[order]
            self.dist = torch.from_numpy(dist).to(device)
            self.pair = torch.from_numpy(pair).to(device)


# ----- samplers ----------------------------------------------------------------------------

class _Uniform:
    def __init__(self, index, device):
        self.index = torch.as_tensor(np.asarray(index, dtype=np.int64), device=device)

    def sample(self, gen, size):
        return self.index[torch.randint(0, len(self.index), (size,), generator=gen, device=self.index.device)]


class _Grouped:
    def __init__(self, s, device):
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)  # noqa: E731
        self.order, self.counts, self.starts = t(s.order), t(s.counts), t(s.starts)

    def sample(self, gen, size):
        dev = self.order.device
        g = torch.randint(0, len(self.counts), (size,), generator=gen, device=dev)
        c = self.counts[g]
        off = (torch.rand(size, generator=gen, device=dev, dtype=torch.float64) * c).long()
        return self.order[self.starts[g] + torch.minimum(off, c - 1)]


class _Weighted:
    def __init__(self, s, device):
        self.cdf = torch.as_tensor(s.cdf, dtype=torch.float64, device=device)

    def sample(self, gen, size):
        u = torch.rand(size, generator=gen, device=self.cdf.device, dtype=torch.float64)
        return torch.searchsorted(self.cdf, u).clamp_(max=len(self.cdf) - 1)


class _Mixture:
    def __init__(self, s, device):
        self.parts = [device_sampler(p, device) for p in s.samplers]
        self.weights = torch.as_tensor(s.weights, dtype=torch.float64, device=device)

    def sample(self, gen, size):
        # each pair picks its component: a fixed shape (the numpy mixture's counts vary)
        comp = torch.multinomial(self.weights, size, replacement=True, generator=gen)  # (B,)
        draws = torch.stack([p.sample(gen, size) for p in self.parts])             # (K, B)
        return draws.gather(0, comp[None]).squeeze(0)


def device_sampler(sampler, device):
    """The device twin of a :mod:`hrviz.pairs` sampler (``.sample(generator, size)``)."""
    if isinstance(sampler, P.UniformSampler):  # LongDistanceSampler included
        return _Uniform(sampler.index, device)
    if isinstance(sampler, P.GroupedSampler):
        return _Grouped(sampler, device)
    if isinstance(sampler, P.DistanceWeightedSampler):
        return _Weighted(sampler, device)
    if isinstance(sampler, P.MixtureSampler):
        return _Mixture(sampler, device)
    raise TypeError(f"no device version of {type(sampler).__name__}")


# ----- loss ----------------------------------------------------------------------------------

class DeviceSoftmaxLoss:
    """:class:`~hrviz.training.loss.SoftmaxLoss` with every per-step piece on the device.

    Args:
        table: AncestorTable of the relevance the loss may know (all queries).
        negatives, n_negatives, temperature_mode, masking, normalize_queries, logq: as SoftmaxLoss.

    The logQ bias is the same (:func:`~hrviz.training.loss.logq_bias`): sampled columns here
    are the positives and draws with repeats masked, the same set as the numpy loss's.
    """

    def __init__(self, table: AncestorTable, *, negatives="full", n_negatives=8192,
                 temperature_mode="scale", masking="hierarchy", normalize_queries=False, logq=0.0):
        self.table, self.n = table, table.n
        self.negatives, self.n_negatives = negatives, n_negatives
        self.mode, self.masking, self.normalize_queries = temperature_mode, masking, normalize_queries
        if negatives == "sampled" and n_negatives >= self.n:
            self.negatives = "full"
        self.logq = float(logq)
        self._bias: torch.Tensor | None = None  # (n,) on the table's device

    def set_proposal(self, share: np.ndarray, batch_size: int) -> None:
        """The stage's logQ bias from its sampler marginal (see SoftmaxLoss.set_proposal);
        ``batch_size`` is the batch of one rank."""
        bias = logq_bias(share, self.logq, negatives=self.negatives, batch_size=batch_size,
                         n_negatives=self.n_negatives)
        self._bias = None if bias is None else torch.from_numpy(bias).to(self.table.doc.device)

    def column_bias(self, cand: torch.Tensor | None) -> torch.Tensor | None:
        """The additive logit bias (C,) of the candidate columns, or None (none, or full)."""
        return None if self._bias is None or cand is None else self._bias[cand]

    @property
    def in_batch(self) -> bool:
        return self.negatives == "in-batch"

    def candidates(self, gen, positives: torch.Tensor):
        """(cand (C,) or None for all documents, repeated-column mask (C,) or None, target (B,))."""
        if self.in_batch:
            return positives, None, torch.arange(len(positives), device=positives.device)
        if self.negatives == "full":
            return None, None, positives
        drawn = torch.randint(0, self.n, (self.n_negatives,), generator=gen, device=positives.device)
        cand = torch.cat([positives, drawn]).sort().values                      # (C,), C = B + K
        rep = torch.zeros_like(cand, dtype=torch.bool)
        rep[1:] = cand[1:] == cand[:-1]                                         # later copies
        return cand, rep, torch.searchsorted(cand, positives)                   # first copy

    def masker(self, queries, positives, cand, rep, target):
        """A function (z (B, C), z_target (B,)) -> None that sets the masked logits to -inf."""
        table, n = self.table, self.n

        def apply(z, zt):
            if rep is not None:
                z.masked_fill_(rep[None, :], -torch.inf)
            if self.masking == "none":
                return
            if self.in_batch:
                if self.masking == "duplicates":
                    m = positives[None, :] == positives[:, None]                 # (B, B)
                else:
                    rel = table.doc[queries]                                     # (B, L) sorted
                    vals = positives[None, :].expand(len(queries), -1).contiguous()
                    pos = torch.searchsorted(rel, vals).clamp_(max=table.L - 1)  # (B, B)
                    m = rel.gather(1, pos) == vals                               # doc_c in S(q_b)
                m.fill_diagonal_(False)
                z.masked_fill_(m, -torch.inf)
                return
            if self.masking != "hierarchy":  # full/sampled hold each document once (rep masked)
                return
            rel = table.doc[queries]                                             # (B, L)
            valid = (rel < n) & (rel != positives[:, None])
            if cand is None:
                col = rel
            else:
                col = torch.searchsorted(cand, rel).clamp_(max=len(cand) - 1)
                valid &= cand[col] == rel
            idx = torch.where(valid, col, target[:, None])
            src = torch.where(valid, torch.full_like(z[:1, :1], -torch.inf).expand_as(idx), zt[:, None].expand_as(idx))
            z.scatter_(1, idx, src)

        return apply

    def logits_loss(self, qv, dv, mask_fn, target, temperature, bias=None):
        if self.normalize_queries:
            qv = torch.nn.functional.normalize(qv, dim=-1)
        qv = qv * temperature if self.mode == "scale" else qv / temperature
        return DeviceSoftmaxCE.apply(qv, dv, target, mask_fn, bias)


class DeviceSoftmaxCE(torch.autograd.Function):
    """The fused masked softmax cross-entropy of :class:`~hrviz.training.loss.MaskedSoftmaxCE`,
    with the masking done by a device-side function instead of host index lists."""

    @staticmethod
    def forward(ctx, qv, dv, target, mask_fn, bias=None):
        z = qv @ dv.T                                                            # (B, C)
        if bias is not None:  # logQ: the same bias on every row (target included)
            z.add_(bias.to(z.dtype)[None, :])
        ar = torch.arange(len(target), device=z.device)
        z_target = z[ar, target]                                                 # (B,)
        mask_fn(z, z_target)
        return fused_ce_forward(ctx, qv, dv, z, z_target, target)

    @staticmethod
    def backward(ctx, grad):
        return (*fused_ce_backward(ctx, grad), None, None, None)


# ----- optimiser -----------------------------------------------------------------------------

class DeviceRowOptimizer:
    """Lazy Adam or SGD on rows that may repeat (``rows`` None: every row)."""

    def __init__(self, model, lr: float, kind: str = "lazy-adam", betas=(0.9, 0.999), eps: float = 1e-8):
        self.model, self.lr, self.kind, self.betas, self.eps = model, lr, kind, betas, eps
        self.t = 0
        self._buf: dict[str, torch.Tensor] = {}
        if kind == "lazy-adam":
            self.state = {k: (torch.zeros_like(p), torch.zeros_like(p)) for k, p in (("q", model.q), ("d", model.d))}

    def begin(self) -> None:
        self.t += 1

    @torch.no_grad()
    def update(self, name: str, rows: torch.Tensor | None, grad: torch.Tensor) -> None:
        param = getattr(self.model, name).data
        if self.kind == "sgd":
            if rows is None:
                param.add_(grad, alpha=-self.lr)
            else:
                param.index_add_(0, rows, grad, alpha=-self.lr)
            return
        if rows is not None:  # sum the gradients of repeated rows; every copy gets the sum
            buf = self._buf.get(name)
            if buf is None:
                buf = self._buf[name] = torch.zeros_like(param)
            buf.index_add_(0, rows, grad)
            grad = buf[rows]
            buf[rows] = 0
        b1, b2 = self.betas
        m_all, v_all = self.state[name]
        m = (m_all if rows is None else m_all[rows]).mul(b1).add_(grad, alpha=1 - b1)
        v = (v_all if rows is None else v_all[rows]).mul(b2).addcmul_(grad, grad, value=1 - b2)
        step = (m / (1 - b1 ** self.t)) / ((v / (1 - b2 ** self.t)).sqrt_().add_(self.eps))
        if rows is None:
            m_all.copy_(m), v_all.copy_(v), param.sub_(step, alpha=self.lr)
        else:  # repeated rows write identical values
            m_all[rows], v_all[rows] = m, v
            param[rows] = param[rows] - self.lr * step


class DeviceDenseOptimizer:
    """Dense Adam / Adagrad (torch.optim) fed gradients at rows that may repeat."""

    def __init__(self, model, lr: float, kind: str = "adam"):
        self.model = model
        params = [model.q, model.d]
        self.opt = torch.optim.Adam(params, lr=lr) if kind == "adam" else torch.optim.Adagrad(params, lr=lr)
        self._pending: dict = {}

    def begin(self) -> None:
        self._pending = {}

    @torch.no_grad()
    def update(self, name, rows, grad) -> None:
        self._pending[name] = (rows, grad)
        if len(self._pending) < 2:
            return
        for k, (r, g) in self._pending.items():
            p = getattr(self.model, k)
            p.grad = g.clone() if r is None else torch.zeros_like(p).index_add_(0, r, g)
        self.opt.step()
        self.model.q.grad = self.model.d.grad = None


def make_device_optimizer(model, lr: float, kind: str):
    if kind in ("lazy-adam", "sgd"):
        return DeviceRowOptimizer(model, lr, kind)
    if kind in ("adam", "adagrad"):
        return DeviceDenseOptimizer(model, lr, kind)
    raise InputError(f"unknown optimizer {kind!r}")


def device_step(opt, loss_fn: DeviceSoftmaxLoss, queries: torch.Tensor, positives: torch.Tensor,
                temperature: float, gen, reduce=None) -> torch.Tensor:
    """One step on the device: candidates, gather, fused loss, backward, (reduce), update.

    ``reduce(name, rows, grad) -> (rows, grad)`` combines the ranks' gradients
    (:func:`hrviz.training.distributed.gather_rows`). Returns the loss (a 0-d tensor).
    """
    m = opt.model
    cand, rep, target = loss_fn.candidates(gen, positives)
    mask_fn = loss_fn.masker(queries, positives, cand, rep, target)
    q_leaf = m.q.detach()[queries].requires_grad_(True)                                  # (B, d)
    d_leaf = (m.d.detach().clone() if cand is None else m.d.detach()[cand]).requires_grad_(True)  # (C, d)
    norm = (lambda x: torch.nn.functional.normalize(x, dim=-1)) if m.normalize else (lambda x: x)
    loss = loss_fn.logits_loss(norm(q_leaf), norm(d_leaf), mask_fn, target, temperature,
                               loss_fn.column_bias(cand))
    loss.backward()
    updates = [("q", queries, q_leaf.grad), ("d", cand, d_leaf.grad)]
    if reduce is not None:
        updates = [(k, *reduce(k, r, g)) for k, r, g in updates]
    opt.begin()
    for k, r, g in updates:
        opt.update(k, r, g)
    return loss.detach()
