"""The OpenAPI schema: drf-spectacular's, plus one payload schema per job type (a `oneOf` on
`type` with a discriminator) so that client generators produce a typed call per job type."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from jobqueue.api.authentication import ApiTokenAuthentication, SessionAuthentication
from jobqueue.api.schema_types import add_job_type_operations, camel, needs_payload, payload_component
from jobqueue.csp import POLICY as CSP_POLICY
from jobqueue.registry import registry
from jobqueue.services.permissions import is_builtin

REF = "#/components/schemas/"
ERRORS = {
    "400": "invalid request: `errors` maps each bad field's path to its messages",
    "401": "no valid credentials",
    "403": "authenticated, but without the permission for this action",
    "404": "no such object",
    "405": "method not allowed on this path",
    "406": "only application/json responses are available",
    "413": "request body over the size limit",
    "415": "the request body must be application/json",
    "429": "too many enqueue calls; retry after Retry-After seconds",
}
ENQUEUE_403 = (
    "authenticated, but without `jobqueue.add_job` or the job type's own permission `jobqueue.enqueue_<type>`, "
    "or the type is a built-in `jobqueue_*` type, which nobody may enqueue; `errors` names each refused "
    "field (`type`, or `<index>.type` in a bulk call) and nothing is enqueued"
)
AGAIN_403 = (
    "authenticated, but without the action's permission (`jobqueue.rerun_job`, `jobqueue.requeue_deadletter`) "
    "or the job type's own `jobqueue.enqueue_<type>` (running a job again is enqueueing it again), or the "
    "request edits the payload of a built-in `jobqueue_*` job"
)
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before retrying"}}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "jobqueue.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "a token from `manage.py jobqueue token create` or the admin (API tokens)",
        }


class OwnDocsAutoSchema(AutoSchema):
    """Describe an operation by its action's docstring or its own view class's, never by one a
    view inherits: the base viewset's docstring is a note for maintainers, not API documentation."""

    def get_description(self) -> str:
        action = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        own = type(self.view).__dict__.get("__doc__")
        return get_doc(action) or (get_doc(type(self.view)) if own else "")


class JobQueueSchemaGenerator(SchemaGenerator):
    def get_schema(self, request: Request | None = None, public: bool = False) -> dict[str, Any]:
        schema = super().get_schema(request, public)
        schema = without_ambiguous_nulls(schema)
        strict_request_bodies(schema)
        add_job_type_payloads(schema)
        add_job_type_operations(schema)
        query_strings_without_nul(schema)
        body_strings_without_nul(schema)
        add_error_responses(schema)
        open_health(schema)
        add_links(schema)
        return schema


def strict_request_bodies(schema: dict[str, Any]) -> None:
    """Request bodies as strict as their serializers (jobqueue.api.serializers.strict): no unknown
    fields, no blank strings or empty lists the server refuses, and the cross-field rules."""
    from jobqueue.api.serializers import strict

    components = schema.get("components", {}).get("schemas", {})
    for serializer in strict.StrictSerializer.__subclasses__():
        base = serializer.__name__.removesuffix("Serializer")
        for name in (base, f"Patched{base}"):
            component = components.get(name)
            if component is None:
                continue
            component["additionalProperties"] = False
            for field_name, field in serializer().fields.items():
                prop = component.get("properties", {}).get(field_name)
                if prop is None:
                    continue
                if isinstance(field, serializers.CharField) and not field.allow_blank:
                    prop["minLength"] = 1
                if isinstance(field, serializers.ListField) and not field.allow_empty:
                    prop["minItems"] = 1
            component.update(strict.schema_rules(serializer))
    # A body whose rules need a field (a bulk re-queue's selector) cannot be left out either.
    for operation in _operations(schema):
        body = operation.get("requestBody", {})
        for media in body.get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            if "anyOf" in components.get(ref.removeprefix(REF), {}):
                body["required"] = True


def query_strings_without_nul(schema: dict[str, Any]) -> None:
    """A query parameter's text never holds NUL (DRF refuses it, as databases do): say so."""
    for operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            param_schema = parameter.get("schema", {})
            if parameter.get("in") == "query" and param_schema.get("type") == "string" and "enum" not in param_schema:
                param_schema.setdefault("pattern", "^[^\\u0000]*$")


NO_NUL = "^[^\\u0000]*$"
# `\S` (pydantic's "not blank") also matches NUL: the same rule without it.
NOT_BLANK_NO_NUL = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


# Any JSON value the parser accepts: no NUL in any string, object keys included, at any depth.
JSON_WITHOUT_NUL = "JsonValueWithoutNul"


