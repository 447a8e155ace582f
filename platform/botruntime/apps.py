from django.apps import AppConfig


class BotRuntimeConfig(AppConfig):
    name = "botruntime"
    verbose_name = "Bot runtime"
