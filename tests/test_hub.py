"""A real class on JupyterHub, end to end: deploy/hub as an instructor would run it.

The hub runs on 127.0.0.1 with Unix accounts made for the test (so it needs root, as a real
hub does) and the environments of `make hub-deps`. Everything goes through the engines a class
uses: the hub's REST API starts each learner's server; each learner lists, fetches and submits
lesson 04 through that server's nbgrader Assignments handlers, and writes rnnkit/lstm.py through
its contents API; the instructor collects with formgrader's Collect button (the hub-managed
service); ``rnnhub.py return-feedback`` grades with ``python -m autograder grade`` and releases
the feedback; each learner fetches theirs through the Assignments handlers again.

Learners: one writes the answer key (the reference bodies of rnnkit/lstm.py), one the memo's
forget-less state update (s = I*a + s_prev), one nothing; the last also hands in a forged
submission under the first one's name, and turns a file of their own submission in the exchange
into a link to the reference (which nbgrader's own collect copies in): neither may count. Then,
as each learner's own Unix account, nothing of another learner, the gradebook or the course's
source/ may be readable.
Accounts and processes are removed at the end, failing or not.
"""

import csv
import html
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy" / "hub"))
import rnnhub  # noqa: E402

LESSON = "04-lstm"
LESSON_FUNCTIONS = ["forget_gate", "input_gate", "input_activation", "output_gate", "new_state",
                    "final_output", "lstm_step"]
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
MEMO_STATE = "    return I * a + s_prev"


