from django.apps import AppConfig


class XClientConfig(AppConfig):
    name = "xclient"
    verbose_name = "X client"

    def ready(self) -> None:
        from xclient import notices  # noqa: F401  registers the xbudget.* notifications
