#!/usr/bin/env python3
"""tests/formats/kquant-golden.py — golden k-quant blocks for
tests/formats/test-kquant.c, derived independently of core/model/kquant.c.

A second, separate transcription of ggml's reference quantizers
(ggml/src/ggml-quants.c: quantize_row_q4_K_ref, quantize_row_q5_K_ref and
quantize_row_q6_K_ref with make_qkx2_quants and make_qx_quants), in Python,
with every float operation rounded to float32 as C evaluates it (a double
result of +, -, *, / or sqrt on float32 operands, rounded to float32, is the
correctly rounded float32 result) and f16 conversions through struct's 'e'
(round to nearest even).  The input block exercises the scale searches
(the trials that beat the first guess), unlike the hand-derived blocks.

Run it to print the C arrays test-kquant.c holds; it needs only Python 3.
"""
import math
import struct


def F(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def f16(x):
    return struct.unpack('<e', struct.pack('<e', x))[0]


def f16_bytes(x):
    return list(struct.pack('<e', x))


def nearest_int(v):
    val = F(v + 12582912.0)
    i = struct.unpack('<i', struct.pack('<f', val))[0]
    return (i & 0x007fffff) - 0x00400000


def make_qkx2_quants(n, nmax, x, w, rmin, rdelta, nstep, use_mad):
    mn = x[0]
    mx = x[0]
    sum_w = w[0]
    sum_x = F(sum_w * x[0])
    for i in range(1, n):
        if x[i] < mn:
            mn = x[i]
        if x[i] > mx:
            mx = x[i]
        sum_w = F(sum_w + w[i])
        sum_x = F(sum_x + F(w[i] * x[i]))
    if mn > 0:
        mn = 0.0
    if mx == mn:
        return 0.0, [0] * n, -mn
    iscale = F(nmax / F(mx - mn))
    scale = F(1.0 / iscale)
    L = [0] * n
    best = 0.0
    for i in range(n):
        l = nearest_int(F(iscale * F(x[i] - mn)))
        L[i] = max(0, min(nmax, l))
        diff = F(F(F(scale * L[i]) + mn) - x[i])
        diff = abs(diff) if use_mad else F(diff * diff)
        best = F(best + F(w[i] * diff))
    for step in range(nstep + 1):
        iscale = F(F(F(rmin + F(F(rdelta) * step)) + nmax) / F(mx - mn))
        Laux = [0] * n
        sum_l = sum_l2 = sum_xl = 0.0
        for i in range(n):
            l = nearest_int(F(iscale * F(x[i] - mn)))
            l = max(0, min(nmax, l))
            Laux[i] = l
            sum_l = F(sum_l + F(w[i] * l))
            sum_l2 = F(sum_l2 + F(F(w[i] * l) * l))
            sum_xl = F(sum_xl + F(F(w[i] * l) * x[i]))
        D = F(F(sum_w * sum_l2) - F(sum_l * sum_l))
        if D > 0:
            this_scale = F(F(F(sum_w * sum_xl) - F(sum_x * sum_l)) / D)
            this_min = F(F(F(sum_l2 * sum_x) - F(sum_l * sum_xl)) / D)
            if this_min > 0:
                this_min = 0.0
                this_scale = F(sum_xl / sum_l2)
            cur = 0.0
            for i in range(n):
                diff = F(F(F(this_scale * Laux[i]) + this_min) - x[i])
                diff = abs(diff) if use_mad else F(diff * diff)
                cur = F(cur + F(w[i] * diff))
            if cur < best:
                L = Laux
                best = cur
                scale = this_scale
                mn = this_min
    return scale, L, -mn


def get_scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def q45_k(x, nmax, rmin, nstep):
    scales, mins, L = [0.0] * 8, [0.0] * 8, [0] * 256
    max_scale = max_min = 0.0
    for j in range(8):
        sub = x[32 * j:32 * j + 32]
        sum_x2 = 0.0
        for v in sub:
            sum_x2 = F(sum_x2 + F(v * v))
        av_x = F(math.sqrt(F(sum_x2 / 32)))
        w = [F(av_x + abs(v)) for v in sub]
        scales[j], L[32 * j:32 * j + 32], mins[j] = make_qkx2_quants(32, nmax, sub, w, rmin, 0.1, nstep, False)
        if scales[j] > max_scale:
            max_scale = scales[j]
        if mins[j] > max_min:
            max_min = mins[j]
    inv_scale = F(63.0 / max_scale) if max_scale > 0 else 0.0
    inv_min = F(63.0 / max_min) if max_min > 0 else 0.0
    s = [0] * 12
    for j in range(8):
        ls = min(63, nearest_int(F(inv_scale * scales[j])) & 0xff)
        lm = min(63, nearest_int(F(inv_min * mins[j])) & 0xff)
        if j < 4:
            s[j] = ls
            s[j + 4] = lm
        else:
            s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
            s[j - 4] |= (ls >> 4) << 6
            s[j] |= (lm >> 4) << 6
    d, dmin = f16(F(max_scale / 63.0)), f16(F(max_min / 63.0))
    for j in range(8):
        sc, m = get_scale_min_k4(j, s)
        dd = F(d * sc)
        if not dd:
            continue
        dm = F(dmin * m)
        for ii in range(32):
            l = nearest_int(F(F(x[32 * j + ii] + dm) / dd))
            L[32 * j + ii] = max(0, min(nmax, l))
    return f16_bytes(d) + f16_bytes(dmin) + s, L


def q4_k(x):
    head, L = q45_k(x, 15, -1.0, 20)
    qs = []
    for j in range(0, 256, 64):
        qs += [L[j + l] | (L[j + l + 32] << 4) for l in range(32)]
    return head + qs


def q5_k(x):
    head, L = q45_k(x, 31, -0.5, 15)
    qh, ql = [0] * 32, []
    m1, m2 = 1, 2
    for n in range(0, 256, 64):
        for j in range(32):
            l1, l2 = L[n + j], L[n + j + 32]
            if l1 > 15:
                l1 -= 16
                qh[j] |= m1
            if l2 > 15:
                l2 -= 16
                qh[j] |= m2
            ql.append(l1 | (l2 << 4))
        m1 <<= 2
        m2 <<= 2
    return head + qh + ql


def make_qx_quants(n, nmax, x):
    mx = amax = 0.0
    for v in x:
        if abs(v) > amax:
            amax = abs(v)
            mx = v
    if amax < 1e-15:
        return 0.0, [0] * n
    iscale = F(-nmax / mx)
    L = [0] * n
    sumlx = suml2 = 0.0
    for i in range(n):
        l = max(-nmax, min(nmax - 1, nearest_int(F(iscale * x[i]))))
        L[i] = l + nmax
        w = F(x[i] * x[i])
        sumlx = F(sumlx + F(F(w * x[i]) * l))
        suml2 = F(suml2 + F(F(w * l) * l))
    scale = F(sumlx / suml2) if suml2 else 0.0
    best = F(scale * sumlx)
    for step in range(-9, 10):
        if step == 0:
            continue
        iscale = F(-F(nmax + F(F(0.1) * step)) / mx)
        sumlx = suml2 = 0.0
        for i in range(n):
            l = max(-nmax, min(nmax - 1, nearest_int(F(iscale * x[i]))))
            w = F(x[i] * x[i])
            sumlx = F(sumlx + F(F(w * x[i]) * l))
            suml2 = F(suml2 + F(F(w * l) * l))
        if suml2 > 0 and F(sumlx * sumlx) > F(best * suml2):
            L = [max(-nmax, min(nmax - 1, nearest_int(F(iscale * v)))) + nmax for v in x]
            scale = F(sumlx / suml2)
            best = F(scale * sumlx)
    return scale, L


def q6_k(x):
    scales, L = [0.0] * 16, [0] * 256
    max_scale = max_abs = 0.0
    for ib in range(16):
        scales[ib], L[16 * ib:16 * ib + 16] = make_qx_quants(16, 32, x[16 * ib:16 * ib + 16])
        if abs(scales[ib]) > max_abs:
            max_abs = abs(scales[ib])
            max_scale = scales[ib]
    iscale = F(-128.0 / max_scale)
    d = f16(F(1.0 / iscale))
    sc = [min(127, nearest_int(F(iscale * s))) for s in scales]
    for j in range(16):
        dd = F(d * sc[j])
        if not dd:
            continue
        for ii in range(16):
            L[16 * j + ii] = max(-32, min(31, nearest_int(F(x[16 * j + ii] / dd)))) + 32
    ql, qh = [0] * 128, [0] * 64
    for h, j in enumerate(range(0, 256, 128)):
        for l in range(32):
            q = [L[j + l + 32 * k] for k in range(4)]
            ql[64 * h + l] = (q[0] & 0xF) | ((q[2] & 0xF) << 4)
            ql[64 * h + l + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4)
            qh[32 * h + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6)
    return ql + qh + [v & 0xff for v in sc] + f16_bytes(d)


def make_q3_quants(n, nmax, x):
    mx = amax = 0.0
    for v in x:
        if abs(v) > amax:
            amax = abs(v)
            mx = v
    if amax < 1e-15:
        return 0.0, [0] * n
    iscale = F(-nmax / mx)
    L = [0] * n
    sumlx = suml2 = 0.0
    for i in range(n):
        L[i] = max(-nmax, min(nmax - 1, nearest_int(F(iscale * x[i]))))
        w = F(x[i] * x[i])
        sumlx = F(sumlx + F(F(w * x[i]) * L[i]))
        suml2 = F(suml2 + F(F(w * L[i]) * L[i]))
    for _ in range(5):
        changed = 0
        for i in range(n):
            w = F(x[i] * x[i])
            slx = F(sumlx - F(F(w * x[i]) * L[i]))
            if slx > 0:
                sl2 = F(suml2 - F(F(w * L[i]) * L[i]))
                new_l = max(-nmax, min(nmax - 1, nearest_int(F(F(x[i] * sl2) / slx))))
                if new_l != L[i]:
                    slx = F(slx + F(F(w * x[i]) * new_l))
                    sl2 = F(sl2 + F(F(w * new_l) * new_l))
                    if sl2 > 0 and F(F(slx * slx) * suml2) > F(F(sumlx * sumlx) * sl2):
                        L[i], sumlx, suml2 = new_l, slx, sl2
                        changed += 1
        if not changed:
            break
    return (F(sumlx / suml2) if suml2 > 0 else 0.0), [l + nmax for l in L]


def pack_2bit(L):
    qs = []
    for j in range(0, 256, 128):
        qs += [L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6) for l in range(32)]
    return qs


