package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// apiClient reads Nodes with the pod's service account. The token is re-read for every request because
// bound service account tokens rotate.
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(endpoint string) (*apiClient, error) {
	caPEM, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		return nil, fmt.Errorf("service account CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("service account CA: no certificate in %s/ca.crt", serviceAccountDir)
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &apiClient{base: "https://" + endpoint, http: &http.Client{Transport: transport, Timeout: 10 * time.Second}}, nil
}

// node is the part of a core/v1 Node that routing needs.
type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR  string   `json:"podCIDR"`
		PodCIDRs []string `json:"podCIDRs"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

// podCIDR4 is the node's IPv4 pod range, or nil before the controller-manager has allocated one.
func (n node) podCIDR4() *net.IPNet {
	for _, s := range append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...) {
		if _, c, err := net.ParseCIDR(s); err == nil && c.IP.To4() != nil {
			return c
		}
	}
	return nil
}

func (n node) internalIP4() net.IP {
	for _, a := range n.Status.Addresses {
		if ip := net.ParseIP(a.Address); a.Type == "InternalIP" && ip != nil && ip.To4() != nil {
			return ip.To4()
		}
	}
	return nil
}

func (c *apiClient) listNodes(ctx context.Context) ([]node, error) {
	var list struct {
		Items []node `json:"items"`
	}
	if err := c.get(ctx, "/api/v1/nodes", &list); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return list.Items, nil
}

// serviceCIDRs4 lists the cluster's IPv4 Service ranges (networking.k8s.io/v1 ServiceCIDR, GA since 1.33).
func (c *apiClient) serviceCIDRs4(ctx context.Context) ([]*net.IPNet, error) {
	var list struct {
		Items []struct {
			Spec struct {
				CIDRs []string `json:"cidrs"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := c.get(ctx, "/apis/networking.k8s.io/v1/servicecidrs", &list); err != nil {
		return nil, fmt.Errorf("list service CIDRs: %w", err)
	}
	var out []*net.IPNet
	for _, item := range list.Items {
		for _, s := range item.Spec.CIDRs {
			if _, n, err := net.ParseCIDR(s); err == nil && n.IP.To4() != nil {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

func (c *apiClient) get(ctx context.Context, path string, into any) error {
	token, err := os.ReadFile(serviceAccountDir + "/token")
	if err != nil {
		return fmt.Errorf("service account token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.200s", resp.Status, body)
	}
	return json.Unmarshal(body, into)
}