def _json_without_nul() -> dict[str, Any]:
    itself = {"$ref": REF + JSON_WITHOUT_NUL}
    return {
        "description": "any JSON value; its strings, object keys included, never hold NUL (\\u0000)",
        "anyOf": [
            {"type": "string", "pattern": NO_NUL},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": itself},
            {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": itself},
        ],
    }


# Keywords that only describe; a schema with nothing else (`{}`, an `Any` field) takes any value.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "example", "deprecated", "readOnly", "writeOnly", "nullable"}
)


# Keys whose values are not schemas to visit (values, names, or a schema already without NUL).
_NOT_SCHEMAS = frozenset(
    {"$ref", "enum", "const", "default", "examples", "example", "discriminator", "required", "propertyNames"}
)


def _open_parts_without_nul(node: dict[str, Any]) -> None:
    """An object that takes keys it does not name (a payload model with extra keys allowed, a
    dict field) or a value of any type (an `Any` field) says that NUL is refused there too."""
    any_value = {"$ref": REF + JSON_WITHOUT_NUL}
    if set(node) <= _ANNOTATIONS:  # `{}` or only a title, default...: any value
        node.update(any_value)
        return
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties", True)
        if extra is False:
            return
        node.setdefault("propertyNames", {"pattern": NO_NUL})
        if extra is True or extra == {}:
            node["additionalProperties"] = any_value


def body_strings_without_nul(schema: dict[str, Any]) -> None:
    """A request body's strings never hold NUL (the JSON parser refuses it: PostgreSQL cannot
    store it in text or jsonb): say so on every string schema a request body reaches, on the
    keys and values of its open objects, and on values of any type."""
    components = schema.get("components", {}).get("schemas", {})
    components[JSON_WITHOUT_NUL] = _json_without_nul()
    seen: set[str] = {JSON_WITHOUT_NUL}

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        _open_parts_without_nul(node)
        ref = node.get("$ref", "")
        if ref.startswith(REF) and ref[len(REF) :] not in seen:
            seen.add(ref[len(REF) :])
            visit(components.get(ref[len(REF) :]))
        kinds = node.get("type")
        if (kinds == "string" or (isinstance(kinds, list) and "string" in kinds)) and not (
            {"enum", "const"} & set(node)
        ):
            pattern = node.get("pattern")
            if pattern is None:
                node["pattern"] = NO_NUL
            elif pattern == "\\S":
                node["pattern"] = NOT_BLANK_NO_NUL
            elif not (pattern.startswith("^") and pattern.endswith("$")):
                node.setdefault("allOf", []).append({"pattern": NO_NUL})
        for key, value in list(node.items()):
            if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
                for member in value.values():  # a map of names to schemas, not a schema itself
                    visit(member)
            elif key not in _NOT_SCHEMAS:
                visit(value)

    for operation in _operations(schema):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            visit(media.get("schema"))


def open_health(schema: dict[str, Any]) -> None:
    """GET /api/health/ answers without credentials (the verdict alone): its security is optional."""
    operation = schema.get("paths", {}).get("/api/health/", {}).get("get")
    if operation is not None:
        operation["security"] = [{}, *operation.get("security", [])]


def without_ambiguous_nulls(node: Any) -> Any:
    """drf-spectacular writes a nullable JSONField as oneOf [{}, null] for OpenAPI 3.1, which null
    matches twice (so no value is valid); any JSON value already includes null."""
    if isinstance(node, dict):
        if node.get("oneOf") == [{}, {"type": "null"}]:
            return {k: without_ambiguous_nulls(v) for k, v in node.items() if k != "oneOf"}
        return {k: without_ambiguous_nulls(v) for k, v in node.items()}
    if isinstance(node, list):
        return [without_ambiguous_nulls(v) for v in node]
    return node


def add_job_type_payloads(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    generic = components.get("Enqueue")
    if generic is None:
        return
    variants: dict[str, str] = {}
    for definition in registry:
        if is_builtin(definition.name):
            continue  # refused to everyone: not a request anyone can make
        payload = payload_component(definition, components)
        variant = copy.deepcopy(generic)
        variant["properties"]["type"] = {"type": "string", "enum": [definition.name]}
        variant["properties"]["payload"] = {"$ref": REF + payload}
        # A payload that {} does not satisfy cannot be left out (the server validates {} then).
        variant["required"] = ["type", "payload"] if needs_payload(definition) else ["type"]
        variant["additionalProperties"] = False
        variant["description"] = definition.description or definition.name
        name = f"Enqueue{camel(definition.name)}"
        components[name] = variant
        variants[definition.name] = REF + name
    components["EnqueueJob"] = {
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "type", "mapping": variants},
    }
    enqueue_ref = {"$ref": REF + "EnqueueJob"}
    for operation in _operations(schema):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if media.get("schema") == {"$ref": REF + "Enqueue"}:
                media["schema"] = enqueue_ref
    bulk = components.get("BulkEnqueue", {}).get("properties", {}).get("jobs")
    if bulk is not None:
        bulk["items"] = enqueue_ref
        bulk["maxItems"] = _bulk_max()


