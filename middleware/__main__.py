"""`python -m middleware` is the `callcenter` admin CLI."""

from middleware.cli.main import main

raise SystemExit(main())
