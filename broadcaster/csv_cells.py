"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV injection"), and back.

Every CSV the service writes (the subscribers' export, the audit log's) passes each text cell through
``neutral``: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets an
apostrophe in front, which spreadsheets show as text and never evaluate. A cell that already starts
with an apostrophe gets one more, so ``restored`` (the subscriber import) can take exactly one off
any cell that starts with one: export, then import, gives back every value as it was. A file written
by hand or saved again by a spreadsheet (which drops the apostrophes) imports the same.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may take for a formula
QUOTE = "'"


def neutral(value: str) -> str:
    """``value`` as a cell a spreadsheet shows as text: an apostrophe before a formula's first character."""
    return QUOTE + value if value.startswith((*FORMULA_STARTS, QUOTE)) else value


def restored(cell: str) -> str:
    """The value ``neutral`` made ``cell`` from: one leading apostrophe taken off."""
    return cell[1:] if cell.startswith(QUOTE) else cell
