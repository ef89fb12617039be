"""@job: class and function forms, names, option validation, duplicates, schemas."""

from __future__ import annotations

import pydantic
import pytest

from jobqueue import BaseJob, JobContext, JobResult, Priority, Unique, job
from jobqueue.exceptions import ConfigurationError, DuplicateJobTypeError, PayloadValidationError, UnknownJobTypeError
from jobqueue.registry import registry, resolve_definition

pytestmark = pytest.mark.database_independent


def test_class_form_registers_with_snake_case_name_and_docstring_description() -> None:
    with registry.scope():

        @job(priority=Priority.HIGH, max_attempts=5, timeout=120, concurrency=2)
        class SendPost(BaseJob):
            """Post a message.

            More text that is not the description."""

            class Payload(pydantic.BaseModel):
                text: str

            def execute(self, ctx: JobContext, payload: Payload) -> JobResult:
                return JobResult.ok()

        definition = registry.get("send_post")
        assert definition is SendPost.definition
        assert definition.description == "Post a message."
        assert definition.defaults["priority"] == 50
        assert definition.defaults["max_attempts"] == 5
        assert definition.defaults["timeout"] == 120
        assert definition.defaults["concurrency"] == 2
        assert definition.defaults["backoff_base"] == 30.0  # documented default
        assert definition.defined_in.endswith("SendPost")
    assert "send_post" not in registry


def test_function_form_derives_payload_schema_from_signature() -> None:
    with registry.scope():

        @job(name="add_numbers")
        def add(ctx: JobContext, a: int, b: int = 2) -> int:
            """Add two numbers."""
            return a + b

        definition = resolve_definition(add)
        schema = definition.payload_schema()
        assert schema["required"] == ["a"]
        assert schema["properties"]["a"]["type"] == "integer"
        assert definition.validate_payload({"a": "3"}).a == 3  # type: ignore[attr-defined]
        with pytest.raises(PayloadValidationError) as caught:
            definition.validate_payload({"b": 1, "c": 2})
        assert set(caught.value.errors) == {"a", "c"}
        assert add(None, 1) == 3  # the function itself stays callable  # type: ignore[arg-type]


def test_duplicate_name_raises_naming_both_definitions() -> None:
    with registry.scope():

        @job(name="twice")
        def first() -> None: ...

        with pytest.raises(DuplicateJobTypeError) as caught:

            @job(name="twice")
            def second() -> None: ...

        assert "first" in str(caught.value)
        assert "second" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"priority": 101}, "from -100 to 100"),
        ({"priority": -101}, "from -100 to 100"),
        ({"timeout": 0}, "seconds from 1 to"),
        ({"timeout": -5}, "seconds from 1 to"),
        ({"max_attempts": 0}, "from 1 to 1000"),
        ({"backoff_jitter": 1.5}, "at most 1"),
        ({"backoff_jitter": -0.1}, "at least 0"),
        ({"schedule": "every tuesday"}, "cron expression"),
        ({"schedule": "61 * * * *"}, "cron expression"),
        ({"rate_limit": "fast"}, "N/period"),
        ({"schedule_timezone": "Mars/Olympus"}, "IANA"),
        ({"nonsense": 1}, "unknown option"),
    ],
)
def test_invalid_options_are_refused_with_a_message_naming_the_fix(options: dict, fragment: str) -> None:
    with registry.scope(), pytest.raises(ConfigurationError, match=fragment):
        job(name="bad_options", **options)(lambda: None)


def test_valid_schedule_and_rate_limit_forms_are_normalised() -> None:
    with registry.scope():

        @job(schedule="*/5 * * * *", rate_limit="30/m", schedule_timezone="Europe/Paris")
        def cron_job() -> None: ...

        @job(schedule=90, rate_limit=(5, 2))
        def interval_job() -> None: ...

        assert str(cron_job.definition.defaults["schedule"]) == "*/5 * * * *"
        assert str(cron_job.definition.defaults["rate_limit"]) == "30/60s"
        assert interval_job.definition.defaults["schedule"].interval == 90
        assert str(interval_job.definition.defaults["rate_limit"]) == "5/2s"


def test_decorating_touches_no_database() -> None:
    # No django_db mark: any query here would fail the test.
    with registry.scope():

        @job
        def no_db() -> None: ...

        assert "no_db" in registry


def test_class_without_execute_and_non_jobs_are_refused() -> None:
    with registry.scope():
        with pytest.raises(ConfigurationError, match="execute"):

            @job
            class Empty(BaseJob):
                pass

        with pytest.raises(ConfigurationError, match="BaseJob subclass or a function"):
            job(object)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="lowercase"):
            job(name="Bad-Name")(lambda: None)


def test_settings_schema_masks_secrets_and_fields_need_defaults() -> None:
    definition = registry.get("typed_settings")
    schema = definition.settings_schema()
    assert schema is not None
    assert schema["properties"]["token"]["format"] == "password"
    with registry.scope(), pytest.raises(ConfigurationError, match="needs a default"):

        @job(name="needs_default")
        class NeedsDefault(BaseJob):
            class Settings(pydantic.BaseModel):
                token: str

            def execute(self, ctx: JobContext, payload: object) -> None: ...


class Credentials(pydantic.BaseModel):
    user: str
    password: pydantic.SecretStr


class Person(pydantic.BaseModel):
    name: str
    age: int


def test_a_secret_in_a_payload_is_refused_naming_the_field() -> None:
    # Stored as JSON, a SecretStr would be written as its mask and the job would get "**********".
    with registry.scope():
        with pytest.raises(ConfigurationError, match=r"payload field\(s\) token are secrets"):

            @job(name="secret_payload")
            class SecretPayload(BaseJob):
                class Payload(pydantic.BaseModel):
                    token: pydantic.SecretStr | None = None

                def execute(self, ctx: JobContext, payload: object) -> None: ...

        def nested(logins: list[Credentials]) -> None: ...

        with pytest.raises(ConfigurationError, match=r"logins\.password are secrets .* Settings instead"):
            job(name="nested_secret")(nested)
        assert "secret_payload" not in registry
        assert "nested_secret" not in registry


def test_function_form_resolves_string_annotations_to_types() -> None:
    # This module has `from __future__ import annotations`: every annotation is a string.
    def greet(person: Person, times: int = 1) -> None: ...

    with registry.scope():
        definition = resolve_definition(job(name="greet")(greet))
        payload = definition.validate_payload({"person": {"name": "ann", "age": 40}})
        assert isinstance(payload.person, Person)  # type: ignore[attr-defined]
        with pytest.raises(PayloadValidationError) as refused:
            definition.validate_payload({"person": {"name": "ann"}, "times": "many"})
        assert set(refused.value.errors) == {"person.age", "times"}


def test_unique_fields_must_exist_and_retry_options_take_exception_classes() -> None:
    with registry.scope():
        with pytest.raises(ConfigurationError, match="not fields of the payload"):
            job(name="u1", unique=Unique(fields=("missing",)))(lambda value: None)
        with pytest.raises(ConfigurationError, match="exception classes"):
            job(name="u2", retry_on=("ValueError",))(lambda: None)
        with pytest.raises(ConfigurationError, match="execute_batch"):
            job(name="u3", batch_size=10)(lambda: None)


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownJobTypeError, match="echo"):
        registry.get("does_not_exist")
