"""The geometry of hierarchical retrieval (being split into modules by role)."""

from .margins import *  # noqa: F401,F403
