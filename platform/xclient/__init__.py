"""The X API client every tenant shares: the rate-limit budget (15-minute windows per
endpoint and credential, shared across processes through PostgreSQL, with priorities and
a fair share between tenants) and the cost meter (X's pay-per-use prices, its daily
deduplication of post reads, per-tenant monthly caps)."""
