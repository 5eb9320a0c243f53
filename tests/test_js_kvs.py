"""KeyValueStores of CloudFront Functions loaded from a template
(``FunctionConfig.KeyValueStoreAssociations``, ``AWS::CloudFront::KeyValueStore``), bound to
local data with ``load_config(key_value_stores=...)``, through both front doors."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    ConfigurationError,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    load_config,
)
from edge_middleware.config.loaders import TemplateLoader
from edge_middleware.js import CloudFrontFunction

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    from frontdoor_apps import make_flask_app, make_starlette_app
except ImportError:  # pragma: no cover
    from tests.frontdoor_apps import make_flask_app, make_starlette_app

if shutil.which("node") is None:  # pragma: no cover - .ci/run installs Debian's nodejs
    pytest.skip("needs node (apt-get install nodejs)", allow_module_level=True)

TEMPLATES = Path(__file__).parent / "fixtures" / "js" / "templates"
TEMPLATE = TEMPLATES / "kvs-redirect.yaml"
STORE_ARN = "arn:aws:cloudfront::123456789012:key-value-store/redirects"
FIELD = (
    "Resources.RedirectFunction.Properties.FunctionConfig.KeyValueStoreAssociations[0]"
    ".KeyValueStoreARN"
)

_configs: list[EdgeConfig] = []


@pytest.fixture(autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    while _configs:
        trig = _configs.pop().default.viewer_request
        if trig is not None and isinstance(trig.handler, CloudFrontFunction):
            trig.handler.close()


def _load(source: Any = TEMPLATE, **options: Any) -> EdgeConfig:
    cfg = load_config(source, **options)
    _configs.append(cfg)
    return cfg


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=TemplateLoader)
    return doc


def _get(kind: str, cfg: EdgeConfig, path: str) -> tuple[int, str | None, str]:
    """(status, Location, the path the app saw) through one door."""
    log: list[dict[str, Any]] = []
    if kind == "asgi":
        client = TestClient(EdgeMiddleware(make_starlette_app(log), config=cfg))
        r = client.get(path, follow_redirects=False)
        return r.status_code, r.headers.get("location"), log[-1]["path"] if log else ""
    app = make_flask_app(log)
    resp = Client(EdgeWSGIMiddleware(app.wsgi_app, config=cfg)).get(path)
    try:
        return resp.status_code, resp.headers.get("location"), log[-1]["path"] if log else ""
    finally:
        resp.close()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    "key",
    [
        "redirects",  # the store's Name (the ARN's last part)
        "RedirectStore",  # its logical id
        STORE_ARN,
        "arn:aws:s3:::site-config-bucket/redirects.json",  # its ImportSource
    ],
)
def test_template_store_bound_to_a_local_file(kind: str, key: str) -> None:
    cfg = _load(key_value_stores={key: TEMPLATES / "redirects.json"})
    fn = cfg.default.viewer_request.handler  # type: ignore[union-attr]
    assert isinstance(fn, CloudFrontFunction) and fn.runtime == "cloudfront-js-2.0"
    assert _get(kind, cfg, "/old-page")[:2] == (302, "/new-page")
    assert _get(kind, cfg, "/blog/2019")[:2] == (302, "/archive/2019")
    assert _get(kind, cfg, "/other") == (200, None, "/other")


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_template_store_bound_to_a_dict_relative_file_and_handler_override(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _load(key_value_stores={"redirects": {"/a": "/b"}})
    assert _get(kind, cfg, "/a")[:2] == (302, "/b")
    assert _get(kind, cfg, "/old-page") == (200, None, "/old-page")
    # a relative file is the template's neighbour, wherever the process runs
    monkeypatch.chdir(Path(__file__).parent)
    cfg = _load(TEMPLATE, key_value_stores={"redirects": "redirects.json"})
    assert _get(kind, cfg, "/old-page")[:2] == (302, "/new-page")
    # a .js file mapped in handlers= keeps the resource's runtime and KeyValueStore
    js = Path(__file__).parent / "fixtures" / "js" / "functions" / "kvs-redirect.js"
    cfg = _load(
        TEMPLATE,
        handlers={"kvs-redirect": str(js)},
        key_value_stores={"redirects": {"/old-page": "/elsewhere"}},
    )
    fn = cfg.default.viewer_request.handler  # type: ignore[union-attr]
    assert isinstance(fn, CloudFrontFunction) and fn.path == js
    assert _get(kind, cfg, "/old-page")[:2] == (302, "/elsewhere")


def test_unbound_store_is_refused_at_load_naming_function_and_arn() -> None:
    with pytest.raises(ConfigurationError) as err:
        _load()
    assert err.value.field == FIELD
    assert err.value.value == STORE_ARN
    assert "kvs-redirect" in str(err.value) and STORE_ARN in str(err.value)
    assert "key_value_stores" in str(err.value)
    with pytest.raises(ConfigurationError) as err:
        _load(key_value_stores={"someone-else": {"a": "b"}})
    assert err.value.field == FIELD


def test_bad_store_data_and_shapes_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="readable JSON file"):
        _load(key_value_stores={"redirects": TEMPLATES / "missing.json"})
    with pytest.raises(ConfigurationError) as err:
        _load(key_value_stores={"redirects": 42})
    assert err.value.field == "key_value_stores['redirects']"
    doc = _doc()
    config = doc["Resources"]["RedirectFunction"]["Properties"]["FunctionConfig"]
    config["KeyValueStoreAssociations"] *= 2  # CloudFront allows one store per function
    with pytest.raises(ConfigurationError, match="at most 1 KeyValueStore") as err:
        _load(doc, key_value_stores={"redirects": {}})
    assert err.value.field.endswith("FunctionConfig.KeyValueStoreAssociations")
    # a 1.0 function cannot have a KeyValueStore
    doc = _doc()
    doc["Resources"]["RedirectFunction"]["Properties"]["FunctionConfig"]["Runtime"] = (
        "cloudfront-js-1.0"
    )
    with pytest.raises(ConfigurationError, match=r"cloudfront-js-2\.0"):
        _load(doc, key_value_stores={"redirects": {}})


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_api_shaped_associations_and_a_literal_arn(kind: str) -> None:
    """``describe-function``'s ``{"Quantity", "Items"}`` and a literal ARN (a store made
    outside the template)."""
    doc = copy.deepcopy(_doc())
    arn = "arn:aws:cloudfront::111122223333:key-value-store/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    config = doc["Resources"]["RedirectFunction"]["Properties"]["FunctionConfig"]
    config["KeyValueStoreAssociations"] = {"Quantity": 1, "Items": [{"KeyValueStoreARN": arn}]}
    cfg = _load(doc, key_value_stores={"a1b2c3d4-5678-90ab-cdef-EXAMPLE11111": {"/x": "/y"}})
    assert _get(kind, cfg, "/x")[:2] == (302, "/y")
    with pytest.raises(ConfigurationError) as err:
        _load(doc)
    assert err.value.value == arn
    assert err.value.field.endswith("KeyValueStoreAssociations.Items[0].KeyValueStoreARN")


def test_key_value_stores_outside_a_template_is_refused() -> None:
    distribution = {
        "Origins": {"Quantity": 1, "Items": [{"Id": "app", "DomainName": "app.example.com"}]},
        "DefaultCacheBehavior": {"TargetOriginId": "app", "ViewerProtocolPolicy": "allow-all"},
    }
    with pytest.raises(ConfigurationError) as err:
        load_config(distribution, key_value_stores={"redirects": {}})
    assert err.value.field == "key_value_stores"


def test_cli_check_binds_a_store_with_kvs(capsys: pytest.CaptureFixture[str]) -> None:
    from edge_middleware.devtools.cli import main

    assert main(["check", str(TEMPLATE)]) == 1
    err = capsys.readouterr().err
    assert STORE_ARN in err and "kvs-redirect" in err
    assert main(["check", str(TEMPLATE), "--kvs", f"redirects={TEMPLATES / 'redirects.json'}"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["check", str(TEMPLATE), "--kvs", "redirects"]) == 1
    assert "STORE=FILE" in capsys.readouterr().err


def test_dev_server_config_loader_passes_kvs() -> None:
    from edge_middleware.devtools.devapp import load_edge_config

    cfg, path, _ = load_edge_config(
        str(TEMPLATE), key_value_stores={"RedirectStore": str(TEMPLATES / "redirects.json")}
    )
    _configs.append(cfg)
    assert path == TEMPLATE.resolve()
    assert _get("wsgi", cfg, "/old-page")[:2] == (302, "/new-page")


def test_reload_watches_the_store_file() -> None:
    cfg = _load(key_value_stores={"redirects": TEMPLATES / "redirects.json"})
    fn = cfg.default.viewer_request.handler  # type: ignore[union-attr]
    assert fn.source_files == ((TEMPLATES / "redirects.json").resolve(),)
