#!/usr/bin/env bash
# Lints every IAM policy the kit generates with parliament (Duo Labs' IAM linter, pinned, from
# PyPI; tests/tools/install-parliament.sh), an independent check of the actions, resource ARNs,
# condition keys and escalation paths against AWS's own IAM definitions. Issue 12: IAM checked by
# independent tools, not by us.
#
# It runs the BUILT binaries (target/debug, or $PRIVATELINK_BIN_DIR): `endpoint-service
# iam-policy --output json` and `consumer-cli iam-policy --output json`, in a scoped variant
# (account, region, service id, VPC, private DNS name and zone given) and an unscoped one (the
# defaults, `*`), and writes each document to its own file:
#   operator policy (with and without private DNS), approver role inline policy, approver
#   permissions boundary, approver trust policy, SNS topic policy, the gateway role's policy,
#   consumer policy.
# parliament reads the trust and topic policies as resource policies (they have a Principal).
# Then it runs parliament on each file, with the community auditors, at every severity, and
# fails on any finding not listed in tests/tools/iam-lint-exceptions.yaml (by finding type, file
# and statement Sid, each with the reason it is right; the format is described there), and on
# any listed exception that no longer matches a finding.
#
# Prints the number of policies linted and of findings; exits non-zero on any finding.
# Called by tests/run.sh after `cargo test` (which builds the binaries).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
bin_dir="${PRIVATELINK_BIN_DIR:-$repo_root/target/debug}"
exceptions="$here/iam-lint-exceptions.yaml"

for bin in endpoint-service consumer-cli; do
  if [[ ! -x "$bin_dir/$bin" ]]; then
    echo "lint-iam: $bin_dir/$bin is not built: run cargo test --workspace (or cargo build) first" >&2
    exit 1
  fi
done

parliament="$("$here/install-parliament.sh" | tail -n 1)"
python="$(dirname "$parliament")/python"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The provider's documents. The stack is named like a real one; --stack needs no config file.
"$bin_dir/endpoint-service" iam-policy --stack acme-api --account 123456789012 --region us-east-1 \
  --service-id vpce-svc-0123456789abcdef0 --private-dns-name api.acme.example \
  --hosted-zone-id Z0123456789ABCDEFGHIJ --output json >"$out/provider-scoped.out"
"$bin_dir/endpoint-service" iam-policy --stack acme-api --output json >"$out/provider-unscoped.out"
# The consumer's.
"$bin_dir/consumer-cli" iam-policy --account 222222222222 --region us-east-1 --vpc vpc-0abc1234def567890 \
  --dns-name api.acme.example \
  --service-name com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0 --output json >"$out/consumer-scoped.out"
"$bin_dir/consumer-cli" iam-policy --output json >"$out/consumer-unscoped.out"
# The consumer's, for a cross-Region endpoint (adds vpce:AllowMultiRegion).
"$bin_dir/consumer-cli" iam-policy --account 222222222222 --region us-west-2 --vpc vpc-0abc1234def567890 \
  --service-name com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0 --service-region us-east-1 \
  --output json >"$out/consumer-crossregion.out"

# One file per document: <variant>-<document>.json.
"$python" - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
documents = {
    "provider": ["operator_policy", "approver_role_policy", "approver_boundary_policy",
                 "approver_trust_policy", "topic_policy", "boundary_admin_policy",
                 "gateway_role_policy"],
    "consumer": ["consumer_policy"],
}
for report in sorted(out.glob("*.out")):
    kind, variant = report.stem.split("-")
    data = json.loads(report.read_text())
    for name in documents[kind]:
        if name not in data:
            sys.exit(f"lint-iam: {report.name} has no {name}")
        (out / f"{kind}-{variant}-{name}.json").write_text(json.dumps(data[name], indent=2))
PY

# parliament 1.6.4 stops with "Unknown data format: ArrayOfARN" on a condition key of that
# type (the operator policy's events:TargetArn): its translate_documentation_types() knows
# String/ArrayOfString, ARN, Bool, Numeric, Date and Ip only, although its own bundled
# iam_definition.json also uses ArrayOfARN, ArrayOfBool and IPAddress. This shim maps those to
# the element type and otherwise runs parliament's own CLI unchanged, on the unchanged document.
shim='
import sys
import parliament.statement as statement
translate = statement.translate_documentation_types
aliases = {"ArrayOfARN": "ARN", "ArrayOfBool": "Bool", "IPAddress": "Ip"}
statement.translate_documentation_types = lambda t: translate(aliases.get(t, t))
from parliament.cli import main
sys.exit(main(sys.argv))
'

