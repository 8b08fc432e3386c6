"""The numba code of core.kernels.jit, in a module of its own: importing it imports numba and scipy, so only
core.kernels.jit does, and only when a kernel is made. Module-level functions and constants let numba's cache
find the compiled step again in the next process (a closure would compile afresh each time).
"""

import numba as nb
import numpy as np
import scipy.linalg  # noqa: F401  numba's np.dot calls scipy's BLAS (its own OpenBLAS, not numpy's)

from core.kernels.blas import set_library_threads

# One BLAS thread, as torch's: these matmuls are tiny, and sweeps run one process per core. Set through scipy's
# OpenBLAS's own function: OPENBLAS_NUM_THREADS, which this module used to set, is read only when a library loads,
# so it did nothing where scipy was imported before this module (a notebook), and nothing to numpy's OpenBLAS,
# which torch loads first (core.kernels.blas sets that one for the wide kernel).
set_library_threads("scipy", 1)

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


@nb.njit(inline="always", error_model="numpy")
def _gather(C, X, s, emb, T):
    V, E = C.shape
    for r in range(X.shape[1]):  # emb (B, T*E): each example's block of embeddings, concatenated
        c = X[s, r]
        if c < 0 or c >= V:
            raise IndexError("a character index outside the embedding table")
        b, o = r // T, (r % T) * E
        for e in range(E):
            emb[b, o + e] = C[c, e]


@nb.njit(inline="always", error_model="numpy")
def _hidden(C, W1, b1, X, s, T, emb, h):
    """Step s's forward to the hidden layer: gather the embeddings into emb, h = tanh(emb @ W1 + b1)."""
    _gather(C, X, s, emb, T)
    np.dot(emb, W1, h)
    for b in range(h.shape[0]):
        for j in range(h.shape[1]):
            h[b, j] = tanh(h[b, j] + b1[j])

@nb.njit(inline="always", error_model="numpy")
def _scatter_add(table, X, s, demb, T):
    """table[X[s, r]] += each example's slice of demb (B, T*E): the gather's backward (indices checked there)."""
    E = table.shape[1]
    for r in range(X.shape[1]):
        c = X[s, r]
        b, o = r // T, (r % T) * E
        for e in range(E):
            table[c, e] += demb[b, o + e]


@nb.njit(inline="always", error_model="numpy")
def _colsum(d, out, accumulate):
    """out (m,) = (or +=) d (B, m) summed over its rows: a bias's gradient."""
    for j in range(d.shape[1]):
        acc = zero
        for b in range(d.shape[0]):
            acc += d[b, j]
        out[j] = out[j] + acc if accumulate else acc


@nb.njit(inline="always", error_model="numpy")
def _softmax_grad(logits, b2, Y, s, logp, dl, scale):
    """logits += b2; log p(target) into logp[s]; dl = (softmax - onehot) * scale, row by row."""
    B, V = logits.shape
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
        dl[b, y] -= scale


@nb.njit(cache=True, error_model="numpy", nogil=True)
def steps(C, W1, b1, W2, b2, X, Y, lrs, logp, emb, h, logits, dl, dh, demb, gW1, gW2):
    """len(X) SGD steps of the lecture's MLP in place on C, W1, b1, W2, b2; log p(target) into logp.

    X (n, B*block_size) character indices, Y (n, B) targets, lrs (n,); the rest are work buffers:
    emb (B, T*E), h (B, H), logits and dl (B, V), dh (B, H), demb (B, T*E), gW1 (T*E, H), gW2 (H, V).
    """
    n, BT = X.shape
    B = Y.shape[1]
    T = BT // B
    H = W1.shape[1]
    for s in range(n):
        _hidden(C, W1, b1, X, s, T, emb, h)  # emb (B, T*E), h (B, H)
        np.dot(h, W2, logits)  # (B, V)
        _softmax_grad(logits, b2, Y, s, logp, dl, f32(-lrs[s] / B))  # -lr/B folded in: later gradients arrive scaled
        np.dot(dl, W2.T, dh)  # (B, H), before W2 moves
        np.dot(h.T, dl, gW2)  # (H, V)
        W2 += gW2
        _colsum(dl, b2, True)
        for b in range(B):
            for j in range(H):
                dh[b, j] *= one - h[b, j] * h[b, j]  # through tanh
        np.dot(dh, W1.T, demb)  # (B, T*E), before W1 moves
        np.dot(emb.T, dh, gW1)  # (T*E, H)
        W1 += gW1
        _colsum(dh, b1, True)
        _scatter_add(C, X, s, demb, T)  # the update, straight into the table



@nb.njit(inline="always", error_model="numpy")
def _adamw(p, g, m, v, lr, wd, a1, beta2, a2, step_size, inv_bc2_sqrt, adam):
    """One AdamW (or SGD with decoupled weight decay) update of a flat parameter, as torch computes it."""
    decay = f32(1.0) - lr * wd
    if adam:
        for i in range(p.shape[0]):
            gi = g[i]
            mi = m[i] + a1 * (gi - m[i])
            vi = beta2 * v[i] + a2 * gi * gi
            m[i], v[i] = mi, vi
            p[i] = p[i] * decay - step_size * mi / (np.sqrt(vi) * inv_bc2_sqrt + f32(1e-8))
    else:
        for i in range(p.shape[0]):
            p[i] = p[i] * decay - lr * g[i]


