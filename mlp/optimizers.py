"""Gradient-descent update rules (plain SGD, SGD with momentum, Adam) and learning-rate schedules.

Each optimizer is bound at construction to the parameter arrays it updates and
to the gradient arrays the layers' backward() fills, and changes the
parameters in place on every step(). optimizer_for packs a model's arrays into
one vector first (Packed), for speed; the layers keep their own arrays. Every
buffer an optimizer needs is allocated once, so a step allocates nothing;
`buffers` says how many copies of the parameters that is, for the memory
estimate. state() and restore() give a checkpoint what it needs to continue
exactly where training stopped.

OPTIMIZERS and LEARNING_RATE_SCHEDULES are the tables --optimizer and
--lr_schedule are built from: a new rule is its class (or function) and one entry.
A schedule reaches Model.fit as a LearningRateScheduler callback, as in Keras.
"""

import math
from typing import Callable, NamedTuple

import numpy as np

from Model import Callback


class Packed:
    """A model's parameters, and their gradients, packed into one contiguous vector each, so
    that an update rule changes the whole model in a handful of array operations instead of
    a handful per layer (as scikit-learn packs its coefs_ and intercepts_ for its solvers).

    The layers keep their own arrays, which become views of the vectors. gather(), called
    before every step, checks that they still are: a layer whose backward assigned a new
    gradient array (self.grad_weights = X.T @ grad_Z), or a caller that assigned new weights,
    has that array copied into the vector and the view put back, so no update misses it.
    """

    NAMES = ("weights", "bias")

    def __init__(self, layers):
        owners = [(layer, name) for layer in layers for name in self.NAMES]
        arrays = [getattr(layer, name) for layer, name in owners]
        self.parameters = np.concatenate([array.ravel() for array in arrays])
        self.gradients = np.zeros_like(self.parameters)
        # (layer, name, its view of the parameters, its view of the gradients)
        self.views = [(layer, name, parameter, gradient) for (layer, name), parameter, gradient
                      in zip(owners, views_of(self.parameters, arrays),
                             views_of(self.gradients, arrays))]
        self.gather()

    def gather(self):
        for layer, name, parameter, gradient in self.views:
            for attribute, view in ((name, parameter), ("grad_" + name, gradient)):
                current = getattr(layer, attribute)
                if current is not view:
                    view[...] = current
                    setattr(layer, attribute, view)

    def weights(self):
        """The views of the weights (not the biases): what weight decay shrinks."""
        return [parameter for _, name, parameter, _ in self.views if name == "weights"]


class Optimizer:
    """What every update rule shares: the arrays it works on, the learning rate, weight decay.

    weight_decay is decoupled weight decay (Loshchilov and Hutter's AdamW, and
    the same for SGD and momentum): before each step every array in decayed
    (the weights, not the biases) shrinks by the factor 1 - learning_rate *
    weight_decay, apart from what the gradient does, so the decay follows the
    learning-rate schedule. With weight_decay 0 nothing is done at all.
    packed, when the arrays are a Packed's vectors, is gathered before each step.
    """

    def __init__(self, parameters, gradients, learning_rate, weight_decay=0.0, decayed=(),
                 packed=None):
        self.parameters = parameters
        self.gradients = gradients
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.decayed = list(decayed)
        self.packed = packed

    def step(self):
        """One update of every parameter from the gradients backward() left."""
        if self.packed is not None:
            self.packed.gather()
        self.decay_weights()
        self.update()

    def decay_weights(self):
        if self.weight_decay:
            factor = 1.0 - self.learning_rate * self.weight_decay
            for weights in self.decayed:
                weights *= factor


