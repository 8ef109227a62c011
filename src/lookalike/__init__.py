"""lookalike: search your own image collections by image."""

from .api import Collection, compare
from .errors import LookalikeError
from .records import Comparison, DuplicateGroup, IndexReport, Match, Neighbours
from .settings import Settings

__version__ = "0.1.0"
__all__ = [
    "Collection",
    "Comparison",
    "DuplicateGroup",
    "IndexReport",
    "LookalikeError",
    "Match",
    "Neighbours",
    "Settings",
    "compare",
]
