"""JMA documents replayed: every alert they make exists in every offered language, from the phrasebook.

Each real sample is handed to the real pipeline with the city set to an area the document itself names
(so that it concerns "us") and a policy that sends every kind. No officer is in the loop: the words in
each language must come from the phrasebook pattern the Japanese wording corresponds to, with every slot
filled and every place named in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from broadcaster import furigana, variants
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import Alert, Source
from broadcaster.settings import Settings, load_settings, municipality_code
from broadcaster.store.sqlite import SQLiteStore
from feeds.jma import wording
from feeds.jma.ingest import JmaIngest
from feeds.jma.parse import ignored_reason, parse
from feeds.jma.report import Scope
from tests.feeds.test_ingest import AGELESS, sample
from tests.paths import JMA_SAMPLES

SiteFactory = Callable[..., Path]
EVERY_KIND = [
    "VPWW53", "VPWW54", "VPWW55", "VPWW56", "VPWW57", "VPWW58", "VPWW59", "VPWW60", "VPWW61", "VXWW50", "VPOA50",
    "VXKOii", "VXSUii", "VPHW50", "VPHW51", "VXSE51", "VXSE52", "VXSE53", "VTSE41", "VTSE51", "VTSE52", "VFVO50",
    "VPFT50",
]  # fmt: skip
SEND_ALL = f'\n[[jma.policy]]\nname = "すべて"\nkinds = {EVERY_KIND!r}\ndecision = "auto"\n'.replace("'", '"')
# One sample of each kind the phrasebook has a pattern for, and what that pattern is.
SAMPLES = {
    "15_08_01_130412_VPWW53.xml": "jma_emergency_warning",
    "15_17_01_250630_VPWW55.xml": "jma_warning",
    "17_01_01_190529_VXWW50.xml": "jma_landslide",
    "16_08_01_260312_VXKOii.xml": "jma_river",
    "18_01_01_100806_VPOA50.xml": "jma_heavy_rain_record",
    "19_08_03_250630_VPHW50.xml": "jma_tornado",
    "32-35_06_03_240613_VXSE53.xml": "jma_earthquake",
    "45_01_01_200522_VFVO50.xml": "jma_volcano",
}
# Kinds no sample makes an alert of here (an inland city has no 津波予報区; the heat alert sample names no
# area the parser matches): their wording is checked on its own, then built into every language.
WORDED = {"32-39_11_02_250206_VTSE41.xml": "jma_tsunami", "57_03_01_240401_VPFT50.xml": "jma_heatstroke"}
LEFTOVER = re.compile(r"\{[a-z_]+\}")


def areas_of(name: str) -> dict[str, str]:
    """[areas] codes naming areas the document itself lists, so that it concerns the configured city."""
    report = parse(sample(name), source=name)
    found: dict[Scope, str] = {}
    for item in report.items:
        found.setdefault(item.scope, item.code)
    if report.river is not None and report.river.flood_areas:
        found.setdefault(Scope.CITY, report.river.flood_areas[0].city_code)
    city = found.get(Scope.CITY, "0920800")
    return {
        "city": city,
        "forecast_area": found.get(Scope.FORECAST_AREA, found.get(Scope.ISSUE_AREA, city[:2] + "0000")),
        "earthquake_region": found.get(Scope.EARTHQUAKE_REGION, "999"),
        "prefecture": found.get(Scope.PREFECTURE, city[:2]),
        "forecast_area_name": "県",
        "forecast_area_name_en": "the prefecture",
    }


def settings_for(site: SiteFactory, name: str) -> Settings:
    areas = areas_of(name)
    town: dict[str, Any] = {"areas": areas, "website": {"municipality_code": municipality_code(areas["city"])}}
    path = site(AGELESS | town)
    path.write_text(path.read_text(encoding="utf-8") + SEND_ALL, encoding="utf-8")  # every kind is sent
    return load_settings(path)


def test_every_sample_named_here_is_a_kind_the_service_acts_on() -> None:
    for name in (*SAMPLES, *WORDED):
        assert (JMA_SAMPLES / name).is_file(), name
        assert ignored_reason(parse(sample(name), source=name)) is None, name


@pytest.mark.parametrize(("name", "pattern"), SAMPLES.items(), ids=list(SAMPLES))
async def test_a_replayed_sample_speaks_every_language_from_the_phrasebook(
    store: SQLiteStore, site: SiteFactory, name: str, pattern: str
) -> None:
    settings = settings_for(site, name)
    handled = await JmaIngest(Lifecycle(store, settings)).handle(name, sample(name))
    assert handled.alert_id, handled.reason
    alert = await store.get_alert(handled.alert_id)
    assert alert is not None
    assert alert.phrase == pattern, (alert.phrase, alert.title)
    assert set(alert.translations) == set(settings.city.languages) - {"ja"}
    for lang, words in alert.translations.items():
        assert words.source == "phrasebook", (lang, words)
        check_words(alert, settings, lang, [words.title, words.body, words.instruction])


@pytest.mark.parametrize(("name", "pattern"), WORDED.items(), ids=list(WORDED))
def test_a_kind_no_sample_sends_here_is_worded_from_the_phrasebook_too(
    settings: Settings, name: str, pattern: str
) -> None:
    report = parse(sample(name), source=name)
    words = wording.other(report, settings.city.name, None, [k for item in report.items for k in item.kinds])
    assert words.phrase == pattern
    alert = variants.complete(
        Alert(id="w1", source=Source.JMA, category="disaster", level=1, title=words.title, body=words.body,
              phrase=words.phrase, slots=words.slots),
        settings,
    )  # fmt: skip
    for lang in settings.city.languages[1:]:
        said = alert.text(lang)
        assert said.source == "phrasebook"
        check_words(alert, settings, lang, [said.title, said.body, said.instruction])


def check_words(alert: Alert, settings: Settings, lang: str, parts: list[str]) -> None:
    """Filled, in words, and in the language: no slot left, no code, no Japanese-only city name."""
    text = "\n".join(furigana.plain(p) for p in parts)
    assert parts[0].strip(), (lang, parts)
    assert not LEFTOVER.search(text), (lang, text)
    assert not re.search(r"\b[0-9]{6,7}\b", text), (lang, text)  # an area code where a name belongs
    language = settings.phrasebook.language(lang)
    if language.script == "latin":
        assert settings.city.name not in text or settings.city.name_in(lang) in text, (lang, text)
        # the pattern's words are the language's own, not the Japanese wording passed through
        assert alert.title not in text, (lang, text)


async def test_a_cancel_names_what_it_withdraws_in_each_language(store: SQLiteStore, site: SiteFactory) -> None:
    quake, withdrawn = "32-35_06_03_240613_VXSE53.xml", "32-35_06_06_100915_VXSE53.xml"
    settings = settings_for(site, quake)
    ingest = JmaIngest(Lifecycle(store, settings))
    first = await ingest.handle(quake, sample(quake))
    cancel = await ingest.handle(withdrawn, sample(withdrawn))
    original = await store.get_alert(first.alert_id or "")
    retraction = await store.get_alert(cancel.alert_id or "")
    assert original is not None and retraction is not None
    assert retraction.phrase == "jma_cancel"
    for lang in settings.city.languages[1:]:
        said = retraction.text(lang)
        assert said.source == "phrasebook"
        assert furigana.plain(original.text(lang).title) in furigana.plain(said.body), (lang, said.body)
