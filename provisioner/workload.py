"""The Kubernetes objects of a bot, rendered from ``bot_templates/``.

A kind's ``<kind>/workload/<name>`` is used when it exists, else the shared
``_workload/<name>`` (a kind's template extends the shared one and overrides blocks).
Templates are compiled in a sandbox without autoescaping (YAML is not HTML), and every
``{{ }}`` must go through ``tojson``: its JSON is one YAML scalar or flow collection, so
a tenant's value ("x\\n  kind: ClusterRole", quotes, ``{{ }}``) stays data. A value
printed without ``tojson`` is refused at render time. The result is parsed with a safe
loader (plain data, no tags)."""

from __future__ import annotations

import functools
import json
from typing import Any

import yaml
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    Undefined,
)
from jinja2.sandbox import SandboxedEnvironment

from provisioner.kinds import TEMPLATES_DIR

SHARED = "_workload"
# libyaml's safe loader (ten times the pure-Python one) when built with it: the same
# plain-data constructor as yaml.safe_load.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class WorkloadError(ValueError):
    """A workload template that cannot be rendered into Kubernetes objects."""


class _Json(str):
    """Text that ``tojson`` produced: the only kind of value a template may print."""


def _tojson(value: Any) -> _Json:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # StrictUndefined: "'x' is undefined"
    # ASCII only: a non-ASCII character (a line or paragraph separator) is a \\u escape,
    # never a YAML line break.
    try:
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(", ", ": "))
    except TypeError as exc:  # not JSON data (an undefined value inside a collection)
        raise WorkloadError(f"not JSON data: {exc}") from exc
    return _Json(text)


def _only_json(value: Any) -> Any:
    if isinstance(value, _Json):
        return value
    raise WorkloadError(f"a template printed {value!r} without | tojson")


@functools.cache
def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=False,
        undefined=StrictUndefined,
        finalize=_only_json,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates ship with the code
    )
    env.filters["tojson"] = _tojson
    return env


def template_path(kind: str, name: str) -> str:
    """Where ``name`` (e.g. ``deployment.yaml.j2``) comes from for ``kind``."""
    own = f"{kind}/workload/{name}"
    return own if (TEMPLATES_DIR / own).is_file() else f"{SHARED}/{name}"


def workload_render(*, kind: str, name: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects ``name`` renders for ``kind`` with ``context`` (each a dict)."""
    try:
        text = _env().get_template(template_path(kind, name)).render(context)
    except TemplateNotFound as exc:
        raise WorkloadError(f"no workload template {exc.name!r}") from exc
    except TemplateError as exc:
        raise WorkloadError(f"{kind}/{name}: {exc}") from exc
    except WorkloadError as exc:
        raise WorkloadError(f"{kind}/{name}: {exc}") from exc
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_SafeLoader) if doc is not None]
    except yaml.YAMLError as exc:
        raise WorkloadError(f"{kind}/{name} rendered invalid YAML: {exc}") from exc
    for doc in documents:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise WorkloadError(f"{kind}/{name} rendered something not an object: {doc!r}")
    return documents
