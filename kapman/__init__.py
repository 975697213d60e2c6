"""kapman: the store read back into pandas, for research code.

    import kapman
    chain = kapman.read_chain("SPY", "2025-12-22")                    # one symbol-day
    chains = kapman.read_chains(["SPY", "QQQ"], "2025-12-09", "2025-12-22")
    metrics = kapman.read_dealer_metrics("SPY", "2025-12-16", "2025-12-22")

The database is found as every command finds it: `database_url=` when given, else `DATABASE_URL`,
else the embedded server under `.kapman/` (`KAPMAN_PGDATA`), started on demand. Nothing is written.
Importing `kapman` loads neither pandas nor the database driver; the first read does. The columns,
their types and units are documented in the README ("Reading the data back").
"""

from kapman.reading import read_chain, read_chains, read_dealer_metrics

__all__ = ["read_chain", "read_chains", "read_dealer_metrics"]
