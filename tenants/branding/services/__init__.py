"""Writes of branding, one module per subject (``bots``: custom bots and their tokens)."""
