"""nbgrader configuration of a learner's server on Kubernetes (copied into the learner image).

The Assignments tab fetches and submits the course's lessons through ngshare, the hub service
that stands for nbgrader's exchange folder when servers share no file system.
"""

from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821
configureExchange(c)  # inside the cluster: http://proxy-public/services/ngshare
c.CourseDirectory.course_id = "rnn-course"  # as in the course's generated nbgrader_config.py
