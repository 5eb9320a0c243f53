"""Every exception edge_middleware raises.

::

    EdgeError
    ├── ConfigurationError          bad config/template, raised at start; names the field
    ├── HandlerLoadError            a "module:function" string that cannot be imported
    ├── EventError                  a test event that is not a CloudFront event; names the field
    └── CloudFrontError             a failure CloudFront answers with an error response
        ├── LambdaValidationError   502  X-Cache: LambdaValidationError from cloudfront
        │   └── FunctionValidationError   502  a CloudFront Function's result failed validation
        ├── LambdaExecutionError    503  X-Cache: LambdaExecutionError from cloudfront
        │   ├── LambdaTimeoutError  503  (same page; the handler ran past 5 s / 30 s)
        │   └── FunctionExecutionError    503  a CloudFront Function threw / returned no object
        │       └── FunctionThrottledError  503  it ran far past its compute budget
        ├── OriginError             502  X-Cache: Error from cloudfront (origin failed)
        │   └── OriginTimeoutError  504  X-Cache: Error from cloudfront
        └── ViewerError             4xx  X-Cache: Error from cloudfront (403/413 ...)

Each :class:`CloudFrontError` carries the ``status``, the ``error_name`` that goes into
``X-Cache`` and the reason line shown on CloudFront's error page. The CloudFront Functions
errors subclass the Lambda ones so every rule for Lambda errors (the configurable status, the
custom error page and caching decisions) applies to them as well; only the name differs
(docs/cloudfront-functions.md lists the sources).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CloudFrontError",
    "ConfigurationError",
    "EdgeError",
    "EventError",
    "FunctionExecutionError",
    "FunctionThrottledError",
    "FunctionValidationError",
    "HandlerLoadError",
    "LambdaExecutionError",
    "LambdaTimeoutError",
    "LambdaValidationError",
    "MissingExtraError",
    "OriginError",
    "OriginHeaderTooBigError",
    "OriginTimeoutError",
    "ViewerError",
]


class EdgeError(Exception):
    """Base class of every exception raised by edge_middleware."""


class ConfigurationError(EdgeError, ValueError):
    """A configuration, template or handler mapping is invalid.

    The message names the field path (``DistributionConfig.CacheBehaviors.Items[2].PathPattern``),
    the value found and what was expected.
    """

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: {value!r} is invalid; expected {expected}")


class MissingExtraError(ConfigurationError, ImportError):
    """A feature needs an optional dependency that is not installed: the message names the
    extra to install. An :class:`EdgeError` (and an ``ImportError``, as it always was)."""

    def __init__(self, feature: str, needs: str, extra: str) -> None:
        self.field, self.value, self.expected = feature, needs, f"edge-middleware[{extra}]"
        Exception.__init__(self, f"{feature} needs {needs}: pip install 'edge-middleware[{extra}]'")


class HandlerLoadError(ConfigurationError):
    """A handler given as ``"module:function"`` could not be imported."""


class EventError(EdgeError, ValueError):
    """An event given to :func:`~edge_middleware.testing.run_trigger` or ``invoke`` is not a
    Lambda@Edge event, and can't be completed into one. ``field`` is the path of what is
    missing or wrong (``Records[0].cf.response``)."""

    def __init__(self, field: str, expected: str) -> None:
        self.field = field
        self.expected = expected
        super().__init__(f"event: {field}: expected {expected}")


class CloudFrontError(EdgeError):
    """A failure that CloudFront turns into an error response for the viewer."""

    status: int = 502
    error_name: str = "Error"
    #: The first line of CloudFront's error page.
    page_reason: str = "The request could not be satisfied."

    def __init__(self, reason: str, *, field: str | None = None, handler: str | None = None):
        self.reason = reason
        self.field = field
        self.handler = handler
        super().__init__(reason)

    @property
    def x_cache(self) -> str:
        return f"{self.error_name} from cloudfront"


class LambdaValidationError(CloudFrontError):
    """A handler returned a result CloudFront rejects (502)."""

    status = 502
    error_name = "LambdaValidationError"
    page_reason = "The Lambda function returned an invalid response."


class LambdaExecutionError(CloudFrontError):
    """A handler raised (503)."""

    #: a JavaScript handler's stack trace (Node.js), shown by the dev tools
    script_stack: str = ""
    status = 503
    error_name = "LambdaExecutionError"
    page_reason = (
        "The Lambda function associated with the CloudFront distribution is invalid or "
        "doesn't have the required permissions."
    )


class LambdaTimeoutError(LambdaExecutionError):
    """A handler ran past its event's timeout (5 s viewer events, 30 s origin events)."""


class FunctionExecutionError(LambdaExecutionError):
    """A CloudFront Function threw, or returned something that is not an event object (503).

    CloudFront logs ``FunctionExecutionError`` as the detailed result type.
    """

    status = 503
    error_name = "FunctionExecutionError"
    page_reason = "The CloudFront function associated with the CloudFront distribution is invalid."


class FunctionThrottledError(FunctionExecutionError):
    """A CloudFront Function ran far past its compute budget and was stopped (503)."""

    error_name = "FunctionThrottledError"


class FunctionValidationError(LambdaValidationError):
    """A CloudFront Function returned an object that fails CloudFront's validation (502)."""

    status = 502
    error_name = "FunctionValidationError"
    page_reason = "The CloudFront function returned an invalid value."


class OriginError(CloudFrontError):
    """The origin could not be reached or failed before its response started (502)."""

    status = 502
    error_name = "Error"
    page_reason = "CloudFront wasn't able to connect to the origin."


class OriginHeaderTooBigError(OriginError):
    """The origin's response headers are over CloudFront's 20,480 bytes (502; the access log's
    ``OriginHeaderTooBigError``)."""


class OriginTimeoutError(OriginError):
    """The origin did not answer within its read timeout (504)."""

    status = 504
    page_reason = "CloudFront attempted to establish a connection with the origin, but timed out."


class ViewerError(CloudFrontError):
    """CloudFront rejects the viewer's request itself (403 method, 413 too large ...)."""

    error_name = "Error"

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.page_reason = reason
