"""Option-chain sources. Each speaks one upstream and returns `ChainSnapshot` records."""
