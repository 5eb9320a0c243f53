// Benchmark: a CloudFront Function (viewer request) that adds one header.
function handler(event) {
    var request = event.request;
    request.headers['x-rewritten'] = { value: '1' };
    return request;
}
