#!/usr/bin/env bash
# Appended to Otter's setup.sh by make dist: the user that runs submission code on Gradescope.
# It owns nothing, has no shell and no groups; the judge (root) starts runners as this user.
set -euo pipefail
RUNNER_USER=rnn-runner
if ! id "$RUNNER_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$RUNNER_USER"
fi
# Otter's environment lives under /root: let the runner user traverse /root (not list it) and
# read the environment; the judge checks in the runner's first message that it works.
chmod o+x /root
for env in /root/miniforge3 /root/mambaforge; do
  if [ -d "$env" ]; then chmod -R o+rX "$env"; fi
done
