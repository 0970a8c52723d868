"""Who may talk to the desk, and the headers every answer carries (ASGI middleware).

The desk shows passports and residence cards, so:
- bound to loopback without a token, only requests whose Host is a loopback name are served
  (a web page cannot reach the desk through DNS rebinding);
- with a token, every request carries it: a first visit with `?token=` sets an HttpOnly cookie
  and is redirected to the same URL without it (so it stays out of history and bookmarks);
- every state-changing request is a POST carrying a CSRF token: an HMAC of a random per-browser
  cookie under a per-process secret (`csrf_field`, `csrf_ok`);
- every answer has a strict Content-Security-Policy, nosniff, frame denial and no-store;
- one log line per request: method, path without the query, status. Never a document's
  contents, a form field or the token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import sys
from collections.abc import Callable
from typing import TextIO
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from packager.desk.config import DeskConfig, is_loopback

TOKEN_COOKIE = "packager_desk_token"
CSRF_COOKIE = "packager_desk_csrf"
CSRF_FIELD = "csrf"

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_REPLACED = {name for name, _ in SECURITY_HEADERS}


def _token_cookie_value(token: str) -> str:
    # The cookie holds a digest, not the token itself: a copied cookie jar does not reveal what to type.
    return hashlib.sha256(b"packager-desk-token\0" + token.encode()).hexdigest()


def csrf_field(request: Request, secret: bytes) -> str:
    """The CSRF token for this browser's forms (the cookie comes from the request or is set now)."""
    cookie = request.cookies.get(CSRF_COOKIE) or request.scope.get("state", {}).get("csrf_cookie", "")
    return hmac.new(secret, cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, secret: bytes, submitted: object) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not isinstance(submitted, str) or not submitted:
        return False
    expected = hmac.new(secret, cookie.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, submitted)


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """Wraps the desk's application; see the module docstring for what it enforces."""

    def __init__(self, app: ASGIApp, cfg: DeskConfig, *, log: TextIO | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.app = app
        self.token = cfg.token
        self.loopback_only = is_loopback(cfg.host) and not cfg.token
        self.log = log if log is not None else sys.stderr
        self.clock = clock or (lambda: dt.datetime.now().astimezone())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        status = {"code": 0}
        new_cookies: list[str] = []
        if CSRF_COOKIE not in request.cookies:
            value = secrets.token_urlsafe(32)
            scope.setdefault("state", {})["csrf_cookie"] = value
            new_cookies.append(f"{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax")

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _REPLACED]
                headers += list(SECURITY_HEADERS)
                headers += [(b"set-cookie", c.encode("latin-1")) for c in new_cookies]
                message = {**message, "headers": headers}
            await send(message)

        try:
            refusal = self._refusal(request, new_cookies)
            if refusal is not None:
                await refusal(scope, receive, send_secured)
            else:
                await self.app(scope, receive, send_secured)
        finally:
            self._log(request, status["code"])

    def _refusal(self, request: Request, new_cookies: list[str]) -> Response | None:
        if self.loopback_only and not is_loopback(_host_name(request.headers.get("host", ""))):
            return PlainTextResponse("refused: the desk answers only to localhost / 127.0.0.1\n", status_code=421)
        if not self.token:
            return None
        expected = _token_cookie_value(self.token)
        if hmac.compare_digest(request.cookies.get(TOKEN_COOKIE, ""), expected):
            return None
        given = request.query_params.get("token")
        if given is not None and request.method in ("GET", "HEAD") and hmac.compare_digest(
            given.encode(), self.token.encode()
        ):
            rest = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "token"]
            target = request.url.path + ("?" + urlencode(rest) if rest else "")
            new_cookies.append(f"{TOKEN_COOKIE}={expected}; Path=/; HttpOnly; SameSite=Lax")
            return RedirectResponse(target, status_code=303)
        return PlainTextResponse(
            "token required: open the address `packager desk` printed, with ?token=…\n", status_code=401
        )

    def _log(self, request: Request, code: int) -> None:
        # The path names the case (as the watcher's log does) and the file, never its contents;
        # the query string (the token on a first visit) is left out.
        stamp = self.clock().isoformat(timespec="seconds")
        print(f"{stamp} {request.method} {request.url.path} {code}", file=self.log, flush=True)

