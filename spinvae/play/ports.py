"""Real MIDI ports (mido over python-rtmidi) and the JACK server, with one-line errors.

MIDI goes through ALSA's sequencer where the machine has one (``/dev/snd/seq``), and through JACK
MIDI otherwise (containers and CI have no ALSA sequencer; a JACK server, even with its dummy driver,
gives them MIDI ports); ``SPINVAE_MIDI_API`` (``LINUX_ALSA`` or ``UNIX_JACK``) overrides the choice.
Audio goes to a JACK server (:mod:`.live`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import mido

from spinvae.errors import UserError

CLIENT = "spinvae"  # the JACK audio client (spinvae:out_1, spinvae:out_2)
MIDI_CLIENT = "spinvae-midi"  # the virtual MIDI ports (spinvae-midi:in, spinvae-midi:out): a client of their own
NO_JACK = ("no JACK server is running: start one (jackd -d alsa for a sound card, jackd -d dummy without one; "
           "Debian: apt-get install jackd2), or use --midi-file to render offline")


class PortError(UserError):
    """A port or server that cannot be opened: one line saying what to install, start or name."""


def quiet_jack() -> None:
    """Keep libjack's own messages (several lines per failed connection) off the terminal: the error a
    user sees is the one line of :class:`PortError`."""
    try:
        import jack
    except OSError:  # JACK-Client without libjack
        return
    jack.set_error_function(lambda message: None)
    jack.set_info_function(lambda message: None)


def midi_api() -> str:
    """rtmidi's API: ``SPINVAE_MIDI_API``, else ALSA where its sequencer exists, else JACK."""
    chosen = os.environ.get("SPINVAE_MIDI_API")
    if chosen:
        return chosen
    return "LINUX_ALSA" if Path("/dev/snd/seq").exists() else "UNIX_JACK"


def backend() -> mido.Backend:
    quiet_jack()
    return mido.Backend(f"mido.backends.rtmidi/{midi_api()}", load=True)


def _server_error(err: Exception) -> PortError:
    message = str(err)
    if "JACK server not running" in message or "server_failed" in message:
        return PortError(NO_JACK)
    return PortError(f"MIDI ({midi_api()}): {message.splitlines()[0] if message else type(err).__name__}")


def list_ports() -> dict[str, list[str]]:
    """The MIDI inputs and outputs, and the JACK audio playback ports."""
    try:
        midi = backend()
        ports = {"midi inputs": midi.get_input_names(), "midi outputs": midi.get_output_names()}
    except OSError as err:  # rtmidi's errors are OSErrors
        raise _server_error(err) from None
    try:
        import jack

        with jack.Client(f"{CLIENT}-list", no_start_server=True) as client:
            ports["audio outputs"] = [p.name for p in client.get_ports(is_audio=True, is_input=True, is_physical=True)]
    except (jack.JackError, OSError):
        ports["audio outputs"] = []
    return ports


def _choose(name: str, names: list[str], kind: str) -> str:
    """The port called ``name``, or the one port whose name contains it."""
    if name in names:
        return name
    found = [n for n in names if name.lower() in n.lower()]
    if len(found) == 1:
        return found[0]
    listed = ", ".join(repr(n) for n in names) or "none"
    if found:
        raise PortError(f"{kind} {name!r}: several ports match ({', '.join(map(repr, found))}); name one")
    raise PortError(f"{kind} {name!r}: no such port; the {kind}s are: {listed} (spinvae play --list-ports)")


_opened = itertools.count()


def _open_jack(midi: mido.Backend, target: str, is_input: bool, callback=None):
    """A port of ours connected to the JACK MIDI port ``target`` (rtmidi's own connection by name does not
    connect under JACK when the target's name holds a colon, as every JACK port name does)."""
    import jack

    own = "in" if is_input else "out"
    client = f"{MIDI_CLIENT}-{os.getpid()}-{next(_opened)}"  # unique, so that the connection finds this port and no other
    port = (midi.open_input(own, virtual=True, callback=callback, client_name=client) if is_input
            else midi.open_output(own, virtual=True, client_name=client))
    with jack.Client(f"{client}-connect", no_start_server=True) as connector:
        if is_input:
            connector.connect(target, f"{client}:{own}")
        else:
            connector.connect(f"{client}:{own}", target)
    return port


def open_input(name: str | None, callback: Callable[[mido.Message], None]) -> mido.ports.BaseInput:
    """The MIDI input ``name`` (exact, or a unique part of it), or with None a new virtual input
    ``spinvae-midi:in`` that a controller or a sequencer connects to; messages go to ``callback`` (rtmidi's thread)."""
    try:
        midi = backend()
        if name is None:
            return midi.open_input("in", virtual=True, callback=callback, client_name=MIDI_CLIENT)
        chosen = _choose(name, midi.get_input_names(), "MIDI input")
        if midi_api() == "UNIX_JACK":
            return _open_jack(midi, chosen, True, callback)
        return midi.open_input(chosen, callback=callback, client_name=MIDI_CLIENT)
    except OSError as err:
        raise _server_error(err) from None


def open_output(name: str | None) -> mido.ports.BaseOutput:
    """The MIDI output ``name`` (exact or a unique part), or with None a new virtual output ``spinvae-midi:out``."""
    try:
        midi = backend()
        if name is None:
            return midi.open_output("out", virtual=True, client_name=MIDI_CLIENT)
        chosen = _choose(name, midi.get_output_names(), "MIDI output")
        if midi_api() == "UNIX_JACK":
            return _open_jack(midi, chosen, False)
        return midi.open_output(chosen, client_name=MIDI_CLIENT)
    except OSError as err:
        raise _server_error(err) from None
