"""Helpers for testing Lambda@Edge handlers and apps wrapped in the edge middleware.

* :class:`EventBuilder` builds the four CloudFront event dicts with CloudFront's defaults;
* :func:`run_trigger` runs one handler the way CloudFront does (timeout, validation) and
  returns its normalised result, or raises the CloudFront error;
* :class:`FakeContext` is the Lambda ``context`` a handler receives;
* :class:`EdgeClock`, :func:`wrap_app` and :func:`edge_test_client` back the pytest fixtures
  (``edge_event``, ``edge_clock``, ``edge_client``) of
  :mod:`edge_middleware.devtools.pytest_plugin`.

Example::

    from edge_middleware.testing import EventBuilder, run_trigger

    event = EventBuilder().viewer_request("/account/", headers={"Cookie": "session=1"})
    result = run_trigger("handlers.auth:handler", event)
    assert result["uri"] == "/account/"
"""

from .clients import EdgeClock, edge_test_client, is_asgi_app, wrap_app
from .events import EventBuilder, HeadersArg
from .trigger import FakeContext, arun_trigger, run_trigger

__all__ = [
    "EdgeClock",
    "EventBuilder",
    "FakeContext",
    "HeadersArg",
    "arun_trigger",
    "edge_test_client",
    "is_asgi_app",
    "run_trigger",
    "wrap_app",
]
