"""Who may call each API operation: one row per (URL name, method).

``tests/accounts/test_permissions_matrix.py`` walks every URL pattern under /api/ and fails when
an operation has no row here, then calls each one as every role and checks the answer.
Values: "authenticated" (any Telegram user of the tenant), "owner" (the tenant's owner;
staff too), or a capability name (roles per accounts.roles.DEFAULT_CAPABILITIES; staff
hold all).
"""

MATRIX: dict[tuple[str, str], str] = {
    ("me", "GET"): "authenticated",
    ("me", "PATCH"): "authenticated",
    ("me-activity", "GET"): "authenticated",
    ("audit", "GET"): "view_audit",
    ("admin-list", "GET"): "manage_settings",
    ("admin-capabilities", "PATCH"): "owner",
    ("group-list", "GET"): "manage_settings",
    ("group-settings", "GET"): "manage_settings",
    ("group-settings", "PATCH"): "manage_settings",
    ("group-link-code", "POST"): "manage_settings",
    ("group-admins-refresh", "POST"): "manage_settings",
    ("notification-subscriptions", "GET"): "authenticated",
    ("notification-subscriptions", "PATCH"): "authenticated",
    ("group-subscriptions", "GET"): "manage_settings",
    ("group-subscriptions", "PATCH"): "manage_settings",
    ("notification-settings", "GET"): "manage_settings",
    ("notification-settings", "PATCH"): "manage_settings",
    ("broadcast-list", "GET"): "manage_bots",
    ("broadcast-list", "POST"): "manage_bots",
    ("broadcast-detail", "GET"): "manage_bots",
    ("broadcast-cancel", "POST"): "manage_bots",
    ("group-moderation", "GET"): "moderate",
    ("group-moderation", "PUT"): "moderate",
    ("group-moderation-actions", "GET"): "moderate",
    ("group-leaderboard", "GET"): "authenticated",
    # wallet: deposits through providers, withdrawals (the providers' webhook is not listed:
    # its credential is the provider's signature, see tests/wallet/test_views_deposits.py)
    ("wallet-deposit-instructions", "GET"): "manage_funds",
    ("wallet-withdrawal-list", "GET"): "authenticated",
    ("wallet-withdrawal-list", "POST"): "authenticated",
    ("wallet-withdrawal-detail", "GET"): "authenticated",
    ("wallet-withdrawal-pending", "GET"): "manage_funds",
    ("wallet-withdrawal-approve", "POST"): "manage_funds",
    ("wallet-withdrawal-reject", "POST"): "manage_funds",
    ("wallet-withdrawal-policies", "GET"): "manage_funds",
    ("wallet-withdrawal-policies", "PUT"): "manage_funds",
    # wallet: Stars deposits
    ("wallet-stars-topup", "POST"): "manage_funds",
    ("wallet-stars-refund", "POST"): "manage_funds",
    # wallet: the read API
    ("wallet-my-balances", "GET"): "authenticated",
    ("wallet-my-statement", "GET"): "authenticated",
    ("wallet-group-balances", "GET"): "manage_funds",
    ("wallet-group-statement", "GET"): "manage_funds",
    ("wallet-group-statement-csv", "GET"): "manage_funds",
    # the X client
    ("x-budget", "GET"): "manage_settings",
    ("x-budget", "PUT"): "manage_settings",
    ("x-credential-list", "GET"): "manage_settings",
    ("x-app-token", "PUT"): "manage_settings",
    ("x-credential-detail", "DELETE"): "manage_settings",
    ("x-connect", "POST"): "manage_settings",
    # the X client: the user's own X account link (any tenant's domain)
    ("me-x", "GET"): "authenticated",
    ("me-x", "DELETE"): "authenticated",
    ("me-x-link", "POST"): "authenticated",
    ("me-x-verify", "POST"): "authenticated",
    # the X feed: forwarding and mention rules of a group
    ("x-forwarding-list", "GET"): "manage_settings",
    ("x-forwarding-list", "POST"): "manage_settings",
    ("x-forwarding-detail", "DELETE"): "manage_settings",
    ("x-mention-rule-list", "GET"): "manage_settings",
    ("x-mention-rule-list", "POST"): "manage_settings",
    ("x-mention-rule-detail", "PUT"): "manage_settings",
    ("x-mention-rule-detail", "DELETE"): "manage_settings",
    ("x-mention-list", "GET"): "manage_settings",
    # the X feed: KOLs
    ("x-kol-list", "GET"): "manage_settings",
    ("x-kol-list", "POST"): "manage_settings",
    ("x-kol-detail", "PUT"): "manage_settings",
    ("x-kol-detail", "DELETE"): "manage_settings",
    ("x-kol-posts", "GET"): "manage_settings",
    ("x-kol-report", "GET"): "manage_settings",
    ("x-kol-report-csv", "GET"): "manage_settings",
    # raids: rewards
    ("raid-results", "GET"): "manage_raids",
    ("raid-report-csv", "GET"): "authenticated",
    ("me-rewards", "GET"): "authenticated",
    # raids: validation
    ("raid-validate", "POST"): "manage_raids",
    # raids: giveaways and EXP contests
    ("raids-giveaway-list", "GET"): "authenticated",
    ("raids-giveaway-list", "POST"): "manage_raids",
    ("raids-giveaway-detail", "GET"): "authenticated",
    ("raids-giveaway-enter", "POST"): "authenticated",
    ("raids-giveaway-cancel", "POST"): "manage_raids",
    ("raids-giveaway-draw", "POST"): "manage_raids",
    ("raids-contest-list", "GET"): "authenticated",
    ("raids-contest-list", "POST"): "manage_raids",
    ("raids-contest-detail", "GET"): "authenticated",
    ("raids-contest-cancel", "POST"): "manage_raids",
    # raids: templates (auto-raids)
    ("raid-template-list", "GET"): "manage_raids",
    ("raid-template-list", "POST"): "manage_raids",
    ("raid-template-detail", "DELETE"): "manage_raids",
    # raids: for raid managers
    ("raid-group-list", "GET"): "manage_raids",
    ("raid-group-list", "POST"): "manage_raids",
    ("raid-detail", "GET"): "manage_raids",
    ("raid-cancel", "POST"): "manage_raids",
    # raids: for the people who join
    ("raid-list", "GET"): "authenticated",
    ("raid-join", "POST"): "authenticated",
    ("raid-progress", "GET"): "authenticated",
    ("me-raids", "GET"): "authenticated",
    # raids: anti-fraud (the review queue and the blocklist)
    ("raid-flag-list", "GET"): "manage_raids",
    ("raid-flag-dismiss", "POST"): "manage_raids",
    ("raid-flag-uphold", "POST"): "manage_raids",
    ("raid-blocklist", "GET"): "manage_raids",
    ("raid-blocklist", "POST"): "manage_raids",
    ("raid-blocklist-detail", "DELETE"): "manage_raids",
    # branding: the brand's profile, logo, colours and texts (the theme and the logo's
    # image are for everyone in the community: its Mini App shows them)
    ("brand", "GET"): "manage_bots",
    ("brand", "PUT"): "manage_bots",
    ("brand-apply", "POST"): "manage_bots",
    ("brand-colors", "PUT"): "manage_bots",
    ("brand-colors", "DELETE"): "manage_bots",
    ("brand-theme", "GET"): "authenticated",
    ("brand-logo", "PUT"): "manage_bots",
    ("brand-logo", "DELETE"): "manage_bots",
    ("brand-logo-file", "GET"): "authenticated",
    ("brand-text-list", "GET"): "manage_bots",
    ("brand-text-detail", "PUT"): "manage_bots",
    ("brand-text-detail", "DELETE"): "manage_bots",
    ("brand-preview", "POST"): "manage_bots",
    # branding: custom bots
    ("bot-kind-list", "GET"): "manage_bots",
    ("bot-list", "GET"): "manage_bots",
    ("bot-list", "POST"): "manage_bots",
    ("bot-detail", "GET"): "manage_bots",
    ("bot-detail", "PUT"): "manage_bots",
    ("bot-detail", "DELETE"): "manage_bots",
    ("bot-deploy", "POST"): "manage_bots",
    ("bot-pause", "POST"): "manage_bots",
    ("bot-token", "PUT"): "manage_bots",
}

# Sample values for URL parameters (objects that need not exist: a permitted call
# answers 404, a refused one 403, so the two are told apart).
URL_KWARGS = {
    "telegram_id": 424242,
    "chat_id": -1001234567890,
    "bulk_id": 424242,
    "withdrawal_id": 424242,
    "deposit_id": 424242,
    "credential_id": 424242,
    "username": "nobody_here",
    "rule_id": 424242,
    "kol_id": 424242,
    "raid_id": 424242,
    "giveaway_id": 424242,
    "contest_id": 424242,
    "template_id": 424242,
    "flag_id": 424242,
    "blocked_id": 424242,
    "size": 512,
    "kind": "no_such_kind",
    "language": "en",
    "key": "welcome",
    "bot_id": 424242,
}