@nb.njit(cache=True, error_model="numpy", nogil=True)
def general_steps(C, W1, b1, W2, b2, gC, gW1, gb1, gW2, gb2, mC, mW1, mb1, mW2, mb2, vC, vW1, vb1, vW2, vb2,
                  X, Y, lrs, masks, logp, adam_step, hyper, emb, h, hd, logits, dl, dh, demb):
    """len(X) steps of the lecture layout with real gradients: dropout (masks (n, B, H), already scaled, or
    an empty first axis for none), AdamW or SGD with weight decay, gradient clipping; FusedGeneral's math.

    hyper: (adam 0/1, weight decay, beta1, beta2, clip norm or 0); adam_step (1,) advances per step.
    """
    n, BT = X.shape
    B = Y.shape[1]
    T = BT // B
    H = W1.shape[1]
    adam = hyper[0] > 0
    wd, beta2, clip = f32(hyper[1]), f32(hyper[3]), f32(hyper[4])
    a1, a2 = f32(1.0 - hyper[2]), f32(1.0 - hyper[3])  # 1 - beta in double, as torch: beta2 may be 0.99999
    dropout = masks.shape[0] > 0
    inv_b = f32(1.0) / f32(B)
    for s in range(n):
        _hidden(C, W1, b1, X, s, T, emb, h)  # emb (B, T*E), h (B, H)
        hin = hd if dropout else h  # the layer's output after dropout
        if dropout:
            for b in range(B):
                for j in range(H):
                    hd[b, j] = h[b, j] * masks[s, b, j]
        np.dot(hin, W2, logits)  # (B, V)
        _softmax_grad(logits, b2, Y, s, logp, dl, inv_b)  # dlogits of the mean loss
        np.dot(hin.T, dl, gW2)  # (H, V)
        _colsum(dl, gb2, False)
        np.dot(dl, W2.T, dh)  # (B, H)
        for b in range(B):
            for j in range(H):
                d = dh[b, j] * (one - h[b, j] * h[b, j])  # through tanh
                dh[b, j] = d * masks[s, b, j] if dropout else d
        np.dot(emb.T, dh, gW1)  # (T*E, H)
        _colsum(dh, gb1, False)
        np.dot(dh, W1.T, demb)  # (B, T*E)
        gC[:, :] = zero
        _scatter_add(gC, X, s, demb, T)  # the embedding gradient, by table row
        if clip > 0:  # clip_grad_norm_ over all parameters
            total = np.sqrt(_sumsq(gC.reshape(-1)) + _sumsq(gW1.reshape(-1)) + _sumsq(gb1) + _sumsq(gW2.reshape(-1))
                            + _sumsq(gb2))
            coef = min(f32(1.0), clip / (f32(total) + f32(1e-6)))
            if coef < 1:
                for g in (gC.reshape(-1), gW1.reshape(-1), gb1, gW2.reshape(-1), gb2):
                    g *= coef
        lr = f32(lrs[s])
        step_size, inv_bc2_sqrt = lr, one
        if adam:
            adam_step[0] += 1
            t = adam_step[0]
            step_size = f32(lrs[s] / (1.0 - hyper[2] ** float(t)))  # bias corrections in double, as torch
            inv_bc2_sqrt = f32(1.0 / np.sqrt(1.0 - hyper[3] ** float(t)))
        _adamw(C.reshape(-1), gC.reshape(-1), mC.reshape(-1), vC.reshape(-1), lr, wd, a1, beta2, a2, step_size,
               inv_bc2_sqrt, adam)
        _adamw(W1.reshape(-1), gW1.reshape(-1), mW1.reshape(-1), vW1.reshape(-1), lr, wd, a1, beta2, a2, step_size,
               inv_bc2_sqrt, adam)
        _adamw(b1, gb1, mb1, vb1, lr, wd, a1, beta2, a2, step_size, inv_bc2_sqrt, adam)
        _adamw(W2.reshape(-1), gW2.reshape(-1), mW2.reshape(-1), vW2.reshape(-1), lr, wd, a1, beta2, a2, step_size,
               inv_bc2_sqrt, adam)
        _adamw(b2, gb2, mb2, vb2, lr, wd, a1, beta2, a2, step_size, inv_bc2_sqrt, adam)


@nb.njit(inline="always", error_model="numpy")
def _sumsq(g):
    acc = 0.0  # float64: a norm over 160K squares
    for i in range(g.shape[0]):
        acc += float(g[i]) * float(g[i])
    return acc


@nb.njit(cache=True, nogil=True)
def matmul_floor(reps, x1, W1, y1, gW1, dx1, x2, W2, y2, gW2, dx2):
    """reps times the lecture layout's six matmuls (forward, weight gradient, input gradient of both
    layers) on these buffers, with no other work: the compiled step's floor (core.probes.bench)."""
    for _ in range(reps):
        np.dot(x1, W1, y1)
        np.dot(x1.T, y1, gW1)
        np.dot(y1, W1.T, dx1)
        np.dot(x2, W2, y2)
        np.dot(x2.T, y2, gW2)
        np.dot(y2, W2.T, dx2)
