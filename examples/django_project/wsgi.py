"""WSGI entry point: Django's WSGI handler behind the CloudFront edge.

Run it from this folder, e.g. ``gunicorn wsgi:application`` (or ``python manage.py runserver``,
which uses ``WSGI_APPLICATION = "wsgi.application"``).
"""

import os

from django.core.wsgi import get_wsgi_application
from edge import config

from edge_middleware import EdgeWSGIMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

application = EdgeWSGIMiddleware(get_wsgi_application(), config=config)
