"""branding's writes, one module per part: ``brand`` (the profile, applying it to the
bots, the colours), ``logo`` and ``texts`` (the community's own message texts)."""
