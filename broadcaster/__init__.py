"""The city alert broadcaster: sources make Alerts, the core decides and records, channels send."""