def q2_k(x):
    scales, mins, L = [0.0] * 16, [0.0] * 16, [0] * 256
    max_scale = max_min = 0.0
    for j in range(16):
        sub = x[16 * j:16 * j + 16]
        scales[j], L[16 * j:16 * j + 16], mins[j] = make_qkx2_quants(16, 3, sub, [abs(v) for v in sub],
                                                                      -0.5, 0.1, 15, True)
        if scales[j] > max_scale:
            max_scale = scales[j]
        if mins[j] > max_min:
            max_min = mins[j]
    sc = [0] * 16
    d = dmin = 0.0
    if max_scale > 0:
        iscale = F(15.0 / max_scale)
        sc = [nearest_int(F(iscale * v)) & 0xff for v in scales]
        d = f16(F(max_scale / 15.0))
    if max_min > 0:
        iscale = F(15.0 / max_min)
        sc = [(sc[j] | (nearest_int(F(iscale * mins[j])) << 4)) & 0xff for j in range(16)]
        dmin = f16(F(max_min / 15.0))
    for j in range(16):
        dd = F(d * (sc[j] & 0xF))
        if not dd:
            continue
        dm = F(dmin * (sc[j] >> 4))
        for ii in range(16):
            L[16 * j + ii] = max(0, min(3, nearest_int(F(F(x[16 * j + ii] + dm) / dd))))
    return sc + pack_2bit(L) + f16_bytes(d) + f16_bytes(dmin)


