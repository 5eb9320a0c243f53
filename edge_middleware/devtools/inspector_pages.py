"""The inspector's HTML pages: the request list and one request's detail page. The script and
the style sheet are package data files (``static/inspector.js``, ``static/inspector.css``)."""

from __future__ import annotations

import html
import json
import re
import time
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from .inspector import Inspector

#: Where the inspector lives (the dev server's ``POST /_edge/invalidate`` is not part of it).
PREFIX = "/_edge/"
API = PREFIX + "api/requests"
DETAIL = PREFIX + "requests/"
JS = PREFIX + "inspector.js"
CSS = PREFIX + "inspector.css"


def generated_by(steps: list[dict[str, Any]]) -> str:
    """The request trigger that answered with a response itself, or ``""``."""
    for step in steps:
        result = step["result"]
        if (
            step["ran"]
            and step["event_type"].endswith("request")
            and isinstance(result, dict)
            and "status" in result
            and "uri" not in result
        ):
            return str(step["event_type"])
    return ""


def static_file(name: str) -> bytes:
    """One of the inspector's static files, read from the installed package."""
    return resources.files(__package__).joinpath("static", name).read_bytes()


# -- pages -----------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _clock(epoch: float) -> str:
    t = time.localtime(epoch)
    return time.strftime("%H:%M:%S", t) + f".{int(epoch % 1 * 1000):03d}"


def _result_class(cache_result: str, status: int) -> str:
    if "Hit" in cache_result:
        return "hit"
    if cache_result.startswith("Lambda") and cache_result != "LambdaGeneratedResponse":
        return "error"
    if status >= 500 or cache_result == "Error":
        return "error"
    if cache_result in ("LambdaGeneratedResponse", "FunctionGeneratedResponse", "Redirect"):
        return "generated"
    return "miss"


def page(title: str, body: str, base: str = "") -> str:
    """An inspector page; ``base``: the mount its app is served under (``/p`` for ``/p/_edge/``),
    in front of every link."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no /favicon.ico request through the edge
        f"<title>{_e(title)}</title>"
        f'<link rel="stylesheet" href="{_e(base + CSS)}">'
        f'<script src="{_e(base + JS)}" defer></script>'
        f"</head><body>{body}</body></html>\n"
    )


def _row(s: dict[str, Any]) -> str:
    cls = _result_class(s["cache_result"], s["status"])
    behavior = s["behavior"] if s["behavior"] is not None else "-"
    return (
        f'<tr class="{cls}" data-seq="{s["seq"]}" data-url="{_e(s["url"])}">'
        f'<td class="time">{_clock(s["started_at"])}</td>'
        f'<td class="method">{_e(s["method"])}</td>'
        f'<td class="path"><a href="{_e(s["url"])}">{_e(s["path"])}</a></td>'
        f'<td class="behavior">{_e(behavior)}</td>'
        f'<td class="result"><span class="badge {cls}">{_e(s["cache_result"])}</span></td>'
        f'<td class="status">{s["status"]}</td>'
        f'<td class="duration">{s["duration_ms"]:.1f} ms</td>'
        "</tr>"
    )


_EMPTY_ROW = (
    '<tr class="empty"><td colspan="7">No requests yet: make one and it shows here.</td></tr>'
)


def not_found_page(base: str = "") -> str:
    return page(
        "request not found - edge inspector",
        f'<header><a href="{_e(base + PREFIX)}">&larr; all requests</a></header><main>'
        "<h1>Request not found</h1><p>It was never recorded, or newer requests pushed it out "
        "of the inspector's ring.</p></main>",
        base,
    )


def _secrets_note(show_secrets: bool) -> str:
    if show_secrets:
        return '<span class="note warn">secrets shown</span>'
    return '<span class="note">Authorization and cookie values masked</span>'


def list_body(inspector: Inspector, summaries: list[dict[str, Any]], base: str = "") -> str:
    """The list page's body; ``summaries``' urls already hold ``base`` (``Inspector.respond``)."""
    rows = "".join(_row(s) for s in summaries) or _EMPTY_ROW
    latest = max((s["seq"] for s in summaries), default=0)
    return (
        '<header><h1>Edge inspector</h1><span id="live" class="note">live</span>'
        f"{_secrets_note(inspector.show_secrets)}"
        f'<span class="note">last {inspector.capacity} requests kept</span>'
        f'<a class="note" href="{_e(base + API)}">JSON</a></header>'
        "<main><table><thead><tr><th>time</th><th>method</th><th>path</th><th>behavior</th>"
        "<th>cache result</th><th>status</th><th>total</th></tr></thead>"
        f'<tbody id="requests" data-after="{latest}" data-capacity="{inspector.capacity}" '
        f'data-instance="{inspector.instance}" data-api="{_e(base + API)}">{rows}</tbody>'
        "</table></main>"
    )


# -- the detail page -------------------------------------------------------------------------

_FIELD_TOKEN = re.compile(r'\.?([A-Za-z_$][\w$-]*)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]')


def _field_path(field: str, result: Any) -> tuple[str | int, ...]:
    """``response.headers["x-cache"][0].value`` -> ``("headers", "x-cache", 0, "value")``,
    relative to the handler's result."""
    parts: list[str | int] = []
    for m in _FIELD_TOKEN.finditer(field):
        if m.group(3) is not None:
            parts.append(int(m.group(3)))
        else:
            parts.append(m.group(1) if m.group(1) is not None else m.group(2))
    if (
        parts
        and parts[0] in ("request", "response", "result")
        and not (isinstance(result, dict) and parts[0] in result)
    ):
        parts = parts[1:]
    return tuple(parts)


