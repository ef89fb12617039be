"""A strict JSON parser: bounded size (413), strict UTF-8, no NaN/Infinity, bounded nesting, and no
string that a database would refuse (NUL, lone surrogates), all answered with 400 rather than 500;
whole numbers written with a fraction (5.0) read as integers, as JSON Schema counts them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import IO, Any

from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from jobqueue.config.settings import jobqueue_settings


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "request body too large"
    default_code = "request_too_large"


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


def check_json_value(value: Any, max_depth: int) -> None:
    """Raise ValueError for nesting deeper than max_depth or a string with NUL or a lone surrogate."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, Mapping | list):
            if depth > max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, Mapping):
                for key, child in item.items():
                    _check_string(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise ValueError("strings may not contain NUL (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("strings may not contain lone UTF-16 surrogates") from None


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = int(jobqueue_settings.API_MAX_BODY_BYTES)
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"request body of {declared} bytes is over the limit of {limit} bytes")
        if stream is None:
            return {}
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(f"request body is over the limit of {limit} bytes")
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_reject_constant, parse_float=_json_number)
            check_json_value(data, int(jobqueue_settings.API_MAX_JSON_DEPTH))
        except UnicodeDecodeError:
            raise ParseError("request body is not valid UTF-8") from None
        except RecursionError:
            raise ParseError("JSON nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError is a ValueError, and so are our checks
            raise ParseError(f"invalid JSON: {exc}") from None
        return data
