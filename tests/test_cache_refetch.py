"""Cache fixes from the HTTP-semantics bug hunt, on both doors and both storages
(caching.md §1.4, §1.9, §1.10, §1.11, §1.14; decisions.md #37).

* ``If-None-Match: *`` matches any cached object, tagged or not (RFC 9110 §13.1.2).
"""

from __future__ import annotations

from tests.support.edge_cache import HIT, MISS, MakeEdge, cache_fixtures

door, store, edge = cache_fixtures()


def test_if_none_match_star_matches_an_untagged_object(edge: MakeEdge) -> None:
    e = edge()
    e.route("/tagged", headers={"Cache-Control": "max-age=60", "ETag": '"v1"'}, body=b"tagged")
    e.route("/untagged", headers={"Cache-Control": "max-age=60"}, body=b"untagged")
    for path in ("/tagged", "/untagged"):
        assert e.get(path).x_cache == MISS
        r = e.get(path, {"If-None-Match": "*"})
        assert (r.status, r.x_cache, r.body) == (304, HIT, b""), path
        assert e.calls(path) == 1
