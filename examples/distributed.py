"""Data-parallel training with MPI: run as `mpiexec -n 2 python3 examples/distributed.py`.

Every rank runs this same script. `fit(..., distributed=True)` makes them one training run: each rank
trains on its part of every batch of 2 x 32 samples and the ranks sum their gradients, so the result is
what one process gets with batches of 64. Only rank 0 prints and saves. Run alone, it trains alone.
"""

import neuronet as nn

L = nn.layers
nn.set_seed(0)
X, y = nn.datasets.load_digits()
X = X / 16.0
model = nn.Sequential([L.Dense(64, 64, activation="relu"), L.Dense(64, 10, activation="softmax")])
model.compile(optimizer=nn.optimizers.Adam(0.005), metrics=["accuracy"])
history = model.fit(X[:1500], y[:1500], epochs=30, batch_size=32, validation_split=0.1, verbose=0, distributed=True)
model.save("digits_distributed.nnet")  # (rank 0 writes it)
if nn.distributed.rank() == 0:
    accuracy = model.evaluate(X[1500:], y[1500:])["accuracy"]
    print(
        f"{nn.distributed.size()} rank(s): validation accuracy {history.history['val_accuracy'][-1]:.3f}, "
        f"test accuracy {accuracy:.3f} on {len(X) - 1500} digits; model saved to digits_distributed.nnet"
    )
