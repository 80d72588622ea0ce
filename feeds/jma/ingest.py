"""From a fetched JMA document to alerts: parse, match the city, decide by policy, follow the event.

Warnings are followed as the city's state: each document changes only the kinds it mentions (a
per-hazard R06 document says nothing about other hazards), and an alert goes out only when what
is in force changes. So one issuance arriving as VPWW53, VPWW54 and VPWW55 yields one alert, a
継続 yields none, and a 解除 yields a "lifted" update to everyone who heard the warning. Other
kinds follow their series (Title, office, EventID): a later Serial or a 訂正 updates, a 取消 cancels.
Training and test documents only ever make exercise alerts.

An alert is for the whole city unless its document names finer areas within the city that the config
places in districts (a river's 浸水想定地区 by 町: feeds/jma/targets.py has the rule). Each 報 targets what
it names itself; the store's reach rules bring every version to whoever heard an earlier one, and a 取消
keeps the districts of what it retracts.

Only current documents are sent: one older than its family's ``[jma.max_age]`` by its report time is
recorded as ``stale`` and changes nothing, live or in a backfill. Within an event the newest report
wins by (report time, Serial), not by arrival: an older report arriving late is recorded and ignored
(warnings keep the newest report time per document stream, other events theirs in JMA_SERIES).

Deciding reads the store; everything a document changes is written at the end in one transaction
through the lifecycle: the alert (planned at once for an ``auto`` decision), the followed warnings,
and the "handled" marker. A crash before that commit leaves no trace, so the poller's retry handles
the document afresh; after it, the marker stops a second alert.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broadcaster import tags, variants
from broadcaster.cap_terms import assess
from broadcaster.clock import JST
from broadcaster.lifecycle import Lifecycle
from broadcaster.models import Alert, Mode, MsgType, Source
from broadcaster.state import JMA_HANDLED, JMA_SERIES, JMA_WARNINGS, StateRow
from feeds.jma import wording
from feeds.jma.areas import AreaCodes, concerning
from feeds.jma.freshness import describe, is_older, order_key, stale_reason
from feeds.jma.parse import ignored_reason, parse
from feeds.jma.policy import Verdict, decide
from feeds.jma.report import Kind, Report
from feeds.jma.targets import target
from feeds.jma.xmlsafe import RefusedDocument

log = logging.getLogger("feeds.jma")
ACTOR = "jma"
WARNINGS = ("VPWW53", "VPWW54", "VPWW55", "VPWW56", "VPWW57", "VPWW58", "VPWW59", "VPWW60", "VPWW61")
R06 = WARNINGS[2:]  # the 2026 per-hazard documents: authoritative once seen
QUAKES = ("VXSE51", "VXSE52", "VXSE53", "VXSE61", "VXSE62")


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of one document: the decision, why, and the alert it made (if any)."""

    source: str
    kind: str | None
    decision: str  # auto | approve | ignore | stale (older than max_age) | refused
    reason: str
    alert_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Decided:
    """A document's outcome before it is written: the alert to issue, and the warnings state to keep."""

    handled: Handled
    alert: Alert | None = None
    state: tuple[StateRow, ...] = ()


