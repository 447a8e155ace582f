"""branding API views, one module per part: ``brand`` (the profile, applying it, the
colours and the Mini App theme), ``logo`` and ``texts`` (overrides and the preview).
Everything needs ``manage_bots`` except the theme and the logo, which the community's
Mini App shows to everyone."""
