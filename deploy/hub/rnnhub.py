"""The course on a JupyterHub on one machine: set-up, start, and handing back feedback.

Run with the instructor's environment (``.venv/bin/python deploy/hub/rnnhub.py COMMAND``):

  local                `make class`: a class on 127.0.0.1 under your own account, with demo
                       learners, a shared password, and a home folder each under build/class/
  install              (root) a real class: Unix accounts, folders, the nbgrader course built by
                       ``python -m autograder course``, the exchange, every lesson released
  start                (root) run the hub of a class made by ``install``
  return-feedback A    (root or the grader account) collect lesson A, grade it with
                       ``python -m autograder grade`` and release each learner's feedback
  usable-by-others P   exit status 0 when every account can run the interpreter P (setup.sh)

Who runs what (see deploy/README.md):
- the hub runs as root (``start``) or as you (``local``); it starts each user's server from the
  learner environment (built by setup.sh from the release's requirements.txt: no reference
  rnnkit, no autograder, nbgrader's Assignments tab only);
- the formgrader is a hub-managed service named after the course, running as the grader account
  from the instructor's environment, reachable by the instructor only (group
  ``formgrade-<course>``), as nbgrader's documentation sets it up;
- nbgrader's exchange is a shared folder (mode 1777, owned by root); the course folder, the
  gradebook and every collected submission belong to the grader account alone (mode 700).
"""

import argparse
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CONFIG_FILE = HERE / "jupyterhub_config.py"
ENVIRONMENTS = REPO / ".venv" / "hub-environments.json"
DEFAULT_ROOT = Path("/srv/rnn-course")
DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")
DEFAULT_GRADER = "grader-rnn-course"
SETTINGS_ENV = "RNN_HUB_SETTINGS"  # the hub's config file reads the settings from this path
MARKER_ENV = "RNN_HUB_CLASS"  # every process of one running class carries this variable
ADMIN_TOKEN_ENV = "RNN_HUB_ADMIN_TOKEN"  # optional: a token for scripted control of the hub
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")  # what useradd accepts and nbgrader keeps intact
SUBMISSION_SECRET = re.compile(r"^[0-9a-f]{32,256}$")
SUBMISSION_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{8,15} ?[A-Z]{0,5}$")


class HubError(Exception):
    """The class cannot be set up or started; the message says what to do."""


# --------------------------------------------------------------------------- settings


@dataclass
class Settings:
    """Everything the hub's config and these commands need to know about one class.

    Written to ``<root>/class.json`` by ``install`` or ``local``; jupyterhub_config.py
    reads it from the path in $RNN_HUB_SETTINGS.
    """

    mode: str  # "system": real accounts, PAM log-in, hub as root; "local": one account, demo log-in
    root: str  # the class folder: hub/, grader/, learner-config/ (local: also exchange/, home/)
    exchange: str  # nbgrader's exchange root
    instructor: str
    learners: list
    grader: str  # Unix account of the formgrader service ("" in local mode: the current user)
    learner_venv: str
    instructor_venv: str
    proxy: str  # configurable-http-proxy's executable
    course_id: str = ""
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 9999
    password: str = ""  # local mode: the demo log-in's one password
    assignments: list = field(default_factory=list)

    @property
    def hub_dir(self):
        return Path(self.root) / "hub"

    @property
    def grader_home(self):
        return Path(self.root) / "grader"

    @property
    def course(self):
        return self.grader_home / "course"

    @property
    def grading(self):
        return self.grader_home / "grading"

    @property
    def learner_config(self):
        return Path(self.root) / "learner-config"

    @property
    def homes(self):
        return Path(self.root) / "home"

    @property
    def settings_file(self):
        return Path(self.root) / "class.json"

    @property
    def url(self):
        host = self.ip if self.ip not in ("", "0.0.0.0") else socket.getfqdn()
        return f"http://{host}:{self.port}/"

    def save(self):
        """Write class.json: readable by the grader account in a real class (it holds no secret
        there), by the current account only in a local one (it holds the demo password)."""
        tmp = self.settings_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.chmod(tmp, 0o644 if self.mode == "system" else 0o600)
        os.replace(tmp, self.settings_file)


