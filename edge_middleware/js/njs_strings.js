// cloudfront-js-1.0's non-standard String methods (AWS: "JavaScript runtime 1.0 features",
// String): byte strings are strings of code points 0-255, as in njs. Run in the function's
// context before its code, by both engines, for runtime 1.0 only (2.0 code uses Buffer).
(function () {
  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function fromBase64(text) {
    var s = String(text).replace(/-/g, '+').replace(/_/g, '/').replace(/[=\s]/g, '');
    var out = '', bits = 0, value = 0;
    for (var i = 0; i < s.length; i++) {
      var c = B64.indexOf(s.charAt(i));
      if (c < 0) break;
      value = (value << 6) | c;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += String.fromCharCode((value >> bits) & 255);
      }
    }
    return out;
  }
  function fromHex(text) {
    var out = '';
    for (var i = 0; i + 1 < text.length; i += 2) {
      var b = parseInt(text.substr(i, 2), 16);
      if (isNaN(b)) break;
      out += String.fromCharCode(b);
    }
    return out;
  }
  function define(target, name, fn) {
    Object.defineProperty(target, name, { value: fn, writable: true, configurable: true });
  }
  // a byte string made here: noted for crypto (node_worker.js), which hashes its bytes, not
  // its UTF-8, as njs does (only one with a code point over 127 reads differently)
  function bytes(s) {
    var noted = globalThis.__edge_byte_strings;
    if (s !== null && noted && /[\u0080-\u00ff]/.test(s)) noted.add(s);
    return s;
  }
  // String.bytesFrom(array of octets | encoded string, 'hex' | 'base64' | 'base64url')
  define(String, 'bytesFrom', function (v, encoding) {
    if (typeof v === 'string') {
      if (encoding === 'hex') return bytes(fromHex(v));
      if (encoding === 'base64' || encoding === 'base64url') return bytes(fromBase64(v));
      throw new TypeError('Unknown encoding: ' + encoding);
    }
    var out = '';
    for (var i = 0; i < v.length; i++) out += String.fromCharCode(v[i] & 255);
    return bytes(out);
  });
  // a byte string to the string of the same code points
  define(String.prototype, 'fromBytes', function (start, end) {
    return String(this).slice(start, end);
  });
  // a byte string holding UTF-8 to the text (null when it is not valid UTF-8)
  define(String.prototype, 'fromUTF8', function (start, end) {
    try {
      return decodeURIComponent(escape(String(this).slice(start, end)));
    } catch (e) {
      return null;
    }
  });
  // the text as a byte string (null when a character is over 255)
  define(String.prototype, 'toBytes', function (start, end) {
    var s = String(this).slice(start, end);
    for (var i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) return null;
    return bytes(s);
  });
  // the text's UTF-8 bytes as a byte string
  define(String.prototype, 'toUTF8', function (start, end) {
    return bytes(unescape(encodeURIComponent(String(this).slice(start, end))));
  });
})();
