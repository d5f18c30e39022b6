package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
)

// Labels and annotations the tests look for.
const (
	denyLabel           = "smi-test/deny"
	mutatedByAnnotation = "smi-test/mutated-by"
)

func runWebhook(args []string) error {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	listen := fs.String("listen", ":8443", "address to listen on")
	certFile := fs.String("tls-cert", "", "serving certificate (PEM)")
	keyFile := fs.String("tls-key", "", "serving key (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/validate", admissionHandler(validate))
	mux.HandleFunc("/mutate", admissionHandler(mutate))
	return serveTLS(*listen, *certFile, *keyFile, "", mux)
}

type admissionReview struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *admissionRequest  `json:"request,omitempty"`
	Response   *admissionResponse `json:"response,omitempty"`
}

type admissionRequest struct {
	UID       string          `json:"uid"`
	Operation string          `json:"operation"`
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Object    json.RawMessage `json:"object"`
}

type admissionResponse struct {
	UID       string  `json:"uid"`
	Allowed   bool    `json:"allowed"`
	Result    *status `json:"status,omitempty"`
	PatchType string  `json:"patchType,omitempty"`
	Patch     []byte  `json:"patch,omitempty"` // base64 in JSON, as the API expects
}

type status struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type objectMeta struct {
	Metadata struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func admissionHandler(decide func(*admissionRequest, objectMeta) *admissionResponse) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var review admissionReview
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err == nil {
			err = json.Unmarshal(body, &review)
		}
		if err != nil || review.Request == nil {
			http.Error(w, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		var obj objectMeta
		if err := json.Unmarshal(review.Request.Object, &obj); err != nil {
			http.Error(w, fmt.Sprintf("object: %v", err), http.StatusBadRequest)
			return
		}
		resp := decide(review.Request, obj)
		resp.UID = review.Request.UID
		log.Printf("%s %s %s/%s: allowed=%v", r.URL.Path, review.Request.Operation, review.Request.Namespace,
			review.Request.Name, resp.Allowed)
		writeJSON(w, http.StatusOK, admissionReview{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: resp})
	}
}

func validate(_ *admissionRequest, obj objectMeta) *admissionResponse {
	if obj.Metadata.Labels[denyLabel] == "true" {
		msg := fmt.Sprintf("denied by smi-test webhook %s: label %s=true", identity()["pod"], denyLabel)
		return &admissionResponse{Allowed: false, Result: &status{Code: http.StatusForbidden, Message: msg}}
	}
	return &admissionResponse{Allowed: true}
}

func mutate(_ *admissionRequest, obj objectMeta) *admissionResponse {
	var patch []map[string]any
	if obj.Metadata.Annotations == nil {
		patch = append(patch, map[string]any{"op": "add", "path": "/metadata/annotations", "value": map[string]string{}})
	}
	key := strings.NewReplacer("~", "~0", "/", "~1").Replace(mutatedByAnnotation) // JSON pointer escaping
	patch = append(patch, map[string]any{"op": "add", "path": "/metadata/annotations/" + key, "value": identity()["pod"]})
	data, err := json.Marshal(patch)
	if err != nil {
		return &admissionResponse{Allowed: false, Result: &status{Code: http.StatusInternalServerError, Message: err.Error()}}
	}
	return &admissionResponse{Allowed: true, PatchType: "JSONPatch", Patch: data}
}
