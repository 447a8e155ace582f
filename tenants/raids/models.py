"""A community's raids on X posts, their tasks, who joined and what X confirmed of each
task, the flags anti-fraud raised, auto-raid templates, giveaways and EXP contests
(tenant schema).

Money never lives here: a raid's, a giveaway's or a contest's pool is a wallet hold
(``hold_id`` names the public ``wallet.Hold``), settled through wallet services. People
are Telegram user ids; X accounts are X ids as X confirmed them (``xclient.XLink``)."""

from __future__ import annotations

from datetime import timedelta

from django.db import models


class Formula(models.TextChoices):
    """How a pool is shared (``raids.payouts``)."""

    FIXED = "fixed"  # ``per_task`` minor units for each verified task
    POINTS = "points"  # the pool pro rata of points
    RANKS = "ranks"  # bands of ranks, each with its amount per participant
    THRESHOLD = "threshold"  # pro rata of points among those with at least ``min_points``


class Raid(models.Model):
    """A raid on one X post in one group: tasks, a time window, who may join, and a pool
    escrowed at creation."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"  # created, starts later
        ACTIVE = "active"  # open to join; validated continuously
        VALIDATING = "validating"  # ended; final validation within the grace window
        SETTLED = "settled"  # paid out (the remainder back to the group)
        CANCELLED = "cancelled"  # the pool went back whole

    chat_id = models.BigIntegerField()  # the bound group (community.Group.chat_id)
    title = models.CharField(max_length=120, blank=True)
    # The target as X confirmed it (the URL's handle is not trusted: the author is X's).
    post_id = models.BigIntegerField()
    post_url = models.URLField(max_length=200)
    post_author_id = models.BigIntegerField()
    post_author_username = models.CharField(max_length=15)
    post_text = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Work done this long after the end still counts; the final pass runs then.
    grace_seconds = models.PositiveIntegerField(default=30)
    # Eligibility, checked at join against what X and Telegram say (an X link is required).
    min_account_age_days = models.PositiveIntegerField(default=0)
    min_followers = models.PositiveIntegerField(default=0)
    members_only = models.BooleanField(default=True)
    min_level = models.PositiveIntegerField(default=0)
    # Whether tasks X cannot confirm (``unverifiable``) earn their points.
    unverifiable_scores = models.BooleanField(default=False)
    # The pool: a wallet hold on the group's account.
    currency = models.CharField(max_length=8)
    pool_amount = models.BigIntegerField()  # minor units
    hold_id = models.BigIntegerField(null=True)
    formula = models.CharField(max_length=10, choices=Formula.choices)
    formula_params = models.JSONField(default=dict, blank=True)
    template = models.ForeignKey(
        "RaidTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="raids"
    )
    created_by = models.BigIntegerField(null=True)  # Telegram user id; None: an auto-raid
    created_at = models.DateTimeField(auto_now_add=True)
    # Live counters (F() updates): the bot's summary reads them without counting rows.
    participants_count = models.PositiveIntegerField(default=0)
    verified_count = models.PositiveIntegerField(default=0)
    validated_at = models.DateTimeField(null=True)  # the last validation pass
    settled_at = models.DateTimeField(null=True)
    results_sent_at = models.DateTimeField(null=True)
    # The published payout report (CSV) and its SHA-256, also recorded in history.
    report_csv = models.TextField(blank=True)
    report_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One open raid per post in a community (scheduled, active or validating).
            models.UniqueConstraint(
                fields=["post_id"],
                condition=models.Q(status__in=["scheduled", "active", "validating"]),
                name="raids_raid_open_post",
            ),
        ]
        indexes = [models.Index(fields=["status", "ends_at"], name="raids_raid_due")]

    def __str__(self) -> str:
        return f"raid {self.pk} on {self.post_id}"

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.grace_seconds)


class Task(models.Model):
    """One task of a raid, for one role, worth ``points``."""

    class Kind(models.TextChoices):
        REPOST = "repost"
        REPLY = "reply"  # params: required_words [..], min_length
        QUOTE = "quote"  # params: required_words [..], min_length
        LIKE = "like"
        FOLLOW = "follow"  # params: x_user_id, username (resolved through X)
        JOIN = "join"  # params: chat_id, title (a channel or group the bot can see)

    class Role(models.TextChoices):
        MEMBER = "member"
        KOL = "kol"  # KOL/VIP participants: xfeed's KOL list or a tenant role

    raid = models.ForeignKey(Raid, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    points = models.PositiveIntegerField()
    params = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["raid", "position", "id"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.role}) of raid {self.raid_id}"


class Participant(models.Model):
    """Someone who joined a raid, with the X account linked when they joined (the id X
    confirmed; evidence is joined on it)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        EXCLUDED = "excluded"  # anti-fraud: scores nothing unless an admin overrides

    raid = models.ForeignKey(Raid, on_delete=models.CASCADE, related_name="participants")
    user_id = models.BigIntegerField()  # Telegram id
    x_user_id = models.BigIntegerField()
    x_username = models.CharField(max_length=15)
    role = models.CharField(max_length=8, choices=Task.Role.choices, default=Task.Role.MEMBER)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    joined_at = models.DateTimeField()
    points = models.PositiveIntegerField(default=0)  # of scoring results (validation)
    payout = models.BigIntegerField(default=0)  # minor units, set at settlement
    notified_at = models.DateTimeField(null=True)  # the result notification

    class Meta:
        ordering = ["raid", "id"]
        constraints = [
            models.UniqueConstraint(fields=["raid", "user_id"], name="raids_participant_user"),
            # One X account scores once per raid, whoever's Telegram account it is linked to.
            models.UniqueConstraint(fields=["raid", "x_user_id"], name="raids_participant_x"),
        ]
        indexes = [models.Index(fields=["user_id"], name="raids_participant_of_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in raid {self.raid_id}"


class Result(models.Model):
    """What validation found for one participant's task, with the evidence X or Telegram
    gave (a reply's id and text, the page that listed the account, the API's refusal)."""

    class Status(models.TextChoices):
        PENDING = "pending"  # not checked yet, or X refused or failed: retried
        VERIFIED = "verified"
        UNVERIFIABLE = "unverifiable"  # X cannot say (a like past its 100-user cap, ...)
        FAILED = "failed"  # checked at the end: not done

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="results")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="results")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    evidence = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True)
    verified_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["participant", "task"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "task"], name="raids_result_key")
        ]
        indexes = [models.Index(fields=["task", "status"], name="raids_result_task_status")]

    def __str__(self) -> str:
        return f"{self.task_id}/{self.participant_id}: {self.status}"


