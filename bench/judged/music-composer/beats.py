import sys, glob, music21 as m21
from music21 import roman, key as mkey
ROOT = sys.argv[1] if len(sys.argv) > 1 else '/tmp/composer'
REQ = {1: "D minor", 3: "F major", 5: "E- major", 2: "A minor"}
def respell(p, K):
    sc = [x.name for x in K.getScale('major' if K.mode=='major' else 'minor').getPitches()] 
    if K.mode == 'minor': sc += [K.getLeadingTone().name, K.pitchFromDegree(6).transpose('A1').name]
    if p.name in sc: return p
    for q in [p.getEnharmonic(), p.getLowerEnharmonic(), p.getHigherEnharmonic()]:
        if q is not None and q.name in sc: return q
    return p
def sound_at(f, off):
    return [p for n in f.notes if n.offset <= off+1e-6 < n.offset+n.quarterLength for p in n.pitches]
for d in ['out1','out2']:
    for i in [1,3,5,2]:
        f = sorted(glob.glob(f'{ROOT}/{d}/music/*.mid'))[i-1]
        t, m = REQ[i].split(); K = mkey.Key(t, m)
        s = m21.converter.parse(f); flats = [p.flatten() for p in s.parts]
        ts = s.flatten().getElementsByClass('TimeSignature')[0]; bl = ts.barDuration.quarterLength
        print('=====', d, i, REQ[i])
        nb = int(round(s.highestTime/bl))
        for b in range(nb):
            row = []
            for beat in range(int(bl)):
                off = b*bl + beat
                ps = [respell(p, K) for fl in flats for p in sound_at(fl, off)]
                # include eighth offbeat notes of accompaniment
                ps2 = [respell(p, K) for fl in flats[1:] for p in sound_at(fl, off+0.5)]
                allp = ps + ps2
                if not allp: row.append('-'); continue
                ch = m21.chord.Chord(allp)
                bass = min(allp, key=lambda p: p.ps)
                mel = sound_at(flats[0], off)
                try: fig = roman.romanNumeralFromChord(ch, K).figure
                except Exception: fig='?'
                names = sorted(set(p.name for p in allp))
                row.append(f"{fig:8s}{''.join(names):10s}b{bass.name:3s}m{respell(mel[-1],K).name if mel else '-':3s}")
            print(f"{b+1:2d} | " + " | ".join(row))
