"""Reads of a community's raids: lists, one raid with its live counters and per-task
counts, a participant's progress, and the raids a user joined. Querysets are lazy: use
them inside the tenant's schema (an API request on its domain, or ``tenant_context``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum

from community.selectors import bound_group_get
from config.errors import ServiceError
from raids.models import Participant, Raid, RaidTemplate, Result, Task
from tenancy.models import Tenant
from tenancy.selectors import community_check

OPEN = (Raid.Status.SCHEDULED, Raid.Status.ACTIVE, Raid.Status.VALIDATING)


def raid_not_found(raid_id: object) -> ServiceError:
    return ServiceError(f"no raid {raid_id} in this community", code="raid_not_found", status=404)


def raid_list(
    *, tenant: Tenant, status: str | None = None, chat_id: int | None = None
) -> QuerySet[Raid]:
    """The community's raids, optionally of one status and one group."""
    community_check(tenant)
    raids = Raid.objects.all()
    if status is not None:
        if status not in Raid.Status.values:
            raise ServiceError(
                f"status: one of {', '.join(Raid.Status.values)}", code="invalid", status=400
            )
        raids = raids.filter(status=status)
    if chat_id is not None:
        raids = raids.filter(chat_id=chat_id)
    return raids


def raid_get(*, tenant: Tenant, raid_id: int, chat_id: int | None = None) -> Raid:
    """A raid of ``tenant`` (of group ``chat_id`` if given); 404 ``raid_not_found``."""
    if not 0 < raid_id < 2**63:  # no row has it (and the database refuses the number)
        raise raid_not_found(raid_id)
    raid = raid_list(tenant=tenant, chat_id=chat_id).filter(pk=raid_id).first()
    if raid is None:
        raise raid_not_found(raid_id)
    return raid


@dataclass(frozen=True)
class TaskCounts:
    task: Task
    verified: int
    pending: int
    unverifiable: int
    failed: int


def raid_task_counts(*, tenant: Tenant, raid: Raid) -> list[TaskCounts]:
    """Each task of the raid with how many of its results are in each status (one query)."""
    community_check(tenant)
    counted = raid.tasks.annotate(
        **{
            status: Count("results", filter=Q(results__status=status))
            for status in Result.Status.values
        }
    ).order_by("position", "id")
    return [
        TaskCounts(
            task=task,
            verified=task.verified,  # type: ignore[attr-defined]  # annotated above
            pending=task.pending,  # type: ignore[attr-defined]  # annotated above
            unverifiable=task.unverifiable,  # type: ignore[attr-defined]  # annotated above
            failed=task.failed,  # type: ignore[attr-defined]  # annotated above
        )
        for task in counted
    ]


def participant_get(*, tenant: Tenant, raid: Raid, user_id: int) -> Participant | None:
    community_check(tenant)
    return Participant.objects.filter(raid=raid, user_id=user_id).first()


def participant_progress(*, tenant: Tenant, participant: Participant) -> list[Result]:
    """The participant's results (the tasks of their role), in the raid's task order."""
    community_check(tenant)
    return list(participant.results.select_related("task").order_by("task__position", "task_id"))


def raids_of_user(*, tenant: Tenant, user_id: int) -> QuerySet[Participant]:
    """The user's participations, newest raid first, with their raid."""
    community_check(tenant)
    return Participant.objects.filter(user_id=user_id).select_related("raid").order_by("-raid_id")


def raids_active_in(*, tenant: Tenant, chat_ids: list[int] | None = None) -> list[Raid]:
    """The active raids (of these groups), soonest ending first: the bot's /raid."""
    community_check(tenant)
    raids = Raid.objects.filter(status=Raid.Status.ACTIVE)
    if chat_ids is not None:
        raids = raids.filter(chat_id__in=chat_ids)
    return list(raids.order_by("ends_at", "id")[:20])


def template_list(*, tenant: Tenant, chat_id: int) -> QuerySet[RaidTemplate]:
    """A bound group's raid templates (``group_not_found`` for any other chat)."""
    community_check(tenant)
    bound_group_get(tenant=tenant, chat_id=chat_id)
    return RaidTemplate.objects.filter(chat_id=chat_id).order_by("id")


@dataclass(frozen=True)
class ResultsSummary:
    raid: Raid
    by_status: dict[str, int]  # results of every task by status
    paid: int  # minor units
    excluded: int  # participants anti-fraud excluded


def raid_results_summary(*, tenant: Tenant, chat_id: int, raid_id: int) -> ResultsSummary:
    """A raid of the group ``chat_id`` with its results counted (two queries)."""
    raid = raid_get(tenant=tenant, raid_id=raid_id, chat_id=chat_id)
    by_status = dict(
        Result.objects.filter(participant__raid=raid)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    people = Participant.objects.filter(raid=raid).aggregate(
        paid=Sum("payout"), excluded=Count("id", filter=Q(status=Participant.Status.EXCLUDED))
    )
    return ResultsSummary(
        raid=raid, by_status=by_status, paid=people["paid"] or 0, excluded=people["excluded"]
    )
