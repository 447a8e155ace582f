"""An admin's parameters for a bot kind, checked against the kind's JSON Schema.

Every error names the field it is about (``tasks[0].url``), so an API can point at
it; defaults of top-level fields are filled in."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from provisioner.kinds import Kind

# Parameters are stored and rendered: a bound on their size keeps both cheap.
MAX_PARAMETERS_BYTES = 32_000

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    # RFC 3339 needs an offset; fromisoformat alone would take a naive time.
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None


class ParameterError(ValueError):
    """``errors``: field path -> what is wrong with it ("" is the parameters as a whole)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(f"{first[0] or 'parameters'}: {first[1]}")


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: ValidationError) -> tuple[str, str]:
    """(field, message) for one schema error, with the field the admin must change."""
    where = list(error.absolute_path)
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return _path([*where, missing]), "this field is required"
    if error.validator == "additionalProperties":
        instance = error.instance if isinstance(error.instance, dict) else {}
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        return _path([*where, extra[0]]), "unknown field"
    if error.validator == "pattern" and schema.get("description"):
        return _path(where), f"not valid: {schema['description']}"
    message = error.message
    if len(message) > 200:  # the value itself may be long: say what is wrong, not all of it
        message = f"does not satisfy {error.validator!r} ({error.validator_value!r})"
    return _path(where), message


def parameters_validate(*, kind: Kind, parameters: Any) -> dict[str, Any]:
    """``parameters`` with defaults filled in, or ParameterError naming each bad field."""
    if not isinstance(parameters, dict):
        raise ParameterError({"": "parameters must be an object"})
    if len(repr(parameters)) > MAX_PARAMETERS_BYTES:
        raise ParameterError({"": f"parameters are larger than {MAX_PARAMETERS_BYTES} bytes"})
    validator = Draft202012Validator(kind.parameters, format_checker=_formats)
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(parameters), key=lambda e: list(e.path)):
        field, message = _describe(error)
        errors.setdefault(field, message)
    if errors:
        raise ParameterError(errors)
    filled = copy.deepcopy(parameters)
    for name, schema in kind.parameters.get("properties", {}).items():
        if name not in filled and "default" in schema:
            filled[name] = copy.deepcopy(schema["default"])
    return filled
