"""Run CloudFront Lambda@Edge handlers and the CloudFront edge cache inside a Python web app.

Front doors: :class:`EdgeMiddleware` (ASGI 3) and :class:`EdgeWSGIMiddleware` (WSGI).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache.entry import CacheEntry, Storage
    from .cache.memory import MemoryStorage
    from .cache.redis import RedisStorage
    from .config.loaders import load_config
    from .config.model import (
        Behavior,
        CachePolicy,
        CustomErrorResponse,
        EdgeConfig,
        Origin,
        OriginGroup,
        OriginRequestPolicy,
        Trigger,
    )
    from .config.response_headers import CorsConfig, ResponseHeader, ResponseHeadersPolicy
    from .config.settings import EdgeSettings
    from .doors.asgi import EdgeMiddleware
    from .doors.wsgi import EdgeWSGIMiddleware
    from .exceptions import (
        CloudFrontError,
        ConfigurationError,
        EdgeError,
        EventError,
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

#: Where each public name lives: imported on first use (PEP 562), so ``import edge_middleware``
#: costs almost nothing and an ASGI user never loads the YAML loader or the WSGI door.
_LAZY = {
    "Behavior": ".config.model",
    "CacheEntry": ".cache.entry",
    "CloudFrontFunction": ".js",
    "CachePolicy": ".config.model",
    "CloudFrontError": ".exceptions",
    "CorsConfig": ".config.response_headers",
    "ConfigurationError": ".exceptions",
    "CustomErrorResponse": ".config.model",
    "EdgeConfig": ".config.model",
    "EdgeError": ".exceptions",
    "EdgeMiddleware": ".doors.asgi",
    "EdgeSettings": ".config.settings",
    "EdgeWSGIMiddleware": ".doors.wsgi",
    "EventError": ".exceptions",
    "FunctionExecutionError": ".exceptions",
    "FunctionThrottledError": ".exceptions",
    "FunctionValidationError": ".exceptions",
    "HandlerLoadError": ".exceptions",
    "LambdaExecutionError": ".exceptions",
    "LambdaTimeoutError": ".exceptions",
    "LambdaValidationError": ".exceptions",
    "MemoryStorage": ".cache.memory",
    "NodeHandler": ".js",
    "Origin": ".config.model",
    "OriginError": ".exceptions",
    "OriginGroup": ".config.model",
    "OriginRequestPolicy": ".config.model",
    "RedisStorage": ".cache.redis",
    "ResponseHeader": ".config.response_headers",
    "ResponseHeadersPolicy": ".config.response_headers",
    "Storage": ".cache.entry",
    "Trigger": ".config.model",
    "load_config": ".config.loaders",
}


if not TYPE_CHECKING:  # a type checker sees the imports above: a misspelled name is an error

    def __getattr__(name: str) -> Any:
        module_name = _LAZY.get(name)
        if module_name is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module_name, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__version__ = "0.1.0"

__all__ = [
    "Behavior",
    "CacheEntry",
    "CachePolicy",
    "CloudFrontError",
    # JavaScript: CloudFront Functions and Node.js Lambda@Edge handlers
    "CloudFrontFunction",
    "ConfigurationError",
    "CorsConfig",
    "CustomErrorResponse",
    "EdgeConfig",
    "EdgeError",
    "EdgeMiddleware",
    "EdgeSettings",
    "EdgeWSGIMiddleware",
    "EventError",
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
    "OriginGroup",
    "OriginRequestPolicy",
    "RedisStorage",
    "ResponseHeader",
    "ResponseHeadersPolicy",
    "Storage",
    "Trigger",
    "load_config",
]
