"""The new rows of `enqueue_many` as columns, written the fastest way each database offers.

A column holds one value per row, or one value when every row has the same (the type, the
status, the moment of the call, the empty fields of a new job), so that what every row
shares is converted once. Ids come from `new_id_numbers` (one `os.urandom` per call); each
payload's JSON text is made once, by the encoder Django's `JSONField` uses. PostgreSQL gets
`COPY ... FROM STDIN` in text format, the text of the rows built here and sent a chunk at a
time, so that the server inserts one chunk while the client builds the next; SQLite and
the other databases the multi-row INSERT of `sql.insert_statement` (SQLite binds a shared
column once per statement). The instances `enqueue_many` returns are built last, on
PostgreSQL while the server finishes the COPY.
"""

from __future__ import annotations

import enum
import functools
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState

from jobqueue.engine import inserts, sql
from jobqueue.models import Job, new_id_numbers, uuid_of

# Rows per write to the COPY stream: small enough that the server starts on the first rows
# while the rest are built, large enough that a write is not a round of its own per row.
COPY_CHUNK = 100

_FIELDS: list[models.Field[Any, Any]] = [f for f in Job._meta.concrete_fields if not isinstance(f, models.AutoField)]
# COPY's text format: these four characters are written as escapes, NULL as \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_UNSAFE = ("\\", "\t", "\n", "\r")


def _same(values: list[Any]) -> bool:
    """Whether every value is the first one, of the same type (True and 1 are equal, but stored apart)."""
    first = values[0]
    return values.count(first) == len(values) and len(set(map(type, values))) == 1


class JobColumns:
    """New jobs' fields by attname: `varying` one value per row, `shared` one for all rows
    (every field not named takes its default); the ids are made here."""

    def __init__(self, count: int, columns: dict[str, list[Any]], shared: dict[str, Any]) -> None:
        self.count = count
        self.numbers = new_id_numbers(count)
        self.shared = dict(shared)
        self.varying: dict[str, list[Any]] = {}
        for attname, values in columns.items():
            if len(values) != count:
                raise ValueError(f"column {attname} has {len(values)} values for {count} rows")
            # JSON is never folded: {"a": 1} == {"a": True}, but they are stored apart.
            if attname != "payload" and _same(values):
                self.shared[attname] = values[0]
            else:
                self.varying[attname] = values

    def instances(self, *, saved: bool) -> list[Job]:
        """The rows as Job instances (what `Job(**fields)` makes, without `Model.__init__`)."""
        template: dict[str, Any] = {}
        computed: list[models.Field[Any, Any]] = []
        for field in _FIELDS:
            if field.attname in self.shared:
                template[field.attname] = self.shared[field.attname]
            elif field.attname in self.varying or field.attname == "id":
                continue
            elif field.has_default() and callable(field.default):
                computed.append(field)
            else:
                template[field.attname] = field.get_default()
        names = ["id", *self.varying]
        alias = connections[DEFAULT_DB_ALIAS].alias
        saved_state = {"adding": False, "db": alias} if saved else {}
        jobs = []
        new = Job.__new__
        for row in zip(map(uuid_of, self.numbers), *self.varying.values(), strict=True):
            fields = template.copy()
            fields.update(zip(names, row, strict=True))
            for field in computed:
                fields[field.attname] = field.get_default()
            state = fields["_state"] = ModelState()
            state.__dict__.update(saved_state)
            job = new(Job)
            job.__dict__ = fields
            jobs.append(job)
        return jobs


def write(columns: JobColumns) -> list[Job]:
    """INSERT the rows in the caller's transaction; the saved instances, in row order."""
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each read through the proxy is a lookup
    if conn.vendor == "postgresql":
        return _copy(columns, conn)
    return _values(columns, conn)


def _json(field: models.Field[Any, Any]) -> Callable[[Any], str | None]:
    # What `json.dumps(value, cls=field.encoder)` does (Django's JSONField), one encoder for all.
    encode = (getattr(field, "encoder", None) or json.JSONEncoder)().encode

    def dumps(value: Any) -> str | None:
        return None if value is None else str(encode(value))

    return dumps


