"""The article's Part 4 worked through with chainrule, every number computed.

Run: python examples/article_part4.py
"""

import chainrule as cr
from chainrule.data import article_example

# The article's picture: a weight from node 2 of layer L-1 to node 1 of layer L, so layer L-1 has
# at least 3 nodes and layer L at least 2. Sigmoid everywhere, no biases, as in the article;
# x is one training sample and y its desired output.
net, x, y = article_example()
L = net.L

g = cr.gradients(net, x, y, loss="squared_error", fused=False)
a_L, z_L, a_prev = g.trace.a[L][0], g.trace.z[L][0], g.trace.a[L - 1][0]
j, k = 1, 2

term1 = g.dC0_da[L][0, j]  # dC0/da_1^(L) = 2 (a_1^(L) - y_1)
term2 = g.g_prime[L][0, j]  # da_1^(L)/dz_1^(L) = g'^(L)(z_1^(L))
term3 = a_prev[k]  # dz_1^(L)/dw_12^(L) = a_2^(L-1)

print(f"Weight w_{j}{k}^({L}) = {net.W[L][j, k]:.10f}: from node {k} of layer {L - 1} to node {j} of layer {L}")
print(
    f"  a_{j}^({L}) = {a_L[j]:.10f}, y_{j} = {y[0, j]:g}, z_{j}^({L}) = {z_L[j]:.10f}, "
    f"a_{k}^({L - 1}) = {a_prev[k]:.10f}"
)
rows = [
    (f"dC0/da_{j}^({L})", f"2 (a_{j}^({L}) - y_{j})", term1),
    (f"g'^({L})(z_{j}^({L}))", "a (1 - a) for the sigmoid", term2),
    (f"dz_{j}^({L})/dw_{j}{k}^({L})", f"a_{k}^({L - 1})", term3),
    ("product of the three terms", "", term1 * term2 * term3),
    (f"backprop's dC0/dw_{j}{k}^({L})", "", g.dW[L][j, k]),
]
for name, formula, value in rows:
    print(f"  {name:<28}{formula:<28}{value: .10f}")
check = cr.gradcheck(net, x, y)
print(f"  central finite differences agree to a relative error of {check.max_rel_error:.1e}")
