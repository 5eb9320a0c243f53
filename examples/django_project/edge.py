"""The edge configuration shared by ``wsgi.py`` and ``asgi.py``."""

from edge_middleware import Behavior, EdgeConfig

config = EdgeConfig(
    default=Behavior(
        viewer_request="handlers:redirect_legacy",
        origin_response="handlers:not_found_page",
    )
)
