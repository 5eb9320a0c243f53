"""Run CloudFront Lambda@Edge handlers and the CloudFront edge cache inside a Python web app.

Front doors: :class:`EdgeMiddleware` (ASGI 3) and :class:`EdgeWSGIMiddleware` (WSGI).
"""

from .asgi import EdgeMiddleware
from .cache.entry import CacheEntry, Storage
from .cache.memory import MemoryStorage
from .cache.redis import RedisStorage
from .config import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    Origin,
    OriginGroup,
    OriginRequestPolicy,
    Trigger,
)
from .exceptions import (
    CloudFrontError,
    ConfigurationError,
    EdgeError,
    EventError,
    HandlerLoadError,
    LambdaExecutionError,
    LambdaTimeoutError,
    LambdaValidationError,
    OriginError,
)
from .loaders import load_config
from .response_headers import CorsConfig, ResponseHeader, ResponseHeadersPolicy
from .settings import EdgeSettings
from .wsgi import EdgeWSGIMiddleware

__version__ = "0.1.0"

__all__ = [
    "Behavior",
    "CacheEntry",
    "CachePolicy",
    "CloudFrontError",
    "ConfigurationError",
    "CorsConfig",
    "CustomErrorResponse",
    "EdgeConfig",
    "EdgeError",
    "EdgeMiddleware",
    "EdgeSettings",
    "EdgeWSGIMiddleware",
    "EventError",
    "HandlerLoadError",
    "LambdaExecutionError",
    "LambdaTimeoutError",
    "LambdaValidationError",
    "MemoryStorage",
    "Origin",
    "OriginError",
    "OriginGroup",
    "OriginRequestPolicy",
    "RedisStorage",
    "ResponseHeader",
    "ResponseHeadersPolicy",
    "Storage",
    "Trigger",
    "load_config",
]
