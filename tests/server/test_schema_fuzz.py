"""Property-based fuzzing of every operation in the app's own OpenAPI schema.

Schemathesis generates schema-valid and schema-invalid requests from /openapi.json and
checks each response: never a 5xx, a documented status code and content type, a body that
conforms to the documented schema, invalid input rejected. The app runs over a real index
in a real uvicorn (one per module), and the schema is its own /openapi.json.

Hypothesis drives each operation directly (`operation.as_strategy()` + `@given`), since
the schemathesis pytest plugin's fixture-based loader (`schemathesis.pytest.from_fixture`)
breaks on pytest 9 (`'Function' object has no attribute '_nodeid'`), and a module-level
`from_asgi(...)` would have to build the index at import time. Real HTTP rather than
`from_asgi` because schemathesis ends and restarts an ASGI app's lifespan around each test,
and our lifespan's shutdown closes the SQLite store that create_app opened.

One check is left out: `positive_data_acceptance` expects every schema-valid request to be
accepted, but the API has rules a JSON schema cannot state (a blank question, a question
over `max_question_chars`, `since` after `until`, a chat whose last message is not the
user's); those are 422 by design and are tested in test_api.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.http.app import create_app
from server.settings import Settings

# Every operation of the schema; test_every_operation_is_fuzzed keeps this list complete.
OPERATIONS = [
    ("GET", "/healthz"),
    ("POST", "/api/search"),
    ("POST", "/api/ask"),
    ("POST", "/api/feedback"),
    ("GET", "/api/examples"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/api/documents"),
    ("POST", "/api/documents"),
    ("DELETE", "/api/documents/{article_id}"),
    ("POST", "/api/reindex"),
    ("GET", "/api/jobs/{job_id}"),
    ("GET", "/api/articles/{article_id}/facts"),
    ("GET", "/api/people"),
]
# Examples per operation; FUZZ_EXAMPLES=300 for a deeper run than CI's.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))


# Operations with a request body; the others take no input, or only a free string in the
# path, so no request to them is schema-invalid (hypothesis would report Unsatisfiable).
WITH_BODY = [(m, p) for m, p in OPERATIONS if m == "POST" and p != "/api/reindex"]
# A required, bounded query parameter can be sent invalid too.
WITH_INPUT = [*WITH_BODY, ("GET", "/api/people")]
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in WITH_INPUT
]


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory,
    copy_built: Callable[[Path], Path],
    make_settings: Callable[..., Settings],
    thread_server: Callable[..., Any],
) -> Iterator[Any]:
    """The OpenAPI schema served by a real uvicorn over a copy of the index (admin API on)."""
    app = create_app(make_settings(copy_built(tmp_path_factory.mktemp("fuzz") / "data")))
    with thread_server(app) as server:
        yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES]
)
def test_operation_conforms_to_its_schema(
    api_schema: Any, admin: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def conforms(case: Any) -> None:
        case.call_and_validate(headers=dict(admin), excluded_checks=[positive_data_acceptance])

    conforms()
