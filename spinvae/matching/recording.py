"""Recordings in: one audio file of one note, checked, mixed to mono, with its pitch.

:func:`read_recording` reads any file ``soundfile`` reads (WAV, FLAC, AIFF, OGG, ...) at its own
sample rate and refuses, with one line ``"<path>: <reason>"`` (:class:`RecordingError`), what a
synth's single note cannot match: an empty or unreadable file, a clip too short, silence, a sound
without a single pitch, a pitch outside the synth's keyboard.

The note a recording plays comes, in this order, from the caller (``note=``, source ``"given"``),
from a note name in the file name (``guitar_E2.wav``, :func:`note_from_name`, source
``"file name"``) or from pYIN alone (source ``"pyin"``). Its f0 is measured in every case
(:func:`estimate_f0`): with a given or named note, as a check and for the fractional note the synth
plays (a recording tuned 30 cents sharp is matched 30 cents sharp). A measured pitch more than a
semitone from a given or named note (after folding octave errors) is not an error: the label is
trusted, :attr:`Recording.note` is the label's note and :attr:`Recording.f0_hz` keeps what was
measured, so a caller can report the disagreement.

One pitch ("polyphonic or noise" in the refusals) is a heuristic with two tests on the first
1.5 s of the note: pYIN must find voiced at least half of the frames within 40 dB of the loudest
(white noise: 15-30 %; a plucked note: 85-100 %), and the spectrum's prominent peaks must be
harmonics of the f0 found (:func:`check_single_pitch`): something must sound at the f0 or its
octave (a chord's common root, C2 under C4-E4-G4, fails this), and no peak within 10 dB of the
loudest may sit between harmonics (20 dB when the f0 itself is silent), which catches the other
notes of a chord when pYIN picked one of them. On soundfont chords (piano, guitars, harp) it refuses
triads, six-note guitar chords and thirds. It does not catch what is harmonic to one low note: an
octave, a fifth (C4 + G4 is C3's 2nd and 3rd harmonics), a unison of two instruments; nor a second
note more than 10 dB (20) quieter, a note over quiet noise, or a major or minor second (the
partials fall within a harmonic's 6 % tolerance, left wide for string sections and vibrato). A
recording whose pitch glides is accepted with its median pitch.

pYIN alone (no note given or named) finds E1..C6 plucked notes within 20 cents on the soundfont's
instruments; above C6 its sub-harmonic errors grow (C7 notes come out an octave and a fifth low, or
are refused): name the note there.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: the MIDI notes the synths play (the piano's keyboard, A0..C8)
LOWEST_NOTE, HIGHEST_NOTE = 21, 108
#: the f0 search range (MIDI) when no note is expected: E1 (41 Hz) to E7 (2.6 kHz)
SEARCH_LOW, SEARCH_HIGH = 28.0, 100.0
#: pYIN runs at this rate (Hz): 6 kHz of band is plenty for f0 up to E7, and 3x fewer samples than 48 kHz
ANALYSIS_RATE = 16000
#: seconds analysed from the onset: the attack and body of the note, where a plucked note is most pitched
ANALYSIS_SECONDS = 1.5
#: frames quieter than this many dB below the loudest analysed frame are left out of the voiced share
#: (a plucked note's tail is quiet, not unpitched)
SOUNDING_DB = 40.0
#: the least share of sounding frames pYIN must find voiced for one pitch to be accepted
MIN_VOICED = 0.5
#: a measured pitch this many semitones or less from a given or named note replaces it
AGREE_SEMITONES = 1.0
#: spectral peaks: at least this many dB above their surroundings, at most this many below the loudest
PEAK_PROMINENCE_DB, PEAK_RANGE_DB = 10.0, 30.0
#: a peak that is no harmonic of the f0 and at most this many dB below the loudest: a second note
#: (the second figure where nothing sounds at the f0 itself)
STRAY_DB, STRAY_DB_WITHOUT_FUNDAMENTAL = 10.0, 20.0

_PITCH_CLASSES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
# a note name: a letter, an optional accidental, an octave -1..9; not inside a word or a number
# ("bass", "decay", "take2", "A440")
_NOTE_NAME = re.compile(r"(?<![A-Za-z0-9])([A-Ga-g])([#b]?)(-?\d)(?![A-Za-z0-9])")


class RecordingError(ValueError):
    """A recording that cannot be matched: one line ``"<path>: <reason>"``."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class Recording:
    """One note read from a file.

    ``audio`` (n,) float32 mono at ``sample_rate`` Hz, as read (not normalised); ``note`` the MIDI
    note it plays, fractional (the measured pitch, or the given or named note when the measurement
    disagrees with it by more than a semitone); ``note_source`` ``"given"``, ``"file name"`` or
    ``"pyin"``; ``f0_hz`` the measured f0 (Hz); ``voiced`` the share of sounding frames pYIN found
    voiced (0..1).
    """

    path: Path
    audio: np.ndarray
    sample_rate: int
    note: float
    note_source: str
    f0_hz: float
    voiced: float

    @property
    def seconds(self) -> float:
        """The length in seconds."""
        return len(self.audio) / self.sample_rate