class SGD(Optimizer):
    """W <- W - learning_rate * dL/dW."""

    description = "plain stochastic gradient descent"
    buffers = 1

    def __init__(self, parameters, gradients, learning_rate, weight_decay=0.0, decayed=(),
                 packed=None):
        super().__init__(parameters, gradients, learning_rate, weight_decay, decayed, packed)
        self._scratch = [np.empty_like(p) for p in parameters]

    def update(self):
        for param, grad, scratch in zip(self.parameters, self.gradients, self._scratch):
            np.multiply(grad, self.learning_rate, out=scratch)
            param -= scratch

    def state(self):
        """(values, arrays) that, restored, let training continue exactly: SGD keeps none."""
        return {}, {}

    def restore(self, values, arrays):
        pass


class Momentum(Optimizer):
    """SGD with momentum: V <- momentum * V - learning_rate * dL/dW, then W <- W + V."""

    description = "SGD with momentum 0.9"
    buffers = 2

    def __init__(self, parameters, gradients, learning_rate, weight_decay=0.0, decayed=(),
                 packed=None, momentum=0.9):
        super().__init__(parameters, gradients, learning_rate, weight_decay, decayed, packed)
        self.momentum = momentum
        self._velocity = [np.zeros_like(p) for p in parameters]
        self._scratch = [np.empty_like(p) for p in parameters]

    def update(self):
        for param, grad, velocity, scratch in zip(
                self.parameters, self.gradients, self._velocity, self._scratch):
            velocity *= self.momentum
            np.multiply(grad, self.learning_rate, out=scratch)
            velocity -= scratch
            param += velocity

    def state(self):
        """(values, arrays) that, restored, let training continue exactly: the velocity."""
        return {}, {f"velocity_{i}": v for i, v in enumerate(self._velocity)}

    def restore(self, values, arrays):
        for i, velocity in enumerate(self._velocity):
            velocity[...] = arrays[f"velocity_{i}"]


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias-corrected moment estimates.

    The textbook update, with g the gradient and t the step number:
        M <- beta1 * M + (1 - beta1) * g       (running mean of the gradient)
        V <- beta2 * V + (1 - beta2) * g^2     (running mean of its square)
        W <- W - lr * M_hat / (sqrt(V_hat) + epsilon),
             M_hat = M / (1 - beta1^t),  V_hat = V / (1 - beta2^t)
    epsilon is 1e-7, Keras's default.

    What is stored is M / (1 - beta1) and V / (1 - beta2), so each running mean
    is one scale and one add (M <- beta1 * M + g); the constant factors and both
    bias corrections are folded into one scalar step size and a rescaled
    epsilon. The update is the textbook one, in ten passes over the arrays
    instead of twelve.
    """

    description = "Adam (Kingma and Ba), Keras's defaults"
    buffers = 3

    def __init__(self, parameters, gradients, learning_rate=0.001, weight_decay=0.0, decayed=(),
                 packed=None, beta1=0.9, beta2=0.999, epsilon=1e-7):
        super().__init__(parameters, gradients, learning_rate, weight_decay, decayed, packed)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.steps_taken = 0
        self._mean = [np.zeros_like(p) for p in parameters]
        self._mean_square = [np.zeros_like(p) for p in parameters]
        self._scratch = [np.empty_like(p) for p in parameters]

    def update(self):
        self.steps_taken += 1
        t = self.steps_taken
        # M_hat = (1 - beta1) * mean / (1 - beta1^t)
        # sqrt(V_hat) = sqrt((1 - beta2) * mean_square / (1 - beta2^t))
        mean_factor = (1.0 - self.beta1) / (1.0 - self.beta1 ** t)
        root_square_factor = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2 ** t))
        step_size = self.learning_rate * mean_factor / root_square_factor
        epsilon_hat = self.epsilon / root_square_factor
        for param, grad, mean, mean_square, scratch in zip(
                self.parameters, self.gradients, self._mean, self._mean_square, self._scratch):
            mean *= self.beta1
            mean += grad
            mean_square *= self.beta2
            np.multiply(grad, grad, out=scratch)
            mean_square += scratch
            np.sqrt(mean_square, out=scratch)
            scratch += epsilon_hat
            np.divide(mean, scratch, out=scratch)
            scratch *= step_size
            param -= scratch

    def state(self):
        """(values, arrays) that, restored, let training continue exactly: the step count and
        both running means (stored pre-scaled, as step() keeps them)."""
        arrays = {f"mean_{i}": m for i, m in enumerate(self._mean)}
        arrays.update({f"mean_square_{i}": v for i, v in enumerate(self._mean_square)})
        return {"steps_taken": self.steps_taken}, arrays

    def restore(self, values, arrays):
        self.steps_taken = int(values["steps_taken"])
        for i, (mean, mean_square) in enumerate(zip(self._mean, self._mean_square)):
            mean[...] = arrays[f"mean_{i}"]
            mean_square[...] = arrays[f"mean_square_{i}"]


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "momentum": Momentum}


def optimizer_for(model, name, learning_rate, weight_decay=0.0):
    """The optimizer called name (a key of OPTIMIZERS) bound to a Model's parameters, packed
    into one vector; weight decay, if any, shrinks the weights and leaves the biases alone."""
    packed = Packed(model.layers)
    return OPTIMIZERS[name]([packed.parameters], [packed.gradients], learning_rate, weight_decay,
                            packed.weights(), packed)


def views_of(vector, arrays):
    """Views of consecutive pieces of vector, shaped as arrays are, in their order."""
    ends = np.cumsum([array.size for array in arrays])
    return [vector[end - array.size:end].reshape(array.shape) for array, end in zip(arrays, ends)]


def packed_parameters(model):
    """Every weight and bias of model in one new vector, in the order Packed keeps them (the
    layout of a checkpoint's and early stopping's saved weights)."""
    return np.concatenate([parameter.ravel() for parameter in model.parameters()])


def unpack_parameters(vector, model):
    """Copy a vector packed_parameters made back into model's weights and biases."""
    parameters = model.parameters()
    for parameter, saved in zip(parameters, views_of(vector, parameters)):
        parameter[...] = saved


