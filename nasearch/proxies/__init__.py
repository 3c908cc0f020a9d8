"""Zero-cost proxies: rank untrained networks. Find them through the registry (:data:`PROXIES`: the
built-in modules and the entry points of the group ``nasearch.proxies``)."""

from nasearch.proxies.registry import (
    PROXIES,
    ProxyContext,
    ProxyError,
    ProxySpec,
    all_proxies,
    ensemble_names,
    get_proxy,
    network_proxies,
    proxy_names,
    register_proxy,
)

__all__ = ["PROXIES", "ProxyContext", "ProxyError", "ProxySpec", "all_proxies", "ensemble_names", "get_proxy", "network_proxies", "proxy_names", "register_proxy"]
