"""The raids app's bot command handlers, one module per concern."""
