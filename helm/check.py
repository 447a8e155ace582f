"""``make helm-check``: lint and render the chart offline, then validate every manifest.

For the default values and every ``helm/bragabot/ci/*-values.yaml``:
1. ``helm lint --strict`` (helm-python-sdk, no helm binary), for KUBE_VERSION;
2. render (which also checks the values against values.schema.json);
3. every manifest against Kubernetes' own schemas in strict mode (kubernetes-validate,
   pinned KUBE_VERSION: unknown fields are errors), or, for the Prometheus operator's
   kinds that those schemas lack, against the structural schemas in CRD_SCHEMAS;
4. the chart's own rules (``policy_problems``): every container confined and sized,
   the standard labels on every object, no wildcard in any RBAC rule.

Prints every problem and exits 2 when there is one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml

CHART = Path(__file__).resolve().parent / "bragabot"
KUBE_VERSION = "1.33.0"
RELEASE = "bragabot"
NAMESPACE = "bragabot"
LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)
POD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
TMP = "/tmp"  # noqa: S108  # the path every container must have writable (an emptyDir)

# The Prometheus operator's kinds (monitoring.coreos.com/v1) are CRDs, absent from
# kubernetes-validate. These schemas check the structure the chart uses, written from
# the operator's API reference (not its full CRD): the required fields and their types,
# and no field the chart does not mean to set.
_LABEL_SELECTOR = {
    "type": "object",
    "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
    "required": ["matchLabels"],
}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}},
}


def _crd(spec: dict[str, Any]) -> dict[str, Any]:
    """A monitoring.coreos.com/v1 object whose ``spec`` is described by ``spec``."""
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": _crd(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": _LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "scheme": {"enum": ["http", "https"]},
                        },
                    },
                },
            },
        }
    ),
    "PrometheusRule": _crd(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rules"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": {"type": "string"},
                            "rules": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["expr"],
                                    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                    "properties": {
                                        "alert": {"type": "string", "minLength": 1},
                                        "record": {"type": "string", "minLength": 1},
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": {"type": "string"},
                                        "labels": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "annotations": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        }
    ),
}


@dataclass
class Rendering:
    """One values set's manifests: (template path, object) pairs."""

    name: str
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for _, obj in self.objects if obj["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        return next(obj for obj in self.of_kind(kind) if obj["metadata"]["name"] == name)


def values_files(chart: Path = CHART) -> list[Path]:
    return sorted((chart / "ci").glob("*-values.yaml"))


def values_sets(chart: Path = CHART) -> dict[str, dict[str, Any]]:
    """The values sets the check covers: the defaults, then each ci/*-values.yaml."""
    sets: dict[str, dict[str, Any]] = {"default values": {}}
    for path in values_files(chart):
        sets[path.name] = yaml.safe_load(path.read_text()) or {}
    return sets


def chart_lint(values: dict[str, Any], chart: Path = CHART) -> list[str]:
    report = helm.lint(chart, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    # Severity 1 is a hint (an icon is recommended); warnings (2) and errors (3) fail.
    found = [f"lint: {m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2]
    return found + [f"lint: {error}" for error in report["errors"]]


def chart_render(name: str, values: dict[str, Any], chart: Path = CHART) -> Rendering:
    with helm.Chart.load(chart) as loaded:
        manifests = loaded.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    rendering = Rendering(name)
    for template, text in sorted(manifests.items()):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        for obj in yaml.safe_load_all(text):
            if obj:
                rendering.objects.append((template, obj))
    return rendering


def manifest_problems(obj: dict[str, Any]) -> list[str]:
    """What is wrong with one object against its schema (strict: no unknown field)."""
    crd = str(obj.get("apiVersion", "")).startswith("monitoring.coreos.com/")
    schema = CRD_SCHEMAS.get(obj.get("kind", "?")) if crd else None
    try:
        if schema is not None:
            jsonschema.validate(obj, schema)
        else:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        return [f"schema: at {where}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"schema: {error.message}"]
    return []


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] not in POD_KINDS:
        return None
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = _pod_spec(obj)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def container_problems(obj: dict[str, Any]) -> list[str]:
    """Every container: sized, non-root, no escalation, no capabilities, read-only root
    with /tmp writable, the runtime's default seccomp profile."""
    spec = _pod_spec(obj)
    if spec is None:
        return []
    problems = []
    pod = spec.get("securityContext", {})
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for container in containers(obj):
        name = container["name"]
        security = container.get("securityContext", {})
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(part, {}):
                    problems.append(f"container {name}: no {resource} in resources.{part}")
        if security.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
            problems.append(f"container {name}: runAsNonRoot is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: allowPrivilegeEscalation is not false")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"container {name}: readOnlyRootFilesystem is not true")
        if "ALL" not in security.get("capabilities", {}).get("drop", []):
            problems.append(f"container {name}: capabilities do not drop ALL")
        if security.get("capabilities", {}).get("add"):
            problems.append(f"container {name}: capabilities are added")
        seccomp = security.get("seccompProfile", pod.get("seccompProfile", {}))
        if seccomp.get("type") != "RuntimeDefault":
            problems.append(f"container {name}: seccompProfile is not RuntimeDefault")
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == TMP]
        if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.append(f"container {name}: /tmp is not an emptyDir")
    return problems


def label_problems(obj: dict[str, Any]) -> list[str]:
    labels = obj["metadata"].get("labels", {})
    problems = [f"no label {label}" for label in LABELS if label not in labels]
    if _pod_spec(obj) is not None and "app.kubernetes.io/component" not in labels:
        problems.append("no label app.kubernetes.io/component")
    return problems


def rbac_problems(obj: dict[str, Any]) -> list[str]:
    """No wildcard: a role names every group, resource and verb it grants."""
    if obj["kind"] not in ("Role", "ClusterRole"):
        return []
    problems = []
    for index, rule in enumerate(obj.get("rules", [])):
        for key in ("apiGroups", "resources", "verbs", "nonResourceURLs"):
            if any("*" in entry for entry in rule.get(key, [])):
                problems.append(f"rule {index}: a wildcard in {key}")
    return problems


def policy_problems(obj: dict[str, Any]) -> list[str]:
    return container_problems(obj) + label_problems(obj) + rbac_problems(obj)


def rendering_problems(rendering: Rendering) -> list[str]:
    problems = []
    for template, obj in rendering.objects:
        where = f"{rendering.name}: {template}: {obj.get('kind')}/{obj['metadata'].get('name')}"
        problems.extend(f"{where}: {p}" for p in manifest_problems(obj) + policy_problems(obj))
    return problems


def check(chart: Path = CHART) -> tuple[list[Rendering], list[str]]:
    """Lint, render and validate every values set; (renderings, problems)."""
    renderings, problems = [], []
    for name, values in values_sets(chart).items():
        problems.extend(f"{name}: {p}" for p in chart_lint(values, chart))
        try:
            rendering = chart_render(name, values, chart)
        except helm.HelmError as error:
            problems.append(f"{name}: render: {error}")
            continue
        renderings.append(rendering)
        problems.extend(rendering_problems(rendering))
    return renderings, problems


def report_lines(renderings: Iterable[Rendering]) -> Iterator[str]:
    for rendering in renderings:
        kinds: dict[str, int] = {}
        for _, obj in rendering.objects:
            kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
        counted = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        yield f"{rendering.name}: {len(rendering.objects)} objects valid ({counted})"


def main() -> int:
    renderings, problems = check()
    for line in report_lines(renderings):
        print(line)
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    print(f"helm-check: {CHART.name} passes lint and Kubernetes {KUBE_VERSION} (strict)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
