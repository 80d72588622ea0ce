"""`run.py alerts show ID [--json]`: one alert as residents get it, in every language it speaks.

Each language's words say where they came from: ``phrasebook`` (an approved pattern filled from the
alert's structured fields), ``officer`` (typed by a person, or sent by another system) or ``notice``
(the phrasebook's notice standing in for free text, which is never machine-translated). やさしい日本語
keeps its furigana markup ({漢字|かんじ}) in the JSON, as the channels receive it; the text view shows it
as 漢字（かんじ）.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from broadcaster import districts, furigana
from broadcaster.cli.db import opened_store
from broadcaster.errors import InputError
from broadcaster.models import Alert
from broadcaster.settings import Settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`run.py alerts …`."""
    return asyncio.run(show(settings, args.alert_id, args.json))


def variants(alert: Alert) -> dict[str, dict[str, str]]:
    """Every language's words and their source, Japanese first."""
    out = {}
    for lang in alert.languages:
        words = alert.text(lang)
        out[lang] = {"title": words.title, "body": words.body, "instruction": words.instruction, "source": words.source}
    return out


def as_json(alert: Alert) -> dict[str, Any]:
    """The alert as `alerts show --json` prints it."""
    return {
        "id": alert.id,
        "mode": alert.mode.value,
        "state": alert.state.value,
        "category": alert.category,
        "level": alert.level,
        "districts": list(alert.districts),
        "variants": variants(alert),
    }


async def show(settings: Settings, alert_id: str, as_json_out: bool) -> int:
    """Print one alert, as JSON or as text."""
    async with opened_store(settings) as store:
        alert = await store.get_alert(alert_id)
    if alert is None:
        raise InputError(f"no alert {alert_id!r}; run.py send prints the id, and the console shows it on each alert")
    if as_json_out:
        print(json.dumps(as_json(alert), ensure_ascii=False, indent=2))
        return 0
    where = districts.names(alert.districts, settings)
    print(f"{alert.id}  {alert.state}  {alert.mode}  {alert.category}  level {alert.level}  {where}")
    for lang, words in variants(alert).items():
        print(f"\n[{lang}] ({words['source']})")
        for part in ("title", "body", "instruction"):
            if words[part]:
                print(furigana.plain(words[part]))
    return 0
