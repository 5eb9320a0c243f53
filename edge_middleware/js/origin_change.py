"""``cf.updateRequestOrigin()`` / ``cf.selectRequestOriginById()`` /
``cf.createRequestOriginGroup()`` as the pipeline's origin change
(docs/cloudfront-functions.md §4, "Origin modification").

:func:`origin_change` turns what the function asked for (recorded by ``cf_runtime.js``) into
``{"select": id}``, ``{"update": {Origin field: value}}`` or ``{"group": {"members": (primary,
secondary), "codes": (status, ...)}}``; ``core.origins.function_origin`` and
``function_group`` apply it to the distribution's origins when the request goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import FunctionExecutionError

__all__ = ["FAILOVER_STATUSES", "IGNORED_PARAMETERS", "origin_change"]

#: Accepted and documented by CloudFront, with no local effect (there is no Origin Shield,
#: no signing to S3 and no IPv6 choice here).
IGNORED_PARAMETERS = frozenset({"originShield", "originAccessControlConfig", "ipAddressType"})
_TIMEOUTS = {"readTimeout": "read_timeout", "connectionTimeout": "connection_timeout"}
_KNOWN = frozenset(
    {
        "domainName",
        "originPath",
        "customHeaders",
        "connectionAttempts",
        "timeouts",
        "customOriginConfig",
        *IGNORED_PARAMETERS,
    }
)


def _bad(handler: str, param: str, value: Any, expected: str) -> FunctionExecutionError:
    return FunctionExecutionError(
        f"cf.updateRequestOrigin(): {param} {value!r} is invalid; expected {expected}",
        field=f"updateRequestOrigin.{param}",
        handler=handler,
    )


def _int(handler: str, param: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _bad(handler, param, value, "a whole number")
    return int(value)


def _object(handler: str, param: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(handler, param, value, "an object")
    return value


def _update(params: Any, handler: str) -> dict[str, Any]:
    params = _object(handler, "parameters", params)
    unknown = sorted(set(params) - _KNOWN)
    if unknown:
        raise _bad(handler, unknown[0], params[unknown[0]], f"one of {sorted(_KNOWN)}")
    out: dict[str, Any] = {}
    if "domainName" in params:
        domain = params["domainName"]
        if not isinstance(domain, str) or not domain:
            raise _bad(handler, "domainName", domain, "a DNS name")
        out["domain_name"] = domain
    if "originPath" in params:
        path = params["originPath"]
        if not isinstance(path, str):
            raise _bad(handler, "originPath", path, "'' or /path")
        out["origin_path"] = path
    if "customHeaders" in params:
        headers = _object(handler, "customHeaders", params["customHeaders"])
        for name, value in headers.items():
            if not isinstance(value, str):
                raise _bad(handler, f"customHeaders.{name}", value, "a string")
        # the given object replaces the origin's custom headers; {} removes them all
        out["custom_headers"] = tuple((str(k), v) for k, v in headers.items())
    if "connectionAttempts" in params:
        out["connection_attempts"] = _int(
            handler, "connectionAttempts", params["connectionAttempts"]
        )
    if "timeouts" in params:
        for key, value in _object(handler, "timeouts", params["timeouts"]).items():
            if key not in _TIMEOUTS:
                raise _bad(handler, f"timeouts.{key}", value, f"one of {sorted(_TIMEOUTS)}")
            out[_TIMEOUTS[key]] = _int(handler, f"timeouts.{key}", value)
    if "customOriginConfig" in params:
        config = _object(handler, "customOriginConfig", params["customOriginConfig"])
        protocol = config.get("protocol", "https")
        if protocol not in ("http", "https"):
            raise _bad(handler, "customOriginConfig.protocol", protocol, "http | https")
        out["protocol_policy"] = f"{protocol}-only"
        if "port" in config:
            out[f"{protocol}_port"] = _int(handler, "customOriginConfig.port", config["port"])
        if "sslProtocols" in config:
            ssl = config["sslProtocols"]
            if not isinstance(ssl, list) or not all(isinstance(p, str) for p in ssl):
                raise _bad(handler, "customOriginConfig.sslProtocols", ssl, "a list of names")
            out["ssl_protocols"] = tuple(ssl)
    return out


def origin_change(recorded: Any, handler: str) -> dict[str, Any] | None:
    """What ``cf_runtime.js`` recorded (the last origin call of the invocation wins), as the
    pipeline's change; ``None`` when the function changed nothing it can apply.

    :raises FunctionExecutionError: parameters CloudFront would refuse.
    """
    if not isinstance(recorded, Mapping):
        return None
    if "select" in recorded:
        return {"select": str(recorded["select"])}
    if "update" in recorded:
        return {"update": _update(recorded["update"], handler)}
    if "group" in recorded:
        return {"group": _group(recorded["group"], handler)}
    return None


#: The statuses an origin group may fail over on (CloudFront's origin group failover criteria).
FAILOVER_STATUSES = frozenset({400, 403, 404, 416, 500, 502, 503, 504})
_GROUP_KNOWN = frozenset({"originIds", "failoverCriteria", "selectionCriteria"})


def _group(params: Any, handler: str) -> dict[str, Any]:
    """``cf.createRequestOriginGroup({originIds, failoverCriteria: {statusCodes},
    selectionCriteria})``: two origin ids, primary first, and the statuses that fail over."""

    def bad(param: str, value: Any, expected: str) -> FunctionExecutionError:
        return FunctionExecutionError(
            f"cf.createRequestOriginGroup(): {param} {value!r} is invalid; expected {expected}",
            field=f"createRequestOriginGroup.{param}",
            handler=handler,
        )

    if not isinstance(params, Mapping):
        raise bad("parameters", params, "an object")
    unknown = sorted(set(params) - _GROUP_KNOWN)
    if unknown:
        raise bad(unknown[0], params[unknown[0]], f"one of {sorted(_GROUP_KNOWN)}")
    ids = params.get("originIds")
    if not (isinstance(ids, list) and len(ids) == 2 and all(isinstance(i, str) for i in ids)):
        raise bad("originIds", ids, "two origin ids, the primary first")
    if ids[0] == ids[1]:
        raise bad("originIds", ids, "two different origin ids")
    criteria = params.get("failoverCriteria")
    codes = criteria.get("statusCodes") if isinstance(criteria, Mapping) else None
    if not (isinstance(codes, list) and codes and all(c in FAILOVER_STATUSES for c in codes)):
        raise bad("failoverCriteria.statusCodes", codes, f"some of {sorted(FAILOVER_STATUSES)}")
    selection = params.get("selectionCriteria", "default")
    if selection not in ("default", "media-quality-based"):
        raise bad("selectionCriteria", selection, "default | media-quality-based")
    return {"members": (ids[0], ids[1]), "codes": tuple(int(c) for c in codes)}
