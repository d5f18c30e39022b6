"""Transparent interception: the packet filter rules the init container installs in the pod's network
namespace.

Every inbound TCP connection goes to the proxy's inbound port (mTLS, authorization, then the application),
every outbound TCP connection of the application to its outbound port (routing, split, mTLS). The proxy reads
where each was going with ``SO_ORIGINAL_DST`` (:mod:`reference_mesh.proxy.transparent`). Left alone:

* connections of the proxy itself (its user id): otherwise its own upstream connections would loop back;
* loopback traffic (``-o lo``: 127.0.0.1 and the pod's own address): the proxy reaching the application, and
  the application calling itself;
* inbound: the proxy's admin port (kubelet probes, the control plane reading telemetry) and the ports the pod
  annotates with ``reference-mesh.smi-conformance.io/skip-inbound-ports`` (e.g. a test driver's control port);
* outbound: the ports annotated with ``.../skip-outbound-ports``.

UDP is not intercepted (DNS keeps working untouched; UDPRoutes are not enforced on Kubernetes, see
docs/reference-mesh/kubernetes.md). The rules are IPv4 (``iptables``); both iptables back ends work in kind's
pods (``nft``, Debian's default, and ``legacy``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

import click

from reference_mesh.kube import names

__all__ = ["InterceptionRules", "parse_ports"]

_CHAINS = ("MESH_INBOUND", "MESH_OUTBOUND")


def parse_ports(text: str | None, what: str = "ports") -> tuple[int, ...]:
    """``"8080, 9090"`` -> ``(8080, 9090)``; anything but comma-separated port numbers is a ValueError."""
    ports: list[int] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 65535:
            raise ValueError(f"{what}: {part!r} is not a port number (1-65535)")
        ports.append(int(part))
    return tuple(sorted(set(ports)))


@dataclass(frozen=True)
class InterceptionRules:
    proxy_uid: int = names.PROXY_UID
    inbound_port: int = names.INBOUND_PORT
    outbound_port: int = names.OUTBOUND_PORT
    skip_inbound_ports: tuple[int, ...] = field(default=(names.PROXY_ADMIN_PORT,))
    skip_outbound_ports: tuple[int, ...] = ()

    def restore_input(self) -> str:
        """The rules as ``iptables-restore --noflush`` input (nat table only, in chains of our own)."""
        lines = ["*nat", *(f":{c} - [0:0]" for c in _CHAINS)]
        lines.append("-A PREROUTING -p tcp -j MESH_INBOUND")
        lines += [f"-A MESH_INBOUND -p tcp --dport {p} -j RETURN" for p in self.skip_inbound_ports]
        lines.append(f"-A MESH_INBOUND -p tcp -j REDIRECT --to-ports {self.inbound_port}")
        lines.append("-A OUTPUT -p tcp -j MESH_OUTBOUND")
        lines.append(f"-A MESH_OUTBOUND -m owner --uid-owner {self.proxy_uid} -j RETURN")
        lines.append("-A MESH_OUTBOUND -o lo -j RETURN")
        lines += [f"-A MESH_OUTBOUND -p tcp --dport {p} -j RETURN" for p in self.skip_outbound_ports]
        lines.append(f"-A MESH_OUTBOUND -p tcp -j REDIRECT --to-ports {self.outbound_port}")
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def args(self) -> list[str]:
        """The init container's arguments that reproduce these rules."""
        out = [
            f"--proxy-uid={self.proxy_uid}",
            f"--inbound-port={self.inbound_port}",
            f"--outbound-port={self.outbound_port}",
        ]
        if self.skip_inbound_ports:
            out.append(f"--skip-inbound-ports={','.join(map(str, self.skip_inbound_ports))}")
        if self.skip_outbound_ports:
            out.append(f"--skip-outbound-ports={','.join(map(str, self.skip_outbound_ports))}")
        return out


def _ports_option(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...]:
    try:
        return parse_ports(value, f"--{param.name}".replace("_", "-"))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def restore_command(mode: str) -> list[str]:
    """``iptables-restore`` of the chosen back end (``auto``: the system's default)."""
    binary = {"auto": "iptables-restore", "nft": "iptables-nft-restore", "legacy": "iptables-legacy-restore"}[
        mode
    ]
    if shutil.which(binary) is None:
        raise click.ClickException(f"{binary} not found (the image needs the iptables package)")
    return [binary, "--noflush"]


@click.command()
@click.option("--proxy-uid", type=click.IntRange(0), default=names.PROXY_UID, show_default=True)
@click.option("--inbound-port", type=click.IntRange(1, 65535), default=names.INBOUND_PORT, show_default=True)
@click.option(
    "--outbound-port", type=click.IntRange(1, 65535), default=names.OUTBOUND_PORT, show_default=True
)
@click.option("--skip-inbound-ports", callback=_ports_option, default=str(names.PROXY_ADMIN_PORT))
@click.option("--skip-outbound-ports", callback=_ports_option, default="")
@click.option("--mode", type=click.Choice(["auto", "nft", "legacy"]), default="auto", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the rules; change nothing.")
def main(
    proxy_uid: int,
    inbound_port: int,
    outbound_port: int,
    skip_inbound_ports: Iterable[int],
    skip_outbound_ports: Iterable[int],
    mode: str,
    dry_run: bool,
) -> None:
    """Install the interception rules in this network namespace (the injected init container runs this)."""
    rules = InterceptionRules(
        proxy_uid, inbound_port, outbound_port, tuple(skip_inbound_ports), tuple(skip_outbound_ports)
    ).restore_input()
    click.echo(rules, nl=False)
    if dry_run:
        return
    proc = subprocess.run(restore_command(mode), input=rules, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        click.echo(proc.stderr, err=True, nl=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
