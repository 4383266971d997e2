#!/usr/bin/python3
"""Reference optimum of LAD / quantile regression as a linear program, for the simplex tests and bench.

  lp_check.py make OUT.h5 N P SEED [noise]   write /train/X (N x P), /train/Y (N x 1): x ~ N(0, 1), y = x.w + Laplace noise;
                                              noise < 0: small integers, each row three times (degenerate)
  lp_check.py solve DATA.h5 LOSS ALPHA BIAS [dual|highs|glpk|both|all|glpk-dual]
      min (1/N) sum_i w(r_i) |r_i|, r = X b (+ c) - y, w = 1 - alpha above the target and alpha below
      (LOSS l1: weights 1 and 1). dual (default): the optimal value of the LP dual by HiGHS's dual
      simplex (equal to the primal optimum by strong duality); highs / glpk: the primal LP.
      glpk-dual (not part of all): the same LP dual by glpsol --simplex (its default, the primal
      simplex, on the dual); its line has a 4th field, glpsol's own 'Time used' (without reading the file).
      Prints '<solver> <loss> <seconds>' lines.
The LP: X b + c - u+ + u- = y, u+, u- >= 0, minimise (1/N) (wpos 1.u+ + wneg 1.u-)."""
import sys, time, os, subprocess, tempfile
import numpy as np
import h5py


