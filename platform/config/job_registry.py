"""The registry of durable job kinds. Apps declare theirs in ``<app>/jobs.py``:

    from config.job_registry import job

    @job("community.groups_refresh", every=timedelta(days=1), per_tenant=True)
    def groups_refresh(*, tenant, payload: dict) -> None: ...

It lives in ``config``, below every app, so any app can declare jobs without importing
the bot runtime that runs them (``botruntime.services``); ``job_kinds`` finds the
declarations by importing each installed app's ``jobs`` module.

A job function is plain sync Django code. ``per_tenant`` jobs run inside the tenant's
schema (``tenant`` is a Tenant); platform jobs get ``tenant=None``. ``every`` makes the
kind recurring: the runtime keeps one pending row per (kind, tenant) scheduled. Raising
marks the attempt failed (retried with backoff, then dead-lettered). ``lease`` is how long
one attempt may run before another runtime may assume this one crashed and reclaim it.

Jobs run at least once: a runtime that dies after the work but before recording it runs
the job again once the lease expires, so job functions must be idempotent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps


@dataclass(frozen=True)
class JobKind:
    name: str
    func: Callable[..., Any]
    every: timedelta | None = None
    per_tenant: bool = False
    max_attempts: int = 5
    lease: timedelta = timedelta(minutes=5)


_REGISTRY: dict[str, JobKind] = {}


def job(
    name: str,
    *,
    every: timedelta | None = None,
    per_tenant: bool = False,
    max_attempts: int = 5,
    lease: timedelta = timedelta(minutes=5),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if every is not None and every <= timedelta(0):
        raise ValueError("every must be a positive interval")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name].func is not func:
            raise ValueError(f"job kind {name!r} is registered twice")
        _REGISTRY[name] = JobKind(name, func, every, per_tenant, max_attempts, lease)
        return func

    return register


def job_kinds() -> dict[str, JobKind]:
    """Every kind, after importing each installed app's ``jobs`` module."""
    for config in apps.get_app_configs():
        try:
            importlib.import_module(f"{config.name}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.jobs":
                raise
    return dict(_REGISTRY)
