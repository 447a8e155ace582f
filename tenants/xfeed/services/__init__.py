"""X feed writes, by sub-domain: ``ingest`` (posts received, forwarded, relayed),
``kols`` (a community's KOLs) and ``kol_tracking`` (their posts and snapshots)."""
