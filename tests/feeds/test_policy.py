"""The default policy table decides as the Oyama defaults say (issue: JMA feeds, item 4)."""

from __future__ import annotations

import pytest

from broadcaster.settings import Settings
from feeds.jma.policy import INTENSITIES, decide, intensity_rank

ALL = ("email", "line", "sns", "website", "ticker", "fm")  # the disaster category's channels

# (kind, concerns the city, level, max intensity) -> (decision, channels, rule name)
CASES = [
    (("VXSE53", True, None, "5-"), ("auto", ALL, "震度5弱以上")),
    (("VXSE53", True, None, "6+"), ("auto", ALL, "震度5弱以上")),
    (("VXSE53", True, None, "震度５弱以上未入電"), ("auto", ALL, "震度5弱以上")),
    (("VXSE51", True, None, "4"), ("auto", ("website", "sns"), "震度3〜4")),
    (("VXSE53", True, None, "3"), ("auto", ("website", "sns"), "震度3〜4")),
    (("VXSE53", True, None, "2"), ("ignore", (), None)),
    (("VXSE53", True, None, None), ("ignore", (), None)),
    (("VPWW55", True, 5, None), ("auto", ALL, "レベル５ 特別警報・レベル４ 危険警報")),
    (("VPWW56", True, 4, None), ("auto", ALL, "レベル５ 特別警報・レベル４ 危険警報")),
    (("VXWW50", True, 4, None), ("auto", ALL, "レベル５ 特別警報・レベル４ 危険警報")),
    (("VXKOii", True, 4, None), ("auto", ALL, "レベル５ 特別警報・レベル４ 危険警報")),
    (("VPWW55", True, 3, None), ("auto", ("email", "line", "website", "ticker", "sns"), "レベル３ 警報")),
    (("VPWW53", True, 2, None), ("auto", ("website",), "注意報")),
    (("VPWW58", True, None, None), ("ignore", (), None)),
    (("VPFT50", True, None, None), ("auto", ("email", "line", "website"), "熱中症警戒アラート")),
    (("VFVO50", True, None, None), ("approve", ALL, "噴火警報")),
    (("VTSE41", True, None, None), ("approve", ("website", "sns"), "津波（内陸のため参考情報）")),
    (("VPWW55", False, 5, None), ("ignore", (), None)),
    ((None, True, 5, None), ("ignore", (), None)),
]


@pytest.mark.parametrize(("document", "expected"), CASES, ids=[f"{c[0][0]}-{c[0][2]}-{c[0][3]}" for c in CASES])
def test_default_policy(
    settings: Settings,
    document: tuple[str | None, bool, int | None, str | None],
    expected: tuple[str, tuple[str, ...], str | None],
) -> None:
    verdict = decide(settings.jma.policy, *document)
    decision, channels, rule_name = expected
    assert verdict.decision == decision, verdict.reason
    if rule_name is None:
        assert verdict.rule is None
        assert verdict.reason
        return
    assert verdict.rule is not None
    assert verdict.rule.name == rule_name
    assert verdict.reason == f"policy: {rule_name}"
    category_channels = settings.categories[verdict.rule.category].channels
    assert (verdict.rule.channels or category_channels) == channels


def test_reasons_say_why_nothing_fits(settings: Settings) -> None:
    assert decide(settings.jma.policy, "VXSE53", True, None, "2").reason == "no policy rule fits VXSE53 at 震度2"
    assert decide(settings.jma.policy, "VPWW55", False, 5, None).reason == "does not concern the configured areas"
    assert decide(settings.jma.policy, None, True, None, None).reason == "unknown document type"


def test_intensity_order() -> None:
    assert [intensity_rank(i) for i in INTENSITIES] == list(range(9))
    assert intensity_rank("5+") > intensity_rank("5-") > intensity_rank("4")
    assert intensity_rank("震度５弱以上未入電") == intensity_rank("5-")
    assert intensity_rank("?") == -1