# Lint each file; collect parliament's JSON findings (one per line) in one stream, tagged with
# the file. Anything else parliament prints (a crash) is a finding too.
policies=0
: >"$out/findings.jsonl"
for file in "$out"/*.json; do
  policies=$((policies + 1))
  name="$(basename "$file")"
  result="$(cd "$out" && "$python" -c "$shim" --files "$name" \
    --include-community-auditors --minimum_severity INFO --json 2>&1)" || true
  printf '%s\n' "$result" | FILE="$name" "$python" -c '
import json, os, sys
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        finding = json.loads(line)
    except ValueError:
        finding = {"issue": "PARLIAMENT_OUTPUT", "detail": line, "location": {}}
    finding["file"] = os.environ["FILE"]
    print(json.dumps(finding))
' >>"$out/findings.jsonl"
done

# Match the findings against the reviewed exceptions, by finding type, file, statement Sid
# (found from the line parliament reports) and detail. An exception that matches nothing is
# stale and fails too, so the file only ever lists findings that exist.
"$python" - "$out" "$exceptions" "$policies" <<'PY'
import json, pathlib, re, sys
import yaml

out, exceptions_path, policies = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
exceptions = yaml.safe_load(open(exceptions_path)) or []
for e in exceptions:
    missing = {"issue", "file", "sid", "why"} - set(e)
    if missing or not str(e.get("why", "")).strip():
        sys.exit(f"lint-iam: exception {e} lacks {sorted(missing) or ['a why']}")
    e["used"] = 0

def statement_sid(file, line):
    """The Sid of the statement that holds `line` (parliament's 1-based line)."""
    if not line:
        return ""
    text = (out / file).read_text().splitlines()
    document = json.loads("\n".join(text))
    starts = [n + 1 for n, l in enumerate(text) if l == "    {"]
    before = [s for s in starts if s <= line]
    statements = document.get("Statement", [])
    if not before or not isinstance(statements, list):
        return ""
    return statements[len(before) - 1].get("Sid", "")

total = excepted = 0
unexcepted = []
for raw in (out / "findings.jsonl").read_text().splitlines():
    f = json.loads(raw)
    total += 1
    sid = statement_sid(f["file"], f.get("location", {}).get("line"))
    where = {k: v for k, v in f.get("location", {}).items()
             if k not in ("filepath", "line", "column")}
    detail = json.dumps({"detail": f.get("detail"), "location": where})
    match = next((e for e in exceptions
                  if e["issue"] == f["issue"]
                  and re.search(e["file"], f["file"])
                  and re.fullmatch(e["sid"], sid)
                  and re.search(e.get("detail", ""), detail)), None)
    if match:
        match["used"] += 1
        excepted += 1
    else:
        unexcepted.append(f"{f['file']}: {f['issue']} ({f.get('severity', '?')}) in statement "
                          f"{sid or '(whole policy)'}: {f.get('title', '')}: {detail[:400]}")
stale = [e for e in exceptions if e["used"] == 0]
for u in unexcepted:
    print(f"lint-iam: FINDING {u}")
for e in stale:
    print(f"lint-iam: STALE EXCEPTION (matches no finding; remove it): {e['issue']} {e['file']} {e['sid']}")
print(f"lint-iam: {policies} policies linted, {total} finding(s): {excepted} reviewed exception(s) "
      f"({len(exceptions)} in {pathlib.Path(exceptions_path).name}), {len(unexcepted)} not excepted")
if unexcepted or stale:
    print("lint-iam: fix the policy (endpoint-service/src/provision/policy.rs, "
          "consumer-cli/src/iam_policy.rs), or, when the finding is wrong for this policy, add an "
          f"exception with its reason to {exceptions_path}", file=sys.stderr)
    sys.exit(1)
PY
echo "lint-iam: parliament $("$parliament" --version 2>&1 | tail -n 1 | awk '{print $NF}'): no findings beyond the reviewed exceptions"
