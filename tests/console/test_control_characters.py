"""An alert typed with CR LF, a NUL, a bidi override and a title with a line break is stored clean; its
console pages open and every channel sends it (tests/test_intake.py renders every page and feed of it).
A crime notice needs no level.
"""

from __future__ import annotations

from broadcaster.models import AlertState, Role
from tests.console.conftest import ConsoleSite
from tests.console.test_compose import form, saved


async def test_an_alert_typed_with_control_characters_is_stored_clean_and_every_page_opens(
    console_site: ConsoleSite,
) -> None:
    site = console_site
    sato = await site.browser("sato", Role.OPERATOR)
    typed = form(
        title="避難指示\r\n思川\u202e周辺",
        body="水位が上昇\r\nしています。\x00\r\n直ちに避難を。",
        instruction="高い所へ\r\n\u2066移動\u2069してください。",
        tr_en_title="Evacuation\r\norder",
        channels=["email", "line", "sns", "website", "ticker", "fm"],
    )
    preview = await sato.post("/console/compose", typed | {"do": "preview"})
    assert preview.status == 200 and "避難指示 思川周辺" in preview.text
    alert_id = await saved(site, sato, **typed)
    alert = await site.store.get_alert(alert_id)
    assert alert is not None
    assert (alert.title, alert.body) == ("避難指示 思川周辺", "水位が上昇\nしています。\n直ちに避難を。")
    assert (alert.instruction, alert.translations["en"].title) == ("高い所へ\n移動してください。", "Evacuation order")
    for path in (
        f"/console/alerts/{alert_id}",
        f"/console/alerts/{alert_id}/edit",
        f"/console/compose?from={alert_id}",
    ):
        assert (await sato.get(path)).status == 200, path

    await site.core.dispatcher.approve(alert_id, "sato", "test")
    done = await site.settled(alert_id)
    assert done.state == AlertState.DONE
    report = {r.channel: dict(r.counts) for r in await site.store.report(alert_id)}
    assert {ch for ch, counts in report.items() if counts.get("failed")} == set()  # no channel failed to send
    assert {ch for ch, counts in report.items() if counts.get("sent")} >= {"sns", "website", "ticker", "fm"}
    assert (await sato.get(f"/console/alerts/{alert_id}")).status == 200
    # what every page and feed makes of it: tests/test_intake.py renders them all


async def test_a_crime_notice_is_saved_without_a_level(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato", Role.OPERATOR)
    alert_id = await saved(console_site, sato, category="crime", level="", channels=["email", "website"])
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None and (alert.category, alert.level) == ("crime", 0)
    page = await sato.get(f"/console/alerts/{alert_id}")
    assert page.status == 200 and "警戒レベル" not in page.text.split("<main", 1)[-1].split("</main>", 1)[0]
    missing = await sato.post("/console/compose", form(level=""))  # a disaster alert still needs one
    assert missing.status == 400 and "警戒レベル：この区分では1〜5から選んでください" in missing.text
