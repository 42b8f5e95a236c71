"""Validate a response body against the app's own OpenAPI schema."""

from __future__ import annotations

import jsonschema


def validate_response(openapi: dict, method: str, template: str, status: int, body) -> None:
    """Raise when `body` does not match the documented response of that operation."""
    op = openapi["paths"][template][method.lower()]
    doc = op["responses"].get(str(status))
    assert doc is not None, f"{method} {template} does not document status {status}"
    schema = doc["content"]["application/json"]["schema"]
    root = {**schema, "components": openapi["components"]}
    jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(body)
