from django.apps import AppConfig


class RaidsConfig(AppConfig):
    name = "raids"
    verbose_name = "Raids"

    def ready(self) -> None:
        from raids import receivers  # noqa: F401  connects the receivers
