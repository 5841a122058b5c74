#!/usr/bin/env python3
"""x509-limbo through `smtpsec-verify --pkix-only` (steps 6 and 8).

Runs every SERVER testcase that names a DNS peer: writes the trusted
certificates (the CA file) and the peer certificate followed by the
untrusted intermediates (the chain), runs

    smtpsec-verify --pkix-only --name PEER --ca-file roots.pem
                   --chain chain.pem [--at VALIDATION_TIME]

and compares the exit status with expected_result (SUCCESS 0, FAILURE 1).
Any other status (2 local error, 64 usage, a signal, a timeout) is a
harness error, never an agreement.

Cases listed in the exceptions file (`<case id>  <reason>`, `#` comments)
are expected to disagree: PASS while they do, FAIL once they agree or when
the id is not a selected case, so the list stays honest.

Prints one `PASS: t_limbo.<id>` / `FAIL: t_limbo.<id>: ...` line per case
and a summary; exits 1 when anything failed.
"""
import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

NAME = "t_limbo"
VERDICT = {0: "SUCCESS", 1: "FAILURE"}
CHAIN_MAX = 10    # VFY_CHAIN_MAX_CERTS: certificates a chain may hold, leaf included


def selected(cases):
    return [c for c in cases
            if c["validation_kind"] == "SERVER"
            and (c.get("expected_peer_name") or {}).get("kind") == "DNS"]


def load_exceptions(path):
    ex = {}
    if path is None or not os.path.exists(path):
        return ex
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                sys.exit("%s:%d: want `<case id>  <reason>`" % (path, n))
            if parts[0] in ex:
                sys.exit("%s:%d: %s listed twice" % (path, n, parts[0]))
            ex[parts[0]] = parts[1]
    return ex


def run_case(c, verify, tmp, timeout):
    d = os.path.join(tmp, c["id"].replace("::", "__").replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    roots = os.path.join(d, "roots.pem")
    chain = os.path.join(d, "chain.pem")
    with open(roots, "w") as f:
        f.write("".join(p if p.endswith("\n") else p + "\n" for p in c["trusted_certs"]))
    with open(chain, "w") as f:
        for p in [c["peer_certificate"]] + c["untrusted_intermediates"]:
            f.write(p if p.endswith("\n") else p + "\n")
    argv = [verify, "--pkix-only", "--name", c["expected_peer_name"]["value"],
            "--ca-file", roots, "--chain", chain]
    if c.get("validation_time"):
        argv += ["--at", c["validation_time"]]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        rc, out = p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        rc, out = "timeout", "(no verdict within %ds)" % timeout
    return rc, out


def why(out):
    """The verdict lines, one line."""
    keep = [l for l in out.splitlines()
            if l.startswith(("chain: fail", "step 6", "step 8 pkix: fail", "step 8 pkix: pass",
                             "smtpsec-verify", "(no verdict"))]
    return "; ".join(keep) if keep else out.strip().replace("\n", "; ")[:300]


def notes(c):
    n = []
    if c.get("max_chain_depth") is not None:
        n.append("max_chain_depth=%d (ours: at most %d sent certificates, leaf included)"
                 % (c["max_chain_depth"], CHAIN_MAX))
    if c.get("features"):
        n.append("features=" + ",".join(c["features"]))
    if c.get("extended_key_usage"):
        n.append("eku=" + ",".join(c["extended_key_usage"]))
    if c.get("key_usage"):
        n.append("ku=" + ",".join(c["key_usage"]))
    if c.get("conflicts_with"):
        n.append("conflicts_with=" + ",".join(c["conflicts_with"]))
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limbo", required=True)
    ap.add_argument("--verify", required=True)
    ap.add_argument("--exceptions")
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("LIMBO_JOBS", "1")))
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--verbose", action="store_true", help="print every case's output")
    ap.add_argument("ids", nargs="*", help="only these case ids")
    a = ap.parse_args()

    with open(a.limbo) as f:
        cases = selected(json.load(f)["testcases"])
    ex = load_exceptions(a.exceptions)
    known = {c["id"] for c in cases}
    if a.ids:
        cases = [c for c in cases if c["id"] in a.ids]

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        results = list(pool.map(lambda c: run_case(c, a.verify, a.tmp, a.timeout), cases))

    agree = listed = unexpected = harness = stale = 0
    for c, (rc, out) in zip(cases, results):
        cid, want = c["id"], c["expected_result"]
        got = VERDICT.get(rc)
        extra = notes(c)
        if a.verbose:
            print("# %s: exit %s\n%s" % (cid, rc, "".join("#   " + l + "\n" for l in out.splitlines())),
                  end="")
        if got is None:
            harness += 1
            print("FAIL: %s.%s: harness error: exit %s: %s" % (NAME, cid, rc, why(out)))
        elif cid in ex:
            if got != want:
                listed += 1
                print("PASS: %s.%s: listed exception (expected %s, we say %s): %s"
                      % (NAME, cid, want, got, ex[cid]))
            else:
                stale += 1
                print("FAIL: %s.%s: listed in the exceptions file but now agrees (%s): "
                      "remove it" % (NAME, cid, want))
        elif got == want:
            agree += 1
            print("PASS: %s.%s" % (NAME, cid))
        else:
            unexpected += 1
            print("FAIL: %s.%s: expected %s, we say %s: %s" % (NAME, cid, want, got, why(out)))
            print("#   %s" % " ".join(c["description"].split()))
            for n in extra:
                print("#   %s" % n)
    for cid in sorted(set(ex) - known):
        stale += 1
        print("FAIL: %s.exceptions: %s is not a SERVER/DNS case of %s" % (NAME, cid, a.limbo))
    print("%s summary: %d cases: %d agree, %d listed exceptions, %d unexpected "
          "disagreements, %d harness errors, %d stale exceptions"
          % (NAME, len(cases), agree, listed, unexpected, harness, stale))
    return 1 if unexpected or harness or stale else 0


if __name__ == "__main__":
    sys.exit(main())
