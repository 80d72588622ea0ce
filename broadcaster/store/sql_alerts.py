"""Alerts and their approval: planning the delivery rows and superseding older versions."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from broadcaster.errors import InputError, Stale
from broadcaster.fingerprint import fingerprint
from broadcaster.models import (
    Alert,
    AlertId,
    AlertState,
    Certainty,
    ChannelName,
    ContactKind,
    Mode,
    MsgType,
    Published,
    Severity,
    Source,
    Text,
    Urgency,
)
from broadcaster.store import ApprovalRecord, sql_journal
from broadcaster.store.sql_deliveries import PENDING, SUPERSEDED, finish_if_closed
from broadcaster.store.sql_subscribers import audience_sql, district_filter

CORRECTION_PRIORITY = 10  # corrections and cancels jump the queue
COLUMNS = (
    "id, source, category, level, title, body, instruction, kind, severity, urgency, certainty, areas, "
    "translations, event_key, version, msg_type, mode, expires, channels, state, created_at, created_by, refs, badge, "
    "districts, phrase"
)
NEW_ROW = """INSERT OR IGNORE INTO deliveries
             (alert_id, channel, recipient, lang, state, priority, queued_at, next_attempt_at)"""


def create(
    conn: sqlite3.Connection,
    alert: Alert,
    actor: str,
    origin: str,
    now: float,
    approve_it: bool = False,
    state: Sequence[tuple[str, str, str]] = (),
) -> dict[ChannelName, int]:
    """Store a new alert and audit it; plan it too with ``approve_it``; remember the feed ``state`` rows."""
    translations = _translations(alert)
    values = (
        alert.id, alert.source, alert.category, alert.level, alert.title, alert.body, alert.instruction,
        alert.kind, alert.severity, alert.urgency, alert.certainty, json.dumps(alert.areas, ensure_ascii=False),
        json.dumps(translations, ensure_ascii=False), alert.event_key, alert.version, alert.msg_type,
        alert.mode, alert.expires, json.dumps(alert.channels), alert.state, alert.created_at,
        alert.created_by, alert.references, alert.badge, json.dumps(alert.districts), _phrase(alert),
    )  # fmt: skip
    conn.execute(f"INSERT INTO alerts ({COLUMNS}) VALUES ({', '.join('?' * len(values))})", values)
    for name in dict.fromkeys((alert.created_by, actor)):  # whoever wrote it: none of them may approve it
        _author(conn, alert.id, name, now)
    if alert.state == AlertState.PENDING_APPROVAL:  # a source's alert queued for an approver: the source asked
        conn.execute("UPDATE alerts SET requested_by = ?, requested_at = ? WHERE id = ?", (actor, now, alert.id))
    sql_journal.audit(conn, now, actor, "create", alert.id, f"{alert.mode} {alert.msg_type} {alert.category}", origin)
    planned = approve(conn, alert.id, actor, origin, now) if approve_it else {}
    sql_journal.feed_set_many(conn, state)
    return planned


def update_draft(conn: sqlite3.Connection, alert: Alert, actor: str, origin: str, now: float) -> None:
    """Replace the words and choices of a draft (only a draft: what was sent is never rewritten).

    Whoever changes its content becomes one of its authors, who may never approve it.
    """
    before = get(conn, alert.id)
    translations = _translations(alert)
    changed = conn.execute(
        """UPDATE alerts SET category = ?, level = ?, title = ?, body = ?, instruction = ?, kind = ?, areas = ?,
                  translations = ?, expires = ?, channels = ?, districts = ?, phrase = ?
           WHERE id = ? AND state = ?""",
        (alert.category, alert.level, alert.title, alert.body, alert.instruction, alert.kind,
         json.dumps(alert.areas, ensure_ascii=False), json.dumps(translations, ensure_ascii=False), alert.expires,
         json.dumps(alert.channels), json.dumps(alert.districts), _phrase(alert), alert.id, AlertState.DRAFT),
    ).rowcount  # fmt: skip
    after = get(conn, alert.id)
    if not changed or before is None or after is None:
        raise InputError(
            f"alert {alert.id} is not a draft any more; nothing was changed", code="no_longer_draft", id=alert.id
        )
    if fingerprint(after) != fingerprint(before):
        _author(conn, alert.id, actor, now)
    sql_journal.audit(conn, now, actor, "edit", alert.id, f"{alert.mode} {alert.category}", origin)


def get(conn: sqlite3.Connection, alert_id: AlertId) -> Alert | None:
    """One alert, or None."""
    row = conn.execute(f"SELECT {COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return _alert(row) if row else None


def newest(conn: sqlite3.Connection, limit: int) -> list[Alert]:
    """The newest alerts first."""
    rows = conn.execute(f"SELECT {COLUMNS} FROM alerts ORDER BY created_at DESC LIMIT ?", (limit,))
    return [_alert(row) for row in rows]


def published(conn: sqlite3.Connection, channel: ChannelName, since: float, limit: int) -> list[Published]:
    """Alerts ``channel`` has carried (its one public row sent) since ``since``, the latest sent first."""
    columns = ", ".join(f"a.{c.strip()}" for c in COLUMNS.split(","))
    rows = conn.execute(
        f"""SELECT {columns}, d.sent_at FROM deliveries d JOIN alerts a ON a.id = d.alert_id
            WHERE d.channel = ? AND d.recipient = 0 AND d.state = 'sent' AND d.sent_at >= ?
            ORDER BY d.sent_at DESC LIMIT ?""",
        (channel, since, limit),
    )
    return [Published(_alert(row[:-1]), row[-1]) for row in rows]


def latest(conn: sqlite3.Connection, event_key: str, mode: str) -> Alert | None:
    """The newest version of an event (one mode only: exercise and live chains never mix)."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM alerts WHERE event_key = ? AND mode = ? ORDER BY version DESC, created_at DESC LIMIT 1",
        (event_key, mode),
    ).fetchone()
    return _alert(row) if row else None


