"""Incoming: python-telegram-bot handlers for the updates the community app answers.
Each parses its update, calls one service and carries out the answer with the bot that
received it. ``community.telegram`` lists them for the bot runtime; outgoing calls that
services make on their own are ``community.botapi``."""
