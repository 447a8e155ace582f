"""Render bot_templates/ and run bots as workloads.

A package beside the apps, not an app: it has no tables and imports no app. Callers
(branding's services) hand it plain values (the bot, its kind, parameters, token) and
it returns rendered texts and desired objects, or applies them through a backend."""
