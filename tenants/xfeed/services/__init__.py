"""The X feed's writes, one module per concern."""
