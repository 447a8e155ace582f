"""What the X feed contributes to the bot runtime (``<app>/telegram.py``): the commands
a group's settings managers configure its X feed with. They stay off the command menu,
as /bind does (admins only); the handlers are in ``xfeed.handlers``."""

from __future__ import annotations

from telegram.ext import BaseHandler, CommandHandler, filters

from xfeed.handlers import forwarding, kols, rules


def handlers() -> list[BaseHandler]:
    # Edited messages are not commands again: an edit must not repeat a change.
    messages = filters.UpdateType.MESSAGE
    return [
        CommandHandler("xforward", forwarding.on_xforward, filters=messages),
        CommandHandler("xunforward", forwarding.on_xunforward, filters=messages),
        CommandHandler("xforwarding", forwarding.on_xforwarding, filters=messages),
        CommandHandler("xrule", rules.on_xrule, filters=messages),
        CommandHandler("xunrule", rules.on_xunrule, filters=messages),
        CommandHandler("xrules", rules.on_xrules, filters=messages),
        CommandHandler("kols", kols.on_kols, filters=messages),
        CommandHandler("kol", kols.on_kol, filters=messages),
        CommandHandler("unkol", kols.on_unkol, filters=messages),
    ]
