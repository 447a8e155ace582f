from django.apps import AppConfig


class DevServerConfig(AppConfig):
    name = "devserver"
    verbose_name = "Development server"
