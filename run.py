"""Entry point: `python run.py --help`."""

from broadcaster.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