def approve(conn: sqlite3.Connection, alert_id: AlertId, actor: str, origin: str, now: float) -> dict[ChannelName, int]:
    """Approve: supersede older versions, write the delivery rows and their counts, audit.

    Whom a version reaches depends on what it is:

    - an alert: the audience of its channels now;
    - a source's update (JMA's next 報): planned afresh, since a warning that grows may reach more
      channels and people, and whoever got an earlier version or was about to gets it too (its
      districts may differ from the earlier report's);
    - a correction (【訂正】) and a lift (【解除】): whoever got an earlier version or was about to, and
      whoever the event's channels would reach now (a resident who subscribed during the emergency);
    - a cancel (【取消】): exactly whoever got an earlier version, and nobody else.

    A cancel or a lift also withdraws the event's versions still waiting (a draft, or pending approval):
    approved later, they would put a cancelled or lifted event back on the air.
    """
    alert = get(conn, alert_id)
    if alert is None:
        raise InputError(f"no alert {alert_id}", code="no_alert", id=alert_id)
    if alert.state not in (AlertState.DRAFT, AlertState.PENDING_APPROVAL):
        raise InputError(
            f"alert {alert_id} is {alert.state}, not awaiting approval",
            code="not_pending",
            id=alert_id,
            state=alert.state,
        )
    older = _older(conn, alert) if alert.event_key else []
    _still_newest(conn, alert)
    priority = alert.level + (CORRECTION_PRIORITY if alert.msg_type != MsgType.ALERT else 0)
    row = (PENDING, priority, now, now)  # state, priority, queued_at, next_attempt_at
    if alert.msg_type != MsgType.CANCEL:
        for channel in alert.channels:
            _plan(conn, alert, channel, row)
    if older:
        # whoever got an earlier version (or was about to, for some) gets this one too, on the same
        # channel; copied before the older pending rows are superseded below
        _copy_rows(conn, alert, older, _COPIED.get(alert.msg_type, ("sent", "sending")), row)
    _supersede(conn, alert, older)
    if alert.msg_type in (MsgType.CANCEL, MsgType.LIFT):
        _withdraw_waiting(conn, alert, actor, origin, now)
    planned = dict(
        conn.execute("SELECT channel, count(*) FROM deliveries WHERE alert_id = ? GROUP BY channel", (alert.id,))
    )
    conn.executemany(
        "INSERT INTO delivery_counts VALUES (?, ?, 'pending', ?)", [(alert.id, ch, n) for ch, n in planned.items()]
    )
    conn.execute(
        "UPDATE alerts SET state = ?, approved_by = ?, approved_at = ? WHERE id = ?",
        (AlertState.APPROVED if planned else AlertState.DONE, actor, now, alert.id),
    )
    sql_journal.audit(conn, now, actor, "approve", alert.id, json.dumps(planned), origin)
    return planned


