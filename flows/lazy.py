"""Hand a flow package's names out on first use (PEP 562), so importing the package costs nothing.

`python -m flows.backfill` imports `flows.backfill` before its `__main__`; with the flow defined in
`flows/backfill/flow.py` and handed out here, `--help` answers without importing Prefect, while
`from flows.backfill import backfill_options` and the deployments' entrypoint
`flows.backfill.backfill_options` work as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any


def forward(package: str, module: str, names: Sequence[str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports `package.module` when one of `names` is asked for."""

    def attribute(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(f"{package}.{module}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return attribute
