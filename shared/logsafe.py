"""Log text from the wire, escaped: the one helper every log call of the app goes through.

Ids, event types, error codes and messages arrive from ACS, Event Grid and HTTP clients. Written into a log as
they are, a newline forges a line (`... INFO callsteer: FORGED LINE`), a terminal escape repaints an operator's
screen, a bidirectional override reorders what they read. `escape` writes each such character as a visible
escape (`\\n`, `\\x1b`, `\\u202e`), doubles backslashes so that escapes stay unambiguous, and bounds the length.

`WireTextFilter` applies it to every string (and exception) argument of every record of the app's loggers, so
no log call can forget it; format strings themselves are the app's own constants.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MAX_LOGGED = 500
APP_LOGGERS = ("callsteer", "callsteer.host")
# C0 and C1 controls, DEL, line and paragraph separators, zero-width and bidirectional controls, lone surrogates,
# and the backslash itself.
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(value: Any, limit: int = MAX_LOGGED) -> str:
    """A value as one line of plain, visible text, at most `limit` characters of it (then a count of the rest)."""
    text = value if isinstance(value, str) else str(value)
    cut = ""
    if len(text) > limit:
        cut, text = f"...(+{len(text) - limit} characters)", text[:limit]
    return _UNSAFE.sub(_escaped, text) + cut


class WireTextFilter(logging.Filter):
    """Escapes every str and exception argument of a record; numbers and other values pass as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(_safe(a) for a in args)
        elif isinstance(args, dict) and args:
            record.args = {k: _safe(v) for k, v in args.items()}
        return True


def _safe(value: Any) -> Any:
    if isinstance(value, (str, BaseException)):
        return escape(value)
    return value


_FILTER = WireTextFilter()


def install() -> None:
    """Put the filter on the app's loggers (once; importing `shared` does it)."""
    for name in APP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
