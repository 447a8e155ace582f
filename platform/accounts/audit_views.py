"""Audit log API: a tenant's admins read their tenant's trail.

Here rather than in history because the trail is read through accounts' capabilities
(``VIEW_AUDIT``) on a tenant-scoped endpoint; history keeps the selectors it reads."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers

from accounts.permissions import HasCapability
from accounts.roles import Capability
from config.api import CursorPagination
from history.models import Entry
from history.selectors import entry_data_shown, entry_list
from tenancy.api import TenantEndpoint


class AuditListView(TenantEndpoint):
    """The request's tenant's entries, newest first (on the platform's own domain: the
    platform-level entries, for staff). Client IPs and user agents are not shown:
    they are the users' personal data, kept for investigations only; job tracebacks
    are shown to platform staff only (history.selectors.STAFF_ONLY_DATA)."""

    permission_classes = [HasCapability.of(Capability.VIEW_AUDIT)]

    class InputSerializer(serializers.Serializer):
        actor_type = serializers.ChoiceField(choices=Entry.ActorType.choices, required=False)
        actor_id = serializers.CharField(max_length=64, required=False)
        action = serializers.CharField(
            max_length=100, required=False, help_text="exact action, e.g. role.assigned"
        )
        action_prefix = serializers.CharField(
            max_length=100, required=False, help_text="e.g. role: every role.* action"
        )
        target_type = serializers.CharField(max_length=50, required=False)
        target_id = serializers.CharField(max_length=64, required=False)
        since = serializers.DateTimeField(required=False, help_text="created at or after")
        until = serializers.DateTimeField(required=False, help_text="created before")

        def validate(self, attrs):
            since, until = attrs.get("since"), attrs.get("until")
            if since and until and since >= until:
                raise serializers.ValidationError("since must be before until", code="invalid")
            return attrs

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        # Null until the sealer has chained the entry (see history.services.chain_seal).
        seq = serializers.IntegerField(allow_null=True)
        actor_type = serializers.CharField()
        actor_id = serializers.CharField()
        action = serializers.CharField()
        target_type = serializers.CharField()
        target_id = serializers.CharField()
        data = serializers.SerializerMethodField()  # type: ignore[assignment]  # a field, not Serializer.data
        created_at = serializers.DateTimeField()
        hash = serializers.CharField(allow_null=True)

        @extend_schema_field(OpenApiTypes.OBJECT)
        def get_data(self, entry) -> dict:
            return entry_data_shown(entry, staff=self.context["staff"])

    @extend_schema(
        parameters=[InputSerializer],
        responses=OutputSerializer(many=True),
        summary="The tenant's audit trail",
    )
    def get(self, request):
        filters = self.InputSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = entry_list(tenant=self.tenant, **filters.validated_data)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        output = self.OutputSerializer(page, many=True, context={"staff": request.user.is_staff})
        return paginator.get_paginated_response(output.data)
