"""Entry point: `python run.py --help`."""

from broadcaster.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
