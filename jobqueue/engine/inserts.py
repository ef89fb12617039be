"""INSERT of model instances without the ORM's per-field compilation, for the hot paths.

`Model.save()` and `bulk_create()` compile the INSERT afresh for every call and run each
value through the field's whole preparation chain; for the 25 columns of a Job that is most
of the cost of an enqueue (measured: about 60 % of a single enqueue on SQLite, 95 % of a
bulk one). Here the statement and one converter per column are built once per model and
database vendor, and many rows go in one statement.

The converters give the same database values as the fields' own `get_db_prep_save` (the
simple types are passed through, datetimes and UUIDs use the backend's own adapters, a JSON
dict or list the backend's JSON adapter with the field's encoder); anything not recognised
falls back to the field itself. A single row converts a moment once when two columns hold
the same one, and on SQLite goes to the driver without Django's cursor layers
(`sql.execute_row`). Only for models without `auto_now`-style fields or save signals: the
hot paths write Job and Attempt.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState

from jobqueue.engine import sql

# A converter gets one column's values (of the rows of one statement) and the connection
# itself (not the `connection` proxy: each attribute read through the proxy is a
# context-local lookup), and returns them as the database stores them. Column by column, so
# that the simple types cost a comprehension, not a function call per value.
Converter = Callable[[list[Any], BaseDatabaseWrapper], list[Any]]

_JSON_CONTAINERS = frozenset({dict, list})
_PASS_THROUGH = (
    models.CharField,
    models.TextField,
    models.IntegerField,  # and its Small/Big/Positive variants
    models.FloatField,
    models.BooleanField,
)


def _text(values: list[Any], conn: BaseDatabaseWrapper) -> list[Any]:
    # TextChoices members are str subclasses; psycopg would adapt them as enums.
    return [v.value if isinstance(v, enum.Enum) else v for v in values]


def _converter(field: models.Field[Any, Any]) -> Converter:
    def generic(values: list[Any], conn: BaseDatabaseWrapper) -> list[Any]:
        return [field.get_db_prep_save(v, conn) for v in values]

    if isinstance(field, models.ForeignKey):
        # A key to an auto-incremented id is an int, stored as it is (like the simple types).
        return _text if isinstance(field.target_field, models.AutoField) else _converter(field.target_field)
    if isinstance(field, models.DateTimeField):
        if field.auto_now or field.auto_now_add:
            raise TypeError(f"{field} sets its own value on save; insert it through the ORM")

        def aware_datetime(values: list[Any], conn: BaseDatabaseWrapper) -> list[Any]:
            # SQLite and MySQL store `str(make_naive(value, conn.timezone))`, and a value already
            # in that zone (`timezone.now()`'s UTC, the usual case) needs only its tzinfo dropped:
            # the same text, without Django's round of checks and `astimezone`. A job's run-after
            # is most often its created-at, the same object: converted once.
            zone = conn.timezone if conn.vendor in ("sqlite", "mysql") else None
            adapt = conn.ops.adapt_datetimefield_value
            out: list[Any] = []
            last: Any = None
            text: Any = None
            for v in values:
                if v is not last:
                    last = v
                    if v is None:
                        text = None
                    elif not isinstance(v, datetime) or v.tzinfo is None:
                        text = field.get_db_prep_save(v, conn)  # naive or not a datetime: the field warns or converts
                    elif zone is not None and v.tzinfo is zone:
                        text = str(v.replace(tzinfo=None))
                    else:
                        text = adapt(v)
                out.append(text)
            return out

        return aware_datetime
    if isinstance(field, models.JSONField):
        # What `JSONField.get_db_prep_save` gives a dict or a list (`get_prep_value` keeps it,
        # the backend adapts it with the field's encoder), without its chain of calls.
        def as_json(values: list[Any], conn: BaseDatabaseWrapper) -> list[Any]:
            adapt, encoder = conn.ops.adapt_json_value, field.encoder
            return [
                None
                if v is None
                else adapt(v, encoder)
                if type(v) in _JSON_CONTAINERS
                else field.get_db_prep_save(v, conn)
                for v in values
            ]

        return as_json
    if isinstance(field, models.UUIDField):
        native = connection.features.has_native_uuid_field

        def one_uuid(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, uuid.UUID):
                value = field.to_python(value)
            return value if native else value.hex

        def as_uuid(values: list[Any], conn: BaseDatabaseWrapper) -> list[Any]:
            if native:
                return [v if type(v) is uuid.UUID else one_uuid(v) for v in values]
            return [v.hex if type(v) is uuid.UUID else one_uuid(v) for v in values]

        return as_uuid
    if isinstance(field, _PASS_THROUGH) and not isinstance(field, models.AutoField):
        return _text
    return generic


_converters: dict[tuple[type[models.Model], str], list[tuple[str, Converter, int]]] = {}
_templates: dict[type[models.Model], tuple[dict[str, Any], list[tuple[str, models.Field[Any, Any]]]]] = {}

M = TypeVar("M", bound=models.Model)


def build(model: type[M], values: dict[str, Any]) -> M:
    """An unsaved instance of `model` with `values` (by attname) and every other field at its
    default, without `Model.__init__`: the instance `Model(**values)` makes (no `pre_init` /
    `post_init` signals, which the hot paths' models do not use), at a tenth of its cost."""
    if model not in _templates:
        fixed, computed = {}, []
        for field in model._meta.concrete_fields:
            if field.has_default() and callable(field.default):
                computed.append((field.attname, field))
            else:
                fixed[field.attname] = field.get_default()
        _templates[model] = (fixed, computed)
    fixed, computed = _templates[model]
    obj = model.__new__(model)
    state = obj.__dict__
    state.update(fixed)
    for attname, field in computed:
        if attname not in values:
            state[attname] = field.get_default()
    state.update(values)
    state["_state"] = ModelState()
    return obj


# What a column's converter is, for a single row: one that stores the simple types as they
# are, one of aware datetimes (the same text for the same moment whatever the column), other.
_PLAIN, _MOMENT, _OTHER = 0, 1, 2


def _columns(model: type[models.Model], alias: str) -> list[tuple[str, Converter, int]]:
    """Each column's attname, its converter and its kind (above). Every converter here stores
    a None as NULL (a JSON column's too, since Django 4.2), so a single row never calls one for it."""
    key = (model, alias)
    if key not in _converters:
        fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
        _converters[key] = [
            (f.attname, c, _PLAIN if c is _text else _MOMENT if isinstance(f, models.DateTimeField) else _OTHER)
            for f in fields
            for c in [_converter(f)]
        ]
    return _converters[key]


def converters(model: type[models.Model], alias: str) -> dict[str, Converter]:
    """Each column's converter by attname (what `insert` runs a column's values through)."""
    return {attname: convert for attname, convert, _ in _columns(model, alias)}


_SIMPLE = frozenset({type(None), str, int, float, bool})


def insert(objs: Sequence[models.Model]) -> None:
    """INSERT the given unsaved instances of one model (primary keys already set), in the
    caller's transaction, many rows per statement; the instances are marked as saved."""
    if not objs:
        return
    model = type(objs[0])
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each read through the proxy is a lookup
    statement = sql.insert_statement(model, conn.vendor)
    columns = _columns(model, conn.alias)
    if len(objs) == 1:  # a single enqueue: no column lists, no call for what is stored as it is
        state = objs[0].__dict__
        row: list[Any] = []
        moment: Any = None  # a row's created-at is most often its run-after, the same object
        moment_db: Any = None
        for attname, convert, kind in columns:
            v = state[attname]
            if v is None or (kind == _PLAIN and type(v) in _SIMPLE):
                row.append(v)
            elif kind == _MOMENT and type(v) is datetime and v.tzinfo is not None:
                if v is not moment:
                    moment, moment_db = v, convert([v], conn)[0]
                row.append(moment_db)
            else:
                row.append(convert([v], conn)[0])
        sql.execute_row(conn, statement, row)
    else:
        with conn.cursor() as cursor:
            for start in range(0, len(objs), statement.rows):
                states = [obj.__dict__ for obj in objs[start : start + statement.rows]]
                values = [convert([state[attname] for state in states], conn) for attname, convert, _ in columns]
                cursor.execute(*statement.render(values))
    for obj in objs:
        obj._state.adding = False
        obj._state.db = conn.alias
