"""The raids app's writers, one module per concern."""
