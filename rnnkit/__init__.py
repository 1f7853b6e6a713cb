"""rnnkit: basic RNN, LSTM and GRU cells in plain numpy, written in the notation
of the course memo, with unrolling, stacking, backpropagation through time and a
small training kit.

Conventions: rows are examples, x (B, D), states (B, H); every weight is
(H, D + H) acting on [x_t, y_{t-1}]; sequences are time-major (T, B, D).
"""

from .cells import CELLS, GRU, LSTM, LSTM_MEMO, RNN
from .gru import GRUParams, gru_step
from .lstm import LSTMParams, lstm_step
from .multilayer import stacked_forward
from .rnn import RNNParams, rnn_step
from .sequence import unroll

__all__ = [
    "CELLS", "GRU", "LSTM", "LSTM_MEMO", "RNN",
    "GRUParams", "LSTMParams", "RNNParams",
    "gru_step", "lstm_step", "rnn_step",
    "stacked_forward", "unroll",
]
