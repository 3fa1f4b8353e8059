"""Devices, the ancestor table, and evaluation on a torch device (CUDA, or the CPU).

Training runs on any torch device through one stack (:mod:`.loop`, :mod:`.loss`,
:mod:`.optim`, the samplers of :mod:`hrviz.pairs`); this module holds what it needs from the
device and what evaluates there:

- :func:`resolve_device`: ``auto`` (CUDA when present) | ``cpu`` | ``cuda`` (an
  :class:`~hrviz.errors.InputError` without a GPU, so the CLI exits 2);
- :class:`AncestorTable`: S(q) of every query as a padded (Q, L) table of document ids,
  sorted per row, padded with ``n`` (L = max |S(q)|: 35 on WordNet at distance 8, 79 on a
  10^6-node DAG), so masking and evaluation read S(q) with fixed shapes;
- :func:`evaluate_on_device`: chunked matrix product + ``topk`` (+ exact counts with
  ``ranks=True``) giving an :class:`hrviz.evaluate.Evaluation` with the same definitions
  (the validation of every fit);
- :func:`sampled_evaluation`: a seeded sample of queries ranked against all documents,
  recall with a 95% bootstrap interval over queries (labelled ``sampled``).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..errors import InputError
from ..evaluate import Evaluation, rank_metrics

DEVICES = {"auto": "CUDA when a GPU is present, else the CPU", "cpu": "the CPU",
           "cuda": "the first CUDA GPU (exits 2 without one)"}


def resolve_device(name: str | None) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cuda`` without a GPU is an InputError."""
    name = name or "auto"
    if name not in DEVICES:
        raise InputError(f"unknown device {name!r}", hint="--device auto | cpu | cuda")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda, but no CUDA GPU is available here",
                         hint="use --device cpu or --device auto")
    return name


def device_name(dev: str | torch.device) -> str:
    """Words for the device in use, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (2 threads)'."""
    dev = torch.device(dev)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({torch.get_num_threads()} threads)"


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


# ----- evaluation ----------------------------------------------------------------------------

