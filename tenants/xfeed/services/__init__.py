"""X feed writes, by sub-domain: ``ingest`` (posts received, forwarded, relayed)."""
