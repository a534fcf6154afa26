#!/usr/bin/env bash
# The CI gate's steps, runnable locally: evaluate a candidate checkpoint with orcabench,
# then gate it against a stored baseline run. Exit code: 0 pass, 1 regression, 2 bad input,
# 3 inconclusive (the data could not settle a required task: more pairs, or a wider margin).
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
#   ORCABENCH_SEQUENTIAL=1 the anytime-valid gate: orcabench runs the candidate itself in seeded chunks on the
#                          baseline's examples and stops once every required task is settled; ORCABENCH_RUN_ARGS
#                          then takes the gate's run flags (--backend, --batch-size, --max-tokens, --data-dir, --engine-arg)
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

if [[ "${ORCABENCH_SEQUENTIAL:-0}" == 1 && "${ORCABENCH_SKIP_RUN:-0}" != 1 ]]; then
    # One command runs and gates; a retried job resumes the candidate's run with the same seed and chunks.
    args=(gate --baseline "$baseline" --candidate-model "$model" --candidate-output "$candidate" --sequential --out "$out")
    if [[ -n "${ORCABENCH_GATE_CONFIG:-}" ]]; then
        args+=(--config "$ORCABENCH_GATE_CONFIG")
    fi
    # shellcheck disable=SC2086  # ORCABENCH_RUN_ARGS is a list of flags
    exec "$orcabench" "${args[@]}" ${ORCABENCH_RUN_ARGS:-}
fi

if [[ "${ORCABENCH_SKIP_RUN:-0}" != 1 ]]; then
    tasks=${ORCABENCH_TASKS:-$(python3 -c 'import json, sys; print(",".join(json.load(open(sys.argv[1]))["fingerprint"]["tasks"]))' "$baseline/manifest.json")}
    # Re-running resumes: a CI retry after a crash or preemption only computes what is missing.
    # shellcheck disable=SC2086  # ORCABENCH_RUN_ARGS is a list of flags
    "$orcabench" run --model "$model" --tasks "$tasks" --output "$candidate" ${ORCABENCH_RUN_ARGS:-}
fi

args=(gate --baseline "$baseline" --candidate "$candidate" --out "$out")
if [[ "${ORCABENCH_SEQUENTIAL:-0}" == 1 ]]; then
    args+=(--sequential)  # with ORCABENCH_SKIP_RUN=1: replay the sequence on the stored candidate run
fi
if [[ -n "${ORCABENCH_GATE_CONFIG:-}" ]]; then
    args+=(--config "$ORCABENCH_GATE_CONFIG")
fi
"$orcabench" "${args[@]}"
