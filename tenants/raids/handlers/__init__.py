"""Raids bot commands, one module per sub-domain (``fraud``: /flags, /dismiss, /uphold)."""
