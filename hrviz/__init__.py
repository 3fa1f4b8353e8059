"""hrviz: a lab and a viewer for hierarchical retrieval with dual encoders."""

from .errors import InputError
from .closure import Closure
from .hierarchy import Hierarchy

__version__ = "0.1.0"
__all__ = ["Hierarchy", "Closure", "InputError", "__version__"]
