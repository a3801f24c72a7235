"""`python -m ece_restart` is the same as the `ece-restart-operator` console script."""

from ece_restart.cli import main

raise SystemExit(main())
