"""Where the tests find the repository and the public documents they read (all inside the repository)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
JMA_SAMPLES = DATA / "jma"  # JMA's real documents, unmodified (see its README)
CAP_XSD = DATA / "schemas" / "CAP-v1.2.xsd"  # OASIS CAP 1.2
