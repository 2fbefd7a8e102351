// libFuzzer harness for the checkpoint reader (RELIABILITY X2): the input is
// opened as an in-memory HDF5 file image, read-only, exactly as the trainer's
// --resume and `recforge serve` open a version after its hash check, and every
// accessor runs. Properties checked:
//   - nothing but recforge::Error escapes (no crash, no std::bad_alloc: the
//     reader bounds every declared size by the image size and its limits
//     before allocating);
//   - an error names the input;
//   - what loads is self-consistent (a parameter's optimizer slots have its
//     shape, the serving tables are a valid CSR index into the catalogue).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"

using namespace recforge;
using namespace recforge::checkpoint;

namespace {

constexpr const char* kLabel = "fuzz-checkpoint.h5";

[[noreturn]] void property_failed(const char* what, const std::string& detail) {
  std::fprintf(stderr, "property violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void read_everything(const CheckpointReader& reader) {
  (void)reader.meta();
  (void)reader.position();
  for (const std::string& name : reader.parameter_names()) {
    const ParameterState state = reader.parameter(name);
    for (const NamedTensor& slot : state.optimizer) {
      if (slot.value.shape() != state.value.shape()) property_failed("optimizer slot shape differs", name);
    }
    if (state.value.shape().ndim() >= 1 && state.value.shape()[0] > 0) {
      (void)reader.parameter_rows(name, 0, 1);
    }
  }
  (void)reader.users();
  (void)reader.items();
  // The server indexes with the serving tables without further checks.
  const Serving serving = reader.serving();
  if (serving.seen_offsets.empty() || serving.seen_offsets.front() != 0 ||
      serving.seen_offsets.back() != static_cast<std::int64_t>(serving.seen_items.size())) {
    property_failed("seen offsets are not a CSR index", std::to_string(serving.seen_offsets.size()));
  }
  for (const std::int32_t item : serving.seen_items) {
    if (item < 0 || static_cast<std::size_t>(item) >= serving.item_popularity.size()) {
      property_failed("a seen item outside the catalogue", std::to_string(item));
    }
  }
  (void)reader.metrics();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::init(0, 1, log::Level::kOff);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = std::make_shared<const std::vector<std::uint8_t>>(data, data + size);
  ReadLimits limits;
  limits.max_elements_per_array = std::int64_t{1} << 24;  // within the fuzzer's RSS limit
  try {
    const CheckpointReader reader(bytes, kLabel, limits);
    read_everything(reader);
  } catch (const Error& e) {
    if (std::string(e.what()).find(kLabel) == std::string::npos) {
      property_failed("error does not name the checkpoint", e.what());
    }
  }
  return 0;
}
