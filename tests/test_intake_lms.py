"""Grading intake for real classes: nbgrader's submitted/ folder and Moodle or Canvas downloads.

The downloads are built here the way the LMS writes them (file names from Moodle's
mod/assign downloader and Canvas's content zipper), from the answer key, and taken in with
``submissions.take_in``: who is who, which upload wins, what is recorded (lateness,
timestamps, the roster), and the gradebook files for the LMS. The slow tests grade such
classes end to end with ``grade``.
"""

import csv
import datetime as dt
import hashlib
import io
import os
import shutil
import unicodedata
import warnings
import zipfile
from pathlib import Path

import pytest

from autograder.grading import exchange, lms, submissions

WHEN = (2024, 3, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    from autograder.building.release import build_release

    folder = tmp_path_factory.mktemp("templates") / "answer-key"
    build_release(folder, solutions=True, force=True)
    return folder


def _tree(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not submissions._skip(p.relative_to(folder).parts)}


def course_zip(key, marker=None):
    """Bytes of the answer key zipped under course/ (plus a marker file naming the version)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(key.rglob("*")):
            if p.is_file():
                zf.write(p, f"course/{p.relative_to(key)}")
        if marker:
            zf.writestr(f"course/{marker}", marker)
    return buf.getvalue()


def download(path, members):
    """A download zip: members are (name, bytes, date_time)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, when in members:
            zf.writestr(zipfile.ZipInfo(name, when), data)
    return path


def extract(zip_path, folder):
    """Extract like an unzip tool that keeps the files' times (Python's extractall does not)."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(folder)
        for info in zf.infolist():
            stamp = dt.datetime(*info.date_time, tzinfo=dt.UTC).timestamp()
            os.utime(Path(folder) / info.filename, (stamp, stamp))
    return folder


def by_id(intake):
    return {s.student_id: s for s in intake.submissions}


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- names


def test_moodle_and_canvas_names_are_parsed():
    assert lms.parse_top("Zoë Müller_101_assignsubmission_file", True) == (
        "moodle", {"name": "Zoë Müller", "lms_id": "101", "plugin": "file"})
    lms_name, fields = lms.parse_top("Zoë Müller_101_assignsubmission_file_course.zip", False)
    assert lms_name == "moodle" and fields["name"] == "Zoë Müller" and fields["file"] == "course.zip"
    # older Moodle: a trailing underscore after the plugin's folder name
    assert lms.parse_top("Ann Lee_7_assignsubmission_file_", True)[1]["lms_id"] == "7"
    # a name holding digits between underscores still ends at the first _<id>_assignsubmission_
    assert lms.parse_top("a_1_b_2_assignsubmission_file", True)[1]["name"] == "a_1_b"
    for name, person, ident, late, attachment, file in [
        ("müllerzoë_12345_67890_course.zip", "müllerzoë", "12345", None, "67890", "course.zip"),
        ("müllerzoë_LATE_12345_67890_my_course.zip", "müllerzoë", "12345", "LATE", "67890", "my_course.zip"),
        ("late_smithbob_333_400_course.zip", "smithbob", "333", "late", "400", "course.zip"),
        ("LATE_anon_x1Y2z_456_course.zip", None, "anon_x1Y2z", "LATE", "456", "course.zip"),
        ("obrien_5_6_c_1_2.zip", "obrien", "5", None, "6", "c_1_2.zip"),
        ("12345_99999_5550002_course.zip", "12345", "99999", None, "5550002", "course.zip"),
        ("late_777_5550005_course.zip", "late", "777", None, "5550005", "course.zip"),
    ]:
        lms_name, fields = lms.parse_top(name, False)
        assert lms_name == "canvas", name
        assert (fields["name"], fields["lms_id"], fields["late"], fields["attachment"], fields["file"]) == (
            person, ident, late, attachment, file), name
    for odd in ["ada", "ada.zip", "index.html", "grades.csv", "Zoë_assignsubmission_file"]:
        assert lms.parse_top(odd, False) == (None, None), odd


def test_safe_names_keep_letters_and_drop_the_rest():
    assert lms.safe_name("Zoë Müller") == "Zoë Müller"
    assert lms.safe_name(unicodedata.normalize("NFD", "Zoë Müller")) == "Zoë Müller"
    assert lms.safe_name("Seán O'Brien") == "Seán O-Brien"
    assert lms.safe_name("李雷") == "李雷" and lms.safe_name("Алёна Смирнова") == "Алёна Смирнова"
    assert lms.safe_name("eve\u202egnp.zip") == "eve-gnp-zip"
    assert lms.safe_name("../../etc/passwd") == "etc-passwd"
    assert lms.safe_name("=HYPERLINK(1)") == "HYPERLINK-1"
    assert lms.safe_name("\u0301\u0301") == "learner" and lms.safe_name("") == "learner"
    for name in ["Zoë Müller", "x" * 300, "a\nb", "-rf", "a*b?c", "\udce9t\u00e9"]:
        sid = lms.safe_name(name)
        assert submissions.student_id_for(sid) == (sid, ""), (name, sid)


# --------------------------------------------------------------------------- Moodle


@pytest.fixture(scope="module")
def moodle(key, tmp_path_factory):
    """A Moodle download (folders), zipped and extracted; returns (zip path, folder path)."""
    folder = tmp_path_factory.mktemp("moodle")
    new, old = course_zip(key, "new.txt"), course_zip(key, "old.txt")
    path = download(folder / "RNN-Lesson 4-42.zip", [
        ("Zoë Müller_101_assignsubmission_file/course.zip", new, WHEN),
        ("Ada Lovelace_102_assignsubmission_file/course.zip", new, (2024, 3, 2, 9, 0, 0)),
        ("Ada Lovelace_102_assignsubmission_file/old.zip", old, (2024, 3, 1, 9, 0, 0)),
        ("Bob Stone_103_assignsubmission_file/04-lstm.ipynb", b"{}", WHEN),
        ("Bob Stone_103_assignsubmission_onlinetext/onlinetext.html", b"<p>hi</p>", WHEN),
        ("Ann Lee_104_assignsubmission_file_course.zip", old, WHEN),  # a download without folders
        ("ann lee_105_assignsubmission_file/course.zip", new, WHEN),  # another Ann Lee
        ("index.html", b"<p>downloaded with the submissions</p>", WHEN),
    ])
    return path, extract(path, folder / "extracted")


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_moodle_download(tmp_path, key, moodle, form):
    intake = submissions.take_in(moodle[0] if form == "zip" else moodle[1], tmp_path / "work")
    assert intake.kind == "lms"
    subs = by_id(intake)
    assert set(subs) == {"Zoë Müller", "Ada Lovelace", "Bob Stone", "Ann Lee-104", "ann lee-105"}
    zoe, ada = subs["Zoë Müller"], subs["Ada Lovelace"]
    expected = {**_tree(key), "new.txt": hashlib.sha256(b"new.txt").hexdigest()}
    assert _tree(zoe.folder) == expected and not zoe.notes
    assert _tree(ada.folder) == expected, "the latest upload wins"
    assert any("old.zip" in n and "not graded" in n for n in ada.notes), ada.notes
    assert ada.timestamps["*"] == dt.datetime(2024, 3, 2, 9, 0, 0)
    assert ada.identity == {"lms": "moodle", "lms_id": "102", "name": "Ada Lovelace",
                            "file": "Ada Lovelace_102_assignsubmission_file/course.zip"}
    assert "index.html" not in subs  # a stray file is a note, not a learner
    assert any("index.html" in n for _s, _a, n in intake.notes)
    bob = subs["Bob Stone"]
    assert bob.folder is None and "no zip" in bob.problem and "04-lstm.ipynb" in bob.problem
    assert "upload the zip" in bob.problem
    assert _tree(subs["Ann Lee-104"].folder)["old.txt"] and _tree(subs["ann lee-105"].folder)["new.txt"]
    assert not (tmp_path / "work" / ".download").exists()


def test_moodle_worksheet_and_roster(tmp_path, moodle):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(
        "Identifier,Full name,Email address,Status,Grade,Maximum Grade\n"
        "Participant 101,Zoë Müller,zoe@uni.example,Submitted,,\n"
        "Participant 102,Ada Lovelace,ada@uni.example,Submitted,,\n"
        "Participant 999,Carl Gauss,carl@uni.example,No submission,,\n", encoding="utf-8")
    intake = submissions.take_in(moodle[0], tmp_path / "work", roster=roster)
    subs = by_id(intake)
    assert subs["Zoë Müller"].identity["email"] == "zoe@uni.example"
    assert any("not in the roster" in n for n in subs["Ann Lee-104"].notes)
    graded = {("Zoë Müller", "04-lstm"): (5.0, 7.0), ("Zoë Müller", "05-gru"): (2.0, 3.0),
              ("Ada Lovelace", "04-lstm"): (7.0, 7.0)}
    written = intake.write_tables(tmp_path, graded, ["04-lstm", "05-gru"])
    assert {"roster.csv", "moodle-worksheet.csv", "moodle-gradebook.csv", "submissions.csv"} <= set(written)
    roster_rows = {r["full_name"]: r for r in _rows(tmp_path / "roster.csv")}
    assert roster_rows["Carl Gauss"]["note"] == "in the roster, no submission in the download"
    assert roster_rows["Carl Gauss"]["student_id"] == ""
    zoe = roster_rows["Zoë Müller"]
    assert (zoe["student_id"], zoe["lms_id"], zoe["email"]) == ("Zoë Müller", "101", "zoe@uni.example")
    assert roster_rows["Ann Lee"]["note"] == "not in the roster"
    with open(tmp_path / "moodle-worksheet.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    # the importer looks these three up by their English names (importgradeslib.php)
    assert {"Identifier", "Grade", "Last modified (grade)"} <= set(header)
    sheet = {r["Identifier"]: r for r in _rows(tmp_path / "moodle-worksheet.csv")}
    assert set(sheet) == {"Participant 101", "Participant 102"}
    assert (sheet["Participant 101"]["Grade"], sheet["Participant 101"]["Maximum Grade"]) == ("7", "10")
    dt.datetime.fromisoformat(sheet["Participant 101"]["Last modified (grade)"])
    book = _rows(tmp_path / "moodle-gradebook.csv")
    assert [(r["Email address"], r["04-lstm"], r["05-gru"]) for r in book] == [
        ("ada@uni.example", "7", ""), ("zoe@uni.example", "5", "2")]


# --------------------------------------------------------------------------- Canvas


@pytest.fixture(scope="module")
def canvas(key, tmp_path_factory):
    folder = tmp_path_factory.mktemp("canvas")
    new, old = course_zip(key, "new.txt"), course_zip(key, "old.txt")
    path = download(folder / "rnn-lesson-4 submissions.zip", [
        ("müllerzoë_12345_67890_course.zip", new, WHEN),
        ("lovelaceada_LATE_222_301_course-1.zip", new, WHEN),  # the same time: the attachment id decides
        ("lovelaceada_LATE_222_300_course.zip", old, WHEN),
        ("late_stonebob_333_400_course.zip", old, WHEN),
        ("stonebob_333_text.html", b"<p>see attached</p>", WHEN),
        ("LATE_anon_x1Y2z_500_course.zip", new, WHEN),
    ])
    return path, extract(path, folder / "extracted")


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_canvas_download_with_roster(tmp_path, key, canvas, form):
    roster = tmp_path / "gradebook-export.csv"
    roster.write_text(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Lesson 4 (1234)\n"
        "    Points Possible,,,,,13\n"
        "\"Müller, Zoë\",12345,S-1,zmuller,Section A,\n"
        "\"Lovelace, Ada\",222,S-2,alovelace,Section B,\n"
        "\"Noether, Emmy\",444,S-4,enoether,Section A,\n", encoding="utf-8")
    intake = submissions.take_in(canvas[0] if form == "zip" else canvas[1], tmp_path / "work", roster=roster)
    subs = by_id(intake)
    assert set(subs) == {"müllerzoë-12345", "lovelaceada-222", "stonebob-333", "anon-x1Y2z"}
    ada = subs["lovelaceada-222"]
    assert "new.txt" in _tree(ada.folder), "the highest attachment id wins"
    assert any("course.zip" in n and "not graded" in n for n in ada.notes)
    assert ada.late["*"] > 0 and subs["müllerzoë-12345"].late["*"] == 0
    assert subs["stonebob-333"].late["*"] > 0  # the older "late_" prefix
    assert any("text.html" in n and "not a zip" in n for n in subs["stonebob-333"].notes)
    assert ada.identity["sis_login_id"] == "alovelace" and ada.identity["roster_name"] == "Lovelace, Ada"
    graded = {("müllerzoë-12345", "04-lstm"): (12.5, 13.0), ("lovelaceada-222", "04-lstm"): (3.0, 13.0),
              ("anon-x1Y2z", "04-lstm"): (1.0, 13.0)}
    intake.write_tables(tmp_path, graded, ["04-lstm", "05-gru"])
    with open(tmp_path / "canvas-grades.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "04-lstm"]
    rows = {r["ID"]: r for r in _rows(tmp_path / "canvas-grades.csv")}
    assert rows["12345"] == {"Student": "Müller, Zoë", "ID": "12345", "SIS User ID": "S-1",
                             "SIS Login ID": "zmuller", "Section": "Section A", "04-lstm": "12.5"}
    assert rows["222"]["04-lstm"] == "3" and rows["333"]["04-lstm"] == ""
    assert rows[""]["Student"] == "" and rows[""]["04-lstm"] == "1"  # anonymous: no Canvas id to give
    roster_rows = {r["full_name"]: r for r in _rows(tmp_path / "roster.csv")}
    assert roster_rows["Noether, Emmy"]["note"].startswith("in the roster, no submission")
    assert roster_rows["Lovelace, Ada"]["late"] == "yes" and roster_rows["Müller, Zoë"]["late"] == "no"


def test_a_roster_that_cannot_be_used_says_why(tmp_path, canvas):
    bad = tmp_path / "roster.csv"
    bad.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(lms.RosterError, match="UTF-8"):
        submissions.take_in(canvas[0], tmp_path / "w1", roster=bad)
    bad.write_text("Points,Total\n1,2\n", encoding="utf-8")
    with pytest.raises(lms.RosterError, match="Student"):
        submissions.take_in(canvas[0], tmp_path / "w2", roster=bad)


def test_a_file_that_is_no_download_is_refused_with_a_reason(tmp_path, key):
    subs = tmp_path / "single.zip"
    subs.write_bytes(course_zip(key))
    with pytest.raises(submissions.IntakeError, match="no file named as a Moodle or Canvas download"):
        submissions.take_in(subs, tmp_path / "work")


def test_spreadsheet_formulas_from_names_are_quoted(tmp_path, key):
    path = download(tmp_path / "dl.zip", [("=cmd_7_assignsubmission_file/course.zip", course_zip(key), WHEN)])
    intake = submissions.take_in(path, tmp_path / "work")
    (sub,) = intake.submissions
    assert sub.student_id == "cmd" and sub.identity["name"] == "=cmd"
    intake.write_tables(tmp_path, {("cmd", "04-lstm"): (1.0, 2.0)}, ["04-lstm"])
    sheet = _rows(tmp_path / "moodle-worksheet.csv")
    assert sheet[0]["Full name"] == "'=cmd"


# --------------------------------------------------------------------------- nbgrader's submitted/


def _hand_in(course, student, assignment, key, stamp):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    shutil.copytree(key / "rnnkit", folder / "rnnkit")
    shutil.copy(key / "lessons" / f"{assignment}.ipynb", folder / f"{assignment}.ipynb")
    if stamp is not None:
        (folder / "timestamp.txt").write_text(stamp)
    return folder


@pytest.fixture
def nbgrader_course(tmp_path, key, monkeypatch):
    from nbgrader.api import Gradebook

    from autograder.building.course import nbgrader_env

    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])
    course = tmp_path / "course"
    _hand_in(course, "ada", "04-lstm", key, "2024-03-01 11:00:00.000000 UTC")
    _hand_in(course, "ada", "05-gru", key, "2024-03-08 11:00:00.000000 UTC")
    _hand_in(course, "Zoë", "04-lstm", key, "2024-03-01 14:30:00.500000 Europe/Berlin")
    _hand_in(course, "eve", "04-lstm", key, "yesterday")
    (course / "source" / "04-lstm").mkdir(parents=True)
    (course / "source" / "04-lstm" / "secret.txt").write_text("reference")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment("04-lstm", duedate=dt.datetime(2024, 3, 1, 12, 0))
        gb.update_or_create_student("Zoë")
        with warnings.catch_warnings():  # nbgrader's add_submission warns under SQLAlchemy 2
            warnings.simplefilter("ignore")
            gb.add_submission("04-lstm", "Zoë")
        gb.grant_extension("04-lstm", "Zoë", minutes=20)
    return course


@pytest.mark.slow
@pytest.mark.parametrize("where", ["course", "submitted"])
def test_nbgrader_submitted_folder(tmp_path, key, nbgrader_course, where):
    subs = nbgrader_course if where == "course" else nbgrader_course / "submitted"
    intake = submissions.take_in(subs, tmp_path / "work")
    assert intake.kind == "nbgrader"
    assert intake.due == {"04-lstm": dt.datetime(2024, 3, 1, 12, 0)}
    subs_by_id = by_id(intake)
    assert set(subs_by_id) == {"ada", "Zoë", "eve"}  # source/ is no learner
    ada, zoe, eve = subs_by_id["ada"], subs_by_id["Zoë"], subs_by_id["eve"]
    assert set(ada.assignment_folders) == {"04-lstm", "05-gru"}
    assert ada.folder_for("02-basic-rnn") is None and not ada.submitted("02-basic-rnn")
    assert _tree(ada.folder_for("05-gru"))["rnnkit/gru.py"] == _tree(key)["rnnkit/gru.py"]
    assert ada.late == {"04-lstm": 0.0}  # 05-gru has no due date: not judged
    # Europe/Berlin is UTC+1 in March; the 20 minute extension moves the due date to 12:20
    assert zoe.timestamps["04-lstm"] == dt.datetime(2024, 3, 1, 13, 30, 0, 500000)
    assert zoe.late["04-lstm"] == pytest.approx(70 * 60 + 0.5)
    notes = intake.note_rows()
    assert ("Zoë", "04-lstm", "submitted late: 2024-03-01 13:30:00.500000 UTC, 1 h 10 min after the due date "
            "2024-03-01 12:20:00.000000 UTC") in notes
    assert eve.folder_for("04-lstm") is not None and "04-lstm" not in eve.timestamps
    assert any(s == "eve" and "timestamp.txt" in n for s, _a, n in notes)
    todo = [("04-lstm", "ada"), ("05-gru", "ada"), ("04-lstm", "Zoë")]
    tasks = submissions.check_tasks(intake.good(), todo)
    assert [(s, Path(f).name, a) for s, f, a in tasks] == [
        ("Zoë", "04-lstm", ["04-lstm"]), ("ada", "04-lstm", ["04-lstm"]), ("ada", "05-gru", ["05-gru"])]
    intake.write_tables(tmp_path, {}, ["04-lstm"])
    rows = {(r["student_id"], r["assignment"]): r for r in _rows(tmp_path / "submissions.csv")}
    assert rows[("Zoë", "04-lstm")]["late"] == "yes" and rows[("Zoë", "04-lstm")]["seconds_late"] == "4200"
    assert rows[("ada", "04-lstm")]["late"] == "no" and rows[("ada", "05-gru")]["late"] == ""
    target = tmp_path / "staged"
    target.mkdir()
    submissions.stage_extras(zoe, "04-lstm", target)
    from nbgrader.utils import parse_utc

    assert parse_utc((target / "timestamp.txt").read_text().strip()) == zoe.timestamps["04-lstm"]


def test_learner_folders_in_a_folder_named_submitted_stay_learner_folders(tmp_path, key):
    subs = tmp_path / "submitted"
    shutil.copytree(key, subs / "ada")
    intake = submissions.take_in(subs, tmp_path / "work")
    assert intake.kind == "folders" and _tree(by_id(intake)["ada"].folder) == _tree(key)


def test_a_hand_in_holding_the_solution_markers_is_pointed_out(tmp_path, key):
    """nbgrader collect follows links: a link to source/ arrives as a copy of the reference."""
    course = tmp_path / "course"
    for student in ("ada", "eve"):
        _hand_in(course, student, "04-lstm", key, None)
    copied = course / "submitted" / "eve" / "04-lstm" / "rnnkit" / "lstm.py"
    copied.write_text("### BEGIN SOLUTION\n" + copied.read_text() + "### END SOLUTION\n")
    intake = submissions.take_in(course, tmp_path / "work")
    notes = intake.note_rows()
    assert [(s, a) for s, a, n in notes if "solution markers" in n] == [("eve", "04-lstm")], notes
    assert any("rnnkit/lstm.py" in n for s, _a, n in notes if s == "eve")
    assert by_id(intake)["eve"].folder_for("04-lstm") is not None  # a note, not a verdict


def test_nbgrader_timestamps_are_read_strictly(tmp_path):
    stamp = exchange.parse_timestamp("2024-03-01 12:00:00.123456 UTC")
    assert stamp == dt.datetime(2024, 3, 1, 12, 0, 0, 123456)
    assert exchange.parse_timestamp("2024-03-01 12:00:00 +0130") == dt.datetime(2024, 3, 1, 10, 30)
    assert exchange.parse_timestamp("2024-03-01T12:00:00-05:00") == dt.datetime(2024, 3, 1, 17, 0)
    for bad in ["", "yesterday", "2024-13-01 12:00:00 UTC", "2024-03-01 12:00:00 Mars/Olympus",
                "2024-03-01 12:00:00 UTC; rm -rf /", "1" * 300]:
        assert exchange.parse_timestamp(bad) is None, bad
    path = tmp_path / "timestamp.txt"
    path.write_text("2024-03-01 12:00:00 UTC" + " " * 500)
    assert exchange.read_timestamp(path) == (None, "is longer than 200 bytes")
    path.unlink()
    os.mkfifo(path)
    assert exchange.read_timestamp(path) == (None, "is not a regular file")  # never opened


# --------------------------------------------------------------------------- end to end (slow)

SEED = 20261129
MARKER = "REFERENCE-ONLY 9f1c"  # in the course's source/: must reach no learner


def _feedback_files(out):
    """Files below ``out`` but the pages' shared MathJax copy (``_mathjax/``, from the mathjax package)."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.relative_to(out).parts[0] != "_mathjax")


def _assert_feedback_is_pages_only(out, pairs, stamped=()):
    """OUT/feedback and OUT/course/feedback hold one page per graded pair, nothing else (but the
    timestamp.txt nbgrader's release_feedback needs beside the pages of ``stamped`` pairs)."""
    got = _feedback_files(out / "feedback")
    assert got == sorted(f"{s}/{a}.html" for s, a in pairs), got
    got = _feedback_files(out / "course" / "feedback")
    expected = [f"{s}/{a}/{a}.html" for s, a in pairs] + [f"{s}/{a}/timestamp.txt" for s, a in stamped]
    assert got == sorted(expected), got
    for s, a in stamped:
        text = (out / "course" / "feedback" / s / a / "timestamp.txt").read_text()
        assert exchange.parse_timestamp(text.strip()) is not None, text
    for folder in (out / "feedback", out / "course" / "feedback"):
        for path in folder.rglob("*"):
            assert not path.is_symlink(), path
            if path.is_file():
                text = path.read_bytes()
                assert MARKER.encode() not in text and b"### BEGIN SOLUTION" not in text, path


@pytest.mark.slow
def test_grade_takes_nbgrader_submitted_as_it_comes(tmp_path, key, monkeypatch):
    """nbgrader collect's layout: per-assignment hand-ins, timestamps, a late one, a link to source/."""
    from nbgrader.api import Gradebook

    from autograder.building.course import nbgrader_env
    from autograder.grading.grade import grade

    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])
    course = tmp_path / "course"
    _hand_in(course, "ada", "04-lstm", key, "2024-03-01 11:00:00.000000 UTC")
    _hand_in(course, "ada", "05-gru", key, "2024-03-08 09:00:00.000000 UTC")
    _hand_in(course, "Zoë", "04-lstm", key, "2024-03-01 13:30:00.000000 UTC")
    eve = _hand_in(course, "eve", "04-lstm", key, "2024-03-01 11:30:00.000000 UTC")
    source = course / "source" / "04-lstm" / "rnnkit"
    shutil.copytree(key / "rnnkit", source)
    (source / "lstm.py").write_text((key / "rnnkit" / "lstm.py").read_text() + f"\n# {MARKER}\n")
    (eve / "rnnkit" / "lstm.py").unlink()
    (eve / "rnnkit" / "lstm.py").symlink_to(source / "lstm.py")  # nbgrader's own feedback would copy it
    (eve / "feedback").mkdir()
    (eve / "feedback" / "04-lstm.html").write_text(f"<p>{MARKER}</p>")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment("04-lstm", duedate=dt.datetime(2024, 3, 1, 12, 0))
    out = tmp_path / "out"
    batch = grade(course, out, jobs=2, assignments=["04-lstm", "05-gru"], seed=SEED, progress=False)

    grades = {(r["student_id"], r["assignment"]): r for r in _rows(out / "grades.csv")}
    assert set(grades) == {("ada", "04-lstm"), ("ada", "05-gru"), ("Zoë", "04-lstm"), ("eve", "04-lstm")}
    assert not batch.ungradable, batch.ungradable  # ada's 02-..07- not handed in: nothing to grade
    checks = [r for r in _rows(out / "results.csv") if r["student_id"] in ("ada", "Zoë")]
    assert checks and all(float(r["score"]) == float(r["max_score"]) > 0 for r in checks)
    eve_checks = [r for r in _rows(out / "results.csv") if r["student_id"] == "eve"]
    assert any(float(r["score"]) < float(r["max_score"]) for r in eve_checks), "a link to source/ gained"
    assert float(grades[("eve", "04-lstm")]["score"]) < float(grades[("ada", "04-lstm")]["score"])
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        zoe = gb.find_submission("04-lstm", "Zoë")
        assert zoe.timestamp == dt.datetime(2024, 3, 1, 13, 30) and zoe.total_seconds_late == 90 * 60
        assert gb.find_submission("04-lstm", "ada").total_seconds_late == 0
    late = {(r["student_id"], r["assignment"]): r["late"] for r in _rows(out / "submissions.csv")}
    assert late[("Zoë", "04-lstm")] == "yes" and late[("ada", "04-lstm")] == "no"
    notes = _rows(out / "notes.csv")
    assert any(r["student_id"] == "Zoë" and r["note"].startswith("submitted late: 2024-03-01 13:30")
               for r in notes)
    assert any(r["student_id"] == "eve" and "symbolic link" in r["note"] for r in notes)
    _assert_feedback_is_pages_only(out, grades, stamped=grades)


