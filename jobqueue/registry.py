"""`@job`, the frozen `JobDefinition` it produces, the registry of definitions, and autodiscovery."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import threading
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, overload

import pydantic

from jobqueue.base import BaseJob, JobResult, NoPayload, overrides
from jobqueue.config.options import CODE_DEFAULTS, validate_options
from jobqueue.exceptions import (
    ConfigurationError,
    DuplicateJobTypeError,
    PayloadValidationError,
    UnknownJobTypeError,
    pydantic_errors,
)
from jobqueue.secrets.sealing import secret_paths

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# JobDefinition.partition of a class that computes its partition value in a method.
PARTITION_METHOD = "partition_key()"

T = TypeVar("T")


@dataclass(frozen=True)
class Unique:
    """Deduplication policy: at most one waiting or running job per key, the key built from
    payload `fields` (all of the payload when none are named) unless `unique_key` is given at
    enqueue; with `period`, also no second job for that many seconds after the first."""

    fields: tuple[str, ...] = ()
    period: float | None = None

    def __post_init__(self) -> None:
        if self.period is not None and self.period <= 0:
            raise ConfigurationError(f"Unique(period={self.period!r}) must be a positive number of seconds")


_HOOKS = ("on_failure", "on_dead", "cleanup")


@dataclass(frozen=True)
class JobDefinition:
    """A job type as declared in code. Immutable; built and validated by `@job`."""

    name: str
    job_class: type[BaseJob]
    description: str
    version: str
    defaults: Mapping[str, Any]
    payload_model: type[pydantic.BaseModel]
    settings_model: type[pydantic.BaseModel] | None
    retry_on: tuple[type[BaseException], ...]
    dont_retry_on: tuple[type[BaseException], ...]
    unique: Unique | None
    requires: tuple[str, ...]
    defined_in: str
    is_batch: bool = False
    function: Callable[..., Any] | None = field(default=None, compare=False)
    # The payload field whose value partitions the type's jobs, or "partition_key()" for the
    # class's method of that name; None: the type is not partitioned.
    partition: str | None = None

    def partition_of(self, payload: pydantic.BaseModel) -> str:
        """The partition value of a validated payload ("" for a type without partitions): the
        text of the field's value or of what the class's `partition_key(payload)` returns, a
        None as ""; one longer than 255 characters as its SHA-256."""
        if self.partition is None:
            return ""
        if self.partition == PARTITION_METHOD:
            value = self.job_class().partition_key(payload)  # type: ignore[attr-defined]
        else:
            value = getattr(payload, self.partition)
        text = "" if value is None else str(value)
        return text if len(text) <= 255 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    @property
    def has_failure_hooks(self) -> bool:
        """Whether the class overrides `on_failure`, `on_dead` or `cleanup` (the reclaimer then
        enqueues a `jobqueue_hook` job for an attempt it closes)."""
        return any(overrides(self.job_class, name) for name in _HOOKS)

    @property
    def is_async(self) -> bool:
        """Whether its `execute` (or `execute_batch`) is a coroutine function: its jobs run
        many at once on a worker's event loop."""
        method = getattr(self.job_class, "execute_batch" if self.is_batch else "execute", None)
        return inspect.iscoroutinefunction(method)

    def payload_schema(self) -> dict[str, Any]:
        return self.payload_model.model_json_schema()

    def settings_schema(self) -> dict[str, Any] | None:
        if self.settings_model is None:
            return None
        return self.settings_model.model_json_schema()

    def validate_payload(self, data: Any) -> pydantic.BaseModel:
        """Return the validated payload model, or raise PayloadValidationError with field paths."""
        if data is None:
            data = {}
        if isinstance(data, pydantic.BaseModel):
            data = data.model_dump(mode="json")
        if not isinstance(data, Mapping):
            raise PayloadValidationError(self.name, {"": [f"must be a JSON object, not {type(data).__name__}"]})
        try:
            return self.payload_model.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            raise PayloadValidationError(self.name, pydantic_errors(exc)) from None

    def payload_json(self, data: Any) -> dict[str, Any]:
        """Validate and return the payload in the JSON form it is stored in."""
        return self.validate_payload(data).model_dump(mode="json")