@torch.no_grad()
def evaluate_on_device(q_vecs, d_vecs, closure, *, device="cpu", k: str | int = "auto",
                       queries: np.ndarray | None = None, pair_mask: np.ndarray | None = None,
                       ranks: bool = True, chunk: int | None = None, per_query: bool = False):
    """:func:`hrviz.evaluate.evaluate` on a device: same definitions, chunked ``Q @ D.T`` + ``topk``.

    ``q_vecs``/``d_vecs``: arrays or tensors (n, d). With ``ranks=False`` a pair's rank is exact
    inside the head of its row (k + 1 values) and "missed" beyond, which recall needs; with
    ``ranks=True`` every rank is an exact count and mean rank and MAP are computed.
    ``per_query=True`` also returns (hits (Q, T), pairs (Q, T)) numpy arrays per query.
    """
    t0 = time.perf_counter()
    dev = torch.device(device)
    Q = torch.as_tensor(q_vecs, dtype=torch.float32).to(dev)
    D = torch.as_tensor(d_vecs, dtype=torch.float32).to(dev)
    n = D.shape[0]
    if chunk is None:  # a (chunk, n) score block of at most 512 MB: 134 queries at 10^6 documents
        chunk = max(16, min(1024, 2**27 // max(n, 1)))
    qs_all = np.arange(len(closure.ptr) - 1) if queries is None else np.asarray(queries, dtype=np.int64)
    tab = AncestorTable(closure, n, dev, qs_all, with_pairs=True)
    qs_t = torch.as_tensor(qs_all, device=dev)
    mask_t = None if pair_mask is None else torch.as_tensor(pair_mask, device=dev)
    T = int(closure.distance.max()) + 1 if closure.n_pairs else 1
    hits = torch.zeros(T, dtype=torch.float64, device=dev)
    pairs = torch.zeros(T, dtype=torch.float64, device=dev)
    q_hits, q_pairs, kept = [], [], []
    kh = min(n, (tab.L if k == "auto" else max(int(k), tab.L)) + 1)
    for lo in range(0, len(qs_all), chunk):
        rows = slice(lo, lo + chunk)
        S = Q[qs_t[rows]] @ D.T                                                  # (c, n)
        rel, dist = tab.doc[rows], tab.dist[rows]                                # (c, L)
        valid = rel < n
        s = S.gather(1, rel.clamp(max=n - 1))                                    # (c, L)
        top = torch.topk(S, kh, dim=1, sorted=True).values                       # (c, kh)
        in_head = s > top[:, -1:] if kh < n else torch.ones_like(valid)
        rank = (top[:, None, :] >= s[:, :, None]).sum(-1)                        # (c, L)
        rank = torch.where(in_head, rank, torch.full_like(rank, n + 1))
        if ranks:
            for j in range(0, S.shape[0], 16):  # exact counts over the whole row
                rank[j:j + 16] = (S[j:j + 16, None, :] >= s[j:j + 16, :, None]).sum(-1)
        kq = tab.size[rows, None] if k == "auto" else torch.full_like(rank[:, :1], int(k))
        count = valid if mask_t is None else valid & mask_t[tab.pair[rows].clamp(min=0)]
        hit = (rank <= kq) & count
        dcl = dist.clamp(min=0)
        hits.index_add_(0, dcl[count], hit[count].double())
        pairs.index_add_(0, dcl[count], torch.ones_like(dcl[count], dtype=torch.float64))
        if per_query:
            hq = torch.zeros(len(rel), T, dtype=torch.float64, device=dev)
            pq = torch.zeros_like(hq)
            hq.scatter_add_(1, dcl, hit.double())
            pq.scatter_add_(1, dcl, count.double())
            q_hits.append(hq.cpu().numpy())
            q_pairs.append(pq.cpu().numpy())
        if ranks:
            kept.append((tab.pair[rows][valid].cpu().numpy(), rank[valid].cpu().numpy(), s[valid].cpu().numpy()))
    h_np, p_np = hits.cpu().numpy(), pairs.cpu().numpy()
    ev = Evaluation(k=str(k), hits={t: int(h_np[t]) for t in range(T) if p_np[t]},
                    pairs={t: int(p_np[t]) for t in range(T) if p_np[t]},
                    n_queries=int((tab.size > 0).sum()))
    if ranks and kept:
        pidx = np.concatenate([a for a, _, _ in kept])
        rk = np.concatenate([b for _, b, _ in kept])
        sc = np.concatenate([c for _, _, c in kept])
        cnt = None if pair_mask is None else pair_mask[pidx]
        ev.mean_rank, ev.map = rank_metrics(closure.query[pidx], closure.distance[pidx], rk, sc, cnt)
    ev.seconds = time.perf_counter() - t0
    if per_query:
        return ev, (np.concatenate(q_hits) if q_hits else np.zeros((0, T)),
                    np.concatenate(q_pairs) if q_pairs else np.zeros((0, T)))
    return ev


def sampled_evaluation(q_vecs, d_vecs, closure, *, queries: int = 10_000, seed: int = 0,
                       device="cpu", k: str | int = "auto", boot: int = 1000, chunk: int | None = None) -> dict:
    """Recall of a seeded sample of ``queries`` queries, ranked exactly against all documents.

    Pairs of one query are correlated, so the 95% interval is a bootstrap over *queries*
    (``boot`` resamples, seeded), percentile method, for overall recall and each distance.
    Returns a dict labelled ``"evaluation": "sampled"`` with ``queries``, ``metric``,
    ``recall_by_distance``, ``overall``, ``min``, ``ci95`` (``{"overall": [lo, hi], "by_distance":
    {t: [lo, hi]}}``) and ``seconds``.
    """
    t0 = time.perf_counter()
    n_q = len(closure.ptr) - 1
    rng = np.random.default_rng(seed)
    qs = np.sort(rng.choice(n_q, size=min(queries, n_q), replace=False))
    ev, (hq, pq) = evaluate_on_device(q_vecs, d_vecs, closure, device=device, k=k, queries=qs,
                                      ranks=False, chunk=chunk, per_query=True)
    idx = rng.integers(0, len(qs), size=(boot, len(qs)))
    bh = np.stack([hq[i].sum(0) for i in idx])                                  # (boot, T)
    bp = np.stack([pq[i].sum(0) for i in idx])
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = bh.sum(1) / bp.sum(1)
        by_t = bh / bp
    ci = {"overall": [float(np.nanpercentile(overall, 2.5)), float(np.nanpercentile(overall, 97.5))],
          "by_distance": {str(t): [float(np.nanpercentile(by_t[:, t], 2.5)), float(np.nanpercentile(by_t[:, t], 97.5))]
                          for t in ev.pairs}}
    return {"evaluation": "sampled", "queries": int(len(qs)), "metric": ev.metric,
            "recall_by_distance": {str(t): r for t, r in ev.recall_by_distance.items()},
            "overall": ev.overall, "min": ev.min, "ci95": ci, "seconds": time.perf_counter() - t0}
