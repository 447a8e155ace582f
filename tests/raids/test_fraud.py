"""The anti-fraud checks on plain rows, each with data that trips it and data that does
not: blocklist, X accounts shared or relinked, one person behind several accounts, young
and small accounts, bursts from fresh accounts, near-duplicate replies (normalised across
case, emoji, URLs and mentions; distinct replies sharing words are not duplicates)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from raids import fraud
from raids.fraud import Completion, LinkRow, Reply, Thresholds, Who

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TH = Thresholds(
    young_days=14,
    small_followers=10,
    relinked_accounts=3,
    duplicate_similarity=0.7,
    burst_seconds=10,
    burst_min=3,
    burst_fresh_days=30,
)


def who(user_id: int, x_user_id: int | None = None) -> Who:
    x = x_user_id or user_id * 10
    return Who(user_id=user_id, x_user_id=x, x_username=f"x{x}")


def link(
    user_id: int,
    x_user_id: int,
    *,
    age_days: int = 400,
    followers: int = 100,
    days_ago: int = 100,
    unlinked_days_ago: int | None = None,
) -> LinkRow:
    return LinkRow(
        user_id=user_id,
        x_user_id=x_user_id,
        username=f"x{x_user_id}",
        x_created_at=NOW - timedelta(days=age_days),
        followers=followers,
        linked_at=NOW - timedelta(days=days_ago),
        unlinked_at=None if unlinked_days_ago is None else NOW - timedelta(days=unlinked_days_ago),
    )


def reasons(hits: list[fraud.Hit]) -> list[tuple[int, str]]:
    return sorted((hit.user_id, hit.reason) for hit in hits)


def test_blocked_by_telegram_id_or_x_account():
    people = [who(1), who(2), who(3)]
    hits = fraud.check_blocked(people, users=frozenset({1}), x_accounts=frozenset({30}))
    assert reasons(hits) == [(1, "blocked"), (3, "blocked")]
    assert "X account @x30" in hits[1].detail
    assert fraud.check_blocked(people, users=frozenset({9}), x_accounts=frozenset({90})) == []


def test_an_x_account_linked_to_another_telegram_user_before_is_shared():
    people = [who(1, 100), who(2, 200)]
    links = [
        link(9, 100, days_ago=90, unlinked_days_ago=60),  # someone else had it
        link(1, 100, days_ago=30),
        link(2, 200, days_ago=90, unlinked_days_ago=80),  # the same pair again: fine
        link(2, 200, days_ago=10),
    ]
    hits = fraud.check_links(people, links, TH)
    assert reasons(hits) == [(1, "x_shared")]
    assert hits[0].detail == "X account @x100 was linked to 1 other Telegram account(s) before"
    assert "9" not in hits[0].detail  # another community's user is not named


def test_a_user_who_linked_several_x_accounts_relinked():
    people = [who(1, 103), who(2, 202)]
    links = [
        link(1, 101, days_ago=200, unlinked_days_ago=150),
        link(1, 102, days_ago=100, unlinked_days_ago=50),
        link(1, 103, days_ago=10),
        link(2, 201, days_ago=100, unlinked_days_ago=50),  # one relink: under 3 accounts
        link(2, 202, days_ago=10),
    ]
    hits = fraud.check_links(people, links, TH)
    assert reasons(hits) == [(1, "x_relinked")]
    assert hits[0].detail == "linked 3 X accounts over time: @x101, @x102, @x103"


def test_participants_sharing_an_x_account_history_or_a_payout_destination_are_one_person():
    people = [who(1, 100), who(2, 200), who(3, 300), who(4, 400), who(5, 500)]
    links = [
        link(1, 100),
        link(2, 100, days_ago=300, unlinked_days_ago=200),  # 2 once had 1's account
        link(2, 200),
        link(3, 300),
        link(9, 300, days_ago=500, unlinked_days_ago=400),  # not in this raid: not a pair
    ]
    destinations = {4: {"UQ-same"}, 5: {"UQ-same", "UQ-other"}, 3: {"UQ-own"}}
    hits = fraud.check_multi_account(people, links, destinations)
    assert reasons(hits) == [
        (1, "multi_account"),
        (2, "multi_account"),
        (4, "multi_account"),
        (5, "multi_account"),
    ]
    details = {hit.user_id: hit.detail for hit in hits}
    assert details[1] == (
        "likely the same person as participant(s) 2: an X account linked to each of them"
    )
    assert details[5] == (
        "likely the same person as participant(s) 4: the same withdrawal destination"
    )
    assert fraud.check_multi_account(people, [link(1, 100), link(2, 200)], {}) == []


def test_young_and_small_accounts_against_the_thresholds():
    people = [who(1), who(2), who(3)]
    links = [
        link(1, 10, age_days=3, followers=500),
        link(2, 20, age_days=400, followers=2),
        link(3, 30, age_days=14, followers=10),  # exactly at both thresholds: fine
    ]
    hits = fraud.check_accounts(people, links, TH, now=NOW)
    assert reasons(hits) == [(1, "account_young"), (2, "account_small")]
    assert hits[0].detail == "X account @x10 is 3 days old (under 14)"
    off = Thresholds(**{**TH.__dict__, "small_followers": 0})
    assert reasons(fraud.check_accounts(people, links, off, now=NOW)) == [(1, "account_young")]


def _burst(ages: dict[int, int], seconds: dict[int, float]) -> list[tuple[int, str]]:
    people = [who(u) for u in ages]
    links = [link(u, u * 10, age_days=age) for u, age in ages.items()]
    start = NOW - timedelta(hours=1)
    done = [Completion(user_id=u, at=start + timedelta(seconds=s)) for u, s in seconds.items()]
    return reasons(fraud.check_burst(people, links, done, TH, now=NOW))


def test_a_burst_of_fresh_accounts_completing_seconds_apart():
    fresh = {1: 2, 2: 5, 3: 9, 4: 20}
    assert _burst(fresh, {1: 0, 2: 3, 3: 9, 4: 300}) == [(1, "burst"), (2, "burst"), (3, "burst")]
    # The same times from old accounts, and fresh ones spread out, are no burst.
    assert _burst({1: 400, 2: 400, 3: 400}, {1: 0, 2: 3, 3: 9}) == []
    assert _burst(fresh, {1: 0, 2: 30, 3: 60, 4: 90}) == []
    assert _burst({1: 2, 2: 5}, {1: 0, 2: 1}) == []  # two are not "several"


def test_only_a_participants_first_completion_counts():
    people = [who(1), who(2), who(3)]
    links = [link(u, u * 10, age_days=2) for u in (1, 2, 3)]
    t0 = NOW - timedelta(hours=1)
    later = [Completion(user_id=1, at=t0 + timedelta(seconds=300))]
    later.append(Completion(user_id=2, at=t0 + timedelta(seconds=900)))
    first = [Completion(user_id=u, at=t0 + timedelta(seconds=3 * u)) for u in (1, 2, 3)]
    # Their first tasks came seconds apart, whatever they did later.
    hits = fraud.check_burst(people, links, first + later, TH, now=NOW)
    assert reasons(hits) == [(1, "burst"), (2, "burst"), (3, "burst")]
    spread = [Completion(user_id=u, at=t0 + timedelta(minutes=5 * u)) for u in (1, 2, 3)]
    assert fraud.check_burst(people, links, spread + later, TH, now=NOW) == []


def test_normalise_folds_case_emoji_urls_mentions_and_punctuation():
    assert fraud.normalise("@project WOW!!! 🚀🚀 Ça   marche https://t.co/x1 #Launch $TOKEN") == (
        "wow ca marche launch token"
    )
    assert fraud.normalise("see www.example.com/page and example.io/x now") == "see and now"


ORIGINAL = "@project This is the best launch of the year, v2 changes everything"
COPIES = [
    "THIS is the BEST launch of the year!!! v2 changes everything 🚀🚀 https://t.co/abc",
    "this is the best launch of the year; v2 changes everything @friend",
    "This is the best launch of the year, v2 changes nearly everything",
]
DISTINCT = "The launch was slow this year, but v2 changes a few things for the best"
# Most of ORIGINAL's words, another meaning: Jaccard 0.61, under the threshold.
CLOSE = "This is the best launch of the year? No, v2 changes little"


def test_near_duplicate_replies_across_case_emoji_and_urls_are_flagged_but_the_first():
    people = [who(u) for u in (1, 2, 3, 4, 5)]
    replies = [Reply(user_id=1, post_id=1000, text=ORIGINAL)]
    replies += [Reply(user_id=u, post_id=1000 + u, text=t) for u, t in zip((2, 3, 4), COPIES)]
    replies.append(Reply(user_id=5, post_id=999, text=DISTINCT))  # shares words, earlier
    hits = fraud.check_duplicates(people, replies, TH)
    assert reasons(hits) == [(2, "reply_duplicate"), (3, "reply_duplicate"), (4, "reply_duplicate")]
    assert hits[0].detail == (
        "post 1002 is a near-duplicate of 3 other participant(s)' text in this raid "
        "(the earliest: post 1000)"
    )


def test_distinct_replies_sharing_words_and_short_ones_are_not_duplicates():
    people = [who(1), who(2), who(3), who(4)]
    replies = [
        Reply(user_id=1, post_id=1, text=ORIGINAL),
        Reply(user_id=2, post_id=2, text=DISTINCT),
        Reply(user_id=3, post_id=3, text="gm 🚀"),
        Reply(user_id=4, post_id=4, text="GM!!"),  # too short to tell a copy
    ]
    assert fraud.check_duplicates(people, replies, TH) == []
    close = [Reply(user_id=1, post_id=1, text=ORIGINAL), Reply(user_id=2, post_id=2, text=CLOSE)]
    assert fraud.check_duplicates(people, close, TH) == []
    similarity = fraud.jaccard(
        fraud.shingles(fraud.normalise(ORIGINAL)), fraud.shingles(fraud.normalise(CLOSE))
    )
    assert 0.55 < similarity < TH.duplicate_similarity
    assert fraud.duplicate_groups([ORIGINAL, CLOSE], 0.55) == [[0, 1]]  # only the threshold
    # One participant's reply and quote with the same text are not two people.
    same = [Reply(user_id=1, post_id=1, text=ORIGINAL), Reply(user_id=1, post_id=2, text=ORIGINAL)]
    assert fraud.check_duplicates(people, same, TH) == []


def test_duplicates_among_ten_thousand_replies_are_found_without_comparing_all_pairs(
    monkeypatch,
):
    rnd = random.Random(7)
    words = [f"w{n}" for n in range(3000)]
    texts = [" ".join(rnd.choice(words) for _ in range(12)) for _ in range(10_000)]
    texts[9_999] = texts[17].upper() + " 🚀 https://t.co/zz"
    texts[5_000] = texts[42].replace(texts[42].split()[3], "changed", 1)
    calls = 0
    jaccard = fraud.jaccard

    def counted(a, b):
        nonlocal calls
        calls += 1
        return jaccard(a, b)

    monkeypatch.setattr(fraud, "jaccard", counted)
    groups = fraud.duplicate_groups(texts, 0.7)
    assert sorted(groups) == [[17, 9_999], [42, 5_000]]
    assert calls < 10_000 * 20  # all pairs would be 50 million


def test_hits_of_runs_every_check_once_per_participant_and_reason():
    people = [who(1, 100), who(2, 200)]
    inputs = fraud.ScanInputs(
        participants=people,
        links=[link(1, 100, age_days=3), link(2, 200), link(2, 100, days_ago=300)],
        replies=[],
        completions=[],
        blocked_users=frozenset({1}),
        blocked_x=frozenset({100}),
        destinations={},
    )
    assert reasons(fraud.hits_of(inputs, TH, now=NOW)) == [
        (1, "account_young"),
        (1, "blocked"),
        (1, "multi_account"),
        (1, "x_shared"),
        (2, "multi_account"),
    ]
