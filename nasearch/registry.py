"""One registry type for every kind of plugin: proxies, strategies, spaces, benchmarks, executors, tasks.

A :class:`Registry` maps names to objects of one kind (a proxy spec, a strategy class, a benchmark
factory, ...). Plugins come from two places, loaded the first time a name is looked up or listed:

* the package's own built-ins: an explicit list of module names (``builtins``), each of which
  registers what it defines when imported (a decorator such as ``@register_proxy``). There is no
  directory scan, so helper modules of a package (a store, a table reader) are never imported as
  plugins and a new built-in is one module plus one line in that list;
* other installed packages: every entry point of the group ``nasearch.<plural>``
  (``nasearch.proxies``, ``nasearch.strategies``, ``nasearch.spaces``, ``nasearch.benchmarks``,
  ``nasearch.executors``, ``nasearch.tasks``, ``nasearch.predictors``; see :data:`GROUPS`). Each entry point names a module
  (or an object of a module) that registers itself when loaded, e.g. in the plugin's
  ``pyproject.toml``::

      [project.entry-points."nasearch.proxies"]
      toy_proxy = "toy_plugins.proxy"

A name registered twice is an error naming both origins (the module and, for a plugin, its entry
point and distribution); registering the same object again under its name is a no-op (a module
imported twice). An entry point that fails to load is an error naming the entry point and its
distribution. An unknown name raises the kind's error (a :class:`~nasearch.errors.NasearchError`)
with the accepted names and the nearest one (:func:`nasearch.suggest.did_you_mean`).

This module is part of nasearch's core: it imports only the standard library and
``nasearch.errors`` / ``nasearch.suggest``.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from nasearch.errors import NasearchError
from nasearch.suggest import did_you_mean

T = TypeVar("T")

GROUPS: dict[str, str] = {
    "proxy": "nasearch.proxies",
    "strategy": "nasearch.strategies",
    "space": "nasearch.spaces",
    "benchmark": "nasearch.benchmarks",
    "executor": "nasearch.executors",
    "task": "nasearch.tasks",
    "predictor": "nasearch.predictors",
}
"""The entry-point group of each plugin kind."""


class RegistryError(NasearchError):
    """A plugin registered twice, or an installed plugin whose entry point cannot be loaded."""


def describe(obj: Any) -> str:
    """Where ``obj`` was defined: ``module.qualname`` (functions, classes), ``module.Class`` (instances)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{qualname}" if module else repr(obj)


def entry_point_origin(ep: metadata.EntryPoint) -> str:
    """``entry point 'NAME = VALUE' (group G) of distribution D VERSION``, for messages."""
    dist = getattr(ep, "dist", None)
    who = f"distribution {dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return f"entry point {ep.name!r} = {ep.value!r} (group {ep.group!r}) of {who}"


def _same(a: Any, b: Any) -> bool:
    """``a is b``, or equal values (a frozen record rebuilt by the same registration)."""
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b) is True
    except Exception:  # noqa: BLE001 - objects that cannot be compared are not the same
        return False


_ALL: list[Registry[Any]] = []


