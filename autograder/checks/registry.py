"""What is checked, in which lesson, for how many points.

One entry per learner function. ``grade_id`` is the nbgrader grade id of the
locked check cell that reports it; the trusted grader writes its score there.
This file uses no imports beyond the standard library so that it can travel
with the learner's copy of the checks.
"""

from typing import NamedTuple


class Lesson(NamedTuple):
    assignment: str  # nbgrader assignment name, also the notebook's file stem
    title: str


class CheckSpec(NamedTuple):
    check_id: str  # "<module>.<function>" inside rnnkit
    lesson: str  # assignment name
    points: float

    @property
    def module(self):
        return self.check_id.split(".")[0]

    @property
    def function(self):
        return self.check_id.split(".")[1]

    @property
    def grade_id(self):
        return "check_" + self.check_id.replace(".", "_")


LESSONS = [
    Lesson("00-orientation", "Orientation: how the course works"),
    Lesson("01-recurrence", "From neural networks to RNNs"),
    Lesson("02-basic-rnn", "The basic RNN"),
    Lesson("03-multilayer", "Multilayer RNNs"),
    Lesson("04-lstm", "Long short-term memory"),
    Lesson("05-gru", "Gated recurrent units"),
    Lesson("06-bptt", "Training by backpropagation through time"),
    Lesson("07-compare", "RNN, LSTM and GRU compared"),
]

CHECKS = [
    CheckSpec("sequence.unroll", "01-recurrence", 3),
    CheckSpec("rnn.rnn_step", "02-basic-rnn", 3),
    CheckSpec("multilayer.stacked_forward", "03-multilayer", 3),
    CheckSpec("lstm.forget_gate", "04-lstm", 1),
    CheckSpec("lstm.input_gate", "04-lstm", 1),
    CheckSpec("lstm.input_activation", "04-lstm", 1),
    CheckSpec("lstm.output_gate", "04-lstm", 1),
    CheckSpec("lstm.new_state", "04-lstm", 2),
    CheckSpec("lstm.final_output", "04-lstm", 1),
    CheckSpec("lstm.lstm_step", "04-lstm", 3),
    CheckSpec("gru.reset_gate", "05-gru", 1),
    CheckSpec("gru.update_gate", "05-gru", 1),
    CheckSpec("gru.input_activation", "05-gru", 2),
    CheckSpec("gru.final_output", "05-gru", 2),
    CheckSpec("gru.gru_step", "05-gru", 3),
    CheckSpec("rnn.rnn_step_backward", "06-bptt", 3),
    CheckSpec("lstm.lstm_step_backward", "06-bptt", 4),
    CheckSpec("gru.gru_step_backward", "06-bptt", 4),
    CheckSpec("sequence.bptt", "06-bptt", 3),
    CheckSpec("multilayer.stacked_backward", "06-bptt", 3),
]

CHECKS_BY_ID = {c.check_id: c for c in CHECKS}


def checks_for(lesson):
    """The checks of one lesson (assignment name), in teaching order."""
    return [c for c in CHECKS if c.lesson == lesson]
