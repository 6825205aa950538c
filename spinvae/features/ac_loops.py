"""Compiled loops of the Audio Commons features: the original's sequential algorithms, run clip by
clip, frame by frame and onset by onset at compiled speed.

Part of :mod:`spinvae.features.audio_commons`. These used to be vectorised across a batch, which
made every pass as long as the slowest clip's. Compiled with numba: ``cache=True`` (the first call
in a fresh environment compiles them, a few seconds; later processes load them from the cache next
to this file) and ``nogil=True`` (threads sharing a batch run them in parallel). Each loop follows
the original step for step, so the values are those of the vectorised versions they replace (bit
for bit where the arithmetic is the same; roughness and the percussive ratio now accumulate in
float64, the onset strength takes natural logarithms).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def hold_decay_envelopes(magnitude, slopes_fast, slopes_slow, hold):
    """Two sample-and-hold envelopes of each row of ``magnitude`` (B, n) float32 (|x|): every peak
    held for ``hold`` samples, then falling by ``slopes_fast[b]`` or ``slopes_slow[b]`` (B,) float32
    per sample unless |x| rises above it. Returns both (B, n) float32.

    Written as in the vectorised original of this code: the held peak h[m] (maximum of
    |x[m - hold .. m]|), e[n] = max over m <= n of (h[m] + s m) - s n, in float32 operation by
    operation, so the values are the same to the bit (the onsets compare plateau samples)."""
    n_clips, n = magnitude.shape
    fast = np.empty((n_clips, n), dtype=np.float32)
    slow = np.empty((n_clips, n), dtype=np.float32)
    held = np.empty(n, dtype=np.float32)
    for b in range(n_clips):
        _sliding_maximum(magnitude[b], hold + 1, held)
        for out, slope in ((fast, slopes_fast[b]), (slow, slopes_slow[b])):
            running = np.float32(-np.inf)
            for i in range(n):
                ramp = slope * np.float32(i)
                value = held[i] + ramp
                if value > running:
                    running = value
                out[b, i] = running - ramp
    return fast, slow


@numba.njit(cache=True, nogil=True)
def _sliding_maximum(x, width, out):
    """out[i] = max(x[max(i - width + 1, 0) .. i]) (van Herk / Gil-Werman: blocks of ``width``,
    a running maximum from each block's start and one from each block's end)."""
    n = x.size
    from_start = np.empty(n, dtype=x.dtype)
    to_end = np.empty(n, dtype=x.dtype)
    for start in range(0, n, width):
        stop = min(start + width, n)
        running = x[start]
        for i in range(start, stop):
            running = max(running, x[i])
            from_start[i] = running
        running = x[stop - 1]
        for i in range(stop - 1, start - 1, -1):
            running = max(running, x[i])
            to_end[i] = running
    for i in range(n):
        first = i - width + 1
        out[i] = from_start[i] if first <= 0 else max(to_end[first], from_start[i])


@numba.njit(cache=True, nogil=True)
def walk_back(envelope, clip, start, threshold, look_back, hysteresis, min_index):
    """The original's ``return_loop`` for each onset: from ``start[k]`` (samples) in
    ``envelope[clip[k]]``, walk back to where the attack starts. Returns (K,) int64 sample
    indices: 0 when the walk reaches ``min_index``, -1 where the original fails (nothing to look
    back on)."""
    result = np.empty(start.size, dtype=np.int64)
    for k in range(start.size):
        result[k] = _walk_back_one(envelope[clip[k]], start[k], threshold[k], look_back, hysteresis, min_index)
    return result


@numba.njit(cache=True, nogil=True)
def _walk_back_one(envelope, location, threshold, look_back, hysteresis, min_index):
    while True:
        current = envelope[location]
        # Step back to the lowest point of the last look_back + 1 samples while it is no higher than here.
        if location - look_back > 0:
            first, stop = location - look_back - 1, location
        else:
            first, stop = 0, location - 1  # the original's envelope[:location - 1]
        if stop <= first:
            return -1  # the original takes the minimum of nothing
        lowest = first
        for i in range(first + 1, stop):
            if envelope[i] < envelope[lowest]:
                lowest = i
        if envelope[lowest] - current <= 0:
            moved = lowest - first + location - look_back - 1  # the original's index arithmetic
            if moved <= min_index:
                return 0
            location = moved
            continue
        # At a local minimum: a lower point within the hysteresis time, less than the threshold
        # below the highest point since, continues the walk.
        first = location - hysteresis - 1 if location - hysteresis - 1 > 0 else 0
        last = -1
        for i in range(location - 1, first - 1, -1):
            if envelope[i] < current:
                last = i
                break
        if last < 0:
            return location
        highest = envelope[last]
        for i in range(last + 1, location):
            highest = max(highest, envelope[i])
        if highest - envelope[last] >= threshold:
            return location
        if last < min_index:
            return 0
        location = last


@numba.njit(cache=True, nogil=True)
def contrast_peaks(values, contrast):
    """Peaks of each row of ``values`` (F, n) as the MIR toolbox's mirpeaks (the original's
    detect_peaks) selects them: local maxima at or above ``contrast``, scanned left to right, a
    candidate kept when it stands ``contrast`` above the lowest points on both sides, neighbouring
    candidates without a deep enough notch between them merged into the highest. Beyond both
    ends the row continues at -2. Returns (rows, columns) int64 of the peaks, in row then column
    order."""
    n_rows, n = values.shape
    rows = np.empty(n_rows * ((n + 1) // 2), dtype=np.int64)
    columns = np.empty_like(rows)
    count = 0
    candidates = np.empty(n, dtype=np.int64)
    for r in range(n_rows):
        row = values[r]
        n_candidates = 0
        for i in range(n):
            before = row[i - 1] if i > 0 else -2.0
            after = row[i + 1] if i < n - 1 else -2.0
            if row[i] >= contrast and row[i] > before and after <= row[i]:
                candidates[n_candidates] = i
                n_candidates += 1
        if n_candidates == 0:
            continue
        current = 0  # the candidate under evaluation
        buf_min, buf_max, old_min = 2.0, float(row[candidates[0]]), -2.0
        for k in range(1, n_candidates):
            for i in range(candidates[k - 1], candidates[k] - 1):  # the notch since the previous candidate
                buf_min = min(buf_min, float(row[i]))
            height = float(row[candidates[k]])
            if buf_max - buf_min < contrast:  # no notch: the higher candidate takes over
                if height > buf_max:
                    current, buf_max = k, height
                    old_min, buf_min = min(old_min, buf_min), 2.0
                else:
                    old_min = min(old_min, buf_min)
            else:  # a notch: the current candidate is stored if it stood out on its left too
                if buf_max - old_min < contrast:
                    old_min = min(old_min, buf_min)
                else:
                    rows[count], columns[count] = r, candidates[current]
                    count += 1
                    old_min = buf_min
                current, buf_max, buf_min = k, height, 2.0
        tail_min = -2.0
        for i in range(candidates[current] + 1, n):
            tail_min = min(tail_min, float(row[i]))
        if buf_max - old_min >= contrast and buf_max - tail_min >= contrast:
            rows[count], columns[count] = r, candidates[current]
            count += 1
    return rows[:count], columns[:count]


@numba.njit(cache=True, nogil=True)
def pairwise_roughness(rows, value, level, freq, n_rows):
    """Vassilakis roughness summed over the peak pairs of each row, (n_rows,) float64. Peaks are
    sorted by row, then frequency (Hz); ``value`` (normalised height) decides which peak of a pair
    ranks higher, ``level`` (magnitude) enters the formula. Pairs are visited outwards from each
    peak until Plomp's curve has fallen below 1e-6 of its peak (x >= 14 / 3.51)."""
    total = np.zeros(n_rows)
    tiny = float(np.finfo(np.float32).tiny)
    log_level = np.log(np.maximum(level.astype(np.float64), tiny))
    for i in range(rows.size):
        scale = 0.24 / (0.0207 * freq[i] + 18.96)  # Plomp's scale at the pair's lower peak
        level_i = max(float(level[i]), tiny)
        for k in range(i + 1, rows.size):
            if rows[k] != rows[i]:
                break
            x = scale * (freq[k] - freq[i])
            if x >= 14 / 3.51:
                break
            level_k = max(float(level[k]), tiny)
            higher = log_level[i] if value[i] >= value[k] else log_level[k]
            exponent = 0.1 * (log_level[i] + log_level[k]) + 3.11 * (np.log(2.0) + higher - np.log(level_i + level_k))
            total[rows[i]] += np.exp(exponent) * (np.exp(-3.51 * x) - np.exp(-5.75 * x))
    return 0.5 * total