class Registry(Generic[T]):
    """Names -> objects of one plugin kind, loaded lazily from built-in modules and entry points.

    ``kind``: the singular name used in messages and to pick the entry-point group ("proxy");
    ``error``: the exception class raised for an unknown name or a duplicate (default
    :class:`RegistryError`); ``builtins``: modules imported on first use, each registering its
    plugins; ``noun``: how messages call one plugin ("search space"; default ``kind``);
    ``listing``: the words before the accepted names ("accepted"); ``sort``: list names sorted
    (default) or in registration order (built-ins in ``builtins`` order, then entry points);
    ``group``: the entry-point group (default :data:`GROUPS`'s for ``kind``)."""

    def __init__(
        self,
        kind: str,
        *,
        error: type[NasearchError] = RegistryError,
        builtins: Sequence[str] = (),
        noun: str | None = None,
        listing: str = "accepted",
        sort: bool = True,
        group: str | None = None,
    ):
        self.kind = kind
        self.error = error
        self.builtins = tuple(builtins)
        self.noun = noun or kind
        self.listing = listing
        self.sort = sort
        self.group = group or GROUPS.get(kind, f"nasearch.{kind}s")
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._loaded = False
        self._loading = False
        self._context: str | None = None
        _ALL.append(self)

    # ------------------------------------------------------------------ registering
    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T, *, origin: str | None = None) -> T: ...

    def register(self, name: str, obj: Any = ..., *, origin: str | None = None) -> Any:
        """Register ``obj`` as ``name`` and return it; without ``obj``, a decorator doing that.

        A different object already registered as ``name`` is an error naming both origins."""
        if obj is ...:
            return lambda o: self.register(name, o, origin=origin)
        if not isinstance(name, str) or not name:
            raise self.error(f"{self.noun} name {name!r} ({describe(obj)}) is not a non-empty string")
        where = origin or describe(obj)
        if self._context is not None:
            where = f"{where} ({self._context})"
        if name in self._items:
            if _same(self._items[name], obj):
                return obj
            raise self.error(
                f"{self.noun} {name!r} is registered twice: by {self._origins.get(name, 'an unrecorded origin')} and "
                f"by {where}; "
                "rename one of them (or uninstall the plugin that repeats the name)"
            )
        self._items[name] = obj
        self._origins[name] = where
        return obj

    def unregister(self, name: str) -> T | None:
        """Remove ``name`` (tests); returns what was registered, or None."""
        self._origins.pop(name, None)
        return self._items.pop(name, None)

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        """Import the built-in modules, then load every entry point of :attr:`group` (once)."""
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            for module in self.builtins:
                importlib.import_module(module)
            for ep in self.entry_points():
                self._load_entry_point(ep)
            self._loaded = True
        finally:
            self._loading = False

    def entry_points(self) -> list[metadata.EntryPoint]:
        """The installed entry points of :attr:`group`, sorted by name (then distribution)."""
        eps = metadata.entry_points(group=self.group)
        return sorted(eps, key=lambda ep: (ep.name, getattr(getattr(ep, "dist", None), "name", "") or ""))

    def _load_entry_point(self, ep: metadata.EntryPoint) -> None:
        context = entry_point_origin(ep)
        self._context = context
        try:
            ep.load()
        except NasearchError:
            raise  # a duplicate name or a plugin's own check: the message already names the entry point
        except Exception as exc:  # noqa: BLE001 - any failure of a third-party plugin is reported as one
            raise self.error(
                f"cannot load the {self.noun} plugin of {context}: {type(exc).__name__}: {exc}; fix or "
                f"uninstall that distribution"
            ) from exc
        finally:
            self._context = None

    def reload_entry_points(self) -> None:
        """Forget that the entry points were loaded: the next lookup scans them again (after a
        distribution was installed or put on ``sys.path`` in this process)."""
        self._loaded = False

    # ------------------------------------------------------------------ looking up
    def get(self, name: str, where: str = "") -> T:
        """The object registered as ``name``; unknown names raise :attr:`error` naming ``where``, the
        accepted names and the nearest one."""
        if name not in self._items:
            self.load()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise self.unknown(name, where) from None

    def unknown(self, name: Any, where: str = "") -> NasearchError:
        """The error for an unknown ``name`` (not raised)."""
        names = self.names()
        at = f" ({where})" if where else ""
        return self.error(
            f"unknown {self.noun} {name!r}{at}; {self.listing}: {', '.join(names)}{did_you_mean(name, names)}"
        )

    def names(self) -> tuple[str, ...]:
        """Every registered name (sorted, or in registration order for ``sort=False``)."""
        self.load()
        return tuple(sorted(self._items)) if self.sort else tuple(self._items)

    def values(self) -> list[T]:
        return [self._items[n] for n in self.names()]

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]

    def origin(self, name: str) -> str:
        """Where ``name`` was registered (module, and entry point and distribution for a plugin)."""
        self.get(name)
        return self._origins[name]

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            self.load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, {len(self._items)} registered)"


def registries() -> list[Registry[Any]]:
    """Every registry created in this process."""
    return list(_ALL)


def reload_entry_points() -> None:
    """:meth:`Registry.reload_entry_points` of every registry."""
    for r in _ALL:
        r.reload_entry_points()


__all__ = ["GROUPS", "Registry", "RegistryError", "describe", "entry_point_origin", "registries",
           "reload_entry_points"]
