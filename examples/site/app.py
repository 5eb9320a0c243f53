r"""The site's origin: a plain Starlette app that knows nothing about the edge.

``distribution.json`` puts CloudFront in front of it; serve both from this folder with (each
function of the distribution gets its local code; ``make demo`` runs the same)::

    edge-middleware serve app:app --config distribution.json \
        --handler auth=handlers.auth:handler \
        --handler security-headers=handlers.security_headers:handler \
        --handler security-headers-node=handlers/security-headers.handler \
        --handler spa-rewrite=functions/spa-rewrite.js

Pages: ``/`` and ``/login`` (cached by the default behavior), ``/account/`` (signed-in
visitors only: the ``auth`` viewer-request function), ``/static/site.css`` (cached for a day
or more), ``/api/time`` and ``/api/login`` (never cached; they see the viewer's cookies), and
``/app/...``, a single-page app: a CloudFront Function rewrites every route to
``/app/index.html`` and a Node.js origin-response function adds its security headers.
"""

import html
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
PAGE = """<!doctype html>
<html><head><title>{title}</title><link rel="stylesheet" href="/static/site.css"></head>
<body><nav><a href="/">Home</a><a href="/account/">Account</a><a href="/api/time">API</a></nav>
<h1>{title}</h1>{body}</body></html>
"""


def page(title: str, body: str, cache_control: str) -> HTMLResponse:
    content = PAGE.format(title=html.escape(title), body=body)
    return HTMLResponse(content, headers={"Cache-Control": cache_control})


async def home(request: Request) -> HTMLResponse:
    body = "<p>Served by the app, cached at the edge for a minute.</p>"
    return page("Example site", body, "public, max-age=60")


async def login(request: Request) -> HTMLResponse:
    body = (
        '<form method="post" action="/api/login"><label>Name <input name="user" value="guest">'
        "</label> <button>Sign in</button></form>"
    )
    return page("Sign in", body, "public, max-age=60")


async def api_login(request: Request) -> RedirectResponse:
    # Under /api/*: a behavior that forwards cookies. CloudFront drops Set-Cookie from the
    # responses of behaviors that forward none (the default one here).
    form = parse_qs((await request.body()).decode("utf-8"))
    user = (form.get("user") or ["guest"])[0]
    response = RedirectResponse("/account/", status_code=303)
    response.set_cookie("session", user, httponly=True, samesite="lax", path="/")
    return response


async def account(request: Request) -> HTMLResponse:
    user = html.escape(request.cookies.get("session", ""))
    body = (
        f"<p>Signed in as <b>{user}</b>.</p>"
        '<form method="post" action="/account/logout"><button>Sign out</button></form>'
    )
    return page("Your account", body, "private, no-store")


async def logout(request: Request) -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie("session", path="/")
    return response


async def api_time(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "now": datetime.now(UTC).isoformat(timespec="seconds"),
            "signed_in_as": request.cookies.get("session"),
        }
    )


async def spa(request: Request) -> HTMLResponse:
    # the single-page app's shell: every /app/ path gets it (the spa-rewrite CloudFront
    # Function), and the browser shows the route
    body = '<p id="route"></p><script>route.textContent = location.pathname;</script>'
    return page("Single-page app", body, "public, max-age=300")


app = Starlette(
    routes=[
        Route("/", home),
        Route("/login", login),
        Route("/api/login", api_login, methods=["POST"]),
        Route("/account/", account),
        Route("/account/logout", logout, methods=["POST"]),
        Route("/api/time", api_time),
        Route("/app/index.html", spa),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
)
