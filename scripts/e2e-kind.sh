#!/usr/bin/env bash
# End-to-end check on a kind cluster, for machines with Docker (CI uses a bare kube-apiserver
# instead; see docs/injection.md). Runs the README's cluster quickstart for real: builds the
# image, loads it into kind, installs the CRDs and the chart, applies the example app, opts its
# Deployment in, and checks that the new pods run the sidecar and become Ready.
#
#   scripts/e2e-kind.sh            # KEEP_CLUSTER=1 to keep the cluster afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in kind kubectl docker; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is needed" >&2; exit 1; }
done
HELM="$(bash scripts/helm.sh)"
cluster="gatehouse-e2e"
image="gatehouse.local/gatehouse:e2e"
cleanup() {
  [[ "${KEEP_CLUSTER:-}" == "1" ]] || kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker build -t "$image" .
kind create cluster --name "$cluster" --wait 60s
kubectl config use-context "kind-$cluster"
kind load docker-image "$image" --name "$cluster"

# The README's cluster quickstart, with the locally built image.
kubectl apply --server-side -f crds/
"$HELM" install gatehouse charts/gatehouse --namespace gatehouse-system --create-namespace \
  --set image.repository=gatehouse.local/gatehouse --set image.tag=e2e --set image.pullPolicy=Never
kubectl -n gatehouse-system rollout status deployment/gatehouse-operator --timeout=120s
kubectl -n gatehouse-system get secret gatehouse-operator-tls
kubectl apply -f examples/cluster/storefront.yaml
kubectl -n shop annotate deployment storefront gatehouse.dev/inject=true gatehouse.dev/application=storefront

kubectl -n shop wait --for=condition=Ready --timeout=30s accessapplication/storefront
kubectl -n shop rollout status deployment/storefront --timeout=180s
pod="$(kubectl -n shop get pods -l app=storefront,gatehouse.dev/inject=true -o jsonpath='{.items[0].metadata.name}')"
kubectl -n shop get pod "$pod" -o jsonpath='{.spec.initContainers[0].name}' | grep -qx gatehouse
# Through the Service: /status is let through to nginx (which has no such page: 404); anything
# else needs the office network, so the sidecar answers 403.
kubectl -n shop run probe --rm -i --restart=Never --image=curlimages/curl:8.11.1 -- sh -c '
  code() { curl -s -o /dev/null -w "%{http_code}" -H "Host: storefront.example.com" "http://storefront.shop$1"; }
  test "$(code /status)" = 404 && test "$(code /)" = 403'
echo "e2e-kind: passed"
