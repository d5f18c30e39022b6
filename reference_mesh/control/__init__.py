"""The reference mesh's control plane: a store of desired state, admission (validation with the SMI models and
the linter's rules), compilation of SMI into per-proxy :class:`~reference_mesh.proxy.config.ProxyConfig`
snapshots, and their distribution to proxies over mTLS. See docs/reference-mesh/control-plane.md."""
