"""The REST API against its own OpenAPI document, with schemathesis: the whole service in process, the
document it serves, a real token, and for every operation data that fits the schema and data that does
not. No answer is a 5xx, and every answer matches what the document says (status and body).

schemathesis sends with `requests` (blocking), so the cases run in a thread while the test's event loop
serves them. Example counts are bounded and derandomized: the same cases on every run, within the CI budget.
"""

from __future__ import annotations

import asyncio

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from broadcaster import scopes
from broadcaster.web.console.api_schema import PREFIX, document
from tests.console.conftest import ConsoleSite
from tests.console.test_lift_cancel_correct import sent

EXAMPLES = 25  # per operation and generation mode
CHECKS = [not_a_server_error, response_schema_conformance]
# (method, path) of every operation, read from the document itself so a new route is fuzzed without a change here
OPERATIONS = [(method.upper(), path) for path, item in document()["paths"].items() for method in item]


def run_cases(strategy: st.SearchStrategy[Case], base_url: str, token: str) -> int:
    """Send every generated case and validate its answer; returns how many were sent (blocking)."""
    sent_cases = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Case) -> None:
        nonlocal sent_cases
        sent_cases += 1
        headers = {"Authorization": f"Bearer {token}"}
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    check()
    return sent_cases


async def api_token(site: ConsoleSite) -> str:
    """A token for the fuzzer, allowed everything the API offers."""
    return await site.console.accounts.add_token("fuzzer", "test", "test", scopes=scopes.VALID)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_every_operation_answers_as_its_schema_says_and_never_5xx(
    console_site: ConsoleSite, method: str, path: str
) -> None:
    token = await api_token(console_site)
    client = (await console_site.anonymous()).client
    async with client.get(f"{PREFIX}/openapi.json") as r:
        assert r.status == 200
        served = await r.json()
    assert served == document()  # the document the fuzzer reads is the one the service serves
    schema = schemathesis.openapi.from_dict(served)
    operation = schema[path][method]
    base_url = str(console_site.server.make_url("")).rstrip("/")
    # data that does not fit needs something to get wrong: a parameter or a body (not the document's GET)
    modes = [m for m in GenerationMode if m.is_positive or operation.body or any(operation.iter_parameters())]
    strategies = [operation.as_strategy(mode) for mode in modes]
    if "{alert_id}" in path:  # also one alert that exists and went out, so corrections and lifts get past 404
        alert = await sent(console_site, category="crime", level=2, title="不審者")
        strategies += [operation.as_strategy(mode, path_parameters={"alert_id": alert.id}) for mode in modes]
    total = 0
    for strategy in strategies:
        total += await asyncio.to_thread(run_cases, strategy, base_url, token)
    assert total >= len(strategies)  # each strategy sent at least one case
