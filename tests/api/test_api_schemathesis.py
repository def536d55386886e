"""schemathesis against the app's own OpenAPI schema: for every operation,
generated requests (valid and invalid) get no 500 and responses that match
the documented schemas, status codes and content types, over a real database
on SQLite and on PostgreSQL (which refuses what SQLite stores silently: NUL
characters, out-of-range values).

"Schema-valid request rejected" (positive_data_acceptance) is not checked:
rules across fields (start before end, an admin naming the tenant, a window
matching a predicted pass) are domain rules the schema cannot express; such
requests get 422 with the rule in the detail, which the other checks verify
is a documented response.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from groundstation.db import make_session_factory
from groundstation.settings import Settings

from .conftest import seed

# The event stream never ends by design; it is tested in test_api_concurrency_and_events.
SKIPPED = {("GET", "/contacts/events")}
MAX_EXAMPLES = 25


def _search() -> tuple[int, int | None]:
    """Examples per operation and mode, and the seed: by default 25 and the
    same examples on every run; GS_TEST_SCHEMATHESIS_EXAMPLES and
    GS_TEST_SCHEMATHESIS_SEED widen the search for a deeper local run."""
    examples = int(os.environ.get("GS_TEST_SCHEMATHESIS_EXAMPLES") or MAX_EXAMPLES)
    seed_text = os.environ.get("GS_TEST_SCHEMATHESIS_SEED", "")
    return examples, int(seed_text) if seed_text else None


def _describe(exc: BaseException) -> str:
    """The failure with the sub-failures of a group (hypothesis reports a
    flaky failure as a group whose message alone says nothing)."""
    text = str(exc)
    if isinstance(exc, BaseExceptionGroup):
        text += "".join(f"\n  - {type(sub).__name__}: {_describe(sub)}" for sub in exc.exceptions)
    return text


def test_every_operation_answers_without_500_and_as_documented(settings: Settings) -> None:
    max_examples, random_seed = _search()
    app = create_app(settings)
    with make_session_factory(app.state.ctx.engine)() as session:
        keys = seed(session)
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The admin key above is the request's Authorization, so schemathesis must
    # not generate (or, in negative mode, mutate) that header itself: a
    # mutation replaced by the key would be reported as "invalid request
    # accepted". Missing, malformed and unknown keys are tested in test_api_auth.
    schema.config.generation.update(with_security_parameters=False)
    failures: list[str] = []
    tested: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the schema itself is broken
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        tested.append(f"{operation.method.upper()} {operation.path}")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=max_examples,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=random_seed is None,
                database=None,
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

            if random_seed is not None:
                run = hypothesis_seed(random_seed)(run)

            try:
                run()
            except Unsatisfiable:
                continue  # no invalid request exists for an operation without inputs
            except BaseException as exc:
                failures.append(f"{tested[-1]} ({mode.value}): {_describe(exc)}"[:6000])
    app.state.ctx.engine.dispose()
    assert len(tested) >= 25
    assert failures == [], "\n\n".join(failures)
