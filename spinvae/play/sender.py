"""To a synth over MIDI: each new knob position sent as the synth's preset message, never flooding the port.

A knob turned fast sends CC values every few milliseconds, and a DX7 single-voice dump is 163 bytes
(52 ms at the 31,250 baud of a 5-pin MIDI cable; a hardware DX7 also needs time to load it). The
sender sends a position at once when the last message left at least ``min_interval`` seconds ago,
and otherwise keeps only the newest position and sends it when the interval has passed (:meth:`poll`),
so the knob's last value always arrives, and at most one preset message leaves per interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import mido
import numpy as np

from spinvae.synth.base import Synth


class PresetSender:
    """Sends the preset of CC value ``position`` of ``presets`` (128, n_params) through ``send``.

    ``clock`` (seconds, monotonic) is injectable for tests. Thread-safe: :meth:`move` is called from
    the MIDI input's thread, :meth:`poll` from a timer thread.
    """

    def __init__(self, synth: Synth, presets: np.ndarray, send: Callable[[mido.Message], None],
                 min_interval: float = 0.05, channel: int = 0, clock: Callable[[], float] = time.monotonic):
        self.send, self.min_interval, self.clock = send, min_interval, clock
        # the messages are made once, ahead of playing: a move only looks one up
        self.messages = [mido.Message.from_bytes(synth.preset_message(p, channel)) for p in presets]
        self._lock = threading.Lock()
        self._pending: int | None = None
        self._last_sent: int | None = None
        self._sent_at = -float("inf")

    @property
    def last_sent(self) -> int | None:
        """The position whose preset message left last (None before any)."""
        return self._last_sent

    def move(self, position: int) -> bool:
        """The knob is at ``position`` (0..127): send its preset now if the interval allows (True), or keep it
        for :meth:`poll`."""
        with self._lock:
            self._pending = position
            return self._send_if_due()

    def poll(self) -> bool:
        """Send the newest kept position if its time has come (True when something was sent)."""
        with self._lock:
            return self._send_if_due()

    def flush(self) -> None:
        """Send the newest kept position now, whatever the interval (on closing)."""
        with self._lock:
            self._sent_at = -float("inf")
            self._send_if_due()

    def _send_if_due(self) -> bool:
        if self._pending is None:
            return False
        now = self.clock()
        if now - self._sent_at < self.min_interval:
            return False
        position, self._pending = self._pending, None
        if position != self._last_sent:  # the synth already holds it
            self.send(self.messages[position])
            self._sent_at, self._last_sent = now, position
        return True
