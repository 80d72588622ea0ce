"""SNS: one channel posting to several targets (X, Mastodon, Bluesky), one module per target."""
