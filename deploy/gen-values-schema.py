#!/usr/bin/env python3
"""Write helm/gym-call-agent/values.schema.json from values.yaml, so helm rejects a misspelled key
or a wrong type at install time.

Types come from the defaults: a string default "" also accepts a number (the service parses it),
free-form maps (annotations, resources, selectors ...) accept any keys, every other object accepts
only the keys values.yaml documents. Run after editing values.yaml; test_deploy.py checks that the
committed schema is up to date.
"""
import json
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parent.parent / "helm" / "gym-call-agent"
FREE_FORM = {
    "podAnnotations", "nodeSelector", "affinity", "annotations", "extra", "resources", "requests",
    "limits", "podSecurityContext", "securityContext", "seccompProfile", "capabilities",
}
ENUMS = {
    "mediaWorker.kind": ["Deployment", "DaemonSet"],
    "image.pullPolicy": ["Always", "IfNotPresent", "Never"],
    "nats.image.pullPolicy": ["Always", "IfNotPresent", "Never"],
    "gateway.service.type": ["ClusterIP", "NodePort", "LoadBalancer"],
}


def schema_for(value, path: str, name: str) -> dict:
    if path in ENUMS:
        return {"type": "string", "enum": ENUMS[path]}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": ["string", "number"]} if value == "" else {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        if name in FREE_FORM:
            return {"type": "object"}
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: schema_for(v, f"{path}.{k}" if path else k, k) for k, v in value.items()},
        }
    raise TypeError(f"{path}: unsupported default {value!r}")


def generate() -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = {"$schema": "https://json-schema.org/draft-07/schema#", "title": "gym-call-agent values"}
    schema.update(schema_for(values, "", ""))
    schema["properties"]["global"] = {"type": "object"}  # helm adds it for subchart compatibility
    return json.dumps(schema, indent=2) + "\n"


if __name__ == "__main__":
    out = CHART / "values.schema.json"
    text = generate()
    if "--check" in sys.argv:
        sys.exit(0 if out.exists() and out.read_text() == text else "values.schema.json is out of date: run deploy/gen-values-schema.py")
    out.write_text(text)
    print(f"wrote {out}")
