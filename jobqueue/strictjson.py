"""JSON read strictly, the same way for the API and the admin: no NaN/Infinity, numbers in
range, bounded nesting, and no string a database would refuse (NUL, lone surrogates); whole
numbers written with a fraction (5.0) read as integers, as JSON Schema counts them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["check_json_value", "loads_numbers_strict", "loads_strict"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _json_number(text: str) -> float | int:
    """A JSON number with a fraction or an exponent: a float, or an int when its value is whole.

    JSON Schema counts 5.0 as an integer, so a field the OpenAPI document types `integer`
    must take it; Decimal keeps a whole value exact however many digits it has (a float
    would round 12345678901234567890.0)."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range")
    exact = Decimal(text)
    return int(exact) if exact == exact.to_integral_value() else value


def check_json_value(value: Any, max_depth: int, *, allow_nul: bool = False) -> None:
    """Raise ValueError for nesting deeper than max_depth or a string with NUL (unless allowed:
    the chainhook endpoint's decoded Clarity strings may hold it) or a lone surrogate."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item, allow_nul)
        elif isinstance(item, Mapping | list):
            if depth > max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, Mapping):
                for key, child in item.items():
                    _check_string(key, allow_nul)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_string(text: str, allow_nul: bool = False) -> None:
    if "\x00" in text and not allow_nul:
        raise ValueError("strings may not contain NUL (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("strings may not contain lone UTF-16 surrogates") from None


def loads_numbers_strict(text: str) -> Any:
    """Parse JSON text with the number rules above (no NaN/Infinity, whole floats as ints) and
    no other check; RecursionError becomes ValueError."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_json_number)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def loads_strict(text: str, max_depth: int) -> Any:
    """Parse JSON text by the rules above; ValueError (with the reason) for anything else,
    RecursionError included."""
    data = loads_numbers_strict(text)
    check_json_value(data, max_depth)
    return data
