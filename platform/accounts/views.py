"""Profile API: the authenticated user's own data."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_capabilities, user_role
from accounts.services import user_update_preferences
from history.selectors import entry_list


class MeView(APIView):
    class OutputSerializer(serializers.Serializer):
        telegram_id = serializers.IntegerField()
        username = serializers.CharField()
        first_name = serializers.CharField()
        last_name = serializers.CharField()
        language_code = serializers.CharField()
        photo_url = serializers.CharField()
        is_premium = serializers.BooleanField()
        language = serializers.CharField()
        notification_preferences = serializers.DictField(child=serializers.BooleanField())
        first_seen = serializers.DateTimeField()
        last_seen = serializers.DateTimeField()
        role = serializers.CharField()
        capabilities = serializers.ListField(child=serializers.CharField())

    class InputSerializer(serializers.Serializer):
        language = serializers.RegexField(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", required=False)
        notification_preferences = serializers.DictField(
            child=serializers.BooleanField(), required=False
        )

    def _output(self, request) -> dict:
        user = request.user
        tenant = getattr(request._request, "tenant", None)
        data = {field: getattr(user, field) for field in self.OutputSerializer().fields
                if hasattr(user, field)}
        data["role"] = user_role(tenant=tenant, user=user).value
        data["capabilities"] = sorted(user_capabilities(tenant=tenant, user=user))
        return self.OutputSerializer(data).data

    @extend_schema(responses=OutputSerializer, summary="The authenticated user's profile")
    def get(self, request):
        return Response(self._output(request))

    @extend_schema(request=InputSerializer, responses=OutputSerializer,
                   summary="Update language and notification preferences")
    def patch(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_update_preferences(user=request.user, request=request._request,
                                **serializer.validated_data)
        return Response(self._output(request))


class MyActivityView(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        action = serializers.CharField()
        target_type = serializers.CharField()
        target_id = serializers.CharField()
        data = serializers.JSONField()
        created_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer(many=True), summary="The user's own audit entries")
    def get(self, request):
        from config.api import CursorPagination

        entries = entry_list(tenant=getattr(request._request, "tenant", None),
                             actor_type="user", actor_id=str(request.user.telegram_id))
        paginator = CursorPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
