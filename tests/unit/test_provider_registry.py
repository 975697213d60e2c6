import subprocess
import sys
from pathlib import Path

import pytest

from providers.registry import (
    ProviderPluginError,
    UnknownProvider,
    check_provider_name,
    get_provider,
    load_plugins,
    provider_names,
)
from settings.errors import SetupError

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_providers_are_listed_and_unknown_names_refused():
    assert {"synthetic", "polygon"} <= set(provider_names())
    with pytest.raises(UnknownProvider, match="choose one of"):
        check_provider_name("nosuch")


def test_one_instance_per_process_and_settings():
    assert get_provider("synthetic") is get_provider("synthetic")


def test_plugin_modules_named_in_the_environment_register_providers():
    # A worker or subprocess gets a provider that is not built in from the run's environment.
    code = (
        "from datetime import date; from tasks.request import build_ingest_request; "
        "from tasks.handles import provider_for; "
        "print(provider_for(build_ingest_request(as_of=date(2025, 12, 9), provider='tiny')).name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"KAPMAN_PROVIDER_MODULES": "tests.plugins.tiny_providers", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tiny"


def test_a_plugin_module_that_cannot_be_imported_is_a_setup_error():
    with pytest.raises(ProviderPluginError, match="'no_such_plugin_module' cannot be imported") as raised:
        load_plugins(["no_such_plugin_module"])
    assert isinstance(raised.value, SetupError)
