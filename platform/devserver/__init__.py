"""The development stack behind ``make run``: the app above every other, since it starts
them all (database, demo tenant, sandbox Telegram, bot runtime, web server)."""
