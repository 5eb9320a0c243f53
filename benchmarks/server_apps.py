"""Apps served by uvicorn / gunicorn in case 3 (``benchmarks.server_apps:NAME``).

``*_bare`` is the constant app alone; ``*_edge`` is it wrapped with no triggers under a policy
that caches and keys on the whole query string: ``/`` is a hit after the first request, and
``/?n=<unique>`` (what the miss load script sends) is a miss that is fetched and stored.
"""

from __future__ import annotations

from edge_middleware import Behavior, EdgeMiddleware, EdgeWSGIMiddleware

from . import apps

asgi_bare = apps.starlette_app()
asgi_edge = EdgeMiddleware(
    apps.starlette_app(), config=apps.config(Behavior(cache=apps.CACHE_ALL_QS))
)

wsgi_bare = apps.flask_app()
wsgi_edge = EdgeWSGIMiddleware(
    apps.flask_app(), config=apps.config(Behavior(cache=apps.CACHE_ALL_QS))
)
