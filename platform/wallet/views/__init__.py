"""The wallet's read API, one view per operation: balances (``balances``), statements as
cursor pages (``statements``) and as a CSV export (``export``); what they share is in
``common``. Group funds need ``manage_funds``; every user reads their own."""
