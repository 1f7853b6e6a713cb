"""nbgrader configuration of the instructor's server on Kubernetes (copied into the grader image).

The course folder is ~/course in the instructor's persistent home, built there once with
``python -m autograder course ~/course``; its own nbgrader_config.py (the trusted grading
pipeline, exclude_overwriting) is loaded from here, so formgrader and every nbgrader command
use it. Releasing, collecting and feedback go through ngshare.
"""

import os

from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821
configureExchange(c)  # inside the cluster: http://proxy-public/services/ngshare
COURSE = os.path.expanduser("~/course")
c.CourseDirectory.root = COURSE
c.CourseDirectory.course_id = "rnn-course"  # as in the course's generated nbgrader_config.py
if os.path.isfile(os.path.join(COURSE, "nbgrader_config.py")):
    load_subconfig(os.path.join(COURSE, "nbgrader_config.py"))  # noqa: F821
