"""`python -m profiler`: see `profiler.cli`."""

from profiler.cli import main

raise SystemExit(main())
