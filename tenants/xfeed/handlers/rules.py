"""``/xrule <name> <terms...>``, ``/xunrule <name>`` and ``/xrules`` in a group: its
mention rules, through ``xfeed.services.mention_rules``.

Terms, as one types a search: ``word``, ``"a phrase"``, ``#tag``, ``$CASH``, ``@user``,
``-excluded`` (or ``-"a phrase"``), ``min:<followers>``, ``lang:<xx>`` (several, or
``lang:en,pt``). The service checks each and names the field when one is refused."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from config.errors import ServiceError
from config.numbers import whole_number
from tenancy.models import Tenant
from xfeed import selectors, services
from xfeed.handlers.common import (
    error_text,
    list_command,
    remove_command,
    settings_manager_of,
)
from xfeed.models import MentionRule

RULE_USAGE = (
    'Use /xrule <name> <terms>: words, "quoted phrases", #tags, $CASH, @user, '
    "-excluded, min:<followers>, lang:<xx>. E.g. /xrule brand bragabot #braga -giveaway "
    "min:100 lang:en"
)
UNRULE_USAGE = "Use /xunrule <name>: delete that mention rule of this group."
# A token: an optional '-', then a "quoted phrase" (straight or curly quotes, as phone
# keyboards type them) or a run of non-blanks.
TOKEN = re.compile(r'(-?)(?:["\u201c\u201d]([^"\u201c\u201d]*)["\u201c\u201d]|(\S+))')


def rule_terms_parse(text: str) -> dict[str, Any]:
    """The fields of ``mention_rule_set`` written in ``text`` (the terms after the rule's
    name); ServiceError naming the field of a term that cannot be read."""
    if text.count('"') % 2 or (text.count("\u201c") != text.count("\u201d")):
        raise ServiceError("keywords: a quoted phrase is not closed", code="invalid_rule")
    fields: dict[str, Any] = {
        "keywords": [],
        "hashtags": [],
        "cashtags": [],
        "mentions": [],
        "exclusions": [],
        "languages": [],
    }
    for match in TOKEN.finditer(text):
        negated, quoted = match.group(1), match.group(2) is not None
        term = match.group(2) if quoted else match.group(3)
        lower = term.lower()
        if negated:
            fields["exclusions"].append(term)
        elif quoted:
            fields["keywords"].append(term)
        elif lower.startswith("min:"):
            value = term[4:]
            followers = whole_number(value)
            if followers is None:
                raise ServiceError(
                    f"min_followers: {value!r} is not a whole number (min:100)",
                    code="invalid_rule",
                )
            fields["min_followers"] = followers
        elif lower.startswith("lang:"):
            if not term[5:]:
                raise ServiceError("languages: lang: needs a code (lang:en)", code="invalid_rule")
            fields["languages"].extend(code for code in term[5:].split(",") if code)
        elif term[0] in "#$@":
            field = {"#": "hashtags", "$": "cashtags", "@": "mentions"}[term[0]]
            fields[field].append(term)
        else:
            fields["keywords"].append(term)
    return fields


def rule_line(rule: MentionRule) -> str:
    terms = [
        *(f'"{k}"' if " " in k else k for k in rule.keywords),
        *(f"#{t}" for t in rule.hashtags),
        *(f"${t}" for t in rule.cashtags),
        *(f"@{t}" for t in rule.mentions),
        *(f'-"{e}"' if " " in e else f"-{e}" for e in rule.exclusions),
    ]
    if rule.min_followers:
        terms.append(f"min:{rule.min_followers}")
    if rule.languages:
        terms.append("lang:" + ",".join(rule.languages))
    return f"{rule.name}: {' '.join(terms)}"


def _after_command(text: str) -> str:
    """``text`` without its leading /command (and @botname)."""
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


async def on_xrule(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await settings_manager_of(update, context)
    if found is None:
        return
    tenant, config, message = found.tenant, found.config, found.message
    rest = _after_command(message.text or "")
    name, _, terms = rest.strip().partition(" ")
    if not name or not terms.strip():
        await message.reply_text(RULE_USAGE)
        return
    try:
        fields = rule_terms_parse(terms)
        rule, created = await in_tenant(
            tenant,
            services.mention_rule_set,
            tenant=tenant,
            chat_id=config.chat_id,
            name=name,
            actor=found.actor,
            **fields,
        )
    except ServiceError as exc:
        await message.reply_text(error_text(f"save the rule {name}", exc))
        return
    state = "created" if created else "updated"
    await message.reply_text(
        f"Mention rule {state}: {rule_line(rule)}. Live mentions are on for this group."
    )


async def on_xunrule(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await remove_command(
        update,
        context,
        usage=UNRULE_USAGE,
        remove=services.mention_rule_delete,
        field="name",
        what="delete the rule {name}",
        done="Mention rule {name} deleted.",
    )


def _rule_lines(*, tenant: Tenant, chat_id: int) -> list[str]:
    qs = selectors.mention_rule_list(tenant=tenant, chat_id=chat_id).order_by("id")
    return [rule_line(rule) for rule in qs]


async def on_xrules(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await list_command(
        update,
        context,
        lines=_rule_lines,
        empty="This group has no mention rule yet. " + RULE_USAGE,
        title="Mention rules of this group:",
    )