# which rows of the older versions a new version is copied to; any other copies what was delivered or is
# being delivered (its pending rows are superseded and planned afresh)
_COPIED = {
    # a source's next 報 may name other districts (a river's 浸水想定地区): whoever was about to hear of the
    # event still hears its newest word, even where the new report no longer names their district
    MsgType.UPDATE: ("pending", "sending", "sent"),
    MsgType.CORRECTION: ("pending", "sending", "sent"),  # got it, or was about to
    MsgType.LIFT: ("pending", "sending", "sent"),
    MsgType.CANCEL: ("sending", "sent"),  # got it: nobody else hears of a mistake
}


def reach(conn: sqlite3.Connection, alert: Alert, actor: str, now: float) -> dict[ChannelName, int]:
    """The delivery rows approve() would write for ``alert`` now, by channel: the same code, undone after.

    ``alert`` may be stored (a draft, or pending approval) or not yet (a correction being written). An
    alert already approved has its rows: those are counted. One that approve() would refuse (a
    correction overtaken by a newer version) reaches nobody. Nothing is left changed.
    """
    stored = get(conn, alert.id)
    if stored is not None and stored.state not in (AlertState.DRAFT, AlertState.PENDING_APPROVAL):
        return dict(
            conn.execute("SELECT channel, count(*) FROM deliveries WHERE alert_id = ? GROUP BY channel", (alert.id,))
        )
    if stored is None and alert.msg_type == MsgType.ALERT and not _versions_of(conn, alert):
        # a new event reaches its audience and nobody else: counted with the planning's own SQL, nothing
        # written (the console asks at every tick of a district, and writing a million rows holds the store)
        return _audience_counts(conn, alert)
    conn.execute("SAVEPOINT reach")
    try:
        if stored is None:
            create(conn, dataclasses.replace(alert, state=AlertState.DRAFT), actor, "reach", now)
        return approve(conn, alert.id, actor, "reach", now)
    except InputError:
        return {}
    finally:
        conn.execute("ROLLBACK TO reach")
        conn.execute("RELEASE reach")


def _versions_of(conn: sqlite3.Connection, alert: Alert) -> bool:
    return bool(
        conn.execute("SELECT EXISTS (SELECT 1 FROM alerts WHERE event_key = ?)", (alert.event_key,)).fetchone()[0]
    )


def _audience_counts(conn: sqlite3.Connection, alert: Alert) -> dict[ChannelName, int]:
    """What ``_plan`` would write for each of a new alert's channels, counted; channels with none left out."""
    counts: dict[ChannelName, int] = {}
    for channel in alert.channels:
        n = 1
        if channel in ContactKind.__members__.values():
            where, params = district_filter(conn, alert.districts)
            n = conn.execute(
                f"SELECT count(*) {audience_sql(alert.mode == Mode.EXERCISE, where)}",
                (alert.category, channel, *params),
            ).fetchone()[0]
        if n:
            counts[channel] = n
    return counts


def request_approval(
    conn: sqlite3.Connection, alert_id: AlertId, actor: str, origin: str, now: float, expected: str | None = None
) -> None:
    """Put a draft in front of an approver; whoever asks may not approve it. An earlier rejection is answered.

    ``expected``: the fingerprint of the version the requester confirmed; Stale if the draft changed since.
    """
    alert = get(conn, alert_id)
    if alert is None:
        raise InputError(f"no alert {alert_id}", code="no_alert", id=alert_id)
    if alert.state != AlertState.DRAFT:
        raise InputError(
            f"alert {alert_id} is {alert.state}, not a draft", code="not_draft", id=alert_id, state=alert.state
        )
    if expected is not None:
        _same_version(alert, expected)
    conn.execute(
        "UPDATE alerts SET state = ?, requested_by = ?, requested_at = ?, rejection = '' WHERE id = ?",
        (AlertState.PENDING_APPROVAL, actor, now, alert_id),
    )
    sql_journal.audit(conn, now, actor, "request_approval", alert_id, f"{alert.mode} level {alert.level}", origin)


