from django.apps import AppConfig


class XfeedConfig(AppConfig):
    name = "xfeed"
    verbose_name = "X feed"
