"""Altair chart builders: pure functions, data in, ``alt.Chart`` out.

Pages call these and hand the result to ``st.altair_chart``; tests inspect ``chart.to_dict()``.
Nothing here touches Streamlit or the store: the caller fetches the data frames (from
:class:`hrviz.store.Store` or a :class:`hrviz.hierarchy.Hierarchy`) and passes them in.

Two kinds of builders:

- graph drawings (:func:`query_tree_chart`, :func:`neighbourhood_chart`): a layered drawing of
  part of a hierarchy, roots at the top. The layout is computed by :func:`layered_layout` from a
  networkx graph (layers by depth, nodes ordered within a layer by the mean position of their
  parents, so children sit under their parent) and returned as plain data frames, so it can be
  tested without drawing anything;
- recall and training curves (:func:`recall_by_distance_chart`, :func:`recall_over_steps_chart`,
  :func:`loss_chart`, :func:`runs_recall_chart`) and histograms of a hierarchy
  (:func:`depth_histogram`, :func:`distance_histogram`).

Data frames follow the store's column names (``run_id``, ``stage``, ``step``, ``distance``,
``recall``, ``name``, ``value``) so a page passes ``store.recall(...)`` straight in.

The builders live in :mod:`.graph` (graph drawings, histograms) and :mod:`.recall` (recall and
training curves), re-exported here; :mod:`.geometry`, :mod:`.models`, :mod:`.query` and
:mod:`.study` hold the charts of single pages and are imported as submodules.
"""

from __future__ import annotations

from .graph import (ROLE_COLORS, depth_frame, depth_histogram, distance_frame,  # noqa: F401
                    distance_histogram, graph_chart, layered_layout, neighbourhood, neighbourhood_chart,
                    query_tree, query_tree_chart)
from .recall import (STAGE_COLORS, STAGE_ORDER, final_recall_frame, loss_chart,  # noqa: F401
                     recall_by_distance_chart, recall_over_steps_chart, reference_frame, runs_recall_chart,
                     stage_boundaries, with_global_step)

__all__ = [
    "layered_layout", "query_tree", "query_tree_chart", "neighbourhood", "neighbourhood_chart",
    "graph_chart", "depth_frame", "distance_frame", "depth_histogram", "distance_histogram",
    "final_recall_frame", "reference_frame", "recall_by_distance_chart", "with_global_step",
    "stage_boundaries", "recall_over_steps_chart", "loss_chart", "runs_recall_chart",
]
