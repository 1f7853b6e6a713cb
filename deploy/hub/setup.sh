#!/usr/bin/env bash
# Install what the course's JupyterHub needs (`make hub-deps` runs this), all of it
# under the repository's .venv unless told otherwise, nothing system-wide:
#   - jupyterhub into the instructor's environment (.venv), from requirements-hub.txt;
#   - configurable-http-proxy from npm into .venv/hub-proxy (pinned by proxy/package-lock.json;
#     needs node >= 18 and npm: on Debian, apt-get install nodejs npm);
#   - the learner environment (.venv/learner): a separate virtual environment built from the
#     requirements.txt that `python -m autograder release` writes, plus requirements-server.txt
#     (the single-user server and nbgrader's Assignments tab). nbgrader's instructor parts are
#     disabled there (learner-jupyter/), and the build fails if rnnkit or autograder can be
#     imported from it;
#   - when other accounts cannot run .venv's Python (an interpreter under a private home, such
#     as pyenv in /root), an instructor environment they can run (.venv/instructor) for the
#     formgrader service, which runs as the grader account.
# Where each one is goes to .venv/hub-environments.json, which deploy/hub/rnnhub.py reads.
#
# Settings (environment variables):
#   VENV           the instructor's environment (default: <repo>/.venv; must exist)
#   LEARNER_VENV   where to build the learner environment (default: $VENV/learner). For a real
#                  class put it where every learner can read it and the reference cannot be
#                  reached, e.g. /opt/rnn-course/learner.
#   HUB_PYTHON     the Python the learner and instructor environments are built from
#                  (default: /usr/bin/python3 when it exists, else python3)
# Safe to run again: each part is skipped when it is up to date.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$REPO/.venv}
LEARNER_VENV=${LEARNER_VENV:-$VENV/learner}
if [ -z "${HUB_PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then HUB_PYTHON=/usr/bin/python3; else HUB_PYTHON=python3; fi
fi
PROXY_DIR=$VENV/hub-proxy
PROXY_BIN=$PROXY_DIR/node_modules/.bin/configurable-http-proxy

die() { echo "hub-deps: $*" >&2; exit 1; }
step() { echo "hub-deps: $*"; }
digest() { cat "$@" | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

[ -x "$VENV/bin/python" ] || die "no instructor environment at $VENV: run 'make .venv/.installed' first"
command -v node >/dev/null && command -v npm >/dev/null \
  || die "node and npm are needed for configurable-http-proxy. On Debian: apt-get install nodejs npm"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || die "node $(node --version) is too old: configurable-http-proxy 5.1 needs node >= 18"
"$HUB_PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
  || die "$HUB_PYTHON cannot make virtual environments. On Debian: apt-get install python3-venv"

# 1. The hub, in the instructor's environment.
hub_key=$(digest "$HERE/requirements-hub.txt")
if ! stamp_ok "$VENV/.hub-installed" "$hub_key"; then
  step "installing jupyterhub into $VENV"
  "$VENV/bin/python" -m pip install --quiet -r "$HERE/requirements-hub.txt"
  echo "$hub_key" > "$VENV/.hub-installed"
fi

# 2. The proxy, from npm, exactly as locked.
proxy_key=$(digest "$HERE/proxy/package.json" "$HERE/proxy/package-lock.json")
if ! stamp_ok "$PROXY_DIR/.installed" "$proxy_key" || [ ! -x "$PROXY_BIN" ]; then
  step "installing configurable-http-proxy into $PROXY_DIR"
  rm -rf "$PROXY_DIR"
  mkdir -p "$PROXY_DIR"
  cp "$HERE/proxy/package.json" "$HERE/proxy/package-lock.json" "$PROXY_DIR/"
  npm ci --prefix "$PROXY_DIR" --omit=dev --no-audit --no-fund --loglevel=error
  echo "$proxy_key" > "$PROXY_DIR/.installed"
fi
"$PROXY_BIN" --version >/dev/null || die "$PROXY_BIN does not run (node $(node --version))"

# 3. The learner environment, from the release's own requirements.txt.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VENV/bin/python" -m autograder release "$work/release" >/dev/null
learner_key=$(digest "$work/release/requirements.txt" "$HERE/requirements-server.txt" \
  <("$HUB_PYTHON" -c 'import sys; print(sys.version)'))
if ! stamp_ok "$LEARNER_VENV/.rnn-course-learner" "$learner_key"; then
  step "building the learner environment in $LEARNER_VENV (from the release's requirements.txt)"
  rm -rf "$LEARNER_VENV"
  "$HUB_PYTHON" -m venv "$LEARNER_VENV"
  "$LEARNER_VENV/bin/python" -m pip install --quiet \
    -r "$work/release/requirements.txt" -r "$HERE/requirements-server.txt"
  echo "$learner_key" > "$LEARNER_VENV/.rnn-course-learner"
fi
# Learners get the Assignments tab only: no formgrader, course list or assignment creation, and
# no prompt to fetch JupyterLab's news. learner-jupyter/ holds what `jupyter server extension
# disable --sys-prefix` and `jupyter labextension disable --level=sys_prefix` would write (the
# server file is read after nbgrader's own nbgrader.json, which enables everything); copied on
# every run. The Kubernetes image (deploy/kubernetes/Dockerfile) copies the same files.
cp -R "$HERE/learner-jupyter/." "$LEARNER_VENV/etc/jupyter/"
chmod -R a+rX "$LEARNER_VENV"
# Checked on every run: the learner environment never reaches the reference or the grader.
(cd / && env -i PATH=/usr/bin:/bin "$LEARNER_VENV/bin/python" -c '
import importlib.util, sys
found = [m for m in ("rnnkit", "autograder") if importlib.util.find_spec(m)]
sys.exit("the learner environment can import " + ", ".join(found) if found else 0)
') || die "$LEARNER_VENV is not a learner environment; remove it and run again"

# 4. The formgrader service's environment: .venv itself when every account can run it.
if "$VENV/bin/python" "$HERE/rnnhub.py" usable-by-others "$VENV/bin/python"; then
  INSTRUCTOR_VENV=$VENV
else
  INSTRUCTOR_VENV=$VENV/instructor
  instructor_key=$(digest "$REPO/pyproject.toml" "$HERE/requirements-hub.txt" \
    <("$HUB_PYTHON" -c 'import sys; print(sys.version)'))
  if ! stamp_ok "$INSTRUCTOR_VENV/.rnn-course-instructor" "$instructor_key"; then
    step "other accounts cannot run $VENV/bin/python: building $INSTRUCTOR_VENV from $HUB_PYTHON"
    rm -rf "$INSTRUCTOR_VENV"
    "$HUB_PYTHON" -m venv "$INSTRUCTOR_VENV"
    "$INSTRUCTOR_VENV/bin/python" -m pip install --quiet -e "$REPO" -r "$HERE/requirements-hub.txt"
    chmod -R a+rX "$INSTRUCTOR_VENV"
    echo "$instructor_key" > "$INSTRUCTOR_VENV/.rnn-course-instructor"
  fi
fi

"$VENV/bin/python" - "$VENV/hub-environments.json" "$LEARNER_VENV" "$INSTRUCTOR_VENV" "$PROXY_BIN" <<'EOF'
import json, sys
path, learner, instructor, proxy = sys.argv[1:]
with open(path, "w") as f:
    json.dump({"learner_venv": learner, "instructor_venv": instructor, "proxy": proxy}, f, indent=1)
EOF
step "ready: learner environment $LEARNER_VENV, formgrader environment $INSTRUCTOR_VENV, proxy $PROXY_BIN"
