"""Layers 1-3: CloudFront's wire format (types, headers, limits), the pure conversions between
it and ASGI/WSGI, result validation, and running handlers. Imports nothing above it."""
