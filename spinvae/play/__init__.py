"""Live morphing: a knob (a MIDI CC) walks a path of presets decoded ahead of time, while a keyboard plays.

- :mod:`.path`: the 128 presets of a morph or a timbre knob, one per CC value, decoded before playing;
- :mod:`.sender`: to a synth over MIDI, each new position sent as the synth's preset message, rate-limited;
- :mod:`.cache` and :mod:`.engine`: to the audio output, polyphonic, from notes rendered ahead of time;
- :mod:`.offline`: the engine fed a MIDI file, a WAV out (deterministic);
- :mod:`.ports` and :mod:`.live`: real MIDI ports (mido + python-rtmidi) and a JACK audio client.
"""
