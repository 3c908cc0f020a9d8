"""Zero-cost proxies: rank untrained networks. Find them through the registry."""

from nasearch.proxies.registry import (
    ProxyContext,
    ProxyError,
    ProxySpec,
    all_proxies,
    get_proxy,
    proxy_names,
    register_proxy,
)

__all__ = ["ProxyContext", "ProxyError", "ProxySpec", "all_proxies", "get_proxy", "proxy_names", "register_proxy"]
