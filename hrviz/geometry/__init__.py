"""The geometry of hierarchical retrieval: the construction of Theorem 3.1 and its margin.

Theorem 3.1 of You et al. (NeurIPS 2025) says that embeddings in
d = O(max(s log m, log m / eps^2)) dimensions separate every relevant pair from every
irrelevant one with ONE global threshold; for a perfect tree of H levels (the paper's convention: s = H relevant
documents per leaf) and width W, d = O(H^2 log W). The package measures that claim, one module per role:

- :mod:`~hrviz.geometry.construction`: Algorithm 1's vectors (:func:`construct`);
- :mod:`~hrviz.geometry.margins`: global and per-query margins and recall@auto of any
  query/document vectors (:func:`margins`, :func:`evaluate_construction`);
- :mod:`~hrviz.geometry.search`: the smallest d at which the construction separates in 90% of
  seeded trials (:func:`min_dim`), and a prediction of it (:func:`predicted_min_dim`);
- :mod:`~hrviz.geometry.learned`: the same for a trained dual encoder (:func:`learned_min_dim`);
- :mod:`~hrviz.geometry.study`: the dimension study over grids of trees and the paper's two
  slopes (:func:`study`, :func:`fit_study`).

Everything public is re-exported here: ``from hrviz import geometry; geometry.construct(...)``.
The functions ``margins`` and ``study`` shadow their modules' names as attributes of this
package (``geometry.margins`` is the function); import a module's other names with
``from hrviz.geometry.margins import ...``.
"""

from .construction import Construction, construct, gaussian_vectors, relevance_matrix
from .learned import learned_min_dim
from .margins import (
    CHUNK_ELEMENTS,
    MAX_CHUNK,
    MAX_EXACT,
    SAMPLE_QUERIES,
    MarginReport,
    chunk_size,
    evaluate_construction,
    histogram_frame,
    margins,
    sample_queries,
)
from .search import CRITERIA, MinDimResult, min_dim, predicted_min_dim, search_min_dim, separation_passes
from .study import (
    PAPER_SLOPE_H,
    PAPER_SLOPE_LOGW,
    STUDY_COLUMNS,
    fit_line,
    fit_study,
    slope_log_h,
    slope_log_w,
    study,
    theory_curve,
    theory_scale,
)

__all__ = [
    "CHUNK_ELEMENTS", "CRITERIA", "MAX_CHUNK", "MAX_EXACT", "PAPER_SLOPE_H", "PAPER_SLOPE_LOGW",
    "SAMPLE_QUERIES", "STUDY_COLUMNS", "Construction", "MarginReport", "MinDimResult",
    "chunk_size", "construct", "evaluate_construction", "fit_line", "fit_study", "gaussian_vectors",
    "histogram_frame", "learned_min_dim", "margins", "min_dim", "predicted_min_dim",
    "relevance_matrix", "sample_queries", "search_min_dim", "separation_passes", "slope_log_h",
    "slope_log_w", "study", "theory_curve", "theory_scale",
]
