'use strict';
// Lambda@Edge (Node.js 20, origin response): the security headers for the /app/ single-page
// app, the Node.js twin of security_headers.py. Stored in the cache with the response.
const HEADERS = {
    'strict-transport-security': ['Strict-Transport-Security', 'max-age=63072000; includeSubDomains; preload'],
    'x-content-type-options': ['X-Content-Type-Options', 'nosniff'],
    'x-frame-options': ['X-Frame-Options', 'DENY'],
    'referrer-policy': ['Referrer-Policy', 'strict-origin-when-cross-origin'],
    'content-security-policy': ['Content-Security-Policy', "default-src 'self'"],
};

exports.handler = async (event) => {
    const response = event.Records[0].cf.response;
    for (const [name, [key, value]] of Object.entries(HEADERS)) {
        response.headers[name] = [{ key, value }];
    }
    return response;
};