class Registry:
    """Every job type declared in code, by name. Thread-safe; one process-wide instance."""

    def __init__(self) -> None:
        self._definitions: dict[str, JobDefinition] = {}
        self._lock = threading.Lock()

    def register(self, definition: JobDefinition) -> None:
        with self._lock:
            existing = self._definitions.get(definition.name)
            # The same definition imported again (autoreload, a module reached by two
            # paths) replaces itself; two different places claiming one name is an error.
            if existing is not None and existing.defined_in != definition.defined_in:
                raise DuplicateJobTypeError(
                    f"job type {definition.name!r} is defined twice: in {existing.defined_in} "
                    f"and in {definition.defined_in}; rename one with @job(name=...)"
                )
            self._definitions[definition.name] = definition

    def unregister(self, name: str) -> None:
        with self._lock:
            self._definitions.pop(name, None)

    def get(self, name: str) -> JobDefinition:
        try:
            return self._definitions[name]
        except KeyError:
            known = ", ".join(sorted(self._definitions)) or "none"
            raise UnknownJobTypeError(f"unknown job type {name!r}; registered job types: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._definitions

    def __iter__(self) -> Iterator[JobDefinition]:
        return iter(sorted(self._definitions.values(), key=lambda d: d.name))

    def names(self) -> list[str]:
        return sorted(self._definitions)

    @contextmanager
    def scope(self) -> Iterator[Registry]:
        """Test helper: definitions registered inside the block are gone after it."""
        with self._lock:
            saved = dict(self._definitions)
        try:
            yield self
        finally:
            with self._lock:
                self._definitions = saved


registry = Registry()


def resolve_definition(target: str | JobDefinition | type | Callable[..., Any]) -> JobDefinition:
    """Accept a name, a definition, or a decorated class or function; return the definition."""
    if isinstance(target, JobDefinition):
        return target
    if isinstance(target, str):
        return registry.get(target)
    definition = getattr(target, "definition", None)
    if isinstance(definition, JobDefinition):
        return definition
    raise UnknownJobTypeError(f"{target!r} is not a job type: decorate it with @job or pass a registered name")


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _exception_classes(value: Any, option: str, where: str) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigurationError(f"{where}: {option} takes exception classes, got {item!r}")
    return tuple(items)


def _requires(value: Any, where: str) -> tuple[str, ...]:
    names = []
    for item in value if isinstance(value, tuple | list) else (value,):
        name = item if isinstance(item, str) else getattr(getattr(item, "definition", item), "name", None)
        if not isinstance(name, str):
            raise ConfigurationError(f"{where}: requires takes job type names or decorated job types, got {item!r}")
        names.append(name)
    return tuple(names)


def _resolved(func: Callable[..., Any], param: inspect.Parameter) -> Any:
    """A parameter's annotation as a type, also in a module with `from __future__ import
    annotations` (where it is a string that pydantic would look up in this module, not the
    function's). One that names nothing in the function's module stays a string."""
    if not isinstance(param.annotation, str):
        return param.annotation
    holder = types.SimpleNamespace(__annotations__={param.name: param.annotation})
    try:
        return typing.get_type_hints(holder, globalns=getattr(func, "__globals__", None))[param.name]
    except NameError:
        return param.annotation


def _function_job(func: Callable[..., Any], where: str) -> type[BaseJob]:
    """Wrap a plain function as a BaseJob subclass; its parameters (but `ctx`) are the payload."""
    signature = inspect.signature(func)
    fields: dict[str, Any] = {}
    takes_ctx = False
    for index, param in enumerate(signature.parameters.values()):
        if index == 0 and param.name == "ctx":
            takes_ctx = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ConfigurationError(
                f"{where}: parameter {param.name!r} must be a plain or keyword-only parameter; "
                "*args, **kwargs and positional-only parameters cannot be named in a payload"
            )
        annotation = Any if param.annotation is inspect.Parameter.empty else _resolved(func, param)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    payload_model = pydantic.create_model(
        f"{func.__name__}_payload",
        __config__=pydantic.ConfigDict(extra="forbid"),
        **fields,
    )

    def execute(self: BaseJob, ctx: Any, payload: pydantic.BaseModel) -> Any:
        kwargs = {name: getattr(payload, name) for name in type(payload).model_fields}
        return func(ctx, **kwargs) if takes_ctx else func(**kwargs)

    async def aexecute(self: BaseJob, ctx: Any, payload: pydantic.BaseModel) -> Any:
        kwargs = {name: getattr(payload, name) for name in type(payload).model_fields}
        return await (func(ctx, **kwargs) if takes_ctx else func(**kwargs))

    return type(
        f"{func.__name__}_job",
        (BaseJob,),
        {
            "Payload": payload_model,
            "execute": aexecute if inspect.iscoroutinefunction(func) else execute,
            "__module__": func.__module__,
            "__doc__": func.__doc__,
        },
    )


def _build(target: Any, options: dict[str, Any]) -> JobDefinition:
    is_function = inspect.isfunction(target)
    where = f"{target.__module__}.{target.__qualname__}"
    if is_function:
        if inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target):
            raise ConfigurationError(
                f"{where}: a job function must return its result, not yield (a generator cannot run)"
            )
        job_class = _function_job(target, where)
    elif isinstance(target, type) and issubclass(target, BaseJob):
        job_class = target
        if not (callable(getattr(target, "execute", None)) or callable(getattr(target, "execute_batch", None))):
            raise ConfigurationError(f"{where}: a job class must define execute(self, ctx, payload)")
    else:
        raise ConfigurationError(f"{where}: @job decorates a BaseJob subclass or a function, not {target!r}")

    name = options.pop("name", None) or snake_case(target.__name__)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigurationError(
            f"{where}: job type name {name!r} must be lowercase letters, digits and underscores, "
            "starting with a letter, at most 63 characters"
        )
    doc = inspect.getdoc(target) or ""
    description = options.pop("description", None) or (doc.strip().splitlines()[0] if doc.strip() else "")
    version = str(options.pop("version", "1"))
    retry_on = _exception_classes(options.pop("retry_on", (Exception,)), "retry_on", where)
    dont_retry_on = _exception_classes(options.pop("dont_retry_on", ()), "dont_retry_on", where)
    unique = options.pop("unique", None)
    requires = _requires(options.pop("requires", ()), where)
    options_partition = options.pop("partition", None)

    defaults = dict(CODE_DEFAULTS)
    defaults.update(validate_options(options, where=f"@job on {where}"))

    payload_model = getattr(job_class, "Payload", NoPayload)
    settings_model = getattr(job_class, "Settings", None)
    for label, model in (("Payload", payload_model), ("Settings", settings_model)):
        if model is not None and not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            raise ConfigurationError(f"{where}: {label} must be a pydantic.BaseModel subclass")
    if settings_model is not None:
        _check_settings_defaults(settings_model, where)
    secret = secret_paths(payload_model)
    if secret:
        raise ConfigurationError(
            f"{where}: payload field(s) {', '.join(secret)} are secrets (SecretStr), but a payload is stored and "
            "shown in clear, and a secret in it would be stored as its mask; declare the secret in the type's "
            "Settings instead (sealed at rest, masked everywhere)"
        )
    if unique is not None:
        if not isinstance(unique, Unique):
            raise ConfigurationError(f"{where}: unique takes a jobqueue.Unique(...), got {unique!r}")
        missing = [f for f in unique.fields if f not in payload_model.model_fields]
        if missing:
            raise ConfigurationError(f"{where}: Unique fields {missing} are not fields of the payload")
    partition = _partition(options_partition, job_class, payload_model, where)
    if partition is None and (defaults["partition_concurrency"] or defaults["partition_rate_limit"]):
        raise ConfigurationError(
            f"{where}: partition_concurrency and partition_rate_limit hold per partition value; "
            'give partition="<payload field>" or a partition_key(self, payload) method'
        )
    is_batch = callable(getattr(job_class, "execute_batch", None))
    if defaults["batch_size"] > 1 and not is_batch:
        raise ConfigurationError(f"{where}: batch_size > 1 needs an execute_batch(self, ctx, payloads) method")
    method = getattr(job_class, "execute_batch" if is_batch else "execute", None)
    if defaults["async_concurrency"] is not None and (is_batch or not inspect.iscoroutinefunction(method)):
        raise ConfigurationError(f"{where}: async_concurrency applies only to async job types (async def execute)")

    return JobDefinition(
        name=name,
        job_class=job_class,
        description=description,
        version=version,
        defaults=MappingProxyType(defaults),
        payload_model=payload_model,
        settings_model=settings_model,
        retry_on=retry_on,
        dont_retry_on=dont_retry_on,
        unique=unique,
        requires=requires,
        defined_in=where,
        is_batch=is_batch,
        function=target if is_function else None,
        partition=partition,
    )


