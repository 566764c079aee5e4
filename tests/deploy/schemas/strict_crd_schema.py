"""Turn a CustomResourceDefinition's openAPIV3Schema into a strict JSON schema, kept in git.

The tests validate custom resources offline against it. Unknown fields are errors, as with
`kubectl apply` (strict field validation), so a misspelt key fails the test instead of being
pruned silently by the cluster. Only the named top-level `spec` fields are kept: the whole
schema of KServe's InferenceService is large, and the manifests use only `predictor`.

    python tests/deploy/schemas/strict_crd_schema.py CRD.yaml OUT.json predictor
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any) -> Any:
    """The schema with `additionalProperties: false` wherever properties are listed."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: strict(value) for key, value in node.items()}
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        node["additionalProperties"] = False
    return node


def extract(crd: dict[str, Any], keep: list[str]) -> dict[str, Any]:
    """The storage version's schema, its `spec` cut down to the fields in `keep`."""
    [version] = [v for v in crd["spec"]["versions"] if v.get("storage")]
    schema = version["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    spec["properties"] = {name: spec["properties"][name] for name in keep}
    schema["properties"] = {
        name: schema["properties"][name] for name in ("apiVersion", "kind", "metadata", "spec")
    }
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"{crd['spec']['names']['kind']} ({crd['spec']['group']}/{version['name']})",
        **strict(schema),
    }


if __name__ == "__main__":
    source, target, *kept = sys.argv[1:]
    result = extract(yaml.safe_load(Path(source).read_text()), kept)
    Path(target).write_text(json.dumps(result, separators=(",", ":"), sort_keys=True) + "\n")
