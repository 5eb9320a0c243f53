"""The public surface (API.md) stays importable, complete and sorted (httpx's
tests/test_exported_members.py)."""

from __future__ import annotations

import edge_middleware

#: Names API.md promises at the package root.
PROMISED = {
    "Behavior",
    "CachePolicy",
    "ConfigurationError",
    "EdgeConfig",
    "EdgeError",
    "EdgeMiddleware",
    "EdgeWSGIMiddleware",
    "MemoryStorage",
    "RedisStorage",
    "Trigger",
    "load_config",
}


def test_all_is_complete_and_sorted() -> None:
    exported = edge_middleware.__all__
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(edge_middleware).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("edge_middleware")
    }
    assert public <= set(exported), sorted(public - set(exported))
    assert set(exported) >= PROMISED
    for name in exported:
        assert hasattr(edge_middleware, name), name


def test_testing_helpers_are_importable() -> None:
    from edge_middleware.testing import EventBuilder, FakeContext, run_trigger

    event = EventBuilder().viewer_request("/a")
    assert event["Records"][0]["cf"]["config"]["eventType"] == "viewer-request"
    assert callable(run_trigger) and FakeContext is not None
