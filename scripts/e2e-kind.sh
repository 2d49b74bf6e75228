#!/usr/bin/env bash
# End-to-end check on a kind cluster, for machines with Docker (CI uses a bare kube-apiserver
# instead; see docs/operator.md). Creates a cluster, installs the CRDs, runs the operator from
# this checkout against it, applies an application and its policy, and waits for Ready.
#
#   scripts/e2e-kind.sh            # KEEP_CLUSTER=1 to keep the cluster afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
for tool in kind kubectl docker openssl; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is needed" >&2; exit 1; }
done
cluster="gatehouse-e2e"
work="$(mktemp -d)"
cleanup() {
  [[ -n "${operator_pid:-}" ]] && kill "$operator_pid" 2>/dev/null || true
  [[ "${KEEP_CLUSTER:-}" == "1" ]] || kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

kind create cluster --name "$cluster" --wait 60s
kubectl config use-context "kind-$cluster"
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established --timeout=30s crd/accessapplications.gatehouse.dev crd/accesspolicies.gatehouse.dev
kubectl create namespace gatehouse-system --dry-run=client -o yaml | kubectl apply -f -

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=gatehouse-operator \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
node bin/gatehouse.ts operator --namespace gatehouse-system --tls-cert-file "$work/tls.crt" --tls-key-file "$work/tls.key" \
  --listen 127.0.0.1:18443 --admin-listen 127.0.0.1:19090 &
operator_pid=$!

kubectl apply --server-side -f - <<'YAML'
apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: { name: staff, namespace: default }
spec:
  decision: allow
  include: [{ emailDomains: [example.com] }]
---
apiVersion: gatehouse.dev/v1alpha1
kind: AccessApplication
metadata: { name: grafana, namespace: default }
spec:
  hosts: [grafana.example.com]
  upstream: { url: "http://127.0.0.1:3000" }
  policies: [{ name: staff }]
YAML
kubectl wait --for=condition=Ready --timeout=30s accessapplication/grafana
kubectl get accessapplications,accesspolicies -o wide
kubectl get secret grafana-gatehouse-keys
echo "e2e-kind: passed"