def approve_pending(
    conn: sqlite3.Connection, alert_id: AlertId, actor: str, origin: str, now: float, expected: str
) -> dict[ChannelName, int]:
    """The second person's approval of the version ``expected`` (its fingerprint): an approver account
    that is neither one of the alert's authors nor its requester. Stale if the alert has changed."""
    alert = get(conn, alert_id)
    if alert is None:
        raise InputError(f"no alert {alert_id}", code="no_alert", id=alert_id)
    if alert.state != AlertState.PENDING_APPROVAL:
        raise InputError(
            f"alert {alert_id} is {alert.state}, not awaiting approval",
            code="not_pending",
            id=alert_id,
            state=alert.state,
        )
    approval_record(conn, alert_id).second_person(actor)  # its authors include whoever created it
    role = conn.execute("SELECT role FROM users WHERE name = ? AND disabled = 0", (actor,)).fetchone()
    if role is None or role[0] != "approver":
        raise InputError(f"{actor!r} does not have the approver role", code="not_approver", name=actor)
    _same_version(alert, expected)
    return approve(conn, alert_id, actor, origin, now)


def approve_confirmed(
    conn: sqlite3.Connection, alert_id: AlertId, actor: str, origin: str, now: float, expected: str
) -> dict[ChannelName, int]:
    """Plan a draft its sender confirmed, if it is still a draft and the version ``expected`` (its fingerprint)."""
    alert = get(conn, alert_id)
    if alert is None:
        raise InputError(f"no alert {alert_id}", code="no_alert", id=alert_id)
    if alert.state != AlertState.DRAFT:  # queued meanwhile: only its approver may send it now
        raise InputError(
            f"alert {alert_id} is {alert.state}, not a draft", code="not_draft", id=alert_id, state=alert.state
        )
    _same_version(alert, expected)
    return approve(conn, alert_id, actor, origin, now)


def reject(conn: sqlite3.Connection, alert_id: AlertId, actor: str, reason: str, origin: str, now: float) -> None:
    """Send a pending alert back to its author as a draft, or drop a draft (reason says why).

    A pending alert's reason is required: its author reads it on the draft until it is put forward again.
    """
    alert = get(conn, alert_id)
    if alert is None:
        raise InputError(f"no alert {alert_id}", code="no_alert", id=alert_id)
    if alert.state == AlertState.PENDING_APPROVAL:
        if not reason.strip():
            raise InputError("say why the alert is sent back: its author reads the reason", code="reason_required")
        conn.execute(
            "UPDATE alerts SET state = ?, requested_by = NULL, requested_at = NULL, rejection = ? WHERE id = ?",
            (AlertState.DRAFT, reason.strip(), alert_id),
        )
        sql_journal.audit(conn, now, actor, "reject", alert_id, reason, origin)
    elif alert.state == AlertState.DRAFT:
        conn.execute("UPDATE alerts SET state = ? WHERE id = ?", (AlertState.CANCELLED, alert_id))
        sql_journal.audit(conn, now, actor, "discard", alert_id, reason, origin)
    else:
        raise InputError(
            f"alert {alert_id} is {alert.state}: correct or cancel it instead", code="already_sent", id=alert_id,
            state=alert.state,
        )  # fmt: skip


def people(conn: sqlite3.Connection, alert_id: AlertId) -> tuple[str, str, str, float | None]:
    """Who wrote, asked approval for and approved an alert, and when it was approved ('' for nobody)."""
    row = conn.execute(
        "SELECT created_by, requested_by, approved_by, approved_at FROM alerts WHERE id = ?", (alert_id,)
    ).fetchone()
    if row is None:
        return "", "", "", None
    return row[0], row[1] or "", row[2] or "", row[3]