def note_from_name(name: str) -> int | None:
    """The MIDI note named in a file name, scientific pitch (C4 = 60, octaves -1..9): ``guitar_E2.wav``
    -> 40, ``harp-C#4-soft.wav`` -> 61, ``Bb3`` -> 58, ``a4`` -> 69.

    The name must stand alone, delimited by the start or end of the name or by a character that is
    neither a letter nor a digit (``_ - . space``), so words and numbers are not read as notes
    (``bass_take2.wav``, ``decay.wav``, ``A440.wav``: None). Only the last path component counts.
    None as well when the name holds no note, notes that disagree (``C4-E4-G4.wav``), or a note
    outside MIDI 0..127.
    """
    notes = set()
    for letter, accidental, octave in _NOTE_NAME.findall(Path(name).name):
        shift = {"#": 1, "b": -1, "": 0}[accidental]
        notes.add(12 * (int(octave) + 1) + _PITCH_CLASSES[letter.lower()] + shift)
    if len(notes) != 1:
        return None
    note = notes.pop()
    return note if 0 <= note <= 127 else None


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _midi(hz: float) -> float:
    return 69.0 + 12.0 * float(np.log2(hz / 440.0))


def _frame_rms(audio: np.ndarray, frame: int) -> np.ndarray:
    """RMS of consecutive non-overlapping frames of ``frame`` samples (the last one zero-padded)."""
    padded = np.pad(audio.astype(np.float64), (0, -len(audio) % frame))
    return np.sqrt(np.mean(padded.reshape(-1, frame) ** 2, axis=1))


