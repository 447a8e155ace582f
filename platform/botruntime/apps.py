from django.apps import AppConfig


class BotRuntimeConfig(AppConfig):
    name = "botruntime"
    verbose_name = "Bot runtime"

    def ready(self) -> None:
        from botruntime import checks  # noqa: F401  (registers the deploy checks)
