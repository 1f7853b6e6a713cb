"""nbgrader preprocessor used at grading time (runs in the trusted nbgrader process).

``SkipExperiments`` tags every code cell that decides no points and answers no
question with nbclient's ``skip-execution`` tag, so that autograde runs only the
set-up cell, the learner's answer cells and the graded cells. The lessons'
experiments (training runs, figures) then cost nothing at grading time: they
decide no score (the check cells' points come from the sandbox) and the learner
already saw their output. ``grade --run-experiments`` runs everything.
"""

from nbgrader.preprocessors import NbGraderPreprocessor

SKIP_TAG = "skip-execution"  # nbclient's NotebookClient.skip_cells_with_tag default


class SkipExperiments(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        meta = cell.metadata.get("nbgrader", {}) or {}
        keep = meta.get("grade_id") == "setup" or meta.get("solution") or meta.get("grade")
        if not keep:
            tags = list(cell.metadata.get("tags", []))
            if SKIP_TAG not in tags:
                cell.metadata["tags"] = [*tags, SKIP_TAG]
        return cell, resources


class SkipAllCode(NbGraderPreprocessor):
    """Last resort for a notebook whose kernel dies even in its released form (say the learner's
    rnnkit ends the process on import): nothing runs, nbgrader still records the submission, and
    the grader writes the check cells' trusted scores (other auto-graded cells score 0)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            tags = list(cell.metadata.get("tags", []))
            if SKIP_TAG not in tags:
                cell.metadata["tags"] = [*tags, SKIP_TAG]
        return cell, resources
