"""Encoders: what maps a node (or free text) to query and document vectors.

Kinds:
- lookup tables (the paper's dual encoder): :class:`hrviz.model.DualEncoder`;
- Poincaré ball (Nickel & Kiela 2017): :mod:`.poincare`, one table in the unit ball, scored by
  minus the hyperbolic distance, retrieved exactly as a (d + 2)-dimensional dual encoder.
"""

from .poincare import PoincareConfig, PoincareModel, fit_poincare  # noqa: F401
