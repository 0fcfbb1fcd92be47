import sys, json, glob, os, itertools
import music21 as m21
from music21 import roman, key as mkey, interval, pitch

REQ = {1: ("D minor", "slow piano"), 2: ("A minor", "chorale"), 3: ("F major", "waltz"),
       4: ("G major", "jig"), 5: ("E- major", "lullaby"), 6: ("A minor", "reel (A dorian/minor)")}

def kobj(s):
    t, mode = s.split()
    return mkey.Key(t, mode)

def deg(p, k):
    d = k.getScaleDegreeAndAccidentalFromPitch(p)
    acc = d[1].modifier if d[1] is not None else ''
    return f"{acc}{d[0]}"

def bars_of(part):
    return list(part.getElementsByClass('Measure'))

def notes_in(meas):
    return [n for n in meas.flatten().notes]

def rn(ch, k):
    try:
        r = roman.romanNumeralFromChord(ch, k)
        return r.figure
    except Exception as e:
        return '?'

def sound_at(part_flat, off):
    """pitches sounding in a flat part at offset"""
    out = []
    for n in part_flat.notes:
        if n.offset <= off + 1e-6 and n.offset + n.quarterLength > off + 1e-6:
            out.extend(n.pitches)
    return out

def analyse(path, idx, model, manifest_art):
    req_key, kind = REQ[idx]
    K = kobj(req_key)
    s = m21.converter.parse(path)
    s = s.makeMeasures() if not s.parts[0].getElementsByClass('Measure') else s
    parts = list(s.parts)
    names = [p.partName for p in parts]
    print("="*100)
    print(f"{model} #{idx} {kind}  requested {req_key}  file {os.path.basename(path)}  parts {names}")
    ts = s.flatten().getElementsByClass('TimeSignature')[0]
    bar_len = ts.barDuration.quarterLength
    total = s.highestTime
    nbars = int(round(total / bar_len))
    print(f"meter {ts.ratioString}, bars {nbars}")
    # key analysis
    ka = s.analyze('key')
    alts = [(str(a), round(a.correlationCoefficient, 3)) for a in ka.alternateInterpretations[:4]]
    print(f"KEY (all parts): {ka} r={ka.correlationCoefficient:.3f}; next {alts}")
    mel = parts[0].flatten()
    km = mel.stream().analyze('key') if hasattr(mel,'stream') else m21.stream.Stream(mel.notes).analyze('key')
    print(f"KEY (melody only): {km} r={km.correlationCoefficient:.3f}")
    # halves
    for lo, hi in [(0, nbars//2), (nbars//2, nbars)]:
        seg = s.flatten().getElementsByOffset(lo*bar_len, hi*bar_len, includeEndBoundary=False)
        ss = m21.stream.Stream([n for n in seg.notes])
        print(f"  key bars {lo+1}-{hi}: {ss.analyze('key')}")
    # pitch-class histogram vs scale
    pcs = {}
    for n in s.flatten().notes:
        for p in n.pitches:
            pcs[p.name] = pcs.get(p.name, 0) + n.quarterLength
    print("PC weights:", sorted(((k_, round(v,1)) for k_, v in pcs.items()), key=lambda x:-x[1]))
    # per-bar dump: melody notes with degrees, chord per half bar (from all parts) with RN
    flats = [p.flatten() for p in parts]
    allflat = s.flatten()
    print("BARS:")
    mel_notes = list(mel.notes)
    for b in range(nbars):
        o0, o1 = b*bar_len, (b+1)*bar_len
        mn = [n for n in mel_notes if o0 - 1e-6 <= n.offset < o1 - 1e-6]
        mtxt = " ".join(f"{n.nameWithOctave if n.isNote else '+'.join(p.nameWithOctave for p in n.pitches)}({deg(n.pitches[-1],K)}):{float(n.quarterLength):g}" for n in mn)
        # harmony at each beat
        step = bar_len/2 if bar_len >= 2 else bar_len
        if ts.ratioString == '3/4': step = 3.0
        if ts.ratioString == '6/8': step = 1.5
        hs = []
        if len(parts) > 1:
            off = o0
            while off < o1 - 1e-6:
                ps = []
                for f in flats:
                    ps += sound_at(f, off)
                if ps:
                    ch = m21.chord.Chord(ps)
                    bass = min(ps, key=lambda p: p.ps)
                    hs.append(f"{rn(ch,K)}[{ch.commonName[:14]};bass {bass.name}]")
                else:
                    hs.append("-")
                off += step
        print(f" {b+1:2d}| {mtxt}" + (f"   || {' ; '.join(hs)}" if hs else ""))
    # final notes
    last_mel = mel_notes[-1]
    lowest_last = []
    for f in flats:
        nn = list(f.notes)
        if nn:
            lowest_last.append(nn[-1])
    allp_last = [p for n in lowest_last for p in n.pitches]
    bassn = min(allp_last, key=lambda p: p.ps)
    print(f"FINAL melody note {last_mel.pitches[-1].nameWithOctave} (deg {deg(last_mel.pitches[-1],K)}, dur {last_mel.quarterLength}); "
          f"final bass {bassn.nameWithOctave} (deg {deg(bassn,K)}); final sonority {[p.nameWithOctave for p in allp_last]} -> {rn(m21.chord.Chord(allp_last),K)}")
    # phrase endings every 4 bars (2 for chorale too)
    step_ph = [2, 4] if kind == 'chorale' else [4]
    for ph in step_ph:
        out = []
        for b in range(ph, nbars+1, ph):
            o0, o1 = (b-1)*bar_len, b*bar_len
            mn = [n for n in mel_notes if o0 - 1e-6 <= n.offset < o1 - 1e-6]
            if not mn:
                out.append(f"b{b}: (no onset)"); continue
            longest = max(mn, key=lambda n: n.quarterLength)
            lastn = mn[-1]
            if len(parts) > 1:
                ps = []
                for f in flats: ps += sound_at(f, lastn.offset)
                h = rn(m21.chord.Chord(ps), K)
                bs = min(ps, key=lambda p: p.ps).name
            else:
                h = '-'; bs = '-'
            out.append(f"b{b}: last mel {lastn.pitches[-1].name}({deg(lastn.pitches[-1],K)}) dur {float(lastn.quarterLength):g}, longest {longest.pitches[-1].name}({deg(longest.pitches[-1],K)}) {float(longest.quarterLength):g}, harm {h} bass {bs}")
        print(f"PHRASE ENDS every {ph}:"); [print("   ", x) for x in out]
    # repetition: melody bar signatures
    sigs = []
    for b in range(nbars):
        o0, o1 = b*bar_len, (b+1)*bar_len
        mn = [n for n in mel_notes if o0 - 1e-6 <= n.offset < o1 - 1e-6]
        sigs.append(tuple((round(n.offset-o0,3), n.pitches[-1].midi, round(float(n.quarterLength),3)) for n in mn))
    lab = {}
    letters = []
    for sg in sigs:
        if sg not in lab: lab[sg] = chr(ord('a') + len(lab)) if len(lab) < 26 else '?'
        letters.append(lab[sg])
    print("BAR LETTERS (identical melody bars share a letter):", " ".join("".join(letters[i:i+4]) for i in range(0, nbars, 4)))
    for L in (4, 8):
        rep = []
        for i in range(0, nbars, L):
            for j in range(i+L, nbars, L):
                same = sum(1 for t in range(L) if i+t < nbars and j+t < nbars and sigs[i+t] == sigs[j+t])
                if same >= L-1: rep.append(f"bars {i+1}-{i+L} ~ {j+1}-{j+L} ({same}/{L} identical)")
        print(f"REPEATS at {L}-bar blocks:", rep or "none")
    # ranges
    for p, f in zip(parts, flats):
        ps = [pp for n in f.notes for pp in n.pitches]
        if ps:
            lo = min(ps, key=lambda x: x.ps); hi = max(ps, key=lambda x: x.ps)
            print(f"RANGE {p.partName}: {lo.nameWithOctave}-{hi.nameWithOctave}  notes {len(f.notes)}  durations {sorted(set(float(n.quarterLength) for n in f.notes))}")
    if kind == 'chorale':
        chorale_checks(parts, flats, K, bar_len, nbars)
    if manifest_art:
        sc = manifest_art['scores']
        print("TOOL:", manifest_art['summary'])
        print("TOOL scores:", {k_: sc.get(k_) for k_ in ['quality','key_read','estimated_key','critic_tonal','critic_cadence','critic_form','critic_texture','critic_voice_leading','form_match','aabb','restated_share','final_on_tonic','chord_tones_under_melody','parallels_per_100','crossings_per_100','phrase_bars']})

def chorale_checks(parts, flats, K, bar_len, nbars):
    # eighth grid
    grid = [i*0.5 for i in range(int(nbars*bar_len*2))]
    cols = []
    for off in grid:
        col = []
        for f in flats:
            ps = sound_at(f, off)
            col.append(max(ps, key=lambda p: p.ps) if ps else None)
        cols.append(col)
    # onsets-based: consider changes
    par = []; cross = []; spacing = []
    names = ['S','A','T','B']
    prev = None
    for gi, col in enumerate(cols):
        if None in col: prev = col; continue
        for i in range(3):
            if col[i].ps < col[i+1].ps: cross.append((gi*0.5, names[i], names[i+1], col[i].nameWithOctave, col[i+1].nameWithOctave))
        for i in range(2):
            if col[i].ps - col[i+1].ps > 12: spacing.append((gi*0.5, names[i], names[i+1]))
        if prev is not None and None not in prev and col != prev:
            for i, j in itertools.combinations(range(4), 2):
                a0, b0, a1, b1 = prev[i].ps, prev[j].ps, col[i].ps, col[j].ps
                if a0 == a1 and b0 == b1: continue
                i0 = (a0 - b0) % 12; i1 = (a1 - b1) % 12
                if i0 == i1 and i0 in (0, 7) and a0 != a1 and b0 != b1 and (a1-a0)*(b1-b0) > 0:
                    par.append((gi*0.5, names[i]+names[j], 'P8' if i0 == 0 else 'P5', f"{prev[i].nameWithOctave}/{prev[j].nameWithOctave}->{col[i].nameWithOctave}/{col[j].nameWithOctave}"))
        prev = col
    # dedupe parallels by offset pair
    print(f"CHORALE: parallels {len(par)}: {par[:12]}")
    print(f"CHORALE: voice crossings {len(cross)}: {cross[:8]}")
    print(f"CHORALE: spacing >8ve between upper adjacent voices: {len(spacing)} {spacing[:6]}")
    # leading tone at cadences (every 2 bars): chords on the last 2 beats before the phrase end
    lt = K.getLeadingTone()  # raised
    nat7 = K.pitchFromDegree(7)
    print(f"  leading note {lt.name}, natural 7th {nat7.name}")
    for b in range(2, nbars+1, 2):
        o_end = b*bar_len
        segs = []
        for off in [o_end - 2, o_end - 1, o_end - 0.5]:
            c = [sound_at(f, off) for f in flats]
            ps = [p for x in c for p in x]
            if ps:
                segs.append(f"@{off:g}:{rn(m21.chord.Chord(ps),K)}{[p.nameWithOctave for p in ps]}")
        # final chord of the phrase: chord at the last onset in the bar
        print(f"  cad b{b}: " + " | ".join(segs))
    # V chords with natural 7th (G natural in A minor) anywhere
    g_nat = sum(1 for col in cols if col and any(p is not None and p.name == nat7.name for p in col))
    g_sh = sum(1 for col in cols if col and any(p is not None and p.name == lt.name for p in col))
    print(f"  eighths with natural 7th {nat7.name}: {g_nat}; with raised {lt.name}: {g_sh}")
    # voice repeats
    for vi, f in enumerate(flats):
        ps = [n.pitches[0].ps for n in f.notes]
        leaps = sum(1 for a, b in zip(ps, ps[1:]) if abs(a-b) > 7)
        print(f"  voice {names[vi]}: notes {len(ps)}, leaps > P5: {leaps}")

ROOT = sys.argv[1] if len(sys.argv) > 1 else '/tmp/composer'

if __name__ == '__main__':
    for d, model in [('out1', 'LSTM(default)'), ('out2', 'Transformer')]:
        man = json.load(open(f'{ROOT}/{d}/manifest.json'))
        arts = [a for a in man['artifacts'] if a.get('kind') == 'music']
        for i, f in enumerate(sorted(glob.glob(f'{ROOT}/{d}/music/*.mid')), 1):
            art = next((a for a in arts if a['files']['midi'].endswith(os.path.basename(f))), None)
            analyse(f, i, model, art)
