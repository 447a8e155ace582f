"""The X feed of the demo under ``make run``: the demo community's group on the sandbox
Telegram (Alice created it, the demo bot administers it), forwarding the demo project's
account ``@bragabot_demo``, which posts on the sandbox X every 20-40 seconds, so a
newcomer sees a forwarded post in the group within a minute of starting.

Everything here is idempotent: the sandboxes start empty on every run while the
database keeps the binding and the forwarding, so each is set up again (the group and
the account on the sandboxes) or found as it was (the binding, the forwarding: no new
audit entry when nothing changed)."""

from __future__ import annotations

import itertools
import logging
import random
import threading
from typing import Any

from community.services import group_bind_on_bot_added
from history.services import Actor
from tenancy.models import Tenant
from xfeed.services import forwarding_set

logger = logging.getLogger(__name__)

DEMO_GROUP_ID = -1_001_000_000_001  # the demo community's group on the sandbox Telegram
DEMO_GROUP_TITLE = "Demo community group"
ACTOR = Actor.system("make-run")
POST_EVERY = (20.0, 40.0)  # seconds between the demo project's posts
FIRST_POST_AFTER = 5.0  # once the feed has connected
POSTS = (
    "gm! Bragabot {n} is live: raids, forwarding and live mentions in one bot #bragabot",
    "Shipping update {n}: KOL reports now show engagement per cost. Feedback welcome!",
    "Community call today at 18:00 UTC. Bring your questions about the roadmap ({n})",
    "New raid open: like, repost and reply to earn points. Leaderboard resets Monday #{n}",
    "Thank you for 10k members! Giveaway details in the group soon (post {n})",
    "Tip {n}: admins can /xforward any X account into their group, with replies or not",
    "Security reminder {n}: we never DM first and never ask for your seed phrase",
    "Weekly recap {n}: 3 raids, 2 giveaways, 1 new partner. Thread below",
    "$BRG holders: the staking dashboard is in beta, try it and tell us what breaks ({n})",
    "What should we build next? Reply with your idea, best one ships this month ({n})",
)


def demo_group_ensure(*, tenant: Tenant, tg: Any, bot_id: int, owner_id: int) -> int:
    """The demo group on the (fresh) sandbox Telegram, with its owner as creator and the
    demo bot as administrator, bound to the demo community as adding the bot binds it.
    Returns its chat id."""
    tg.add_group(DEMO_GROUP_ID, title=DEMO_GROUP_TITLE)
    tg.set_member(DEMO_GROUP_ID, owner_id, "creator")
    tg.set_member(
        DEMO_GROUP_ID,
        bot_id,
        "administrator",
        can_delete_messages=True,
        can_restrict_members=True,
    )
    group_bind_on_bot_added(
        tenant=tenant,
        bot_id=bot_id,
        chat_id=DEMO_GROUP_ID,
        title=DEMO_GROUP_TITLE,
        added_by_telegram_id=owner_id,
    )
    return DEMO_GROUP_ID


def demo_forwarding_ensure(*, tenant: Tenant, chat_id: int, username: str) -> None:
    """The demo group forwards ``username`` (looked up on the sandbox X)."""
    forwarding_set(tenant=tenant, chat_id=chat_id, username=username, actor=ACTOR)


class DemoPoster:
    """Posts as ``username`` on the sandbox X ``x`` now and then, from a daemon thread,
    until ``stop``."""

    def __init__(
        self,
        x: Any,
        username: str,
        *,
        every: tuple[float, float] = POST_EVERY,
        first_after: float = FIRST_POST_AFTER,
    ) -> None:
        self.x, self.username, self.every, self.first_after = x, username, every, first_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-x-poster", daemon=True)
        self.posted = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        texts = list(POSTS)
        random.shuffle(texts)
        wait = self.first_after
        for n, template in enumerate(itertools.cycle(texts), start=1):
            if self._stop.wait(wait):
                return
            try:
                self.x.post(self.username, template.format(n=n))
                self.posted += 1
            except Exception:  # the sandbox stopping under us: nothing left to post to
                logger.warning("devserver.demo_post_failed", exc_info=True)
                return
            wait = random.uniform(*self.every)  # noqa: S311  (pacing, not secrecy)