class JmaIngest:
    """Turns JMA documents into alerts, issued through the lifecycle (which wakes delivery)."""

    def __init__(
        self, lifecycle: Lifecycle, codes: AreaCodes | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.lifecycle = lifecycle
        self.clock = clock  # "now" for the documents' age
        self.store = lifecycle.store
        self.settings = lifecycle.settings
        self.codes = codes or AreaCodes.of(self.settings.areas)
        self.city = self.settings.city.name
        self.decisions: Counter[str] = Counter()  # documents by decision since start, for /healthz

    async def handle(self, source: str, data: bytes) -> Handled:
        """Handle one document once; never raises for bad input (the reason is logged and returned)."""
        # the poller may hand a document over again after a crash; it must not make a second alert
        earlier = await self.store.get_state(JMA_HANDLED, source)
        if earlier is not None:
            return self._log(Handled(source, None, "ignore", f"already handled ({earlier})"))
        decided = await self._decide(source, data)
        handled = decided.handled
        state = (*decided.state, JMA_HANDLED.entry(source, handled.alert_id or handled.decision))
        if decided.alert is None:
            await self.store.put_states(state)
        else:
            await self.lifecycle.issue(decided.alert, source, send_now=handled.decision == "auto", state=state)
        return self._log(handled)

    async def _decide(self, source: str, data: bytes) -> _Decided:
        try:
            report = parse(data, source=source, max_bytes=self.settings.jma.max_bytes)
        except RefusedDocument as exc:
            return _Decided(Handled(source, None, "refused", str(exc)))
        reason = ignored_reason(report)
        if reason:
            return _Decided(Handled(source, report.kind, "ignore", reason))
        stale = stale_reason(report, self.settings.jma.max_age, self.clock())
        if stale:
            return _Decided(Handled(source, report.kind, "stale", stale))
        mode = Mode.EXERCISE if report.is_exercise else Mode.LIVE
        if report.kind in WARNINGS:
            return await self._warnings(source, report, mode)
        # the newest report of the event wins, whatever order they arrive in
        series_key = f"{mode}:{self._series(report)}"
        newest = await self.store.get_state(JMA_SERIES, series_key)
        if is_older(order_key(report), newest):
            assert newest is not None
            why = f"older than the report already applied to this event ({describe(newest)})"
            return _Decided(Handled(source, report.kind, "ignore", why))
        decided = await self._event(source, report, mode)
        return dataclasses.replace(
            decided, state=(*decided.state, JMA_SERIES.entry(series_key, list(order_key(report))))
        )

    async def _event(self, source: str, report: Report, mode: Mode) -> _Decided:
        """A document of a type followed by its series (quakes, rivers, volcanoes …)."""
        if report.is_cancellation:
            return await self._cancel(source, report, mode, self._series(report))
        match = concerning(report, self.codes)
        verdict = decide(self.settings.jma.policy, report.kind, match.concerns_area, match.level, match.max_intensity)
        if verdict.rule is None or verdict.decision == "ignore":
            return _Decided(Handled(source, report.kind, "ignore", verdict.reason))
        if report.kind in QUAKES:
            words = wording.earthquake(report, self.city, match.max_intensity)
        else:
            words = wording.other(report, self.city, match.level, match.kinds)
        series = self._series(report)
        previous = await self.store.latest_alert(series, mode)  # a later Serial or a 訂正 updates it
        places = target(report, self.codes, self.settings)
        if report.river is not None:  # a river's 浸水想定地区: say where it went, or why it stays city-wide
            verdict = dataclasses.replace(verdict, reason=f"{verdict.reason}; {places.reason}")
        return self._issue(source, report, mode, series, words, verdict, match.level, previous, None, places.districts)

    @staticmethod
    def _series(report: Report) -> str:
        family = "quake" if report.kind in QUAKES else report.kind
        return f"jma:{family}:{report.editorial_office}:{report.event_id or report.title}"

    async def _warnings(self, source: str, report: Report, mode: Mode) -> _Decided:
        state_key = f"{mode}:{self.codes.city}"
        state = await self.store.get_state(JMA_WARNINGS, state_key) or {"kinds": {}}
        if report.kind not in R06 and state.get("r06"):
            return _Decided(
                Handled(source, report.kind, "ignore", "the R06 per-hazard documents are authoritative here")
            )
        # VPWW53/54 each restate everything in force: one stream; each R06 document speaks for its hazard
        stream = report.kind if report.kind in R06 else "legacy"
        newest = state.get("newest", {}).get(stream)
        if is_older(order_key(report), newest):
            why = f"older than the warnings already applied ({describe(newest)})"
            return _Decided(Handled(source, report.kind, "ignore", why))
        state["newest"] = {**state.get("newest", {}), stream: list(order_key(report))}
        if report.is_cancellation:
            cancelled = await self._cancel(source, report, mode, state.get("event", ""))
            cleared: dict[str, Any] = {"kinds": {}, "r06": state.get("r06"), "newest": state["newest"]}
            return dataclasses.replace(cancelled, state=(JMA_WARNINGS.entry(state_key, cleared),))
        match = concerning(report, self.codes)
        if not match.concerns_area:
            return _Decided(Handled(source, report.kind, "ignore", match.reason))
        before: dict[str, list[Any]] = state["kinds"]
        after = self._apply(report, match.kinds, before)
        state.update(kinds=after, r06=state.get("r06") or report.kind in R06)
        # 発表 → 継続 is no news; a new kind, a lifted one, or a changed condition or level is
        changed = {c: v[:1] + v[2:4] for c, v in after.items()} != {c: v[:1] + v[2:4] for c, v in before.items()}
        if changed:
            decided = await self._warning_change(source, report, mode, state, before, after)
        else:
            decided = _Decided(
                Handled(source, report.kind, "ignore", "nothing in force changed (継続, or another format)")
            )
        # the state is encoded after _warning_change, which names (or ends) the event it follows
        kept = JMA_WARNINGS.entry(state_key, state)
        return dataclasses.replace(decided, state=(kept,))

    @staticmethod
    def _apply(report: Report, kinds: tuple[Kind, ...], before: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """What is in force after this document: [name, status, condition, level, source kind] by code."""
        if report.kind in R06:
            # a per-hazard document speaks for its own hazard only: other hazards stay as they were
            named = {k.code for k in kinds}
            after = {c: v for c, v in before.items() if v[4] != report.kind and c not in named}
        else:
            after = {}  # VPWW53/54 list everything in force in the area: what is absent has ended
        for k in kinds:
            if k.active and k.code:
                after[k.code] = [k.name, k.status, k.condition, k.level, report.kind]
        return after

    async def _warning_change(
        self,
        source: str,
        report: Report,
        mode: Mode,
        state: dict[str, Any],
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> _Decided:
        active = [Kind(c, n, s, cond, lv) for c, (n, s, cond, lv, _) in after.items()]
        lifted = [Kind(c, n, "解除", cond, lv) for c, (n, _, cond, lv, _) in before.items() if c not in after]
        level = max((k.level for k in active if k.level), default=None)
        if not before or not state.get("event"):
            state["event"] = f"jma:warnings:{self.codes.city}:{report.reported_at:%Y%m%d%H%M}"
        previous = await self.store.latest_alert(state["event"], mode)
        words = wording.warnings(report, self.city, active, lifted)
        if not active:
            state.pop("event")
            if previous is None:
                return _Decided(Handled(source, report.kind, "ignore", "lifted, but no alert had gone out"))
            # whoever heard the warning hears it lifted, on the same channels
            verdict = Verdict("auto", "解除 of a warning that went out")
            return self._issue(source, report, mode, previous.event_key, words, verdict, None, previous, MsgType.LIFT)
        verdict = decide(self.settings.jma.policy, report.kind, True, level, None)
        if verdict.rule is None or verdict.decision == "ignore":
            return _Decided(Handled(source, report.kind, "ignore", verdict.reason))
        return self._issue(source, report, mode, state["event"], words, verdict, level, previous)

    async def _cancel(self, source: str, report: Report, mode: Mode, event_key: str) -> _Decided:
        previous = await self.store.latest_alert(event_key, mode) if event_key else None
        if previous is None or previous.msg_type == MsgType.CANCEL:
            return _Decided(Handled(source, report.kind, "ignore", "取消 of nothing that went out"))
        titles = {lang: tags.bare(previous.text(lang).title) for lang in previous.languages}
        words = wording.cancellation(report, self.city, previous.title, previous.badge, titles)
        # a cancel needs no second approval: retracting is always safe
        verdict = Verdict("auto", "取消 of an earlier document")
        return self._issue(
            source, report, mode, event_key, words, verdict, None, previous, MsgType.CANCEL, previous.districts
        )

    def _issue(
        self,
        source: str,
        report: Report,
        mode: Mode,
        event_key: str,
        words: wording.Wording,
        verdict: Verdict,
        level: int | None,
        previous: Alert | None = None,
        msg_type: MsgType | None = None,
        districts: tuple[str, ...] = (),
    ) -> _Decided:
        rule = verdict.rule
        category = rule.category if rule else (previous.category if previous else "disaster")
        channels = (rule.channels or self.settings.categories[category].channels) if rule else ()
        if previous is not None:
            channels = tuple(dict.fromkeys((*channels, *previous.channels)))  # never fewer than heard it
        enabled = self.settings.enabled_channels
        alert = Alert(
            id=f"jma-{report.reported_at.astimezone(JST):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}",
            source=Source.JMA,
            category=category,
            level=level or (previous.level if previous else 1),
            title=words.title,
            body=words.body,
            instruction=words.instruction,
            kind=(rule.template if rule else "") or words.kind or (previous.kind if previous else ""),
            badge=words.badge,  # 震度, 噴火警戒レベル: the scale when it is not a 警戒レベル (broadcaster/tags)
            areas=(self.codes.city,),
            districts=districts,  # (): the whole city
            event_key=event_key,
            version=previous.version + 1 if previous else 1,
            msg_type=msg_type or (MsgType.UPDATE if previous else MsgType.ALERT),
            mode=mode,
            expires=report.valid_until.timestamp() if report.valid_until else None,
            channels=tuple(c for c in channels if c in enabled),
            created_at=time.time(),
            created_by=ACTOR,
            references=previous.id if previous else None,
            phrase=words.phrase,
            slots=words.slots,
        )
        # every offered language, from the phrasebook pattern the words correspond to
        alert = assess(
            variants.complete(alert, self.settings), self.settings
        )  # CAP's urgency, severity and certainty (broadcaster/cap_terms)
        return _Decided(Handled(source, report.kind, verdict.decision, verdict.reason, alert.id), alert)

    def _log(self, handled: Handled) -> Handled:
        self.decisions[handled.decision] += 1
        log.info(
            "jma document=%s kind=%s decision=%s alert=%s reason=%s",
            handled.source, handled.kind, handled.decision, handled.alert_id or "-", handled.reason,
        )  # fmt: skip
        return handled