@numba.njit(cache=True, nogil=True)
def percussive_ratio(power, time_step, freq_step):
    """Share of percussive energy (B,) of power spectrograms (B, T, K) after a median-filter
    harmonic/percussive separation: medians of 5 taps ``time_step`` frames apart (harmonic) and
    ``freq_step`` bins apart (percussive), edges mirrored (numpy's 'symmetric'), soft masks of power
    2. The ratio is sum over frames of RMS(P) / sum of (RMS(P) + RMS(H))."""
    n_clips, n_frames, n_bins = power.shape
    time_taps = _mirrored_taps(n_frames, time_step)
    freq_taps = _mirrored_taps(n_bins, freq_step)
    result = np.empty(n_clips)
    for b in range(n_clips):
        percussive_sum, total_sum = 0.0, 0.0
        for t in range(n_frames):
            percussive_energy, harmonic_energy = 0.0, 0.0
            for f in range(n_bins):
                harmonic = _median_of_five(power[b, time_taps[t, 0], f], power[b, time_taps[t, 1], f], power[b, t, f],
                                           power[b, time_taps[t, 2], f], power[b, time_taps[t, 3], f])
                percussive = _median_of_five(power[b, t, freq_taps[f, 0]], power[b, t, freq_taps[f, 1]], power[b, t, f],
                                             power[b, t, freq_taps[f, 2]], power[b, t, freq_taps[f, 3]])
                both = harmonic + percussive
                if both == 0:
                    continue  # both masks are 0
                p, h = percussive / both, harmonic / both
                percussive_energy += power[b, t, f] * p * p
                harmonic_energy += power[b, t, f] * h * h
            percussive_rms = np.sqrt(percussive_energy)
            percussive_sum += percussive_rms
            total_sum += percussive_rms + np.sqrt(harmonic_energy)
        result[b] = percussive_sum / total_sum if total_sum > 0 else np.nan
    return result


