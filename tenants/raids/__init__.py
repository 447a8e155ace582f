"""Raids on X posts: tasks, who joined, validation with evidence, anti-fraud, payouts from
escrow, giveaways drawn by commit-reveal and EXP contests (tenant schema)."""
