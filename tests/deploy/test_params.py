"""Flow parameters as a deployment receives them (JSON from `--param`, the UI's form): the server's
schema check and the flow's own validation, without a server. And prefect.yaml as written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from prefect.exceptions import ParameterTypeError
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import ValidationError, validate

from flows.backfill import backfill_options
from flows.dealer_metrics import dealer_metrics
from flows.ingest import ingest_options

ROOT = Path(__file__).resolve().parents[2]
RANGE = {"start_date": "2025-12-09", "end_date": "2025-12-12"}


def validated(**params: object) -> dict:
    return backfill_options.validate_parameters({**RANGE, **params})


def refusal(flow=backfill_options, **params: object) -> str:  # noqa: ANN001
    with pytest.raises(ParameterTypeError) as raised:
        flow.validate_parameters(params if flow is not backfill_options else {**RANGE, **params})
    return str(raised.value)


@pytest.mark.parametrize(
    ("given", "symbols"),
    [
        (1234, ["1234"]),  # --param symbols=1234 (JSON makes it a number)
        ("1234", ["1234"]),
        ("aapl, 1234,BRK.B", ["AAPL", "1234", "BRK.B"]),  # --param symbols=aapl,1234,BRK.B
        (["0700", 1234, "spy", "SPY"], ["0700", "1234", "SPY"]),  # --param symbols='["0700", 1234, "spy"]'
        ([], []),
        (None, None),
    ],
)
def test_symbols_arrive_as_strings_whatever_json_made_of_them(given, symbols):
    assert validated(symbols=given)["symbols"] == symbols


def test_dates_arrive_as_dates():
    params = validated()
    assert (params["start_date"], params["end_date"]) == (date(2025, 12, 9), date(2025, 12, 12))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": 20251209}, "start_date: Value error, 20251209 is a number, not a date: write it as YYYY-MM-DD"),
        ({"end_date": "2025-13-01"}, "end_date: Value error, '2025-13-01' is not a date in YYYY-MM-DD form"),
        ({"end_date": "2025-12-12T10:00:00"}, "'2025-12-12T10:00:00' is not a date in YYYY-MM-DD form"),
        ({"symbols": ["AAPL", 1.5]}, "symbols: Value error, invalid symbol 1.5: symbols are text"),
        ({"symbols": True}, "invalid symbol True"),
        ({"symbols": "AAPL,SPY!"}, "invalid symbol 'SPY!'"),
        # (other tests may register plugin providers, so the list of choices goes on past these two)
        ({"provider": "polygn"}, "provider: Value error, unknown provider 'polygn': choose one of "),
        ({"provider": "polygn"}, "polygon"),
        ({"calendar": "NYSEE"}, "calendar: Value error, unknown calendar 'NYSEE'"),
        ({"max_parallel_days": 0}, "max_parallel_days: Input should be greater than or equal to 1"),
        ({"concurrency": "four"}, "concurrency: Input should be a valid integer"),
    ],
)
def test_a_bad_parameter_is_refused_naming_it_and_what_to_write(params, message):
    assert message in refusal(**params)


def test_a_snapshot_time_without_offset_is_utc_with_one_as_given():
    for given in ("2025-12-09T21:00:00", "2025-12-09T21:00:00Z", "2025-12-09T16:00:00-05:00"):
        params = ingest_options.validate_parameters({"as_of": "2025-12-09", "snapshot_time": given})
        assert params["snapshot_time"] == datetime(2025, 12, 9, 21, tzinfo=UTC), given
    message = refusal(ingest_options, as_of="2025-12-09", snapshot_time="2025-12-09 9pm")
    assert "snapshot_time: Value error, snapshot time '2025-12-09 9pm' is not ISO 8601" in message


def test_the_servers_schema_check_lets_through_what_the_flow_accepts_and_stops_a_number_for_a_date():
    schema = parameter_schema(backfill_options).model_dump()
    for symbols in (1234, "AAPL,1234", ["AAPL", 1234], None):
        validate({**RANGE, "symbols": symbols}, schema, raise_on_error=True)
    with pytest.raises(ValidationError, match="start_date"):
        validate({**RANGE, "start_date": 20251209}, schema, raise_on_error=True)


def test_prefect_yaml_declares_the_three_deployments_on_a_process_pool():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = {deployment["name"]: deployment for deployment in config["deployments"]}
    assert set(deployments) == {"options-daily", "options-backfill", "dealer-metrics"}
    assert {deployment["work_pool"]["name"] for deployment in deployments.values()} == {"kapman-process"}
    assert config["pull"] == []

    [schedule] = deployments["options-daily"]["schedules"]
    assert schedule == {"cron": "30 17 * * 1-5", "timezone": "America/New_York"}
    assert deployments["options-daily"]["entrypoint"] == "flows.ingest.ingest_options"

    backfill = deployments["options-backfill"]
    assert backfill["entrypoint"] == "flows.backfill.backfill_options"
    declared = set(parameter_schema(backfill_options).properties)
    assert {"start_date", "end_date", "provider", "concurrency", "symbols", "calendar"} <= declared
    assert {"max_parallel_days", "dry_run"} <= declared
    assert set(backfill["parameters"]) <= declared

    [trigger] = deployments["dealer-metrics"]["triggers"]
    assert trigger["expect"] == ["prefect.flow-run.Completed"]
    assert trigger["match_related"]["prefect.resource.name"] == "options-daily"


@pytest.mark.parametrize(("given", "symbols"), [(1234, ["1234"]), ("spy, qqq", ["SPY", "QQQ"])])
def test_dealer_metrics_takes_the_same_parameter_types_as_the_ingest_flows(given, symbols):
    params = dealer_metrics.validate_parameters({"as_of": "2025-12-09", "symbols": given})
    assert params["symbols"] == symbols and params["as_of"] == date(2025, 12, 9)


def test_dealer_metrics_refuses_what_the_ingest_flows_refuse():
    assert "20251209 is a number, not a date" in refusal(dealer_metrics, as_of=20251209)
    assert "unknown calendar 'NYSEE'" in refusal(dealer_metrics, calendar="NYSEE")
