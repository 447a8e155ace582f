"""xfeed API views, one module per sub-domain: ``forwarding`` (which X accounts a group
forwards) and ``mentions`` (a group's mention rules and what they matched). Every view
is group-scoped (community's ``GroupEndpoint``) and needs ``manage_settings``."""
