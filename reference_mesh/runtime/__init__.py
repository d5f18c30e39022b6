"""The embedded runtime: a topology file -> CA, control plane, metrics API, workloads and sidecars on
loopback."""
