"""Instructor toolkit for the RNN course: release, nbgrader course, checks, grading."""
