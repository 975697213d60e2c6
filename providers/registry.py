"""Provider lookup by name, one instance per (name, settings) per process.

One instance per process matters: the request budget lives in the instance, so every thread and
every day of a backfill share it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable

from providers.base import ChainProvider, ProviderSettings
from settings.errors import SetupError


class UnknownProvider(SetupError, ValueError):
    """No provider of that name is registered."""


ProviderFactory = Callable[[ProviderSettings], ChainProvider]

_factories: dict[str, ProviderFactory] = {}
_instances: dict[tuple[str, ProviderSettings], ChainProvider] = {}
_lock = threading.Lock()


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Make a provider available by name (tests register recording or failing providers)."""
    with _lock:
        _factories[name] = factory
        for key in [key for key in _instances if key[0] == name]:
            del _instances[key]


def unregister_provider(name: str) -> None:
    with _lock:
        _factories.pop(name, None)
        for key in [key for key in _instances if key[0] == name]:
            del _instances[key]


def provider_names() -> list[str]:
    _register_builtins()
    return sorted(_factories)


def check_provider_name(name: str) -> str:
    """Fail early, before any day starts, on a name nobody registered."""
    _register_builtins()
    if name not in _factories:
        raise UnknownProvider(f"unknown provider {name!r}: choose one of {', '.join(provider_names())}")
    return name


def get_provider(name: str, settings: ProviderSettings | None = None) -> ChainProvider:
    """The process-wide instance for `name` and `settings`, built on first use."""
    check_provider_name(name)
    key = (name, settings or ProviderSettings())
    with _lock:
        if key not in _instances:
            _instances[key] = _factories[name](key[1])
        return _instances[key]


_plugins_loaded: set[str] = set()


def _register_builtins() -> None:
    with _lock:
        if "synthetic" not in _factories:
            _factories["synthetic"] = _synthetic_factory
        if "polygon" not in _factories:
            _factories["polygon"] = _polygon_factory
        if "unicorn" not in _factories:
            _factories["unicorn"] = _unicorn_factory


class ProviderPluginError(SetupError, ValueError):
    """A provider plugin module named by the run cannot be imported."""


def load_plugins(module_names: Iterable[str]) -> None:
    """Import provider plugin modules (the run's `KAPMAN_PROVIDER_MODULES`); each registers its
    providers with `register_provider` when imported. This is how a worker process, a deployment or a
    subprocess gets a provider that is not built in (a vendor adapter, a test double)."""
    for module_name in module_names:
        if module_name in _plugins_loaded:
            continue
        try:
            importlib.import_module(module_name)
        except ImportError as exc:
            raise ProviderPluginError(f"provider plugin module {module_name!r} cannot be imported: {exc}") from None
        _plugins_loaded.add(module_name)


def _synthetic_factory(settings: ProviderSettings) -> ChainProvider:
    from providers.synthetic import SyntheticProvider

    return SyntheticProvider()


def _polygon_factory(settings: ProviderSettings) -> ChainProvider:
    from providers.polygon import PolygonProvider

    return PolygonProvider.from_settings(settings)


def _unicorn_factory(settings: ProviderSettings) -> ChainProvider:
    from providers.unicorn import UnicornProvider

    return UnicornProvider.from_settings(settings)
