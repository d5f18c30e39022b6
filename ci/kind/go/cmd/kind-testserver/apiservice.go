package main

import (
	"flag"
	"net/http"
	"strings"
	"time"
)

const (
	apiGroup   = "smi-test.example.com"
	apiVersion = "v1"
	groupVer   = apiGroup + "/" + apiVersion
)

// runAPIService serves a read-only, cluster-scoped resource "pings" behind an APIService. Each Ping reports who
// served it and which user the aggregator said made the request. With -requestheader-ca, identity headers are
// trusted only from a client certificate signed by that CA (the aggregator's front-proxy certificate), as a real
// extension API server must; without a verified certificate the /apis paths answer 401.
func runAPIService(args []string) error {
	fs := flag.NewFlagSet("apiservice", flag.ContinueOnError)
	listen := fs.String("listen", ":8443", "address to listen on")
	certFile := fs.String("tls-cert", "", "serving certificate (PEM)")
	keyFile := fs.String("tls-key", "", "serving key (PEM)")
	requestHeaderCA := fs.String("requestheader-ca", "", "CA that signs the aggregator's client certificate (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc(p, healthz)
	}
	api := http.NewServeMux()
	api.HandleFunc("/apis", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{group()}})
	})
	api.HandleFunc("/apis/"+apiGroup, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, group())
	})
	api.HandleFunc("/apis/"+groupVer, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": groupVer,
			"resources": []any{map[string]any{
				"name": "pings", "singularName": "ping", "namespaced": false, "kind": "Ping", "verbs": []string{"get", "list"},
			}},
		})
	})
	api.HandleFunc("/apis/"+groupVer+"/pings", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"kind": "PingList", "apiVersion": groupVer, "metadata": map[string]any{},
			"items": []any{ping("pong", r)},
		})
	})
	api.HandleFunc("/apis/"+groupVer+"/pings/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/apis/"+groupVer+"/pings/")
		if name == "" || strings.Contains(name, "/") {
			writeJSON(w, http.StatusNotFound, apiStatus(http.StatusNotFound, "NotFound", "no such ping"))
			return
		}
		writeJSON(w, http.StatusOK, ping(name, r))
	})
	mux.Handle("/apis", requireFrontProxy(*requestHeaderCA != "", api))
	mux.Handle("/apis/", requireFrontProxy(*requestHeaderCA != "", api))
	return serveTLS(*listen, *certFile, *keyFile, *requestHeaderCA, mux)
}

func requireFrontProxy(required bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if required && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			writeJSON(w, http.StatusUnauthorized, apiStatus(http.StatusUnauthorized, "Unauthorized",
				"a client certificate signed by the request-header CA is required"))
			return
		}
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, apiStatus(http.StatusMethodNotAllowed, "MethodNotAllowed", "read-only"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func group() map[string]any {
	v := map[string]string{"groupVersion": groupVer, "version": apiVersion}
	return map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": apiGroup, "versions": []any{v}, "preferredVersion": v}
}

func ping(name string, r *http.Request) map[string]any {
	return map[string]any{
		"apiVersion": groupVer, "kind": "Ping",
		"metadata": map[string]any{"name": name, "creationTimestamp": time.Now().UTC().Format(time.RFC3339)},
		"status": map[string]any{
			"servedBy": identity()["pod"],
			"user":     r.Header.Get("X-Remote-User"),
			"groups":   r.Header.Values("X-Remote-Group"),
		},
	}
}

func apiStatus(code int, reason, message string) map[string]any {
	return map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message}
}