def _resolve(value: Any, path: tuple[str | int, ...]) -> tuple[Any, ...]:
    """The longest prefix of ``path`` that exists in ``value``, with keys as spelled there
    (header names in a field are lower-case, the result's keys may not be)."""
    found: list[Any] = []
    for part in path:
        if isinstance(value, dict) and isinstance(part, str):
            key = (
                part
                if part in value
                else next((k for k in value if k.lower() == part.lower()), None)
            )
            if key is None:
                break
            found.append(key)
            value = value[key]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            found.append(part)
            value = value[part]
        else:
            break
    return tuple(found)


def _json_lines(
    value: Any, path: tuple[Any, ...] = (), prefix: str = "", indent: int = 0, comma: str = ""
) -> list[tuple[str, tuple[Any, ...]]]:
    """``json.dumps(value, indent=2, sort_keys=True)`` as lines, each with its value's path."""
    pad = "  " * indent
    if isinstance(value, dict) and value:
        lines = [(f"{pad}{prefix}{{", path)]
        keys = sorted(value)
        for i, k in enumerate(keys):
            key = json.dumps(k, ensure_ascii=False) + ": "
            sep = "," if i < len(keys) - 1 else ""
            lines.extend(_json_lines(value[k], (*path, k), key, indent + 1, sep))
        lines.append((f"{pad}}}{comma}", path))
        return lines
    if isinstance(value, list) and value:
        lines = [(f"{pad}{prefix}[", path)]
        for i, v in enumerate(value):
            sep = "," if i < len(value) - 1 else ""
            lines.extend(_json_lines(v, (*path, i), "", indent + 1, sep))
        lines.append((f"{pad}]{comma}", path))
        return lines
    text = json.dumps(value, ensure_ascii=False)
    return [(f"{pad}{prefix}{text}{comma}", path)]


