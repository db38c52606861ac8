#!/usr/bin/env python3
"""Validates CycloneDX 1.6 JSON files against the CycloneDX 1.6 JSON schema with an
independent implementation: cyclonedx-python-lib's JsonStrictValidator (installed by .ci/run
with the `json-validation` extra).

Usage: validate_cyclonedx.py FILE...   Exit 0: every file is valid; 1: one is not (the
schema's words on stdout); 2: the validator is not installed.
"""
import sys

try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as err:  # a missing test dependency is a failure, not a skip
    print(f"cyclonedx-python-lib[json-validation] is not installed: {err}")
    sys.exit(2)

validator = JsonStrictValidator(SchemaVersion.V1_6)
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        error = validator.validate_str(f.read())
    if error is not None:
        data = getattr(error, "data", None)
        message = getattr(data, "message", None) or str(error)[:2000]
        where = "/".join(str(p) for p in getattr(data, "absolute_path", []))
        print(f"{path}: invalid at /{where}: {message}")
        sys.exit(1)
    print(f"{path}: valid CycloneDX 1.6")
