"""The reference mesh on Kubernetes: install, the controller, admission, injection, interception, identity.

Layers (imports go one way, down the list):

* pure: ``names`` (every name, label and port), ``convert``
  (Kubernetes objects -> the control plane's store models), ``inject`` (the sidecar added to a pod),
  ``manifests`` (what ``install`` creates), ``webhooks`` (AdmissionReview in, verdict out);
* the API: ``client`` (configuration, requests by path), ``informer`` (list + watch one resource, relist
  after 410 Gone), ``store`` (:class:`~reference_mesh.control.store.Store` backed by informers), ``install``,
  ``identity`` (certificates after TokenReview);
* processes: ``controller`` (the control plane Deployment), ``sidecar`` (the proxy container),
  ``interception`` (the init container that installs the packet filter rules).

The control plane logic itself (admission, compiler, distributor, metrics API) is the embedded runtime's:
this package feeds it from the Kubernetes API and serves it to the cluster. The snapshot contract gained two
optional fields for it (a service's cluster IPs, the interception ports); the embedded runtime leaves them
out.
"""
