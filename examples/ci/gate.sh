#!/usr/bin/env bash
# The CI gate's steps, runnable locally: evaluate a candidate checkpoint with orcabench,
# then gate it against a stored baseline run. Exit code: 0 pass, 1 regression, 2 bad input.
#
# Configuration (environment):
#   ORCABENCH_BASELINE     baseline run directory (required)
#   ORCABENCH_MODEL        candidate model: registry name, HF folder/Hub id or model YAML file (default: my-model.yaml)
#   ORCABENCH_CANDIDATE    candidate run directory (default: runs/candidate)
#   ORCABENCH_TASKS        tasks to run (default: the baseline run's tasks, so that every sample can be paired)
#   ORCABENCH_RUN_ARGS     extra `orcabench run` flags, e.g. "--limit 200 --backend vllm" (word-split)
#   ORCABENCH_GATE_CONFIG  gate policy YAML (default: none, the built-in policy)
#   ORCABENCH_OUT          report folder: gate.md, gate.json, gate.junit.xml (default: gate-report)
#   ORCABENCH_SKIP_RUN=1   gate an existing candidate run without running the model
#   ORCABENCH              the orcabench command (default: orcabench)
set -euo pipefail

orcabench=${ORCABENCH:-orcabench}
baseline=${ORCABENCH_BASELINE:?set ORCABENCH_BASELINE to the baseline run directory}
model=${ORCABENCH_MODEL:-my-model.yaml}
candidate=${ORCABENCH_CANDIDATE:-runs/candidate}
out=${ORCABENCH_OUT:-gate-report}

if [[ ! -f "$baseline/manifest.json" ]]; then
    echo "error: $baseline is not an orcabench run (no manifest.json)" >&2
    exit 2
fi

if [[ "${ORCABENCH_SKIP_RUN:-0}" != 1 ]]; then
    tasks=${ORCABENCH_TASKS:-$(python3 -c 'import json, sys; print(",".join(json.load(open(sys.argv[1]))["fingerprint"]["tasks"]))' "$baseline/manifest.json")}
    # Re-running resumes: a CI retry after a crash or preemption only computes what is missing.
    # shellcheck disable=SC2086  # ORCABENCH_RUN_ARGS is a list of flags
    "$orcabench" run --model "$model" --tasks "$tasks" --output "$candidate" ${ORCABENCH_RUN_ARGS:-}
fi

args=(gate --baseline "$baseline" --candidate "$candidate" --out "$out")
if [[ -n "${ORCABENCH_GATE_CONFIG:-}" ]]; then
    args+=(--config "$ORCABENCH_GATE_CONFIG")
fi
"$orcabench" "${args[@]}"
