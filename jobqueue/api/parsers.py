"""A strict JSON parser: bounded size (413), strict UTF-8, no NaN/Infinity, bounded nesting, and no
string that a database would refuse (NUL, lone surrogates), all answered with 400 rather than 500;
whole numbers written with a fraction (5.0) read as integers, as JSON Schema counts them."""

from __future__ import annotations

from typing import IO, Any

from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from jobqueue.config.settings import jobqueue_settings
from jobqueue.strictjson import check_json_value, loads_numbers_strict

__all__ = ["RequestTooLarge", "StrictJSONParser", "check_json_value"]


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "request body too large"
    default_code = "request_too_large"


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def body_limit(self) -> int:
        """The largest body accepted, in bytes (a view with other needs overrides it)."""
        return jobqueue_settings.API_MAX_BODY_BYTES

    def check(self, data: Any) -> None:
        """Raise ValueError for a value the API refuses (see check_json_value)."""
        check_json_value(data, jobqueue_settings.API_MAX_JSON_DEPTH)

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = self.body_limit()
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
            data = loads_numbers_strict(raw.decode("utf-8"))
            self.check(data)
        except UnicodeDecodeError:
            raise ParseError("request body is not valid UTF-8") from None
        except RecursionError:
            raise ParseError("JSON nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError is a ValueError, and so are our checks
            raise ParseError(f"invalid JSON: {exc}") from None
        return data
