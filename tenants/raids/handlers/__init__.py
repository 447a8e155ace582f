"""The raids' bot commands (``raids.telegram``)."""