def load_settings(path):
    """The Settings saved at ``path``; HubError saying how to make them when there are none."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HubError(f"no class settings at {path}: make a class first "
                       f"(`{sys.executable} {HERE / 'rnnhub.py'} install ...` as root, "
                       "or `make class`)") from None
    except (OSError, ValueError) as err:
        raise HubError(f"cannot read the class settings {path}: {err}") from err
    return Settings(**data)


def environments():
    """{"learner_venv", "instructor_venv", "proxy"} as built by setup.sh (`make hub-deps`)."""
    try:
        envs = json.loads(ENVIRONMENTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise HubError(f"the hub's environments are not installed ({ENVIRONMENTS} is missing): "
                       "run `make hub-deps` (needs node and npm: on Debian, "
                       "apt-get install nodejs npm)") from None
    return envs


def venv_bin(venv, name):
    return str(Path(venv) / "bin" / name)


# --------------------------------------------------------------------------- checks


def proxy_problems(s):
    """Why the hub could not start its proxy (empty when it can)."""
    proxy = Path(s.proxy)
    if proxy.is_file() and os.access(proxy, os.X_OK):
        if shutil.which("node"):  # the proxy is a node script: `#!/usr/bin/env node`
            return []
        return [f"configurable-http-proxy is installed at {proxy} but `node` is not on PATH: "
                "install Debian's nodejs (apt-get install nodejs)"]
    return [f"configurable-http-proxy is not installed (expected at {proxy}): run `make hub-deps`, which "
            "installs it from npm into .venv/hub-proxy (needs node and npm: on Debian, "
            "apt-get install nodejs npm)"]


def environment_problems(s):
    """Why the learners' servers or the formgrader service could not start (empty when they can)."""
    problems = []
    for what, venv in (("learner", s.learner_venv), ("instructor", s.instructor_venv)):
        if not Path(venv_bin(venv, "jupyterhub-singleuser")).is_file():
            problems.append(f"the {what} environment {venv} has no jupyterhub-singleuser: "
                            "run `make hub-deps`")
    return problems


# nbgrader's own modes for the folders it makes in <exchange>/<course>/ (exchange/default/*.py)
EXCHANGE_COURSE_MODES = {
    ".": (0o755, "everyone can read the released lessons; only the grader account writes"),
    "outbound": (0o755, "everyone can read the released lessons; only the grader account writes"),
    "inbound": (0o2733, "learners can hand in but cannot list each other's submissions"),
    "feedback": (0o711, "learners can fetch their own feedback but cannot list anyone's"),
}


def exchange_problems(s):
    """What is wrong with nbgrader's exchange folder, each with the command that fixes it."""
    root = Path(s.exchange)
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return [f"the exchange folder {root} does not exist: create it with `mkdir -p {root} && "
                f"chmod 1777 {root}` (`install` does)"]
    if stat.S_ISLNK(st.st_mode):
        return [f"the exchange folder {root} is a symbolic link: make it a real folder "
                "(mkdir -p, chmod 1777)"]
    if not stat.S_ISDIR(st.st_mode):
        return [f"the exchange folder {root} is not a folder"]
    problems = []
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o777 != 0o777:
        problems.append(f"the exchange folder {root} has mode {mode:04o}: nbgrader needs every account to "
                        f"write there (learners fetch and submit through it): chmod 1777 {root}")
    if not mode & stat.S_ISVTX:
        problems.append(f"the exchange folder {root} lacks the sticky bit (mode {mode:04o}): any learner "
                        f"could rename or replace the course's folder in it: chmod 1777 {root}")
    if s.mode == "system" and st.st_uid != 0:
        problems.append(f"the exchange folder {root} belongs to {_owner(st.st_uid)}, not root: "
                        f"chown root:root {root}")
    course = root / s.course_id if s.course_id else None
    if course is not None and course.exists():
        problems += _exchange_course_problems(s, course)
    return problems


def _exchange_course_problems(s, course):
    problems = []
    grader_uid = pwd.getpwnam(s.grader).pw_uid if s.mode == "system" else os.getuid()
    for name, (want, why) in EXCHANGE_COURSE_MODES.items():
        path = course / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            problems.append(f"{path} is not a folder: move it away and release the lessons again")
            continue
        if st.st_uid != grader_uid:
            problems.append(f"{path} belongs to {_owner(st.st_uid)}, not to the grader account "
                            f"{_owner(grader_uid)}: move it away and release the lessons again")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o2777 != want:
            problems.append(f"{path} has mode {mode:04o}; nbgrader makes it {want:04o} so that {why}: "
                            f"chmod {want:04o} {path}")
    return problems


