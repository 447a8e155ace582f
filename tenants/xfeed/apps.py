from django.apps import AppConfig


class XfeedConfig(AppConfig):
    name = "xfeed"
    verbose_name = "X feed"

    def ready(self) -> None:
        # Registers the feed's notification event types with the outbox.
        from xfeed import notices  # noqa: F401
