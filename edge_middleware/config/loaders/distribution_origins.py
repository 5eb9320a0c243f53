"""The readers a DistributionConfig converter is built on, and its origins part: ``Origins``,
``OriginGroups``, custom origin settings and origin custom headers (lambda-edge.md §5.7,
§5.8). ``distribution.py`` reads the rest (behaviors, policies, associations, errors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...exceptions import ConfigurationError
from ..model import Origin, OriginGroup
from ..settings import EdgeSettings
from ._common import (
    HandlersArg,
    child,
    list_items,
    list_path,
    read_enum,
    read_int,
    read_mapping,
    read_str,
    require,
    validate_origin_custom_headers,
    wrap_errors,
)
from .resolver import Resolver, s3_region

__all__ = ["OriginReader"]

_ORIGIN_PROTOCOL = ("http-only", "match-viewer", "https-only")
_SSL = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")


class OriginReader:
    """Typed readers that resolve intrinsics first, and the distribution's origins."""

    def __init__(self, resolver: Resolver, handlers: HandlersArg, settings: EdgeSettings):
        self.r = resolver
        self.handlers = handlers
        self.settings = settings
        #: TargetOriginId -> the origin or origin group it names.
        self.targets: dict[str, str] = {}
        self.groups: list[OriginGroup] = []
        #: origin id -> its kind ("custom" or "s3")
        self.kinds: dict[str, str] = {}

    # -- small typed readers that resolve intrinsics first ---------------------------------

    def v(self, obj: Mapping[str, Any], key: str, path: str, default: Any = None) -> Any:
        raw = obj.get(key)
        if raw is None:
            return default
        value = self.r.value(raw, child(path, key))
        return default if value is None else value

    def req(self, obj: Mapping[str, Any], key: str, path: str) -> Any:
        return self.r.value(require(obj, key, path), child(path, key))

    def mapping(self, raw: Any, path: str) -> Mapping[str, Any]:
        return read_mapping(self.r.value(raw, path), path)

    def items(self, obj: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
        pairs = list_items(self.v(obj, key, path), child(path, key))
        return [(p, self.r.value(item, p)) for p, item in pairs]

    def names(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        return tuple(read_str(x, p, allow_empty=False) for p, x in self.items(obj, key, path))

    def s3_behind(self, target: str) -> bool:
        """Whether the origin ``target`` names, or a member of the group it names, is S3."""
        members = next((g.members for g in self.groups if g.id == target), (target,))
        return any(self.kinds.get(m) == "s3" for m in members)

    # -- origins ------------------------------------------------------------------------------

    def origins(self, dc: Mapping[str, Any], path: str) -> list[Origin]:
        origins: list[Origin] = []
        for item_path, item in self.items(dc, "Origins", path):
            origin = self.origin(item, item_path)
            if origin.id in self.targets:
                raise ConfigurationError(child(item_path, "Id"), origin.id, "a unique origin id")
            self.targets[origin.id] = origin.id
            self.kinds[origin.id] = origin.kind
            origins.append(origin)
        if not origins:
            raise ConfigurationError(child(path, "Origins"), [], "at least one origin")
        for group_path, group in self.items(dc, "OriginGroups", path):
            self.groups.append(self.origin_group(group, group_path))
        return origins

    def origin_group(self, raw: Any, path: str) -> OriginGroup:
        """``OriginGroups.Items[]``: ``Id``, ``Members`` (two ``OriginId``s, primary first),
        ``FailoverCriteria.StatusCodes``; ``SelectionCriteria`` is accepted and ignored."""
        g = read_mapping(raw, path)
        gid = read_str(self.req(g, "Id", path), child(path, "Id"), allow_empty=False)
        if gid in self.targets:
            raise ConfigurationError(child(path, "Id"), gid, "an id no origin or group has")
        members_path = child(path, "Members")
        # a member is an origin: an earlier group's id is a target, not a member
        group_ids = {g.id for g in self.groups}
        origin_ids = [o for o in self.targets if o not in group_ids]
        member_ids = []
        self.req(g, "Members", path)
        for member_path, member in self.items(g, "Members", path):
            origin_id = read_str(
                self.req(read_mapping(member, member_path), "OriginId", member_path),
                child(member_path, "OriginId"),
            )
            if origin_id not in origin_ids:
                raise ConfigurationError(
                    child(member_path, "OriginId"),
                    origin_id,
                    f"one of the origins {origin_ids} (a member cannot be an origin group)",
                )
            member_ids.append(origin_id)
        criteria_path = child(path, "FailoverCriteria")
        criteria = read_mapping(self.req(g, "FailoverCriteria", path), criteria_path)
        codes_path = child(criteria_path, "StatusCodes")
        self.req(criteria, "StatusCodes", criteria_path)
        codes = tuple(read_int(x, p) for p, x in self.items(criteria, "StatusCodes", criteria_path))
        self.targets[gid] = gid
        with wrap_errors(
            path,
            {
                "members": list_path(g.get("Members"), members_path),
                "failover_status_codes": list_path(criteria.get("StatusCodes"), codes_path),
            },
        ):
            return OriginGroup(gid, tuple(member_ids), codes)

    def origin(self, raw: Any, path: str) -> Origin:
        o = read_mapping(raw, path)
        fields: dict[str, Any] = {
            "id": read_str(self.req(o, "Id", path), child(path, "Id"), allow_empty=False),
            "domain_name": read_str(
                self.req(o, "DomainName", path), child(path, "DomainName"), allow_empty=False
            ),
            "origin_path": read_str(self.v(o, "OriginPath", path, ""), child(path, "OriginPath")),
        }
        where = {
            "id": child(path, "Id"),
            "domain_name": child(path, "DomainName"),
            "origin_path": child(path, "OriginPath"),
        }
        header_key = "OriginCustomHeaders" if "OriginCustomHeaders" in o else "CustomHeaders"
        fields["custom_headers"] = self.custom_headers(o, header_key, path)
        custom = o.get("CustomOriginConfig")
        s3 = o.get("S3OriginConfig")
        if custom is not None and s3 is not None:  # CloudFront: one or the other
            raise ConfigurationError(
                child(path, "S3OriginConfig"), s3, "no S3OriginConfig beside a CustomOriginConfig"
            )
        if custom is not None:
            cpath = child(path, "CustomOriginConfig")
            fields.update(self.custom_origin(self.mapping(custom, cpath), cpath, where))
        elif s3 is not None or s3_region(fields["domain_name"]) is not None:
            spath = child(path, "S3OriginConfig")
            s3map = self.mapping(s3, spath) if s3 is not None else {}
            oai = self.v(s3map, "OriginAccessIdentity", spath, "")
            fields["kind"] = "s3"
            fields["s3_origin_access_identity"] = read_str(
                oai, child(spath, "OriginAccessIdentity")
            )
        for attr, key, default in (
            ("connection_attempts", "ConnectionAttempts", 3),
            ("connection_timeout", "ConnectionTimeout", 10),
        ):
            where[attr] = child(path, key)
            fields[attr] = read_int(self.v(o, key, path, default), where[attr])
        oac = self.v(o, "OriginAccessControlId", path, "")
        fields["uses_oac"] = bool(read_str(oac, child(path, "OriginAccessControlId")))
        if fields["uses_oac"] and fields.get("s3_origin_access_identity"):
            # CloudFront's IllegalOriginAccessConfiguration: an OAI or an OAC, not both
            raise ConfigurationError(
                child(child(path, "S3OriginConfig"), "OriginAccessIdentity"),
                fields["s3_origin_access_identity"],
                '"" on an origin with an OriginAccessControlId',
            )
        with wrap_errors(path, where):
            return Origin(**fields)

    def custom_origin(
        self, c: Mapping[str, Any], path: str, where: dict[str, str]
    ) -> dict[str, Any]:
        ssl_key = "OriginSSLProtocols" if "OriginSSLProtocols" in c else "OriginSslProtocols"
        ssl = tuple(read_enum(x, p, _SSL) for p, x in self.items(c, ssl_key, path))
        keys = {
            "http_port": "HTTPPort",
            "https_port": "HTTPSPort",
            "protocol_policy": "OriginProtocolPolicy",
            "read_timeout": "OriginReadTimeout",
            "keepalive_timeout": "OriginKeepaliveTimeout",
        }
        where.update({attr: child(path, key) for attr, key in keys.items()})
        return {
            "kind": "custom",
            # Optional in CloudFormation (the CDK leaves them out): CloudFront uses 80 and 443.
            "http_port": read_int(self.v(c, "HTTPPort", path, 80), where["http_port"]),
            "https_port": read_int(self.v(c, "HTTPSPort", path, 443), where["https_port"]),
            "protocol_policy": read_enum(
                self.req(c, "OriginProtocolPolicy", path),
                where["protocol_policy"],
                _ORIGIN_PROTOCOL,
            ),
            "ssl_protocols": ssl or ("TLSv1.2",),
            "read_timeout": read_int(
                self.v(c, "OriginReadTimeout", path, 30), where["read_timeout"]
            ),
            "keepalive_timeout": read_int(
                self.v(c, "OriginKeepaliveTimeout", path, 5), where["keepalive_timeout"]
            ),
        }

    def custom_headers(
        self, o: Mapping[str, Any], key: str, path: str
    ) -> tuple[tuple[str, str], ...]:
        triples = []
        for item_path, item in self.items(o, key, path):
            h = read_mapping(item, item_path)
            name_path, value_path = child(item_path, "HeaderName"), child(item_path, "HeaderValue")
            name = read_str(self.req(h, "HeaderName", item_path), name_path)
            value = read_str(self.v(h, "HeaderValue", item_path, ""), value_path)
            triples.append((name_path, name, value_path, value))
        list_field = list_path(self.v(o, key, path), child(path, key))
        return validate_origin_custom_headers(triples, list_field)
