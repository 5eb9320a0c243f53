'use strict';
// One long-lived worker of edge_middleware's Node.js pool (edge_middleware/js/engine.py).
//
// Requests arrive as JSON lines on stdin; replies go as JSON lines to the file descriptor named
// by EDGE_REPLY_FD, so nothing a handler writes to stdout can corrupt the protocol. The first
// line is the init message, which says what this worker runs:
//   {"kind": "lambda", "file": "/abs/handlers/auth.js", "handler": "handler"}
//       a Node.js Lambda@Edge handler, required (or imported, .mjs) once;
//   {"kind": "cf", "code": "...", "runtime": "cloudfront-js-2.0", "kvs": {...}, "limitMs": 50}
//       a CloudFront Function, run in a vm context that has no require, process, timers,
//       network or file system: only the modules CloudFront Functions documents.
// One request at a time per worker; the Python side kills the worker at the deadline.
const fs = require('fs');
const path = require('path');
const util = require('util');
const vm = require('vm');
const readline = require('readline');
const nodeCrypto = require('crypto');
const nodeQuerystring = require('querystring');
const url = require('url');

const replyFd = Number(process.env.EDGE_REPLY_FD);
delete process.env.EDGE_REPLY_FD; // the protocol's channel is not a handler's business
let logs = [];
let current = null; // id of the request running now

function send(obj) {
  sendRaw(JSON.stringify(obj) + '\n');
}

