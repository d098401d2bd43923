"""Per-class confusion of N2D on a run: N2D again with the same seed and the paper's settings (as `aelab cluster RUN --method n2d` ran it), clusters matched to classes by the Hungarian assignment; prints, per class, the share in its own cluster and where the rest mostly went.

python benchmarks/cluster_confusion.py runs/n2d-mnist
"""

import sys

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics.cluster import contingency_matrix

import aelab
from aelab.reuse.embed import embed_images, run_data
from aelab.reuse.n2d import N2DConfig, n2d

run = sys.argv[1]
model = aelab.load(run)
data = run_data(model.config, None, progress=False)
fit = embed_images(model, data.train.images)
test = embed_images(model, data.test.images)
r = n2d(fit, test, 10, N2DConfig(), seed=0)
y = np.asarray(data.test.labels)
c = contingency_matrix(y, r.gmm_assign)
rows, cols = linear_sum_assignment(c, maximize=True)
mapping = dict(zip(cols, rows, strict=True))
pred = np.array([mapping.get(a, -1) for a in r.gmm_assign])
names = data.classes
out = []
for k in range(10):
    m = y == k
    wrong = pred[m][pred[m] != k]
    top = np.bincount(wrong[wrong >= 0], minlength=10)
    j = int(top.argmax()) if len(wrong) else -1
    out.append(
        f"{names[k]}: {np.mean(pred[m] == k):.3f} correct"
        + (
            f"; most often put with {names[j]} ({top[j] / m.sum():.1%})"
            if j >= 0 and top[j]
            else ""
        )
    )
print("\n".join(out))
