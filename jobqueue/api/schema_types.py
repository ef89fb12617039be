"""The job-type operations of the OpenAPI schema, one path per job type: what PATCH and run now
accept depends on the type the path names (its settings, its payload), and OpenAPI ties a
request body to an operation, not to a path parameter's value."""

from __future__ import annotations

import copy
from typing import Any

import pydantic

from jobqueue.registry import JobDefinition, registry
from jobqueue.secrets.sealing import secret_fields
from jobqueue.services.permissions import is_builtin

REF = "#/components/schemas/"
TEMPLATE = "/api/job-types/{name}/"
JOB_TARGETS = ("jobs_retrieve", "jobs_cancel_create", "jobs_rerun_create")


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def model_component(model: type[pydantic.BaseModel], name: str, prefix: str, components: dict[str, Any]) -> str:
    """Add a pydantic model's JSON Schema (and its nested models) to components as `name`."""
    schema = model.model_json_schema(ref_template=REF + prefix + "{model}")
    for nested_name, nested in schema.pop("$defs", {}).items():
        components[prefix + nested_name] = nested
    schema["title"] = name
    components[name] = schema
    return name


def needs_payload(definition: JobDefinition) -> bool:
    """Whether the type's payload model refuses `{}` (a required field, or a rule such as
    discord's "content or an embed"): then a request must send a payload."""
    try:
        definition.payload_model.model_validate({})
    except pydantic.ValidationError:
        return True
    return False


def payload_component(definition: JobDefinition, components: dict[str, Any]) -> str:
    prefix = camel(definition.name)
    return model_component(definition.payload_model, f"{prefix}Payload", prefix, components)


def settings_schema(definition: JobDefinition, components: dict[str, Any]) -> dict[str, Any]:
    """The `settings` of a PATCH: the type's whole settings object, no unknown keys (a type
    without settings takes none); a secret's default is never published."""
    model = definition.settings_model
    if model is None:
        return {"type": "object", "maxProperties": 0, "description": "this job type declares no settings"}
    prefix = camel(definition.name)
    name = model_component(model, f"{prefix}Settings", prefix, components)
    component = components[name]
    component["additionalProperties"] = False
    for secret in secret_fields(model):
        component.get("properties", {}).get(secret, {}).pop("default", None)
    return {"$ref": REF + name}


# A type whose payload has required fields takes no schedule (it would enqueue empty payloads).
NO_SCHEDULE = {
    "oneOf": [{"type": "string", "enum": ["off"]}, {"type": "null"}],
    "description": "this type's payload has required fields, so it cannot have a schedule: off or null only",
}


def add_job_type_operations(schema: dict[str, Any]) -> None:
    """Replace /api/job-types/{name}/ (GET, PATCH) and POST .../{name}/run/ with a path per
    registered type (built-in types: no run now, nobody may run them). The template path goes:
    the server answers every method of a type's path by that type, so a path that allowed GET
    for any name would also have to describe PATCH for any name."""
    paths = schema.get("paths", {})
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    retrieve = paths.get(TEMPLATE, {}).get("get")
    patch = paths.pop(TEMPLATE, {}).get("patch")
    run = paths.pop(TEMPLATE + "run/", {}).get("post")
    change, run_now = components.pop("PatchedJobTypeChange", None), components.pop("RunNow", None)
    if retrieve is None or patch is None or run is None or change is None or run_now is None:
        return
    for definition in registry:
        name, prefix = definition.name, camel(definition.name)
        body = copy.deepcopy(change)
        body["properties"]["settings"] = {**body["properties"]["settings"], **settings_schema(definition, components)}
        if any(field.is_required() for field in definition.payload_model.model_fields.values()):
            body["properties"]["schedule"] = NO_SCHEDULE
        components[f"{prefix}Change"] = body
        paths[f"/api/job-types/{name}/"] = {
            "get": _operation(retrieve, f"job_types_{name}_retrieve", None),
            "patch": _operation(patch, f"job_types_{name}_partial_update", prefix + "Change"),
        }
        if is_builtin(name):
            continue
        payload = payload_component(definition, components)
        request = copy.deepcopy(run_now)
        required = needs_payload(definition)
        # null means "no payload" ({}), which is valid only when the payload model takes {}.
        request["properties"]["payload"] = (
            {"$ref": REF + payload} if required else {"anyOf": [{"$ref": REF + payload}, {"type": "null"}]}
        )
        if required:
            request["required"] = ["payload"]
        components[f"{prefix}RunNow"] = request
        operation = _operation(run, f"job_types_{name}_run_create", prefix + "RunNow")
        operation["requestBody"]["required"] = required
        created = operation["responses"]["201"]
        created["links"] = {
            target: {"operationId": target, "parameters": {"id": "$response.body#/id"}} for target in JOB_TARGETS
        }
        paths[f"/api/job-types/{name}/run/"] = {"post": operation}


def _operation(template: dict[str, Any], operation_id: str, component: str | None) -> dict[str, Any]:
    operation = copy.deepcopy(template)
    operation["operationId"] = operation_id
    operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("in") != "path"]
    if not operation["parameters"]:
        del operation["parameters"]
    for media in operation.get("requestBody", {}).get("content", {}).values():
        media["schema"] = {"$ref": REF + str(component)}
    return operation