function sendRaw(text) {
  const data = Buffer.from(text);
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(replyFd, data, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function capture(level) {
  return (...args) => {
    const line = util.format(...args);
    logs.push(level ? `${level}\t${line}` : line);
  };
}
console.log = capture('INFO');
console.info = capture('INFO');
console.debug = capture('DEBUG');
console.warn = capture('WARN');
console.error = capture('ERROR');
console.trace = capture('TRACE');

function errorInfo(e) {
  if (e instanceof Error || (e && typeof e === 'object' && 'message' in e)) {
    return { name: String(e.name || 'Error'), message: String(e.message), stack: String(e.stack || '') };
  }
  return { name: 'Error', message: String(e), stack: '' };
}

function finish(id, reply, tail) {
  if (current !== id) return; // a late callback after the request was answered
  reply.id = id;
  reply.logs = logs.join('\n');
  let text;
  try {
    text = JSON.stringify(reply);
  } catch (e) { // a BigInt, a cycle: Lambda's runtime fails such a result at once
    const why = new Error(`The function's result cannot be serialized to JSON: ${e.message}`);
    text = JSON.stringify({ id, logs: reply.logs, ok: false, error: errorInfo(why) });
  }
  current = null;
  logs = [];
  if (tail === undefined) sendRaw(text + '\n');
  else sendRaw(text + '\t' + tail + '\n'); // JSON text never holds a raw tab
}

// Lambda's Node runtime reports an uncaught exception and ends the process (exit 129), so the
// next invocation starts with fresh module state: the reply says so ("exiting" first, for
// engine.py to see without parsing) and the worker ends. One after the answer is printed (the
// worker stays: the pool may already have given it the next request).
process.on('uncaughtException', (e) => {
  if (current !== null) {
    finish(current, { exiting: true, ok: false, error: errorInfo(e) });
    process.exit(129);
  }
  process.stderr.write(`ERROR\tUncaught ${util.inspect(e)}\n`);
});
// An unhandled rejection ends a Lambda's Node runtime too (Runtime.UnhandledPromiseRejection):
// the next call loads the module afresh. A CloudFront Function's only fails its call.
process.on('unhandledRejection', (e) => {
  if (current === null) return;
  if (runner !== null && runner.kind === 'lambda') {
    finish(current, { exiting: true, ok: false, error: errorInfo(e) });
    process.exit(129);
  }
  finish(current, { ok: false, error: errorInfo(e) });
});

// ---- Lambda@Edge (Node.js) --------------------------------------------------------------------
async function loadLambda(init) {
  let mod;
  if (init.file.endsWith('.mjs')) mod = await import(url.pathToFileURL(init.file).href);
  else mod = require(init.file);
  let fn = mod;
  for (const part of init.handler.split('.')) fn = fn == null ? undefined : fn[part];
  if (typeof fn !== 'function' && mod && mod.default) {
    fn = mod.default;
    for (const part of init.handler.split('.')) fn = fn == null ? undefined : fn[part];
  }
  if (typeof fn !== 'function') throw new Error(`${init.file} does not export a function ${init.handler}`);
  return fn;
}

function lambdaContext(c, id) {
  const deadline = Date.now() + c.remainingMs;
  const ctx = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: c.functionName,
    functionVersion: c.functionVersion,
    invokedFunctionArn: c.invokedFunctionArn,
    memoryLimitInMB: String(c.memoryLimitInMB),
    awsRequestId: c.awsRequestId,
    logGroupName: c.logGroupName,
    logStreamName: c.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // the legacy context methods
    succeed: (r) => finish(id, { ok: true, result: r === undefined ? null : r }),
    fail: (e) => finish(id, { ok: false, error: errorInfo(e) }),
    done: (e, r) => (e ? ctx.fail(e) : ctx.succeed(r)),
  };
  return ctx;
}

// What a handler's call left running: every async resource it made (timers, sockets, file
// reads, and the thread pool's zlib/crypto work, which process.getActiveResourcesInfo() does not
// list) and what those made in turn, until each is done (a promise: until it settles). Lambda's
// Node runtime answers null only once nothing of the handler's is left (its beforeExit).
const asyncHooks = require('async_hooks');
const work = {
  lineage: new Set(), // everything the call made, for telling what its callbacks make
  live: new Set(), // what is still running
  making: false, // the handler's own synchronous call is running
  onEmpty: null,
  hook: null,
  start() {
    this.lineage.clear();
    this.live.clear();
    this.onEmpty = null;
    if (this.hook === null) {
      this.hook = asyncHooks.createHook({
        init: (id, type, trigger) => this.made(id, type, trigger),
        destroy: (id) => this.done(id),
        promiseResolve: (id) => this.done(id),
      });
      this.hook.enable();
    }
  },
  made(id, type, trigger) {
    if (!(this.making || this.lineage.has(trigger) || this.lineage.has(asyncHooks.executionAsyncId()))) return;
    this.lineage.add(id);
    if (type !== 'TickObject' && type !== 'Microtask') this.live.add(id);
  },
  done(id) {
    if (this.live.delete(id) && this.live.size === 0 && this.onEmpty !== null) {
      const then = this.onEmpty;
      this.onEmpty = null;
      setImmediate(then);
    }
  },
};

function runLambda(fn, msg) {
  const id = msg.id;
  const ctx = lambdaContext(msg.context, id);
  const callback = (err, result) => {
    if (err) finish(id, { ok: false, error: errorInfo(err) });
    else finish(id, { ok: true, result: result === undefined ? null : result });
  };
  work.start();
  let out;
  work.making = true;
  try {
    out = fn(msg.event, ctx, callback);
  } catch (e) {
    finish(id, { ok: false, error: errorInfo(e) });
    return;
  } finally {
    work.making = false;
  }
  if (out && typeof out.then === 'function') {
    out.then(
      (r) => finish(id, { ok: true, result: r === undefined ? null : r }),
      (e) => finish(id, { ok: false, error: errorInfo(e) }),
    );
    return;
  }
  // Lambda's Node runtime uses a return value only when it is a promise, and otherwise waits
  // for callback / context.succeed until the event loop is empty, then answers null (a 502 at
  // the edge). A handler that called back is done; one that left work running is waited for
  // (its deadline still holds); one that left nothing answers null now, as deployed.
  const answerNull = () => {
    if (current !== id) return;
    if (work.live.size > 0) {
      work.onEmpty = answerNull;
      return;
    }
    logs.push(out !== undefined
      ? 'WARN\tThe handler returned a value that is not a promise, and Lambda\'s Node.js ' +
        'runtime ignores it: make the handler async or answer through its callback.'
      : 'WARN\tThe handler returned without calling back and left nothing running: ' +
        'Lambda\'s Node.js runtime answers null.');
    finish(id, { ok: true, result: null });
  };
  setImmediate(answerNull);
}

// ---- CloudFront Functions ---------------------------------------------------------------------
// The invoker is made inside the function's own context, once, by the prelude (cf_runtime.js),
// and then called directly: entering the context with vm's runInContext on every call cost
// 10-15 µs more a request.
// Its promises settle on this process's microtask queue (no microtaskMode is set), awaited in
// runCf.
const CF_PRELUDE = fs.readFileSync(path.join(__dirname, 'cf_runtime.js'), 'utf8');
const NJS_STRINGS = fs.readFileSync(path.join(__dirname, 'njs_strings.js'), 'utf8');

// CloudFront's crypto module: md5, sha1 and sha256, digested as hex, base64 or base64url
// (AWS: "Crypto module"); anything else fails here as it would once deployed.
const CF_HASHES = ['md5', 'sha1', 'sha256'];
const CF_DIGESTS = ['hex', 'base64', 'base64url'];

// 1.0's byte strings (String.bytesFrom, toBytes, toUTF8: njs_strings.js notes them) are bytes
// to crypto, as in njs; any other string is text, hashed as its UTF-8. Those made while the
// function loaded (a secret key at the top) are kept; those of a call, until the next call.
function byteStrings() {
  const kept = new Set();
  const call = new Set();
  return {
    kept,
    call,
    has: (v) => kept.has(v) || call.has(v),
  };
}

function asBytes(bytes, v, encoding) {
  if (bytes !== null && encoding === undefined && typeof v === 'string' && bytes.has(v)) {
    return Buffer.from(v, 'latin1');
  }
  return v;
}

function cfDigester(made, alg, bytesOk, bytes) {
  if (!CF_HASHES.includes(String(alg).toLowerCase())) {
    throw new Error(`Digest method not supported: ${alg} (md5, sha1 or sha256)`);
  }
  return {
    update(data, encoding) { made.update(asBytes(bytes, data, encoding), encoding); return this; },
    digest(encoding) {
      if (encoding === undefined && bytesOk) return made.digest(); // 2.0 has Buffer
      if (!CF_DIGESTS.includes(encoding)) {
        throw new Error(`Digest encoding not supported: ${encoding} (hex, base64 or base64url)`);
      }
      return made.digest(encoding);
    },
  };
}

function cfModules(runtime, bytes) {
  const v2 = runtime === 'cloudfront-js-2.0';
  const crypto = {
    createHash: (alg) => cfDigester(nodeCrypto.createHash(String(alg)), alg, v2, bytes),
    createHmac: (alg, key) =>
      cfDigester(nodeCrypto.createHmac(String(alg), asBytes(bytes, key)), alg, v2, bytes),
  };
  const mods = { crypto, querystring: nodeQuerystring };
  if (runtime === 'cloudfront-js-2.0') mods.buffer = { Buffer };
  return mods;
}

function loadCf(init) {
  const v1 = init.runtime === 'cloudfront-js-1.0';
  const bytes = v1 ? byteStrings() : null;
  const mods = cfModules(init.runtime, bytes);
  const sandbox = { __edge_kvs_json: JSON.stringify(init.kvs || {}), __edge_bytes: (v) => Buffer.from(String(v)) };
  if (bytes !== null) sandbox.__edge_byte_strings = bytes.kept;
  sandbox.console = { log: capture(''), info: capture(''), warn: capture(''), error: capture(''), debug: capture('') };
  const ctx = vm.createContext(sandbox, {
    name: 'cloudfront-function',
    codeGeneration: { strings: false, wasm: false },
  });
  vm.runInContext(CF_PRELUDE, ctx, { filename: path.join(__dirname, 'cf_runtime.js') });
  if (init.runtime === 'cloudfront-js-1.0') {
    vm.runInContext(NJS_STRINGS, ctx, { filename: path.join(__dirname, 'njs_strings.js') });
  }
  if (init.runtime === 'cloudfront-js-2.0') {
    mods.cloudfront = ctx.__edge_cloudfront;
    ctx.Buffer = Buffer; // 2.0 has Buffer as a global too (AWS's kvs-jwt-verify uses it so)
  }
  const invoke = ctx.__edge_invoke;
  // deleted from inside: a delete on the sandbox object leaves the context's global as it is
  vm.runInContext('delete globalThis.__edge_cloudfront; delete globalThis.__edge_invoke;', ctx);
  ctx.require = (name) => {
    if (Object.prototype.hasOwnProperty.call(mods, name)) return mods[name];
    throw new Error(`Cannot find module '${name}'`);
  };
  // cloudfront-js-2.0 code may use `import cf from 'cloudfront';` at the top: a module import
  // becomes a require of the same sandboxed module list.
  let code = init.code.replace(
    /^[ \t]*import[ \t]+(\w+)[ \t]+from[ \t]+['"]([\w-]+)['"][ \t]*;?/gm,
    "var $1 = require('$2');",
  );
  code += "\n;globalThis.__edge_handler_ok = typeof handler === 'function';";
  vm.runInContext(code, ctx, { filename: init.name || 'function.js', timeout: 1000 });
  if (!ctx.__edge_handler_ok) throw new Error('the function does not define a function handler(event)');
  vm.runInContext('delete globalThis.__edge_handler_ok;', ctx);
  if (bytes !== null) ctx.__edge_byte_strings = bytes.call; // (the load's stay in `kept`)
  return { invoke, bytes };
}

// No vm timeout per call: its watchdog thread costs 150-300 µs a call (and fired spuriously
// under load). A function that runs past its limit is stopped by the Python side, which kills
// this worker at the deadline (FunctionThrottledError) and starts a fresh one.
async function runCf(cf, msg) {
  const id = msg.id;
  const cpu0 = process.cpuUsage();
  let reply;
  let result;
  if (cf.bytes !== null) cf.bytes.call.clear();
  try {
    let st = cf.invoke(msg.eventJson);
    // a state has its own `ok` (read with this realm's hasOwnProperty); else it is the
    // invoker's promise of one
    if (!Object.prototype.hasOwnProperty.call(st, 'ok')) st = await st;
    if (st.ok) {
      reply = { ok: true, origin: st.origin };
      result = st.v;
    } else {
      reply = { ok: false, error: st.e };
    }
  } catch (e) {
    reply = { ok: false, error: errorInfo(e) };
  }
  const cpu = process.cpuUsage(cpu0);
  reply.computeUs = cpu.user + cpu.system; // CPU time, so a busy machine does not inflate it
  finish(id, reply, result);
}

// ---- the loop ---------------------------------------------------------------------------------
let runner = null;
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let seq = 0;
rl.on('line', async (line) => {
  if (line.charCodeAt(0) === 69 /* E */ && runner !== null && runner.kind === 'cf') {
    // a CloudFront Function's event, sent raw (see engine.py, NodePool.call_raw); the reply
    // is the reply object, a tab, then the result JSON
    current = ++seq;
    logs = [];
    runCf(runner.cf, { id: current, eventJson: line.slice(1) });
    return;
  }
  const msg = JSON.parse(line);
  if (runner === null) {
    try {
      runner = msg.kind === 'cf' ? { kind: 'cf', cf: loadCf(msg) } : { kind: 'lambda', fn: await loadLambda(msg) };
      send({ ready: true, logs: logs.join('\n') }); // what the module printed as it loaded
    } catch (e) {
      send({ ready: false, error: errorInfo(e), logs: logs.join('\n') });
      process.exit(1);
    }
    logs = [];
    return;
  }
  current = msg.id;
  logs = [];
  if (runner.kind === 'cf') runCf(runner.cf, msg);
  else runLambda(runner.fn, msg);
});
rl.on('close', () => process.exit(0));