def _json_block(value: Any, field: str = "") -> str:
    """Pretty JSON; with ``field``, the lines of that field (or of its closest existing
    parent) are highlighted."""
    mark: tuple[Any, ...] | None = None
    exact = False
    if field:
        wanted = _field_path(field, value)
        mark = _resolve(value, wanted)
        exact = len(mark) == len(wanted)
    out = []
    cls = ""
    first_of_mark = True
    for text, path in _json_lines(value):
        hit = mark is not None and path[: len(mark)] == mark
        if hit and not exact:  # only the parent's first line: the field itself is missing
            hit = first_of_mark and path == mark
            first_of_mark = first_of_mark and not hit
        css = ' class="hl"' if hit else ""
        out.append(f"<span{css}>{_e(text)}</span>")
    note = ""
    if field and not exact:
        note = f'<p class="note">{_e(field)} is not in the result (it was removed or moved)</p>'
    if field:
        cls += " whole"  # no scrolling: the highlighted lines stay in view
    return f'{note}<pre class="json{cls}">' + "\n".join(out) + "</pre>"


def _diff_block(diff: str) -> str:
    out = []
    for line in diff.split("\n"):
        if line.startswith(("+++", "---")):
            cls = "file"
        elif line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        else:
            cls = "ctx"
        out.append(f'<span class="{cls}">{_e(line)}</span>')
    return '<pre class="diff">' + "\n".join(out) + "</pre>"


def _error_box(name: str, reason: str, field: str | None, handler: str | None) -> str:
    parts = [
        f'<div class="error-box"><strong>{_e(name)}</strong> '
        f'<span class="reason">{_e(reason)}</span>'
    ]
    if field:
        parts.append(f'<div>offending field: <code class="error-field">{_e(field)}</code></div>')
    if handler:
        parts.append(f"<div>function: <code>{_e(handler)}</code></div>")
    parts.append("</div>")
    return "".join(parts)


def _step_html(step: dict[str, Any], error: dict[str, Any] | None) -> str:
    et = step["event_type"]
    if step["ran"]:
        state = "error" if step["error"] else "ran"
        badge = f'<span class="badge {state}">{"failed" if step["error"] else "ran"}</span>'
        timing = f'<span class="duration">{step["duration_ms"]:.1f} ms</span>'
        why = ""
    else:
        state = "skipped"
        badge = '<span class="badge skipped">skipped</span>'
        timing = ""
        why = f'<span class="skipped-because">{_e(step["skipped_because"])}</span>'
    page = step.get("error_page") or ""
    shown = f"{et} (error page {page})" if page else et
    head = f'<h3><span class="event-type">{_e(shown)}</span> {badge} {timing} {why}</h3>'
    if not step["ran"]:
        return f'<section class="step {state}" id="step-{_e(et)}">{head}</section>'
    parts = [head]
    if step["error"]:
        handler = error["handler"] if error else None
        name = error["name"] if error else "Error"
        parts.append(_error_box(name, step["error"], step["error_field"] or None, handler))
    output = step["output"] or ""
    parts.append(
        '<h4>printed</h4><pre class="output">'
        + (_e(output) if output else '<span class="none">(nothing)</span>')
        + "</pre>"
    )
    change = step.get("origin_change")
    if change:
        parts.append("<h4>origin change</h4>" + _json_block(change))
    if step["returned"]:
        parts.append("<h4>returned</h4>" + _json_block(step["result"], step["error_field"]))
    if step["diff"]:
        parts.append("<h4>diff: event &rarr; result</h4>" + _diff_block(step["diff"]))
    elif step["diff_note"]:
        parts.append(f'<p class="note">{_e(step["diff_note"])}</p>')
    parts.append(
        "<details><summary>event the handler received</summary>"
        + _json_block(step["event"])
        + "</details>"
    )
    anchor = f"step-{et}-error-page" if page else f"step-{et}"
    return f'<section class="step {state}" id="{_e(anchor)}">' + "".join(parts) + "</section>"


