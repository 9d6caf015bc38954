"""Value functions a mapping table may name: each turns one raw field into one attribute value. Pure."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class _Missing:
    """No value: the field is absent, empty, or a source's placeholder for 'not measured' ("-", "NaN")."""

    def __repr__(self) -> str:
        return "Missing"


Missing: Any = _Missing()
_BLANKS = {"", "-", "--", "nan", "NaN", "null", "NULL", "None", "N/A", "n/a"}
_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f"}


def _blank(raw: Any) -> bool:
    return raw is Missing or raw is None or (isinstance(raw, str) and raw.strip() in _BLANKS)


def auto(raw: Any) -> Any:
    """The value as the source gave it (strings trimmed); blanks are missing."""
    if _blank(raw):
        return Missing
    return raw.strip() if isinstance(raw, str) else raw


def number(raw: Any) -> Any:
    if _blank(raw):
        return Missing
    if isinstance(raw, bool):
        raise ValueError(f"not a number: {raw!r}")
    if isinstance(raw, int | float):
        value = raw
    else:
        try:
            value = float(str(raw).strip().replace(",", ""))
        except ValueError:
            raise ValueError(f"not a number: {raw!r} / 숫자가 아닙니다") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            return Missing
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def integer(raw: Any) -> Any:
    value = number(raw)
    if value is Missing:
        return Missing
    if value != int(value):
        raise ValueError(f"not a whole number: {raw!r}")
    return int(value)


def text(raw: Any) -> Any:
    return Missing if _blank(raw) else str(raw).strip()


def boolean(raw: Any) -> Any:
    if _blank(raw):
        return Missing
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {raw!r}")


def mapped(raw: Any, table: dict[str, Any]) -> Any:
    if _blank(raw):
        return Missing
    key = str(raw).strip()
    if key not in table:
        raise ValueError(f"{key!r} is not one of {', '.join(sorted(table))}")
    return table[key]


def scaled(raw: Any, factor: float) -> Any:
    value = number(raw)
    return Missing if value is Missing else value * factor


def rounded(raw: Any, digits: int) -> Any:
    value = number(raw)
    return Missing if value is Missing else round(value, digits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "auto": auto,
    "number": number,
    "integer": integer,
    "text": text,
    "boolean": boolean,
    "map": mapped,
    "scale": scaled,
    "round": rounded,
}
