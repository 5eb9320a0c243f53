// The `cloudfront` module of CloudFront Functions 2.0 (cf.kvs(), cf.updateRequestOrigin() ...),
// evaluated inside the function's own context by both engines (node_worker.js, minirace.py):
// its promises belong to that context. Takes (and deletes) globalThis.__edge_kvs_json and
// __edge_bytes, leaves the module in globalThis.__edge_cloudfront and the call's origin change
// behind globalThis.__edge_take_origin (a function returning it, null for none, and forgetting
// it); the engine takes both and deletes them before the function's code runs, so the change
// is held here, where the function's code cannot name it.
(function (g) {
  var data = JSON.parse(g.__edge_kvs_json);
  var bytes = g.__edge_bytes;
  delete g.__edge_kvs_json;
  delete g.__edge_bytes;
  var origin = null;
  var stores = Object.keys(data);
  function store(id) {
    var items = data[id] || {};
    function value(key, opts) {
      if (typeof key !== 'string') throw new Error('KeyValueStore key must be a string');
      if (!Object.prototype.hasOwnProperty.call(items, key)) {
        return Promise.reject(new Error('KeyValueStore: key not found: ' + key));
      }
      var v = items[key];
      var format = opts && opts.format || 'string';
      if (format === 'json') return Promise.resolve(JSON.parse(v));
      if (format === 'bytes') return Promise.resolve(bytes(v));
      return Promise.resolve(String(v));
    }
    return {
      get: value,
      exists: function (key) { return Promise.resolve(Object.prototype.hasOwnProperty.call(items, key)); },
      meta: function () {
        return Promise.resolve({ creationDateTime: '1970-01-01T00:00:00Z', lastUpdatedDateTime: '1970-01-01T00:00:00Z', keyCount: Object.keys(items).length });
      },
    };
  }
  g.__edge_cloudfront = {
    kvs: function (id) {
      if (id === undefined) {
        if (stores.length !== 1) throw new Error('cf.kvs() needs a KeyValueStore id when ' + stores.length + ' stores are associated');
        id = stores[0];
      }
      if (!Object.prototype.hasOwnProperty.call(data, id)) {
        if (stores.length === 1) id = stores[0];
        else throw new Error('No KeyValueStore associated with id ' + id);
      }
      return store(id);
    },
    updateRequestOrigin: function (params) { origin = { update: JSON.parse(JSON.stringify(params)) }; },
    selectRequestOriginById: function (id) { origin = { select: String(id) }; },
    createRequestOriginGroup: function (params) { origin = { group: JSON.parse(JSON.stringify(params)) }; },
  };
  g.__edge_take_origin = function () { var o = origin; origin = null; return o; };
})(globalThis);