def _missing():
    if os.geteuid() != 0:
        return "needs root: the hub starts each learner's server as a Unix account made for the test"
    if not rnnhub.ENVIRONMENTS.is_file():
        return "the hub's environments are not installed: run `make hub-deps`"
    for tool in ("useradd", "userdel", "runuser", "bwrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return ""


# ----------------------------------------------------------------------------- pieces


def reference_bodies():
    """{function: body} of this lesson's functions in the reference rnnkit/lstm.py (the answer key)."""
    text = (REPO / "rnnkit" / "lstm.py").read_text(encoding="utf-8")
    bodies = {}
    for name in LESSON_FUNCTIONS:
        pattern = rf"\ndef {name}\(.*?\n    ### BEGIN SOLUTION\n(.*?)\n    ### END SOLUTION"
        match = re.search(pattern, text, re.S)
        assert match, f"no solution region for {name} in rnnkit/lstm.py"
        bodies[name] = match.group(1)
    return bodies


def fill(released, bodies):
    """The released rnnkit/lstm.py with the stub of each function in ``bodies`` replaced by its body."""
    for name, body in bodies.items():
        start = released.index(f"\ndef {name}(")
        stub = released.index(STUB, start)
        released = released[:stub] + body + released[stub + len(STUB):]
    return released


class Client:
    """Requests to the hub (and through it to servers and services) with one token."""

    def __init__(self, base, token):
        import requests

        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def request(self, method, path, expect=200, **kwargs):
        response = self.session.request(method, self.base + path, timeout=180, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.text[:2000])
        return response

    def json(self, method, path, **kwargs):
        return self.request(method, path, **kwargs).json()


def start_servers(admin, names, timeout=240):
    """Start each user's server through the hub's REST API; wait until every one is ready."""
    for name in names:
        response = admin.request("POST", f"/hub/api/users/{name}/server", expect=None)
        assert response.status_code in (201, 202), (name, response.status_code, response.text)
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            server = admin.json("GET", f"/hub/api/users/{name}")["servers"].get("")
            if server and server.get("ready"):
                waiting.discard(name)
        time.sleep(1)
    assert not waiting, f"servers not ready after {timeout} s: {sorted(waiting)}"


def user_token(admin, name):
    return admin.json("POST", f"/hub/api/users/{name}/tokens", expect=201,
                      json={"note": "test", "expires_in": 3600})["token"]


def as_user(name, *args, cwd="/", env=None):
    """Run a command as a Unix account (what that person could do in a terminal)."""
    return subprocess.run([shutil.which("runuser"), "-u", name, "--", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- the class


@pytest.fixture(scope="module")
def real_class():
    """A class made by ``rnnhub.install`` for test accounts, its hub running; removed afterwards."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    tag = "rt" + secrets.token_hex(2)
    names = {role: f"{tag}{role}" for role in ("key", "memo", "blank", "inst", "grader")}
    top = Path(tempfile.mkdtemp(prefix="rnn-hub-test-", dir="/tmp"))
    os.chmod(top, 0o755)
    (top / "home").mkdir(mode=0o755)
    created, hub = [], None
    try:
        for role in ("key", "memo", "blank", "inst"):
            name = names[role]
            subprocess.run(["useradd", "--create-home", "--home-dir", str(top / "home" / name), "--shell",
                            "/bin/bash", "--user-group", name], check=True)
            created.append(name)
            os.chmod(top / "home" / name, 0o700)
        created.append(names["grader"])  # install makes it
        started = time.monotonic()
        s = rnnhub.install(root=top / "class", exchange=top / "exchange", instructor=names["inst"],
                           learners=[names[r] for r in ("key", "memo", "blank")], grader=names["grader"],
                           ip="127.0.0.1", port=rnnhub.free_port(), allow_readable_repo=True,
                           log=lambda message: None)
        seconds = {"install (course built, lessons released)": time.monotonic() - started}
        # the hub's inner ports too: other hubs (the browser test's) may be starting meanwhile
        s.hub_port, s.proxy_api_port, s.service_port = rnnhub.free_ports(3)
        token = secrets.token_hex(32)
        hub = rnnhub.Hub(s, admin_token=token)
        started = time.monotonic()
        hub.start()
        seconds["hub start"] = time.monotonic() - started
        yield {"s": s, "names": names, "token": token, "top": top, "hub": hub, "seconds": seconds}
    finally:
        if hub is not None:
            hub.stop()
        _end_processes_of(created)
        for name in created:
            subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def _end_processes_of(names):
    """Stop every process of the test's accounts, by process id."""
    uids = set()
    for name in names:
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _uid_of(p) in uids]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if pids:
            time.sleep(1)


def _uid_of(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


@pytest.mark.slow
def test_a_class_fetches_submits_is_graded_and_gets_feedback_through_the_hub(real_class):
    s, names = real_class["s"], real_class["names"]
    key, memo, blank, inst = (names[r] for r in ("key", "memo", "blank", "inst"))
    learners = [key, memo, blank]
    base = f"http://127.0.0.1:{s.port}"
    admin = Client(base, real_class["token"])
    seconds = real_class["seconds"]
    mark = [time.monotonic()]

    def phase(name):
        now = time.monotonic()
        seconds[name] = now - mark[0]
        mark[0] = now

    # --- a learner logs in with the machine's password (PAM), through the login page
    subprocess.run(["chpasswd"], input=f"{memo}:a-Password-4-test\n", text=True, check=True)
    import requests

    browser = requests.Session()
    browser.get(f"{base}/hub/login", timeout=60)
    login = browser.post(f"{base}/hub/login?next=", timeout=60, allow_redirects=False,
                         data={"username": memo, "password": "a-Password-4-test",
                               "_xsrf": browser.cookies.get("_xsrf", "")})
    assert login.status_code == 302 and "jupyterhub-session-id" in browser.cookies, login.text[:500]
    wrong = requests.Session()
    wrong.get(f"{base}/hub/login", timeout=60)
    refused = wrong.post(f"{base}/hub/login?next=", timeout=60, allow_redirects=False,
                         data={"username": memo, "password": "wrong",
                               "_xsrf": wrong.cookies.get("_xsrf", "")})
    assert refused.status_code == 403

    # --- each learner's server, started by the hub as that account, from the learner environment
    phase("log-in")
    start_servers(admin, learners)
    phase("3 servers started")
    clients = {name: Client(base, user_token(admin, name)) for name in [*learners, inst]}
    environments = {}
    for name in learners:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()
                and _uid_of(p) == pwd.getpwnam(name).pw_uid
                and b"jupyterhub-singleuser" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert pids, f"no server process of {name}"
        variables = Path(f"/proc/{pids[0]}/environ").read_text().split("\0")
        environ = environments[name] = dict(item.split("=", 1) for item in variables if "=" in item)
        assert "PYTHONPATH" not in environ
        assert environ["PATH"].split(":")[0] == f"{s.learner_venv}/bin"
        command = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")
        assert f"{s.learner_venv}/bin/jupyterhub-singleuser".encode() in command, command
    # what the learner's kernel and terminal can import, in their server's environment (the same
    # for every learner: one is asked): no reference rnnkit, no autograder; nbgrader is there (the
    # Assignments tab) with its formgrader disabled
    probe = as_user(key, "python", "-c", "import importlib.util as u; print("
                    "[m for m in ('rnnkit', 'autograder', 'nbgrader.server_extensions.formgrader') "
                    "if u.find_spec(m)])", cwd=environments[key]["HOME"], env=environments[key])
    assert probe.stdout.strip() == "['nbgrader.server_extensions.formgrader']", probe
    listed = as_user(key, "jupyter", "server", "extension", "list", env=environments[key])
    extensions = listed.stdout + listed.stderr
    assert re.search(r"nbgrader.server_extensions.formgrader\s.*disabled", extensions), extensions
    assert re.search(r"nbgrader.server_extensions.assignment_list\s.*enabled", extensions), extensions
    phase("learner environment checked")

    # --- learners fetch lesson 04 from the Assignments handlers, write their answers, submit
    released = None
    for name in learners:
        me = clients[name]
        listing = me.json("GET", f"/user/{name}/assignments", params={"course_id": s.course_id})
        assert listing["success"], listing
        assert {a["assignment_id"] for a in listing["value"]} == set(s.assignments)
        fetched = me.json("POST", f"/user/{name}/assignments/fetch",
                          data={"course_id": s.course_id, "assignment_id": LESSON})
        assert any(a["assignment_id"] == LESSON and a["status"] == "fetched"
                   for a in fetched["value"]), fetched
        path = f"/user/{name}/api/contents/{LESSON}/rnnkit/lstm.py"
        released = me.json("GET", path, params={"content": 1})["content"]
        assert STUB in released and "### BEGIN SOLUTION" not in released
    bodies = reference_bodies()
    answers = {key: fill(released, bodies),
               memo: fill(released, {**bodies, "new_state": MEMO_STATE}),
               blank: None}
    for name, text in answers.items():
        me = clients[name]
        if text is not None:
            me.request("PUT", f"/user/{name}/api/contents/{LESSON}/rnnkit/lstm.py",
                       json={"type": "file", "format": "text", "content": text})
        submitted = me.json("POST", f"/user/{name}/assignments/submit",
                            data={"course_id": s.course_id, "assignment_id": LESSON})
        assert submitted["success"], submitted

    phase("fetched, written, submitted")

    # --- the blank learner, in a terminal, hands in their stubs again under the key learner's name
    blank_home = Path(pwd.getpwnam(blank).pw_dir)
    learner_env = {"HOME": str(blank_home), "PATH": f"{s.learner_venv}/bin:/usr/bin:/bin",
                   "JUPYTER_CONFIG_PATH": str(s.learner_config), "LANG": "C.UTF-8"}
    time.sleep(1.1)  # a later timestamp than the key learner's own submission
    forged = as_user(blank, "nbgrader", "submit", LESSON, f"--student={key}", cwd=blank_home, env=learner_env)
    assert forged.returncode == 0, forged
    # ... and turns the lstm.py of their own submission, still theirs in the exchange, into a link
    # to the reference, which only the grader account can read
    inbound = Path(s.exchange) / s.course_id / "inbound"
    own = [p for p in inbound.glob(f"{blank}+{LESSON}+*") if p.stat().st_uid == pwd.getpwnam(blank).pw_uid]
    assert len(own) == 1, own
    reference = s.course / "source" / LESSON / "rnnkit" / "lstm.py"
    linked = as_user(blank, "ln", "-sf", reference, own[0] / "rnnkit" / "lstm.py")
    assert linked.returncode == 0, linked

    # --- the instructor collects with formgrader's Collect button; learners cannot reach formgrader
    for name in learners:
        clients[name].request("GET", f"/services/{s.course_id}/formgrader", expect=403)
    formgrader = f"/services/{s.course_id}/formgrader"
    collect = clients[inst].json("POST", f"{formgrader}/api/assignment/{LESSON}/collect")
    assert collect["success"], collect
    # The course's collect (autograder.grading.collect.SafeExchangeCollect) leaves the link out, where
    # nbgrader's own would copy the reference in as "the blank learner's work"; and it skips the
    # forged hand-in (owned by the blank learner, named for the key learner).
    copied = s.course / "submitted" / blank / LESSON / "rnnkit" / "lstm.py"
    assert not copied.exists()
    key_lstm = (s.course / "submitted" / key / LESSON / "rnnkit" / "lstm.py").read_text()
    assert key_lstm == answers[key]  # the key learner's own hand-in, not the forged one
    phase("forged submission, formgrader's Collect")

    # --- grade with `python -m autograder grade`, release the feedback (as the grader account)
    log = []
    outcome = rnnhub.return_feedback(s, LESSON, log=log.append)
    phase("return-feedback (collect, grade, release)")
    assert outcome == {name: "released" for name in learners}, (outcome, log)
    assert any("claims to be from" in line and key in line and blank in line for line in log), log
    assert any(blank in line and "rnnkit/lstm.py: a symbolic link, left out" in line for line in log), log
    assert not (s.course / "submitted" / blank / LESSON / "rnnkit" / "lstm.py").exists()
    assert not list((Path(s.exchange) / s.course_id / "inbound").glob(f"{key}+*")) or all(
        os.lstat(p).st_uid == pwd.getpwnam(key).pw_uid
        for p in (Path(s.exchange) / s.course_id / "inbound").glob(f"{key}+*"))

    grades = {row["student_id"]: row for row in read_csv(s.grading / "grades.csv")}
    results = {}
    for row in read_csv(s.grading / "results.csv"):
        results.setdefault(row["student_id"], {})[row["test_id"]] = row
    assert set(grades) == set(learners), grades
    for name in learners:
        checks = results[name]
        assert all(test_id.startswith("lstm.") for test_id in checks), checks
        total = sum(float(r["score"]) for r in checks.values())
        assert float(grades[name]["score"]) == pytest.approx(total), (grades[name], checks)
    # the answer key: every check full; the memo's state: new_state and lstm_step lose their points,
    # named as the memo's forget-less update; nothing written: no point
    assert all(float(r["score"]) == float(r["max_score"]) > 0 for r in results[key].values()), results[key]
    wrong = {t for t, r in results[memo].items() if float(r["score"]) < float(r["max_score"])}
    assert wrong == {"lstm.new_state", "lstm.lstm_step"}, results[memo]
    for test_id in wrong:
        assert "forget-less" in results[memo][test_id]["message"], results[memo][test_id]
    assert all(float(r["score"]) == 0 for r in results[blank].values()), results[blank]
    assert float(grades[blank]["score"]) == 0
    assert 0 < float(grades[memo]["score"]) < float(grades[key]["score"])

    # --- each learner fetches their feedback through the Assignments handlers and reads it
    pages = {}
    for name in learners:
        me = clients[name]
        listing = me.json("POST", f"/user/{name}/assignments/fetch_feedback",
                          data={"course_id": s.course_id, "assignment_id": LESSON})
        assert listing["success"], listing
        folder = me.json("GET", f"/user/{name}/api/contents/{LESSON}/feedback")["content"]
        assert len(folder) == 1, folder
        page = me.json("GET", f"/user/{name}/api/contents/{folder[0]['path']}/{LESSON}.html",
                       params={"content": 1})["content"]
        pages[name] = page
    phase("feedback fetched")
    assert "forget-less" in pages[memo]
    assert "forget-less" not in pages[key] and "forget-less" not in pages[blank]
    # every check a learner lost points on is on their page with the message of results.csv
    for name, page in pages.items():
        text = " ".join(html.unescape(page).split())
        lost = [r for r in results[name].values() if float(r["score"]) < float(r["max_score"])]
        assert len(lost) == {key: 0, memo: 2, blank: len(results[blank])}[name]
        for row in lost:
            assert " ".join(row["message"].split()) in text, (name, row["message"])
        for other in set(learners) - {name}:
            assert other not in page

    # --- as each learner's own account: nothing of anyone else, nor of the instructor, is readable
    exchange_course = Path(s.exchange) / s.course_id
    for name in learners:
        others = [o for o in learners if o != name]
        forbidden = [s.course / "gradebook.db", s.grading / "course" / "gradebook.db",
                     s.course / "source" / LESSON / "rnnkit" / "lstm.py",
                     s.course / "nbgrader_config.py", s.grading / "grades.csv",
                     s.grading / "course" / ".grading-seed", s.hub_dir / "jupyterhub.sqlite",
                     *(s.course / "submitted" / o / LESSON / f"{LESSON}.ipynb" for o in others),
                     *(Path(pwd.getpwnam(o).pw_dir) / LESSON / "rnnkit" / "lstm.py" for o in others),
                     *(s.grading / "feedback" / o / f"{LESSON}.html" for o in others)]
        for path in forbidden:
            assert path.exists(), path  # as root: the file is there, so a refusal means something
            attempt = as_user(name, "cat", path)
            assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, (name, path, attempt)
        for folder in (exchange_course / "inbound", exchange_course / "feedback"):
            attempt = as_user(name, "ls", folder)
            assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, (name, folder, attempt)
        # and what they should read, they can: their own work and the released lessons
        own = as_user(name, "cat", Path(pwd.getpwnam(name).pw_dir) / LESSON / "rnnkit" / "lstm.py")
        assert own.returncode == 0, own
        lesson = as_user(name, "cat", exchange_course / "outbound" / LESSON / f"{LESSON}.ipynb")
        assert lesson.returncode == 0, lesson
    assert stat.S_IMODE(os.stat(s.grader_home).st_mode) == 0o700
    phase("file permissions checked")
    print("\n" + "\n".join(f"{v:6.1f} s  {k}" for k, v in seconds.items()))


# ----------------------------------------------------------------------------- bad input


def _local_settings(tmp_path, **changes):
    exchange = tmp_path / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o1777)
    learner = tmp_path / "venv"
    (learner / "bin").mkdir(parents=True, exist_ok=True)
    (learner / "bin" / "jupyterhub-singleuser").touch()
    values = dict(mode="local", root=str(tmp_path), exchange=str(exchange), instructor="teacher",
                  learners=["ada"], grader="", learner_venv=str(learner), instructor_venv=str(learner),
                  proxy=str(tmp_path / "no-proxy-here" / "configurable-http-proxy"), course_id="rnn-course",
                  port=rnnhub.free_port())
    values.update(changes)
    s = rnnhub.Settings(**values)
    s.hub_dir.mkdir(exist_ok=True)
    return s


def test_a_hub_without_its_proxy_says_how_to_install_it(tmp_path):
    s = _local_settings(tmp_path)
    hub = rnnhub.Hub(s)
    with pytest.raises(rnnhub.HubError) as err:
        hub.start()
    message = str(err.value)
    assert "configurable-http-proxy is not installed" in message and "make hub-deps" in message
    assert "apt-get install nodejs npm" in message
    assert hub.proc is None  # refused before anything was started


@pytest.mark.slow
def test_jupyterhub_started_by_hand_without_the_proxy_stops_with_the_same_message(tmp_path):
    if not shutil.which("jupyterhub", path=str(Path(sys.executable).parent)):
        pytest.skip("jupyterhub is not installed: run `make hub-deps`")
    s = _local_settings(tmp_path)
    s.save()
    env = {**os.environ, rnnhub.SETTINGS_ENV: str(s.settings_file)}
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(rnnhub.CONFIG_FILE)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "configurable-http-proxy is not installed" in proc.stdout + proc.stderr


def test_an_exchange_with_wrong_permissions_is_refused_with_the_fix(tmp_path):
    s = _local_settings(tmp_path)
    exchange = Path(s.exchange)
    assert rnnhub.exchange_problems(s) == []
    os.chmod(exchange, 0o755)
    problems = rnnhub.exchange_problems(s)
    assert any("mode 0755" in p and f"chmod 1777 {exchange}" in p for p in problems), problems
    os.chmod(exchange, 0o777)
    problems = rnnhub.exchange_problems(s)
    assert len(problems) == 1 and "sticky bit" in problems[0], problems
    os.chmod(exchange, 0o1777)
    inbound = exchange / "rnn-course" / "inbound"
    inbound.mkdir(parents=True)
    os.chmod(exchange / "rnn-course", 0o755)
    os.chmod(inbound, 0o777)  # learners could list (and read) each other's submissions
    problems = rnnhub.exchange_problems(s)
    assert len(problems) == 1 and "chmod 2733" in problems[0] and "each other's" in problems[0], problems
    os.chmod(inbound, 0o2733)
    assert rnnhub.exchange_problems(s) == []
    shutil.rmtree(exchange)
    exchange.symlink_to(tmp_path)
    assert "symbolic link" in rnnhub.exchange_problems(s)[0]
    # and the hub does not start on it
    s.proxy = sys.executable  # any executable: the exchange is checked before anything starts
    with pytest.raises(rnnhub.HubError, match="symbolic link"):
        rnnhub.Hub(s).start()


# ----------------------------------------------------------------------------- Kubernetes files


@pytest.mark.slow
def test_the_kubernetes_files_pass_the_offline_validators_which_catch_a_misspelled_key(tmp_path):
    """deploy/kubernetes/validate.sh (yamllint, check-jsonschema against the chart's schema, hadolint)."""
    script = REPO / "deploy" / "kubernetes" / "validate.sh"
    tools = REPO / ".venv" / "k8s-tools"
    env = {**os.environ, "TOOLS": str(tools)}
    run = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=600)
    if run.returncode != 0 and not (tools / "bin" / "check-jsonschema").exists():
        pytest.skip(f"the validators could not be installed from PyPI: {run.stderr[-500:]}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all checks passed" in run.stdout
    copy = tmp_path / "deploy" / "kubernetes"
    shutil.copytree(script.parent, copy)
    values = copy / "values.yaml"
    values.write_text(values.read_text().replace("  defaultUrl: /lab", "  defaultURL: /lab"))
    typo = subprocess.run(["bash", str(copy / "validate.sh")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert typo.returncode != 0
    assert "'defaultURL' was unexpected" in typo.stdout + typo.stderr
