# shellcheck shell=bash
# Shared by the scripts/test-* suites, which source it after setting SUITE.

step() { printf '\n--- %s: %s\n' "$SUITE" "$*"; }

# Prints how many tests node's test runner reported in the log file $1; fails when it ran none,
# since the runner itself passes when it finds no test at all.
node_tests_ran() {
  local count
  count=$(sed -n 's/^ℹ tests \([0-9]*\)$/\1/p' "$1")
  if [ "${count:-0}" -eq 0 ]; then
    echo "$SUITE: node's test runner ran no test" >&2
    return 1
  fi
  echo "$count"
}

# Summarises checkov's JSON report $1 with the Python interpreter $2; fails on any failed check,
# and when no check ran at all.
checkov_gate() {
  "$2" - "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
summary = report["summary"]
print(f"checkov: passed {summary['passed']}, failed {summary['failed']}, resources {summary['resource_count']}")
for failed in report["results"]["failed_checks"]:
    print(f"  FAILED {failed['check_id']} {failed['check_name']} - {failed['resource']}")
if summary["passed"] == 0:
    sys.exit("checkov: no check ran")
sys.exit(1 if summary["failed"] else 0)
PY
}
