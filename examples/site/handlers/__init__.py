"""The site's Lambda@Edge functions, one module each, as they are deployed.

``HANDLERS`` maps the function names in ``distribution.json`` to this local code, for
``load_config("distribution.json", handlers=HANDLERS)``.
"""

HANDLERS = {
    "auth": "handlers.auth:handler",
    "security-headers": "handlers.security_headers:handler",
}