def approval_record(conn: sqlite3.Connection, alert_id: AlertId) -> ApprovalRecord:
    """Authors, requester, approver and rejection of an alert (all empty for an unknown alert)."""
    authors = tuple(
        r[0]
        for r in conn.execute("SELECT name FROM alert_authors WHERE alert_id = ? ORDER BY first_at, name", (alert_id,))
    )
    row = conn.execute(
        "SELECT requested_by, requested_at, approved_by, approved_at, rejection FROM alerts WHERE id = ?", (alert_id,)
    ).fetchone()
    if row is None:
        return ApprovalRecord((), "", None, "", None, "")
    return ApprovalRecord(authors, row[0] or "", row[1], row[2] or "", row[3], row[4])


def _author(conn: sqlite3.Connection, alert_id: AlertId, name: str, now: float) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO alert_authors (alert_id, name, first_at) VALUES (?, ?, ?)", (alert_id, name, now)
    )


def _same_version(alert: Alert, expected: str) -> None:
    """Stale unless the stored alert is the version whose fingerprint the approver or sender saw."""
    if fingerprint(alert) != expected:
        raise Stale(alert.id)


def in_state(conn: sqlite3.Connection, state: AlertState, limit: int) -> list[Alert]:
    """Alerts in one state, the oldest first (the approval queue, the drafts)."""
    rows = conn.execute(f"SELECT {COLUMNS} FROM alerts WHERE state = ? ORDER BY created_at LIMIT ?", (state, limit))
    return [_alert(row) for row in rows]


def search(conn: sqlite3.Connection, text: str, mode: str, limit: int, offset: int) -> list[Alert]:
    """Alerts whose id, title or body contain ``text`` ('' for all), in one mode or both, the newest first."""
    pattern = sql_journal.like_pattern(text)
    rows = conn.execute(
        f"""SELECT {COLUMNS} FROM alerts
            WHERE (id LIKE ?1 ESCAPE '\\' OR title LIKE ?1 ESCAPE '\\' OR body LIKE ?1 ESCAPE '\\')
              AND (?2 = '' OR mode = ?2)
            ORDER BY created_at DESC LIMIT ?3 OFFSET ?4""",
        (pattern, mode, limit, offset),
    )
    return [_alert(row) for row in rows]


def versions(conn: sqlite3.Connection, event_key: str, mode: str) -> list[Alert]:
    """Every version of an event in one mode, the first first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM alerts WHERE event_key = ? AND mode = ? ORDER BY version, created_at",
        (event_key, mode),
    )
    return [_alert(row) for row in rows]


def _plan(conn: sqlite3.Connection, alert: Alert, channel: str, row: tuple[Any, ...]) -> None:
    if channel in ContactKind.__members__.values():
        where, params = district_filter(conn, alert.districts)
        conn.execute(
            f"{NEW_ROW} SELECT ?, ?, s.id, s.language, ?, ?, ?, ? {audience_sql(alert.mode == Mode.EXERCISE, where)}",
            (alert.id, channel, *row, alert.category, channel, *params),
        )
    else:
        conn.execute(f"{NEW_ROW} VALUES (?, ?, 0, 'ja', ?, ?, ?, ?)", (alert.id, channel, *row))


def _older(conn: sqlite3.Connection, alert: Alert) -> list[AlertId]:
    """The approved older versions of the alert's event.

    Only versions of the same mode count: an exercise must never touch a live chain, nor reach its audience.
    """
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM alerts WHERE event_key = ? AND mode = ? AND id != ? AND state IN (?, ?, ?)",
            (alert.event_key, alert.mode, alert.id, AlertState.APPROVED, AlertState.DISPATCHING, AlertState.DONE),
        )
    ]


def _copy_rows(
    conn: sqlite3.Connection, alert: Alert, older: list[AlertId], states: tuple[str, ...], row: tuple[Any, ...]
) -> None:
    """Plan ``alert`` for the recipients of older versions' rows in ``states``: same channel, same language."""
    conn.execute(
        f"""{NEW_ROW} SELECT ?, channel, recipient, lang, ?, ?, ?, ? FROM deliveries
            WHERE alert_id IN ({", ".join("?" * len(older))}) AND state IN ({", ".join("?" * len(states))})""",
        (alert.id, *row, *older, *states),
    )


