"""Property-based tests of every interface that meets untrusted input (tests/fuzz/targets.py says what each
tries): JMA documents, CAP out, site config files, subscriber CSVs, every channel's rendering of hostile text,
link tokens and CSRF fields. Nothing but a result or the project's own errors (broadcaster.errors) comes out.

Bounded and derandomized: the same examples on every run, within the CI budget. bench/fuzz.py runs the
same targets with many more examples.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from broadcaster.settings import Settings
from tests.fuzz.targets import ConfigLoading, Target, targets

NAMES = ("intake", "jma_bytes", "jma_mutated", "cap", "config", "csv", "render", "token", "csrf")


@pytest.mark.parametrize("name", NAMES)
def test_untrusted_input_gives_a_result_or_the_projects_own_error(settings: Settings, name: str) -> None:
    everything = targets(settings)
    assert set(everything) == set(NAMES)  # a new target is listed here too
    target: Target = everything[name]
    tried = 0

    @settings_for(target.examples)
    @given(example=target.strategy)
    def run(example: object) -> None:
        nonlocal tried
        tried += 1
        target.check(example)

    try:
        run()
    finally:
        for t in everything.values():
            if isinstance(t.check, ConfigLoading):
                t.check.close()
    assert tried >= target.examples // 2  # the strategy made examples, not mostly rejections


def settings_for(examples: int) -> settings:
    """Bounded, derandomized, no example database: the same run everywhere."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )
