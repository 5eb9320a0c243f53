"""TypedDicts for CloudFront's Lambda@Edge wire format (spec: lambda-edge.md section 1).

User handlers receive and return plain dicts exactly as on AWS; these types describe them.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

EventType = Literal["viewer-request", "origin-request", "origin-response", "viewer-response"]

VIEWER_REQUEST: EventType = "viewer-request"
ORIGIN_REQUEST: EventType = "origin-request"
ORIGIN_RESPONSE: EventType = "origin-response"
VIEWER_RESPONSE: EventType = "viewer-response"
EVENT_TYPES: tuple[EventType, ...] = (
    VIEWER_REQUEST,
    ORIGIN_REQUEST,
    ORIGIN_RESPONSE,
    VIEWER_RESPONSE,
)


class HeaderEntry(TypedDict):
    key: NotRequired[str]
    value: str


#: ``{"lower-case-name": [{"key": "Name-As-Sent", "value": "..."}, ...]}``; never collapsed.
CFHeaders = dict[str, list[HeaderEntry]]


class CFConfig(TypedDict):
    distributionDomainName: str
    distributionId: str
    eventType: EventType
    requestId: str


class CFBody(TypedDict):
    inputTruncated: bool
    action: Literal["read-only", "replace"]
    encoding: Literal["base64", "text"]
    data: str


class CFCustomOrigin(TypedDict):
    customHeaders: CFHeaders
    domainName: str
    keepaliveTimeout: int
    path: str
    port: int
    protocol: Literal["http", "https"]
    readTimeout: int
    sslProtocols: list[str]


class CFS3Origin(TypedDict):
    authMethod: Literal["origin-access-identity", "none"]
    customHeaders: CFHeaders
    domainName: str
    path: str
    region: str


class CFOrigin(TypedDict, total=False):
    custom: CFCustomOrigin
    s3: CFS3Origin


class CFRequest(TypedDict):
    clientIp: str
    headers: CFHeaders
    method: str
    querystring: str
    uri: str
    body: NotRequired[CFBody]
    origin: NotRequired[CFOrigin]


class CFResponse(TypedDict):
    status: str
    statusDescription: str
    headers: CFHeaders
    body: NotRequired[str]
    bodyEncoding: NotRequired[Literal["text", "base64"]]


class CFRecordCF(TypedDict):
    config: CFConfig
    request: CFRequest
    response: NotRequired[CFResponse]


class CFRecord(TypedDict):
    cf: CFRecordCF


class CFEvent(TypedDict):
    Records: list[CFRecord]
