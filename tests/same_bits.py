"""Bitwise equality of HDF5 datasets in two files (the harness's same_datasets).

    same_bits.py FILE1 FILE2 DATASET...

Exit 0 when every dataset exists in both files with the same dtype (byte order included), the same
shape and the same bytes; otherwise print one line per difference and exit 1. The comparison is of
bits, not values: -0.0 differs from +0.0 and a NaN equals only a NaN with the same payload, which is
what 'bitwise equal' claims. h5diff compares values and so cannot check that claim.
"""
import sys

import h5py
import numpy as np


def element(a, i):
    """One element for the message: its value and, for numbers, its bits in hex (tells -0.0 and NaN payloads apart)."""
    v = a[i]
    if a.dtype.kind in 'fiub':
        bits = int(np.asarray(v).view(f'{a.dtype.byteorder}u{a.dtype.itemsize}'))
        return f'{v!r} (bits {bits:#0{2 * a.dtype.itemsize + 2}x})'
    return repr(v)


def compare(x, y):
    """None when the datasets are bitwise equal, else the first difference in words."""
    if x.dtype != y.dtype:
        return f'dtype {x.dtype.str} vs {y.dtype.str}'
    if x.shape != y.shape:
        return f'shape {x.shape} vs {y.shape}'
    a, b = np.asarray(x[()]), np.asarray(y[()])
    if a.dtype.kind == 'O':  # variable-length strings: no fixed bytes to compare, compare the elements
        diff = np.frompyfunc(lambda p, q: p != q, 2, 1)(a, b).astype(bool)
    else:
        n = a.dtype.itemsize
        ab = np.ascontiguousarray(a).view(np.uint8).reshape(a.shape + (n,))
        bb = np.ascontiguousarray(b).view(np.uint8).reshape(b.shape + (n,))
        diff = (ab != bb).any(axis=-1)
    if not diff.any():
        return None
    i = tuple(int(k) for k in np.argwhere(diff)[0])
    return f'{int(diff.sum())} of {diff.size} elements differ, first at index {i}: {element(a, i)} vs {element(b, i)}'


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    fa, fb = h5py.File(argv[1], 'r'), h5py.File(argv[2], 'r')
    bad = 0
    for ds in argv[3:]:
        missing = [f.filename for f in (fa, fb) if ds not in f or not isinstance(f[ds], h5py.Dataset)]
        why = f'no dataset in {" and ".join(missing)}' if missing else compare(fa[ds], fb[ds])
        if why:
            print(f'{ds}: {why}')
            bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
