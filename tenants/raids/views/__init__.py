"""The raids API, one module per concern."""
