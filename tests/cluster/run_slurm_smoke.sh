#!/usr/bin/env bash
# Run the fixture smoke workflow locally and through a real local SLURM, and check that
#  1. jobs really went through sbatch (the cluster's job-completion log lists them), and
#  2. every metrics, claims and summary file is identical to the local run's, wall-clock
#     timings aside (tests/cluster/compare_results.py).
# Usage: tests/cluster/run_slurm_smoke.sh   (from the repository root; installs SLURM if needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
py=$root/.venv/bin/python
work=$(mktemp -d /tmp/medrobust-slurm.XXXXXX)
source tests/cluster/slurm_local.sh
trap 'slurm_stop "$work/cluster"' EXIT
slurm_start "$work/cluster"

"$py" tests/cluster/make_smoke_inputs.py "$work"
export MEDROBUST_MIRROR=$work/mirror HF_HUB_OFFLINE=1
common=(--snakefile "$root/Snakefile" --configfile "$work/smoke.yaml")

# The local side: the test suite's smoke run when it ran this very code, config and mirror
# (tests/cluster/fingerprint.py), else a local run now.
local=$("$py" tests/cluster/fingerprint.py "$work/smoke.yaml" "$work/mirror")
if [ -n "$local" ]; then
  echo "== local run: reusing the test suite's smoke run in $local (same code, config and mirror)"
else
  local=$work/local
  echo "== local run"
  "$py" -m snakemake "${common[@]}" --directory "$local" --cores 2 --quiet rules
fi
echo "== SLURM run"
"$py" -m snakemake "${common[@]}" --directory "$work/slurm" \
  --workflow-profile "$root/workflow/profiles/slurm" --profile "$root/tests/cluster/profile" \
  --jobs 4 --quiet rules

submitted=$(grep -c '^JobId=' "$work/cluster/jobcomp.log" || true)
failed=$(grep '^JobId=' "$work/cluster/jobcomp.log" | grep -vc 'JobState=COMPLETED' || true)
echo "SLURM accounted $submitted jobs ($failed not COMPLETED)"
[ "$submitted" -gt 0 ] || { echo "no job went through sbatch" >&2; exit 1; }
[ "$failed" -eq 0 ] || { echo "some SLURM jobs did not complete" >&2; exit 1; }

"$py" tests/cluster/compare_results.py "$local" "$work/slurm"
rm -rf "$work/local" "$work/slurm" "$work/mirror"
