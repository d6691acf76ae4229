"""Leveling and normalizing, solved together: each speaker starts at the gain that brings it to the loudness of
all speech, then every pass limits the episode, measures it and each speaker at once, and corrects the
overall gain and the speakers' gains, because the limiter takes more from a peaky voice than from a smooth
one. A voice that the limiter holds at its peaks is reported (``held_by_peaks``) instead of being chased
with ever more gain. ``correct_encoded`` gives back what a lossy encoder took.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from podpipe.audio_types import Audio
from podpipe.mix.steps.loudness.blocks import PcmSource, write_pcm
from podpipe.mix.steps.loudness.limiter import Limited
from podpipe.mix.steps.loudness.meter import block_labels, gated, integrated, measure, range_powers, true_peak

# Leveling aims each speaker this close to the episode (the promise is 1 LU; lossy encoding and the exact
# per-range measurement in the report move speakers a little), within at most PASSES measuring passes.
GROUP_AIM = 0.25
PASSES = 10
STEP_DB = 6.0  # largest change of any gain from one pass to the next, after the first
SPREAD_DB = 12.0  # largest correction of a speaker's leveling gain
MAX_SLOPE = 1.5
HELD = 0.1  # a speaker raised by 1 dB that gains less than this many LU on the others is held by its peaks


def normalize(audio: Audio | list[Audio], groups: Mapping[str, Sequence[tuple[int, int]]], target: float,
              ceiling: float, headroom: float = 0.05) -> tuple[Audio, dict[str, Any]]:
    """Level each group of frame ranges (a speaker's pieces) to the loudness of all of them together, then
    bring the whole to ``target`` LUFS with true peaks limited to ``ceiling - headroom`` dBTP (``solve``).

    ``audio`` may also be a list of consecutive pieces (same rate and channels), processed as one without
    ever being joined; the list is emptied, so the pieces are freed as soon as the result is written (the
    input and the output are then the only full-length buffers). Returns the new audio and a report.
    """
    import numpy as np

    if isinstance(audio, list):
        audio, pieces = list(audio), audio
        pieces.clear()
    else:
        audio = [audio]
    rate = audio[0].rate if audio else 24000
    source = PcmSource(audio)
    report: dict[str, Any] = {"target_lufs": target, "true_peak_ceiling_dbtp": ceiling,
                              "input_lufs": figure(integrated(source, rate)),
                              "input_true_peak_dbtp": figure(true_peak(source))}
    measured, powers = {}, []
    for name, ranges in groups.items():
        group_powers = range_powers(source, rate, ranges)
        level = gated(group_powers)
        if math.isfinite(level):
            measured[name] = level
            powers.append(group_powers)
    names = list(measured) if len(measured) > 1 else []
    reference = gated(np.concatenate(powers)) if names else 0.0  # all the speech, as if joined
    gains = [reference - measured[name] for name in names]
    applied, limited, held = solve(PcmSource(audio), rate, target, ceiling - headroom, [groups[n] for n in names],
                                   gains)
    out = write_pcm(limited, rate)
    del audio, source  # the input PCM goes once ``limited`` does
    final = PcmSource(out)
    report |= {"gain_db": figure(applied), "limiter_max_reduction_db": limited.reduction_db,
               "integrated_lufs": figure(integrated(final, rate)), "true_peak_dbtp": figure(true_peak(final))}
    del limited
    if names:
        report["speakers"] = {name: {"input_lufs": figure(measured[name]), "gain_db": figure(gain),
                                     "integrated_lufs": figure(integrated(final, rate, groups[name]))}
                              for name, gain in zip(names, gains)}
        for g in held:  # see solve: only a compressor could bring it up further
            report["speakers"][names[g]]["held_by_peaks"] = True
    return out, report


def correct_encoded(fed: Audio, decoded: Audio, report: dict[str, Any], ceiling: float,
                    headroom: float) -> Audio | None:
    """Lossy encoders change loudness (−0.3…−0.6 LU seen with LAME on speech) and overshoot peaks by an
    amount that depends on the material. Given what was fed to the encoder and what its file decodes to,
    return corrected audio to encode once more, or None when the file already meets target and ceiling.
    Records the decoded figures in ``report``."""
    target = report["target_lufs"]
    heard = PcmSource(decoded)
    lufs, peak = integrated(heard, decoded.rate), true_peak(heard)
    del heard
    report["first_encode_lufs"], report["first_encode_true_peak_dbtp"] = figure(lufs), figure(peak)
    if not math.isfinite(lufs) or (abs(lufs - target) <= 0.2 and peak <= ceiling):
        return None
    source = PcmSource(fed)
    overshoot = max(0.0, peak - true_peak(source))
    loss = integrated(source, fed.rate) - lufs  # what the encoder takes away, given back in advance
    applied, limited, _ = solve(source, fed.rate, target + loss, min(ceiling - headroom, ceiling - overshoot - 0.15))
    out = write_pcm(limited, fed.rate)
    report["limiter_max_reduction_db"] = max(report.get("limiter_max_reduction_db", 0.0), limited.reduction_db)
    report["encoder_correction_db"] = figure(applied)
    return out


def solve(pre: PcmSource, rate: int, target: float, limiter_ceiling: float,
           groups: Sequence[Sequence[tuple[int, int]]] = (), gains: list[float] | None = None
           ) -> tuple[float, Limited, list[int]]:
    """Set ``pre``'s gain so that it, limited to ``limiter_ceiling``, measures ``target`` LUFS, and each group
    of frame ranges (a speaker) is within ``GROUP_AIM`` of the whole, starting from and updating the
    groups' gains in dB (``gains``, in place). Limiting lowers the loudness a little, and a peaky voice more
    than a smooth one, so a few corrections follow, each one pass over the episode that measures the whole
    and every group at once.

    A voice whose peaks stand far above its loudness stops getting louder once the limiter holds it at the
    ceiling: more gain only means deeper limiting. When a voice is found so ("held": its own and the overall
    gain rose and it hardly got louder, or its correction reached ``SPREAD_DB``), the raise is taken back
    and leveling stops (bringing the others down to it would deepen the limiting of everything for the same
    loudness). Every step is bounded, so the search cannot run away; a group with no whole block on the
    episode's grid keeps its starting gain; the last passes only settle the whole on the target, and the
    pass closest to it is kept. Returns (overall gain dB, the limited source, the indexes of held groups)."""
    gains = [] if gains is None else gains
    first = list(gains)
    labels = block_labels(len(pre), rate, groups) if groups else None

    def regroup() -> None:
        pre.set_factors([(a, b, 10 ** (g / 20)) for ranges, g in zip(groups, gains) for a, b in ranges])

    regroup()
    level = measure(pre, rate)[0]
    applied = 0.0
    limited = Limited(pre, rate, limiter_ceiling)  # reads ``pre`` as it is when read: gains set below apply
    held: list[int] = []
    if not math.isfinite(level):  # too short or silent to measure: the ceiling still holds
        return applied, limited, held
    slope = 1.0  # LU of loudness gained per dB of gain, once the limiter has taken its share
    best: tuple[float, float] | None = None  # (miss in LU, overall gain) of the best pass since the last regroup
    regrouped = False
    last: dict[int, tuple[float, float]] = {}  # per group: (total gain dB, loudness) in the last pass
    first_raise: dict[int, float] = {}  # per group: its gain before the first time it was raised
    for attempt in range(PASSES):
        change = (target - level) / slope
        if attempt:
            change = max(-STEP_DB, min(STEP_DB, change))
        applied += change
        pre.gain = 10 ** (applied / 20)
        limited.lowest = 1.0
        new_level, levels, share = measure(limited, rate, labels, len(groups))
        if not math.isfinite(new_level):
            break
        if best is None or abs(new_level - target) < best[0]:
            best = (abs(new_level - target), applied)
        # a group with no whole block on the episode's grid (only very short lines) cannot be measured here:
        # it keeps its starting gain. The whole also holds blocks across joins and pauses that no group has,
        # so every group can sit a little above it: voices are moved by how far each is from that common offset
        known = [g for g in range(len(groups)) if math.isfinite(levels[g])]
        off = {g: new_level - levels[g] for g in known}
        common = sum(share[g] * off[g] for g in known)
        dev = {g: off[g] - common for g in known}
        # a voice whose loudness hardly moved while its own gain and the overall gain together rose is held by
        # its peaks: the raise bought nothing but deeper limiting, so it is taken back
        undo = [g for g in known if g in last and g not in held and gains[g] + applied - last[g][0] > 0.5
                and levels[g] - last[g][1] < HELD * (gains[g] + applied - last[g][0])
                and attempt < PASSES - 3]
        last = {g: (gains[g] + applied, levels[g]) for g in known}
        if undo:
            held += undo
            for g in undo:
                gains[g] = first_raise.get(g, gains[g])
            regroup()
            level, regrouped, best = new_level, True, None
            continue
        # the last passes only settle the whole on the target: the target is a promise, the spread an aim
        moving = [g for g in known if abs(dev[g]) > GROUP_AIM] if attempt < PASSES - 3 and not held else []
        if (abs(new_level - target) <= 0.05 and not moving) or attempt == PASSES - 1:
            break
        # Peaky speech (the offline voice above all) loses much of each added dB to the limiter; stepping
        # by the observed ratio converges in two or three passes instead of creeping up over eight. After a
        # regroup the change in level is partly the voices' doing: the ratio is not re-estimated from it.
        if change and not regrouped:
            slope = min(MAX_SLOPE, max(0.2, (new_level - level) / change))
        level, regrouped = new_level, False
        if not moving:
            continue
        wanted = {g: max(-STEP_DB, min(STEP_DB, dev[g] / max(slope, 0.5))) for g in moving}
        new = {g: max(first[g] - SPREAD_DB, min(first[g] + SPREAD_DB, gains[g] + step))
               for g, step in wanted.items()}
        for g in moving:  # at the end of its range and still too quiet: as good as held by its peaks
            if new[g] == gains[g] and dev[g] > 0:
                held.append(g)
        if held:  # bringing the others down to it would only deepen the limiting of everything
            continue
        # moved together, the groups would also move the whole they are measured against (each by its
        # share): that part is taken out, so regrouping moves voices against each other and only the overall
        # gain moves the whole
        mean = sum(share[g] * (new[g] - gains[g]) for g in new)
        for g in new:
            if new[g] - mean > gains[g]:
                first_raise.setdefault(g, gains[g])
        for g in range(len(groups)):
            gains[g] = max(first[g] - SPREAD_DB, min(first[g] + SPREAD_DB, new.get(g, gains[g]) - mean))
        regroup()
        regrouped, best = True, None
    if best is not None and best[1] != applied:  # the last pass overshot one that was closer
        applied = best[1]
        pre.gain = 10 ** (applied / 20)
    limited.lowest = 1.0  # the next full read (the output) finds the deepest reduction again
    return applied, limited, held


def figure(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None

