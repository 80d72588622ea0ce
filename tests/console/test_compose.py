"""Compose, 定型文, draft editing, the preview on every channel, and the FM audio, through the whole service."""

from __future__ import annotations

import html
import io
import re
import time
import wave
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from broadcaster import drafts, lint
from broadcaster.models import AlertState, Mode, Role, Source
from broadcaster.settings import CHANNEL_NAMES
from broadcaster.web.console import compose_pages, phrase_form, preview
from tests.console.conftest import Browser, ConsoleSite

JST = timezone(timedelta(hours=9))
ALL_CHANNELS = list(CHANNEL_NAMES)


def form(**changes: Any) -> dict[str, Any]:
    """A complete compose form; ``changes`` replace or add fields."""
    fields: dict[str, Any] = {
        "category": "disaster",
        "level": "3",
        "title": "思川の水位が上昇しています",
        "body": "思川の水位が氾濫危険水位に近づいています。18時ごろ氾濫のおそれがあります。",
        "instruction": "川に近づかないでください。",
        "areas": ["0920800"],
        "channels": ["email", "website", "fm"],
        "tr_en": "on",
        "tr_en_title": "The Omoi River is rising",
        "tr_en_body": "The river may flood at about 18:00.",
        "tr_en_instruction": "Keep away from the river.",
        "expires_in": "120",
        "do": "save",
    }
    fields.update(changes)
    return fields


async def saved(site: ConsoleSite, browser: Browser, **changes: Any) -> str:
    """Compose and save a draft; its id."""
    await browser.get("/console/compose")
    reply = await browser.post("/console/compose", form(**changes))
    assert reply.status == 303, (reply.status, reply.text[:3000])
    assert reply.location.startswith("/console/alerts/")
    return reply.location.removeprefix("/console/alerts/")


async def test_an_operator_composes_an_exercise_draft(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato", Role.OPERATOR)
    page = await sato.get("/console/compose")
    assert page.status == 200
    assert "この作成は訓練です" in page.text and "本番の作成です" not in page.text
    before = time.time()
    alert_id = await saved(console_site, sato)
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None
    assert (alert.mode, alert.state, alert.source, alert.created_by) == (
        Mode.EXERCISE,
        AlertState.DRAFT,
        Source.STAFF,
        "sato",
    )
    assert (alert.category, alert.level, alert.title) == ("disaster", 3, "思川の水位が上昇しています")
    assert alert.instruction == "川に近づかないでください。"
    assert alert.channels == ("email", "website", "fm") and alert.areas == ("0920800",)
    assert alert.translations["en"].title == "The Omoi River is rising"
    assert alert.expires is not None and before + 119 * 60 < alert.expires < time.time() + 121 * 60
    assert (await sato.post("/console/lang", {"lang": "en", "next": "/console/compose"})).status == 303
    page = await sato.get(f"/console/compose?from={alert_id}")
    assert page.status == 200 and "You are writing an exercise." in page.text and 'lang="en"' in page.text


async def test_a_jst_expiry_becomes_an_aware_time(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    when = (datetime.now(JST) + timedelta(hours=5)).replace(second=0, microsecond=0)
    alert_id = await saved(console_site, sato, expires_in="", expires_at=when.strftime("%Y-%m-%dT%H:%M"))
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None and alert.expires == when.timestamp()


async def test_an_operator_in_live_mode_makes_a_live_draft(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato", Role.OPERATOR)
    await sato.get("/console/compose")
    assert (await sato.post("/console/mode", {"mode": "live", "next": "/console/compose"})).status == 303
    page = await sato.get("/console/compose")
    assert "本番の作成です" in page.text and "この作成は訓練です" not in page.text
    alert_id = await saved(console_site, sato)
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None and alert.mode == Mode.LIVE and alert.state == AlertState.DRAFT


PAST = (datetime.now(JST) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"title": ""}, "title"),
        ({"level": "9"}, "level"),
        ({"channels": ["email", "pager"]}, "pager"),
        ({"expires_in": "", "expires_at": PAST}, "expires"),
        ({"channels": []}, "channels"),
        ({"tr_en_title": ""}, "英語の翻訳の件名"),
    ],
)
async def test_bad_input_is_refused_kept_and_not_stored(
    console_site: ConsoleSite, changes: dict[str, Any], complaint: str
) -> None:
    sato = await console_site.browser("sato")
    await sato.get("/console/compose")
    reply = await sato.post("/console/compose", form(body="本文はそのまま残ります。", **changes))
    assert reply.status == 400
    assert "入力を確認してください" in reply.text and complaint in reply.text
    assert "本文はそのまま残ります。" in reply.text  # what the officer typed is still in the form
    assert "Keep away from the river." in reply.text
    assert await console_site.store.list_alerts() == []