def add_error_responses(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "errors": {"type": "object", "description": "field path (or item index) -> messages"},
        },
        "required": ["detail"],
    }
    for path, method, operation in _operations_with_path(schema):
        responses = operation.setdefault("responses", {})
        codes = dict(ERRORS)
        if method == "post" and (path.endswith(("/run/", "/bulk/")) or path == "/api/jobs/"):
            codes["503"] = "the job type's ready backlog is full; retry after Retry-After seconds"
            codes["403"] = ENQUEUE_403
        if method == "post" and "{" in path:
            codes["409"] = "the object's state does not allow this action"
        if method == "post" and path.endswith(("/{id}/rerun/", "/{id}/requeue/")):
            codes["403"] = AGAIN_403
        if method == "post" and path.endswith("/{id}/requeue/"):
            codes["409"] = (
                "the dead letter is already resolved, or the corrected payload does not fit its job type "
                "(errors by field: payload.<field>)"
            )
        for code, description in codes.items():
            if code in responses:
                continue
            response: dict[str, Any] = {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": REF + "Error"}}},
            }
            if code in ("429", "503"):
                response["headers"] = RETRY_AFTER
            responses[code] = response


def _operations_with_path(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if isinstance(operation, dict)
    ]


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for _, _, operation in _operations_with_path(schema)]


def _bulk_max() -> int:
    from jobqueue.config.settings import jobqueue_settings

    return jobqueue_settings.API_BULK_MAX


class SchemaView(SpectacularAPIView):
    """GET /api/schema/: the OpenAPI 3.1 document (YAML, or JSON with ?format=json)."""

    generator_class = JobQueueSchemaGenerator
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    custom_settings = {
        "TITLE": "Job queue API",
        "DESCRIPTION": "Enqueue jobs, read their history and attempts, operate dead letters.",
        "VERSION": "1",
        "OAS_VERSION": "3.1.0",
        "SCHEMA_PATH_PREFIX": "/api",
    }


class DocsView(SpectacularSwaggerSplitView):
    """GET /api/docs/: Swagger UI from local static files (drf-spectacular-sidecar), no CDN.

    The split view serves its start-up script as a file (`?script=`) rather than inline, so the
    page carries the admin's Content-Security-Policy: scripts from this site only.
    """

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = CSP_POLICY
        return response


# Links between operations (OpenAPI `links`), so that clients and stateful testers can follow an
# enqueued job, a listed dead letter or a job type to the operations on it.
# source operationId, status, target operationId, parameter, runtime expression
JOB_TARGETS = ("jobs_retrieve", "jobs_cancel_create", "jobs_rerun_create")
DEAD_LETTER_TARGETS = ("dead_letters_retrieve", "dead_letters_requeue_create", "dead_letters_discard_create")
# (Each job type has paths of its own, so the job-type list links to none: jobqueue.api.schema_types.)
LINKS: tuple[tuple[str, str, str, str, str], ...] = (
    *(("jobs_create", code, target, "id", "$response.body#/id") for code in ("201", "200") for target in JOB_TARGETS),
    *(("jobs_list", "200", target, "id", "$response.body#/results/0/id") for target in JOB_TARGETS),
    *(("jobs_bulk_create", "201", target, "id", "$response.body#/ids/0") for target in JOB_TARGETS),
    *(("jobs_rerun_create", "201", target, "id", "$response.body#/id") for target in JOB_TARGETS),
    *(("dead_letters_requeue_create", "201", target, "id", "$response.body#/id") for target in JOB_TARGETS),
    *(("dead_letters_requeue_many", "200", target, "id", "$response.body#/ids/0") for target in JOB_TARGETS),
    *(("dead_letters_list", "200", target, "id", "$response.body#/results/0/id") for target in DEAD_LETTER_TARGETS),
)


def add_links(schema: dict[str, Any]) -> None:
    by_id = {operation.get("operationId"): operation for operation in _operations(schema)}
    for source, code, target, parameter, expression in LINKS:
        response = by_id.get(source, {}).get("responses", {}).get(code)
        if response is None or target not in by_id:
            continue
        response.setdefault("links", {})[target] = {"operationId": target, "parameters": {parameter: expression}}
