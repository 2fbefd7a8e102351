// allgather_rows: allgatherv forward, allreduce + own slice backward.
#include "recforge/autograd/collectives.hpp"

#include "recforge/kernels/nn.hpp"

namespace recforge::ag {

Var allgather_rows(const Var& x, Communicator& comm) {
  RF_CHECK(x.defined() && x.value().ndim() == 2, "allgather_rows: needs a 2-d value");
  Graph& g = x.graph();
  const std::vector<std::int64_t> counts = comm.allgather_int(x.size(0));
  std::int64_t total = 0, offset = 0;
  for (int r = 0; r < comm.world_size(); ++r) {
    if (r == comm.rank()) offset = total;
    total += counts[static_cast<std::size_t>(r)];
  }
  Tensor all = g.empty({total, x.size(1)});
  comm.allgatherv(x.value(), all, counts);
  return g.record("allgather_rows", all, {x}, [x, &comm, offset](Graph& g, const Tensor& dy) {
    // Every rank runs its backward in the same order, so this collective
    // matches up. (A graph runs no backward for x that needs no gradient:
    // every rank must agree on that, as the model decides it, not the data.)
    Tensor summed = g.empty(dy.shape());
    summed.copy_from(dy, g.resources().stream());
    comm.allreduce(summed, ReduceOp::kSum);
    if (Tensor* dx = g.grad_of(x)) {
      kernels::axpy(g.resources(), 1.0f, summed.slice_rows(offset, offset + x.size(0)), *dx);
    }
  });
}

}  // namespace recforge::ag