def _owner(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def require(problems):
    if problems:
        raise HubError("\n".join(problems))


def usable_by_others(python):
    """True when an account other than its owner can run the interpreter ``python``.

    A virtual environment's python is a link to an interpreter (pyenv's lives in /root, mode 700):
    every folder on the way to the real file, and its standard library, must be open to others.
    """
    real = Path(os.path.realpath(python))
    probe = subprocess.run([str(real), "-c", "import sys; print(sys.base_prefix)"],
                           capture_output=True, text=True)
    paths = [real]
    if probe.returncode == 0:
        paths.append(Path(probe.stdout.strip()) / "lib")
    for path in paths:
        for folder in [path, *path.parents]:
            try:
                mode = os.stat(folder).st_mode
            except OSError:
                return False
            need = stat.S_IXOTH | (stat.S_IROTH if folder == real else 0)
            if mode & need != need:
                return False
    return True


# --------------------------------------------------------------------------- running things


def free_ports(n):
    """n distinct TCP ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port():
    return free_ports(1)[0]


def port_free(ip, port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip or "0.0.0.0", port))
        except OSError:
            return False
    return True


def grader_env(s):
    """The environment of the grader account's commands: the instructor's tools first on PATH
    (nbgrader runs ``alembic`` by name) and HOME holding its nbgrader_config.py."""
    return {
        "PATH": f"{Path(s.instructor_venv) / 'bin'}:{SYSTEM_PATH}",
        "HOME": str(s.grader_home),
        "USER": s.grader or pwd.getpwuid(os.getuid()).pw_name,
        "LANG": "C.UTF-8",
    }


def as_grader(s):
    """subprocess keyword arguments that run a command as the grader account (none when we are it)."""
    if s.mode != "system" or not s.grader:
        return {}
    account = pwd.getpwnam(s.grader)
    if os.getuid() == account.pw_uid:
        return {}
    if os.getuid() != 0:
        raise HubError(f"run this as root or as the grader account {s.grader}")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def run_grader(s, args, cwd=None, check=True, timeout=900):
    """Run ``args`` as the grader account in ``cwd`` (default: the course); returns the CompletedProcess."""
    proc = subprocess.run([str(a) for a in args], cwd=str(cwd or s.course), env=grader_env(s),
                          capture_output=True, text=True, timeout=timeout, **as_grader(s))
    if check and proc.returncode != 0:
        raise HubError(f"`{' '.join(map(str, args))}` failed ({proc.returncode}):\n"
                       f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc


def nbgrader(s, *args, check=True):
    return run_grader(s, [venv_bin(s.instructor_venv, "nbgrader"), *args], check=check)


# --------------------------------------------------------------------------- the course


GRADER_CONFIG = '''\
"""nbgrader configuration of the grader account (written by deploy/hub/rnnhub.py).

The formgrader service and every nbgrader command of this account read it: the course
folder with its own nbgrader_config.py (the trusted grading pipeline), and the exchange.
"""
c = get_config()  # noqa: F821
load_subconfig({course_config!r})  # noqa: F821
c.CourseDirectory.root = {course!r}
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
'''

LEARNER_CONFIG = '''\
"""nbgrader configuration of every learner's server (written by deploy/hub/rnnhub.py).

The Assignments tab fetches and submits lessons of this course through this exchange.
"""
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
'''


def read_course_id(course):
    """The course id set in the course's generated nbgrader_config.py."""
    text = (Path(course) / "nbgrader_config.py").read_text(encoding="utf-8")
    match = re.search(r"^c\.CourseDirectory\.course_id\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if not match:
        raise HubError(f"{course}/nbgrader_config.py does not set CourseDirectory.course_id")
    return match.group(1)


def prepare_course(s, log=print):
    """Build the course (once), write the nbgrader configurations and release every lesson.

    The course is ``python -m autograder course`` run as the grader account; each folder of its
    release/ becomes an assignment of the exchange (``nbgrader release_assignment``).
    """
    if not (s.course / "nbgrader_config.py").is_file():
        log(f"Building the course in {s.course} (python -m autograder course) ...")
        run_grader(s, [venv_bin(s.instructor_venv, "python"), "-m", "autograder", "course", s.course],
                   cwd=s.grader_home)
    s.course_id = read_course_id(s.course)
    s.assignments = sorted(p.name for p in (s.course / "release").iterdir() if p.is_dir())
    grader_config = GRADER_CONFIG.format(
        course_config=str(s.course / "nbgrader_config.py"), course=str(s.course), course_id=s.course_id,
        exchange=str(s.exchange))
    _as_grader_call(s, _write_files, s.grader_home / ".jupyter",
                    {"nbgrader_config.py": grader_config.encode()})
    s.learner_config.mkdir(parents=True, exist_ok=True)
    os.chmod(s.learner_config, 0o755)
    learner_config = s.learner_config / "nbgrader_config.py"
    learner_config.write_text(LEARNER_CONFIG.format(course_id=s.course_id, exchange=str(s.exchange)),
                              encoding="utf-8")
    os.chmod(learner_config, 0o644)
    require(exchange_problems(s))
    log(f"Releasing {len(s.assignments)} lessons to the exchange {s.exchange} ...")
    release_assignments(s, s.assignments)
    require(exchange_problems(s))


# nbgrader release_assignment for several assignments in one process (what formgrader's Release
# button runs; one `nbgrader release_assignment` command per lesson costs seconds each)
RELEASE_SCRIPT = """\
import sys
from nbgrader.apps.api import NbGraderAPI
from nbgrader.apps.baseapp import NbGrader

app = NbGrader()
app.load_config_file()
app.config.ExchangeReleaseAssignment.force = True
api = NbGraderAPI(config=app.config)
failed = 0
for assignment in sys.argv[1:]:
    result = api.release_assignment(assignment)
    if not result["success"]:
        failed += 1
        print(assignment, result.get("error", ""), result.get("log", ""), file=sys.stderr)
sys.exit(1 if failed else 0)
"""


def release_assignments(s, assignments):
    """Release (again) each assignment of the course to the exchange, as the grader account."""
    run_grader(s, [venv_bin(s.instructor_venv, "python"), "-c", RELEASE_SCRIPT, *assignments])


# --------------------------------------------------------------------------- the hub process


class Hub:
    """One running hub of a class, as a context manager: started, waited for, stopped with all it began.

    Every process of the class (hub, proxy, formgrader, users' servers) carries
    $RNN_HUB_CLASS=<marker> in its environment: stopping ends the hub (which stops the servers it
    started), then any process still carrying the marker, by process id.
    """

    def __init__(self, s, log_file=None, admin_token=None, timeout=90):
        self.s = s
        self.log_file = Path(log_file or s.hub_dir / "jupyterhub.log")
        self.admin_token = admin_token
        self.timeout = timeout
        self.marker = f"{s.root}:{secrets.token_hex(6)}"
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        s = self.s
        require(proxy_problems(s) + environment_problems(s) + exchange_problems(s))
        if not port_free(s.ip, s.port):
            raise HubError(f"port {s.port} is in use on {s.ip or 'all interfaces'}: choose another "
                           "(make class PORT=8010, or --port)")
        for name in ("hub_port", "proxy_api_port", "service_port"):
            if not port_free("127.0.0.1", getattr(s, name)):
                setattr(s, name, free_port())
        s.save()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", ADMIN_TOKEN_ENV)}
        env.update({SETTINGS_ENV: str(s.settings_file), MARKER_ENV: self.marker, "PYTHONUNBUFFERED": "1"})
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', SYSTEM_PATH)}"
        if self.admin_token:
            env[ADMIN_TOKEN_ENV] = self.admin_token
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG_FILE)],
                cwd=str(s.hub_dir), env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self):
        url = f"http://127.0.0.1:{self.s.port}/hub/api"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HubError(f"the hub stopped (status {self.proc.returncode}) while starting; "
                               f"the end of its log {self.log_file}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if "version" in json.loads(response.read()):
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.5)
        raise HubError(f"the hub did not answer at {url} within {self.timeout} s; "
                       f"the end of its log {self.log_file}:\n{self.log_tail()}")

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace=25):
        """Stop the hub (it stops the servers it started), then anything left of this class."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc.pid)
                self.proc.wait(5)
        leftovers = marked_processes(self.marker)
        for pid in leftovers:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.2)
            leftovers = [p for p in leftovers if _alive(p)]
        for pid in leftovers:
            _signal(pid, signal.SIGKILL)
        return leftovers


def marked_processes(marker):
    """Process ids whose environment holds $RNN_HUB_CLASS=<marker> (readable ones: ours, or all as root)."""
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def serve(s, admin_token=None):
    """Run the hub in the foreground until Ctrl-C or SIGTERM; print where it is and who can log in."""
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    hub = Hub(s, admin_token=admin_token)
    try:
        hub.start()
        print(banner(s, hub), flush=True)
        while not stop and hub.proc.poll() is None:
            time.sleep(0.5)
        if hub.proc.poll() is not None and not stop:
            print(f"The hub stopped (status {hub.proc.returncode}); the end of its log:\n{hub.log_tail()}",
                  file=sys.stderr)
            return 1
        print("Stopping the class ...", flush=True)
        return 0
    finally:
        left = hub.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if left:
            print(f"Stopped {len(left)} process(es) the hub had left running.", flush=True)
        print("Stopped.", flush=True)


def banner(s, hub):
    lines = [f"The class is running at {s.url}"]
    if s.mode == "local":
        lines += [f"  learners:   {', '.join(s.learners)}",
                  f"  instructor: {s.instructor} (formgrader: {s.url}services/{s.course_id}/formgrader)",
                  f"  password:   {s.password}   (the same for every login)",
                  f"  home folders: {s.homes}/<login>; the course: {s.course}"]
    else:
        lines += [f"  learners: {len(s.learners)}; instructor: {s.instructor} "
                  f"(formgrader: {s.url}services/{s.course_id}/formgrader)"]
    lines += [f"  hub log: {hub.log_file}", "Press Ctrl-C to stop."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- local class


def make_local(root, learners=3, port=8000, fresh=False):
    """The class of `make class`: everything under the current account, in one folder.

    Inputs:
    - root: the class folder (made if missing; a class made there earlier is kept, with its
      learners, password and work)
    - learners: number of demo learners (learner1, learner2, ...) of a new class
    - port: where the hub listens on 127.0.0.1
    - fresh: delete the class folder first (only if it holds a class: class.json)

    Returns:
    - the class's Settings (not yet saved; the course is not built yet: prepare_course)
    """
    root = Path(root).resolve()
    envs = environments()
    settings_file = root / "class.json"
    if fresh and root.exists():
        if any(root.iterdir()) and not settings_file.is_file():
            raise HubError(f"{root} does not hold a class (no class.json): not deleting it")
        shutil.rmtree(root)
    if settings_file.is_file():
        s = load_settings(settings_file)
        s.port = port
        s.learner_venv, s.instructor_venv = envs["learner_venv"], envs["instructor_venv"]
        s.proxy = envs["proxy"]
    else:
        s = Settings(mode="local", root=str(root), exchange=str(root / "exchange"), instructor="instructor",
                     learners=[f"learner{i}" for i in range(1, learners + 1)], grader="",
                     learner_venv=envs["learner_venv"], instructor_venv=envs["instructor_venv"],
                     proxy=envs["proxy"], port=port, password=secrets.token_urlsafe(9))
    for folder in (s.hub_dir, s.grader_home, s.homes):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    exchange = Path(s.exchange)
    if not exchange.exists():
        exchange.mkdir(parents=True)
        os.chmod(exchange, 0o1777)
    return s


# --------------------------------------------------------------------------- real class (root)


def install(root=DEFAULT_ROOT, exchange=DEFAULT_EXCHANGE, instructor="", learners=(), grader=DEFAULT_GRADER,
            ip="", port=8000, create_users=False, allow_readable_repo=False, log=print):
    """Set up a class on this machine (as root); returns its Settings (saved in <root>/class.json).

    Inputs:
    - root: the class folder (hub state, the grader account's home with the course)
    - exchange: nbgrader's exchange root (made mode 1777, owned by root)
    - instructor: hub login of the instructor (a Unix account); learners: logins of the learners
    - grader: Unix account that owns the course and runs the formgrader service (made if missing)
    - ip, port: where the hub listens ("" = every interface)
    - create_users: make missing instructor and learner accounts (useradd; set passwords with passwd)
    - allow_readable_repo: go on although other accounts can read the reference rnnkit in this
      repository (they must not: learners could read the answers)
    """
    if os.getuid() != 0:
        raise HubError("install sets up accounts and folders: run it as root")
    names = [instructor, *learners]
    bad = [n for n in names + [grader] if not USER_NAME.match(n)]
    if not instructor or bad:
        raise HubError("logins must be lower-case Unix names (letters, digits, _ and -): "
                       f"{bad or 'no instructor'}")
    if instructor in learners or len(set(learners)) != len(learners):
        raise HubError("every login must appear once, and the instructor is not a learner")
    envs = environments()
    reference = REPO / "rnnkit"
    if not allow_readable_repo and _readable_by_others(reference / "lstm.py"):
        raise HubError(f"other accounts can read the reference rnnkit in {REPO}: learners could read the "
                       f"answers. Let only root and the grader account in: chgrp -R {grader} {REPO} && "
                       f"chmod -R o-rwx {REPO} (create the account first: "
                       f"useradd --system --user-group {grader})")
    _ensure_users(names, create_users, log)
    root, exchange = Path(root), Path(exchange)
    _ensure_grader(grader, root / "grader", log)
    s = Settings(mode="system", root=str(root), exchange=str(exchange), instructor=instructor,
                 learners=list(learners), grader=grader, learner_venv=envs["learner_venv"],
                 instructor_venv=envs["instructor_venv"], proxy=envs["proxy"], ip=ip, port=port)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    s.hub_dir.mkdir(exist_ok=True)
    os.chmod(s.hub_dir, 0o700)
    if not exchange.exists():
        exchange.mkdir(parents=True)
        os.chmod(exchange, 0o1777)
    if not usable_by_others(venv_bin(s.learner_venv, "python")):
        raise HubError(f"learners cannot run {s.learner_venv}/bin/python: rebuild it where they can, e.g. "
                       "make hub-deps LEARNER_VENV=/opt/rnn-course/learner HUB_PYTHON=/usr/bin/python3")
    probe = run_grader(s, [venv_bin(s.instructor_venv, "python"), "-c", "import autograder, nbgrader"],
                       cwd=s.grader_home, check=False)
    if probe.returncode != 0:
        raise HubError(f"the grader account cannot use {s.instructor_venv}: {probe.stderr.strip()[-500:]}\n"
                       f"Let it read the repository (chgrp -R {grader} {REPO}) and build the environments "
                       "with a Python every account can run: make hub-deps HUB_PYTHON=/usr/bin/python3")
    prepare_course(s, log=log)
    s.save()
    unit = root / "rnn-course-hub.service"
    unit.write_text(SYSTEMD_UNIT.format(python=sys.executable, script=HERE / "rnnhub.py",
                                        settings=s.settings_file), encoding="utf-8")
    return s


SYSTEMD_UNIT = """\
[Unit]
Description=JupyterHub of the RNN course
After=network.target

[Service]
ExecStart={python} {script} start --settings {settings}
Restart=on-failure
KillMode=mixed

[Install]
WantedBy=multi-user.target
"""


def _readable_by_others(path):
    path = Path(path)
    try:
        if not os.stat(path).st_mode & stat.S_IROTH:
            return False
        return all(os.stat(p).st_mode & stat.S_IXOTH for p in path.parents)
    except OSError:
        return False


def _ensure_users(names, create, log):
    missing = []
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            missing.append(name)
    if missing and not create:
        raise HubError(f"no Unix account for {', '.join(missing)}: create them (useradd --create-home "
                       "--shell /bin/bash NAME, then passwd NAME), or pass --create-users")
    for name in missing:
        log(f"Creating the account {name}")
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        home = Path(pwd.getpwnam(name).pw_dir)
        os.chmod(home, 0o700)


def _ensure_grader(grader, home, log):
    try:
        account = pwd.getpwnam(grader)
    except KeyError:
        log(f"Creating the grader account {grader} (home {home})")
        subprocess.run(["useradd", "--system", "--user-group", "--home-dir", str(home),
                        "--shell", "/bin/bash", grader], check=True)
        account = pwd.getpwnam(grader)
    if Path(account.pw_dir).resolve() != home.resolve():
        raise HubError(f"the grader account {grader} has the home {account.pw_dir}, not {home}: "
                       f"usermod --home {home} {grader}, or choose --root {Path(account.pw_dir).parent}")
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, account.pw_uid, account.pw_gid)
    os.chmod(home, 0o700)


# --------------------------------------------------------------------------- feedback


def return_feedback(s, assignment, collect=True, jobs=None, log=print):
    """Collect ``assignment``, grade it with ``python -m autograder grade``, release the feedback.

    Inputs:
    - s: the class's Settings
    - assignment: the lesson, e.g. "04-lstm"
    - collect: take each learner's latest submission from the exchange first
      (``collect_submissions``); False grades what course/submitted/ holds
    - jobs: notebooks graded at once (default: one per core, at most 4)
    - log: where progress and warnings go

    Returns:
    - {student: "released" or the reason it was not}. The grades and per-check results land in
      <grader home>/grading/ (grades.csv, results.csv, feedback/); each graded learner's page is
      released through nbgrader's exchange, where the learner's Assignments tab fetches it.
    """
    jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    if assignment not in s.assignments:
        raise HubError(f"unknown lesson {assignment!r}; the course's lessons: {', '.join(s.assignments)}")
    quarantine_forged(s, assignment, log)
    if collect:
        collect_submissions(s, assignment, log)
    submitted = s.course / "submitted"
    students = sorted(d.name for d in submitted.iterdir()
                      if (d / assignment).is_dir()) if submitted.is_dir() else []
    if not students:
        raise HubError(f"no submission of {assignment} has been collected: nothing to grade")
    log(f"Grading {len(students)} submission(s) of {assignment} (python -m autograder grade) ...")
    grade = run_grader(s, [venv_bin(s.instructor_venv, "python"), "-m", "autograder", "grade", submitted,
                           "--out", s.grading, "--assignments", assignment, "--jobs", jobs, "--quiet"],
                       cwd=s.grader_home, check=False, timeout=3600)
    if grade.returncode not in (0, 2):
        raise HubError(f"grading failed ({grade.returncode}):\n{grade.stdout[-3000:]}{grade.stderr[-3000:]}")
    log(grade.stdout.strip())
    outcome = {student: _stage_feedback(s, student, assignment) for student in students}
    nbgrader(s, "release_feedback", assignment)
    for student, what in sorted(outcome.items()):
        log(f"  {student}: {what}")
    return outcome


def collect_submissions(s, assignment, log=print):
    """What ``nbgrader collect`` does, without following anything a learner left in the exchange.

    nbgrader's collect (also formgrader's Collect button) copies each learner's latest submission
    out of the exchange with shutil.copytree, as the grader account, following symbolic links. A
    submission stays its learner's, writable, in the exchange: a learner can replace one of its
    files by a link to a file only the grader can read (the reference in source/), and nbgrader
    copies that file in as the learner's work. Here each learner's latest submission (nbgrader's
    rule: the latest timestamp in the folder's name) is copied into
    course/submitted/<student>/<assignment>/ as the grader account, with folders and regular
    files only, each opened without following a link, within nbgrader's size limit; anything
    left out is logged. An earlier copy there (formgrader's Collect button) is replaced, and one
    without a submission in the exchange any more is removed. Returns {student: [left out]}.
    """
    from nbgrader.utils import parse_utc

    from autograder.grading.collect import copy_submission

    inbound = Path(s.exchange) / s.course_id / "inbound"
    latest = {}
    for entry in os.scandir(inbound):
        parts = entry.name.rsplit("+", 3)
        if entry.name.startswith(".") or len(parts) < 3 or parts[1] != assignment:
            continue
        student = parts[0]
        try:
            when = parse_utc(parts[2])
        except (ValueError, OverflowError):
            log(f"WARNING: {entry.name!r}: not a submission's name (no timestamp): left in the exchange")
            continue
        if not USER_NAME.match(student) or not entry.is_dir(follow_symlinks=False):
            log(f"WARNING: {entry.name!r}: not a learner's submission folder: left in the exchange")
            continue
        if student not in latest or when > latest[student][0]:
            latest[student] = (when, entry.name)
    submitted = s.course / "submitted"
    if submitted.is_dir():
        for folder in submitted.iterdir():
            if folder.name not in latest and (folder / assignment).is_dir():
                _as_grader_call(s, shutil.rmtree, folder / assignment)
    left_out = {}
    for student, (_when, name) in sorted(latest.items()):
        dest = submitted / student / assignment
        left_out[student] = _as_grader_call(s, copy_submission, str(inbound / name), str(dest))
        for note in left_out[student]:
            log(f"WARNING: {student}: {note}")
    log(f"Collected {len(latest)} submission(s) of {assignment}.")
    return left_out


def quarantine_forged(s, assignment, log=print):
    """Set aside submissions in the exchange that were handed in under another learner's name.

    nbgrader names a submission after the student id the submitter gives (``nbgrader submit
    --student=someone``) and only warns when the folder's owner differs; here only the owner
    counts. Such a folder is renamed ``.forged+<name>`` in the inbound folder (which the grader
    account owns), where no collect sees it any more. Returns the students concerned. A local
    class (one account for everybody) cannot tell and is left alone.
    """
    if s.mode != "system":
        return []
    inbound = Path(s.exchange) / s.course_id / "inbound"
    claimed = []
    for entry in sorted(inbound.glob(f"*+{glob_escape(assignment)}+*")):
        student = entry.name.rsplit("+", 3)[0]
        owner = _owner(os.lstat(entry).st_uid)
        if owner == student:
            continue
        log(f"WARNING: {entry.name} claims to be from {student} but was handed in by {owner}: set aside, "
            "not graded")
        _as_grader_call(s, os.rename, str(entry), str(inbound / f".forged+{entry.name}"))
        claimed.append(student)
    return sorted(set(claimed))


def _as_grader_call(s, func, *args):
    """func(*args) with the grader account's file-system rights; returns its (JSON-able) result.

    When we are root, it runs in a child process that drops to the grader account first."""
    kwargs = as_grader(s)
    if not kwargs:
        return func(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the grader account, act, report through the pipe, exit
        os.close(read_end)
        code = 1
        try:
            os.setgroups([])
            os.setgid(kwargs["group"])
            os.setuid(kwargs["user"])
            report = {"result": func(*args)}
            code = 0
        except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises
            report = {"error": f"{type(err).__name__}: {err}"}
        try:
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    report = json.loads(data or b"{}")
    if os.waitstatus_to_exitcode(status) != 0 or "error" in report:
        raise HubError(f"{func.__name__}({args[0] if args else ''}) failed as {s.grader}: "
                       f"{report.get('error', 'no report')}")
    return report.get("result")


def glob_escape(text):
    return re.sub(r"([*?\[])", r"[\1]", text)


def _read_small(path, limit=300):
    """A small regular file's text, never following a link or opening a FIFO; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        return None
    return data.decode("utf-8", "replace").strip()


def _stage_feedback(s, student, assignment):
    """Put one learner's page where ``nbgrader release_feedback`` takes it; returns what happened.

    nbgrader releases a page under a name made from the submission's secret, which the learner's
    own nbgrader wrote at submission time (learner-made: read with care) and uses to find it.
    """
    page = s.grading / "feedback" / student / f"{assignment}.html"
    if not page.is_file() or page.is_symlink():
        return f"not released: no feedback page (see {s.grading / 'ungradable.csv'})"
    source = s.course / "submitted" / student / assignment
    stamp = _read_small(source / "timestamp.txt")
    secret = _read_small(source / "submission_secret.txt")
    if not (stamp and SUBMISSION_TIMESTAMP.match(stamp) and secret and SUBMISSION_SECRET.match(secret)):
        return ("not released: the submission's timestamp or secret is missing or damaged "
                "(ask for a resubmission)")
    files = {f"{assignment}.html": page.read_bytes(), "timestamp.txt": stamp.encode(),
             "submission_secret.txt": secret.encode()}
    _as_grader_call(s, _write_files, s.course / "feedback" / student / assignment, files)
    return "released"


def _write_files(folder, files):
    """Write {name: bytes} into folder (made if missing), replacing files, never through a link."""
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        path = os.path.join(folder, name)
        if os.path.lexists(path):
            os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)


# --------------------------------------------------------------------------- command line


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rnnhub", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("local", help="a class on 127.0.0.1 under your account (make class)")
    p.add_argument("--dir", default=str(REPO / "build" / "class"), help="class folder (default build/class)")
    p.add_argument("--learners", type=int, default=3, help="number of demo learners (default 3)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--fresh", action="store_true", help="start over: delete the class folder first")

    p = sub.add_parser("install", help="(root) set up a real class on this machine")
    p.add_argument("--instructor", required=True, help="the instructor's login (a Unix account)")
    p.add_argument("--learners", required=True,
                   help="learners' logins, comma-separated, or @FILE with one login a line")
    p.add_argument("--root", default=str(DEFAULT_ROOT))
    p.add_argument("--exchange", default=str(DEFAULT_EXCHANGE))
    p.add_argument("--grader", default=DEFAULT_GRADER, help="the grader account (made if missing)")
    p.add_argument("--ip", default="", help="address the hub listens on (default: every interface)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--create-users", action="store_true", help="create missing accounts with useradd")
    p.add_argument("--allow-readable-repo", action="store_true",
                   help="go on although other accounts can read this repository's reference rnnkit")

    p = sub.add_parser("start", help="(root) run the hub of a class made by install")
    p.add_argument("--settings", default=str(DEFAULT_ROOT / "class.json"))

    p = sub.add_parser("return-feedback", help="collect, grade and release the feedback of one lesson")
    p.add_argument("assignment", metavar="LESSON", help="e.g. 04-lstm")
    p.add_argument("--settings", default=None, help="default: the grader's class, or build/class")
    p.add_argument("--no-collect", action="store_true", help="grade what is already collected")
    p.add_argument("--jobs", type=int, default=None, help="notebooks graded at once (default: cores, max 4)")

    p = sub.add_parser("usable-by-others", help=argparse.SUPPRESS)
    p.add_argument("python")

    args = parser.parse_args(argv)
    try:
        return _run(args)
    except HubError as err:
        print(f"rnnhub {args.command}: {err}", file=sys.stderr)
        return 1


def _run(args):
    if args.command == "usable-by-others":
        return 0 if usable_by_others(args.python) else 1
    if args.command == "local":
        s = make_local(args.dir, learners=args.learners, port=args.port, fresh=args.fresh)
        require(proxy_problems(s) + environment_problems(s))
        prepare_course(s)
        s.save()
        return serve(s)
    if args.command == "install":
        learners = _read_learners(args.learners)
        s = install(root=args.root, exchange=args.exchange, instructor=args.instructor, learners=learners,
                    grader=args.grader, ip=args.ip, port=args.port, create_users=args.create_users,
                    allow_readable_repo=args.allow_readable_repo)
        print(f"The class is set up in {s.root} ({len(s.learners)} learners, "
              f"lessons: {', '.join(s.assignments)}).")
        print("Set each login's password (passwd NAME), then start the hub:")
        print(f"  {sys.executable} {HERE / 'rnnhub.py'} start --settings {s.settings_file}")
        print(f"or as a service: systemctl link {Path(s.root) / 'rnn-course-hub.service'} && "
              "systemctl enable --now rnn-course-hub")
        return 0
    if args.command == "start":
        s = load_settings(args.settings)
        if s.mode == "system" and os.getuid() != 0:
            raise HubError("the hub of a real class starts each learner's server as that learner: "
                           "run it as root")
        return serve(s)
    if args.command == "return-feedback":
        s = load_settings(args.settings or _default_settings())
        return_feedback(s, args.assignment, collect=not args.no_collect, jobs=args.jobs)
        return 0
    raise HubError(f"unknown command {args.command}")


def _default_settings():
    """The class of this machine, of the grader account running this, or of `make class`."""
    home = Path(os.environ.get("HOME", "/nonexistent"))
    candidates = (DEFAULT_ROOT / "class.json", home.parent / "class.json",
                  REPO / "build" / "class" / "class.json")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise HubError("no class found: pass --settings <class folder>/class.json")


def _read_learners(text):
    if text.startswith("@"):
        lines = Path(text[1:]).read_text(encoding="utf-8").splitlines()
        return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [name.strip() for name in text.split(",") if name.strip()]


if __name__ == "__main__":
    sys.exit(main())
