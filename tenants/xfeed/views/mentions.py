"""Mentions API: a group's mention rules (what posts about the project are relayed) and
the posts they matched, with the spam filter's reason for those held back."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageSettings
from community.views.groups import CHAT_ID, GroupEndpoint
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from xfeed import selectors, services

RULE_ID = OpenApiParameter("rule_id", int, OpenApiParameter.PATH, description="the rule's id")


def _terms(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True),
        required=False,
        default=list,
        help_text=help_text,
    )


class RuleInputSerializer(StrictSerializer):
    name = serializers.CharField(help_text="unique in the group: letters, digits, _ . -")
    keywords = _terms('words or multi-word phrases ("to the moon"), any case')
    hashtags = _terms("hashtags, '#' optional")
    cashtags = _terms("cashtags, '$' optional")
    mentions = _terms("X handles mentioned, '@' optional")
    exclusions = _terms("posts with any of these are skipped (words, phrases, #tags, ...)")
    min_followers = serializers.IntegerField(
        required=False, default=0, help_text="the author's minimum follower count"
    )
    languages = _terms("post languages, e.g. 'en' (none: any)")


class RuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    keywords = serializers.ListField(child=serializers.CharField())
    hashtags = serializers.ListField(child=serializers.CharField())
    cashtags = serializers.ListField(child=serializers.CharField())
    mentions = serializers.ListField(child=serializers.CharField())
    exclusions = serializers.ListField(child=serializers.CharField())
    min_followers = serializers.IntegerField()
    languages = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MentionRuleListView(GroupEndpoint):
    permission_classes = [ManageSettings]
    InputSerializer = RuleInputSerializer
    OutputSerializer = RuleOutputSerializer

    @extend_schema(
        parameters=[CHAT_ID],
        responses=RuleOutputSerializer(many=True),
        summary="A group's mention rules",
    )
    def get(self, request, chat_id: int):
        qs = selectors.mention_rule_list(tenant=self.tenant, chat_id=chat_id)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(
        parameters=[CHAT_ID],
        request=RuleInputSerializer,
        responses={201: RuleOutputSerializer, 200: RuleOutputSerializer},
        summary="Create a mention rule, or replace the terms of the rule of that name "
        "(turns the group's mentions on)",
    )
    def post(self, request, chat_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule, created = services.mention_rule_set(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            request=request,
            **serializer.validated_data,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.OutputSerializer(rule).data, status=code)


class MentionRuleDetailView(GroupEndpoint):
    permission_classes = [ManageSettings]
    InputSerializer = RuleInputSerializer
    OutputSerializer = RuleOutputSerializer

    @extend_schema(
        parameters=[CHAT_ID, RULE_ID],
        request=RuleInputSerializer,
        responses=RuleOutputSerializer,
        summary="Replace a mention rule (its name and terms)",
    )
    def put(self, request, chat_id: int, rule_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule, _ = services.mention_rule_set(
            tenant=self.tenant,
            chat_id=chat_id,
            rule_id=rule_id,
            actor=Actor.user(request.user),
            request=request,
            **serializer.validated_data,
        )
        return Response(self.OutputSerializer(rule).data)

    @extend_schema(
        parameters=[CHAT_ID, RULE_ID],
        request=None,
        responses={204: None},
        summary="Delete a mention rule",
    )
    def delete(self, request, chat_id: int, rule_id: int):
        services.mention_rule_delete(
            tenant=self.tenant,
            chat_id=chat_id,
            rule_id=rule_id,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MentionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule_id = serializers.IntegerField()
    rule = serializers.CharField(source="rule.name")
    post_id = serializers.CharField(source="post.post_id", help_text="X's id (a string)")
    author_username = serializers.CharField(source="post.author_username")
    author_followers = serializers.IntegerField(source="post.author_followers", allow_null=True)
    text = serializers.CharField(source="post.text")
    lang = serializers.CharField(source="post.lang")
    url = serializers.SerializerMethodField()
    posted_at = serializers.DateTimeField(source="post.created_at")
    spam_reason = serializers.CharField(help_text="why it was held back ('' when relayed)")
    relayed = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_url(self, mention) -> str:
        post = mention.post
        return f"https://x.com/{post.author_username}/status/{post.post_id}"


class MentionListView(GroupEndpoint):
    permission_classes = [ManageSettings]
    OutputSerializer = MentionOutputSerializer

    class FilterSerializer(serializers.Serializer):
        spam = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(
        parameters=[
            CHAT_ID,
            OpenApiParameter(
                "spam", bool, description="true: only posts held back as spam; false: only relayed"
            ),
        ],
        responses=MentionOutputSerializer(many=True),
        summary="Posts a group's mention rules matched (newest first), with the spam reason",
    )
    def get(self, request, chat_id: int):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = selectors.mention_list(
            tenant=self.tenant, chat_id=chat_id, spam=params.validated_data["spam"]
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
