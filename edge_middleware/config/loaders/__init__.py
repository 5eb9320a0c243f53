"""Load a real CloudFront distribution, a CloudFormation/SAM template or our TOML file.

:func:`load_config` is the one entry point; the format is found from the content. The
modules behind it: ``distribution`` (a ``DistributionConfig``, API or CloudFormation shape),
``cloudformation`` (templates and intrinsics), ``policies`` (cache and origin request
policies) and ``toml`` (our own format, documented there).
"""

from __future__ import annotations

import codecs
import json
import os
import tomllib
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from ...exceptions import ConfigurationError
from ...js.paths import config_dir
from ..model import EdgeConfig, HandlerLike
from ..settings import EdgeSettings
from ._common import child, read_mapping
from .cloudformation import is_template, template_to_config
from .distribution import distribution_to_config
from .functions import KeyValueStoresArg
from .policies import PoliciesArg
from .resolver import LiteralResolver
from .toml import TOP_LEVEL, own_format_to_config
from .yaml_tags import TemplateLoader

__all__ = ["TemplateLoader", "detect_format", "load_config", "read_source"]

SUFFIXES = (".json", ".yaml", ".yml", ".template", ".toml")


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    handlers: Mapping[str, HandlerLike] | None = None,
    logical_id: str | None = None,
    settings: EdgeSettings | None = None,
    policies: PoliciesArg = None,
    key_value_stores: KeyValueStoresArg = None,
) -> EdgeConfig:
    """Build an :class:`~edge_middleware.EdgeConfig` from a distribution you already have.

    ``source`` is a path (``.json``, ``.yaml``/``.yml``, ``.template`` or ``.toml``) or an
    already parsed mapping, holding one of:

    * the output of ``aws cloudfront get-distribution-config`` (with its ``ETag``) or of
      ``get-distribution``, or a bare ``DistributionConfig``;
    * a CloudFormation or SAM template with an ``AWS::CloudFront::Distribution``, YAML
      short-form tags included (``!Ref``, ``!GetAtt``, ``!Sub`` ...);
    * our own format (TOML), described in :mod:`edge_middleware.config.loaders.toml`.

    :param handlers: the local code for each Lambda function, keyed by the exact
        ``LambdaFunctionARN``, the ARN without its version, the bare function name or (in a
        template) the function's logical id; values are callables or ``"module:function"``.
        In our TOML format handler strings are used directly and this mapping overrides them.
    :param logical_id: which ``AWS::CloudFront::Distribution`` of a template to load, when it
        has several.
    :param settings: the :class:`~edge_middleware.EdgeSettings`; a TOML ``[settings]`` table
        is applied on top of it.
    :param policies: cache or origin request policies by id, for a ``CachePolicyId`` that is
        not a managed one: a :class:`~edge_middleware.CachePolicy` /
        :class:`~edge_middleware.OriginRequestPolicy`, or the ``get-cache-policy`` output.
    :param key_value_stores: local data for the KeyValueStores a template's CloudFront
        Functions are associated with (``FunctionConfig.KeyValueStoreAssociations``): keyed by
        the store's ARN, id, name or logical id, a mapping or a JSON file (``{key: value}`` or
        AWS's import format). A store without one is a ``ConfigurationError`` naming the
        function and the ARN (``config/loaders/functions.py``).
    :raises ConfigurationError: for any invalid value; ``field`` is its path in the source
        (``DistributionConfig.CacheBehaviors.Items[2].PathPattern``).

    Example::

        config = load_config(
            "distribution.json",
            handlers={"auth": "handlers.auth:handler", "sec-headers": add_headers},
        )
        app = EdgeWSGIMiddleware(flask_app, config=config)
    """
    doc = read_source(source)
    settings = settings if settings is not None else EdgeSettings()
    # relative .js paths (CloudFront Functions, Node.js handlers) are the file's neighbours
    folder = None if isinstance(source, Mapping) else Path(source).resolve().parent
    with config_dir(folder):
        return _load(
            doc, handlers, logical_id, settings, policies, folder or Path.cwd(), key_value_stores
        )


