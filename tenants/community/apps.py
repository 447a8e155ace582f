from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = "Community"

    def ready(self) -> None:
        # Connects the signals that keep the message path's group cache current, and
        # registers the moderation notices' event type with the notifications outbox.
        from community import group_config  # noqa: F401
        from community.services import moderation  # noqa: F401
