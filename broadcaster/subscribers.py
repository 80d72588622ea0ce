"""Subscribers as CSV: import all or nothing, export, and counts without personal data.

Every exported cell is neutral for spreadsheets (broadcaster/csv_cells.py: an apostrophe before a
leading ``=``, ``+``, ``-``, ``@``, tab or carriage return, or before a leading apostrophe), and the
import takes that one apostrophe off again, so an export imports back unchanged. No valid cell starts
with an apostrophe of its own (addresses, LINE ids, category and district ids, languages, states, true/false).

A language must be one the city offers (``[city] languages``, BCP 47 codes: ja, ja-x-easy, en, pt-BR …);
its case does not matter on import, and it is stored as the city's list spells it.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterable, Iterator
from typing import IO, TextIO

from broadcaster.csv_cells import neutral, restored
from broadcaster.errors import InputError
from broadcaster.models import ContactKind, Subscriber, SubscriberState
from broadcaster.settings import Settings

# districts: the ids of the 地区 chosen, separated by spaces; empty (or no such column, as in a file
# written before districts existed) is the whole city
COLUMNS = ("channel", "contact", "categories", "language", "state", "tester", "districts")
REQUIRED = ("channel", "contact", "categories")
# no spaces, quotes, angle brackets or control characters: an address a relay accepts as written
_PART = r"[^@\s<>\"'\x00-\x1f\x7f-\x9f]+"
EMAIL = re.compile(rf"^{_PART}@{_PART}\.{_PART}$")
LINE_USER = re.compile(r"^U[0-9a-f]{32}$")
TRUE, FALSE = ("1", "true", "yes"), ("", "0", "false", "no")
MAX_ERRORS = 200  # enough to fix a file; the count says how many there were in all


class CsvReader:
    """Validates subscriber rows as they stream into the store; collects every bad row."""

    def __init__(self, settings: Settings) -> None:
        self.categories = set(settings.categories)
        # the city's offered languages, in its order (the error lists them so); keyed in lower case, since a
        # spreadsheet may have written pt-BR as pt-br: the stored code is always the offered spelling
        self.languages = {code.lower(): code for code in settings.city.languages}
        self.districts = [d.id for d in settings.districts]
        self.errors: list[str] = []
        self.bad_rows = 0

    def rows(self, f: TextIO) -> Iterator[Subscriber]:
        """Good rows as Subscribers; bad ones are noted with their line number."""
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        unknown = [c for c in header if c not in COLUMNS]
        if missing or unknown:
            self._bad(
                1,
                f"header: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}; expected {','.join(COLUMNS)}",
            )
            return
        seen: set[tuple[str, str]] = set()
        now = time.time()
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a field over the csv module's limit, a NUL in an old Python: the file is broken
                self._bad(reader.line_num, f"not readable as CSV ({exc}); nothing after it was read")
                return
            line = reader.line_num
            row = {key: restored(value) if isinstance(value, str) else value for key, value in raw.items()}
            problems = self._check(row, seen)
            if problems:
                self._bad(line, "; ".join(problems))
                continue
            channel = ContactKind(row["channel"].strip())
            contact = row["contact"].strip()
            yield Subscriber(
                id=0,
                channel=channel,
                # mail systems treat addresses case-insensitively; one resident must be one subscriber
                contact=contact.lower() if channel == ContactKind.EMAIL else contact,
                categories=frozenset(row["categories"].split()),
                language=self.languages[(row.get("language") or "ja").strip().lower()],
                state=SubscriberState((row.get("state") or "active").strip()),
                tester=(row.get("tester") or "").strip().lower() in TRUE,
                districts=frozenset((row.get("districts") or "").split()),
                created_at=now,
                updated_at=now,
            )

    def _check(self, row: dict[str, str | None], seen: set[tuple[str, str]]) -> list[str]:
        if None in row:
            return ["more fields than the header has"]
        channel = (row.get("channel") or "").strip()
        contact = (row.get("contact") or "").strip()
        problems = []
        if channel not in ContactKind.__members__.values():
            problems.append(f"channel must be one of {', '.join(ContactKind)}")
        elif channel == ContactKind.EMAIL and not EMAIL.match(contact):
            problems.append("contact is not an email address")  # the address itself is not repeated
        elif channel == ContactKind.LINE and not LINE_USER.match(contact):
            problems.append("contact is not a LINE user id (U + 32 hex digits)")
        elif (channel, contact.lower()) in seen:
            problems.append("the same contact appears on an earlier line")
        seen.add((channel, contact.lower()))
        cats = (row.get("categories") or "").split()
        if not cats:
            problems.append("categories is empty")
        bad_cats = [c for c in cats if c not in self.categories]
        if bad_cats:
            problems.append(f"unknown categories {bad_cats}; valid: {', '.join(sorted(self.categories))}")
        lang = (row.get("language") or "ja").strip()
        if lang.lower() not in self.languages:
            problems.append(
                f"language {lang!r} is not one the city offers; valid: {', '.join(self.languages.values())}"
            )
        state = (row.get("state") or "active").strip()
        if state not in SubscriberState.__members__.values():
            problems.append(f"state must be one of {', '.join(SubscriberState)}")
        if (row.get("tester") or "").strip().lower() not in TRUE + FALSE:
            problems.append("tester must be true or false")
        bad_districts = [d for d in (row.get("districts") or "").split() if d not in self.districts]
        if bad_districts:
            valid = ", ".join(self.districts) or "none (leave it empty: the whole city)"
            problems.append(f"unknown districts {bad_districts}; valid: {valid}")
        return problems

    def _bad(self, line: int, problem: str) -> None:
        self.bad_rows += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"line {line}: {problem}")

    def check(self) -> None:
        """Raise InputError naming every bad row; called inside the import transaction."""
        if self.bad_rows:
            more = f" (first {MAX_ERRORS} shown)" if self.bad_rows > MAX_ERRORS else ""
            raise InputError(f"{self.bad_rows} bad row(s), nothing imported{more}:\n" + "\n".join(self.errors))


def checked(reader: CsvReader, f: TextIO) -> Iterable[Subscriber]:
    """The good rows, then a check that fails the whole import if any row was bad."""
    yield from reader.rows(f)
    reader.check()


class CsvWriter:
    """Writes subscribers in the import format, the header first."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(COLUMNS)

    def write(self, batch: list[Subscriber]) -> None:
        """Write one batch of rows."""
        for s in batch:
            cells = (
                s.channel,
                s.contact,
                " ".join(sorted(s.categories)),
                s.language,
                s.state,
                str(s.tester).lower(),
                " ".join(sorted(s.districts)),  # empty: the whole city
            )
            self._writer.writerow([neutral(str(cell)) for cell in cells])
