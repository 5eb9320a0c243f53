"""The ``context`` a Lambda@Edge handler receives (:class:`LambdaContext`, shaped like AWS
Lambda's Python context), and its fields for one handler, built once per name
(:func:`_context_fields`, copied by :meth:`~edge_middleware.core.handlers.HandlerRunner.context`
for each call)."""

from __future__ import annotations

import functools
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

__all__ = ["LambdaContext"]


@dataclass(frozen=True)
class CognitoIdentity:
    """``context.identity`` as AWS's Python runtime gives it outside a Cognito call."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass
class LambdaContext:
    """The ``context`` a handler receives, shaped like AWS Lambda's Python context."""

    function_name: str
    aws_request_id: str
    timeout: float
    function_version: str = "1"
    #: a str, as AWS's Python runtime gives it (read from an environment variable)
    memory_limit_in_mb: str = "128"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    #: as on Lambda: an object whose Cognito fields are None (not None itself)
    identity: Any = field(default_factory=CognitoIdentity)
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)
    #: What a handler object shows the trace instead of the pipeline's event and result, and
    #: asks of the pipeline (a CloudFront Function: its own event shape, an origin change);
    #: read back through :attr:`HandlerRunner.trace`.
    edge_trace: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = (
                "arn:aws:lambda:us-east-1:000000000000:function:"
                f"{self.function_name}:{self.function_version}"
            )
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/us-east-1.{self.function_name}"
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout

    if not TYPE_CHECKING:  # (mypy keeps checking the fields' names)

        def __getattr__(self, name: str) -> Any:
            # aws_request_id: the invocation's own id, a UUID per call as on Lambda (not
            # CloudFront's requestId, which the event carries for all four triggers); made when
            # first read, so a handler that never reads it costs nothing
            if name == "aws_request_id":
                value = self.__dict__[name] = str(uuid.uuid4())
                return value
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before CloudFront gives up on this invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


#: a Lambda function's ARN, with its version or alias if any
_LAMBDA_ARN = re.compile(
    r"^arn:aws[\w-]*:lambda:[\w-]*:\d*:function:(?P<name>[^:]+)(?::(?P<qual>[^:]+))?$"
)


@functools.lru_cache(maxsize=1024)
def _context_fields(name: str) -> dict[str, Any]:
    """A :class:`LambdaContext`'s fields for the handler named ``name`` (ARN, log group ...),
    built once: :meth:`HandlerRunner.context` copies them and sets the request's own. A
    function associated by its ARN sees that ARN's account, name and version (an alias or no
    qualifier, a template's: version "1", the ARN as given); the log group is always
    ``/aws/lambda/us-east-1.<name>`` (lambda-edge.md §3.4)."""
    arn = _LAMBDA_ARN.match(name)
    if arn is None:
        ctx = LambdaContext(_function_name(name), "", 1.0)
    else:
        qual = arn.group("qual") or ""
        ctx = LambdaContext(
            arn.group("name"),
            "",
            1.0,
            function_version=qual if qual.isdigit() else "1",
            invoked_function_arn=name if qual else f"{name}:1",
        )
    fields = dict(vars(ctx))
    del fields["aws_request_id"]  # each call's own, made when read (LambdaContext.__getattr__)
    return fields


def _function_name(name: str) -> str:
    # "arn:aws:lambda:us-east-1:123:function:auth:7" -> "auth"; "pkg.mod:fn" -> "fn"
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6] if len(parts) > 6 else name
    return name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