def _supersede(conn: sqlite3.Connection, alert: Alert, older: list[AlertId]) -> None:
    """Supersede the pending rows of older versions of the event."""
    for old in older:
        conn.execute("UPDATE deliveries SET state = ? WHERE alert_id = ? AND state = ?", (SUPERSEDED, old, PENDING))
        conn.execute(
            """INSERT INTO delivery_counts SELECT alert_id, channel, ?, n FROM delivery_counts
               WHERE alert_id = ? AND state = ? AND n > 0 ON CONFLICT DO UPDATE SET n = n + excluded.n""",
            (SUPERSEDED, old, PENDING),
        )
        conn.execute("UPDATE delivery_counts SET n = 0 WHERE alert_id = ? AND state = ?", (old, PENDING))
        conn.execute("UPDATE alerts SET superseded_by = ? WHERE id = ?", (alert.id, old))
        if alert.msg_type == MsgType.CANCEL:
            conn.execute("UPDATE alerts SET state = ? WHERE id = ?", (AlertState.CANCELLED, old))
        else:
            finish_if_closed(conn, old)


def _still_newest(conn: sqlite3.Connection, alert: Alert) -> None:
    """InputError when an officer's correction, lift or cancel follows a version that is no longer the newest sent.

    Written for one version and approved after another went out, it would undo that one's words.
    """
    if alert.source != Source.STAFF or alert.msg_type not in _COPIED or not alert.references or not alert.event_key:
        return
    newest = conn.execute(
        """SELECT id FROM alerts WHERE event_key = ? AND mode = ? AND id != ? AND state IN (?, ?, ?)
           ORDER BY version DESC, created_at DESC LIMIT 1""",
        (alert.event_key, alert.mode, alert.id, AlertState.APPROVED, AlertState.DISPATCHING, AlertState.DONE),
    ).fetchone()
    if newest is not None and newest[0] != alert.references:
        raise InputError(
            f"alert {alert.id} follows {alert.references}, but {newest[0]} has gone out since",
            code="overtaken",
            id=alert.id,
            newer=newest[0],
        )


def _withdraw_waiting(conn: sqlite3.Connection, alert: Alert, actor: str, origin: str, now: float) -> None:
    """Discard the event's versions still waiting (drafts, pending approval) once it is cancelled or lifted."""
    waiting = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM alerts WHERE event_key = ? AND mode = ? AND id != ? AND state IN (?, ?)",
            (alert.event_key, alert.mode, alert.id, AlertState.DRAFT, AlertState.PENDING_APPROVAL),
        )
    ]
    for old in waiting:
        conn.execute("UPDATE alerts SET state = ? WHERE id = ?", (AlertState.CANCELLED, old))
        sql_journal.audit(conn, now, actor, "withdraw", old, f"{alert.msg_type} {alert.id}", origin)


def _translations(alert: Alert) -> dict[str, list[str]]:
    return {k: [t.title, t.body, t.instruction, t.source] for k, t in alert.translations.items()}


def _phrase(alert: Alert) -> str:
    if not alert.phrase:
        return ""
    return json.dumps({"id": alert.phrase, "slots": alert.slots}, ensure_ascii=False, sort_keys=True)


def _alert(row: tuple[Any, ...]) -> Alert:
    translations: Mapping[str, list[str]] = json.loads(row[12])
    phrase: dict[str, Any] = json.loads(row[25]) if row[25] else {"id": "", "slots": {}}
    return Alert(
        id=row[0],
        source=Source(row[1]),
        category=row[2],
        level=row[3],
        title=row[4],
        body=row[5],
        instruction=row[6],
        kind=row[7],
        severity=Severity(row[8]),
        urgency=Urgency(row[9]),
        certainty=Certainty(row[10]),
        areas=tuple(json.loads(row[11])),
        translations={k: Text(*v) for k, v in translations.items()},
        event_key=row[13],
        version=row[14],
        msg_type=MsgType(row[15]),
        mode=Mode(row[16]),
        expires=row[17],
        channels=tuple(json.loads(row[18])),
        state=AlertState(row[19]),
        created_at=row[20],
        created_by=row[21],
        references=row[22],
        badge=row[23],
        districts=tuple(json.loads(row[24])),
        phrase=phrase["id"],
        slots=phrase["slots"],
    )
