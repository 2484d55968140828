from mgw.cli import main

raise SystemExit(main())