def _load(
    doc: Mapping[str, Any],
    handlers: Mapping[str, HandlerLike] | None,
    logical_id: str | None,
    settings: EdgeSettings,
    policies: PoliciesArg,
    base: Path,
    key_value_stores: KeyValueStoresArg = None,
) -> EdgeConfig:
    kind = detect_format(doc)
    if key_value_stores and kind != "cloudformation":
        raise ConfigurationError(
            "key_value_stores",
            sorted(key_value_stores),
            "a CloudFormation template whose functions have KeyValueStoreAssociations (a "
            "DistributionConfig does not name its functions' stores: map the function to "
            "CloudFrontFunction('fn.js', key_value_store='kvs.json') in handlers=; in our "
            "format use key_value_store = 'kvs.json')",
        )
    if kind == "cloudformation":
        from .sam_handlers import template_handlers  # SAM/CFN python functions (issue 14.5)

        from_template = template_handlers(doc, base, handlers)
        if from_template:  # the user's mapping wins; it is looked up, never copied
            handlers = ChainMap(
                cast("dict[str, HandlerLike]", handlers or {}),
                cast("dict[str, HandlerLike]", from_template),
            )
        return template_to_config(
            doc,
            logical_id=logical_id,
            handlers=handlers,
            settings=settings,
            policies=policies,
            key_value_stores=key_value_stores,
        )
    if kind == "distribution":
        return _distribution(doc, handlers=handlers, settings=settings, policies=policies)
    return own_format_to_config(doc, handlers=handlers, settings=settings, policies=policies)


def detect_format(doc: Mapping[str, Any]) -> str:
    """``"cloudformation"``, ``"distribution"`` or ``"own"``, from the document's keys."""
    if is_template(doc):
        return "cloudformation"
    if (
        "DistributionConfig" in doc
        or "Distribution" in doc
        or "ETag" in doc
        or ("Origins" in doc and "DefaultCacheBehavior" in doc)
    ):
        return "distribution"
    if doc and not any(key in TOP_LEVEL for key in doc):
        raise ConfigurationError(
            "source",
            sorted(doc),
            "a DistributionConfig, a CloudFormation template (Resources) or our format "
            f"({', '.join(TOP_LEVEL)})",
        )
    return "own"


def _distribution(
    doc: Mapping[str, Any],
    *,
    handlers: Mapping[str, HandlerLike] | None,
    settings: EdgeSettings,
    policies: PoliciesArg,
) -> EdgeConfig:
    # get-distribution: {"ETag", "Distribution": {"Id", "DomainName", "DistributionConfig"}}
    outer, path = doc, ""
    if "Distribution" in doc:
        path = "Distribution"
        outer = read_mapping(doc["Distribution"], path)
    ids = {}
    for key in ("Id", "DomainName"):
        value = outer.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(child(path, key), value, "a string")
        ids[key] = value
    if "DistributionConfig" in outer:
        dc, path = outer["DistributionConfig"], child(path, "DistributionConfig")
    else:
        dc = outer
    return distribution_to_config(
        dc,
        path or "DistributionConfig",
        resolver=LiteralResolver(policies),
        handlers=handlers,
        settings=settings,
        distribution_id=ids["Id"],
        domain_name=ids["DomainName"],
    )


#: Byte order marks, longest first (a UTF-32-LE mark starts like a UTF-16-LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode(data: bytes, where: str) -> str:
    """A file's text: UTF-8, or the encoding its byte order mark names (Windows PowerShell
    writes UTF-16 with ``>`` and UTF-8 with a BOM with ``Out-File -Encoding utf8``)."""
    encoding, skip = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, skip = name, len(bom)
            break
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            where,
            f"{exc.reason} at byte {skip + exc.start}",
            f"a text file in {encoding}"
            + (" (or UTF-16/UTF-32 with a byte order mark)" if encoding == "utf-8" else ""),
        ) from None


def _syntax_error(exc: Exception) -> str:
    """The parser's problem and where, in one line: ``expected ',' or ']', but got '<stream
    end>' (at line 3, column 1)``, as JSON's and TOML's messages say it (PyYAML's first line is
    only its context: ``while parsing a flow node``)."""
    if isinstance(exc, yaml.MarkedYAMLError) and (exc.problem or exc.context):
        mark = exc.problem_mark or exc.context_mark
        where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"{exc.problem or exc.context}{where}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def read_source(source: str | os.PathLike[str] | Mapping[str, Any]) -> Mapping[str, Any]:
    """The parsed document: a mapping as it is, a file parsed by its suffix."""
    if isinstance(source, Mapping):
        return source
    if not isinstance(source, str | os.PathLike):
        raise ConfigurationError("source", source, "a path or a mapping")
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigurationError("source", str(path), f"a file ending in {', '.join(SUFFIXES)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError("source", str(path), f"a readable file ({exc.strerror})") from exc
    text = decode(data, str(path))
    doc: Any
    try:
        if suffix == ".toml":
            doc = tomllib.loads(text)
        elif suffix == ".json" or (suffix == ".template" and text.lstrip().startswith("{")):
            doc = json.loads(text)
        else:
            doc = yaml.load(text, Loader=TemplateLoader)  # a SafeLoader subclass
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError, TOMLDecodeError are ValueErrors
        raise ConfigurationError(str(path), _syntax_error(exc), f"valid {suffix[1:]}") from exc
    if not isinstance(doc, Mapping):
        raise ConfigurationError(str(path), type(doc).__name__, "a document that is an object")
    return doc
