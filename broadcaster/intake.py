"""Text as it comes in, made safe once: control characters handled before anything is stored.

Every text field an alert carries passes through here where it enters (the console's form and the API
through ``drafts``, the JMA documents through ``feeds.jma.xmlsafe``), so no channel, page or feed
meets a carriage return (CAP's ``&#13;``), a NUL, or a bidirectional override that would show a
title backwards.

- Bodies (``clean_text``): CR LF, CR, NEL and the Unicode line and paragraph separators become LF;
  TAB and LF stay; every other C0 and C1 control, DEL and the bidi controls are removed.
- Titles (``clean_title``): one line. A line break or TAB becomes a space (an officer pasting a
  title with a line break means a space, and refusing it would cost time in an emergency), runs of
  spaces become one, and the rest is cleaned as a body.
"""

from __future__ import annotations

import re

# Line breaks other than LF: CR LF and CR (Windows, old Mac, HTML forms), NEL (U+0085, a C1 control
# that means a new line), LINE SEPARATOR and PARAGRAPH SEPARATOR (U+2028, U+2029).
LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
# Removed everywhere: C0 controls but TAB and LF, DEL, C1 controls, the bidi embeddings and overrides
# (U+202A–202E) and isolates (U+2066–2069), which can make 避難指示解除 read as something else.
REMOVED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]")  # and XML's non-characters
SPACES = re.compile(r"[ \t\n]+")


def clean_text(text: str) -> str:
    """A body, instruction or reason: line breaks as LF, no other control characters."""
    return REMOVED.sub("", LINE_BREAKS.sub("\n", text))


def clean_title(text: str) -> str:
    """A title or headline: one line, no control characters, single spaces, no spaces at either end."""
    return SPACES.sub(" ", clean_text(text)).strip()
