'use strict';
// Benchmark: a Node.js Lambda@Edge viewer-request handler that adds one header.
exports.handler = async (event) => {
    const request = event.Records[0].cf.request;
    request.headers['x-rewritten'] = [{ key: 'X-Rewritten', value: '1' }];
    return request;
};
