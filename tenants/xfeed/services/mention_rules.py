"""A group's mention rules: what a post about the project must contain (keywords,
"phrases", #hashtags, $cashtags, @mentions), must not contain (exclusions), and who may
have written it (minimum followers, languages).

Every term is normalised (``#``, ``$`` and ``@`` stripped from the entity lists,
blanks collapsed, duplicates dropped) and checked before anything is written, and the
error names the field: a term X would read as an operator (quotes, parentheses, a
leading ``-``, ``OR``, ``name:value``) is refused rather than silently changing the
query. The compiled clause must fit X's query length (``xfeed.queries.rule_clause``
raises ``QueryTooLong``), so a rule that is saved can always be searched and streamed."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

import history.services as history
from community.selectors import bound_group_get, community_check
from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Tenant
from xfeed.models import MentionRule
from xfeed.notices import EVENT_MENTION
from xfeed.queries import rule_clause
from xfeed.services.forwarding import X_USERNAME
from xfeed.services.group_switches import feed_switch_off_when_empty, feed_switch_on

logger = logging.getLogger(__name__)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TERM_MAX_LENGTH = 64  # MentionRule's array items
TERMS_MAX = 50  # per list: X's query length stops a rule long before this
# X's entities: a hashtag has a letter (not only digits); a cashtag is 1-6 letters with
# an optional ``.xx``/``_xx`` suffix ($BRK.A); a mention is a handle.
HASHTAG = re.compile(r"^(?=\w*[^\W\d])\w{1,64}$")
CASHTAG = re.compile(r"^[A-Za-z]{1,6}([._][A-Za-z]{1,2})?$")
# The codes X puts in a post's ``lang`` (BCP 47 primary subtags: en, pt, ja, ...).
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
# Characters that would change the meaning of a search query or stream rule.
QUERY_SYNTAX = re.compile(r'["()\u201c\u201d]')
OPERATORS = frozenset({"or", "and"})
RULE_FIELDS = (
    "keywords",
    "hashtags",
    "cashtags",
    "mentions",
    "exclusions",
    "min_followers",
    "languages",
)
POSITIVE = ("keywords", "hashtags", "cashtags", "mentions")


def _refuse(field_name: str, message: str, code: str = "invalid_rule") -> ServiceError:
    return ServiceError(f"{field_name}: {message}", code=code)


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def _phrase(field_name: str, raw: Any) -> str:
    """A keyword or phrase: words separated by single spaces, nothing X reads as syntax."""
    if not isinstance(raw, str):
        raise _refuse(field_name, f"{raw!r} is not text")
    text = " ".join(raw.split())
    if not text:
        raise _refuse(field_name, "an empty term")
    if QUERY_SYNTAX.search(text):
        raise _refuse(field_name, f"{text!r}: no quotes or parentheses (a phrase is one term)")
    words = text.split(" ")
    if any(word.startswith("-") for word in words):
        raise _refuse(field_name, f"{text!r}: no leading '-' (exclusions have their own list)")
    if any(word.casefold() in OPERATORS for word in words):
        raise _refuse(field_name, f"{text!r}: OR and AND are query operators, not keywords")
    if any(":" in word for word in words):
        raise _refuse(field_name, f"{text!r}: no ':' (X reads name:value as an operator)")
    if any(word[0] in "#$@" for word in words):
        raise _refuse(field_name, f"{text!r}: #tags, $cashtags and @mentions go in their own lists")
    if len(text) > TERM_MAX_LENGTH:
        raise _refuse(field_name, f"{text[:20]!r}...: at most {TERM_MAX_LENGTH} characters")
    return text


def _entity(field_name: str, raw: Any, prefix: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(raw, str):
        raise _refuse(field_name, f"{raw!r} is not text")
    value = raw.strip().removeprefix(prefix)
    if not pattern.match(value):
        raise _refuse(field_name, f"{raw!r} is not {what}")
    return value


def _exclusion(raw: Any) -> str:
    """An exclusion: a word or phrase (posts with it are skipped). A leading ``-`` as
    typed in a query, and a ``#``, ``$`` or ``@`` sign, are dropped: X matches a word
    inside a hashtag too, so ``#scam`` and ``scam`` exclude the same posts."""
    if not isinstance(raw, str):
        raise _refuse("exclusions", f"{raw!r} is not text")
    value = raw.strip().removeprefix("-")
    if value[:1] in ("#", "$", "@"):
        value = value[1:]
    return _phrase("exclusions", value)


