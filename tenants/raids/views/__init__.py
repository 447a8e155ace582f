"""Raids API views, one module per sub-domain (``fraud``: the review queue and the
blocklist, ``manage_raids``)."""