class Flag(models.Model):
    """An anti-fraud flag in this community: who, why, and what an admin decided. The
    platform-wide signals (an X account shared or relinked) come from ``xclient``'s
    link history; a flag here records that this community acted on one."""

    class Status(models.TextChoices):
        OPEN = "open"  # waiting for review; the participant is excluded meanwhile
        UPHELD = "upheld"
        DISMISSED = "dismissed"  # an audited override: the participant scores again

    raid = models.ForeignKey(
        Raid, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    user_id = models.BigIntegerField(null=True)
    x_user_id = models.BigIntegerField(null=True)
    reason = models.CharField(max_length=24)  # raids.fraud.REASONS
    detail = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reviewed_by = models.BigIntegerField(null=True)
    reviewed_at = models.DateTimeField(null=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["raid", "user_id", "reason"], name="raids_flag_once_per_reason"
            )
        ]
        indexes = [models.Index(fields=["status", "id"], name="raids_flag_queue")]

    def __str__(self) -> str:
        return f"flag {self.reason} on {self.user_id}"


class Blocked(models.Model):
    """This community's blocklist: a Telegram user or an X account that may not join."""

    user_id = models.BigIntegerField(null=True, unique=True)
    x_user_id = models.BigIntegerField(null=True, unique=True)
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"blocked {self.user_id or self.x_user_id}"


class RaidTemplate(models.Model):
    """What an auto-raid looks like: a new post from ``x_user_id`` (the project's account,
    followed through xfeed) becomes a raid in ``chat_id`` with these tasks and pool."""

    name = models.CharField(max_length=64)
    chat_id = models.BigIntegerField()
    x_user_id = models.BigIntegerField(null=True)  # None: a template for manual use only
    is_active = models.BooleanField(default=True)
    # The raid's fields as raid_create takes them (tasks, duration, eligibility, pool).
    spec = models.JSONField(default=dict)
    created_by = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "name"], name="raids_template_name")
        ]

    def __str__(self) -> str:
        return f"template {self.name}"


class Giveaway(models.Model):
    """A prize pool drawn among entrants by commit-reveal: ``commitment`` (SHA-256 of the
    secret) is published at creation, ``secret`` at the draw, so anyone can re-run it."""

    class Status(models.TextChoices):
        OPEN = "open"
        DRAWN = "drawn"  # winners chosen and paid
        CANCELLED = "cancelled"

    chat_id = models.BigIntegerField()
    title = models.CharField(max_length=120)
    currency = models.CharField(max_length=8)
    pool_amount = models.BigIntegerField()
    winners = models.PositiveIntegerField()
    hold_id = models.BigIntegerField(null=True)
    # Entry conditions.
    members_only = models.BooleanField(default=True)
    min_raid_points = models.PositiveIntegerField(default=0)
    x_linked = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    commitment = models.CharField(max_length=64)  # hex SHA-256 of the secret
    secret = models.TextField()  # encrypted until the draw, then the revealed hex
    draw_at = models.DateTimeField()
    drawn_at = models.DateTimeField(null=True)
    result = models.JSONField(default=dict, blank=True)  # the published draw
    created_by = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"giveaway {self.pk}"


class Entry(models.Model):
    """One entrant of a giveaway; ``rank`` is set for winners by the draw."""

    giveaway = models.ForeignKey(Giveaway, on_delete=models.CASCADE, related_name="entries")
    user_id = models.BigIntegerField()
    entered_at = models.DateTimeField()
    rank = models.PositiveIntegerField(null=True)
    payout = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["giveaway", "id"]
        constraints = [
            models.UniqueConstraint(fields=["giveaway", "user_id"], name="raids_entry_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in giveaway {self.giveaway_id}"


class Contest(models.Model):
    """An EXP contest in a group: who earns the most EXP (messages and raid points)
    between ``starts_at`` and ``ends_at`` wins ``prizes`` (minor units by rank), paid
    from a hold."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        ACTIVE = "active"
        SETTLED = "settled"
        CANCELLED = "cancelled"

    chat_id = models.BigIntegerField()
    title = models.CharField(max_length=120)
    currency = models.CharField(max_length=8)
    prizes = models.JSONField(default=list)  # [first, second, ...] minor units
    hold_id = models.BigIntegerField(null=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    standings = models.JSONField(default=list, blank=True)  # the final table, at settlement
    settled_at = models.DateTimeField(null=True)
    created_by = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"contest {self.pk}"
