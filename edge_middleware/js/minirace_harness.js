// What a CloudFront Function sees on the mini-racer engine (minirace.py), as one function
// expression: minirace.py calls it with (globalThis, the cloudfront module or null) after
// cf_runtime.js and before the function's code. It sets the globals a function may use
// (console, require) and returns the invoker, invoke(eventJson) -> reply JSON (or a promise of
// it). The call's logs and origin change stay in closures here, never in globals the function's
// code could read or set (node_worker.js keeps them the same way).
(function (g, cloudfront) {
  var take = g.__edge_take_origin;
  delete g.__edge_take_origin;
  delete g.__edge_cloudfront;
  var P = Promise, stringify = JSON.stringify, parse = JSON.parse, logs = [];
  function fmt(v) {
    if (typeof v === 'string') return v;
    try { var s = stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  }
  function log() { logs.push(Array.prototype.map.call(arguments, fmt).join(' ')); }
  g.console = { log: log, info: log, warn: log, error: log, debug: log };
  var querystring = {
    parse: function (qs) {
      var out = {};
      String(qs || '').split('&').forEach(function (part) {
        if (!part) return;
        var i = part.indexOf('='), k = decodeURIComponent(i < 0 ? part : part.slice(0, i)),
            v = i < 0 ? '' : decodeURIComponent(part.slice(i + 1).replace(/\+/g, ' '));
        if (Object.prototype.hasOwnProperty.call(out, k)) out[k] = [].concat(out[k], v); else out[k] = v;
      });
      return out;
    },
    stringify: function (obj) {
      var parts = [];
      Object.keys(obj || {}).forEach(function (k) {
        [].concat(obj[k]).forEach(function (v) { parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v)); });
      });
      return parts.join('&');
    },
  };
  var mods = { querystring: querystring };
  if (cloudfront) mods.cloudfront = cloudfront;
  g.require = function require(n) {
    if (Object.prototype.hasOwnProperty.call(mods, n)) return mods[n];
    throw new Error("Cannot find module '" + n + "'");
  };
  function info(e) {
    return { name: String(e && e.name || 'Error'), message: String(e && e.message !== undefined ? e.message : e), stack: String(e && e.stack || '') };
  }
  function pack(ok, v) {
    var reply = stringify({ ok: ok, resultJson: ok ? v : undefined, error: ok ? undefined : v,
      logs: logs.join('\n'), origin: take() });
    logs = [];
    return reply;
  }
  function done(v) {
    try { return pack(true, stringify(v === undefined ? null : v)); } catch (e) { return pack(false, info(e)); }
  }
  return function invoke(s) {
    logs = [];
    take();
    var r;
    try { r = handler(parse(s)); } catch (e) { return pack(false, info(e)); }
    if (r && typeof r.then === 'function') {
      return new P(function (resolve) {
        try { r.then(function (v) { resolve(done(v)); }, function (e) { resolve(pack(false, info(e))); }); }
        catch (e) { resolve(pack(false, info(e))); }
      });
    }
    return done(r);
  };
})
