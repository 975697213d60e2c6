"""The environment is read in one place and every variable is validated before a run starts."""

from pathlib import Path

import pytest

from settings.environment import InvalidEnvironment, read_environment
from settings.errors import SetupError


def test_an_empty_environment_means_every_default():
    environment = read_environment({})
    assert environment.database_url is None and environment.pgdata is None and environment.provider is None
    assert environment.prefect_home is None
    assert environment.max_requests_per_minute is None and environment.provider_modules == ()
    assert environment.credentials_for("polygon").api_key is None


def test_values_are_read_trimmed_and_typed(tmp_path):
    environment = read_environment(
        {
            "DATABASE_URL": " postgresql://kapman:secret@db.example:5432/kapman ",
            "KAPMAN_PGDATA": str(tmp_path / "pg"),
            "KAPMAN_PREFECT_HOME": str(tmp_path / "prefect"),
            "OPTIONS_PROVIDER": "polygon",
            "KAPMAN_MAX_REQUESTS_PER_MINUTE": " 5 ",
            "KAPMAN_PROVIDER_MODULES": "tests.plugins.tiny_providers, vendor.adapter",
            "POLYGON_API_KEY": "k3y",
            "POLYGON_BASE_URL": "http://127.0.0.1:8080/",
        }
    )
    assert environment.database_url == "postgresql://kapman:secret@db.example:5432/kapman"
    assert environment.pgdata == Path(tmp_path / "pg").resolve()
    assert environment.prefect_home == Path(tmp_path / "prefect").resolve()
    assert (environment.provider, environment.max_requests_per_minute) == ("polygon", 5)
    assert environment.provider_modules == ("tests.plugins.tiny_providers", "vendor.adapter")
    polygon = environment.credentials_for("polygon")
    assert (polygon.api_key, polygon.base_url) == ("k3y", "http://127.0.0.1:8080")


def test_secrets_stay_out_of_the_records_repr():
    environment = read_environment({"DATABASE_URL": "postgresql://u:hunter2@h/d", "POLYGON_API_KEY": "k3y-s3cret"})
    assert "hunter2" not in repr(environment) and "k3y-s3cret" not in repr(environment)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KAPMAN_MAX_REQUESTS_PER_MINUTE", "abc", "KAPMAN_MAX_REQUESTS_PER_MINUTE='abc' is not a whole number"),
        ("KAPMAN_MAX_REQUESTS_PER_MINUTE", "-5", "must be between 1 and 60000, got -5"),
        ("KAPMAN_MAX_REQUESTS_PER_MINUTE", "2.5", "is not a whole number"),
        ("DATABASE_URL", "garbage", "DATABASE_URL is not a PostgreSQL connection string"),
        ("POLYGON_BASE_URL", "ftp://x", "POLYGON_BASE_URL must be an http:// or https:// URL"),
        ("POLYGON_BASE_URL", "https://user:pw@api.example", "must not carry credentials"),
        ("KAPMAN_PROVIDER_MODULES", "../../etc", "'../../etc', which is not a dotted Python module name"),
        ("OPTIONS_PROVIDER", "rm -rf", "OPTIONS_PROVIDER='rm -rf' is not a provider name"),
    ],
)
def test_garbage_in_any_variable_is_one_setup_error_naming_it(variable, value, message):
    with pytest.raises(InvalidEnvironment) as raised:
        read_environment({variable: value})
    assert isinstance(raised.value, SetupError)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_database_url_is_refused_without_echoing_its_password():
    with pytest.raises(InvalidEnvironment) as raised:
        read_environment({"DATABASE_URL": "host=db password=hunter2 garbage"})
    assert "hunter2" not in str(raised.value)


def test_an_error_line_masks_every_secret_the_process_knows_and_every_dsn_password(monkeypatch):
    from settings.output import error_line

    monkeypatch.setenv("PGPASSWORD", "pg-s3cret-81")
    monkeypatch.setenv("POLYGON_API_KEY", "poly-k3y-27")
    line = error_line(
        RuntimeError("cannot connect to host=db password=kv-pw-5 (PGPASSWORD pg-s3cret-81, key poly-k3y-27)")
    )
    assert line.startswith("error: cannot connect to host=db password=***")
    assert not any(secret in line for secret in ("pg-s3cret-81", "poly-k3y-27", "kv-pw-5"))
