"""X for a community: its project's posts forwarded to its groups, live mentions relayed,
and its KOLs measured (tenant schema)."""
