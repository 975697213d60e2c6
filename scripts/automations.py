"""`python -m scripts.automations`: install the automations `prefect.yaml` declares on a Prefect server.

prefect.yaml's `automations:` list says which run states need a person (Partial, Failed, Crashed of
our flows) and what to send. A notification action needs the id of a block that only exists on the
user's server, so the file names the block (`block: TYPE-SLUG/NAME`) and this command resolves it,
then creates each automation or updates the one of the same name: running it twice changes nothing.
Automations stay disabled unless `--enable` is given (or the file enables them).

    python -m scripts.automations --block slack-webhook/kapman-alerts [--enable] [--file prefect.yaml]

Exit codes: 0 installed, 2 unusable setup (no such block, no server, a file without automations).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from scripts.cli import EXIT_OK, EXIT_UNUSABLE
from settings.errors import SetupError
from settings.output import error_line

PROJECT_FILE = Path(__file__).resolve().parent.parent / "prefect.yaml"
# Action types whose target is a block named in the file (the key Prefect wants is the block's id).
BLOCK_ACTIONS = {"send-notification", "call-webhook"}


class AutomationSetupError(SetupError):
    """The automations cannot be installed as asked (bad file, unknown block, no server)."""


@dataclass(frozen=True)
class Installed:
    name: str
    id: UUID
    created: bool
    enabled: bool


def declared_automations(path: Path) -> list[dict[str, Any]]:
    """The `automations:` list of a prefect.yaml (or of a file holding only such a list)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise AutomationSetupError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise AutomationSetupError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    automations = data.get("automations") if isinstance(data, dict) else data
    if not isinstance(automations, list) or not automations:
        raise AutomationSetupError(f"{path} declares no automations (an 'automations:' list)")
    return automations


def blocks_named(automations: Sequence[Mapping[str, Any]], override: str | None) -> set[str]:
    """Every `TYPE-SLUG/NAME` the actions name (all of them `override` when it is given)."""
    named = {
        override or action.get("block", "")
        for automation in automations
        for action in automation.get("actions", [])
        if action.get("type") in BLOCK_ACTIONS
    }
    for reference in named:
        if reference.count("/") != 1 or not all(reference.split("/")):
            raise AutomationSetupError(
                f"block {reference!r} must be named as TYPE-SLUG/NAME, e.g. slack-webhook/kapman-alerts"
            )
    return named


def resolved(
    automation: Mapping[str, Any], block_ids: Mapping[str, UUID], *, override: str | None, enable: bool
) -> dict[str, Any]:
    """The automation as the Prefect API takes it: block names replaced by ids, `enabled` decided."""
    actions = []
    for action in automation.get("actions", []):
        action = dict(action)
        if action.get("type") in BLOCK_ACTIONS:
            named = action.pop("block", None)
            reference = override or named
            action["block_document_id"] = str(block_ids[reference])
        actions.append(action)
    return {**automation, "actions": actions, "enabled": bool(enable or automation.get("enabled", False))}


def install(
    path: Path, *, block: str | None = None, enable: bool = False, client_factory: Callable[[], Any] | None = None
) -> list[Installed]:
    """Create or update every automation of `path` on the Prefect API this process points at."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore
    from prefect.exceptions import ObjectNotFound
    from pydantic import ValidationError

    automations = declared_automations(path)
    references = blocks_named(automations, block)
    with (client_factory or (lambda: get_client(sync_client=True)))() as client:
        block_ids: dict[str, UUID] = {}
        for reference in sorted(references):
            slug, name = reference.split("/")
            try:
                block_ids[reference] = client.read_block_document_by_name(name=name, block_type_slug=slug).id
            except ObjectNotFound as exc:
                raise AutomationSetupError(
                    f"no block {reference!r} on this Prefect server: create a notification block named {name!r} "
                    f"of type {slug!r} first (UI: Blocks), or name another with --block TYPE-SLUG/NAME"
                ) from exc
        installed = []
        for declared in automations:
            try:
                core = AutomationCore.model_validate(resolved(declared, block_ids, override=block, enable=enable))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                raise AutomationSetupError(
                    f"automation {declared.get('name')!r} in {path}: {where}: {first['msg']}"
                ) from exc
            existing = client.read_automations_by_name(core.name)
            if existing:
                client.update_automation(existing[0].id, core)
                automation_id, created = existing[0].id, False
            else:
                automation_id, created = client.create_automation(core), True
            installed.append(Installed(core.name, automation_id, created=created, enabled=core.enabled))
    return installed


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.automations",
        description="Install the automations prefect.yaml declares (run-state notifications) on a Prefect server.",
    )
    parser.add_argument("--file", type=Path, default=PROJECT_FILE, help="default: the checkout's prefect.yaml")
    parser.add_argument("--block", metavar="TYPE-SLUG/NAME", help="the notification block every action uses")
    parser.add_argument("--enable", action="store_true", help="enable them (default: installed disabled)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        installed = install(args.file, block=args.block, enable=args.enable)
    except SetupError as exc:
        print(error_line(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:  # noqa: BLE001 - e.g. no Prefect server: one line, not a traceback
        print(error_line(AutomationSetupError(f"cannot reach the Prefect API: {exc}")), file=sys.stderr)
        return EXIT_UNUSABLE
    for automation in installed:
        action = "created" if automation.created else "updated"
        state = "enabled" if automation.enabled else "disabled (enable with --enable or in the UI)"
        print(f"{action} automation {automation.name!r} ({automation.id}): {state}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
