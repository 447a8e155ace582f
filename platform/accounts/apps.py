from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        import config.openapi  # noqa: F401  registers the initData auth scheme
        from accounts import receivers  # noqa: F401  (connects the signal receivers)
