// A model plugin library used by plugin_loader_test (built in variants: good,
// another ABI version, a kernel without a CPU reference, a kernel clashing
// with the good one's), with one model and one kernel.
#include "recforge/model/model.hpp"
#include "recforge/registry/kernel_registry.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace {
class LoaderTestModel final : public recforge::Model {
 public:
  static recforge::Schema config_schema() {
    recforge::Schema s("model from a dlopen()ed test library");
    s.add_int("width", 3, "a key with a default");
    return s;
  }
  explicit LoaderTestModel(const recforge::ConfigNode&) {}
  std::string_view type() const override { return LOADER_TEST_MODEL_NAME; }
  std::vector<recforge::Parameter*> parameters() override { return {}; }

 protected:
  void build_impl(const recforge::ModelContext&) override {}

 public:
};
}  // namespace

RF_REGISTER_MODEL(LOADER_TEST_MODEL_NAME, LoaderTestModel);

// The op's name comes from the build (LOADER_TEST_OP); one more macro level
// expands it before RF_DECLARE_OP/RF_REGISTER_KERNEL paste and quote it.
#define LOADER_TEST_DECLARE(name, Signature) RF_DECLARE_OP(name, Signature)
#define LOADER_TEST_REGISTER(name, device, fn) RF_REGISTER_KERNEL(name, device, fn)
namespace {
using DoubleFn = int(int);
int double_it(int x) { return 2 * x; }
LOADER_TEST_DECLARE(LOADER_TEST_OP, DoubleFn);
}  // namespace
LOADER_TEST_REGISTER(LOADER_TEST_OP, LOADER_TEST_KERNEL_DEVICE, double_it);
