"""Layer 7: the two front doors (``EdgeMiddleware`` for ASGI, ``EdgeWSGIMiddleware`` for WSGI),
which only perform the pipeline's effects, and proxied HTTP origins."""
