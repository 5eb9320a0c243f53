// CloudFront Function (viewer request) for the single-page app under /app/: every path that
// is not a file (no extension) gets the app's shell, /app/index.html; the app routes in the
// browser. Runs in edge_middleware as on CloudFront (cloudfront-js-2.0).
function handler(event) {
    var request = event.request;
    var last = request.uri.split('/').pop();
    if (last.indexOf('.') === -1) {
        request.uri = '/app/index.html';
    }
    return request;
}
