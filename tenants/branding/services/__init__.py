"""branding's writes, one module per part: ``brand`` (the profile, applying it to the
bots, the colours), ``logo``, ``texts`` (the community's own message texts), ``tokens``
(bot token onboarding) and ``bots`` (custom bots and their deployments)."""
