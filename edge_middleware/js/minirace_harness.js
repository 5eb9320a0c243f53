// What a CloudFront Function sees on the mini-racer engine (minirace.py), as one function
// expression: minirace.py calls it with (globalThis, the cloudfront module or null) after
// cf_runtime.js and before the function's code. It takes cf_runtime.js's invoker out of the
// globals, sets the globals a function may use (console, require) and returns the engine's
// invoker, invoke(eventJson) -> reply JSON (or a promise of it). The call's logs stay in a
// closure here, never in a global the function's code could read or set. It also takes away
// what the node engine's sandbox does not have: timers, eval and new Function.
(function (g, cloudfront) {
  var invoke = g.__edge_invoke;
  delete g.__edge_invoke;
  delete g.__edge_cloudfront;
  var P = Promise, stringify = JSON.stringify, logs = [];
  sandbox(g);
  function fmt(v) {
    if (typeof v === 'string') return v;
    try { var s = stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  }
  function log() { logs.push(Array.prototype.map.call(arguments, fmt).join(' ')); }
  g.console = { log: log, info: log, warn: log, error: log, debug: log };
  // node's querystring module, as the node engine gives it (parse/decode, stringify/encode,
  // escape, unescape; a "+" is a space, a bad escape stays as it is)
  function unescapeQs(s) {
    try { return decodeURIComponent(s); } catch (e) {
      return s.replace(/(%[0-9A-Fa-f]{2})+/g, function (run) {
        try { return decodeURIComponent(run); } catch (e2) { return run; }
      });
    }
  }
  function plain(v) {
    var t = typeof v;
    return t === 'string' ? v : (t === 'number' && isFinite(v)) || t === 'boolean' || t === 'bigint'
      ? String(v) : '';
  }
  var querystring = {
    escape: function (s) { return encodeURIComponent(String(s)); },
    unescape: function (s) { return unescapeQs(String(s)); },
    parse: function (qs, sep, eq) {
      sep = sep || '&'; eq = eq || '=';
      var out = {};
      if (typeof qs !== 'string' || !qs) return out;
      qs.split(sep).forEach(function (part) {
        if (!part) return;
        var i = part.indexOf(eq),
            k = querystring.unescape((i < 0 ? part : part.slice(0, i)).replace(/\+/g, ' ')),
            v = i < 0 ? '' : querystring.unescape(part.slice(i + eq.length).replace(/\+/g, ' '));
        if (Object.prototype.hasOwnProperty.call(out, k)) out[k] = [].concat(out[k], v); else out[k] = v;
      });
      return out;
    },
    stringify: function (obj, sep, eq) {
      sep = sep || '&'; eq = eq || '=';
      if (obj === null || typeof obj !== 'object') return '';
      var parts = [];
      Object.keys(obj).forEach(function (k) {
        var key = querystring.escape(k) + eq, v = obj[k];
        if (Array.isArray(v)) {
          v.forEach(function (x) { parts.push(key + querystring.escape(plain(x))); });
        } else {
          parts.push(key + querystring.escape(plain(v)));
        }
      });
      return parts.join(sep);
    },
  };
  querystring.decode = querystring.parse;
  querystring.encode = querystring.stringify;
  var mods = { querystring: querystring };
  if (cloudfront) mods.cloudfront = cloudfront;
  g.require = function require(n) {
    if (Object.prototype.hasOwnProperty.call(mods, n)) return mods[n];
    throw new Error("Cannot find module '" + n + "'");
  };
  function pack(st) {
    return stringify({ ok: st.ok, resultJson: st.v, error: st.e, logs: logs.join('\n'),
      origin: st.origin || null });
  }
  return function (s) {
    logs = [];
    var st = invoke(s);
    return st instanceof P ? st.then(pack) : pack(st);
  };

  // The node engine runs a function in a vm context with no timers and no code generation
  // from strings (node_worker.js); CloudFront Functions have neither (docs/cloudfront-functions.md
  // section 4). mini-racer's context has its own setTimeout/clearTimeout (declared with var, so
  // they can be emptied, not deleted) and no per-context switch for eval: both go here.
  function sandbox(g) {
    ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', '__timer_manager'].forEach(
      function (name) { if (!delete g[name]) g[name] = undefined; });
    if (typeof __TimerManager !== 'undefined') __TimerManager = undefined;
    var noCode = function Function() {
      throw new EvalError('Code generation from strings disallowed for this context');
    };
    noCode.prototype = g.Function.prototype;  // instanceof Function still holds
    g.Function = noCode;
    g.eval = function eval() { return noCode(); };
    // what reaches the constructors without naming them: (function () {}).constructor ...
    [function () {}, async function () {}, function* () {}, async function* () {}].forEach(
      function (f) {
        Object.defineProperty(Object.getPrototypeOf(f), 'constructor',
          { value: noCode, writable: true, configurable: true });
      });
  }
})
