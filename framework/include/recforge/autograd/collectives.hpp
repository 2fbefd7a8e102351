// Differentiable collectives: values exchanged between ranks inside a step,
// with their gradients routed back to the rank that produced them.
#pragma once

#include "recforge/autograd/graph.hpp"
#include "recforge/comm/communicator.hpp"

namespace recforge::ag {

// Every rank's rows of x (n_r, d), concatenated in rank order: (sum n_r, d).
// Backward: the gradient of the whole is summed over ranks (each rank's loss
// uses every row) and each rank keeps the slice of its own rows. Used for
// negatives shared across ranks (two-tower in-batch softmax): N ranks with
// batch B then train like one rank with batch N B.
Var allgather_rows(const Var& x, Communicator& comm);

}  // namespace recforge::ag
