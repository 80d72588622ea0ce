"""The run.py subcommands."""
