from aelab.cli.main import main

raise SystemExit(main())
