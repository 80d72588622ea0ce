"""定型文 from the phrasebook, and the alert in every language: compose, preview marks, review, the API.

An officer's 定型文 gets every language from the pattern (slots from the form carry over); edited
Japanese or free text gets the phrasebook's notice; the preview marks each language's source; the
languages page lists what awaits review; the API takes ``phrase`` and ``slots`` and answers ``variants``.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from broadcaster import variants
from broadcaster.models import Alert, Source
from broadcaster.scopes import Scope
from tests.console.conftest import Browser, ConsoleSite, SiteMaker

SLOTS = {"slot_time": "15:30", "slot_hazard": "河川の氾濫", "slot_households": "120",
         "slot_shelter": ["間々田小学校", "小山第一小学校"]}  # fmt: skip


def phrase_form(**changes: Any) -> dict[str, Any]:
    """The compose form of 避難指示 for 間々田 as the officer posts it after choosing the 定型文."""
    fields: dict[str, Any] = {
        "phrase": "evacuation_order",
        "category": "disaster",
        "level": "4",
        "title": "",
        "body": "",
        "instruction": "",
        "areas": ["0920800"],
        "districts": ["mamada"],
        "channels": ["email", "website"],
        "do": "save",
        **SLOTS,
    }
    fields.update(changes)
    return fields


async def filled(sato: Browser) -> dict[str, Any]:
    """The form after 「日本語の文に当てはめる」: the Japanese as the page shows it, and its digest."""
    await sato.get("/console/compose?phrase=evacuation_order")
    page = await sato.post("/console/compose", phrase_form(do="fill"))
    assert page.status == 200, page.text[:2000]
    text = html.unescape(page.text)
    title = re.search(r'name="title" value="([^"]*)"', text)
    body = re.search(r'<textarea name="body"[^>]*>([^<]*)</textarea>', text)
    instruction = re.search(r'<textarea name="instruction"[^>]*>([^<]*)</textarea>', text)
    digest = re.search(r'name="phrase_filled" value="([0-9a-f]+)"', text)
    assert title and body and instruction and digest, text[:3000]
    return phrase_form(title=title[1], body=body[1], instruction=instruction[1], phrase_filled=digest[1])


async def test_a_phrase_with_slots_goes_out_in_every_language_from_the_phrasebook(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    form = await filled(sato)
    assert form["title"] == "間々田地区に避難指示を発令しました"  # places: the ticked districts
    assert "15時30分、河川の氾濫の危険が高まっているため" in form["body"]
    assert "対象：120世帯" in form["body"] and "間々田小学校" in form["body"]
    reply = await sato.post("/console/compose", form)
    assert reply.status == 303, reply.text[:2000]
    alert = await console_site.store.get_alert(reply.location.rsplit("/", 1)[-1])
    assert alert is not None and alert.phrase == "evacuation_order"
    assert alert.slots == {"time": "15:30", "hazard": "河川の氾濫", "households": "120",
                           "shelter": ["間々田小学校", "小山第一小学校"]}  # fmt: skip
    offered = console_site.settings.city.languages
    assert set(alert.translations) == set(offered) - {"ja"}
    assert {t.source for t in alert.translations.values()} == {variants.PHRASEBOOK}
    english = alert.translations["en"]
    assert "Mamada" in english.title and "Mamada" in english.body
    assert "間々田" not in english.title  # a place is named in the language's words, never in kanji alone


async def test_a_changed_slot_carries_over_until_the_japanese_is_edited(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    form = await filled(sato)
    later = await sato.post("/console/compose", form | {"slot_time": "16:45", "do": "preview"})
    assert later.status == 200 and "16時45分、河川の氾濫" in html.unescape(later.text)  # written again
    assert 'id="phrase-edited" hidden' in later.text
    edited = form | {"body": form["body"].replace("河川の氾濫", "思川の氾濫")}
    reply = await sato.post("/console/compose", edited | {"do": "preview"})
    page = html.unescape(reply.text)
    assert reply.status == 200 and "思川の氾濫" in page
    assert 'id="phrase-edited" hidden' not in reply.text  # the note: other languages become notices
    assert 'data-lang="en" data-source="notice"' in page
    saved = await sato.post("/console/compose", edited)
    alert = await console_site.store.get_alert(saved.location.rsplit("/", 1)[-1])
    assert alert is not None and alert.phrase == "" and "思川の氾濫" in alert.body
    assert {t.source for t in alert.translations.values()} == {variants.NOTICE}
    assert all(alert.id in t.body for t in alert.translations.values())  # the link to the Japanese


async def test_the_preview_marks_each_languages_source(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    form = await filled(sato)
    reply = await sato.post("/console/compose", form | {"do": "preview"})
    page = reply.text
    for code in console_site.settings.city.languages:
        language = console_site.settings.phrasebook.languages[code]
        assert re.search(rf'<section class="language-version[^"]*" lang="{language.html}" data-lang="{code}"', page)
    assert page.count('data-source="phrasebook"') == len(console_site.settings.city.languages)
    assert "定型文から" in page and "<ruby>" in page  # やさしい日本語 with furigana
    assert not re.search(r"\{[^{}|]+\|[^{}|]+\}", page)  # never the markup's braces

    free = {"phrase": "", "title": "駅前で不審者", "body": "18時ごろ目撃されました。", "category": "crime", "level": ""}
    typed = {"tr_en": "on", "tr_en_title": "Suspicious person", "tr_en_body": "Seen at 18:00."}
    reply = await sato.post("/console/compose", phrase_form(**free, **typed, do="preview"))
    page = reply.text
    assert reply.status == 200, page[:2000]
    assert 'data-lang="en" data-source="officer"' in page and "職員が入力" in page
    assert 'data-lang="vi" data-source="notice"' in page and "お知らせ（日本語へのリンク）" in page


async def test_the_languages_page_lists_what_awaits_review(make_site: SiteMaker) -> None:
    site = await make_site({"languages": {"require_review": True}})
    sato = await site.browser("sato")
    page = await sato.get("/console/languages")
    assert page.status == 200 and 'href="/console/languages"' in page.text
    assert 'data-require-review="on"' in page.text
    book = site.settings.phrasebook
    waiting = book.unreviewed(site.settings.city.languages)
    assert waiting  # the shipped translations are first drafts
    lang, pid = waiting[0]
    section = re.search(rf'<section class="card unreviewed" data-lang="{lang}">.*?</section>', page.text, re.S)
    assert section and f'data-pattern="{pid}"' in section[0] and book.patterns[pid].name in section[0]
    # an unreviewed language is not sent: the preview says so, and its residents get the Japanese
    silent = [
        code for code in site.settings.city.languages[1:] if not variants.usable(book, site.settings, "notice", code)
    ]
    assert silent
    await sato.get("/console/compose?phrase=evacuation_order")
    free = phrase_form(title="間々田地区に避難指示", body="至急避難してください。18時", phrase="", do="preview")
    reply = await sato.post("/console/compose", free)
    assert reply.status == 200, reply.text[:2000]
    name = book.languages[silent[0]].name_ja
    assert f'data-lang="{silent[0]}" data-source=""' in reply.text
    assert f"{name}では送られません" in html.unescape(reply.text)


async def test_the_api_takes_a_phrase_and_answers_every_variant(console_site: ConsoleSite) -> None:
    token = await console_site.console.accounts.add_token("river", "test", "test", scopes=list(Scope))
    client = (await console_site.anonymous()).client
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def post(body: dict[str, Any]) -> tuple[int, Any]:
        async with client.post("/api/v1/drafts", data=json.dumps(body), headers=headers) as r:
            return r.status, await r.json()

    slots = {"time": "15:30", "hazard": "大雨", "shelter": ["間々田小学校"]}
    probe = Alert(id="", source=Source.API, category="disaster", level=3, title="", body="", districts=("mamada",),
                  phrase="shelter_open", slots=slots)  # fmt: skip
    made = variants.japanese_from_phrase(probe, console_site.settings)
    assert made is not None
    body = {"category": "disaster", "level": 3, "title": made.title, "body": made.body, "instruction": made.instruction,
            "districts": ["mamada"], "phrase": "shelter_open", "slots": slots}  # fmt: skip
    status, created = await post(body)
    assert status == 201, created
    async with client.get(created["links"]["self"], headers=headers) as r:
        alert = await r.json()
    assert alert["phrase"] == "shelter_open"
    assert set(alert["variants"]) == set(console_site.settings.city.languages)
    assert alert["variants"]["en"]["source"] == "phrasebook" and alert["variants"]["ja"]["source"] == "phrasebook"
    easy = alert["variants"]["ja-x-easy"]
    assert "（" in easy["body"] and not re.search(r"\{[^{}|]+\|", easy["title"] + easy["body"])  # furigana as （かな）

    for bad, code in (({"phrase": "nonesuch"}, "unknown_phrase"), ({"slots": {"colour": "red"}}, "unknown_slot"),
                      ({"phrase": "", "slots": {"time": "15:30"}}, "slots_without_phrase")):  # fmt: skip
        status, answer = await post(body | bad)
        assert status in (400, 422) and code in [p["code"] for p in answer["problems"]], answer
    async with client.get("/api/v1/openapi.json") as r:
        schema = (await r.json())["components"]["schemas"]
    assert {"phrase", "slots"} <= set(schema["Draft"]["properties"])
    assert "variants" in schema["AlertStatus"]["properties"] and "problems" in schema["Error"]["properties"]


async def test_a_correction_of_a_phrase_changes_a_slot_and_keeps_every_language(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    form = await filled(sato)
    alert_id = (await sato.post("/console/compose", form)).location.rsplit("/", 1)[-1]
    assert (await sato.post(f"/console/alerts/{alert_id}/send")).status == 303
    await console_site.settled(alert_id)
    page = await sato.get(f"/console/alerts/{alert_id}/correct")
    assert 'name="slot_time" value="15:30"' in page.text and 'value="間々田小学校" checked' in page.text
    digest = re.search(r'name="phrase_filled" value="([0-9a-f]+)"', page.text)
    assert digest
    fields = {k: v for k, v in form.items() if k != "do"} | {"slot_time": "17:00", "phrase_filled": digest[1]}
    reply = await sato.post(f"/console/alerts/{alert_id}/correct", fields | {"do": "review"})
    assert reply.status == 303, reply.text[:2000]
    correction = await console_site.store.get_alert(reply.location.rsplit("/", 1)[-1])
    assert correction is not None and correction.phrase == "evacuation_order" and "17時00分" in correction.body
    assert {t.source for t in correction.translations.values()} == {variants.PHRASEBOOK}
