"""`python -m flows.dealer_metrics …`: the dealer-metrics command line."""

import sys

from scripts.dealer_metrics import main

sys.exit(main())