def _values(columns: JobColumns, conn: BaseDatabaseWrapper) -> list[Job]:
    """SQLite, MariaDB, MySQL: `Insert.render`'s multi-row INSERT (on SQLite a shared column
    is one parameter of its statement).

    (A prepared single-row INSERT run over every row, `executemany`, binds all 26 columns of
    every row: measured 2.5 times slower per row than this statement, which binds the varying
    ones alone.)"""
    converters = inserts.converters(Job, conn.alias)
    statement = sql.insert_statement(Job, conn.vendor)
    count = columns.count
    values: list[list[Any]] = []
    for field in _FIELDS:
        attname = field.attname
        convert: Callable[[list[Any]], list[Any]]
        if isinstance(field, models.JSONField):
            convert = functools.partial(map_list, _json(field))
        else:
            convert = functools.partial(_converted, converters[attname], conn)
        if attname == "id":
            native = conn.features.has_native_uuid_field  # MariaDB >= 10.7; else 32 hex digits
            values.append([uuid_of(n) for n in columns.numbers] if native else [f"{n:032x}" for n in columns.numbers])
        elif attname in columns.varying:
            values.append(convert(columns.varying[attname]))
        else:
            values.append(convert([columns.shared.get(attname, _default(field))]) * count)
    with conn.cursor() as cursor:
        for start in range(0, count, statement.rows):
            cursor.execute(*statement.render([column[start : start + statement.rows] for column in values]))
    return columns.instances(saved=True)


def map_list(function: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    return list(map(function, values))


def _converted(convert: inserts.Converter, conn: BaseDatabaseWrapper, values: list[Any]) -> list[Any]:
    return convert(values, conn)


def _default(field: models.Field[Any, Any]) -> Any:
    return field.get_default()


def _copy_text(field: models.Field[Any, Any]) -> Callable[[Any], str]:
    """The function that writes one value of `field` in COPY's text format."""
    if isinstance(field, models.JSONField):
        dumps = _json(field)

        def as_json(value: Any) -> str:
            text = dumps(value)
            if text is None:
                return _NULL
            # Only a backslash needs escaping: the encoder writes control characters as \\uXXXX.
            return text.replace("\\", "\\\\") if "\\" in text else text

        return as_json

    def as_text(value: Any) -> str:
        if value is None:
            return _NULL
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, datetime):
            if value.tzinfo is None:  # naive: the field warns and makes it aware, as a save would
                value = field.get_db_prep_save(value, connections[DEFAULT_DB_ALIAS])
            return str(value.isoformat())
        if isinstance(value, uuid.UUID):
            return value.hex
        text = str(value)
        return text.translate(_COPY_ESCAPES) if any(c in text for c in _UNSAFE) else text

    return as_text


def copy_statement() -> str:
    """`COPY jobqueue_job (its columns) FROM STDIN`, in text format."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in _FIELDS)
    return f"COPY {quote(Job._meta.db_table)} ({columns}) FROM STDIN"


def copy_text(columns: JobColumns) -> Iterator[str]:
    """The rows in COPY's text format, `COPY_CHUNK` rows per piece, each piece built when asked for."""
    # The row as parts: runs of shared columns joined into one text once, a varying column a
    # function that writes its values of a chunk.
    parts: list[str | tuple[Callable[[Any], str], list[Any]]] = []
    run: list[str] = []
    for field in _FIELDS:
        attname = field.attname
        if attname == "id" or attname in columns.varying:
            if run:
                parts.append("\t".join(run))
                run = []
            values = columns.numbers if attname == "id" else columns.varying[attname]
            parts.append(("{:032x}".format, values) if attname == "id" else (_copy_text(field), values))
        else:
            run.append(_copy_text(field)(columns.shared.get(attname, _default(field))))
    if run:
        parts.append("\t".join(run))
    for start in range(0, columns.count, COPY_CHUNK):
        end = min(start + COPY_CHUNK, columns.count)
        chunk = [
            itertools.repeat(part, end - start) if isinstance(part, str) else map(part[0], part[1][start:end])
            for part in parts
        ]
        yield "".join(["\t".join(row) + "\n" for row in zip(*chunk, strict=True)])


def _copy(columns: JobColumns, conn: BaseDatabaseWrapper) -> list[Job]:
    """PostgreSQL: COPY in text format; the server inserts a chunk while the next is built."""
    with conn.wrap_database_errors, conn.cursor() as cursor, cursor.cursor.copy(copy_statement()) as copy:
        for text in copy_text(columns):
            copy.write(text)
        # Built while the server inserts the last chunk; the COPY ends (and its errors come) on exit.
        return columns.instances(saved=True)