@numba.njit(cache=True, nogil=True)
def _mirrored_taps(n, step):
    """(n, 4) indices of the taps -2, -1, +1, +2 steps from each index, mirrored at both ends
    with the edge sample repeated (period 2n, as numpy's 'symmetric' padding of any width)."""
    taps = np.empty((n, 4), dtype=np.int64)
    for i in range(n):
        for j, k in enumerate((-2, -1, 1, 2)):
            m = (i + k * step) % (2 * n)
            taps[i, j] = m if m < n else 2 * n - 1 - m
    return taps


@numba.njit(cache=True, nogil=True)
def _median_of_five(a, b, c, d, e):
    low = max(min(a, b), min(c, d))
    high = min(max(a, b), max(c, d))
    return max(min(e, low), min(max(e, low), high))


@numba.njit(cache=True, nogil=True)
def zwicker_slopes(main, upper_bark, slope_ranges, upper_slopes):
    """The Zwicker upper masking slopes, frame by frame: main loudness per critical band (F, 21)
    sone/Bark -> specific loudness (F, 240) on the 0.1 ... 24 Bark grid and the (unrounded)
    loudness (F,) sone. The original draws the pattern band by band, as flat stretches at the
    band's main loudness and straight slopes (steepness ``upper_slopes`` by loudness range and band
    group) down to the next band's level; where two segments meet, the later one wins."""
    n_frames = main.shape[0]
    n_points = 240
    specific = np.empty((n_frames, n_points))
    total = np.zeros(n_frames)
    max_segments = 21 * (slope_ranges.size + 2)
    seg_start = np.empty(max_segments)
    seg_value = np.empty(max_segments)
    seg_slope = np.empty(max_segments)
    owner = np.empty(n_points, dtype=np.int64)
    last_range = slope_ranges.size - 1
    for f in range(n_frames):
        z1, n1, loudness, j, n_segments = 0.0, 0.0, 0.0, last_range, 0
        for band in range(upper_bark.size):
            group = 7 if band == 0 else min(band - 1, 7)  # the original indexes column -1 for the first band
            upper = upper_bark[band]
            level = main[f, band]
            while True:
                if n1 < level:
                    j = 0
                    for value in slope_ranges:
                        j += value > level
                flat = n1 <= level
                slope = upper_slopes[j, group]
                end_level = max(slope_ranges[j], level)
                width = np.round((n1 - end_level) / slope * 10) * 0.1
                if width == 0:
                    width = 0.1
                end = z1 + width
                if end > upper:
                    end = upper
                    width = end - z1
                    end_level = n1 - width * slope
                if n_segments == max_segments:  # cannot happen with the original's tables
                    break
                seg_start[n_segments] = z1
                if flat:
                    loudness += level * (upper - z1)
                    seg_value[n_segments], seg_slope[n_segments] = level, 0.0
                    n2, z2 = level, upper
                else:
                    loudness += width * (n1 + end_level) / 2
                    seg_value[n_segments], seg_slope[n_segments] = n1, slope
                    n2, z2 = end_level, end
                n_segments += 1
                if n2 == slope_ranges[j]:
                    j = min(j + 1, last_range)
                n1, z1 = n2, np.round(z2 * 10) * 0.1
                if not z1 < upper:
                    break
        total[f] = loudness
        # Sample the pattern at 0.1 ... 24 Bark: point p belongs to the last segment starting by it.
        owner[:] = -1
        for s in range(n_segments):
            owner[max(int(np.round(seg_start[s] * 10)) - 1, 0)] = s
        current = -1
        for p in range(n_points):
            current = max(current, owner[p])
            specific[f, p] = seg_value[current] - (0.1 * (p + 1) - seg_start[current]) * seg_slope[current]
    return specific, total


