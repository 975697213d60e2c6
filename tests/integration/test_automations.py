"""`python -m scripts.automations`: prefect.yaml's run-state automations installed on a Prefect API."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client

from scripts.automations import PROJECT_FILE, main

NAME = "kapman-run-needs-attention"


@pytest.fixture
def alerts_block(prefect_harness) -> str:
    block = CustomWebhookNotificationBlock(name="kapman", url="http://127.0.0.1:9/hook", allow_private_urls=True)
    return str(block.save("kapman-alerts", overwrite=True))


def _installed() -> list:
    with get_client(sync_client=True) as client:
        return client.read_automations_by_name(NAME)


def _all_automations() -> list:
    with get_client(sync_client=True) as client:
        return sorted((str(automation.id), automation.model_dump_json()) for automation in client.read_automations())


def test_the_declared_automation_installs_disabled_with_the_named_block_and_reinstalls_in_place(alerts_block, capsys):
    assert main(["--block", "custom-webhook/kapman-alerts"]) == 0
    [automation] = _installed()
    assert automation.enabled is False
    assert set(automation.trigger.expect) == {
        "prefect.flow-run.Partial",
        "prefect.flow-run.Failed",
        "prefect.flow-run.Crashed",
    }
    assert automation.trigger.match_related["prefect.resource.name"] == [
        "ingest-options",
        "backfill-options",
        "dealer-metrics",
    ]
    [action] = automation.actions
    assert action.type == "send-notification" and str(action.block_document_id) == alerts_block
    assert "{{ flow_run.state.message }}" in action.body
    assert "disabled" in capsys.readouterr().out

    assert main(["--block", "custom-webhook/kapman-alerts", "--enable"]) == 0
    [again] = _installed()
    assert again.id == automation.id and again.enabled is True
    assert capsys.readouterr().out.startswith("updated automation 'kapman-run-needs-attention'")


def test_an_unknown_block_is_one_line_and_exit_2_and_installs_nothing(prefect_harness, capsys):
    before = _all_automations()
    assert main(["--block", "slack-webhook/nobody-made-this"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "no block 'slack-webhook/nobody-made-this'" in error
    assert _all_automations() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", "declares no automations"),
        ("automations: [\n", "is not valid YAML"),
    ],
)
def test_a_file_without_usable_automations_is_one_line_and_exit_2(tmp_path: Path, capsys, text, message):
    path = tmp_path / "prefect.yaml"
    path.write_text(text)
    assert main(["--file", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error


def test_a_block_not_named_as_type_and_name_is_refused(tmp_path: Path, capsys):
    assert main(["--file", str(PROJECT_FILE), "--block", "kapman-alerts"]) == 2
    assert "must be named as TYPE-SLUG/NAME" in capsys.readouterr().err
