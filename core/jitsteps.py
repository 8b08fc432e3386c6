"""The numba code of core.jit, in a module of its own: importing it imports numba and scipy, so only
core.jit does, and only when a kernel is made. Module-level functions and constants let numba's cache
find the compiled step again in the next process (a closure would compile afresh each time).
"""

import os

# One BLAS thread, as torch's: these matmuls are tiny, and sweeps run one process per core. Read when
# scipy's BLAS loads, so it is set before the imports below.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402, F401  numba's np.dot calls scipy's BLAS

# tanh(x) ~ x * P(u) / Q(u), u = x^2/81, |x| clamped to 9: a rational fit made for this file (weighted
# least squares on Chebyshev nodes, iterated toward minimax); max |error| 3.7e-7 over float32 inputs,
# against 6e-8 for libm's tanhf, which costs a library call per element and made the step 4x slower.
f32 = np.float32
p0, p1, p2, p3 = f32(0.9999999403953552), f32(10.59411334991455), f32(20.330183029174805), f32(5.8998894691467285)
p4, p5, p6 = f32(-0.862182080745697), f32(0.18104824423789978), f32(-0.023415084928274155)
q1, q2, q3 = f32(37.59410095214844), f32(160.57200622558594), f32(134.91064453125)
lo, hi, inv81, one, zero = f32(-9.0), f32(9.0), f32(1 / 81), f32(1.0), f32(0.0)


@nb.njit(inline="always", error_model="numpy")
def tanh(x):  # float32 in, float32 out; no branches, so the loop around it vectorises
    x = min(max(x, lo), hi)
    u = x * x * inv81
    p = ((((((p6 * u + p5) * u + p4) * u + p3) * u + p2) * u + p1) * u + p0)
    q = ((q3 * u + q2) * u + q1) * u + one
    return min(max(x * p / q, -one), one)


@nb.njit(cache=True, error_model="numpy", nogil=True)
def steps(C, W1, b1, W2, b2, X, Y, lrs, logp, emb, h, logits, dl, dh, demb, gW1, gW2):
    """len(X) SGD steps of the lecture's MLP in place on C, W1, b1, W2, b2; log p(target) into logp.

    X (n, B*block_size) character indices, Y (n, B) targets, lrs (n,); the rest are work buffers:
    emb (B, T*E), h (B, H), logits and dl (B, V), dh (B, H), demb (B, T*E), gW1 (T*E, H), gW2 (H, V).
    """
    n, BT = X.shape
    B = Y.shape[1]
    T = BT // B
    V, E = C.shape
    D, H = W1.shape
    for s in range(n):
        for r in range(BT):  # emb (B, T*E): each example's block of embeddings, concatenated
            c = X[s, r]
            if c < 0 or c >= V:
                raise IndexError("a character index outside the embedding table")
            b, o = r // T, (r % T) * E
            for e in range(E):
                emb[b, o + e] = C[c, e]
        np.dot(emb, W1, h)  # (B, H)
        for b in range(B):
            for j in range(H):
                h[b, j] = tanh(h[b, j] + b1[j])
        np.dot(h, W2, logits)  # (B, V)
        scale = f32(-lrs[s] / B)  # -lr/B folded into dlogits: later gradients arrive scaled
        for b in range(B):
            m = f32(-np.inf)
            for v in range(V):
                x = logits[b, v] + b2[v]
                logits[b, v] = x
                m = max(m, x)
            tot = zero
            for v in range(V):
                ex = np.exp(logits[b, v] - m)
                dl[b, v] = ex
                tot += ex
            y = Y[s, b]
            if y < 0 or y >= V:
                raise IndexError("a target outside the vocabulary")
            logp[s, b] = logits[b, y] - m - np.log(tot)
            k = scale / tot
            for v in range(V):
                dl[b, v] *= k
            dl[b, y] -= scale  # (softmax - onehot) * -lr/B
        np.dot(dl, W2.T, dh)  # (B, H), before W2 moves
        np.dot(h.T, dl, gW2)  # (H, V)
        for j in range(H):
            for v in range(V):
                W2[j, v] += gW2[j, v]
        for v in range(V):
            acc = zero
            for b in range(B):
                acc += dl[b, v]
            b2[v] += acc
        for b in range(B):
            for j in range(H):
                dh[b, j] *= one - h[b, j] * h[b, j]  # through tanh
        np.dot(dh, W1.T, demb)  # (B, T*E), before W1 moves
        np.dot(emb.T, dh, gW1)  # (T*E, H)
        for i in range(D):
            for j in range(H):
                W1[i, j] += gW1[i, j]
        for j in range(H):
            acc = zero
            for b in range(B):
                acc += dh[b, j]
            b1[j] += acc
        for r in range(BT):  # scatter-add the embedding gradient back to the table
            c = X[s, r]
            b, o = r // T, (r % T) * E
            for e in range(E):
                C[c, e] += demb[b, o + e]

