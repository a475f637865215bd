"""`python -m smoke run|clean`: see smoke.account."""

from smoke.account import main

raise SystemExit(main())
