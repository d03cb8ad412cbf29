#!/usr/bin/env bash
# Appended to Otter's setup.sh by make dist: the user that runs submission code on Gradescope.
# It owns nothing, has no shell and no groups; the judge (root) starts runners as this user.
set -euo pipefail
RUNNER_USER=rnn-runner
if ! id "$RUNNER_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$RUNNER_USER"
fi
# The environment Otter's setup.sh built (where its mamba lives, on the PATH it exported): the
# runner user may read it and pass through the folders above it (not list them). The judge checks
# in the runner's first message that this works.
if command -v mamba >/dev/null 2>&1; then
  base="$(dirname "$(dirname "$(command -v mamba)")")"
  chmod -R o+rX "$base"
  folder="$(dirname "$base")"
  while [ "$folder" != "/" ]; do chmod o+x "$folder"; folder="$(dirname "$folder")"; done
fi
