"""X feed writes, by sub-domain: ``ingest`` (posts received, forwarded, relayed),
``forwarding`` (which X accounts a group forwards), ``mention_rules`` (what a group's
live mentions match), ``kols`` (a community's KOLs) and ``kol_tracking`` (their posts and
snapshots). Reads are in ``xfeed.selectors`` and ``xfeed.reports``. The admin writers are
re-exported here."""

from xfeed.services.forwarding import forwarding_remove, forwarding_set, x_username_clean
from xfeed.services.mention_rules import mention_rule_delete, mention_rule_set, rule_terms_clean

__all__ = [
    "forwarding_remove",
    "forwarding_set",
    "mention_rule_delete",
    "mention_rule_set",
    "rule_terms_clean",
    "x_username_clean",
]
