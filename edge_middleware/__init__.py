"""Run CloudFront Lambda@Edge handlers and the edge cache inside a Python web app."""

from .config import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    Origin,
    OriginRequestPolicy,
    Trigger,
)
from .exceptions import ConfigurationError, EdgeError
from .settings import EdgeSettings

__version__ = "0.1.0"

__all__ = [
    "Behavior",
    "CachePolicy",
    "ConfigurationError",
    "CustomErrorResponse",
    "EdgeConfig",
    "EdgeError",
    "EdgeSettings",
    "Origin",
    "OriginRequestPolicy",
    "Trigger",
]
