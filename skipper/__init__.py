"""Skipper: ask questions about your data in plain English; get correct, auditable answers."""

from skipper.answer import Answer
from skipper.app import Skipper
from skipper.catalog import Catalog
from skipper.errors import SkipperError

__all__ = ["Answer", "Catalog", "Skipper", "SkipperError"]
__version__ = "0.1.0"
