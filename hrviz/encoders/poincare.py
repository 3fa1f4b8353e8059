"""Poincaré-ball embeddings (Nickel & Kiela 2017) as an hrviz model kind.

One table ``x`` of shape (n, d) holds a point of the open unit ball for every node. The
score of a (query, document) pair is minus the hyperbolic distance

    d(u, v) = arcosh(1 + 2 |u - v|^2 / ((1 - |u|^2) (1 - |v|^2))).

**A Poincaré embedding is a dual encoder of dimension d + 2 for retrieval.** For a fixed
query u, arcosh is increasing and (1 - |u|^2) is a positive constant, so ranking the
documents v by -d(u, v) is the same as ranking them by

    -(|u|^2 + |v|^2 - 2 u.v) / (1 - |v|^2) = <f_q(u), f_x(v)>   with
    f_q(u) = [-|u|^2, -1, 2u],    f_x(v) = [1, |v|^2, v] / (1 - |v|^2).

:meth:`PoincareModel.query_vectors` and :meth:`PoincareModel.doc_vectors` return these
lifted (d + 2)-dimensional features, so hrviz's dot-product evaluator
(:func:`hrviz.evaluate.evaluate`: recall@auto by distance, mean rank, MAP), the query
inspector and every page that takes query/document vectors rank a Poincaré model
*exactly* as its distance does (``tests/test_poincare.py`` checks it). Only the ranking is
preserved: the lifted scores are not distances, and they are not comparable across
queries. Near the boundary the document features grow like 1 / (1 - |v|^2) (at most
~1 / (2 eps)); the float32 evaluator then loses some digits (``bench/hyperbolic.py``
compares it against float64 distances).

Training follows Nickel & Kiela (2017), section 3 and their released code:

- data: the ancestor pairs (u, v) of the closure, distance >= 1 (``max_distance`` caps it);
- loss, per pair: -log( e^{-d(u,v)} / sum_{v' in {v} + N(u)} e^{-d(u,v')} ) with N(u)
  ``negatives`` (10) documents sampled for u and *not relevant* to u (not u itself, not one
  of its ancestors: hierarchy-masked). Samples that hit a relevant document are redrawn a
  few times, then masked out of the denominator;
- negatives are uniform over the nodes, except during burn-in, when they follow the
  degree (occurrences in training pairs) to the power 0.75, like word2vec's unigram table;
- burn-in: ``burn_in`` (10) epochs at lr x ``burn_in_lr_ratio`` (1/10) before the
  ``epochs`` regular ones (as in gensim, burn-in epochs come on top of ``epochs``);
- Riemannian SGD: the Riemannian gradient is ((1 - |x|^2)^2 / 4) times the Euclidean one
  (the inverse of the ball's metric tensor); x <- proj(x - lr grad_R), and proj pulls any
  row with |x| >= 1 - eps back to norm 1 - eps. Gradients of the rows a batch touches
  several times are summed (as gensim does), the loss is summed over the batch;
- initialisation: uniform in [-0.001, 0.001]^d.

The gradient is analytic (``_dist_grad``; Nickel & Kiela's eq. 4), computed once for a
batch of (B, 1 + K) distances: no autograd graph in the loop, a few vectorised torch
operations per step.

Pretrain-finetune (the paper's open question 2, science.md section 9): with
``finetune_epochs > 0`` a second stage trains only on pairs with distance >=
``finetune_min_distance`` at lr x ``finetune_lr_ratio``, evaluates recall@auto after every
finetune epoch (on all pairs, or a seeded query sample for large hierarchies) and keeps the
best checkpoint by ``select_by`` (the pretrained model is a candidate too).

References: M. Nickel, D. Kiela, "Poincaré Embeddings for Learning Hierarchical
Representations", NeurIPS 2017; gensim's ``gensim.models.poincare`` (an independent
implementation, compared in ``bench/hyperbolic.py``).

The code lives in three modules, re-exported here (this is the public import path):
:mod:`.poincare_ball` (the geometry), :mod:`.poincare_model` (the model and its files) and
:mod:`.poincare_fit` (the config and the training); :mod:`.poincare_run` runs a fit as a stored run.
"""

from __future__ import annotations

from ..errors import InputError  # noqa: F401 - callers catch it as poincare.InputError
from .poincare_ball import _dist_grad, lift_docs, lift_queries, poincare_distance, project  # noqa: F401
from .poincare_fit import (NegativeSampler, PoincareConfig, PoincareResult, _step, evaluate_poincare,  # noqa: F401
                           fit_poincare)
from .poincare_model import DTYPE, FORMAT, PoincareModel, is_poincare_file  # noqa: F401

__all__ = ["DTYPE", "FORMAT", "NegativeSampler", "PoincareConfig", "PoincareModel", "PoincareResult",
           "evaluate_poincare", "fit_poincare", "is_poincare_file", "lift_docs", "lift_queries",
           "poincare_distance", "project"]
