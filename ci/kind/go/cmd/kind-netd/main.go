// Command kind-netd is the pod network of the smi-conformance kind node image: a small, readable stand-in for
// kindnetd, which no package registry serves. On every node it
//
//   - writes the CNI config (bridge + host-local over the node's spec.podCIDR, portmap) once the node has one,
//   - routes every other node's pod CIDR via that node's InternalIP (the nodes share one docker network),
//   - masquerades traffic that leaves the cluster's pod range (nftables; nothing else is NATed),
//   - rejects traffic to the Service ranges that kube-proxy has not translated, so it never leaves the node.
//
// It polls the Nodes list every few seconds instead of watching: clusters here have a handful of nodes and a
// missed event then costs one interval, never a stale route.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg, err := configFromEnv()
	if err != nil {
		log.Fatalf("kind-netd: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	api, err := newAPIClient(cfg.apiEndpoint)
	if err != nil {
		log.Fatalf("kind-netd: %v", err)
	}
	for _, s := range [][2]string{
		{"/proc/sys/net/ipv4/ip_forward", "1"},
		{"/proc/sys/net/bridge/bridge-nf-call-iptables", "1"},
	} {
		if err := os.WriteFile(s[0], []byte(s[1]), 0o644); err != nil {
			log.Printf("kind-netd: warning: %s: %v", s[0], err)
		}
	}
	log.Printf("kind-netd: node %s, cluster pod range %s, API %s", cfg.nodeName, cfg.clusterCIDR, api.base)
	state := &reconciler{cfg: cfg}
	ticker := time.NewTicker(cfg.interval)
	defer ticker.Stop()
	for {
		if err := state.reconcile(ctx, api); err != nil {
			log.Printf("kind-netd: %v", err)
		}
		select {
		case <-ctx.Done():
			log.Printf("kind-netd: stopping; routes and CNI config stay in place")
			return
		case <-ticker.C:
		}
	}
}

type config struct {
	nodeName    string
	clusterCIDR *net.IPNet
	apiEndpoint string
	cniConfPath string
	interval    time.Duration
}

func configFromEnv() (config, error) {
	cfg := config{
		nodeName:    os.Getenv("NODE_NAME"),
		cniConfPath: envOr("CNI_CONFIG_PATH", "/etc/cni/net.d/10-kind-netd.conflist"),
		interval:    3 * time.Second,
	}
	if cfg.nodeName == "" {
		return cfg, fmt.Errorf("NODE_NAME is not set (use the downward API: spec.nodeName)")
	}
	// POD_SUBNET may list an IPv6 range too ("10.244.0.0/16,fd00:10:244::/56"); this network is IPv4 only.
	for _, s := range strings.Split(os.Getenv("POD_SUBNET"), ",") {
		if _, n, err := net.ParseCIDR(strings.TrimSpace(s)); err == nil && n.IP.To4() != nil {
			cfg.clusterCIDR = n
			break
		}
	}
	if cfg.clusterCIDR == nil {
		return cfg, fmt.Errorf("POD_SUBNET %q has no IPv4 range", os.Getenv("POD_SUBNET"))
	}
	// kind sets CONTROL_PLANE_ENDPOINT (host:port) so we need not wait for kube-proxy's Service rules.
	cfg.apiEndpoint = os.Getenv("CONTROL_PLANE_ENDPOINT")
	if cfg.apiEndpoint == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return cfg, fmt.Errorf("neither CONTROL_PLANE_ENDPOINT nor KUBERNETES_SERVICE_HOST/PORT is set")
		}
		cfg.apiEndpoint = net.JoinHostPort(host, port)
	}
	if d, err := time.ParseDuration(os.Getenv("RESYNC_INTERVAL")); err == nil && d > 0 {
		cfg.interval = d
	}
	return cfg, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
