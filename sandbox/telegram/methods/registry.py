"""Method registry and the context a method runs with."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.telegram.limits import FloodControl
from sandbox.telegram.params import Params
from sandbox.telegram.world import BotState, World

if TYPE_CHECKING:
    from sandbox.telegram.delivery import Delivery


@dataclass
class Call:
    """One Bot API request. Synchronous methods run under ``world.lock``; ``getUpdates``
    (the only asynchronous one) takes the lock itself around each look at the queue."""

    world: World
    bot: BotState
    params: Params
    flood: FloodControl
    delivery: Delivery


@dataclass(frozen=True)
class Method:
    name: str
    func: Callable[[Call], Any]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)


METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    def register(func: Callable[[Call], Any]) -> Callable[[Call], Any]:
        METHODS[name.lower()] = Method(name=name, func=func)
        return func

    return register


def lookup(name: str) -> Method | None:
    return METHODS.get(name.lower())