def _analysis_span(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The first :data:`ANALYSIS_SECONDS` of the note at :data:`ANALYSIS_RATE` (float32), from the
    10-ms frame before the first one within 30 dB of the loudest (leading silence skipped)."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    frame = max(1, sample_rate // 100)
    rms = _frame_rms(audio, frame)
    start = max(0, int(np.argmax(rms >= rms.max() * 10 ** (-30 / 20))) - 1) * frame
    span = audio[start:start + int(round(ANALYSIS_SECONDS * sample_rate))]
    if sample_rate != ANALYSIS_RATE:
        span = librosa.resample(span, orig_sr=sample_rate, target_sr=ANALYSIS_RATE)
    return span.astype(np.float32)


def _pyin(span: np.ndarray, low: float, high: float, resolution: float,
          max_octaves_per_second: float = 35.92) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pYIN over MIDI ``low`` .. ``high`` with pitch bins ``resolution`` semitones wide on ``span`` (at
    :data:`ANALYSIS_RATE`): f0 (Hz, NaN where unvoiced), voiced flags and frame RMS, one per 8-ms hop."""
    import librosa

    fmin, fmax = _hz(low), min(_hz(high), 0.45 * ANALYSIS_RATE)
    # a power of two holding two periods of fmin (librosa warns below that); at least 512 (32 ms)
    frame_length = max(512, 1 << int(np.ceil(np.log2(2 * ANALYSIS_RATE / fmin + 2))))
    hop = ANALYSIS_RATE // 125
    if len(span) < frame_length:  # a clip shorter than a frame: pad with silence
        span = np.pad(span, (0, frame_length - len(span)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0, voiced, _ = librosa.pyin(span, fmin=fmin, fmax=fmax, sr=ANALYSIS_RATE, frame_length=frame_length,
                                     hop_length=hop, resolution=resolution,
                                     max_transition_rate=max_octaves_per_second, center=True)
    rms = librosa.feature.rms(y=span, frame_length=frame_length, hop_length=hop, center=True)[0][:len(f0)]
    return f0, voiced, rms


def estimate_f0(audio: np.ndarray, sample_rate: int, expected_note: float | None = None) -> tuple[float, float]:
    """The f0 (Hz) of a single note ``audio`` (n,) at ``sample_rate`` Hz, and the share (0..1) of its
    sounding frames that pYIN found voiced; f0 is NaN when no frame is voiced.

    pYIN (librosa) runs on the first :data:`ANALYSIS_SECONDS` after the onset, resampled to
    :data:`ANALYSIS_RATE`, over MIDI ``expected_note`` +- 7 semitones (a fifth) or, with no note
    expected, MIDI :data:`SEARCH_LOW` .. :data:`SEARCH_HIGH`; frames hold at least two periods of
    the lowest f0 searched; hop 8 ms. Sounding frames are those within :data:`SOUNDING_DB` of the
    loudest. That pass gives the voiced share and a median f0 on pYIN's 10-cent grid; a second pass
    a semitone either side of it, on a 1-cent grid, gives the f0 (median over its voiced frames).
    With a note expected, an estimate one or two octaves off (pYIN's usual failure) is folded to the
    octave nearest the expected note.
    """
    span = _analysis_span(audio, sample_rate)
    low, high = (SEARCH_LOW, SEARCH_HIGH) if expected_note is None else (expected_note - 7.0, expected_note + 7.0)
    f0, voiced, rms = _pyin(span, low, high, resolution=0.1)
    sounding = rms >= rms.max() * 10 ** (-SOUNDING_DB / 20) if rms.max() > 0 else np.zeros(len(f0), bool)
    if not sounding.any():
        return float("nan"), 0.0
    voiced &= sounding
    share = float(voiced.sum() / sounding.sum())
    if not voiced.any():
        return float("nan"), share
    coarse = _midi(float(np.median(f0[voiced])))
    # librosa needs the transition window (a frame's largest step) within the bins: 0.9 semitone a frame
    fine, fine_voiced, _ = _pyin(span, coarse - 1.0, coarse + 1.0, resolution=0.01, max_octaves_per_second=9.0)
    n = min(len(fine), len(sounding))  # the passes' frame counts differ only for clips shorter than a frame
    fine, fine_voiced = fine[:n], fine_voiced[:n] & sounding[:n]
    hz = float(np.median(fine[fine_voiced])) if fine_voiced.any() else _hz(coarse)
    return _nearest_octave(hz, expected_note), share


def _nearest_octave(hz: float, expected_note: float | None) -> float:
    """``hz`` moved by whole octaves to the octave nearest ``expected_note`` (unchanged when None)."""
    return hz if expected_note is None else hz / 2.0 ** round((_midi(hz) - expected_note) / 12.0)


@dataclass(frozen=True)
class _Peaks:
    """Spectral peaks of a note: ``hz`` (k,) frequencies, ``db`` (k,) levels in dB below the loudest."""

    hz: np.ndarray
    db: np.ndarray


def _spectral_peaks(audio: np.ndarray, sample_rate: int) -> _Peaks:
    """The prominent peaks (at least :data:`PEAK_PROMINENCE_DB` above their surroundings) within
    :data:`PEAK_RANGE_DB` of the loudest, 30 Hz .. 7 kHz, of the analysed span's spectrum.

    The span is weighted by a half Hann window falling from 1 at the onset to 0: a symmetric window
    would weigh the attack of a short pluck near zero, and the note's own onset from silence does
    what its rising half would do.
    """
    from scipy.signal import find_peaks

    span = _analysis_span(audio, sample_rate).astype(np.float64)
    weights = np.cos(0.5 * np.pi * np.arange(len(span)) / max(1, len(span))) ** 2
    n_fft = 1 << 15  # 0.5-Hz bins at 16 kHz: a low E's harmonics (41 Hz apart) stay apart
    power = np.abs(np.fft.rfft(span * weights, n_fft)) ** 2
    hz = np.fft.rfftfreq(n_fft, 1.0 / ANALYSIS_RATE)
    band = (hz >= 30.0) & (hz <= 7000.0)
    db = 10.0 * np.log10(power[band] + 1e-30)
    db -= db.max()
    found, _ = find_peaks(db, prominence=PEAK_PROMINENCE_DB)
    found = found[db[found] >= -PEAK_RANGE_DB]
    return _Peaks(hz[band][found], db[found])


def _tolerance(f0: float, harmonic: np.ndarray | float) -> np.ndarray:
    """How far (Hz) a partial may sit from harmonic(s) ``harmonic`` of ``f0`` and still be it: 6 % of
    f0 (a semitone at the fundamental: a string section's spread partials, vibrato; a whole tone is
    a second note), or 50 cents where that is wider (stiff strings' stretched high partials)."""
    return np.maximum(0.06 * f0, np.asarray(harmonic) * f0 * (2 ** (0.5 / 12) - 1))


def _level(peaks: _Peaks, f0: float, harmonic: float) -> float:
    """The level (dB re the loudest) of the loudest peak at harmonic ``harmonic`` of ``f0``; -inf if none."""
    near = np.abs(peaks.hz - harmonic * f0) <= _tolerance(f0, harmonic)
    return float(peaks.db[near].max()) if near.any() else float("-inf")


@dataclass(frozen=True)
class _Fit:
    """How the harmonics of an f0 explain a note's peaks: levels (dB re the loudest peak; -inf: no
    peak) of its fundamental and octave, and the loudest stray peak (one that is no harmonic)."""

    fundamental_db: float
    octave_db: float
    stray_db: float
    stray_hz: float


def _fit(peaks: _Peaks, f0: float, floor_hz: float | None = None) -> _Fit:
    """:class:`_Fit` of ``f0`` (Hz); strays are looked for above ``floor_hz`` (default 0.75 f0: hum
    or a body's thump below the note is no second note the synth would be asked to play)."""
    harmonic = np.maximum(1.0, np.round(peaks.hz / f0))
    floor_hz = 0.75 * f0 if floor_hz is None else floor_hz
    stray = (np.abs(peaks.hz - harmonic * f0) > _tolerance(f0, harmonic)) & (peaks.hz >= floor_hz)
    loudest = int(np.argmax(np.where(stray, peaks.db, -np.inf))) if stray.any() else None
    return _Fit(_level(peaks, f0, 1), _level(peaks, f0, 2),
                float(peaks.db[loudest]) if loudest is not None else float("-inf"),
                float(peaks.hz[loudest]) if loudest is not None else float("nan"))


def _problem(fit: _Fit, f0: float) -> str | None:
    """Why ``f0`` is not the pitch of a single note with this :class:`_Fit`, or None."""
    if max(fit.fundamental_db, fit.octave_db) < -PEAK_RANGE_DB:
        return f"nothing sounds at {f0:.0f} Hz or {2 * f0:.0f} Hz, the pitch pYIN found (the common root of a chord?)"
    # a note without its fundamental (a low piano string; or the root an octave below a chord)
    # must account for more of its spectrum
    limit = STRAY_DB if fit.fundamental_db >= -PEAK_RANGE_DB else STRAY_DB_WITHOUT_FUNDAMENTAL
    if fit.stray_db >= -limit:
        return (f"a partial at {fit.stray_hz:.0f} Hz ({fit.stray_db:.0f} dB re the loudest) is no harmonic of "
                f"the {f0:.0f} Hz pYIN found (a second note?)")
    return None


def _corrected(peaks: _Peaks, f0: float) -> float:
    """``f0`` with two of pYIN's errors on single notes corrected:

    - an octave too high: a partial at 1.5 f0 and one at f0 / 2, whose harmonics explain the peaks;
    - a sub-harmonic of a high note (nothing at f0 or 2 f0): the lowest partial within
      :data:`STRAY_DB` of the loudest, when its harmonics explain every peak above 0.75 f0.
    """
    half = f0 / 2.0
    if (half >= _hz(SEARCH_LOW) and _level(peaks, half, 3) >= -PEAK_RANGE_DB
            and _level(peaks, half, 1) >= -PEAK_RANGE_DB and _problem(_fit(peaks, half), half) is None):
        return half
    fit = _fit(peaks, f0)
    if max(fit.fundamental_db, fit.octave_db) < -PEAK_RANGE_DB:
        loud = peaks.hz[(peaks.db >= -STRAY_DB) & (peaks.hz > f0)]
        if len(loud) and _problem(_fit(peaks, float(loud.min()), floor_hz=0.75 * f0), float(loud.min())) is None:
            return float(loud.min())
    return f0


def check_single_pitch(audio: np.ndarray, sample_rate: int, f0_hz: float) -> tuple[float, str | None]:
    """The second test of one pitch, on the spectrum: (f0 in Hz, None) when the note's prominent
    spectral peaks are harmonics of one f0, else (f0, the reason).

    Peaks: :func:`_spectral_peaks`. A single note has a partial at its f0 or its octave, and no
    partial between its harmonics within :data:`STRAY_DB` of the loudest
    (:data:`STRAY_DB_WITHOUT_FUNDAMENTAL` when nothing sounds at f0 itself). pYIN's f0 fails the first
    when it locked onto the common root of a chord (C2 under C4-E4-G4) and the second when it found
    one note of a chord (E4 beside C4), or a root an octave below it (C3 under a piano's C4-E4-G4).
    Two of pYIN's own errors on single notes are corrected first (:func:`_corrected`), so the f0
    returned may differ from ``f0_hz``.
    """
    peaks = _spectral_peaks(audio, sample_rate)
    if len(peaks.hz) == 0:
        return f0_hz, None
    f0_hz = _corrected(peaks, f0_hz)
    return f0_hz, _problem(_fit(peaks, f0_hz), f0_hz)


def read_recording(path: str | Path, note: float | None = None, min_seconds: float = 0.25,
                   silence_db: float = -60.0) -> Recording:
    """A recording of one note from ``path``, mixed to mono, at the file's own sample rate.

    ``note`` (MIDI, fractional allowed) overrides a note named in the file name, which overrides
    pYIN. Raises :class:`RecordingError` (one line naming the file) for a file that cannot be read,
    an empty one, one shorter than ``min_seconds``, a silent one (the RMS of its loudest 0.1 s
    below ``silence_db`` dBFS), one without a single pitch (module docstring), or a note outside
    MIDI :data:`LOWEST_NOTE` .. :data:`HIGHEST_NOTE`.
    """
    import soundfile

    path = Path(path)
    if not path.exists():
        raise RecordingError(path, "cannot read audio: no such file")
    if path.is_dir():
        raise RecordingError(path, "cannot read audio: a folder, not a file")
    if path.stat().st_size == 0:
        raise RecordingError(path, "empty file")
    try:
        data, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError, ValueError) as error:  # libsndfile's errors are RuntimeErrors
        # libsndfile names the file again ("Error opening '<path>': Format not recognised.")
        message = " ".join(str(error).replace(repr(str(path)), "the file").split())
        raise RecordingError(path, f"cannot read audio: {message}") from None
    if data.size == 0:
        raise RecordingError(path, "empty file")
    audio = data.mean(axis=1, dtype=np.float32)
    if not np.all(np.isfinite(audio)):
        raise RecordingError(path, "samples that are not finite numbers (NaN or infinity)")
    seconds = len(audio) / sample_rate
    if seconds < min_seconds:
        raise RecordingError(path, f"too short: {seconds:.2f} s (at least {min_seconds:g} s)")
    window = max(1, min(len(audio), sample_rate // 10))
    energy = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    loudest = float(np.sqrt(max(0.0, np.max(energy[window:] - energy[:-window]) / window)))
    level_db = 20 * np.log10(loudest) if loudest > 0 else float("-inf")
    if level_db < silence_db:
        raise RecordingError(path, f"silent: {level_db:.1f} dBFS RMS (below {silence_db:g})")

    if note is not None:
        expected, source = float(note), "given"
    else:
        named = note_from_name(path.name)
        expected, source = (float(named), "file name") if named is not None else (None, "pyin")
    if expected is not None and not LOWEST_NOTE <= expected <= HIGHEST_NOTE:
        raise RecordingError(path, _out_of_range(expected))

    f0_hz, voiced = estimate_f0(audio, sample_rate, expected)
    if not np.isfinite(f0_hz) or voiced < MIN_VOICED:
        raise RecordingError(path, f"{_NO_PITCH}: voiced in {100 * voiced:.0f} % of frames")
    # checked at the octave the spectrum supports (an E2 labelled E3 is no chord), then folded again
    f0_hz, problem = check_single_pitch(audio, sample_rate, f0_hz)
    if problem is not None:
        raise RecordingError(path, f"{_NO_PITCH}: {problem}")
    f0_hz = _nearest_octave(f0_hz, expected)
    measured = _midi(f0_hz)
    if expected is None:
        if not LOWEST_NOTE <= measured <= HIGHEST_NOTE:
            raise RecordingError(path, _out_of_range(measured))
        played = measured
    else:
        # the label is trusted over a measurement that disagrees with it (module docstring)
        played = measured if abs(measured - expected) <= AGREE_SEMITONES else expected
    return Recording(path=path, audio=audio, sample_rate=int(sample_rate), note=played, note_source=source,
                     f0_hz=f0_hz, voiced=voiced)


_NO_PITCH = "no single pitch found (unpitched, polyphonic or noise)"


def _out_of_range(note: float) -> str:
    return f"pitch out of range: MIDI {note:.1f} (the synth plays {LOWEST_NOTE}..{HIGHEST_NOTE})"
