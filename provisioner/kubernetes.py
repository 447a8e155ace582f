"""The Kubernetes backend: a bot's desired objects, applied through the official client.

Apply is server-side apply (``PATCH`` with ``application/apply-patch+yaml``, field
manager ``bragabot-provisioner``, ``force=true``): the API server merges, creates what is
missing and owns the fields for us. Each object carries the SHA-256 of its desired body
in the ``bragabot.io/desired-sha256`` annotation; the live objects are read with one
LIST per kind and namespace (by label, never a GET per object), and an object whose
annotation already matches is not sent again, so re-applying an unchanged bot writes
nothing. Objects labelled for a bot that its desired state no longer has (a webhook
bot's Service and Ingress once it polls, everything once it is pooled) are deleted.

``pause`` scales the Deployment to 0 and keeps the rest; ``remove`` deletes every object
labelled for the bot and keeps the tenant's namespace (its quota and limits are the
tenant's, and deleting a namespace takes every object in it along: that belongs to
removing the tenant, not one bot). ``status`` reads the Deployment back: available
replicas -> running, ``ProgressDeadlineExceeded`` -> failed with the condition's
message, zero replicas -> paused, else deploying."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from provisioner.desired import (
    BOT_LABEL,
    MANAGED_BY,
    ClusterSettings,
    desired_objects,
    namespace_for,
    object_name,
)
from provisioner.spec import BotSpec, Placement, Rollout, Status

FIELD_MANAGER = "bragabot-provisioner"
DIGEST_ANNOTATION = "bragabot.io/desired-sha256"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


@dataclass(frozen=True)
class Resource:
    kind: str
    prefix: str  # /api/v1 or /apis/<group>/<version>
    plural: str
    namespaced: bool = True
    per_bot: bool = True  # labelled bragabot.io/bot=<id>, pruned with the bot

    def collection(self, namespace: str | None) -> str:
        if self.namespaced:
            return f"{self.prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.prefix}/{self.plural}"

    def path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"


RESOURCES = {
    r.kind: r
    for r in (
        Resource("Namespace", "/api/v1", "namespaces", namespaced=False, per_bot=False),
        Resource("ResourceQuota", "/api/v1", "resourcequotas", per_bot=False),
        Resource("LimitRange", "/api/v1", "limitranges", per_bot=False),
        Resource("Secret", "/api/v1", "secrets"),
        Resource("ConfigMap", "/api/v1", "configmaps"),
        Resource("NetworkPolicy", "/apis/networking.k8s.io/v1", "networkpolicies"),
        Resource("Service", "/api/v1", "services"),
        Resource("Ingress", "/apis/networking.k8s.io/v1", "ingresses"),
        Resource("Deployment", "/apis/apps/v1", "deployments"),
    )
}
PER_BOT = [r for r in RESOURCES.values() if r.per_bot]
TENANT_WIDE = [r for r in RESOURCES.values() if r.namespaced and not r.per_bot]
DEPLOYMENT = RESOURCES["Deployment"]


class KubernetesBackendError(RuntimeError):
    """The API server refused a request (its status and message)."""


def digest(obj: Mapping[str, Any]) -> str:
    """The SHA-256 of a desired object's body (its canonical JSON)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def annotated(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its digest in ``metadata.annotations``."""
    metadata = obj["metadata"]
    annotations = {**metadata.get("annotations", {}), DIGEST_ANNOTATION: digest(obj)}
    return {**obj, "metadata": {**metadata, "annotations": annotations}}


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _unchanged(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    if live is None:
        return False
    annotations = live.get("metadata", {}).get("annotations") or {}
    if annotations.get(DIGEST_ANNOTATION) != desired["metadata"]["annotations"][DIGEST_ANNOTATION]:
        return False
    if desired["kind"] == "Deployment":  # pause scaled it down: the digest did not change
        return bool(live.get("spec", {}).get("replicas") == desired["spec"]["replicas"])
    return True


def rollout_of(deployment: Mapping[str, Any] | None, *, writes: int = 0) -> Rollout:
    """Where a Deployment's rollout stands."""
    if deployment is None:
        return Rollout(Status.PENDING, "no Deployment for this bot", writes)
    spec = deployment.get("spec", {})
    status = deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    if wanted == 0:
        return Rollout(Status.PAUSED, "scaled to 0", writes)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            reason = condition.get("reason", "")
            message = condition.get("message", "")
            return Rollout(Status.FAILED, f"{reason}: {message}".strip(": "), writes)
    generation = deployment.get("metadata", {}).get("generation", 0)
    current = status.get("observedGeneration", 0) >= generation
    if current and status.get("availableReplicas", 0) >= wanted:
        return Rollout(Status.RUNNING, "", writes)
    ready = status.get("availableReplicas", 0)
    return Rollout(Status.DEPLOYING, f"{ready}/{wanted} replicas available", writes)


class KubernetesBackend:
    """Runs isolated bots as Deployments in their tenant's namespace (see the module)."""

    name = "kubernetes"

    def __init__(
        self,
        api_client: ApiClient,
        *,
        image: str,
        settings: ClusterSettings | None = None,
        digest_skip: bool = True,
        workers: int = 8,
    ) -> None:
        self.api = api_client
        self.image = image
        self.settings = settings or ClusterSettings()
        # False sends every object on every apply (the naive way, for the benchmark).
        self.digest_skip = digest_skip
        self.workers = workers  # bots converged at once by apply_many

    # --- HTTP -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        try:
            response = self.api.call_api(
                path,
                method,
                query_params=list(query),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
            )
        except ApiException as exc:
            if exc.status == 404:
                raise
            raise KubernetesBackendError(
                f"{method} {path}: {exc.status} {exc.reason}: {exc.body}"
            ) from exc
        data = response.data
        return json.loads(data) if data else {}

    def _list(self, resource: Resource, namespace: str, selector: str) -> list[dict[str, Any]]:
        try:
            found = self._call(
                "GET", resource.collection(namespace), query=[("labelSelector", selector)]
            )
        except ApiException:  # 404: the namespace does not exist yet
            return []
        return list(found.get("items") or [])

    def _get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", resource.path(namespace, name))
        except ApiException:
            return None

    def _apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        resource = RESOURCES[obj["kind"]]
        namespace = obj["metadata"].get("namespace")
        return self._call(
            "PATCH",
            resource.path(namespace, obj["metadata"]["name"]),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=obj,
            content_type=APPLY_CONTENT_TYPE,
        )

    def _delete(self, obj: Mapping[str, Any]) -> bool:
        resource = RESOURCES[obj["kind"]]
        metadata = obj["metadata"]
        try:
            self._call(
                "DELETE",
                resource.path(metadata.get("namespace"), metadata["name"]),
                query=[("propagationPolicy", "Background")],
            )
        except ApiException:  # already gone
            return False
        return True

    # --- Reading the live state --------------------------------------------------------

    def _live(
        self, namespace: str, selector: str, resources: Iterable[Resource]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        live = {}
        for resource in resources:
            for item in self._list(resource, namespace, selector):
                item.setdefault("kind", resource.kind)  # a list's items may omit it
                live[(resource.kind, item["metadata"]["name"])] = item
        return live

    # --- The Backend protocol ----------------------------------------------------------

    def apply(self, spec: BotSpec) -> Rollout:
        return self.apply_many([spec])[spec.bot_id]

    def apply_many(self, specs: Sequence[BotSpec]) -> dict[int, Rollout]:
        """Converge every bot of ``specs``. The live state is read once per tenant and
        kind (one LIST for all these bots of a namespace), so reconciling many bots costs
        a few reads per tenant plus the writes that really change something."""
        by_tenant: dict[str, list[BotSpec]] = {}
        for spec in specs:
            by_tenant.setdefault(spec.tenant, []).append(spec)
        rollouts = {}
        isolated = any(spec.placement == Placement.ISOLATED for spec in specs)
        platform_secret = self._platform_secret() if isolated else None
        for tenant, tenant_specs in by_tenant.items():
            namespace = namespace_for(tenant, self.settings)
            if len(tenant_specs) == 1:
                selector = f"{BOT_LABEL}={tenant_specs[0].bot_id}"
            else:
                selector = f"app.kubernetes.io/managed-by={MANAGED_BY},{BOT_LABEL}"
            desired = {
                spec.bot_id: [
                    annotated(obj)
                    for obj in self._with_platform_secret(
                        desired_objects(spec, image=self.image, settings=self.settings),
                        platform_secret,
                    )
                ]
                for spec in tenant_specs
            }
            # Read even when every object is re-sent: pruning needs the live objects.
            live = self._live(namespace, selector, PER_BOT)
            tenant_live = self._tenant_live(namespace, desired) if self.digest_skip else {}
            # The first isolated bot converges alone: it writes the tenant-wide objects
            # (the same for every bot of the tenant). The others' own objects then go
            # out side by side: each bot's requests wait on the API server, not the CPU.
            first = next((s for s in tenant_specs if desired[s.bot_id]), tenant_specs[0])
            rollouts[first.bot_id] = self._converge(first, desired[first.bot_id], live, tenant_live)
            rest = [s for s in tenant_specs if s is not first]
            with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(rest)))) as pool:
                converged = pool.map(
                    self._converge,
                    rest,
                    [desired[s.bot_id] for s in rest],
                    itertools.repeat(live),
                    itertools.repeat(tenant_live),
                )
                rollouts.update(zip((s.bot_id for s in rest), converged, strict=True))
        return rollouts

    def _tenant_live(
        self, namespace: str, desired: Mapping[int, list[dict[str, Any]]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The namespace and its tenant-wide objects (no bot label), read once per tenant
        (when any bot of it is isolated: a pooled bot wants no namespace)."""
        if not any(desired.values()):
            return {}
        found = self._get(RESOURCES["Namespace"], None, namespace)
        if found is None:
            return {}  # a new namespace has nothing in it
        live = {("Namespace", namespace): found}
        resources = list(TENANT_WIDE)
        if self.settings.platform_secret_namespace:
            resources.append(RESOURCES["Secret"])
        selector = f"app.kubernetes.io/managed-by={MANAGED_BY},!{BOT_LABEL}"
        return live | self._live(namespace, selector, resources)

    def _platform_secret(self) -> dict[str, Any] | None:
        """The platform's environment Secret as the release has it (``data``), or None
        when it is not copied (``platform_secret_namespace`` unset)."""
        source = self.settings.platform_secret_namespace
        if not source:
            return None
        found = self._get(RESOURCES["Secret"], source, self.settings.platform_secret)
        if found is None:
            raise KubernetesBackendError(
                f"no Secret {self.settings.platform_secret!r} in namespace {source!r} "
                f"(PROVISIONER_PLATFORM_SECRET): bot pods would have no DATABASE_URL"
            )
        return found

    def _with_platform_secret(
        self, objects: list[dict[str, Any]], source: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """An isolated bot's objects plus the copy of the platform Secret in its tenant's
        namespace (a pod reads Secrets of its own namespace only), after the namespace's
        quota objects and before the bot's own."""
        if source is None or not objects:
            return objects
        namespace = objects[0]["metadata"]["name"]
        copy = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.settings.platform_secret,
                "namespace": namespace,
                "labels": dict(objects[0]["metadata"]["labels"]),
            },
            "type": source.get("type", "Opaque"),
            "data": dict(source.get("data") or {}),
        }
        tenant_wide = sum(1 for o in objects if BOT_LABEL not in o["metadata"]["labels"])
        return [*objects[:tenant_wide], copy, *objects[tenant_wide:]]

    def _converge(
        self,
        spec: BotSpec,
        desired: list[dict[str, Any]],
        live: dict[tuple[str, str], dict[str, Any]],
        tenant_live: dict[tuple[str, str], dict[str, Any]],
    ) -> Rollout:
        writes = 0
        deployment: dict[str, Any] | None = None
        for obj in desired:
            key = _key(obj)
            current = live.get(key) or tenant_live.get(key)
            if self.digest_skip and _unchanged(obj, current):
                result = current
            else:
                result = self._apply(obj)
                writes += 1
                if BOT_LABEL not in obj["metadata"].get("labels", {}):
                    tenant_live[key] = result  # tenant-wide: the next bot of this tenant skips it
            if obj["kind"] == "Deployment":
                deployment = result
        wanted = {_key(obj) for obj in desired}
        bot = str(spec.bot_id)
        for key, obj in live.items():
            labels = obj.get("metadata", {}).get("labels") or {}
            if labels.get(BOT_LABEL) == bot and key not in wanted:
                writes += self._delete(obj)
        if spec.placement == Placement.POOLED:
            return Rollout(Status.RUNNING, "pooled: hosted by the runtime shards", writes)
        if writes and deployment is not None:
            return Rollout(Status.DEPLOYING, "applied", writes)
        return rollout_of(deployment, writes=writes)

    def pause(self, *, tenant: str, bot_id: int) -> Rollout:
        namespace = namespace_for(tenant, self.settings)
        try:
            found = self._call(
                "PATCH",
                DEPLOYMENT.path(namespace, object_name(bot_id)),
                body={"spec": {"replicas": 0}},
                content_type="application/merge-patch+json",
            )
        except ApiException:
            return Rollout(Status.PENDING, "no Deployment for this bot", 0)
        return rollout_of(found, writes=1)

    def remove(self, *, tenant: str, bot_id: int) -> Rollout:
        namespace = namespace_for(tenant, self.settings)
        live = self._live(namespace, f"{BOT_LABEL}={bot_id}", PER_BOT)
        writes = sum(self._delete(obj) for obj in live.values())
        return Rollout(Status.PENDING, "removed", writes)

    def status(self, *, tenant: str, bot_id: int) -> Rollout:
        namespace = namespace_for(tenant, self.settings)
        return rollout_of(self._get(DEPLOYMENT, namespace, object_name(bot_id)))