def _partition(
    option: Any, job_class: type[BaseJob], payload_model: type[pydantic.BaseModel], where: str
) -> str | None:
    """What partitions a type's jobs: `@job(partition="<payload field>")`, or the class's own
    `partition_key(self, payload)` method; not both."""
    method = callable(getattr(job_class, "partition_key", None))
    if option is None:
        return PARTITION_METHOD if method else None
    if method:
        raise ConfigurationError(f"{where}: give partition=... or a partition_key(self, payload) method, not both")
    if not isinstance(option, str) or option not in payload_model.model_fields:
        fields = ", ".join(payload_model.model_fields) or "none"
        raise ConfigurationError(
            f"{where}: partition={option!r} must name a field of the payload (its fields: {fields}), "
            "or define partition_key(self, payload) on the class to compute the value"
        )
    return option


def _check_settings_defaults(model: type[pydantic.BaseModel], where: str) -> None:
    try:
        model()
    except pydantic.ValidationError as exc:
        raise ConfigurationError(
            f"{where}: every Settings field needs a default (operators fill real values in the "
            f"admin or the environment): {exc.errors()[0]['loc']}"
        ) from None


@overload
def job(target: T, /) -> T: ...
@overload
def job(target: None = None, /, **options: Any) -> Callable[[T], T]: ...
def job(target: Any = None, /, **options: Any) -> Any:
    """Declare a job type: `@job` or `@job(priority=..., max_attempts=..., ...)`.

    Validates the options at once and registers the definition; touches no database.
    Returns the class or function unchanged, with the definition as its `definition`.
    """

    def decorate(obj: Any) -> Any:
        definition = _build(obj, dict(options))
        registry.register(definition)
        obj.definition = definition
        if definition.job_class is not obj:
            definition.job_class.definition = definition
        return obj

    return decorate(target) if target is not None else decorate


def autodiscover(module_name: str, app_configs: Any) -> list[str]:
    """Import `<app>.<module_name>` for every installed app that has one; return what was imported.

    A job module that fails to import stops start-up with its name in the message: a job
    type silently missing is worse than a loud start-up error.
    """
    imported = []
    for app_config in app_configs:
        full_name = f"{app_config.name}.{module_name}"
        try:
            spec = importlib.util.find_spec(full_name)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        try:
            importlib.import_module(full_name)
        except Exception as exc:
            raise ConfigurationError(
                f"importing job module {full_name!r} failed: {type(exc).__name__}: {exc}. "
                "Fix the module (or remove it); job types are never skipped silently."
            ) from exc
        imported.append(full_name)
    return imported


__all__ = [
    "BaseJob",
    "JobDefinition",
    "JobResult",
    "Registry",
    "Unique",
    "autodiscover",
    "job",
    "registry",
    "resolve_definition",
]
