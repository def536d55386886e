"""A request's session is closed on threads of its own, never behind the
route threads: on SQLite every transaction begins IMMEDIATE, so routes
waiting for the write lock held by a request whose route has returned must
not also hold every thread that request needs to end its transaction (they
waited for each other until SQLite's 60-s busy timeout, then answered 500
"database is locked")."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.deps import SessionDep
from api.routing import api_router, check_routes

from .conftest import World, serve


@pytest.mark.parametrize(
    "path",
    [
        "/contacts",
        # Reads its rows in a session transaction (on SQLite: BEGIN IMMEDIATE)
        # still open when the route returns; FastAPI then validates the answer
        # on a route thread too, so the lock holder waited for a thread held by
        # requests waiting for its lock (the soak's stalled API).
        "/datasets",
    ],
)
def test_more_concurrent_requests_than_route_threads_all_answer_promptly(
    world: World, path: str
) -> None:
    assert world.app.state.ctx.settings.api_threads == 2
    headers = world.as_("acme")
    with serve(world.app) as url:

        def one(_: int) -> tuple[int, float]:
            started = time.perf_counter()
            with httpx.Client(base_url=url, timeout=120) as http:
                r = http.get(path, params={"limit": 100}, headers=headers)
            return r.status_code, time.perf_counter() - started

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(one, range(48)))
    assert [status for status, _ in answers] == [200] * 48
    # Each answer takes milliseconds; waiting out the busy timeout took 60 s.
    assert max(seconds for _, seconds in answers) < 20.0, sorted(answers)[-3:]


def test_a_sync_route_taking_the_session_on_a_plain_router_is_refused() -> None:
    plain = APIRouter()

    @plain.get("/leaky")
    def leaky(session: SessionDep) -> None:
        """Would hold its transaction while FastAPI waits for a thread."""

    with pytest.raises(TypeError, match=r"\['GET'\] /leaky \(.*leaky\) is sync and takes"):
        check_routes(plain.routes)
    app = FastAPI()
    app.include_router(plain, prefix="/v")  # found inside included routers too
    with pytest.raises(TypeError, match=r"/v/leaky|/leaky"):
        check_routes(app.routes)

    ending = api_router()
    ending.get("/fine")(leaky)
    check_routes(ending.routes)  # the same function on an api_router passes