@pytest.mark.slow
def test_grade_takes_a_canvas_download_as_it_comes(tmp_path, key):
    from autograder.demo import classroom
    from autograder.grading.grade import grade

    memo = tmp_path / "memo"
    shutil.copytree(key, memo)
    classroom.replace_function(memo / "rnnkit" / "lstm.py", "new_state", classroom.MEMO_NEW_STATE)
    memo_zip = tmp_path / "memo.zip"
    shutil.make_archive(str(memo_zip.with_suffix("")), "zip", memo)
    path = download(tmp_path / "rnn-lesson-4 submissions.zip", [
        ("müllerzoë_12345_67890_course.zip", course_zip(key), WHEN),
        ("lovelaceada_LATE_222_301_course.zip", memo_zip.read_bytes(), WHEN),
        ("stonebob_333_text.html", b"<p>forgot the zip</p>", WHEN),
    ])
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n\"Müller, Zoë\",12345,S1,zm,A\n"
                      "\"Lovelace, Ada\",222,S2,al,B\n\"Noether, Emmy\",444,S4,en,A\n", encoding="utf-8")
    out = tmp_path / "out"
    grade(path, out, jobs=2, assignments=["04-lstm"], seed=SEED, progress=False, roster=roster)

    grades = {r["student_id"]: float(r["score"]) for r in _rows(out / "grades.csv")}
    assert set(grades) == {"müllerzoë-12345", "lovelaceada-222"}
    assert grades["lovelaceada-222"] < grades["müllerzoë-12345"]  # the memo's LSTM loses points
    ungradable = {r["student_id"]: r["reason"] for r in _rows(out / "ungradable.csv")}
    assert set(ungradable) == {"stonebob-333"} and "no zip" in ungradable["stonebob-333"]
    canvas = {r["ID"]: r for r in _rows(out / "canvas-grades.csv")}
    assert set(canvas) == {"12345", "222", "333"}
    assert float(canvas["12345"]["04-lstm"]) == grades["müllerzoë-12345"]
    assert float(canvas["222"]["04-lstm"]) == grades["lovelaceada-222"] and canvas["333"]["04-lstm"] == ""
    assert canvas["222"]["Student"] == "Lovelace, Ada" and canvas["222"]["SIS Login ID"] == "al"
    roster_rows = {r["full_name"]: r for r in _rows(out / "roster.csv")}
    assert roster_rows["Noether, Emmy"]["student_id"] == "" and roster_rows["Lovelace, Ada"]["late"] == "yes"
    _assert_feedback_is_pages_only(out, [(s, "04-lstm") for s in grades])


