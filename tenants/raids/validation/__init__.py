"""Validation of raids: what X and Telegram confirm of each participant's tasks
(``evidence``), and the passes that write it (``passes``)."""
