"""Request dependencies as ``Annotated`` aliases: the shared context, a
database session, the service clock's now, and the authenticated key."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import ADMIN, OPERATOR, SCIENTIST, STATION, Principal
from api.context import AppContext
from api.routing import IN_ROUTE, MAKES_REQUEST_SESSION
from groundstation.apikeys import authenticate, hash_key


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for the request, ended here once for every route: when the
    route function returns (or raises) and its answer is serialized, before
    the response is sent (``scope="function"``), the transaction it left
    open is rolled back and the connection handed back to the pool; a
    streamed body never holds one. Routes commit through the service
    functions; they never roll back or close the session themselves.

    A sync route closes its session itself on its route thread as it returns
    (``api.routing.SessionEndingRoute``): FastAPI validates the answer on a
    route thread too, and a transaction held while waiting for one is how the
    API stalled. What is left here is async routes' sessions.

    Creating a session does no I/O, so it happens on the event loop (a sync
    generator dependency costs two thread hops per request); closing it does
    I/O only if a transaction is open, and then it runs on threads of its own.

    Takes the request, not ``CtxDep``: each dependency in the chain costs
    FastAPI's solving on every request (``auth_dep``)."""
    ctx: AppContext = request.app.state.ctx
    session = ctx.session_factory()
    try:
        yield session
    finally:
        if session.info.get(IN_ROUTE):
            # The route function still runs on its thread (this request was
            # cancelled, e.g. at shutdown): it closes the session as it ends
            # (api.routing); closing here would race it.
            pass
        elif session.in_transaction():
            # Not on the route threads: routes waiting there for SQLite's
            # write lock, held by this very transaction, would keep it open
            # until the busy timeout (every SQLite transaction begins IMMEDIATE).
            await asyncio.get_running_loop().run_in_executor(_closing_threads(), session.close)
        else:
            session.close()


setattr(get_session, MAKES_REQUEST_SESSION, True)  # api.routing.check_routes


@functools.cache
def _closing_threads() -> ThreadPoolExecutor:
    """The threads that end requests' transactions, apart from the route
    threads (a pool of its own, bound to no event loop, made on first use)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="session-close")


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_now(ctx: CtxDep) -> datetime:
    return ctx.clock.now()


NowDep = Annotated[datetime, Depends(get_now)]

_bearer = HTTPBearer(auto_error=False, description="API key from `groundstation keys create`")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The key's principal (``principal_of``)."""
    return await principal_of(request.app.state.ctx, credentials)


async def principal_of(
    ctx: AppContext, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The key's principal: from ``ctx.key_cache`` when this process verified
    the key in the last GS_API_KEY_CACHE_S seconds (no thread, no database),
    else looked up in a thread and remembered."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send it as 'Authorization: Bearer <key>' "
            "(create one with `groundstation keys create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key_hash = hash_key(credentials.credentials)
    principal = ctx.key_cache.get(key_hash)
    if principal is not None:
        return principal
    row = await run_in_threadpool(_look_up_key, ctx, credentials.credentials)
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "API key is unknown or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = Principal(*row)
    ctx.key_cache.put(key_hash, principal)
    return principal


def _look_up_key(
    ctx: AppContext, key: str
) -> tuple[str, str, str, str, tuple[str, ...], str] | None:
    # One statement outside any transaction: no BEGIN/COMMIT round trips, and
    # on SQLite no write lock (its transactions begin IMMEDIATE).
    with ctx.engine.connect() as conn:
        return authenticate(conn.execution_options(isolation_level="AUTOCOMMIT"), key=key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _role_dep(
    *roles: str,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """The dependency authenticating the key and requiring one of ``roles``:
    one dependency, not a chain over ``PrincipalDep`` and ``CtxDep``
    (FastAPI solves each link of a chain on every request: about a third of
    a ``GET /contacts``'s CPU went there, bench/api.py)."""

    async def dep(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal = await principal_of(request.app.state.ctx, credentials)
        principal.require(*roles)
        return principal

    return dep


AdminDep = Annotated[Principal, Depends(_role_dep(ADMIN))]
OperatorDep = Annotated[Principal, Depends(_role_dep(ADMIN, OPERATOR))]
ReaderDep = Annotated[Principal, Depends(_role_dep(ADMIN, OPERATOR, SCIENTIST))]
StationKeyDep = Annotated[Principal, Depends(_role_dep(STATION))]


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _allowed_query(route: Any, dependant: Any) -> frozenset[str]:
    """The query parameters the operation (its dependency tree) takes: walked
    once per route and remembered on it, not on every request."""
    allowed: frozenset[str] | None = route.__dict__.get(_ALLOWED_QUERY)
    if allowed is None:
        allowed = frozenset(_query_names(dependant))
        setattr(route, _ALLOWED_QUERY, allowed)
    return allowed


_ALLOWED_QUERY = "_groundstation_allowed_query"


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the operation does not take (a typo such as
    ``?satelite=`` would otherwise be ignored silently)."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = _allowed_query(route, dependant)
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"query.{unknown[0]}: unknown query parameter {unknown[0]!r}; this operation "
            f"takes {', '.join(sorted(allowed)) or 'none'}",
        )