def q3_k(x):
    scales, L = [0.0] * 16, [0] * 256
    max_scale = amax = 0.0
    for j in range(16):
        scales[j], L[16 * j:16 * j + 16] = make_q3_quants(16, 4, x[16 * j:16 * j + 16])
        if abs(scales[j]) > amax:
            amax = abs(scales[j])
            max_scale = scales[j]
    sc = [0] * 12
    d = 0.0
    if max_scale:
        iscale = F(-32.0 / max_scale)
        for j in range(16):
            l = ((nearest_int(F(iscale * scales[j])) + 128) & 0xff) - 128   # int8_t
            l = max(-32, min(31, l)) + 32
            if j < 8:
                sc[j] = l & 0xF
            else:
                sc[j - 8] |= (l & 0xF) << 4
            sc[j % 4 + 8] |= (l >> 4) << (2 * (j // 4))
        d = f16(F(1.0 / iscale))
    for j in range(16):
        lo = sc[j] & 0xF if j < 8 else sc[j - 8] >> 4
        six = (lo | (((sc[8 + j % 4] >> (2 * (j // 4))) & 3) << 4)) - 32
        dd = F(d * six)
        if not dd:
            continue
        for ii in range(16):
            L[16 * j + ii] = max(-4, min(3, nearest_int(F(x[16 * j + ii] / dd)))) + 4
    hmask = [0] * 32
    for j in range(256):
        if L[j] > 3:
            hmask[j % 32] |= 1 << (j // 32)
            L[j] -= 4
    return hmask + pack_2bit(L) + sc + f16_bytes(d)


def many_blocks(n):
    """n blocks of exact float32 values from a 64-bit LCG: integers / 256,
    sub-blocks scaled by powers of two, an outlier now and then.  The
    same generator is in test-kquant.c."""
    s = 1
    out = []
    for b in range(n):
        for e in range(256):
            s = (s * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            r = s >> 33
            v = float(r % 2001) - 1000.0
            if r % 61 == 0:
                v *= 8
            out.append(F(v / 256.0 * 2.0 ** ((e // 32 + b) % 5 - 2)))
    return out


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def golden_input():
    """The block test-kquant.c quantizes: exact float32 values, uneven
    sub-blocks (one all positive, one with an outlier)."""
    x = []
    for e in range(256):
        v = ((e * 37 + 11) % 97 - 48) / 16.0
        if e // 32 == 2:
            v = abs(v) + 0.5
        if e == 200:
            v = 9.75
        x.append(F(v))
    return x


def c_array(name, b):
    rows = [', '.join('0x%02x' % v for v in b[i:i + 12]) for i in range(0, len(b), 12)]
    return 'static const uint8_t %s[%d] = {\n\t%s,\n};' % (name, len(b), ',\n\t'.join(rows))


N_MANY = 24

if __name__ == '__main__':
    x = golden_input()
    print(c_array('golden_q4_k', q4_k(x)))
    print(c_array('golden_q5_k', q5_k(x)))
    print(c_array('golden_q6_k', q6_k(x)))
    xs = many_blocks(N_MANY)
    hashes = []
    for f in (q2_k, q3_k, q4_k, q5_k, q6_k):
        data = []
        for b in range(N_MANY):
            data += f(xs[256 * b:256 * b + 256])
        hashes.append('0x%016xull' % fnv1a64(data))
    print('/* FNV-1a 64 of %d blocks of many_blocks(), Q2_K … Q6_K */' % N_MANY)
    print('static const uint64_t golden_many[5] = { %s };' % ', '.join(hashes))
