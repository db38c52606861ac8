#!/usr/bin/env python3
"""Loads a chart with the real Helm, as `helm show chart` does, and prints its Chart.yaml.

Helm here is Helm's Go SDK compiled into `libhelm_sdkpy.so`, shipped in the PyPI wheel
`helm-sdkpy` (installed unpacked by `.ci/run`). This script declares the two C functions it
calls and loads the library with cffi; it does not import the wheel's Python package.

    show_chart.py LIB CHART
    show_chart.py --verdict LIB DIR

LIB is the path of libhelm_sdkpy.so. CHART is a packaged chart (`.tgz`), a chart directory,
or an `oci://HOST/PATH/NAME:VERSION` reference, which Helm pulls from the registry first.
For a reference, `HELM_PLAIN_HTTP=1` talks plain HTTP to the registry, and
`HELM_REGISTRY_USERNAME` / `HELM_REGISTRY_PASSWORD` are the registry's credentials (kept in
memory, never written to a Helm config file).

Exit 0: Chart.yaml as Helm read it, on stdout. Exit 1: Helm's own error on stderr.
Exit 2: the library could not be loaded.

With --verdict, DIR is a chart directory as written, and the output is Helm's verdict on it
as JSON: `{"load": ERROR|null, "lint_errors": N, "package": ERROR|null}` — what loading it
(`helm show chart`), `helm lint` (the number of findings of error severity) and
`helm package` say.
"""

import json
import os
import sys
import tempfile

from cffi import FFI

DECLARATIONS = """
typedef unsigned long long helm_sdkpy_handle;
int helm_sdkpy_config_create(const char *namespace, const char *kubeconfig,
                             const char *kubecontext, const char *options_json,
                             helm_sdkpy_handle *handle_out);
void helm_sdkpy_config_destroy(helm_sdkpy_handle handle);
int helm_sdkpy_show_chart(helm_sdkpy_handle handle, const char *chart_path, char **result_json);
int helm_sdkpy_lint(helm_sdkpy_handle handle, const char *chart_path, char **result_json);
int helm_sdkpy_package(helm_sdkpy_handle handle, const char *chart_path, const char *dest_dir, char **result_path);
const char *helm_sdkpy_last_error(void);
void helm_sdkpy_free(void *ptr);
"""


def registry_host(chart):
    if not chart.startswith("oci://"):
        return None
    return chart[len("oci://"):].split("/", 1)[0]


# Helm's lint severities (pkg/chart/v2/lint/support/message.go): unknown, info, warning, error.
ERROR_SEVERITY = 3


def verdict(ffi, lib, handle, last_error, chart_dir):
    out = ffi.new("char **")
    load = None
    if lib.helm_sdkpy_show_chart(handle, chart_dir.encode("utf-8"), out) != 0:
        load = last_error()
    lint_errors = 0
    if lib.helm_sdkpy_lint(handle, chart_dir.encode("utf-8"), out) != 0:
        lint_errors = 1
    else:
        report = json.loads(ffi.string(out[0]).decode("utf-8"))
        lint_errors = sum(1 for m in report.get("Messages") or [] if m.get("Severity") == ERROR_SEVERITY)
    package = None
    with tempfile.TemporaryDirectory() as dest:
        if lib.helm_sdkpy_package(handle, chart_dir.encode("utf-8"), dest.encode("utf-8"), out) != 0:
            package = last_error()
    print(json.dumps({"load": load, "lint_errors": lint_errors, "package": package}))
    return 0


def main(argv):
    mode = "show"
    if len(argv) == 4 and argv[1] == "--verdict":
        mode = "verdict"
        argv = argv[1:]
    if len(argv) != 3:
        print("usage: show_chart.py [--verdict] LIB CHART", file=sys.stderr)
        return 2
    lib_path, chart = argv[1], argv[2]
    ffi = FFI()
    ffi.cdef(DECLARATIONS)
    try:
        lib = ffi.dlopen(lib_path)
    except OSError as err:
        print(f"cannot load Helm from {lib_path}: {err}", file=sys.stderr)
        return 2

    def last_error():
        err = lib.helm_sdkpy_last_error()
        return ffi.string(err).decode("utf-8", "replace") if err != ffi.NULL else "no error text"

    options = {}
    if os.environ.get("HELM_PLAIN_HTTP") == "1":
        options["plain_http"] = True
    user = os.environ.get("HELM_REGISTRY_USERNAME")
    host = registry_host(chart)
    if user is not None and host is not None:
        options["registry_auth"] = {
            host: {"username": user, "password": os.environ.get("HELM_REGISTRY_PASSWORD", "")}
        }
    handle = ffi.new("helm_sdkpy_handle *")
    # No cluster is needed to read a chart: an empty kubeconfig keeps Helm off ~/.kube.
    rc = lib.helm_sdkpy_config_create(b"default", ffi.NULL, ffi.NULL, json.dumps(options).encode(), handle)
    if rc != 0:
        print(f"helm configuration: {last_error()}", file=sys.stderr)
        return 1
    try:
        if mode == "verdict":
            return verdict(ffi, lib, handle[0], last_error, chart)
        out = ffi.new("char **")
        rc = lib.helm_sdkpy_show_chart(handle[0], chart.encode("utf-8"), out)
        if rc != 0:
            print(last_error(), file=sys.stderr)
            return 1
        text = ffi.string(out[0]).decode("utf-8")
        lib.helm_sdkpy_free(out[0])
        sys.stdout.write(text)
        return 0
    finally:
        lib.helm_sdkpy_config_destroy(handle[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
