"""Allow ``python -m comity``."""

from comity.cli.main import main

main()
