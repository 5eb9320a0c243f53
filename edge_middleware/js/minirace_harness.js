// The globals a CloudFront Function sees on the mini-racer engine (minirace.py): console,
// a querystring module, and __edge_invoke(eventJson) -> reply JSON (or a promise of it).
var __edge_logs = [];
function __edge_fmt(v) {
  if (typeof v === 'string') return v;
  try { var s = JSON.stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
}
function __edge_log() { __edge_logs.push(Array.prototype.map.call(arguments, __edge_fmt).join(' ')); }
var console = { log: __edge_log, info: __edge_log, warn: __edge_log, error: __edge_log, debug: __edge_log };
var __edge_bytes = function (v) { var s = String(v), out = []; for (var i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 255); return out; };
var __edge_querystring = {
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

var __edge_invoke = (function (s) {
  __edge_logs = [];
  globalThis.__edge_origin = undefined;
  function info(e) {
    return { name: String(e && e.name || 'Error'), message: String(e && e.message !== undefined ? e.message : e), stack: String(e && e.stack || '') };
  }
  function pack(ok, v) {
    return JSON.stringify({ ok: ok, resultJson: ok ? v : undefined, error: ok ? undefined : v,
      logs: __edge_logs.join('\n'), origin: globalThis.__edge_origin === undefined ? null : globalThis.__edge_origin });
  }
  var r;
  try { r = handler(JSON.parse(s)); } catch (e) { return pack(false, info(e)); }
  if (r && typeof r.then === 'function') {
    return r.then(function (v) { return pack(true, JSON.stringify(v === undefined ? null : v)); },
                  function (e) { return pack(false, info(e)); });
  }
  return pack(true, JSON.stringify(r === undefined ? null : r));
});