def make(out, n, p, seed, noise=1.0):
    rng = np.random.default_rng(seed)
    if noise < 0:  # degenerate: small integers, every row three times: ties and degenerate vertices
        X = np.repeat(rng.integers(-2, 3, size=(n // 3, p)).astype(float), 3, axis=0)
        y = np.repeat(rng.integers(-3, 4, size=n // 3).astype(float), 3)
    else:
        X = rng.standard_normal((n, p))
        w = rng.standard_normal(p)
        y = X @ w + 0.5 + noise * rng.laplace(size=n)
    with h5py.File(out, "w") as f:
        f["/train/X"] = X
        f["/train/Y"] = y[:, None]


def design(X, bias):
    """The regression's design matrix: X, with a column of ones for the intercept."""
    return X if not bias else np.hstack([X, np.ones((X.shape[0], 1))])


def glpsol(write):
    """Write an LP with write(file) into a temporary CPLEX-LP file and solve it with glpsol's simplex.
    Returns glpsol's standard output, the lines of its raw solution file and the wall time."""
    with tempfile.TemporaryDirectory() as d:
        lp, sol = os.path.join(d, "lad.lp"), os.path.join(d, "lad.sol")
        with open(lp, "w") as f:
            write(f)
        t = time.perf_counter()
        out = subprocess.run(["glpsol", "--lp", lp, "--simplex", "-w", sol], capture_output=True, text=True)
        t = time.perf_counter() - t
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout, open(sol).read().split("\n"), t


def loss_of(A, y, b, wpos, wneg):
    res = A @ b - y
    return np.mean(np.where(res > 0, wpos * res, -wneg * res))


def solve_highs_dual(X, y, wpos, wneg, bias, method="highs-ds"):
    """The LP dual of LAD / quantile regression (Barrodale-Roberts' view): max y.l subject to
    A^T l = 0, -wpos <= l_i <= wneg. n bounded variables and q equality constraints."""
    from scipy.optimize import linprog
    A = design(X, bias)
    n = A.shape[0]
    t = time.perf_counter()
    r = linprog(-y, A_eq=A.T, b_eq=np.zeros(A.shape[1]), bounds=[(-wpos, wneg)] * n, method=method)
    t = time.perf_counter() - t
    assert r.status == 0, r.message
    return -r.fun / n, t


def solve_highs(X, y, wpos, wneg, bias):
    from scipy.optimize import linprog
    from scipy import sparse
    A = design(X, bias)
    n, q = A.shape
    I = sparse.identity(n, format="csr")
    Aeq = sparse.hstack([sparse.csr_matrix(A), -I, I], format="csr")
    c = np.concatenate([np.zeros(q), np.full(n, wpos / n), np.full(n, wneg / n)])
    bounds = [(None, None)] * q + [(0, None)] * (2 * n)
    t = time.perf_counter()
    r = linprog(c, A_eq=Aeq, b_eq=y, bounds=bounds, method="highs-ds")
    t = time.perf_counter() - t
    assert r.status == 0, r.message
    b = r.x[:q]
    return loss_of(A, y, b, wpos, wneg), t


def solve_glpk(X, y, wpos, wneg, bias):
    """GLPK's primal simplex through glpsol on a CPLEX-LP file."""
    A = design(X, bias)
    n, q = A.shape

    def write(f):
        f.write("Minimize\n obj: ")
        # the b's first (coefficient 0), so that they are columns 1..q of the solution file
        f.write(" + ".join([f"0 b{j}" for j in range(q)] + [f"{wpos / n!r} up{i} + {wneg / n!r} um{i}" for i in range(n)]))
        f.write("\nSubject To\n")
        for i in range(n):
            terms = " + ".join(f"{A[i, j]!r} b{j}" for j in range(q))
            f.write(f" c{i}: {terms} - up{i} + um{i} = {y[i]!r}\n".replace("+ -", "- "))
        f.write("Bounds\n")
        for j in range(q):
            f.write(f" b{j} free\n")
        f.write("End\n")

    _, lines, t = glpsol(write)
    b = np.zeros(q)
    for line in lines:  # GLPK raw solution: "j <column> <status> <primal> <dual>"
        f = line.split()
        if f and f[0] == "j" and int(f[1]) <= q:
            b[int(f[1]) - 1] = float(f[3])
    return loss_of(A, y, b, wpos, wneg), t


def solve_glpk_dual(X, y, wpos, wneg, bias):
    """The LP dual of solve_highs_dual (max y.l, A^T l = 0, -wpos <= l_i <= wneg) by glpsol --simplex on a
    CPLEX-LP file. The objective is not divided by N: GLPK's optimality tolerance is absolute on the reduced
    costs, and with coefficients y_i / N it stops up to 1e-7 (relative) short of the optimum. The
    regression coefficients b are the duals of the equality rows; returns the loss at b (as solve_glpk
    does), the wall time of glpsol (with reading the file) and glpsol's own 'Time used' (the solve only,
    0.1 s resolution)."""
    import re
    A = design(X, bias)
    n, q = A.shape

    def write(f):
        f.write("Maximize\n obj:")
        for i in range(n):  # one term a line: CPLEX-LP expressions may span lines
            f.write(f"\n + {y[i]!r} l{i}".replace("+ -", "- "))
        f.write("\nSubject To\n")
        for j in range(q):
            f.write(f" e{j}:")
            for i in range(n):
                f.write(f"\n + {A[i, j]!r} l{i}".replace("+ -", "- "))
            f.write("\n = 0\n")
        f.write("Bounds\n")
        for i in range(n):
            f.write(f" {-wpos!r} <= l{i} <= {wneg!r}\n")
        f.write("End\n")

    out, lines, t = glpsol(write)
    assert "OPTIMAL" in out, out
    m = re.search(r"Time used:\s+([\d.]+) secs", out)
    b = np.zeros(q)
    for line in lines:  # GLPK raw solution: "i <row> <status> <primal> <dual>"
        f = line.split()
        if f and f[0] == "i":
            b[int(f[1]) - 1] = float(f[4])
    return loss_of(A, y, b, wpos, wneg), t, float(m.group(1)) if m else float("nan")


def main():
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]) if len(sys.argv) > 6 else 1.0)
        return
    data, loss, alpha, bias = sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5] in ("1", "true")
    which = sys.argv[6] if len(sys.argv) > 6 else "dual"
    with h5py.File(data, "r") as f:
        X = f["/train/X"][...]
        y = f["/train/Y"][...][:, 0]
    wpos, wneg = (1.0, 1.0) if loss == "l1" else (1.0 - alpha, alpha)
    if which in ("dual", "all"):
        v, t = solve_highs_dual(X, y, wpos, wneg, bias)
        print(f"highs-dual {v!r} {t:.4f}")
    if which in ("highs", "both", "all"):
        v, t = solve_highs(X, y, wpos, wneg, bias)
        print(f"highs {v!r} {t:.4f}")
    if which in ("glpk", "both", "all"):
        v, t = solve_glpk(X, y, wpos, wneg, bias)
        print(f"glpk {v!r} {t:.4f}")
    if which == "glpk-dual":
        v, t, ts = solve_glpk_dual(X, y, wpos, wneg, bias)
        print(f"glpk-dual {v!r} {t:.4f} {ts:.1f}")


if __name__ == "__main__":
    main()
