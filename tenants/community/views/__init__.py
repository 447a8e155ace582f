"""Community API views, one module per sub-domain: ``groups`` (list, settings, link
codes, admin refresh), ``moderation`` (rules and log), ``leaderboard``."""
