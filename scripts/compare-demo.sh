#!/usr/bin/env bash
# Runs the default demo call at another revision and at the working tree, and compares them:
# the agent's lines word for word, the callee's recognised lines, and the result fields.
# Exits 1 when the agent said something different or the result changed.
#
#   scripts/compare-demo.sh REV        e.g. scripts/compare-demo.sh b649323
#
# Each demo is a real-time call (~75 s). The other revision is built in a temporary worktree into
# its own target directory (target/compare-demo: cargo names workspace crates by their path relative
# to the workspace, so two trees sharing one target directory overwrite each other's crates) and run
# from its own tree, with its own playbooks and personas.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/compare-demo.sh REV}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
target=${CARGO_TARGET_DIR:-$PWD/target}

echo "== building the working tree" >&2
cargo build --release -q -p gymcall
cp "$target/release/gymcall" "$work/gymcall-now"

echo "== building $rev" >&2
git worktree add -q --detach "$work/tree" "$rev"
(cd "$work/tree" && CARGO_TARGET_DIR="$target/compare-demo" cargo build --release -q -p gymcall)
cp "$target/compare-demo/release/gymcall" "$work/gymcall-then"

echo "== demo at $rev" >&2
(cd "$work/tree" && "$work/gymcall-then" demo --json --out "$work/out-then" >"$work/then.json")
echo "== demo at the working tree" >&2
"$work/gymcall-now" demo --json --out "$work/out-now" >"$work/now.json"

python3 - "$work/then.json" "$work/now.json" "$rev" <<'EOF'
import json, sys

then, now = (json.load(open(path)) for path in sys.argv[1:3])
rev = sys.argv[3]

def lines(result, speaker):
    return [turn["text"] for turn in result["transcript"] if turn.get("speaker") == speaker]

agent_same = lines(then, "agent") == lines(now, "agent")
print(f"agent lines: {'identical' if agent_same else 'DIFFERENT'} "
      f"({len(lines(then, 'agent'))} at {rev}, {len(lines(now, 'agent'))} now)")
for speaker in ("agent", "callee"):
    a, b = lines(then, speaker), lines(now, speaker)
    same = sum(1 for x, y in zip(a, b) if x == y)
    print(f"{speaker}: {same} of {max(len(a), len(b))} lines the same")
    for x, y in zip(a, b):
        if x != y:
            print(f"  {rev}: {x}\n  now:  {y}")

def values(result):
    return {name: field.get("value") if isinstance(field, dict) else field
            for name, field in result["fields"].items()}

changed = [name for name in sorted(set(values(then)) | set(values(now)))
           if values(then).get(name) != values(now).get(name)]
print(f"result fields changed: {', '.join(changed) if changed else 'none'}")
for name in changed:
    print(f"  {name}: {values(then).get(name)!r} -> {values(now).get(name)!r}")
# Free text copied verbatim from what was heard follows the recogniser; it is shown, not judged.
judged = [name for name in changed if name != "other_info"]
print(f"outcome: {then.get('outcome')} at {rev}, {now.get('outcome')} now")
sys.exit(0 if agent_same and not judged and then.get("outcome") == now.get("outcome") else 1)
EOF
