// The `cloudfront` module of CloudFront Functions 2.0 (cf.kvs(), cf.updateRequestOrigin() ...),
// evaluated inside the function's own context by both engines (node_worker.js, minirace.py):
// its promises belong to that context. Takes (and deletes) globalThis.__edge_kvs_json and
// __edge_bytes, and leaves the module in globalThis.__edge_cloudfront and the invoker in
// globalThis.__edge_invoke; the engine takes both and deletes them before the function's code
// runs. A call's state (its result, the origin change it asked for) lives in this closure,
// where the function's code cannot name it, read or set it.
(function (g) {
  // kept before the function's code runs, which may replace them
  var P = Promise, stringify = JSON.stringify, parse = JSON.parse;
  var data = JSON.parse(g.__edge_kvs_json);
  var bytes = g.__edge_bytes;
  delete g.__edge_kvs_json;
  delete g.__edge_bytes;
  var origin = null;
  var stores = Object.keys(data);
  function store(id) {
    var items = data[id] || {};
    // get() answers with a promise, its failures (a key that is not a string or not there, a
    // value that is not the JSON asked for) rejecting it, as AWS's helper methods do
    function read(key, opts) {
      if (typeof key !== 'string') throw new Error('KeyValueStore key must be a string');
      if (!Object.prototype.hasOwnProperty.call(items, key)) {
        throw new Error('KeyValueStore: key not found: ' + key);
      }
      var v = items[key];
      var format = opts && opts.format || 'string';
      if (format === 'json') return JSON.parse(v);
      if (format === 'bytes') return bytes(v);
      return String(v);
    }
    function value(key, opts) {
      try {
        return Promise.resolve(read(key, opts));
      } catch (e) {
        return Promise.reject(e);
      }
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

  function failed(e) {
    return { ok: false, e: { name: String(e && e.name || 'Error'), message: String(e && e.message !== undefined ? e.message : e), stack: String(e && e.stack || '') } };
  }
  function done(v) {
    var json;
    try { json = stringify(v === undefined ? null : v); } catch (e) { return failed(e); }
    return { ok: true, v: json, origin: origin };
  }
  // invoke(eventJson) -> { ok: true, v: the result's JSON, origin: the change or null }, or
  // { ok: false, e: { name, message, stack } }, or a promise of one. `handler` is the global
  // the function's code defines, looked up at each call.
  g.__edge_invoke = function (input) {
    origin = null;
    var r;
    try { r = handler(parse(input)); } catch (e) { return failed(e); }
    if (r && typeof r.then === 'function') {
      return new P(function (resolve) {
        try { r.then(function (v) { resolve(done(v)); }, function (e) { resolve(failed(e)); }); }
        catch (e) { resolve(failed(e)); }
      });
    }
    return done(r);
  };
})(globalThis);