async def test_a_phrase_fills_the_form(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    page = await sato.get("/console/compose")
    for phrase in ("evacuation_order", "shelter_open", "holiday_clinic", "suspicious_person", "heatstroke"):
        assert f"/console/compose?phrase={phrase}" in page.text
    page = await sato.get("/console/compose?phrase=evacuation_order")
    assert page.status == 200
    assert 'value="小山市に避難指示を発令しました"' in page.text  # written from the pattern: no district yet
    assert '<option value="4" selected>' in page.text
    assert '<input type="hidden" name="phrase" value="evacuation_order">' in page.text
    assert re.search(r'<input type="time" name="slot_time" value="\d\d:\d\d">', page.text)  # now, in JST
    assert '<option value="河川の氾濫">' in page.text and '<option value="大雨警報">' not in page.text
    assert 'name="slot_shelter" value="間々田小学校"' in page.text  # from the names dictionary
    page = await sato.get("/console/compose?phrase=suspicious_person")
    assert '<option value="crime" data-channels="email line sns website" data-levels="no" selected>' in page.text
    assert '<label id="compose-level" hidden>' in page.text  # 防犯 carries no 警戒レベル: no picker
    assert '<select name="level" disabled>' in page.text and '<option value="2" selected>' not in page.text
    assert 'name="channels" value="fm">' in page.text  # not checked: 防犯 does not go to FM
    assert 'type="datetime-local" name="slot_time"' in page.text and 'name="slot_place"' in page.text
    assert (await sato.get("/console/compose?phrase=nonesuch")).status == 404


async def test_the_category_button_ticks_the_categorys_channels(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    await sato.get("/console/compose")
    reply = await sato.post("/console/compose", form(category="health", channels=["fm"], do="defaults"))
    assert reply.status == 200
    for name in ("email", "line", "website"):
        assert f'name="channels" value="{name}" checked>' in reply.text
    assert 'name="channels" value="fm">' in reply.text
    assert await console_site.store.list_alerts() == []


async def test_a_copy_of_an_alert_fills_the_form(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    alert_id = await saved(console_site, sato, title="コピー元の件名")
    page = await sato.get(f"/console/compose?from={alert_id}")
    assert page.status == 200 and 'value="コピー元の件名"' in page.text
    assert (await sato.get("/console/compose?from=nonesuch")).status == 404


async def test_the_preview_shows_every_channel_and_lint_and_stores_nothing(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    await sato.get("/console/compose")
    changes = {"channels": ALL_CHANNELS, "body": "【避難所名】を開設しました。", "tr_en_body": "A shelter is open."}
    changes |= {"expires_in": "", "do": "preview"}
    reply = await sato.post("/console/compose", form(**changes))
    assert reply.status == 200, reply.text[:2000]
    page = html.unescape(reply.text)
    for name in ALL_CHANNELS:
        assert f'data-channel="{name}"' in page
    assert "【訓練】【警戒レベル３】思川の水位が上昇しています" in page  # the email subject
    assert "/280</span>" in page  # each X post with its weighted count
    assert "／60文字" in page  # the ticker line against [ticker] max_length
    assert "保存するとFMの音声を試聴できます" in page and "<audio" not in page
    assert "繰り返します" in page  # the FM script
    assert 'data-code="placeholder"' in page and "【避難所名】" in page
    assert 'data-code="no_time"' in page
    assert await console_site.store.list_alerts() == []


async def test_a_stored_alerts_preview_plays_its_fm_audio(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    alert_id = await saved(console_site, sato, channels=ALL_CHANNELS, instruction="川に近づかないでください。" * 10)
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None
    shown = preview.build(console_site.console, alert)
    assert [p.channel for p in shown.panels] == ALL_CHANNELS
    sns = next(p for p in shown.panels if isinstance(p, preview.SnsPanel))
    assert sns.threads[0].target == "x" and all(post.count <= 280 for post in sns.threads[0].posts)
    text = console_site.console.text["ja"]
    rendered = console_site.console.env.get_template("console/_preview.html.j2").render(preview=shown, t=text)
    assert f'<audio controls preload="none" src="/console/alerts/{alert_id}/fm.wav"></audio>' in rendered
    assert 'data-code="too_long"' in rendered  # the ticker shows the instruction: 130 characters, 60 fit


XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")


async def test_what_the_officer_typed_is_escaped_everywhere(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    await sato.get("/console/compose")
    hostile = form(title=XSS[0] + XSS[1], body=XSS[1] + " " + XSS[0], tr_en_title=XSS[0], channels=ALL_CHANNELS)
    reply = await sato.post("/console/compose", {**hostile, "do": "preview"})
    assert reply.status == 200
    assert 'data-channel="website"' in reply.text
    for raw in XSS:
        assert raw not in reply.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in reply.text
    alert_id = await saved(console_site, sato, **{k: v for k, v in hostile.items() if k != "do"})
    page = await sato.get(f"/console/alerts/{alert_id}/edit")
    assert page.status == 200 and "&lt;script&gt;" in page.text
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None
    shown = preview.build(console_site.console, alert)
    rendered = console_site.console.env.get_template("console/_preview.html.j2").render(
        preview=shown, t=console_site.console.text["ja"]
    )
    for raw in XSS:
        assert raw not in rendered and raw not in page.text


async def test_an_admin_cannot_compose(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    alert_id = await saved(console_site, sato)
    root = await console_site.browser("root", Role.ADMIN)
    assert (await root.get("/console/compose")).status == 403
    assert (await root.post("/console/compose", form())).status == 403
    assert (await root.get(f"/console/alerts/{alert_id}/edit")).status == 403
    assert (await root.post(f"/console/alerts/{alert_id}/edit", form())).status == 403
    assert len(await console_site.store.list_alerts()) == 1


async def test_a_draft_is_edited_in_place(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    alert_id = await saved(console_site, sato)
    page = await sato.get(f"/console/alerts/{alert_id}/edit")
    assert page.status == 200 and 'value="思川の水位が上昇しています"' in page.text
    tanaka = await console_site.browser("tanaka", Role.APPROVER)
    await tanaka.get(f"/console/alerts/{alert_id}/edit")
    reply = await tanaka.post(
        f"/console/alerts/{alert_id}/edit", form(title="思川が氾濫危険水位に達しました", level="4")
    )
    assert (reply.status, reply.location) == (303, f"/console/alerts/{alert_id}")
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None
    assert (alert.title, alert.level, alert.created_by, alert.mode) == (
        "思川が氾濫危険水位に達しました",
        4,
        "sato",
        Mode.EXERCISE,
    )
    reply = await tanaka.post(f"/console/alerts/{alert_id}/edit", form(title=""))
    assert reply.status == 400
    assert len(await console_site.store.list_alerts()) == 1


async def test_only_a_draft_can_be_edited(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    alert_id = await saved(console_site, sato, channels=["website"])
    await console_site.core.dispatcher.approve(alert_id, "sato", "test")
    await console_site.settled(alert_id)
    page = await sato.get(f"/console/alerts/{alert_id}/edit")
    assert page.status == 409 and "下書きではない" in page.text
    reply = await sato.post(f"/console/alerts/{alert_id}/edit", form(title="書き換え"))
    assert reply.status == 409
    alert = await console_site.store.get_alert(alert_id)
    assert alert is not None and alert.title == "思川の水位が上昇しています"
    assert (await sato.get("/console/alerts/nonesuch/edit")).status == 404


async def test_fm_wav_is_the_alert_read_by_open_jtalk(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    alert_id = await saved(console_site, sato)
    reply = await sato.client.get(f"/console/alerts/{alert_id}/fm.wav", allow_redirects=False)
    assert reply.status == 200 and reply.headers["Content-Type"] == "audio/wav"
    body = await reply.read()
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    with wave.open(io.BytesIO(body)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getframerate() == console_site.settings.fm.sample_rate
    # chime, then the announcement read twice: more than the chime alone, less than several minutes
    assert 5.0 < seconds < 180.0, seconds
    root = await console_site.browser("root", Role.ADMIN)  # any role may listen; the second time is cached
    async with root.client.get(f"/console/alerts/{alert_id}/fm.wav") as again:
        assert again.status == 200 and await again.read() == body
    visitor = await console_site.anonymous()
    assert (await visitor.get(f"/console/alerts/{alert_id}/fm.wav")).status == 303


def test_every_phrase_is_a_valid_draft_with_the_default_config(console_settings: Any) -> None:
    settings = console_settings()
    phrases = compose_pages.phrases_for(settings)
    names = {
        "高齢者等避難",
        "避難指示",
        "緊急安全確保",
        "避難所開設",
        "避難所閉鎖",
        "休日当番医",
        "不審者情報",
        "熱中症警戒",
    }
    assert {p.name for p in phrases} == names
    for phrase in phrases:
        values = compose_pages.values_of_phrase(settings, phrase)
        fields = {k: values[k] for k in compose_pages.FIELDS} | {
            "areas": values["areas"],
            "channels": values["channels"],
            "phrase": values["phrase"],
        }
        fields |= {f"slot_{name}": "1" for name in phrase.slots}  # a value of every type's shape will do
        if phrase.category == "disaster" and not phrase.level:  # 避難所閉鎖: the officer says which level
            fields["level"] = "3"
        draft = compose_pages.draft_from_form(fields, settings, Mode.EXERCISE)
        assert draft.phrase == phrase.id and set(draft.slots) == set(phrase.slots)
        alert = drafts.build(settings, draft, "sato", Source.STAFF)
        assert "【" not in alert.title + alert.body  # slots, not placeholders
        blank = phrase_form.japanese(settings, phrase, {}, ())  # the pattern's words with every slot empty
        words = {"title": blank.title, "body": blank.body, "instruction": blank.instruction}
        unfilled = drafts.build(settings, draft.model_copy(update={"slots": {}, **words}), "sato", Source.STAFF)
        assert unfilled.phrase == phrase.id
        assert [w for w in lint.check(settings, unfilled, {}) if w.code == "empty_slots"]


async def test_a_correction_keeps_the_originals_reach(console_site: ConsoleSite) -> None:
    sato = await console_site.browser("sato")
    original_id = await saved(console_site, sato, channels=["email", "line"])
    original = await console_site.store.get_alert(original_id)
    assert original is not None
    changes = compose_pages.draft_from_form(form(title="水位は下がりました"), console_site.settings, Mode.EXERCISE)
    update = drafts.correction(console_site.settings, original, changes, "sato", confirmed=["en"])
    await console_site.store.create_alert(update, "sato", "test")
    page = await sato.get(f"/console/alerts/{update.id}/edit")
    assert page.status == 200
    assert '<input type="hidden" name="category" value="disaster">' in page.text
    assert '<input type="hidden" name="channels" value="line">' in page.text
    assert '<input type="hidden" name="tr_en" value="on">' in page.text
    assert 'name="channels" value="email" checked disabled>' in page.text
    assert 'id="compose-category"' not in page.text  # the category cannot be changed
    posted = form(title="水位は平常に戻りました", category="crime", channels=["fm"], tr_en_title="Back to normal")
    reply = await sato.post(f"/console/alerts/{update.id}/edit", posted)
    assert reply.status == 303, reply.text[:2000]
    edited = await console_site.store.get_alert(update.id)
    assert edited is not None
    assert (edited.title, edited.category, edited.channels) == ("水位は平常に戻りました", "disaster", ("email", "line"))
    assert (edited.msg_type, edited.references, edited.event_key) == (update.msg_type, original_id, original.event_key)
