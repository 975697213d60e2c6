import subprocess
import sys
from pathlib import Path

import pytest

from providers.registry import UnknownProvider, check_provider_name, get_provider, provider_names

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_providers_are_listed_and_unknown_names_refused():
    assert {"synthetic", "polygon"} <= set(provider_names())
    with pytest.raises(UnknownProvider, match="choose one of"):
        check_provider_name("nosuch")


def test_one_instance_per_process_and_settings():
    assert get_provider("synthetic") is get_provider("synthetic")


def test_plugin_modules_named_in_the_environment_register_providers():
    code = "from providers.registry import get_provider; print(get_provider('tiny').name)"
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
