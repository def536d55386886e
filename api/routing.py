"""Routes that end their request session's transaction on the route thread.

FastAPI runs a sync route function on one of the ``GS_API_THREADS`` route
threads, then validates its answer on a route thread again, and only after
that ends the request's dependencies. A transaction still open when the
function returns would so be held until a second route thread is free. On
SQLite every transaction begins IMMEDIATE (it holds the write lock): when
the other route threads are taken by requests waiting for that lock, the
holder waits for them and they for it, until SQLite's 60-s busy timeout (the
soak's stalled API). A ``SessionEndingRoute`` closes the session of a sync
route function on the route's own thread, as the function returns or
raises, so no request holds a transaction while it waits for a thread.

Every router of the API is made with ``api_router``; ``check_routes`` (run
by ``create_app``) refuses a sync route taking a request session that does
not end it this way.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

#: ``Session.info`` key set while a route function runs on its thread: the
#: request's dependency leaves closing to the route then (``api.deps``).
IN_ROUTE = "groundstation.in_route"


def _ending_sessions(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` that closes its ``Session`` arguments on its own thread when
    it returns or raises (its answer holds no ORM state: routes convert rows
    to schemas before returning)."""

    @functools.wraps(func)
    def endpoint(*args: Any, **kwargs: Any) -> Any:
        sessions = [v for v in (*args, *kwargs.values()) if isinstance(v, Session)]
        for session in sessions:
            session.info[IN_ROUTE] = True
        try:
            return func(*args, **kwargs)
        finally:
            for session in sessions:
                try:
                    session.close()
                finally:
                    session.info.pop(IN_ROUTE, None)

    endpoint.__ends_sessions__ = True  # type: ignore[attr-defined]
    return endpoint


#: Attribute set on the dependency that makes a request's session
#: (``api.deps.get_session``), so routes taking it can be told apart.
MAKES_REQUEST_SESSION = "__makes_request_session__"


def _takes_session(dependant: Any) -> bool:
    """Whether the route (its dependency tree) takes the request session."""
    return any(
        getattr(sub.call, MAKES_REQUEST_SESSION, False) or _takes_session(sub)
        for sub in dependant.dependencies
    )


class SessionEndingRoute(APIRoute):
    """An ``APIRoute`` whose sync endpoint closes its request session on the
    route thread (see the module's docstring); async endpoints are unchanged."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _ending_sessions(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` of ``SessionEndingRoute``s (``kwargs`` as APIRouter's)."""
    return APIRouter(route_class=SessionEndingRoute, **kwargs)


def check_routes(routes: Iterable[Any]) -> None:
    """``TypeError`` naming a sync route that takes the request session but
    does not close it on its thread (a router not made by ``api_router``)."""
    for route in routes:
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            check_routes(included.routes)
            continue
        if not isinstance(route, APIRoute):
            continue
        endpoint = route.endpoint
        if inspect.iscoroutinefunction(endpoint) or getattr(endpoint, "__ends_sessions__", False):
            continue
        if _takes_session(route.dependant):
            raise TypeError(
                f"route {sorted(route.methods or ())} {route.path} ({endpoint.__qualname__}) "
                "is sync and takes the request session but does not end it on its "
                "thread: make its router with api.routing.api_router"
            )
