"use strict";
(function () {
  var body = document.getElementById("requests");
  if (!body) { return; }
  var after = Number(body.dataset.after || 0);
  var capacity = Number(body.dataset.capacity || 200);
  var instance = body.dataset.instance;
  var api = body.dataset.api || "/_edge/api/requests";  // the mount in front (/p/_edge/...)
  var live = document.getElementById("live");

  function pad(n, w) { n = String(n); while (n.length < w) { n = "0" + n; } return n; }
  function clock(epoch) {
    var d = new Date(epoch * 1000);
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) +
      "." + pad(d.getMilliseconds(), 3);
  }
  function kind(r) {
    var c = r.cache_result;
    if (c.indexOf("Hit") >= 0) { return "hit"; }
    if (c.indexOf("Lambda") === 0 && c !== "LambdaGeneratedResponse") { return "error"; }
    if (r.status >= 500 || c === "Error") { return "error"; }
    if (c === "LambdaGeneratedResponse" || c === "Redirect") { return "generated"; }
    return "miss";
  }
  function td(tr, cls, text) {
    var cell = document.createElement("td");
    cell.className = cls;
    if (text !== undefined) { cell.textContent = text; }
    tr.appendChild(cell);
    return cell;
  }
  function row(r) {
    var tr = document.createElement("tr");
    var k = kind(r);
    tr.className = k;
    tr.dataset.seq = r.seq;
    tr.dataset.url = r.url;
    td(tr, "time", clock(r.started_at));
    td(tr, "method", r.method);
    var link = document.createElement("a");
    link.href = r.url;
    link.textContent = r.path;
    td(tr, "path").appendChild(link);
    td(tr, "behavior", r.behavior === null ? "-" : r.behavior);
    var badge = document.createElement("span");
    badge.className = "badge " + k;
    badge.textContent = r.cache_result;
    td(tr, "result").appendChild(badge);
    td(tr, "status", String(r.status));
    td(tr, "duration", r.duration_ms.toFixed(1) + " ms");
    return tr;
  }
  body.addEventListener("click", function (ev) {
    var tr = ev.target.closest("tr[data-url]");
    if (tr && !ev.target.closest("a")) { window.location.href = tr.dataset.url; }
  });
  function poll() {
    fetch(api + "?summary=1&after=" + after, { cache: "no-store" })
      .then(function (resp) {
        if (!resp.ok) { throw new Error(String(resp.status)); }
        if (resp.headers.get("X-Edge-Inspector-Instance") !== instance) {
          window.location.reload();  // the server restarted: start over
          return null;
        }
        return resp.json();
      })
      .then(function (items) {
        live.textContent = "live";
        live.classList.remove("warn");
        if (!items || !items.length) { return; }
        var empty = body.querySelector("tr.empty");
        if (empty) { empty.remove(); }
        for (var i = items.length - 1; i >= 0; i--) {
          body.insertBefore(row(items[i]), body.firstChild);
          after = Math.max(after, items[i].seq);
        }
        while (body.rows.length > capacity) { body.deleteRow(-1); }
      })
      .catch(function () {
        live.textContent = "disconnected, retrying";
        live.classList.add("warn");
      })
      .then(function () { window.setTimeout(poll, 1000); });
  }
  window.setTimeout(poll, 1000);
})();
