// A rank's place among the ranks that share its node, as MPI sees them
// (MPI_COMM_TYPE_SHARED). Private, like mpi_check.hpp: it includes <mpi.h>.
#pragma once

#include <mpi.h>

#include "core/mpi_check.hpp"

namespace recforge::detail {

struct NodePlace {
  int local_rank = 0;
  int local_size = 1;
};

// Collective over `comm`: every rank of it calls this together.
inline NodePlace node_place(MPI_Comm comm, int rank) {
  MPI_Comm node = MPI_COMM_NULL;
  RF_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  NodePlace place;
  RF_MPI_CHECK(MPI_Comm_rank(node, &place.local_rank));
  RF_MPI_CHECK(MPI_Comm_size(node, &place.local_size));
  MPI_Comm_free(&node);
  return place;
}

}  // namespace recforge::detail
