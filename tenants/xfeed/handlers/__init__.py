"""The X feed's bot handlers, one module per command group."""
