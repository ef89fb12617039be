"""One table of option values, fed to the three places an operator sets them: the API's PATCH,
the admin's job type form and an environment pin. All three accept and refuse the same values,
and store or apply the same normalised value. The admin and pins take each value as text; the
API takes it as its JSON type (numbers as numbers, booleans as booleans, "off" as a string where
the option is a string that can be off), and refuses the text forms of numbers and booleans."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobqueue.admin.jobtypes import JobTypeForm
from jobqueue.api.serializers.job_types import OPTION_SCHEMAS
from jobqueue.config.effective import resolve_for
from jobqueue.config.options import (
    CODE_DEFAULTS,
    OPTIONS,
    EffectiveConfig,
    OptionValues,
    Priority,
    RateLimit,
    Schedule,
    resolve,
)
from jobqueue.models import JobType
from jobqueue.registry import registry
from jobqueue.services.tokens import create_token

pytestmark = pytest.mark.django_db

TYPE = "noop"  # no required payload field, so that a schedule is allowed
OK, BAD = True, False

# option -> [(text as a person types it, accepted?)]
TABLE: dict[str, list[tuple[str, bool]]] = {
    "enabled": [("true", OK), ("False", OK), ("yes", OK), ("0", OK), ("lots", BAD), ("2", BAD)],
    "priority": [
        ("-100", OK),
        ("100", OK),
        (" 7 ", OK),
        ("101", BAD),
        ("-101", BAD),
        ("1.5", BAD),
        ("HIGH", BAD),
        ("inf", BAD),
    ],
    "max_attempts": [("1", OK), ("1000", OK), ("0", BAD), ("1001", BAD), ("2.5", BAD), ("many", BAD)],
    "timeout": [("1", OK), ("2592000", OK), ("1.5", OK), ("0", BAD), ("-3", BAD), ("2592001", BAD), ("off", BAD)],
    "concurrency": [("0", OK), ("100000", OK), ("3", OK), ("-1", BAD), ("100001", BAD), ("lots", BAD)],
    "rate_limit": [
        ("30/60s", OK),
        ("100/m", OK),
        ("1/120d", OK),
        ("off", OK),
        ("fast", BAD),
        ("0/s", BAD),
        ("10/0s", BAD),
        ("3/fortnight", BAD),
        ("1" * 51, BAD),
        ("2000000000/s", BAD),
    ],
    "partition_concurrency": [("0", OK), ("100000", OK), ("2", OK), ("-1", BAD), ("100001", BAD), ("two", BAD)],
    "partition_rate_limit": [
        ("50/15m", OK),
        ("off", OK),
        ("3/2s", OK),
        ("often", BAD),
        ("0/s", BAD),
        ("1" * 51, BAD),
    ],
    "batch_size": [("1", OK), ("10000", OK), ("0", BAD), ("10001", BAD)],
    "async_concurrency": [
        ("1", OK),
        ("200", OK),
        ("10000", OK),
        ("0", BAD),
        ("10001", BAD),
        ("off", BAD),
        ("2.5", BAD),
    ],
    "backoff_base": [("0.5", OK), ("10000000", OK), ("0", BAD), ("-1", BAD), ("1e8", BAD), ("nan", BAD)],
    "backoff_factor": [("1", OK), ("1000", OK), ("0.9", BAD), ("1001", BAD)],
    "backoff_max": [("1", OK), ("1e8", OK), ("0", BAD), ("1.1e8", BAD)],
    "backoff_jitter": [("0", OK), ("1", OK), ("0.25", OK), ("-0.1", BAD), ("1.5", BAD)],
    "schedule": [
        ("60", OK),
        ("*/5 * * * *", OK),
        ("1234567", OK),
        ("off", OK),
        ("0.5", BAD),
        ("1e10", BAD),
        ("every day", BAD),
        ("61 * * * *", BAD),
    ],
    "schedule_timezone": [("Europe/Paris", OK), ("off", OK), ("Mars/Olympus", BAD), ("Europe", BAD), ("A" * 65, BAD)],
    "overlap": [("true", OK), ("no", OK), ("maybe", BAD)],
    "retention": [("1", OK), ("315360000", OK), ("0", BAD), ("315360001", BAD), ("off", BAD)],
}
ROWS = [(option, text, accepted) for option, rows in TABLE.items() for text, accepted in rows]
# Accepted as text by the admin and pins, and with no JSON form for the API: these show the
# API's refusal instead (see test_api_refuses_text_forms_of_numbers_and_booleans).
TEXT_ONLY = {("concurrency", "off")}


def schema_types(option: str) -> set[str]:
    schema = OPTION_SCHEMAS[option]
    return {alternative["type"] for alternative in schema.get("oneOf", [schema])}


def as_json(option: str, text: str) -> Any:
    """`text` as the API takes it: a JSON boolean or number where the option's schema has that
    type and the text reads as one, else the text itself (a string)."""
    types = schema_types(option)
    if "boolean" in types and text.strip().lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        return text.strip().lower() in {"1", "true", "yes", "on"}
    if types & {"integer", "number"}:
        try:
            number = json.loads(text.strip())
        except ValueError:
            return text
        if isinstance(number, int | float) and not isinstance(number, bool):
            return number
    return text


def test_the_table_covers_every_option() -> None:
    assert set(TABLE) == set(OPTIONS) == set(OPTION_SCHEMAS)
    for option, rows in TABLE.items():
        assert {accepted for _, accepted in rows} == {OK, BAD}, option


FIELD_TYPES = typing.get_type_hints(OptionValues)


def fits(value: Any, annotation: Any) -> bool:
    """Whether `value` is of the declared type, exactly for numbers: a bool is no int, an int
    no float, an IntEnum no int."""
    kinds = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for kind in kinds:
        if kind is type(None):
            if value is None:
                return True
        elif kind in (bool, int, float):
            if type(value) is kind:
                return True
        elif isinstance(value, kind):
            return True
    return False


def test_option_values_have_one_field_per_option_in_its_order() -> None:
    assert [f.name for f in dataclasses.fields(OptionValues)] == list(OPTIONS)
    assert dict(CODE_DEFAULTS) == dict(OptionValues().values)
    # Nothing else is an option: the other fields of EffectiveConfig say where values came from.
    assert {f.name for f in dataclasses.fields(EffectiveConfig)} - set(OPTIONS) == {
        "name",
        "sources",
        "pins",
        "settings",
        "settings_sources",
        "errors",
    }


@pytest.mark.parametrize("option", list(OPTIONS))
def test_each_validators_output_fits_its_field(option: str) -> None:
    annotation = FIELD_TYPES[option]
    assert fits(CODE_DEFAULTS[option], annotation), CODE_DEFAULTS[option]
    for text, accepted in TABLE[option]:
        if accepted:
            for given in {text, as_json(option, text)}:  # the text of a pin, the JSON of the API
                value = OPTIONS[option].parse(given)
                assert fits(value, annotation), (given, value, annotation)


def test_fits_tells_types_apart() -> None:
    assert fits(3, int)
    assert fits(3.0, float)
    assert fits(None, int | None)
    assert fits(RateLimit(1, 1.0), RateLimit | None)
    assert not fits(True, int)
    assert not fits(3.0, int)
    assert not fits(3, float)
    assert not fits(Priority.NORMAL, int)
    assert not fits("1/s", RateLimit | None)


@pytest.fixture
def api(make_user: Callable[..., Any]) -> APIClient:
    client = APIClient()
    user = make_user("editor", "jobqueue.view_jobtype", "jobqueue.change_jobtype")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'tests').secret}")
    return client


def through_environment(option: str, text: str) -> tuple[bool, Any]:
    definition = registry.get(TYPE)
    variable = f"JOBQUEUE_{TYPE.upper()}_{option.upper()}"
    config = resolve(TYPE, definition.defaults, {}, {variable: text}, prefix="JOBQUEUE_")
    return (not config.errors, config.values[option])


def through_api(api: APIClient, option: str, value: Any) -> tuple[bool, Any]:
    response = api.patch(f"/api/job-types/{TYPE}/", {option: value}, format="json")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        messages = response.json()["errors"][option]
        assert messages
        assert all(message.strip() for message in messages)
        return (False, None)
    record = JobType.objects.get(name=TYPE)
    config = resolve_for(registry.get(TYPE), record)
    assert config.sources[option] == "database"
    return (True, config.values[option])


def through_admin(option: str, text: str) -> tuple[bool, Any]:
    record = JobType.objects.get(name=TYPE)
    data: dict[str, Any] = dict.fromkeys(OPTIONS, "")
    data.update({"settings": "{}", option: text})
    form = JobTypeForm(data=data, instance=record)
    if not form.is_valid():
        assert list(form.errors) == [option], form.errors
        assert form.errors[option][0].strip()
        return (False, None)
    form.save()
    config = resolve_for(registry.get(TYPE), JobType.objects.get(name=TYPE))
    return (True, config.values[option])


def comparable(value: Any) -> Any:
    return str(value) if isinstance(value, RateLimit | Schedule) else value


def test_stored_text_forms_read_back_unchanged() -> None:
    assert str(OPTIONS["rate_limit"].parse("1/120d")) == "1/10368000s"
    assert str(OPTIONS["rate_limit"].parse("3/0.5s")) == "3/0.5s"
    assert str(OPTIONS["schedule"].parse("1234567")) == "1234567"


@pytest.mark.parametrize(("option", "text", "accepted"), ROWS)
def test_api_admin_and_environment_agree(api: APIClient, option: str, text: str, accepted: bool) -> None:
    environment = through_environment(option, text)
    from_api = through_api(api, option, as_json(option, text))
    JobType.objects.filter(name=TYPE).update(**dict.fromkeys(OPTIONS), settings={})
    from_admin = through_admin(option, text)

    assert (environment[0], from_api[0], from_admin[0]) == (accepted, accepted, accepted)
    if accepted:
        # The same normalised value applies, whichever way it was set.
        assert comparable(from_api[1]) == comparable(from_admin[1]) == comparable(environment[1])
        # And it is of its field's declared type (see test_each_validators_output_fits_its_field).
        assert all(fits(value, FIELD_TYPES[option]) for value in (from_api[1], from_admin[1], environment[1]))


@pytest.mark.parametrize(("option", "text"), sorted(TEXT_ONLY))
def test_text_only_values_are_the_admins_and_pins(api: APIClient, option: str, text: str) -> None:
    assert through_environment(option, text)[0]
    assert through_admin(option, text)[0]
    assert through_api(api, option, as_json(option, text)) == (False, None)


@pytest.mark.parametrize(
    ("option", "text"),
    # accepted values whose JSON form is a number or a boolean (not a cron expression or "off")
    [(option, text) for option, text, accepted in ROWS if accepted and not isinstance(as_json(option, text), str)],
)
def test_api_refuses_text_forms_of_numbers_and_booleans(api: APIClient, option: str, text: str) -> None:
    response = api.patch(f"/api/job-types/{TYPE}/", {option: text}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["errors"][option]
    expected = {"boolean": "true or false", "integer": "an integer", "number": "a number"}
    assert any(expected[kind] in message for kind in schema_types(option) if kind in expected), message
    assert JobType.objects.get(name=TYPE).__dict__[option] is None


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_value_means_inherit_everywhere(api: APIClient, blank: str) -> None:
    JobType.objects.filter(name=TYPE).update(priority=40)
    ok, _ = through_environment("priority", blank)
    assert ok
    definition = registry.get(TYPE)
    variable = f"JOBQUEUE_{TYPE.upper()}_PRIORITY"
    assert resolve(TYPE, definition.defaults, {}, {variable: blank}, prefix="JOBQUEUE_").pins == {}
    # The API's blank is null: a blank string is no integer.
    assert api.patch(f"/api/job-types/{TYPE}/", {"priority": blank}, format="json").status_code == 400
    assert api.patch(f"/api/job-types/{TYPE}/", {"priority": None}, format="json").status_code == 200
    assert JobType.objects.get(name=TYPE).priority is None
    JobType.objects.filter(name=TYPE).update(priority=40)
    assert through_admin("priority", blank)[0]
    assert JobType.objects.get(name=TYPE).priority is None


def test_api_refuses_structured_values_with_a_field_error(api: APIClient) -> None:
    for value in ([30, 60], {"count": 30}):
        response = api.patch(f"/api/job-types/{TYPE}/", {"rate_limit": value}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"]["rate_limit"] == ["must be a string"]
