"""Sources of alerts: JMA feeds, CAP 1.2 input, and a local replay server (see the JMA issue)."""
