from django.apps import AppConfig


class BrandingConfig(AppConfig):
    name = "branding"
    verbose_name = "Branding and custom bots"

    def ready(self) -> None:
        from accounts import texts
        from branding import receivers  # noqa: F401  connects the receivers
        from branding.texts import bot_text

        texts.register(bot_text)  # a brand's /start and /help
