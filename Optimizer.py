"""Gradient-descent update rules: plain SGD, SGD with momentum, and Adam.

Each optimizer is bound at construction to the parameter arrays it updates and
to the gradient arrays the layers' backward() fills, and changes the
parameters in place on every step(). Every buffer it needs is allocated once,
so a step allocates nothing.
"""

import math

import numpy as np

OPTIMIZERS = ("adam", "sgd", "momentum")


class SGD:
    """W <- W - learning_rate * dL/dW."""

    def __init__(self, parameters, gradients, learning_rate):
        self.parameters = parameters
        self.gradients = gradients
        self.learning_rate = learning_rate
        self._scratch = [np.empty_like(p) for p in parameters]

    def step(self):
        for param, grad, scratch in zip(self.parameters, self.gradients, self._scratch):
            np.multiply(grad, self.learning_rate, out=scratch)
            param -= scratch


class Momentum:
    """SGD with momentum: V <- momentum * V - learning_rate * dL/dW, then W <- W + V."""

    def __init__(self, parameters, gradients, learning_rate, momentum=0.9):
        self.parameters = parameters
        self.gradients = gradients
        self.learning_rate = learning_rate
        self.momentum = momentum
        self._velocity = [np.zeros_like(p) for p in parameters]
        self._scratch = [np.empty_like(p) for p in parameters]

    def step(self):
        for param, grad, velocity, scratch in zip(
                self.parameters, self.gradients, self._velocity, self._scratch):
            velocity *= self.momentum
            np.multiply(grad, self.learning_rate, out=scratch)
            velocity -= scratch
            param += velocity


class Adam:
    """Adam (Kingma and Ba, 2015) with bias-corrected moment estimates.

    M <- beta1 * M + (1 - beta1) * g       (running mean of the gradient)
    V <- beta2 * V + (1 - beta2) * g^2     (running mean of its square)
    W <- W - lr * M_hat / (sqrt(V_hat) + epsilon), with M_hat = M / (1 - beta1^t)
    and V_hat = V / (1 - beta2^t). The two corrections are folded into one
    scalar step size and a rescaled epsilon (the paper's "more efficient
    order of computation"), which is the same update in fewer array passes.
    epsilon is 1e-7, Keras's default.
    """

    def __init__(self, parameters, gradients, learning_rate=0.001,
                 beta1=0.9, beta2=0.999, epsilon=1e-7):
        self.parameters = parameters
        self.gradients = gradients
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.steps_taken = 0
        self._mean = [np.zeros_like(p) for p in parameters]
        self._mean_square = [np.zeros_like(p) for p in parameters]
        self._scratch = [np.empty_like(p) for p in parameters]

    def step(self):
        self.steps_taken += 1
        correction1 = 1.0 - self.beta1 ** self.steps_taken
        root_correction2 = math.sqrt(1.0 - self.beta2 ** self.steps_taken)
        step_size = self.learning_rate * root_correction2 / correction1
        epsilon_hat = self.epsilon * root_correction2
        for param, grad, mean, mean_square, scratch in zip(
                self.parameters, self.gradients, self._mean, self._mean_square, self._scratch):
            np.subtract(grad, mean, out=scratch)
            scratch *= 1.0 - self.beta1
            mean += scratch
            np.multiply(grad, grad, out=scratch)
            scratch -= mean_square
            scratch *= 1.0 - self.beta2
            mean_square += scratch
            np.sqrt(mean_square, out=scratch)
            scratch += epsilon_hat
            np.divide(mean, scratch, out=scratch)
            scratch *= step_size
            param -= scratch


def make_optimizer(name, parameters, gradients, learning_rate):
    """The optimizer called name (one of OPTIMIZERS) bound to these arrays."""
    if name == "adam":
        return Adam(parameters, gradients, learning_rate)
    if name == "sgd":
        return SGD(parameters, gradients, learning_rate)
    if name == "momentum":
        return Momentum(parameters, gradients, learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
