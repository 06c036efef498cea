"""Who is calling: the guards every page and every API route passes through.

Deny by default. A page needs a complete browser session unless its route is on
:data:`PUBLIC_PAGES`; a session with a step still pending (second factor, new password,
authenticator enrolment) is sent to that step and may only reach the pages of
:data:`STEP_PAGES`. An API route needs a bearer token unless its method and path are on
:data:`PUBLIC_API`.
Both lists are reviewed allowlists; ``tests/web/test_route_walk.py`` holds every route
to them. Permissions are then checked by the services, never here.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.routing import compile_path

from comity.errors import AuthenticationError
from comity.identity.authn import SessionView, resolve_session
from comity.identity.permissions import Actor, anonymous
from comity.identity.tokens import resolve_token
from comity.web.requests import client_ip, node_of, user_agent
from comity.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    PRESESSION_COOKIE,
    UNSAFE_METHODS,
    CsrfKeys,
)

SESSION_COOKIE = "comity_session"
PUBLIC_PAGES = frozenset({"/login", "/language"})
# (method, path). Peers witness the ledger through the three ledger paths: reading the
# latest checkpoint (not making one: POST on that path needs a token) and consistency
# proofs, and handing over cosignatures, which authenticate themselves. The node's
# descriptor is public only where the node publishes it (its route says no otherwise).
# Peers deliver envelopes, which their signatures authenticate against the trust list.
# Peers deliver large payloads: the offer is a manifest signed by a confirmed peer, each
# chunk is checked against it, and the status names a random id (web/api/payloads.py).
PUBLIC_API = frozenset(
    {
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/node/descriptor"),
        ("GET", "/api/v1/ledger/checkpoint"),
        ("GET", "/api/v1/ledger/proof/consistency"),
        ("POST", "/api/v1/ledger/cosignatures"),
        ("POST", "/api/v1/exchange/envelopes"),
        ("POST", "/api/v1/exchange/payloads"),
        ("PUT", "/api/v1/exchange/payloads/{payload_id}/chunks/{number}"),
        ("GET", "/api/v1/exchange/payloads/{payload_id}"),
    }
)
_PUBLIC_API_PATHS = tuple((method, compile_path(path)[0]) for method, path in PUBLIC_API)
"""``PUBLIC_API`` as patterns: its paths are route templates, some with parameters."""
SECOND_FACTOR_PAGE = "/login/second-factor"
PASSWORD_PAGE = "/account/password"  # noqa: S105 - a path
ENROL_PAGE = "/account/second-factor"
STEP_PAGES = frozenset({SECOND_FACTOR_PAGE, PASSWORD_PAGE, ENROL_PAGE, "/logout"})


class Redirect(Exception):
    """Raised by a guard to send the browser elsewhere (mapped to 303)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class CsrfRejected(Exception):
    pass


def pending_step(view: SessionView) -> str | None:
    if view.needs_second_factor:
        return SECOND_FACTOR_PAGE
    if view.must_change_password:
        return PASSWORD_PAGE
    if view.must_enrol_second_factor:
        return ENROL_PAGE
    return None


def _load_view(request: Request) -> SessionView | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    node = node_of(request)
    with node.uow() as uow:
        return resolve_session(
            uow, node.settings, token, ip=client_ip(request), user_agent=user_agent(request)
        )


async def page_guard(request: Request) -> None:
    """Establish the session, check CSRF on unsafe methods, enforce sign-in and steps."""
    node = node_of(request)
    keys = CsrfKeys(node.settings.secret_bytes())
    view = await run_in_threadpool(_load_view, request)
    request.state.view = view
    if view is not None:
        expected = keys.for_session(view.session.id)
    else:
        pre = request.cookies.get(PRESESSION_COOKIE, "")
        if not pre or len(pre) > 64:
            pre = keys.new_presession_value()
            request.state.new_presession = pre
        expected = keys.for_presession(pre)
    request.state.csrf_token = expected
    if request.method in UNSAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        # Only a POST can come from an HTML form; other methods come from scripts, which
        # send the header, and their bodies are theirs (an upload's chunk).
        if not given and request.method == "POST":
            form = await request.form()
            value = form.get(CSRF_FIELD, "")
            given = value if isinstance(value, str) else ""
        if not keys.matches(expected, given):
            raise CsrfRejected
    # Public and step pages have no path parameters, so the request path names them.
    path = request.url.path
    if path in PUBLIC_PAGES:
        return
    if view is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise Redirect("/login?next=" + quote(target, safe="/"))
    step = pending_step(view)
    if step is not None and path not in STEP_PAGES:
        raise Redirect(step)


def page_actor(request: Request) -> Actor:
    view: SessionView | None = request.state.view
    if view is None:
        return anonymous(client_ip(request), user_agent(request))
    return view.actor


def page_view(request: Request) -> SessionView:
    view: SessionView | None = request.state.view
    if view is None:
        raise Redirect("/login")
    return view


def api_guard(request: Request) -> None:
    """Resolve the bearer token (sync: FastAPI runs it in the thread pool)."""
    ip, agent = client_ip(request), user_agent(request)
    if any(
        method == request.method and path.match(request.url.path)
        for method, path in _PUBLIC_API_PATHS
    ):
        request.state.actor = anonymous(ip, agent)
        return
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationError("Send an API token: 'Authorization: Bearer comity_…'.")
    node = node_of(request)
    with node.uow() as uow:
        actor = resolve_token(uow, secret.strip(), ip=ip, user_agent=agent)
    if actor is None:
        raise AuthenticationError("The API token is unknown, expired or revoked.")
    request.state.actor = actor


def api_actor(request: Request) -> Actor:
    actor: Actor = request.state.actor
    return actor