def _headers_table(headers: list[list[str]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in headers)
    return f'<table class="headers">{rows}</table>'


def detail_page(doc: dict[str, Any], show_secrets: bool, base: str = "") -> str:
    cls = _result_class(doc["cache_result"], doc["status"])
    behavior = doc["behavior"] if doc["behavior"] is not None else "-"
    err = doc["error"]
    summary = (
        f'<h1><span class="method">{_e(doc["method"])}</span> {_e(doc["path"])}</h1>'
        '<dl class="summary">'
        f'<dt>status</dt><dd class="status">{doc["status"]} {_e(doc["reason"])}</dd>'
        f'<dt>cache result</dt><dd><span class="badge {cls}" id="cache-result">'
        f"{_e(doc['cache_result'])}</span></dd>"
        f'<dt>behavior</dt><dd id="behavior"><code>{_e(behavior)}</code></dd>'
        f"<dt>total time</dt><dd>{doc['duration_ms']:.1f} ms</dd>"
        f"<dt>at</dt><dd>{_clock(doc['started_at'])}</dd>"
        f"<dt>request id</dt><dd><code>{_e(doc['request_id'])}</code></dd>"
        f"<dt>viewer</dt><dd>{_e(doc['scheme'])} HTTP/{_e(doc['protocol'])}, "
        f"{doc['bytes_received']} bytes in, {doc['bytes_sent']} bytes out</dd>"
        "</dl>"
    )
    error_html = ""
    if err:
        error_html = (
            '<section id="error">'
            + _error_box(
                f"{err['name']} ({err['status']})", err["reason"], err["field"], err["handler"]
            )
            + (
                f'<pre class="output" id="traceback">{_e(doc["traceback"])}</pre>'
                if doc.get("traceback")
                else ""
            )
            + "</section>"
        )
    # (the request's error names its own function: a page fetch's failure is the page's)
    steps = "".join(_step_html(s, None if s.get("error_page") else err) for s in doc["steps"])
    if doc["ttl_reason"]:
        ttl = doc["ttl_reason"]
    elif "Hit" in doc["cache_result"]:
        ttl = "served from the cache (the TTL was decided when the object was stored)"
    else:
        ttl = "nothing stored"
    key = doc["cache_key"]
    generated = generated_by(doc["steps"])
    if err:
        no_key = "none recorded: the viewer got CloudFront's error response"
    elif generated == "viewer-request":
        no_key = "none: the viewer-request function answered before the cache"
    else:
        no_key = "none: not cacheable (method, TTLs or forwarded headers of the behavior)"
    cache = (
        '<section id="cache"><h2>Cache</h2><dl class="summary">'
        "<dt>cache key</dt><dd>"
        + (f'<code id="cache-key">{_e(key)}</code>' if key else _e(no_key))
        + f'</dd><dt>TTL decision</dt><dd id="ttl-reason">{_e(ttl)}</dd></dl></section>'
    )
    origin = doc["origin_request"]
    removed = doc.get("removed_before_origin")
    removed_html = ""
    if removed:
        removed_html = (
            '<p class="note" id="removed">removed before the origin: '
            f"{_e(', '.join(removed))} (the behavior's policies do not forward them)</p>"
        )
    origin_html = (
        '<section id="origin-request"><h2>Request as the origin received it</h2>'
        + removed_html
        + (
            _json_block(origin)
            if origin is not None
            else '<p class="note">the origin was not contacted for this response</p>'
        )
        + "</section>"
    )
    body = (
        f'<header><a href="{_e(base + PREFIX)}">&larr; all requests</a>'
        f"{_secrets_note(show_secrets)}"
        f'<a class="note" href="{_e(base + API + "/" + quote(doc["request_id"], safe=""))}">'
        "JSON</a>"
        "</header><main>"
        + summary
        + error_html
        + '<section id="timeline"><h2>Timeline</h2>'
        + steps
        + "</section>"
        + cache
        + origin_html
        + '<section id="viewer-request"><h2>Request from the viewer</h2>'
        + _json_block(doc["viewer_request"])
        + "</section>"
        + '<section id="response-headers"><h2>Response headers sent to the viewer</h2>'
        + _headers_table(doc["response_headers"])
        + "</section></main>"
    )
    return page(f"{doc['method']} {doc['path']} - edge inspector", body, base)
