"""JupyterHub configuration of the RNN course on one machine.

Start it through deploy/hub/rnnhub.py (``start`` for a real class, ``local`` for `make class`),
which sets $RNN_HUB_SETTINGS to the class's class.json (written by ``install`` or ``local``)
and checks the proxy, the environments and the exchange first. Run by hand:

    RNN_HUB_SETTINGS=/srv/rnn-course/class.json .venv/bin/jupyterhub -f deploy/hub/jupyterhub_config.py

What it sets up (see deploy/README.md):
- every user's server runs from the learner environment (no reference rnnkit, no autograder,
  nbgrader's Assignments tab only) with a clean environment (no PYTHONPATH from the hub);
- the formgrader is a hub-managed service named after the course (nbgrader's documented set-up
  "one class, multiple graders"): a single-user server of the grader account, in its home where
  the course lives, reachable by the members of the group formgrade-<course> only;
- a real class logs in with the machine's accounts (PAM) and starts each server as that account;
  a local one (`make class`) logs in with one shared password and runs everything as you, each
  user with a home folder of their own.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rnnhub  # noqa: E402

c = get_config()  # noqa: F821

settings_path = os.environ.get(rnnhub.SETTINGS_ENV, str(rnnhub.DEFAULT_ROOT / "class.json"))
s = rnnhub.load_settings(settings_path)
rnnhub.require(rnnhub.proxy_problems(s) + rnnhub.environment_problems(s) + rnnhub.exchange_problems(s))
marker = os.environ.get(rnnhub.MARKER_ENV, s.root)
course = s.course_id

# --- where the hub listens and keeps its state
c.JupyterHub.ip = s.ip
c.JupyterHub.port = s.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = s.hub_port
c.JupyterHub.db_url = "sqlite:///" + str(s.hub_dir / "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = str(s.hub_dir / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(s.hub_dir / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [s.proxy]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(s.hub_dir / "proxy.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every server it started
c.JupyterHub.cleanup_proxy = True

# --- who can log in
c.Authenticator.allowed_users = set(s.learners) | {s.instructor}
c.Authenticator.admin_users = {s.instructor}
if s.mode == "local":
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = s.password
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(s.homes / "{username}")
else:
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False
    c.JupyterHub.spawner_class = "localprocess"

# --- every user's server: the learner environment, nothing inherited from the hub
learner_bin = os.path.join(s.learner_venv, "bin")
c.Spawner.cmd = [os.path.join(learner_bin, "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ"]
c.Spawner.environment = {
    "PATH": f"{learner_bin}:{rnnhub.SYSTEM_PATH}",
    "VIRTUAL_ENV": s.learner_venv,
    # nbgrader_config.py with the course id and the exchange, for the Assignments tab
    "JUPYTER_CONFIG_PATH": str(s.learner_config),
    rnnhub.MARKER_ENV: marker,
}
if s.mode == "local" and os.getuid() == 0:  # `make class` run as root: every server runs as root too
    c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# --- the formgrader: a hub-managed service of the grader account, for the instructor only
instructor_bin = os.path.join(s.instructor_venv, "bin")
formgrader = {
    "name": course,
    "url": f"http://127.0.0.1:{s.service_port}",
    "command": [os.path.join(instructor_bin, "jupyterhub-singleuser")]
    + (["--allow-root"] if s.mode == "local" and os.getuid() == 0 else []),
    "cwd": str(s.grader_home),
    "oauth_no_confirm": True,
    "environment": {
        "JUPYTERHUB_DEFAULT_URL": "/formgrader",
        "PATH": f"{instructor_bin}:{rnnhub.SYSTEM_PATH}",  # nbgrader runs `alembic` by name
        "VIRTUAL_ENV": s.instructor_venv,
        rnnhub.MARKER_ENV: marker,
    },
}
if s.mode == "system":
    formgrader["user"] = s.grader
else:
    formgrader["environment"]["HOME"] = str(s.grader_home)
c.JupyterHub.services = [formgrader]
c.JupyterHub.load_groups = {f"formgrade-{course}": {"users": [s.instructor]}}
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{course}",
        "groups": [f"formgrade-{course}"],
        "scopes": [f"access:services!service={course}", "list:services", f"read:services!service={course}"],
    },
]

# --- optional: a token for scripts (and the project's tests) to drive the hub's REST API
admin_token = os.environ.get(rnnhub.ADMIN_TOKEN_ENV)
if admin_token:
    c.JupyterHub.services.append({"name": "class-admin", "api_token": admin_token})
    c.JupyterHub.load_roles.append({
        "name": "class-admin",
        "services": ["class-admin"],
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users",
                   "access:servers", "access:services"],
    })
