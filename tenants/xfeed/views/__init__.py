"""The X feed's API views, one module per concern."""
