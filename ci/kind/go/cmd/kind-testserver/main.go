// Command kind-testserver is the workload the kind cluster tests run as pods: one static binary, four roles.
//
//	kind-testserver echo [-listen :8080]            HTTP server answering with who it is (pod, node, IP)
//	kind-testserver get URL [-timeout 60s]           client: GET until it answers 200, print the body, exit
//	kind-testserver webhook -tls-cert F -tls-key F   validating (/validate) and mutating (/mutate) admission webhook
//	kind-testserver apiservice -tls-cert F -tls-key F [-requestheader-ca F]
//	                                                  aggregated API server for pings.smi-test.example.com/v1
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kind-testserver echo|get|webhook|apiservice [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "echo":
		err = runEcho(os.Args[2:])
	case "get":
		err = runGet(os.Args[2:])
	case "webhook":
		err = runWebhook(os.Args[2:])
	case "apiservice":
		err = runAPIService(os.Args[2:])
	default:
		err = fmt.Errorf("unknown role %q", os.Args[1])
	}
	if err != nil {
		log.Fatalf("kind-testserver %s: %v", os.Args[1], err)
	}
}

// identity is what a pod knows about itself, from the downward API (see the tests' manifests).
func identity() map[string]string {
	host, _ := os.Hostname()
	pod := os.Getenv("POD_NAME")
	if pod == "" {
		pod = host
	}
	return map[string]string{"pod": pod, "node": os.Getenv("NODE_NAME"), "podIP": os.Getenv("POD_IP")}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("write response: %v", err)
	}
}

// logRequests logs every request but the kubelet's probes: method, path, caller, status.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.URL.Path != "/healthz" {
			log.Printf("%s %s from %s: %d", r.Method, r.URL.RequestURI(), r.RemoteAddr, rec.status)
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}
