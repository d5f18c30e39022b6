package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

// serveTLS serves handler with the given key pair. With clientCA set, client certificates are verified against
// it when offered (the aggregator presents its front-proxy certificate); handlers decide whether one is required.
func serveTLS(listen, certFile, keyFile, clientCA string, handler http.Handler) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("client CA: no certificate in %s", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	server := &http.Server{Addr: listen, Handler: logRequests(handler), TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("serving HTTPS on %s as %v", listen, identity())
	return server.ListenAndServeTLS("", "")
}
