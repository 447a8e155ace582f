"""Raids writers, one module per sub-domain (``fraud``: flags, exclusions, decisions and
the blocklist)."""
