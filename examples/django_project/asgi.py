"""ASGI entry point: Django's ASGI handler behind the CloudFront edge.

Run it from this folder: ``uvicorn asgi:application``.
"""

import os

from django.core.asgi import get_asgi_application
from edge import config

from edge_middleware import EdgeMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

application = EdgeMiddleware(get_asgi_application(), config=config)