# --------------------------------------------------------------------------- attacks on attribution


def _tiny_course(marker):
    """Bytes of a zipped course folder (enough to be taken in) holding WHO.txt = marker."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("course/lessons/README.md", "x")
        zf.writestr("course/rnnkit/__init__.py", "")
        zf.writestr("course/WHO.txt", marker)
    return buf.getvalue()


def _graded_work(subs):
    """{lms_id: WHO.txt of the work taken in} of the learners of a download."""
    return {s.identity["lms_id"]: (Path(s.folder) / "WHO.txt").read_text() for s in subs if s.identity}


@pytest.mark.parametrize("attacker", [
    "12345_99999999_5550002_course.zip",  # sortable name "12345" = the victim's Canvas user id
    "12345_LATE_99999999_5550002_course.zip",
])
def test_a_canvas_name_equal_to_another_learners_id_takes_nothing_over(tmp_path, attacker):
    victim = ("smithjane_12345_5550001_course.zip", _tiny_course("VICTIM"), WHEN)
    roster = [lms.RosterEntry(lms_id="12345", name="Smith, Jane"),
              lms.RosterEntry(lms_id="99999999", name="12345")]
    baseline, _general, _rows = lms.take_in_download(download(tmp_path / "a.zip", [victim]), tmp_path / "wa",
                                                     roster)
    assert _graded_work(baseline) == {"12345": "VICTIM"}
    both = download(tmp_path / "b.zip", [victim, (attacker, _tiny_course("ATTACKER"), WHEN)])
    attacked, _general, rows = lms.take_in_download(both, tmp_path / "wb", roster)
    assert _graded_work(attacked) == {"12345": "VICTIM", "99999999": "ATTACKER"}
    victim_sub = next(s for s in attacked if s.identity.get("lms_id") == "12345")
    assert victim_sub.notes == next(s for s in baseline if s.identity).notes
    assert all(r["note"] == "" for r in rows)  # both learners found in the roster


@pytest.mark.parametrize("name", [
    "doejohn_777_5550003_x_31337_assignsubmission_file_course.zip",  # Canvas upload named like Moodle's
    "anon_777_5550004_course.zip",  # a learner named "Anon", or anonymous id 777
    "o_brien_1_2_c.zip",  # no Canvas name has "_"
])
def test_a_file_name_read_more_than_one_way_or_no_way_is_nobodys(tmp_path, name):
    stray, _general, _rows = lms.take_in_download(
        download(tmp_path / "d.zip", [("smithjane_12345_5550001_course.zip", _tiny_course("JANE"), WHEN),
                                     (name, _tiny_course("ODD"), WHEN)]), tmp_path / "w")
    assert _graded_work(stray) == {"12345": "JANE"}
    (odd,) = [s for s in stray if not s.identity]
    assert odd.folder is None and name in odd.problem


def test_canvas_ids_are_ascii_digits_and_names_are_needed():
    assert lms.parse_top("\u0661\u0662\u0663_5550006_c.zip", False) == (None, None)
    assert lms.parse_top("smith_\u0661\u0662\u0663_5550006_c.zip", False) == (None, None)
    assert lms.parse_top("12345_5550006_c.zip", False) == (None, None)  # no name: no Canvas file
    lms_name, fields = lms.parse_top("\u0661\u0662\u0663_99999_5550006_c.zip", False)
    assert (lms_name, fields["lms_id"], fields["name"]) == ("canvas", "99999", "\u0661\u0662\u0663")
    assert lms.parse_top("LATE_777_5550005_course.zip", False)[1]["late"] is None  # a learner named "Late"


def test_every_text_cell_the_intake_writes_is_escaped(tmp_path):
    evil = "=HYPERLINK(B2&C2)+0"
    members = [(f"{evil}_31337_assignsubmission_file/course.zip", _tiny_course("EVIL"), WHEN),
               ("Jane Smith_12345_assignsubmission_file/course.zip", _tiny_course("JANE"), WHEN)]
    intake = submissions.take_in(download(tmp_path / "dl.zip", members), tmp_path / "work")
    out = tmp_path / "out"
    out.mkdir()
    written = intake.write_tables(out, {}, [])
    assert "submissions.csv" in written and "roster.csv" in written
    for name in written:
        for row in csv.reader(io.StringIO((out / name).read_text(encoding="utf-8"))):
            assert not any(cell[:1] in ("=", "+", "@") for cell in row), (name, row)
    sources = {r["source"] for r in _rows(out / "submissions.csv")}
    assert f"'{evil}_31337_assignsubmission_file" in sources  # kept, with the quote a spreadsheet shows
    assert submissions.csv_cell("-1") == "-1" and submissions.csv_cell("2.5") == "2.5"
    assert submissions.csv_cell("-1+1") == "'-1+1" and submissions.csv_cell("-\u0661") == "'-\u0661"


def test_grade_tables_escape_notes_and_messages(tmp_path):
    from types import SimpleNamespace

    from autograder.grading import grade

    batch = SimpleNamespace(graded={("ann", "a1"): (1.0, 2.0)},
                            results=[("ann", "a1", "t1", -1.0, 2.0, "=1+1")],
                            ungradable=[("bob", "*", "@SUM(A1)")],
                            notes=[("ann", "a1", "+cmd|' /C calc'!A0")])
    grade._write_tables(batch, tmp_path)
    assert _rows(tmp_path / "results.csv")[0]["message"] == "'=1+1"
    assert _rows(tmp_path / "results.csv")[0]["score"] == "-1"
    assert _rows(tmp_path / "ungradable.csv")[0]["reason"] == "'@SUM(A1)"
    assert _rows(tmp_path / "notes.csv")[0]["note"] == "'+cmd|' /C calc'!A0"


@pytest.mark.parametrize("evil", ['"\';\';\';\';\'",99999,S3,mal,A', '"x"";""y"";""z",99999,S3,mal,A',
                                  '"a;b;c;d;e;f;g;h",99999,S3,mal,A'])
def test_one_learners_name_does_not_change_how_the_roster_is_read(tmp_path, evil):
    header = "Student,ID,SIS User ID,SIS Login ID,Section\n"
    honest = ['"Smith, Jane",12345,S1,jsmith,A', '"Lee, Ann",23456,S2,alee,A']
    (tmp_path / "base.csv").write_text(header + "\n".join(honest) + "\n")
    (tmp_path / "evil.csv").write_text(header + "\n".join([honest[0], evil, honest[1]]) + "\n")
    base = [(e.name, e.lms_id, e.sis_login_id) for e in lms.read_roster(tmp_path / "base.csv")]
    got = [(e.name, e.lms_id, e.sis_login_id) for e in lms.read_roster(tmp_path / "evil.csv")]
    assert base == [("Smith, Jane", "12345", "jsmith"), ("Lee, Ann", "23456", "alee")]
    assert [g for g in got if g[1] != "99999"] == base and [g[1] for g in got] == ["12345", "99999", "23456"]


def test_a_roster_with_semicolons_or_tabs_is_read_by_its_header(tmp_path):
    for sep in (";", "\t"):
        (tmp_path / "r.csv").write_text(sep.join(["Identifier", "Full name", "Email address"]) + "\n"
                                        + sep.join(["Participant 7", "Ann, Lee", "a@x"]) + "\n")
        (entry,) = lms.read_roster(tmp_path / "r.csv")
        assert (entry.lms_id, entry.name, entry.email) == ("7", "Ann, Lee", "a@x")


@pytest.mark.parametrize("text", ["0001-01-01 00:00:00 +01:00", "9999-12-31 23:59:59 -01:00",
                                  "0001-01-01 00:00:05 UTC", "2024-03-01 12:00:00 +99:99",
                                  "2024-03-01 12:00:00 +14:01", "2024-03-01 12:00:00 -15:00",
                                  "2024-03-01 12:00:00 +05:60", "1969-12-31 23:59:59 UTC",
                                  "2201-01-01 00:00:00 UTC"])
def test_an_impossible_timestamp_is_a_note_not_an_ungradable_hand_in(tmp_path, text):
    assert exchange.parse_timestamp(text) is None
    (tmp_path / "timestamp.txt").write_text(text)
    stamp, why = exchange.read_timestamp(tmp_path / "timestamp.txt")
    assert stamp is None and "does not hold a time" in why


def test_timestamps_at_the_edges_are_read_and_staged_with_four_digit_years():
    from nbgrader.utils import parse_utc

    for text, utc in [("2024-03-01 12:00:00 +14:00", dt.datetime(2024, 2, 29, 22)),
                      ("2024-03-01 12:00:00 -12:00", dt.datetime(2024, 3, 2, 0)),
                      ("1970-01-01 00:00:00 UTC", dt.datetime(1970, 1, 1)),
                      ("2200-12-31 23:59:59 UTC", dt.datetime(2200, 12, 31, 23, 59, 59))]:
        stamp = exchange.parse_timestamp(text)
        assert stamp == utc, text
        assert parse_utc(exchange.format_timestamp(stamp)).replace(tzinfo=None) == utc
    assert exchange.format_timestamp(dt.datetime(5, 1, 2)) == "0005-01-02 00:00:00.000000 UTC"