@numba.njit(cache=True, nogil=True)
def onset_strength(power, band_first, band_weights, scale, n_bands):
    """librosa's onset strength of power spectrograms (B, T, K) float32: mel power (bands given as
    their first bin ``band_first`` (M,) and weights ``band_weights`` (M, W) float32 on the bins from
    there, 0 past the band's end, times ``scale``) in dB floored 80 dB below the clip's maximum (power_to_db), then the
    positive rise from each frame to the next summed over bands / ``n_bands`` (bands without bins
    never rise), shifted 3 frames (lag + centring). Returns (B, T) float64."""
    n_clips, n_frames, n_bins = power.shape
    n_mel, width = band_weights.shape
    band_width = np.zeros(n_mel, dtype=np.int64)  # only the band's own bins are summed
    for m in range(n_mel):
        for j in range(min(width, n_bins - band_first[m])):
            if band_weights[m, j] != 0:
                band_width[m] = j + 1
    strength = np.zeros((n_clips, n_frames))
    db = np.empty((n_frames, n_mel), dtype=np.float32)
    decibels = np.float32(10.0 / np.log(10.0))
    for b in range(n_clips):
        top = np.float32(-np.inf)
        for t in range(n_frames):
            for m in range(n_mel):
                mel = np.float32(0.0)
                for j in range(band_width[m]):
                    mel += power[b, t, band_first[m] + j] * band_weights[m, j]
                value = decibels * np.log(max(mel * scale, np.float32(1e-10)))  # log10 is 3x slower
                db[t, m] = value
                top = max(top, value)
        floor = top - np.float32(80.0)
        for t in range(3, n_frames):  # the rise from frame t - 3 to t - 2
            rise = 0.0
            for m in range(n_mel):
                rise += max(np.float32(0.0), max(db[t - 2, m], floor) - max(db[t - 3, m], floor))
            strength[b, t] = rise / n_bands
    return strength


@numba.njit(cache=True, nogil=True)
def hamming_power_from_boxcar(spectra, out):
    """Power (F, K) float32 of frames under a periodic Hamming window with their mean removed, from
    their rectangular-window complex64 spectra (F, K) (rfft of an even length): the window is
    0.54 X[k] - 0.23 (X[k - 1] + X[k + 1]); bin 0 (the mean) is 0 before windowing, the bins past
    both ends mirror the ones inside (conjugates: only their real parts survive at the ends).
    Computed in complex64 operation by operation as numpy would."""
    n_frames, n_bins = spectra.shape
    c054, c023, c046 = np.float32(0.54), np.float32(0.23), np.float32(0.46)
    for f in range(n_frames):
        x = spectra[f]
        for k in range(n_bins):
            if k == 0:
                value = np.complex64(-c046 * x[1].real)
            else:
                value = c054 * x[k]
                if 0 < k < n_bins - 1:
                    value -= (x[k - 1] + x[k + 1]) * c023
                if k == n_bins - 1:
                    value -= np.complex64(c046 * x[n_bins - 2].real)
                if k == 1:
                    value += c023 * x[0]
            out[f, k] = value.real * value.real + value.imag * value.imag


@numba.njit(cache=True, nogil=True)
def filtered_energy(audio, sos, n_filtered, bounds):
    """Energy of clips (B, n) after a cascade of biquads ``sos`` (S, 6) (scipy's second-order
    sections, direct form II transposed, zero initial state) run over ``n_filtered`` samples (the
    clip, then zeros), between consecutive ``bounds`` (J + 1,) sample positions (the filter's
    output is 0 from n_filtered on): (B, J) float64 sums of squares."""
    n_clips, n = audio.shape
    n_sections = sos.shape[0]
    energy = np.zeros((n_clips, bounds.size - 1))
    state = np.zeros((n_sections, 2))
    for b in range(n_clips):
        state[:] = 0.0
        segment = 0
        for i in range(min(n_filtered, bounds[-1])):
            while i >= bounds[segment + 1]:
                segment += 1
            value = float(audio[b, i]) if i < n else 0.0
            for s in range(n_sections):
                output = sos[s, 0] * value + state[s, 0]
                state[s, 0] = sos[s, 1] * value - sos[s, 4] * output + state[s, 1]
                state[s, 1] = sos[s, 2] * value - sos[s, 5] * output
                value = output
            if i >= bounds[0]:
                energy[b, segment] += value * value
    return energy
