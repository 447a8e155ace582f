"""xfeed API views, one module per sub-domain: ``forwarding`` (which X accounts a group
forwards) and ``mentions`` (a group's mention rules and what they matched), group-scoped
(community's ``GroupEndpoint``); ``kols`` (the community's KOLs and their report),
community-scoped. Every view needs ``manage_settings``."""
