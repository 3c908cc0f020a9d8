"""'Did you mean ...?': the nearest accepted name to a mistyped one, for error messages.

Used by the config checks (``nasearch.config``), the CLI (unknown subcommands and group values) and
the API (unknown config keys), so a typo gets the same suggestion wherever it is made.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any


def closest(value: Any, options: Iterable[Any]) -> str | None:
    """The option closest to ``value`` (a typo away), or None if none is close (or it is ``value``)."""
    opts = [str(o) for o in options]
    text = str(value)
    match = difflib.get_close_matches(text, opts, n=1, cutoff=0.6)
    if not match:  # a case slip ('Cifar10') is no typo difflib scores highly
        match = [o for o in opts if o.lower() == text.lower()]
    return match[0] if match and match[0] != text else None


def did_you_mean(value: Any, options: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``options`` to ``value``, or ``""`` if none is close."""
    match = closest(value, options)
    return "" if match is None else f"; did you mean {match!r}?"


_UNKNOWN_KEY = re.compile(r"Could not override '([^']+)'")


def unknown_override_key(exc: BaseException) -> str | None:
    """The key of a Hydra "Could not override 'KEY'" composition error (a key the config lacks), or None."""
    m = _UNKNOWN_KEY.search(str(exc))
    return m.group(1) if m else None


def flat_keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a (nested) config container, intermediate keys included."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{prefix}{k}"
            out.append(key)
            out.extend(flat_keys(v, key + "."))
    return out


def unknown_key_hint(key: str, keys: Iterable[str]) -> str:
    """The suggestion for an unknown dotted config key: where its parent exists, the closest key
    beside it (else the list of those keys); otherwise the closest known key of the same depth."""
    keys = list(keys)
    parent, _, last = key.rpartition(".")
    if not parent or parent in keys:
        siblings = [k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == parent]
        match = closest(last, siblings)
        if match is not None:
            return f"; did you mean {(f'{parent}.{match}' if parent else match)!r}?"
        if parent and siblings:
            return f"; the keys under {parent!r} are: {', '.join(siblings)}"
        return ""
    return did_you_mean(key, [k for k in keys if k.count(".") == key.count(".")])


def composed_keys(overrides: Iterable[str]) -> list[str]:
    """The flattened keys of the config composed from ``overrides`` (inside an initialised Hydra
    context), falling back to the default config when they do not compose."""
    from hydra import compose
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    for ovs in (list(overrides), []):
        try:
            cfg = compose(config_name="config", overrides=ovs)
        except (HydraException, OmegaConfBaseException):
            continue
        return flat_keys(OmegaConf.to_container(cfg, resolve=False))
    return []


def unknown_override_message(exc: BaseException, overrides: list[str], source: str = "the command line") -> str | None:
    """One line for a Hydra composition error caused by a typo, None for any other error:

    * a key the config lacks: "unknown config key 'k' (from SOURCE: k=v); did you mean 'key'?"
      (among the keys of the config composed from the other overrides);
    * a group choice with no config: "unknown proxy 'x' (from SOURCE: proxy=x); accepted: ...; did
      you mean 'y'?"."""
    from hydra.errors import MissingConfigException

    missing = exc if isinstance(exc, MissingConfigException) else exc.__cause__
    if isinstance(missing, MissingConfigException) and missing.options and "/" in (missing.missing_cfg_file or ""):
        group, _, value = missing.missing_cfg_file.rpartition("/")
        given = " ".join(o for o in overrides if o.lstrip("+~").partition("=")[0] == group) or f"{group}={value}"
        return (f"unknown {group} {value!r} (from {source}: {given}); accepted: {', '.join(missing.options)}"
                + did_you_mean(value, missing.options))
    key = unknown_override_key(exc)
    if key is None:
        return None
    mine = [o for o in overrides if o.lstrip("+~").partition("=")[0] == key]
    others = [o for o in overrides if o not in mine]
    given = " ".join(mine) or key
    return f"unknown config key {key!r} (from {source}: {given}){unknown_key_hint(key, composed_keys(others))}"


__all__ = ["closest", "composed_keys", "did_you_mean", "flat_keys", "unknown_key_hint", "unknown_override_message",
           "unknown_override_key"]
