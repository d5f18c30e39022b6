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
)

// routeProtocol tags the routes kind-netd owns, so it removes only its own when a node goes away.
const routeProtocol = netlink.RouteProtocol(77)

const nftTable = "kind-netd"

type reconciler struct {
	cfg       config
	cniConfig []byte
	masqOK    bool
}

func (r *reconciler) reconcile(ctx context.Context, api *apiClient) error {
	if !r.masqOK {
		if err := ensureMasquerade(r.cfg.clusterCIDR); err != nil {
			return fmt.Errorf("masquerade: %w", err)
		}
		r.masqOK = true
		log.Printf("kind-netd: masquerading traffic from %s to outside it", r.cfg.clusterCIDR)
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

// ensureMasquerade installs, in one atomic batch, the table
//
//	table ip kind-netd { chain postrouting { type nat hook postrouting priority srcnat;
//	    ip saddr CLUSTER ip daddr != CLUSTER masquerade } }
//
// so pods reach addresses outside the cluster (the docker network, the host) while pod-to-pod traffic keeps
// its source address.
func ensureMasquerade(cluster *net.IPNet) error {
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	table := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: nftTable})
	conn.FlushTable(table)
	chain := conn.AddChain(&nftables.Chain{
		Name:     "postrouting",
		Table:    table,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	network, mask := []byte(cluster.IP.To4()), []byte(cluster.Mask)
	match := func(offset uint32, op expr.CmpOp) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: op, Register: 1, Data: network},
		}
	}
	exprs := append(match(12, expr.CmpOpEq), match(16, expr.CmpOpNeq)...) // saddr, daddr
	conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(exprs, &expr.Masq{})})
	return conn.Flush()
}
