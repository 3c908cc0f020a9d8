"""Networks the proxy contracts score where a space's seeded pick is slow.

TransNAS-Bench-101's macro skeletons run at 256 px: the seeded pick of the contract kits,
'64-142112-basic', keeps full resolution through its first two modules and costs 3.2 s per fwd+bwd
at batch 2 on one CPU thread; these two cost 0.17 and 0.26 s and hold every module code (1 normal,
2 channels x2, 3 resolution /2, 4 both)."""

PROXY_ARCHS: dict[str, tuple[str, ...]] = {"transnas101_macro": ("64-3434-basic", "64-4341-basic")}
