package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol tags the routes kind-netd owns, so it removes only its own when a node goes away.
const routeProtocol = netlink.RouteProtocol(77)

const nftTable = "kind-netd"

type reconciler struct {
	cfg       config
	cniConfig []byte
	nftRules  string // what the nftables table was last built for
}

func (r *reconciler) reconcile(ctx context.Context, api *apiClient) error {
	services, err := api.serviceCIDRs4(ctx)
	if err != nil {
		return err
	}
	if key := fmt.Sprint(r.cfg.clusterCIDR, services); key != r.nftRules {
		if err := ensureNftables(r.cfg.clusterCIDR, services); err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
		r.nftRules = key
		log.Printf("kind-netd: masquerading traffic from %s to outside it; Service ranges %v never leave the node",
			r.cfg.clusterCIDR, services)
	}
	nodes, err := api.listNodes(ctx)
	if err != nil {
		return err
	}
	want := map[string]netlink.Route{}
	for _, n := range nodes {
		cidr := n.podCIDR4()
		if n.Metadata.Name == r.cfg.nodeName {
			if cidr != nil {
				if err := r.writeCNIConfig(cidr); err != nil {
					return err
				}
			}
			continue
		}
		gw := n.internalIP4()
		if cidr == nil || gw == nil {
			continue // not ready yet: no pod range allocated or no address reported
		}
		want[cidr.String()] = netlink.Route{Dst: cidr, Gw: gw, Protocol: routeProtocol}
	}
	return syncRoutes(want)
}

func (r *reconciler) writeCNIConfig(podCIDR *net.IPNet) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kind-netd",
		"plugins": []map[string]any{
			{
				"type":        "bridge",
				"bridge":      "kind-netd0",
				"isGateway":   true,
				"hairpinMode": true, // a pod reaching itself through its Service
				"ipMasq":      false,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": podCIDR.String()}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if bytes.Equal(data, r.cniConfig) {
		return nil
	}
	// write next to the target and rename: the runtime watches the directory and must never read half a file
	path := r.cfg.cniConfPath
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("CNI config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("CNI config: %w", err)
	}
	r.cniConfig = data
	log.Printf("kind-netd: wrote %s for pod range %s", path, podCIDR)
	return nil
}

func syncRoutes(want map[string]netlink.Route) error {
	have, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, route := range have {
		if w, ok := want[route.Dst.String()]; ok && w.Gw.Equal(route.Gw) {
			delete(want, route.Dst.String())
			continue
		}
		if err := netlink.RouteDel(&route); err != nil {
			return fmt.Errorf("delete route %s via %s: %w", route.Dst, route.Gw, err)
		}
		log.Printf("kind-netd: removed route %s via %s", route.Dst, route.Gw)
	}
	for _, route := range want {
		route := route
		if err := netlink.RouteReplace(&route); err != nil {
			return fmt.Errorf("route %s via %s: %w", route.Dst, route.Gw, err)
		}
		log.Printf("kind-netd: route %s via %s", route.Dst, route.Gw)
	}
	return nil
}

// ensureNftables installs, in one atomic batch, the table
//
//	table ip kind-netd {
//	  chain postrouting { type nat hook postrouting priority srcnat;
//	    ip saddr CLUSTER ip daddr != CLUSTER masquerade }
//	  chain output  { type filter hook output  priority filter; ip daddr SERVICES reject }
//	  chain forward { type filter hook forward priority filter; ip daddr SERVICES reject }
//	}
//
// Masquerading lets pods reach addresses outside the cluster (the docker network, the host) while pod-to-pod
// traffic keeps its source address. The reject rules run after kube-proxy's DNAT, so they see only Service
// traffic that kube-proxy has not (yet) translated: a Service created a moment ago. Without them such packets
// would follow the default route off the node, and a client could keep a connection to whatever answers there.
func ensureNftables(cluster *net.IPNet, services []*net.IPNet) error {
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	table := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: nftTable})
	conn.FlushTable(table)
	postrouting := conn.AddChain(&nftables.Chain{
		Name:     "postrouting",
		Table:    table,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	// saddr in CLUSTER, daddr not in CLUSTER
	masq := append(matchNet(12, expr.CmpOpEq, cluster), matchNet(16, expr.CmpOpNeq, cluster)...)
	conn.AddRule(&nftables.Rule{Table: table, Chain: postrouting, Exprs: append(masq, &expr.Masq{})})
	for _, hook := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"output", nftables.ChainHookOutput}, {"forward", nftables.ChainHookForward}} {
		chain := conn.AddChain(&nftables.Chain{
			Name:     hook.name,
			Table:    table,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  hook.hook,
			Priority: nftables.ChainPriorityFilter,
		})
		for _, svc := range services {
			reject := &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 1} // ICMP host unreachable
			conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(matchNet(16, expr.CmpOpEq, svc), reject)})
		}
	}
	return conn.Flush()
}

// matchNet compares the IPv4 address at network-header offset (12 source, 16 destination) with network n.
func matchNet(offset uint32, op expr.CmpOp, n *net.IPNet) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(n.Mask), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(n.IP.To4())},
	}
}
