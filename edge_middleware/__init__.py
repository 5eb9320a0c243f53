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
    OriginRequestPolicy,
    Trigger,
)
from .exceptions import (
    CloudFrontError,
    ConfigurationError,
    EdgeError,
    FunctionExecutionError,
    FunctionThrottledError,
    FunctionValidationError,
    HandlerLoadError,
    LambdaExecutionError,
    LambdaTimeoutError,
    LambdaValidationError,
    OriginError,
)
from .js import CloudFrontFunction, NodeHandler
from .loaders import load_config
from .settings import EdgeSettings
from .wsgi import EdgeWSGIMiddleware

__version__ = "0.1.0"

__all__ = [
    # configuration
    "Behavior",
    # storage
    "CacheEntry",
    "CachePolicy",
    # errors
    "CloudFrontError",
    # JavaScript: CloudFront Functions and Node.js Lambda@Edge handlers
    "CloudFrontFunction",
    "ConfigurationError",
    "CustomErrorResponse",
    "EdgeConfig",
    "EdgeError",
    # front doors
    "EdgeMiddleware",
    "EdgeSettings",
    "EdgeWSGIMiddleware",
    "FunctionExecutionError",
    "FunctionThrottledError",
    "FunctionValidationError",
    "HandlerLoadError",
    "LambdaExecutionError",
    "LambdaTimeoutError",
    "LambdaValidationError",
    "MemoryStorage",
    "NodeHandler",
    "Origin",
    "OriginError",
    "OriginRequestPolicy",
    "RedisStorage",
    "Storage",
    "Trigger",
    "load_config",
]
