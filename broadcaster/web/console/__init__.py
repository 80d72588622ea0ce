"""The duty officers' console and the REST API for other city systems (wiring: console/app.py)."""
