"""Algorithm 1 of You et al. (NeurIPS 2025): the construction behind Theorem 3.1.

Theorem 3.1: if every query has at most s relevant documents among m,
there are embeddings in d = O(max(s log m, log m / eps^2)) dimensions and ONE global threshold
r such that every relevant pair scores >= r + eps and every irrelevant pair <= r - eps. The
proof is a construction:

    g_j ~ N(0, I_d) for every document j,       x_j = g_j / |g_j|
    q_i = sum_{j in S(q_i)} g_j / |sum_{j in S(q_i)} g_j|

where S(q) is q itself plus its ancestors (optionally only those within ``max_distance``).
Random Gaussian vectors are nearly orthogonal, so a relevant score is about 1/sqrt(|S(q)|)
and an irrelevant one about 0 +- 1/sqrt(d). For a perfect tree of H levels (s = H, m ~ W^(H-1)) this
gives d = O(H^2 log W).

The query sums are one sparse-by-dense product: the 0/1 relevance matrix (row i = S(q_i),
straight from the closure's CSR) times G.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..closure import Closure
from ..hierarchy import Hierarchy


@dataclass(frozen=True)
class Construction:
    """Vectors of Algorithm 1. ``queries`` are row i of ``query_vectors`` (all nodes by default)."""

    query_vectors: np.ndarray  # (len(queries), d) float32, unit norm
    doc_vectors: np.ndarray  # (n, d) float32, unit norm
    queries: np.ndarray  # (len(queries),) int64 node ids
    dim: int
    seed: int
    max_distance: int | None


def gaussian_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """The raw g_j, (n, dim) float32, seeded.

    Drawn as a (dim, n) block and transposed, so with the same seed the vectors at d are the
    first d coordinates of those at d + 1: a search over d then compares nested draws, which
    makes separation far more regular in d than independent draws would.
    """
    if dim < 1:
        raise InputError(f"dimension must be >= 1, got {dim}", hint="e.g. --dim 64")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((dim, n), dtype=np.float32).T  # a Fortran-order view: no copy


def _normalise(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    np.maximum(norm, np.finfo(np.float32).tiny, out=norm)
    return (v / norm).astype(np.float32, copy=False)


def relevance_matrix(closure: Closure, n: int, queries: np.ndarray | None = None) -> sp.csr_matrix:
    """Sparse 0/1 matrix, row i = the relevant set S(query i) (CSR straight from the closure)."""
    a = sp.csr_matrix((np.ones(closure.n_pairs, dtype=np.float32), closure.doc, closure.ptr), shape=(n, n))
    return a if queries is None else a[queries]


def construct(
    h: Hierarchy,
    dim: int,
    *,
    seed: int = 0,
    max_distance: int | None = None,
    queries: np.ndarray | None = None,
) -> Construction:
    """Algorithm 1 for hierarchy ``h`` in ``dim`` dimensions (see the module docstring).

    ``queries`` restricts the query vectors to those node ids (documents are always all nodes).
    The query sums are one sparse-by-dense product (relevance matrix @ G): no Python loop.
    """
    closure = h.closure(max_distance)
    g = gaussian_vectors(h.n, dim, seed)
    qids = np.arange(h.n, dtype=np.int64) if queries is None else np.asarray(queries, dtype=np.int64)
    sums = np.asarray(relevance_matrix(closure, h.n, qids) @ g, dtype=np.float32)
    return Construction(_normalise(sums), _normalise(g), qids, dim, seed, max_distance)