def cosine_learning_rate(base_rate, epoch, epochs):
    """The learning rate of epoch (1 to epochs) on a cosine from base_rate down towards 0.

    Epoch 1 trains at base_rate and the last at a small fraction of it: large
    steps while far from a minimum, small ones to settle into it at the end
    (Loshchilov and Hutter's SGDR schedule, without restarts).
    """
    return base_rate * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))


def constant_learning_rate(base_rate, epoch, epochs):
    """base_rate in every epoch."""
    return base_rate


class Schedule(NamedTuple):
    rate: Callable           # (base_rate, epoch, epochs) -> the epoch's learning rate
    description: str


LEARNING_RATE_SCHEDULES = {
    "cosine": Schedule(cosine_learning_rate, "each epoch's rate follows a half cosine from "
                                             "--learning_rate down towards 0 at the last epoch"),
    "constant": Schedule(constant_learning_rate, "--learning_rate throughout"),
}


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of every epoch from the schedule called
    name (a key of LEARNING_RATE_SCHEDULES) and the rate the optimizer had when training
    began, to which it is set back at the end."""

    def __init__(self, name):
        self.rate = LEARNING_RATE_SCHEDULES[name].rate

    def on_train_begin(self, run):
        self.base_rate = run.optimizer.learning_rate

    def on_epoch_begin(self, run):
        run.optimizer.learning_rate = self.rate(self.base_rate, run.epoch, run.epochs)

    def on_train_end(self, run):
        run.optimizer.learning_rate = self.base_rate


def weight_decay_problem(learning_rate, weight_decay):
    """Why decoupled weight decay cannot train at this learning rate, or None: each step
    multiplies the weights by 1 - learning_rate x weight_decay, which must stay above 0."""
    factor = 1.0 - learning_rate * weight_decay
    if factor > 0:
        return None
    return (f"argument --weight_decay: {weight_decay:g} at --learning_rate {learning_rate:g} "
            f"multiplies the weights by 1 - {learning_rate:g} x {weight_decay:g} = {factor:g} "
            f"every step, which {'zeroes' if factor == 0 else 'flips the sign of'} them; "
            f"expected learning rate x weight decay below 1")