def _terms_list(field_name: str, raw: Any) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise _refuse(field_name, "a list of terms")
    if len(raw) > TERMS_MAX:
        raise _refuse(field_name, f"at most {TERMS_MAX} terms")
    return list(raw)


def rule_terms_clean(
    *,
    keywords: Sequence[str] | None = None,
    hashtags: Sequence[str] | None = None,
    cashtags: Sequence[str] | None = None,
    mentions: Sequence[str] | None = None,
    exclusions: Sequence[str] | None = None,
    min_followers: int = 0,
    languages: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The rule's fields normalised, or ServiceError naming the first bad field."""
    keywords_raw, hashtags_raw, cashtags_raw, mentions_raw = keywords, hashtags, cashtags, mentions
    exclusions_raw, languages_raw = exclusions, languages
    keywords = [_phrase("keywords", t) for t in _terms_list("keywords", keywords_raw)]
    hashtags = [
        _entity("hashtags", t, "#", HASHTAG, "a hashtag (letters, digits, _; not only digits)")
        for t in _terms_list("hashtags", hashtags_raw)
    ]
    cashtags = [
        _entity("cashtags", t, "$", CASHTAG, "a cashtag (1-6 letters, e.g. $BTC)").upper()
        for t in _terms_list("cashtags", cashtags_raw)
    ]
    mentions = [
        _entity("mentions", t, "@", X_USERNAME, "an X handle (1-15 letters, digits, _)")
        for t in _terms_list("mentions", mentions_raw)
    ]
    exclusions = [_exclusion(t) for t in _terms_list("exclusions", exclusions_raw)]
    languages = []
    for raw in _terms_list("languages", languages_raw):
        code = raw.strip().lower() if isinstance(raw, str) else ""
        if not LANGUAGE.match(code):
            raise _refuse(
                "languages", f"{raw!r}: use the code X gives a post's language, e.g. 'en', 'pt'"
            )
        languages.append(code)
    if isinstance(min_followers, bool) or not isinstance(min_followers, int):
        raise _refuse("min_followers", "a whole number")
    if not 0 <= min_followers <= 2_000_000_000:
        raise _refuse("min_followers", "from 0 to 2000000000")
    values: dict[str, Any] = {
        "keywords": _unique(keywords),
        "hashtags": _unique(hashtags),
        "cashtags": _unique(cashtags),
        "mentions": _unique(mentions),
        "exclusions": _unique(exclusions),
        "min_followers": min_followers,
        "languages": _unique(languages),
    }
    if not any(values[name] for name in POSITIVE):
        raise _refuse(
            "keywords",
            "a rule needs at least one keyword, hashtag, cashtag or mention "
            "(exclusions alone match nothing)",
            code="rule_without_terms",
        )
    return values


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise _refuse(
            "name", "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return name


def mention_rule_set(
    *,
    tenant: Tenant,
    chat_id: int,
    name: str,
    keywords: Sequence[str] | None = None,
    hashtags: Sequence[str] | None = None,
    cashtags: Sequence[str] | None = None,
    mentions: Sequence[str] | None = None,
    exclusions: Sequence[str] | None = None,
    min_followers: int = 0,
    languages: Sequence[str] | None = None,
    actor: Actor,
    rule_id: int | None = None,
    request: Any = None,
) -> tuple[MentionRule, bool]:
    """Create the bound group's rule ``name`` or replace its terms (``rule_id``: update
    that rule of the group, renaming it to ``name``). Switches the group's ``mentions``
    feature on and subscribes it to ``mention.found``. Returns (rule, created)."""
    community_check(tenant)
    name = _name_clean(name)
    values = rule_terms_clean(
        keywords=keywords,
        hashtags=hashtags,
        cashtags=cashtags,
        mentions=mentions,
        exclusions=exclusions,
        min_followers=min_followers,
        languages=languages,
    )
    # Compiled before anything is written: a rule X cannot search is never saved.
    rule_clause(MentionRule(chat_id=chat_id, name=name, **values))
    with tenant_context(tenant), transaction.atomic():
        group = bound_group_get(tenant=tenant, chat_id=chat_id, for_update=True)
        rules = MentionRule.objects.select_for_update().filter(chat_id=chat_id)
        if rule_id is not None:
            rule = rules.filter(pk=rule_id).first()
            if rule is None:
                raise ServiceError(
                    f"no mention rule {rule_id} in this group",
                    code="mention_rule_not_found",
                    status=404,
                )
            created = False
        else:
            rule = rules.filter(name=name).first()
            created = rule is None
            if rule is None:
                rule = MentionRule(chat_id=chat_id, name=name)
        before = {key: getattr(rule, key) for key in ("name", *RULE_FIELDS)}
        rule.name = name
        for key, value in values.items():
            setattr(rule, key, value)
        rule.is_active = True
        after = {key: getattr(rule, key) for key in ("name", *RULE_FIELDS)}
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        if created or changed:
            try:
                with transaction.atomic():
                    rule.save()
            except IntegrityError as exc:  # renamed onto another rule's name
                raise _refuse(
                    "name", f"this group already has a rule named {name!r}", "rule_name_taken"
                ) from exc
            history.record(
                action="xfeed.mention_rule_set",
                actor=actor,
                tenant=tenant,
                target=("chat", chat_id),
                data={"rule_id": rule.pk, "name": name, "created": created, "changed": changed}
                if not created
                else {"rule_id": rule.pk, "name": name, "created": True, **values},
                request=request,
            )
        # Mentions are a notification groups opt in to: setting a rule is opting in.
        feed_switch_on(
            tenant=tenant,
            group=group,
            feature="mentions",
            event=EVENT_MENTION,
            actor=actor,
            request=request,
        )
    logger.info(
        "xfeed.mention_rule.set",
        extra={"tenant": tenant.slug, "chat_id": chat_id, "rule_id": rule.pk, "new": created},
    )
    return rule, created


def mention_rule_delete(
    *,
    tenant: Tenant,
    chat_id: int,
    actor: Actor,
    rule_id: int | None = None,
    name: str | None = None,
    request: Any = None,
) -> None:
    """Delete the bound group's rule ``rule_id`` (or the one named ``name``) with what it
    matched; 404 ``mention_rule_not_found`` when the group has no such rule."""
    community_check(tenant)
    if (rule_id is None) == (name is None):
        raise ValueError("name the rule by rule_id or by name")
    with tenant_context(tenant), transaction.atomic():
        group = bound_group_get(tenant=tenant, chat_id=chat_id, for_update=True)
        rules = MentionRule.objects.select_for_update().filter(chat_id=chat_id)
        rule = (
            rules.filter(pk=rule_id) if rule_id is not None else rules.filter(name=name)
        ).first()
        if rule is None:
            what = f"{rule_id}" if rule_id is not None else f"named {name!r}"
            raise ServiceError(
                f"{'name: ' if name is not None else ''}no mention rule {what} in this group",
                code="mention_rule_not_found",
                status=404,
            )
        deleted = {"rule_id": rule.pk, "name": rule.name}
        rule.delete()
        history.record(
            action="xfeed.mention_rule_deleted",
            actor=actor,
            tenant=tenant,
            target=("chat", chat_id),
            data=deleted,
            request=request,
        )
        feed_switch_off_when_empty(
            tenant=tenant,
            group=group,
            feature="mentions",
            remaining=MentionRule.objects.filter(chat_id=chat_id, is_active=True).exists(),
            actor=actor,
            request=request,
        )
    logger.info(
        "xfeed.mention_rule.deleted",
        extra={"tenant": tenant.slug, "chat_id": chat_id, "rule_id": deleted["rule_id"]},
    )
