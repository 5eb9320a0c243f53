"""The site's edge functions, one file each, as they are deployed.

``HANDLERS`` maps the function names in ``distribution.json`` to this local code, for
``load_config("distribution.json", handlers=HANDLERS)``: Python Lambda@Edge functions as
``"module:function"``, the Node.js one as Lambda's ``Handler`` setting and the CloudFront
Function as its ``.js`` file (both relative to ``distribution.json``).
"""

HANDLERS = {
    "auth": "handlers.auth:handler",
    "security-headers": "handlers.security_headers:handler",
    "security-headers-node": "handlers/security-headers.handler",
    "spa-rewrite": "functions/spa-rewrite.js",
}
