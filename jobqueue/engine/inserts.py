"""INSERT of model instances without the ORM's per-field compilation, for the hot paths.

`Model.save()` and `bulk_create()` compile the INSERT afresh for every call and run each
value through the field's whole preparation chain; for the 25 columns of a Job that is most
of the cost of an enqueue (measured: about 60 % of a single enqueue on SQLite, 95 % of a
bulk one). Here the statement and one converter per column are built once per model and
database vendor, and many rows go in one statement.

The converters give the same database values as the fields' own `get_db_prep_save` (the
simple types are passed through, datetimes and UUIDs use the backend's own adapters, JSON
goes through the field); anything not recognised falls back to the field itself. Only for
models without `auto_now`-style fields or save signals: the hot paths write Job and Attempt.
"""

from __future__ import annotations

import enum
import functools
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models

Converter = Callable[[Any], Any]

_PASS_THROUGH = (
    models.CharField,
    models.TextField,
    models.IntegerField,  # and its Small/Big/Positive variants
    models.FloatField,
    models.BooleanField,
)


def _text(value: Any) -> Any:
    # TextChoices members are str subclasses; psycopg would adapt them as enums.
    return value.value if isinstance(value, enum.Enum) else value


def _converter(field: models.Field[Any, Any]) -> Converter:
    def generic(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if isinstance(field, models.ForeignKey):
        return _converter(field.target_field)
    if isinstance(field, models.DateTimeField):
        if field.auto_now or field.auto_now_add:
            raise TypeError(f"{field} sets its own value on save; insert it through the ORM")
        # The rows of one enqueue_many share their created/run-after moments: adapt each once.
        adapt = functools.lru_cache(maxsize=256)(connection.ops.adapt_datetimefield_value)

        def aware_datetime(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, datetime) and value.tzinfo is not None:
                return adapt(value)
            return generic(value)  # naive or not a datetime: let the field warn or convert

        return aware_datetime
    if isinstance(field, models.UUIDField):
        native = connection.features.has_native_uuid_field

        def as_uuid(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, uuid.UUID):
                value = field.to_python(value)
            return value if native else value.hex

        return as_uuid
    if isinstance(field, _PASS_THROUGH) and not isinstance(field, models.AutoField):
        return _text
    return generic


# Rows per INSERT statement at most. On SQLite fewer when its bound-parameter limit (32,766
# since 3.32, 999 before) is smaller than rows x columns. PostgreSQL gets one array per column
# instead (INSERT ... SELECT FROM UNNEST, as Django's bulk_create does there): a long VALUES
# list would be parsed by psycopg client-side, and planned by the server, for every statement.
ROWS_PER_STATEMENT = 500


def _rows_per_statement(columns: int) -> int:
    if connection.vendor != "sqlite":
        return ROWS_PER_STATEMENT
    connection.ensure_connection()
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(ROWS_PER_STATEMENT, limit // columns))


@dataclass(frozen=True)
class _Plan:
    head: str  # INSERT INTO table (columns)
    row: str  # (%s, %s, ...)
    unnest: str  # SELECT * FROM UNNEST((%s)::type[], ...), PostgreSQL only
    rows: int  # rows per statement
    columns: list[tuple[str, Converter]]  # attname, converter


_plans: dict[tuple[type[models.Model], str], _Plan] = {}


def _plan(model: type[models.Model]) -> _Plan:
    key = (model, connection.vendor)
    if key not in _plans:
        fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column or f.attname) for f in fields)
        # Array types without length parameters (varchar[], not varchar(16)[]), like Django.
        types = [str(f.db_type(connection)).split("(")[0] for f in fields]
        _plans[key] = _Plan(
            head=f"INSERT INTO {quote(model._meta.db_table)} ({columns}) ",
            row="(" + ", ".join(["%s"] * len(fields)) + ")",
            unnest="SELECT * FROM UNNEST(" + ", ".join(f"(%s)::{t}[]" for t in types) + ")",  # noqa: S608 - names and types from _meta
            rows=_rows_per_statement(len(fields)),
            columns=[(f.attname, _converter(f)) for f in fields],
        )
    return _plans[key]


def insert(objs: Sequence[models.Model]) -> None:
    """INSERT the given unsaved instances of one model (primary keys already set), in the
    caller's transaction, up to ROWS_PER_STATEMENT rows per statement; the instances are
    marked as saved."""
    if not objs:
        return
    plan = _plan(type(objs[0]))
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), plan.rows):
            chunk = objs[start : start + plan.rows]
            rows = [[convert(getattr(obj, attname)) for attname, convert in plan.columns] for obj in chunk]
            if postgres and len(rows) > 1:
                cursor.execute(plan.head + plan.unnest, [list(column) for column in zip(*rows, strict=True)])
            else:
                values = ", ".join([plan.row] * len(rows))
                cursor.execute(f"{plan.head}VALUES {values}", [value for row in rows for value in row])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
